//! Compressed forms made by the host, over the real binary: a JS and a CSS file with no
//! precompressed sibling go out as zstd, br or gzip to the clients that accept each
//! (decoded, the file's bytes) and as they are to the others; validators, 304s and
//! ranges per coding; a rewritten file never gets an old form; a failure or a full
//! cache falls back to the file itself; the forms stay within their budget; and a
//! handler cannot have a form made of, or sent from, anything but a root file it
//! looked at.

mod common;

use std::io::Read;
use std::path::Path;

use common::{Response, Server, TempDir, site, write};

const FORMER_WASM: &str = env!("SANDSERVE_FORMER_WASM");

/// Text that compresses as real code does (not a repeated line).
fn script(seed: u32, lines: usize) -> String {
    let words = [
        "const",
        "function",
        "return",
        "document",
        "querySelector",
        "addEventListener",
        "window",
        "fetch",
        "then",
        "value",
        "length",
        "style",
        "display",
        "none",
        "block",
    ];
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    let mut out = String::new();
    for line in 0..lines {
        for _ in 0..8 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            out.push_str(words[x as usize % words.len()]);
            out.push(' ');
        }
        out.push_str(&format!("{line};\n"));
    }
    out
}

fn decode(coding: &str, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match coding {
        "zstd" => out = zstd::decode_all(body).unwrap(),
        "br" => brotli::BrotliDecompress(&mut &body[..], &mut out).unwrap(),
        "gzip" => {
            flate2::read::GzDecoder::new(body)
                .read_to_end(&mut out)
                .unwrap();
        }
        other => panic!("{other}"),
    }
    out
}

fn cache(dir: &TempDir) -> String {
    dir.path().join("cache").display().to_string()
}

fn get(server: &Server, path: &str, fields: &str) -> Response {
    server.get_with(path, fields)
}

#[test]
fn js_and_css_go_out_in_the_coding_each_client_accepts() {
    let site = site();
    let js = script(1, 400);
    let css = "body { margin: 0 auto; color: #333; }\n.nav a:hover { color: red }\n".repeat(40);
    write(&site.root, "app.js", &js);
    write(&site.root, "site.css", &css);
    let server = Server::start(&site.root, &["--cache-dir", &cache(&site.parent)]);
    for (path, bytes) in [("/app.js", js.as_bytes()), ("/site.css", css.as_bytes())] {
        let mut tags = Vec::new();
        for coding in ["zstd", "br", "gzip"] {
            let r = get(&server, path, &format!("Accept-Encoding: {coding}\r\n"));
            assert_eq!(r.status, 200, "{path} {coding}: {}", r.head);
            assert_eq!(r.header("content-encoding"), Some(coding), "{}", r.head);
            assert_eq!(r.header("vary"), Some("Accept-Encoding"));
            assert!(r.body.len() < bytes.len() / 2, "{coding}: {}", r.body.len());
            assert_eq!(r.header("content-length"), Some(&*r.body.len().to_string()));
            assert!(
                decode(coding, &r.body) == bytes,
                "{path} {coding}: decoded differs"
            );
            tags.push(r.header("etag").unwrap().to_owned());
        }
        // Identity: no Accept-Encoding, q=0 for every one of ours, or only others.
        for fields in [
            "",
            "Accept-Encoding: zstd;q=0, br;q=0, gzip;q=0\r\n",
            "Accept-Encoding: identity\r\n",
            "Accept-Encoding: *;q=0\r\n",
        ] {
            let r = get(&server, path, fields);
            assert_eq!(r.status, 200);
            assert_eq!(r.header("content-encoding"), None, "{fields:?}: {}", r.head);
            assert_eq!(r.header("vary"), Some("Accept-Encoding"), "{fields:?}");
            assert!(r.body == bytes, "{fields:?}: body differs");
            tags.push(r.header("etag").unwrap().to_owned());
        }
        // Every coding its own tag, each naming its compressor's settings.
        let distinct: std::collections::BTreeSet<_> = tags[..4].iter().collect();
        assert_eq!(distinct.len(), 4, "{tags:?}");
        assert!(tags[0].contains("-zstd-19."), "{tags:?}");
        // The browser's header: br, ours first among equals.
        let r = get(
            &server,
            path,
            "Accept-Encoding: gzip, deflate, br, zstd\r\n",
        );
        assert_eq!(r.header("content-encoding"), Some("br"));
    }
    // What `curl --compressed` receives decodes to the file.
    let out = std::process::Command::new("curl")
        .args(["-sS", "--compressed", "-D", "-"])
        .arg(format!("http://{}/app.js", server.addr))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(
        head.to_ascii_lowercase().contains("content-encoding: "),
        "{head}"
    );
    assert_eq!(body, js);
}

