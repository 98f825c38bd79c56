//! Where a request's body ends (RFC 9112 §6): one Content-Length of digits, or a
//! Transfer-Encoding ending in chunked, never both — anything else is refused, since a
//! disagreement here between two parsers is request smuggling.

use super::refusal::{Refusal, bad};
use crate::http::syntax::{list_elements, trim};

/// How the body that follows a head is delimited (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyLength {
    /// No body: no Content-Length (or 0) and no Transfer-Encoding.
    None,
    /// Exactly this many bytes follow the head.
    Length(u64),
    /// A chunked body: its length is known only by reading it.
    Chunked,
}

/// The body's length by RFC 9112 §6: one Content-Length of digits, or Transfer-Encoding
/// ending in chunked (never both, never in HTTP/1.0); anything else is refused.
pub(super) fn body_length(
    fields: &[(&str, &[u8])],
    minor_version: u8,
) -> Result<BodyLength, Refusal> {
    let mut content_length = None;
    let mut codings: Vec<&[u8]> = Vec::new();
    let mut transfer_encoding = false;
    for &(name, value) in fields {
        if name.eq_ignore_ascii_case("content-length") {
            if content_length.is_some() {
                // RFC 9112 §6.3 allows merging identical copies; refusing is safer.
                return Err(bad("more than one Content-Length"));
            }
            content_length = Some(parse_content_length(value)?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            transfer_encoding = true;
            codings.extend(list_elements(value));
        }
    }
    if !transfer_encoding {
        return Ok(match content_length {
            None | Some(0) => BodyLength::None,
            Some(length) => BodyLength::Length(length),
        });
    }
    if content_length.is_some() {
        return Err(bad("both Content-Length and Transfer-Encoding"));
    }
    if minor_version == 0 {
        return Err(bad("Transfer-Encoding in HTTP/1.0"));
    }
    let name = |coding: &[u8]| -> Vec<u8> {
        let end = coding
            .iter()
            .position(|&b| b == b';')
            .unwrap_or(coding.len());
        trim(&coding[..end]).to_ascii_lowercase()
    };
    let Some((last, rest)) = codings.split_last() else {
        return Err(bad("empty Transfer-Encoding"));
    };
    if name(last) != b"chunked" || rest.iter().any(|c| name(c) == b"chunked") {
        // RFC 9112 §6.3: the length cannot be determined; 400 and close.
        return Err(bad("chunked is not the final transfer coding"));
    }
    for coding in rest {
        if !matches!(
            name(coding).as_slice(),
            b"gzip" | b"x-gzip" | b"deflate" | b"compress" | b"x-compress"
        ) {
            // RFC 9112 §6.1: a coding the server does not understand is a 501.
            return Err(Refusal {
                status: 501,
                reason: "unknown transfer coding",
            });
        }
    }
    Ok(BodyLength::Chunked)
}

/// `Content-Length = 1*DIGIT`: no sign, no list, no inner whitespace, no overflow.
pub fn parse_content_length(value: &[u8]) -> Result<u64, Refusal> {
    let invalid = bad("invalid Content-Length");
    let value = trim(value);
    if value.is_empty() || value.len() > 19 || !value.iter().all(u8::is_ascii_digit) {
        return Err(invalid);
    }
    std::str::from_utf8(value)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(invalid)
}
