//! How a request's body, if any, is delimited (RFC 9112 §6): the Content-Length and
//! Transfer-Encoding rules. This is where request smuggling lives — two parsers that
//! disagree on where a request ends — so anything ambiguous is refused, and since we
//! never read a body, a request that has one is answered and its connection closed.

use crate::error::ServeError;
use crate::request::{list_elements, trim};

/// The framing of one request.
pub struct Framing {
    /// A body follows the head (Content-Length > 0, or Transfer-Encoding).
    pub has_body: bool,
}

impl Framing {
    /// Checks the framing fields of a request of HTTP/1.`minor_version`.
    pub fn of(headers: &[(&str, &[u8])], minor_version: u8) -> Result<Framing, ServeError> {
        let mut content_length = None;
        let mut codings: Vec<&[u8]> = Vec::new();
        let mut has_transfer_encoding = false;
        for &(name, value) in headers {
            if name.eq_ignore_ascii_case("content-length") {
                if content_length.is_some() {
                    // RFC 9112 §6.3 allows merging identical copies; refusing is safer.
                    return Err(ServeError::BadRequest("more than one Content-Length"));
                }
                content_length = Some(parse_content_length(value)?);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                has_transfer_encoding = true;
                codings.extend(list_elements(value));
            }
        }
        if !has_transfer_encoding {
            return Ok(Framing {
                has_body: content_length.unwrap_or(0) > 0,
            });
        }
        if content_length.is_some() {
            return Err(ServeError::BadRequest(
                "both Content-Length and Transfer-Encoding",
            ));
        }
        if minor_version == 0 {
            return Err(ServeError::BadRequest("Transfer-Encoding in HTTP/1.0"));
        }
        let name = |c: &[u8]| -> Vec<u8> {
            let end = c.iter().position(|&b| b == b';').unwrap_or(c.len());
            trim(&c[..end]).to_ascii_lowercase()
        };
        let Some((last, rest)) = codings.split_last() else {
            return Err(ServeError::BadRequest("empty Transfer-Encoding"));
        };
        if name(last) != b"chunked" || rest.iter().any(|c| name(c) == b"chunked") {
            // RFC 9112 §6.3: the length cannot be determined; 400 and close.
            return Err(ServeError::BadRequest("chunked is not the final coding"));
        }
        for coding in rest {
            if !matches!(
                name(coding).as_slice(),
                b"gzip" | b"x-gzip" | b"deflate" | b"compress" | b"x-compress"
            ) {
                return Err(ServeError::NotImplemented("unknown transfer coding"));
            }
        }
        Ok(Framing { has_body: true })
    }
}

/// `Content-Length = 1*DIGIT`: no sign, no list, no inner whitespace.
fn parse_content_length(value: &[u8]) -> Result<u64, ServeError> {
    let value = trim(value);
    let bad = ServeError::BadRequest("invalid Content-Length");
    if value.is_empty() || value.len() > 19 || !value.iter().all(u8::is_ascii_digit) {
        return Err(bad);
    }
    std::str::from_utf8(value)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(bad)
}

#[cfg(test)]
mod tests {
    use crate::request::Request;

    fn parse(head: &str) -> Result<Request<'_>, crate::error::ServeError> {
        Request::parse(head.as_bytes())
    }

    fn status(head: &str) -> u16 {
        parse(head).map_or_else(|e| e.status(), |_| 200)
    }

    #[test]
    fn framing() {
        let h = |extra: &str| format!("GET / HTTP/1.1\r\nHost: a\r\n{extra}\r\n");
        assert!(parse(&h("Content-Length: 5\r\n")).unwrap().has_body);
        assert!(!parse(&h("Content-Length: 0\r\n")).unwrap().has_body);
        assert!(
            parse(&h("Transfer-Encoding: chunked\r\n"))
                .unwrap()
                .has_body
        );
        assert!(
            parse(&h("Transfer-Encoding: gzip, chunked\r\n"))
                .unwrap()
                .has_body
        );
        assert_eq!(
            status(&h("Content-Length: 5\r\nContent-Length: 5\r\n")),
            400
        );
        assert_eq!(status(&h("Content-Length: +5\r\n")), 400);
        assert_eq!(status(&h("Content-Length: -1\r\n")), 400);
        assert_eq!(status(&h("Content-Length: 5, 5\r\n")), 400);
        assert_eq!(status(&h("Content-Length: 99999999999999999999\r\n")), 400);
        assert_eq!(
            status(&h("Content-Length: 3\r\nTransfer-Encoding: chunked\r\n")),
            400
        );
        assert_eq!(status(&h("Transfer-Encoding: chunked, identity\r\n")), 400);
        assert_eq!(status(&h("Transfer-Encoding: xchunked\r\n")), 400);
        assert_eq!(status(&h("Transfer-Encoding: chunked, chunked\r\n")), 400);
        assert_eq!(status(&h("Transfer-Encoding: foo, chunked\r\n")), 501);
        assert!(
            parse(&h("Transfer-Encoding:  chunked\r\n"))
                .unwrap()
                .has_body
        );
        let te10 = "GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(status(te10), 400);
    }
}
