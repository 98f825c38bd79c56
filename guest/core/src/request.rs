//! The request line and header section of one HTTP/1.x request, read for what the
//! handler decides: the method, the target, the fields.
//!
//! The host has checked the head's message syntax before calling us (the WIT says what
//! it guarantees: one valid Host, unambiguous framing, a well-formed request line and
//! field lines, HTTP/1.x) and owns the body and the connection, so this module repeats
//! none of those rules. It still refuses, with 400, a head it cannot read, so that the
//! handler is safe to run on any bytes (natively, fuzzed, or under another host).

use crate::error::ServeError;

/// Most header fields the host passes (its limit; beyond it, the host answers 431).
pub const MAX_HEADERS: usize = 100;

/// The methods we know. Only GET, HEAD and OPTIONS are served; the others get 405.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Options,
    Post,
    Put,
    Delete,
    Patch,
    Connect,
    Trace,
}

impl Method {
    /// `None` for a well-formed method token we do not know (501).
    fn from_token(token: &[u8]) -> Option<Method> {
        Some(match token {
            b"GET" => Method::Get,
            b"HEAD" => Method::Head,
            b"OPTIONS" => Method::Options,
            b"POST" => Method::Post,
            b"PUT" => Method::Put,
            b"DELETE" => Method::Delete,
            b"PATCH" => Method::Patch,
            b"CONNECT" => Method::Connect,
            b"TRACE" => Method::Trace,
            _ => return None,
        })
    }
}

/// One parsed request head. Borrowed from the raw bytes: nothing is copied.
#[derive(Debug)]
pub struct Request<'h> {
    pub method: Method,
    /// The request-target exactly as sent (checked to be visible ASCII).
    pub target: &'h str,
    /// 0 for HTTP/1.0; 1 for HTTP/1.1 and any higher 1.x (answered as 1.1).
    pub minor_version: u8,
    pub headers: Vec<(&'h str, &'h [u8])>,
}

impl<'h> Request<'h> {
    /// Parses a complete head: request line through the empty line.
    pub fn parse(head: &'h [u8]) -> Result<Request<'h>, ServeError> {
        let line_end = head
            .iter()
            .position(|&b| b == b'\n')
            .ok_or(ServeError::BadRequest("request line has no end"))?;
        let line = head[..line_end]
            .strip_suffix(b"\r")
            .unwrap_or(&head[..line_end]);
        let (method, target, minor_version) = parse_request_line(line)?;

        let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let fields = &head[line_end + 1..];
        let parsed = match httparse::parse_headers(fields, &mut slots) {
            Ok(httparse::Status::Complete((len, parsed))) if len == fields.len() => parsed,
            _ => return Err(ServeError::BadRequest("malformed header section")),
        };
        let headers: Vec<(&str, &[u8])> = parsed.iter().map(|h| (h.name, h.value)).collect();
        let method = method.ok_or(ServeError::NotImplemented("unknown method"))?;
        Ok(Request {
            method,
            target,
            minor_version,
            headers,
        })
    }

    /// The value of the first field with this (case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&'h [u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|&(_, v)| v)
    }
}

/// `method SP request-target SP HTTP-version`. The method is `None` when it is a token
/// we do not know (501).
fn parse_request_line(line: &[u8]) -> Result<(Option<Method>, &str, u8), ServeError> {
    let bad = ServeError::BadRequest("malformed request line");
    let mut parts = line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad);
    };
    let minor = match version {
        b"HTTP/1.0" => 0,
        [b'H', b'T', b'T', b'P', b'/', b'1', b'.', minor] if minor.is_ascii_digit() => 1,
        _ => return Err(bad),
    };
    let target = std::str::from_utf8(target).map_err(|_| bad)?;
    if method.is_empty() || target.is_empty() {
        return Err(bad);
    }
    Ok((Method::from_token(method), target, minor))
}

/// A byte of a token (RFC 9110 §5.6.2): methods, field names.
pub fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Strips optional whitespace (SP / HTAB) from both ends.
pub fn trim(value: &[u8]) -> &[u8] {
    let is_ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = value.iter().position(|b| !is_ows(b)).unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|b| !is_ows(b))
        .map_or(start, |e| e + 1);
    &value[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(head: &str) -> Result<Request<'_>, ServeError> {
        Request::parse(head.as_bytes())
    }

    fn status(head: &str) -> u16 {
        parse(head).map_or_else(|e| e.status(), |_| 200)
    }

    #[test]
    fn simple_get() {
        let r =
            parse("GET /a.txt?x=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\n\r\n").unwrap();
        assert_eq!(r.method, Method::Get);
        assert_eq!(r.target, "/a.txt?x=1");
        assert_eq!(r.minor_version, 1);
        assert_eq!(r.header("user-agent"), Some(&b"t"[..]));
    }

    #[test]
    fn heads_it_cannot_read_are_400() {
        assert_eq!(status("GET  / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
        assert_eq!(status("GET /\r\nHost: a\r\n\r\n"), 400);
        assert_eq!(status("GET / HTTP/2.0\r\nHost: a\r\n\r\n"), 400);
        assert_eq!(status("GET / HTTP/1.1\r\nHost : a\r\n\r\n"), 400);
        assert_eq!(status("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n"), 400);
        assert_eq!(status("BREW / HTTP/1.1\r\nHost: a\r\n\r\n"), 501);
        assert_eq!(status("get / HTTP/1.1\r\nHost: a\r\n\r\n"), 501);
    }

    #[test]
    fn versions() {
        assert_eq!(parse("GET / HTTP/1.0\r\n\r\n").unwrap().minor_version, 0);
        assert_eq!(
            parse("GET / HTTP/1.7\r\nHost: a\r\n\r\n")
                .unwrap()
                .minor_version,
            1
        );
        assert_eq!(status("GET / HTTP/1.1\nHost: a\n\n"), 200);
    }

    #[test]
    fn trim_strips_ows_only() {
        assert_eq!(trim(b" \t a b \t"), b"a b");
        assert_eq!(trim(b"   "), b"");
        assert_eq!(trim(b""), b"");
    }
}
