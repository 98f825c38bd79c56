//! The request line and header section of one HTTP/1.x request (RFC 9112 §2–§6).
//!
//! Parsing is strict where leniency lets two parsers disagree about where a request
//! ends (request smuggling): framing headers, whitespace in the request line, obs-fold.
//! It stays lenient only where RFC 9112 allows it and nothing can be smuggled: a bare
//! LF as line end, a higher HTTP/1.x minor version.

use crate::error::ServeError;
use crate::framing::Framing;

/// Longest request-target we accept; beyond it, 414 (nginx allows 8 KiB lines too).
pub const MAX_TARGET_LEN: usize = 8 * 1024;
/// Most header fields we accept; beyond it, 431.
pub const MAX_HEADERS: usize = 100;
/// Longest field line (name and value) we accept; beyond it, 431 (RFC 6585 §5). nginx's
/// limit is the same 8 KiB buffer.
pub const MAX_FIELD_LINE: usize = 8 * 1024;

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
    /// Whether the connection may stay open after the response, by the rules of the
    /// request's version and its `Connection` field.
    pub keep_alive: bool,
    /// Whether a body follows the head (Content-Length > 0 or Transfer-Encoding).
    /// We never read one, so the connection closes after the response.
    pub has_body: bool,
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
            Ok(_) => {
                return Err(ServeError::BadRequest(
                    "header section does not end the head",
                ));
            }
            Err(httparse::Error::TooManyHeaders) => return Err(ServeError::HeaderFieldsTooLarge),
            Err(_) => return Err(ServeError::BadRequest("malformed header field")),
        };
        if parsed
            .iter()
            .any(|h| h.name.len() + h.value.len() > MAX_FIELD_LINE)
        {
            return Err(ServeError::HeaderFieldsTooLarge);
        }
        let headers: Vec<(&str, &[u8])> = parsed.iter().map(|h| (h.name, h.value)).collect();

        let framing = Framing::of(&headers, minor_version)?;
        check_host(&headers, minor_version)?;
        let method = method.ok_or(ServeError::NotImplemented("unknown method"))?;

        let (close, keep_alive_token) = connection_options(&headers);
        let keep_alive = !close && (minor_version == 1 || keep_alive_token);
        Ok(Request {
            method,
            target,
            minor_version,
            headers,
            keep_alive,
            has_body: framing.has_body,
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

/// `method SP request-target SP HTTP-version`, single spaces only (RFC 9112 §3).
/// The method is `None` when it is a valid token we do not know.
fn parse_request_line(line: &[u8]) -> Result<(Option<Method>, &str, u8), ServeError> {
    let bad = ServeError::BadRequest("malformed request line");
    let first = line.iter().position(|&b| b == b' ').ok_or(bad)?;
    let last = line.iter().rposition(|&b| b == b' ').ok_or(bad)?;
    if first == last {
        return Err(bad);
    }
    let (method, target, version) = (&line[..first], &line[first + 1..last], &line[last + 1..]);
    if method.is_empty() || !method.iter().all(|&b| is_tchar(b)) {
        return Err(bad);
    }
    // Checked before the version so that an HTTP/2.0 request with a bad target is a 400.
    if target.is_empty() || !target.iter().all(|&b| (0x21..=0x7e).contains(&b)) {
        return Err(bad);
    }
    if target.len() > MAX_TARGET_LEN {
        return Err(ServeError::UriTooLong);
    }
    let minor = match version {
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            if *major != b'1' {
                return Err(ServeError::VersionNotSupported);
            }
            // RFC 9110 §2.5: a higher minor version is answered as the highest we speak.
            u8::from(*minor != b'0')
        }
        _ => return Err(bad),
    };
    let target = std::str::from_utf8(target).map_err(|_| bad)?;
    Ok((Method::from_token(method), target, minor))
}

/// RFC 9112 §3.2: an HTTP/1.1 request has exactly one Host; none may have more.
fn check_host(headers: &[(&str, &[u8])], minor_version: u8) -> Result<(), ServeError> {
    let mut hosts = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("host"));
    match (hosts.next(), hosts.next()) {
        (Some(_), Some(_)) => Err(ServeError::BadRequest("more than one Host")),
        (None, _) if minor_version == 1 => Err(ServeError::BadRequest("no Host")),
        (None, _) => Ok(()),
        (Some((_, value)), None) if valid_host(trim(value)) => Ok(()),
        (Some(_), None) => Err(ServeError::BadRequest("invalid Host")),
    }
}

