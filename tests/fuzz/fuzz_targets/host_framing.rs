//! The host's framing of request heads: finding where a head ends when the bytes
//! arrive in arbitrary pieces must give the same answer as scanning them all at once,
//! and that end must be just after an empty line. Then the host's check of that head:
//! whatever it passes, httparse reads the same way (one complete request of the same
//! method and length), and the body length it derives is the one the framing fields
//! state — so the end of the head and the end of the body are found together, and no
//! head the host passes can be read two ways.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sandserve::server::connection::{head_end, leading_blank_lines};
use sandserve::http::request::{self, BodyLength};
use sandserve::http::syntax::trim;

fuzz_target!(|input: (Vec<u8>, Vec<u8>)| {
    let (bytes, cuts) = input;
    let blank = leading_blank_lines(&bytes);
    assert!(bytes[..blank].iter().all(|&b| b == b'\r' || b == b'\n'));
    let bytes = &bytes[blank..];
    let whole = head_end(bytes, &mut 0);
    if let Some(end) = whole {
        let head = &bytes[..end];
        assert!(head.ends_with(b"\n\n") || head.ends_with(b"\n\r\n"));
        check_agrees_with_httparse(head);
    }
    // The same bytes in pieces, with the scan position carried between them.
    let mut scanned = 0;
    let mut at = 0;
    let mut found = None;
    for cut in cuts.iter().map(|&c| c as usize + 1).chain(std::iter::once(bytes.len())) {
        at = (at + cut).min(bytes.len());
        if let Some(end) = head_end(&bytes[..at], &mut scanned) {
            found = Some(end);
            break;
        }
        if at == bytes.len() {
            break;
        }
    }
    assert_eq!(found, whole, "piecewise scanning disagrees");
});

fn check_agrees_with_httparse(head: &[u8]) {
    let Ok(checked) = request::check(head) else {
        return;
    };
    let mut fields = [httparse::EMPTY_HEADER; request::MAX_FIELDS];
    let mut parsed = httparse::Request::new(&mut fields);
    // httparse knows only HTTP/1.0 and 1.1; the host also passes 1.2-1.9 as 1.1.
    let line_end = head.iter().position(|&b| b == b'\n').unwrap();
    let line = head[..line_end].strip_suffix(b"\r").unwrap_or(&head[..line_end]);
    if !(line.ends_with(b" HTTP/1.0") || line.ends_with(b" HTTP/1.1")) {
        return;
    }
    let status = parsed.parse(head).expect("httparse refuses a head the host passed");
    assert_eq!(status, httparse::Status::Complete(head.len()), "lengths differ");
    assert_eq!(parsed.method == Some("HEAD"), checked.head_method);
    assert_eq!(parsed.version == Some(0), checked.minor_version == 0);
    let named = |name: &str| {
        parsed
            .headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case(name))
            .collect::<Vec<_>>()
    };
    let lengths = named("content-length");
    let codings = named("transfer-encoding");
    let hosts = named("host");
    assert!(hosts.len() <= 1 && (checked.minor_version == 0 || hosts.len() == 1));
    match checked.body {
        BodyLength::None => {
            assert!(codings.is_empty());
            assert!(lengths.iter().all(|h| trim(h.value).iter().all(|&b| b == b'0')));
        }
        BodyLength::Length(n) => {
            assert!(codings.is_empty() && lengths.len() == 1);
            let value = std::str::from_utf8(trim(lengths[0].value)).unwrap();
            assert_eq!(value.parse::<u64>().unwrap(), n);
            assert!(n > 0);
        }
        BodyLength::Chunked => {
            assert!(lengths.is_empty() && !codings.is_empty());
            assert_eq!(checked.minor_version, 1);
        }
    }
}