#[test]
fn a_304_and_a_range_per_coding() {
    let site = site();
    let js = script(2, 300);
    write(&site.root, "app.js", &js);
    let server = Server::start(&site.root, &["--cache-dir", &cache(&site.parent)]);
    let zstd = get(&server, "/app.js", "Accept-Encoding: zstd\r\n");
    let gzip = get(&server, "/app.js", "Accept-Encoding: gzip\r\n");
    let plain = get(&server, "/app.js", "");
    let ztag = zstd.header("etag").unwrap();
    // The zstd tag revalidates the zstd form only.
    let r = get(
        &server,
        "/app.js",
        &format!("Accept-Encoding: zstd\r\nIf-None-Match: {ztag}\r\n"),
    );
    assert_eq!(r.status, 304, "{}", r.head);
    assert_eq!(r.header("vary"), Some("Accept-Encoding"));
    assert_eq!(r.header("etag"), Some(ztag));
    let r = get(
        &server,
        "/app.js",
        &format!("Accept-Encoding: gzip\r\nIf-None-Match: {ztag}\r\n"),
    );
    assert!((r.status, &r.body) == (200, &gzip.body));
    let r = get(&server, "/app.js", &format!("If-None-Match: {ztag}\r\n"));
    assert!((r.status, &r.body) == (200, &plain.body));
    let gtag = gzip.header("etag").unwrap();
    let r = get(
        &server,
        "/app.js",
        &format!("Accept-Encoding: gzip\r\nIf-None-Match: {gtag}\r\n"),
    );
    assert_eq!(r.status, 304);
    // A range counts bytes of the form.
    let r = get(
        &server,
        "/app.js",
        "Accept-Encoding: zstd\r\nRange: bytes=10-99\r\n",
    );
    assert_eq!(r.status, 206, "{}", r.head);
    assert_eq!(r.header("content-encoding"), Some("zstd"));
    assert!(r.body == zstd.body[10..100]);
    let total = zstd.body.len();
    assert_eq!(
        r.header("content-range"),
        Some(&*format!("bytes 10-99/{total}"))
    );
    // If-Range with another coding's tag: the whole form, never a splice.
    let r = get(
        &server,
        "/app.js",
        &format!("Accept-Encoding: zstd\r\nRange: bytes=10-99\r\nIf-Range: {gtag}\r\n"),
    );
    assert!((r.status, &r.body) == (200, &zstd.body), "{}", r.status);
    let r = get(
        &server,
        "/app.js",
        &format!("Accept-Encoding: zstd\r\nRange: bytes=10-99\r\nIf-Range: {ztag}\r\n"),
    );
    assert!(
        (r.status, &r.body[..]) == (206, &zstd.body[10..100]),
        "{}",
        r.status
    );
    // A date in If-Range validates the file itself, never a form (which has its date):
    // a download of the identity bytes resumed by date gets the whole form instead.
    let date = plain.header("last-modified").unwrap();
    let r = get(
        &server,
        "/app.js",
        &format!("Accept-Encoding: zstd\r\nRange: bytes=10-99\r\nIf-Range: {date}\r\n"),
    );
    assert!((r.status, &r.body) == (200, &zstd.body), "{}", r.status);
    let r = get(
        &server,
        "/app.js",
        &format!("Range: bytes=10-99\r\nIf-Range: {date}\r\n"),
    );
    assert_eq!((r.status, r.body.len()), (206, 90));
    // Several ranges of a form: multipart, each part the form's bytes.
    let r = get(
        &server,
        "/app.js",
        "Accept-Encoding: zstd\r\nRange: bytes=0-9,50-59\r\n",
    );
    assert_eq!(r.status, 206);
    assert_eq!(r.header("content-encoding"), Some("zstd"));
    for part in [&zstd.body[0..10], &zstd.body[50..60]] {
        assert!(r.body.windows(10).any(|w| w == part), "a part is missing");
    }
    // Past the form's end: 416 with the form's length, varying as the 200 does.
    let r = get(
        &server,
        "/app.js",
        &format!("Accept-Encoding: zstd\r\nRange: bytes={total}-\r\n"),
    );
    assert_eq!(r.status, 416);
    assert_eq!(
        r.header("content-range"),
        Some(&*format!("bytes */{total}"))
    );
    assert_eq!(r.header("vary"), Some("Accept-Encoding"));
    let r = get(
        &server,
        "/app.js",
        "Accept-Encoding: zstd\r\nIf-Match: \"other\"\r\n",
    );
    assert_eq!((r.status, r.header("vary")), (412, Some("Accept-Encoding")));
    // HEAD: the GET's head, the form's length, no body.
    let host = server.host().to_owned();
    let r = server.request(&format!(
        "HEAD /app.js HTTP/1.1\r\nHost: {host}\r\nAccept-Encoding: zstd\r\nConnection: close\r\n\r\n"
    ));
    assert_eq!(r.header("content-length"), Some(&*total.to_string()));
    assert_eq!(r.header("etag"), Some(ztag));
    assert!(r.body.is_empty());
}

