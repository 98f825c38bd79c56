//! Validators and conditional requests over the wire: ETag and Last-Modified on every
//! file, 304 for a current copy (If-None-Match first, then If-Modified-Since), 412 for
//! a false If-Match or If-Unmodified-Since, and a new ETag when the file changes.

mod common;

use common::{Server, site, write};

#[test]
fn files_carry_validators_and_a_current_copy_gets_304() {
    let site = site();
    let server = Server::start(&site.root, &[]);
    let r = server.get("/a.txt");
    let etag = r.header("etag").expect("no ETag").to_owned();
    let modified = r
        .header("last-modified")
        .expect("no Last-Modified")
        .to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));

    for fields in [
        format!("If-None-Match: {etag}\r\n"),
        format!("If-None-Match: W/{etag}\r\n"),
        format!("If-None-Match: \"nope\", {etag}\r\n"),
        "If-None-Match: *\r\n".to_owned(),
        format!("If-Modified-Since: {modified}\r\n"),
        "If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT\r\n".to_owned(),
    ] {
        let r = server.get_with("/a.txt", &fields);
        assert_eq!(r.status, 304, "{fields}");
        assert!(r.body.is_empty());
        assert_eq!(r.header("etag"), Some(etag.as_str()), "{fields}");
        assert_eq!(r.header("content-length"), None, "{fields}");
    }
    // HEAD too.
    let r = server.request(&format!(
        "HEAD /a.txt HTTP/1.1\r\nHost: x\r\nIf-None-Match: {etag}\r\nConnection: close\r\n\r\n"
    ));
    assert_eq!(r.status, 304);

    for fields in [
        "If-None-Match: \"nope\"\r\n".to_owned(),
        "If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n".to_owned(),
        "If-Modified-Since: not a date\r\n".to_owned(),
        // If-None-Match takes precedence over a date that alone would give 304.
        format!("If-None-Match: \"nope\"\r\nIf-Modified-Since: {modified}\r\n"),
    ] {
        let r = server.get_with("/a.txt", &fields);
        assert_eq!(
            (r.status, r.body.as_slice()),
            (200, &b"hello from a\n"[..]),
            "{fields}"
        );
    }
}

#[test]
fn false_preconditions_get_412() {
    let site = site();
    let server = Server::start(&site.root, &[]);
    let etag = server.get("/a.txt").header("etag").unwrap().to_owned();
    for fields in [
        "If-Match: \"nope\"\r\n".to_owned(),
        format!("If-Match: W/{etag}\r\n"),
        "If-Unmodified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n".to_owned(),
    ] {
        let r = server.get_with("/a.txt", &fields);
        assert_eq!(r.status, 412, "{fields}");
        assert!(!r.text().contains("hello from a"));
    }
    for fields in [
        format!("If-Match: {etag}\r\n"),
        "If-Match: *\r\n".to_owned(),
        "If-Unmodified-Since: Fri, 01 Jan 2100 00:00:00 GMT\r\n".to_owned(),
        // If-Match is checked first; If-Unmodified-Since is then not looked at.
        format!("If-Match: {etag}\r\nIf-Unmodified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n"),
    ] {
        let r = server.get_with("/a.txt", &fields);
        assert_eq!(r.status, 200, "{fields}");
    }
    // A 412 keeps the connection usable.
    let mut client = server.connect();
    client.send(b"GET /a.txt HTTP/1.1\r\nHost: x\r\nIf-Match: \"nope\"\r\n\r\n");
    assert_eq!(client.response(false).status, 412);
    client.send(b"GET /b.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(client.response(false).body, b"hello from b\n");
}

#[test]
fn a_changed_file_gets_a_new_etag() {
    let site = site();
    let server = Server::start(&site.root, &[]);
    let before = server.get("/a.txt").header("etag").unwrap().to_owned();
    // Same size, new content: the time (to the nanosecond) tells them apart.
    std::thread::sleep(std::time::Duration::from_millis(20));
    write(&site.root, "a.txt", "HELLO FROM A\n");
    let r = server.get_with("/a.txt", &format!("If-None-Match: {before}\r\n"));
    assert_eq!((r.status, r.body.as_slice()), (200, &b"HELLO FROM A\n"[..]));
    assert_ne!(r.header("etag"), Some(before.as_str()));
}