/// `uri-host [ ":" port ]` (RFC 3986): an IP literal in brackets or a reg-name. An empty
/// value is allowed: it is what a client sends when the target has no authority.
pub fn valid_host(value: &[u8]) -> bool {
    let (host, port) = if let Some(rest) = value.strip_prefix(b"[") {
        let Some(close) = rest.iter().position(|&b| b == b']') else {
            return false;
        };
        let literal = &rest[..close];
        if literal.is_empty()
            || !literal
                .iter()
                .all(|&b| b.is_ascii_hexdigit() || matches!(b, b':' | b'.' | b'v' | b'V'))
        {
            return false;
        }
        (&[][..], &rest[close + 1..])
    } else {
        match value.iter().position(|&b| b == b':') {
            Some(colon) => (&value[..colon], &value[colon..]),
            None => (value, &[][..]),
        }
    };
    let reg_name_ok = host
        .iter()
        .all(|&b| b.is_ascii_alphanumeric() || b"-._~%!$&'()*+,;=".contains(&b));
    let port_ok = match port {
        [] => true,
        [b':', digits @ ..] => digits.len() <= 5 && digits.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    reg_name_ok && port_ok
}

/// (`close` present, `keep-alive` present) among the Connection options.
fn connection_options(headers: &[(&str, &[u8])]) -> (bool, bool) {
    let (mut close, mut keep_alive) = (false, false);
    for &(name, value) in headers {
        if name.eq_ignore_ascii_case("connection") {
            for option in list_elements(value) {
                close |= option.eq_ignore_ascii_case(b"close");
                keep_alive |= option.eq_ignore_ascii_case(b"keep-alive");
            }
        }
    }
    (close, keep_alive)
}

/// The non-empty, trimmed elements of a comma-separated field value (RFC 9110 §5.6.1).
pub(crate) fn list_elements(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(trim)
        .filter(|e| !e.is_empty())
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

/// `tchar` of RFC 9110 §5.6.2.
pub fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
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
        assert!(r.keep_alive);
        assert!(!r.has_body);
        assert_eq!(r.header("user-agent"), Some(&b"t"[..]));
    }

    #[test]
    fn request_line_errors() {
        assert_eq!(status("GET  / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
        assert_eq!(status("GET / HTTP/1.1 \r\nHost: a\r\n\r\n"), 400);
        assert_eq!(status("GET /\r\nHost: a\r\n\r\n"), 400);
        assert_eq!(status("GET / http/1.1\r\nHost: a\r\n\r\n"), 400);
        assert_eq!(status("GET / HTTP/1.10\r\nHost: a\r\n\r\n"), 400);
        assert_eq!(status("G(T / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
        assert_eq!(status("GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
        assert_eq!(status("GET / HTTP/2.0\r\nHost: a\r\n\r\n"), 505);
        assert_eq!(status("GET / HTTP/0.9\r\nHost: a\r\n\r\n"), 505);
        assert_eq!(status("BREW / HTTP/1.1\r\nHost: a\r\n\r\n"), 501);
        assert_eq!(status("get / HTTP/1.1\r\nHost: a\r\n\r\n"), 501);
        let long = format!(
            "GET /{} HTTP/1.1\r\nHost: a\r\n\r\n",
            "a".repeat(MAX_TARGET_LEN)
        );
        assert_eq!(status(&long), 414);
    }

    #[test]
    fn higher_minor_version_is_answered_as_1_1() {
        let r = parse("GET / HTTP/1.7\r\nHost: a\r\n\r\n").unwrap();
        assert_eq!(r.minor_version, 1);
    }

    #[test]
    fn header_syntax_errors() {
        assert_eq!(
            status("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n"),
            400
        );
        assert_eq!(status("GET / HTTP/1.1\r\nHost : a\r\n\r\n"), 400);
        assert_eq!(status("GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n"), 400);
        assert_eq!(status("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n"), 400);
        assert_eq!(status("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n"), 400);
        let many: String = (0..=MAX_HEADERS).map(|i| format!("X{i}: v\r\n")).collect();
        assert_eq!(
            status(&format!("GET / HTTP/1.1\r\nHost: a\r\n{many}\r\n")),
            431
        );
    }

    #[test]
    fn bare_lf_line_ends_are_accepted() {
        assert_eq!(status("GET / HTTP/1.1\nHost: a\n\n"), 200);
    }

    #[test]
    fn host_rules() {
        assert_eq!(status("GET / HTTP/1.1\r\n\r\n"), 400);
        assert_eq!(status("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400);
        assert_eq!(status("GET / HTTP/1.1\r\nHost: a b\r\n\r\n"), 400);
        assert_eq!(status("GET / HTTP/1.1\r\nHost: a:80x\r\n\r\n"), 400);
        assert_eq!(status("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"), 400);
        assert_eq!(status("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"), 200);
        assert_eq!(
            status("GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"),
            200
        );
        assert_eq!(status("GET / HTTP/1.1\r\nHost:\r\n\r\n"), 200);
        assert_eq!(status("GET / HTTP/1.0\r\n\r\n"), 200);
        assert_eq!(status("GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n"), 400);
    }

    #[test]
    fn keep_alive_rules() {
        let ka = |head: &str| parse(head).unwrap().keep_alive;
        assert!(ka("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
        assert!(!ka(
            "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        ));
        assert!(!ka(
            "GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, Close\r\n\r\n"
        ));
        assert!(!ka("GET / HTTP/1.0\r\n\r\n"));
        assert!(ka("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"));
    }

    #[test]
    fn trim_strips_ows_only() {
        assert_eq!(trim(b" \t a b \t"), b"a b");
        assert_eq!(trim(b"   "), b"");
        assert_eq!(trim(b""), b"");
    }
}
