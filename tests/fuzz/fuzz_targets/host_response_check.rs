//! The host's validation of what a guest returns. Whatever head a guest writes, a head
//! the host accepts is one strict HTTP/1.1 response that a client parses the same way:
//! the status and Content-Length we act on are the ones httparse sees, and no field
//! value carries a CR or LF that could start a header of its own.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sandserve::sandbox::response::parse_head;

fuzz_target!(|head: &[u8]| {
    let Ok(ours) = parse_head(head) else {
        return;
    };
    let mut fields = [httparse::EMPTY_HEADER; 256];
    let mut theirs = httparse::Response::new(&mut fields);
    let status = theirs.parse(head).expect("accepted a head httparse refuses");
    assert_eq!(status, httparse::Status::Complete(head.len()), "bytes after the head");
    assert_eq!(theirs.version, Some(1));
    assert_eq!(theirs.code, Some(ours.status));
    // The length as a client reads it: 1*DIGIT in decimal (`060` is 60).
    let lengths: Vec<Option<u64>> = theirs
        .headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("content-length"))
        .map(|h| std::str::from_utf8(h.value).ok()?.trim().parse().ok())
        .collect();
    match ours.content_length {
        Some(n) => assert_eq!(lengths, [Some(n)]),
        None => assert!(lengths.is_empty()),
    }
    for h in theirs.headers.iter() {
        assert!(!h.value.contains(&b'\r') && !h.value.contains(&b'\n'));
    }
});
