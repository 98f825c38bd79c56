//! The host's framing of request heads: finding where a head ends when the bytes
//! arrive in arbitrary pieces must give the same answer as scanning them all at once,
//! and that end must be just after an empty line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sandserve::connection::{head_end, leading_blank_lines};

fuzz_target!(|input: (Vec<u8>, Vec<u8>)| {
    let (bytes, cuts) = input;
    let blank = leading_blank_lines(&bytes);
    assert!(bytes[..blank].iter().all(|&b| b == b'\r' || b == b'\n'));
    let bytes = &bytes[blank..];
    let whole = head_end(bytes, &mut 0);
    if let Some(end) = whole {
        let head = &bytes[..end];
        assert!(head.ends_with(b"\n\n") || head.ends_with(b"\n\r\n"));
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
