//! Precompressed siblings: `file.br`, `file.zst`, `file.gz` chosen by Accept-Encoding
//! (q-values, then br > zstd > gzip), with Content-Encoding, the original's type,
//! `Vary: Accept-Encoding`, an ETag per encoding, and Range and conditionals applied
//! to the representation chosen.

mod common;

use common::{Server, site, write};

#[test]
fn siblings_are_chosen_by_accept_encoding() {
    let site = site();
    write(&site.root, "app.js", "console.log('plain');\n");
    write(&site.root, "app.js.br", "BROTLI-BYTES");
    write(&site.root, "app.js.gz", "GZIP-BYTES");
    let server = Server::start(&site.root, &[]);
    for (accept, body, coding) in [
        ("", &b"console.log('plain');\n"[..], None),
        (
            "Accept-Encoding: gzip, deflate, br, zstd\r\n",
            b"BROTLI-BYTES",
            Some("br"),
        ),
        ("Accept-Encoding: gzip\r\n", b"GZIP-BYTES", Some("gzip")),
        (
            "Accept-Encoding: br;q=0.5, gzip\r\n",
            b"GZIP-BYTES",
            Some("gzip"),
        ),
        // No .zst here: the next acceptable one.
        (
            "Accept-Encoding: zstd, gzip;q=0.9\r\n",
            b"GZIP-BYTES",
            Some("gzip"),
        ),
        (
            "Accept-Encoding: br;q=0, gzip;q=0\r\n",
            b"console.log('plain');\n",
            None,
        ),
        (
            "Accept-Encoding: identity\r\n",
            b"console.log('plain');\n",
            None,
        ),
    ] {
        let r = server.get_with("/app.js", accept);
        assert_eq!(r.status, 200, "{accept}");
        assert_eq!(r.body, body, "{accept}");
        assert_eq!(r.header("content-encoding"), coding, "{accept}");
        assert_eq!(
            r.header("content-type"),
            Some("text/javascript; charset=utf-8"),
            "{accept}"
        );
        assert_eq!(r.header("vary"), Some("Accept-Encoding"), "{accept}");
    }
    // A file without siblings varies too: one could be added at any time.
    assert_eq!(
        server
            .get_with("/a.txt", "Accept-Encoding: br\r\n")
            .header("vary"),
        Some("Accept-Encoding")
    );
}

#[test]
fn etags_differ_per_encoding_and_ranges_apply_to_the_chosen_one() {
    let site = site();
    write(&site.root, "app.js", "console.log('plain');\n");
    write(&site.root, "app.js.br", "BROTLI-BYTES");
    let server = Server::start(&site.root, &[]);
    let plain = server.get_with("/app.js", "");
    let br = server.get_with("/app.js", "Accept-Encoding: br\r\n");
    let (plain_tag, br_tag) = (plain.header("etag").unwrap(), br.header("etag").unwrap());
    assert_ne!(plain_tag, br_tag);
    assert!(br_tag.ends_with("-br\""), "{br_tag}");
    // A cache holding the plain copy revalidates it: not the br one.
    let r = server.get_with("/app.js", &format!("If-None-Match: {plain_tag}\r\n"));
    assert_eq!(r.status, 304);
    let r = server.get_with(
        "/app.js",
        &format!("Accept-Encoding: br\r\nIf-None-Match: {plain_tag}\r\n"),
    );
    assert_eq!((r.status, r.body.as_slice()), (200, &b"BROTLI-BYTES"[..]));
    let r = server.get_with(
        "/app.js",
        &format!("Accept-Encoding: br\r\nIf-None-Match: {br_tag}\r\n"),
    );
    assert_eq!(r.status, 304);
    assert_eq!(r.header("vary"), Some("Accept-Encoding"));
    // Range counts bytes of the compressed file.
    let r = server.get_with("/app.js", "Accept-Encoding: br\r\nRange: bytes=0-6\r\n");
    assert_eq!(r.status, 206);
    assert_eq!(r.body, b"BROTLI-");
    assert_eq!(r.header("content-range"), Some("bytes 0-6/12"));
    assert_eq!(r.header("content-encoding"), Some("br"));
}