#[test]
fn a_rewritten_file_gets_a_fresh_form_at_once() {
    let site = site();
    let server = Server::start(&site.root, &["--cache-dir", &cache(&site.parent)]);
    let path = site.root.join("app.js");
    for round in 0..5 {
        // The same size every time, rewritten in place, within the same second.
        let mut js = script(10 + round, 300);
        js.truncate(8000);
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, js.as_bytes()))
            .unwrap();
        let r = get(&server, "/app.js", "Accept-Encoding: zstd\r\n");
        assert_eq!(r.header("content-encoding"), Some("zstd"), "round {round}");
        assert!(
            decode("zstd", &r.body) == js.as_bytes(),
            "round {round}: stale"
        );
    }
}

#[test]
fn a_kept_form_is_never_sent_for_a_file_rewritten_since() {
    let site = site();
    let path = site.root.join("app.js");
    let mut first = script(20, 300);
    first.truncate(8000);
    write(&site.root, "app.js", &first);
    // Old enough for its form to be kept (`compress::RACY`).
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let server = Server::start(&site.root, &["--cache-dir", &cache(&site.parent)]);
    let r = get(&server, "/app.js", "Accept-Encoding: zstd\r\n");
    assert!(decode("zstd", &r.body) == first.as_bytes());
    assert!(
        dir_size(&site.parent.path().join("cache/forms")) > 0,
        "kept"
    );
    // Rewritten in place, the same size, at once: a new key, a new form.
    let mut second = script(21, 300);
    second.truncate(8000);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, second.as_bytes()))
        .unwrap();
    let r = get(&server, "/app.js", "Accept-Encoding: zstd\r\n");
    assert!(decode("zstd", &r.body) == second.as_bytes(), "a stale form");
}

