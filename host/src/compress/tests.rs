//! The forms' own rules, on real files: made from the bytes, kept and found again, never
//! kept when the file changed while it was made, and a rewritten file is a new key.

use std::io::Write;
use std::sync::Arc;

use super::*;

fn forms(place: Place, max: u64) -> Arc<Forms> {
    Forms::new(Settings {
        cache_max: max,
        min: 1,
        max: 1 << 20,
        jobs: 1,
        place,
    })
    .unwrap()
}

fn source(path: &std::path::Path) -> Source {
    let file = File::open(path).unwrap();
    let meta = file.metadata().unwrap();
    Source {
        file: Arc::new(file),
        size: meta.len(),
        modified: meta.modified().ok(),
    }
}

fn text() -> Vec<u8> {
    "p { margin: 0 } /* a style sheet */\n"
        .repeat(200)
        .into_bytes()
}

fn unzstd(form: &Form) -> Vec<u8> {
    let mut bytes = vec![0; form.size as usize];
    form.file.read_exact_at(&mut bytes, 0).unwrap();
    zstd::decode_all(bytes.as_slice()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_is_made_once_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.css");
    std::fs::write(&path, text()).unwrap();
    let forms = forms(store::on_disk(&dir.path().join("cache")), 1 << 20);
    // Just written: made and sent, not kept.
    forms.get(&source(&path), Coding::Zstd).await.unwrap();
    assert_eq!(forms.held(), 0);
    std::thread::sleep(RACY);
    let made = forms.get(&source(&path), Coding::Zstd).await.unwrap();
    assert_eq!(unzstd(&made), text());
    assert!(
        made.tag
            .starts_with(&format!("zstd-{}.", codec::ZSTD_LEVEL))
    );
    assert_eq!(forms.held(), made.size);
    let again = forms.ready(&source(&path), Coding::Zstd).unwrap();
    assert_eq!(again.size, made.size);
    // A store opened again over the same directory finds it.
    drop(forms);
    let forms = super::tests::forms(store::on_disk(&dir.path().join("cache")), 1 << 20);
    assert!(forms.ready(&source(&path), Coding::Zstd).is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rewritten_file_is_a_new_form() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.js");
    std::fs::write(&path, text()).unwrap();
    let forms = forms(Place::Memory, 1 << 20);
    std::thread::sleep(RACY);
    forms.get(&source(&path), Coding::Zstd).await.unwrap();
    assert!(forms.held() > 0);
    // The same size, at once, in place.
    let mut other = text();
    other[0] = b'q';
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .write_all(&other)
        .unwrap();
    let made = forms.get(&source(&path), Coding::Zstd).await.unwrap();
    assert_eq!(unzstd(&made), other);
}

#[test]
fn a_file_that_changes_while_made_is_not_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.js");
    std::fs::write(&path, text()).unwrap();
    let forms = forms(Place::Memory, 1 << 20);
    let src = source(&path);
    let meta = src.file.metadata().unwrap();
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all(b"more")
        .unwrap();
    let key = key(&meta, Coding::Gzip);
    let claim = forms.making.claim(key, meta.len()).unwrap();
    assert!(
        forms
            .make(&claim, key, &meta, &src.file, Coding::Gzip)
            .is_none()
    );
    assert_eq!(forms.held(), 0);
    assert!(
        forms.making.failed(&key),
        "not tried again at every request"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_form_past_the_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.js");
    std::fs::write(&path, text()).unwrap();
    // A budget smaller than the form: the file goes as it is, nothing held.
    std::thread::sleep(RACY);
    let small = forms(Place::Memory, 16);
    assert!(small.get(&source(&path), Coding::Br).await.is_none());
    assert_eq!(small.held(), 0);
    // Compression off.
    assert!(
        forms(Place::Memory, 0)
            .get(&source(&path), Coding::Br)
            .await
            .is_none()
    );
    // A file that is not the one the handler saw.
    let mut stale = source(&path);
    stale.size -= 1;
    assert!(
        forms(Place::Memory, 1 << 20)
            .get(&stale, Coding::Br)
            .await
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_goes_away_gives_its_claim_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.js");
    std::fs::write(&path, text()).unwrap();
    let forms = forms(Place::Memory, 1 << 20);
    // Every job taken: the request waits for one, and is dropped while it waits (its
    // deadline, a reset stream).
    let held = forms.jobs.clone().acquire_owned().await.unwrap();
    let waited = tokio::time::timeout(
        Duration::from_millis(10),
        forms.get(&source(&path), Coding::Zstd),
    )
    .await;
    assert!(waited.is_err());
    assert_eq!(forms.making.pending(), 0, "the claim went with the request");
    drop(held);
    assert!(forms.get(&source(&path), Coding::Zstd).await.is_some());
}
