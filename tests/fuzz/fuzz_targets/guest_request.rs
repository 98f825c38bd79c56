//! The guest's whole decision for any bytes as a request head: parsing, the target,
//! percent-decoding, policy and resolution against a small in-memory root.
//! Checks: no panic; the root is only ever asked for a relative path without `.`/`..`
//! segments; the response head is well-formed HTTP/1.1 and its Content-Length matches
//! its body (none for HEAD, as the host demands); a file body names such a path too.
#![no_main]

use std::io;
use std::time::{Duration, SystemTime};

use libfuzzer_sys::fuzz_target;
use sandserve_core::root::{Entry, Kind, Meta};
use sandserve_core::{Body, Chunk, Policy, Root};

/// `a.txt` (13 bytes), `.hidden`, `dir/` with `dir/index.html`, `404.html`.
struct Fake;

fn safe(rel: &str) -> bool {
    !rel.starts_with('/')
        && !rel.contains(['\0', '\\'])
        && rel.split('/').all(|s| s != "." && s != "..")
}

impl Root for Fake {
    fn list(&self, rel: &str) -> io::Result<(Vec<Entry>, bool)> {
        assert!(safe(rel), "the root was asked to list {rel:?}");
        Ok((Vec::new(), false))
    }

    fn stat(&self, rel: &str) -> io::Result<Meta> {
        assert!(safe(rel), "the root was asked for {rel:?}");
        let file = |len| Meta {
            kind: Kind::File,
            len,
            modified: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)),
        };
        match rel {
            "a.txt" | ".hidden" | "dir/index.html" | "404.html" => Ok(file(13)),
            "dir" | "" => Ok(Meta {
                kind: Kind::Dir,
                len: 0,
                modified: None,
            }),
            _ => Err(io::ErrorKind::NotFound.into()),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let policy = Policy {
        min_user_agent_len: (data.len() % 3) as u32 * 10,
        serve_dotfiles: data.len() % 2 == 0,
        list_dirs: data.len() % 5 == 0,
        fallback: (data.len() % 7 == 0).then(|| "a.txt".to_owned()),
        ..Policy::default()
    };
    let response = sandserve_core::handle(data, &policy, &Fake, SystemTime::now());
    let mut fields = [httparse::EMPTY_HEADER; 32];
    let mut parsed = httparse::Response::new(&mut fields);
    let status = parsed.parse(&response.head).expect("response head is not HTTP");
    assert_eq!(status, httparse::Status::Complete(response.head.len()));
    assert_eq!(parsed.version, Some(1));
    let length = parsed
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
        .map(|h| std::str::from_utf8(h.value).unwrap().parse::<u64>().unwrap());
    let body_len = match &response.body {
        Body::Empty => 0,
        Body::Bytes(bytes) => bytes.len() as u64,
        Body::File(range) => {
            assert!(safe(&range.path), "body names {:?}", range.path);
            range.length
        }
        Body::Chunks(chunks) => chunks
            .iter()
            .map(|c| match c {
                Chunk::Bytes(b) => b.len() as u64,
                Chunk::File(r) => r.length,
            })
            .sum(),
    };
    // The host sends no body after a HEAD request's answer and refuses one (a 500).
    if data.starts_with(b"HEAD ") {
        assert_eq!(body_len, 0, "a body for a HEAD request");
    }
    let bodiless = data.starts_with(b"HEAD ") || matches!(parsed.code, Some(204 | 304));
    if !bodiless {
        assert_eq!(length, Some(body_len), "Content-Length and body disagree");
    }
});