#[test]
fn a_failed_compression_or_a_full_cache_sends_the_file() {
    let site = site();
    let js = script(3, 300);
    write(&site.root, "a.js", &js);
    write(&site.root, "b.js", &js);
    // The forms' directory gone, and a file in its place: every form fails to be made.
    let dir = site.parent.path().join("cache");
    let server = Server::start(&site.root, &["--cache-dir", &cache(&site.parent)]);
    std::fs::remove_dir_all(dir.join("forms")).unwrap();
    std::fs::write(dir.join("forms"), "in the way").unwrap();
    let r = get(&server, "/a.js", "Accept-Encoding: zstd\r\n");
    assert_eq!(
        (r.status, r.header("content-encoding")),
        (200, None),
        "{}",
        r.head
    );
    assert!(r.body == js.as_bytes(), "body differs");
    assert_eq!(r.header("vary"), Some("Accept-Encoding"));
    server.wait_for_log("making a zstd form failed");
    // A budget smaller than any form: the file itself, and nothing kept.
    let site = common::site();
    write(&site.root, "a.js", &js);
    let server = Server::start(
        &site.root,
        &[
            "--cache-dir",
            &cache(&site.parent),
            "--compress-cache-max",
            "100B",
        ],
    );
    let r = get(&server, "/a.js", "Accept-Encoding: br\r\n");
    assert_eq!((r.status, r.header("content-encoding")), (200, None));
    assert!(r.body == js.as_bytes(), "body differs");
    assert_eq!(dir_size(&site.parent.path().join("cache/forms")), 0);
    // Compression off: siblings only.
    let server = Server::start(&site.root, &["--no-cache", "--compress-cache-max", "0"]);
    let r = get(&server, "/a.js", "Accept-Encoding: br\r\n");
    assert_eq!(r.header("content-encoding"), None);
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

#[test]
fn the_forms_stay_within_their_budget() {
    let site = site();
    for i in 0..60 {
        write(&site.root, &format!("f{i}.js"), script(100 + i, 120));
    }
    let budget = 24 << 10;
    // Forms of files changed in the last two seconds are not kept (`compress::RACY`).
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let server = Server::start(
        &site.root,
        &[
            "--cache-dir",
            &cache(&site.parent),
            "--compress-cache-max",
            "24KiB",
        ],
    );
    let forms = site.parent.path().join("cache/forms");
    let mut compressed = 0;
    for i in 0..60 {
        let r = get(&server, &format!("/f{i}.js"), "Accept-Encoding: zstd\r\n");
        assert_eq!(r.status, 200);
        compressed += usize::from(r.header("content-encoding").is_some());
        let held = dir_size(&forms);
        assert!(held <= budget, "after f{i}: {held} bytes held");
    }
    assert_eq!(compressed, 60, "each was made while its request waited");
    assert!(dir_size(&forms) > budget / 2);
    // In memory (--no-cache), the same budget: every form still made and sent.
    let server = Server::start(&site.root, &["--no-cache", "--compress-cache-max", "24KiB"]);
    for i in 0..60 {
        let r = get(&server, &format!("/f{i}.js"), "Accept-Encoding: gzip\r\n");
        assert_eq!(r.header("content-encoding"), Some("gzip"));
        assert!(decode("gzip", &r.body) == script(100 + i, 120).as_bytes());
    }
}

#[test]
fn a_handler_gets_forms_of_root_files_only() {
    let site = site();
    let js = script(4, 200);
    write(&site.root, "app.js", &js);
    let server = Server::start(
        &site.root,
        &[
            "--handler",
            FORMER_WASM,
            "--cache-dir",
            &cache(&site.parent),
        ],
    );
    // A look waits for a small form; the body is the form.
    let r = get(&server, "/form?app.js", "");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(decode("zstd", &r.body) == js.as_bytes());
    // Outside the root, or not a file: an error, never a form.
    for (path, error) in [
        ("../secret.txt", "invalid-path"),
        ("/etc/passwd", "invalid-path"),
        ("docs", "not-a-file"),
        ("missing.js", "not-found"),
    ] {
        let r = get(&server, &format!("/form?{path}"), "");
        assert_eq!(r.text(), format!("err {error}"), "{path}");
        assert!(!r.text().contains("TOP-SECRET"));
    }
    std::os::unix::fs::symlink(
        site.parent.path().join("secret.txt"),
        site.root.join("out.js"),
    )
    .unwrap();
    assert_eq!(get(&server, "/form?out.js", "").text(), "err outside-root");
    // A body naming a form the request did not find is refused.
    for path in ["app.js", "../secret.txt"] {
        let r = get(&server, &format!("/unlooked?{path}"), "");
        assert_eq!(r.status, 500, "{path}: {}", r.text());
    }
    // A call never waits: none at first, the form once made in the background.
    write(&site.root, "late.js", script(5, 200));
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert_eq!(get(&server, "/call?late.js", "").text(), "none");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let text = get(&server, "/call?late.js", "").text();
        if text.starts_with("some ") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never made: {text}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
