//! Handlers written in other languages, over the real binary: the Python fixture
//! (tests/fixtures/python/handler.py, a componentize-py component of the 0.5.0 world
//! that imports WASI as well as `root`) serves files through both, and is confined to
//! the root like any other handler.
//!
//! The fixture is built by `guest/build-handlers`, not by cargo (it needs a Python
//! toolchain): without it these tests fail, they never skip.

mod common;

use common::{SECRET, Server, pattern, site, write};

/// A server running the Python fixture (`common::start_built`).
fn python_server(root: &std::path::Path) -> Server {
    common::start_built(root, "python-fixture", &[])
}

#[test]
fn serves_a_file_found_through_wasi_and_root() {
    let site = site();
    let data = pattern(3000);
    write(&site.root, "sub/data.bin", &data);
    let server = python_server(&site.root);
    for (target, bytes) in [
        ("/a.txt", &b"hello from a\n"[..]),
        ("/sub/data.bin", &data[..]),
        ("/sub/data.bin?query=ignored", &data[..]),
    ] {
        let r = server.get(target);
        assert_eq!(r.status, 200, "{target}: {}", r.head);
        assert_eq!(r.body, bytes, "{target}");
        assert_eq!(r.header("x-handler"), Some("python-wasi"), "{}", r.head);
        let size = bytes.len().to_string();
        assert_eq!(
            r.header("x-size-via-root"),
            Some(size.as_str()),
            "{}",
            r.head
        );
        assert_eq!(r.header("content-type"), Some("application/octet-stream"));
        // From `request.received`, as an IMF-fixdate: `Thu, 01 Jan 2026 00:00:00 GMT`.
        let date = r.header("date").expect("a Date");
        assert!(date.len() == 29 && date.ends_with(" GMT"), "{date:?}");
    }
}

#[test]
fn a_missing_file_is_404() {
    let site = site();
    let server = python_server(&site.root);
    for target in ["/missing.txt", "/docs", "/docs/nope/"] {
        let r = server.get(target);
        assert_eq!(r.status, 404, "{target}: {}", r.head);
        assert_eq!(r.text(), "not found\n", "{target}");
    }
}

#[test]
fn a_symlink_out_of_the_root_is_not_followed() {
    let site = site();
    // `secret.txt` lies in the site's parent, outside the root.
    let secret = site.parent.path().join("secret.txt");
    std::os::unix::fs::symlink(&secret, site.root.join("out.txt")).unwrap();
    std::os::unix::fs::symlink(site.parent.path(), site.root.join("up")).unwrap();
    let server = python_server(&site.root);
    for target in [
        "/out.txt",
        "/up/secret.txt",
        "/../secret.txt",
        "/docs/../../secret.txt",
    ] {
        let raw = format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let out = server.exchange(raw.as_bytes());
        let text = String::from_utf8_lossy(&out);
        assert!(
            text.starts_with("HTTP/1.1 404 ") || text.starts_with("HTTP/1.1 500 "),
            "{target} got {:?}",
            text.lines().next()
        );
        assert!(!text.contains(SECRET), "{target} revealed the secret");
    }
    // The same server still serves what is inside.
    assert_eq!(server.get("/a.txt").body, b"hello from a\n");
}
