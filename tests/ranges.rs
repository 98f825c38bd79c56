//! Range requests over the wire: single ranges (206 with Content-Range), several
//! (multipart/byteranges, checked byte for byte against the file), unsatisfiable ones
//! (416), ignored ones (200), If-Range, and a 1 GiB file served in ranges with the
//! server's memory flat.

mod common;

use common::{Server, pattern, site, write};

#[test]
fn single_ranges_get_206() {
    let site = site();
    let data = pattern(100_000);
    write(&site.root, "data.bin", &data);
    let server = Server::start(&site.root, &[]);
    for (spec, first, last) in [
        ("0-0", 0, 0),
        ("10-99", 10, 99),
        ("99990-", 99_990, 99_999),
        ("-10", 99_990, 99_999),
        ("-200000", 0, 99_999),
        ("50000-999999", 50_000, 99_999),
        // Large enough to be sent with sendfile.
        ("1000-80000", 1000, 80_000),
    ] {
        let r = server.get_with("/data.bin", &format!("Range: bytes={spec}\r\n"));
        assert_eq!(r.status, 206, "{spec}");
        assert_eq!(
            r.header("content-range"),
            Some(format!("bytes {first}-{last}/100000").as_str()),
            "{spec}"
        );
        assert!(r.body == data[first..=last], "{spec}: wrong bytes");
    }
}

#[test]
fn several_ranges_are_multipart_byte_for_byte() {
    let site = site();
    let data = pattern(100_000);
    write(&site.root, "data.bin", &data);
    let server = Server::start(&site.root, &[]);
    // Out of order and overlapping: sorted and coalesced to 0-99, 500-599, 90000-99999.
    let r = server.get_with(
        "/data.bin",
        "Range: bytes=500-599, 0-49, 40-99, -10000, 95000-\r\n",
    );
    assert_eq!(r.status, 206);
    let content_type = r.header("content-type").unwrap();
    let boundary = content_type
        .strip_prefix("multipart/byteranges; boundary=")
        .unwrap_or_else(|| panic!("{content_type}"));
    let mut expected = Vec::new();
    for (first, last) in [(0usize, 99usize), (500, 599), (90_000, 99_999)] {
        expected.extend_from_slice(
            format!(
                "\r\n--{boundary}\r\nContent-Type: application/octet-stream\r\n\
                 Content-Range: bytes {first}-{last}/100000\r\n\r\n"
            )
            .as_bytes(),
        );
        expected.extend_from_slice(&data[first..=last]);
    }
    expected.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    assert!(r.body == expected, "multipart body differs");
}

#[test]
fn unsatisfiable_ignored_and_if_range() {
    let site = site();
    let server = Server::start(&site.root, &[]);
    // 13 bytes: "hello from a\n".
    let r = server.get_with("/a.txt", "Range: bytes=13-\r\n");
    assert_eq!(r.status, 416);
    assert_eq!(r.header("content-range"), Some("bytes */13"));
    for ignored in ["items=0-1", "bytes=5-2", "bytes=x-y", "bytes 0-1"] {
        let r = server.get_with("/a.txt", &format!("Range: {ignored}\r\n"));
        assert_eq!(
            (r.status, r.body.as_slice()),
            (200, &b"hello from a\n"[..]),
            "{ignored}"
        );
    }
    // HEAD ignores Range.
    let r = server.request(
        "HEAD /a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(r.status, 200);

    let full = server.get("/a.txt");
    let etag = full.header("etag").unwrap();
    let modified = full.header("last-modified").unwrap();
    for (if_range, status) in [
        (etag.to_owned(), 206),
        (modified.to_owned(), 206),
        ("\"stale\"".to_owned(), 200),
        (format!("W/{etag}"), 200),
        ("Thu, 01 Jan 1970 00:00:00 GMT".to_owned(), 200),
    ] {
        let r = server.get_with(
            "/a.txt",
            &format!("Range: bytes=0-4\r\nIf-Range: {if_range}\r\n"),
        );
        assert_eq!(r.status, status, "If-Range: {if_range}");
        let body: &[u8] = if status == 206 {
            b"hello"
        } else {
            b"hello from a\n"
        };
        assert_eq!(r.body, body);
    }
}

#[test]
fn a_gibibyte_in_ranges_with_flat_memory() {
    let site = site();
    let path = site.root.join("huge.bin");
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(1 << 30).unwrap(); // sparse: no disk, reads as zeros
    drop(file);
    let server = Server::start(&site.root, &["--quiet"]);
    server.get("/a.txt");
    let before = server.peak_rss_kib();
    let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
    stream.set_read_timeout(Some(common::READ_TIMEOUT)).unwrap();
    // 256 MiB from the middle, then a multipart of three 100 MB parts.
    let (head, len) = stream_response(&mut stream, "Range: bytes=268435456-536870911");
    assert!(head.starts_with("HTTP/1.1 206 "), "{head}");
    assert_eq!(len, 1 << 28);
    let (head, len) = stream_response(
        &mut stream,
        "Range: bytes=0-99999999,500000000-599999999,-100000000",
    );
    assert!(head.contains("multipart/byteranges"), "{head}");
    assert!(len > 300_000_000, "{len}");
    let after = server.peak_rss_kib();
    eprintln!("server peak RSS {before} KiB before, {after} KiB after 568 MB of ranges");
    assert!(
        after < before + 8192,
        "peak RSS grew from {before} to {after} KiB"
    );
}

/// Sends a GET of /huge.bin with `field`, reads the head and counts the body without
/// keeping it (the test must not hold half a gigabyte either). Returns (head, length).
fn stream_response(stream: &mut std::net::TcpStream, field: &str) -> (String, usize) {
    use std::io::{Read, Write};
    let request = format!("GET /huge.bin HTTP/1.1\r\nHost: x\r\n{field}\r\n\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(stream.read(&mut byte).unwrap(), 1, "closed inside the head");
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .unwrap()
        .parse()
        .unwrap();
    let mut left = length;
    let mut chunk = vec![0u8; 1 << 20];
    while left > 0 {
        let n = stream.read(&mut chunk[..left.min(1 << 20)]).unwrap();
        assert!(n > 0, "closed with {left} bytes to go");
        left -= n;
    }
    (head, length)
}
