//! The request going in: the host's check of every request head's message syntax
//! (RFC 9112 §2-§3, §5-§7, §9) before any handler sees it, and what the host learns from
//! it — where the request's body ends and whether the connection may stay open — and
//! the WIT request a handler is called with.
//!
//! Framing is the server's job, whichever handler is live: a proxy in front of us
//! parses the same bytes, and any disagreement on where a request ends is a smuggling
//! hole. So everything ambiguous is refused here, with the host's own 4xx/5xx and a
//! close, and a handler only ever sees heads that pass. httparse reads the field lines;
//! the rules it does not enforce (one Host, Content-Length, Transfer-Encoding, the
//! request line's version and target form) are written below.

use std::net::SocketAddr;

use crate::bindings::wit;
use crate::syntax::{is_tchar, list_elements, trim};

/// Longest request-target accepted; beyond it, 414 (nginx's 8 KiB line buffers).
pub const MAX_TARGET_LEN: usize = 8 * 1024;
/// Most header fields accepted; beyond it, 431.
pub const MAX_FIELDS: usize = 100;
/// Longest field line (name and value) accepted; beyond it, 431 (RFC 6585 §5).
pub const MAX_FIELD_LINE: usize = 8 * 1024;

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

/// What the host knows of a request head that passed the check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// 0 for HTTP/1.0; 1 for HTTP/1.1 and any higher 1.x (answered as 1.1).
    pub minor_version: u8,
    /// `HEAD`: the response carries no body.
    pub head_method: bool,
    pub body: BodyLength,
    /// The connection may carry another request after this one, by the version's rules,
    /// the `Connection` options and the method (CONNECT is followed by tunnel bytes).
    pub persistent: bool,
    /// `Expect: 100-continue`: the client may hold its body back until it hears from us,
    /// so a body cannot be skipped reliably; the connection closes instead.
    pub expects_continue: bool,
}

/// Why a head was refused: the status the host answers with, and a reason for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub reason: &'static str,
}

const fn bad(reason: &'static str) -> Refusal {
    Refusal {
        status: 400,
        reason,
    }
}

/// Checks one complete head (request line through the empty line; leading empty lines
/// already dropped).
pub fn check(head: &[u8]) -> Result<Head, Refusal> {
    let line_end = head
        .iter()
        .position(|&b| b == b'\n')
        .ok_or(bad("request line has no end"))?;
    // A bare LF is a line end (RFC 9112 §2.2 lets a server accept it, as nginx does),
    // but a head that mixes it with CRLF is one that a proxy in front of us could split
    // into different lines than we do: refused.
    let bare_lf = head
        .iter()
        .enumerate()
        .any(|(i, &b)| b == b'\n' && (i == 0 || head[i - 1] != b'\r'));
    if bare_lf && head.windows(2).any(|w| w == b"\r\n") {
        return Err(bad("a head that mixes CRLF and bare LF line ends"));
    }
    let line = &head[..line_end];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let line = RequestLine::parse(line)?;

    let mut slots = [httparse::EMPTY_HEADER; MAX_FIELDS];
    let fields = &head[line_end + 1..];
    let parsed = match httparse::parse_headers(fields, &mut slots) {
        Ok(httparse::Status::Complete((len, parsed))) if len == fields.len() => parsed,
        Ok(_) => return Err(bad("the header section does not end the head")),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(Refusal {
                status: 431,
                reason: "too many header fields",
            });
        }
        // obs-fold, whitespace before a colon, no colon, a bare CR, NUL and other
        // controls, a name that is not a token: httparse refuses them all.
        Err(_) => return Err(bad("malformed header field")),
    };
    if parsed
        .iter()
        .any(|h| h.name.len() + h.value.len() > MAX_FIELD_LINE)
    {
        return Err(Refusal {
            status: 431,
            reason: "a header field line is too long",
        });
    }
    let fields: Vec<(&str, &[u8])> = parsed.iter().map(|h| (h.name, h.value)).collect();

    let body = body_length(&fields, line.minor_version)?;
    check_host(&fields, line.minor_version)?;
    let options = ConnectionOptions::of(&fields);
    let persistent = !options.close
        && (line.minor_version == 1 || options.keep_alive)
        && line.method != b"CONNECT";
    let expects_continue = fields.iter().any(|(name, value)| {
        name.eq_ignore_ascii_case("expect")
            && list_elements(value).any(|e| e.eq_ignore_ascii_case(b"100-continue"))
    });
    Ok(Head {
        minor_version: line.minor_version,
        head_method: line.method == b"HEAD",
        body,
        persistent,
        expects_continue,
    })
}

/// The WIT request for one raw head.
pub fn to_request(head: &[u8], peer: SocketAddr, index: u32, policy: &wit::Policy) -> wit::Request {
    wit::Request {
        head: head.to_vec(),
        peer: wit::Peer {
            ip: peer.ip().to_string(),
            port: peer.port(),
        },
        index_on_connection: index,
        policy: policy.clone(),
    }
}

/// The request line for logs: at most 200 characters, control bytes escaped.
pub fn request_line(head: &[u8]) -> String {
    let line = head
        .split(|&b| b == b'\r' || b == b'\n')
        .next()
        .unwrap_or_default();
    String::from_utf8_lossy(&line[..line.len().min(200)])
        .chars()
        .flat_map(char::escape_debug)
        .collect()
}

/// `method SP request-target SP HTTP-version`, single spaces only (RFC 9112 §3).
struct RequestLine<'h> {
    method: &'h [u8],
    minor_version: u8,
}

impl<'h> RequestLine<'h> {
    fn parse(line: &'h [u8]) -> Result<RequestLine<'h>, Refusal> {
        let malformed = bad("malformed request line");
        let first = line.iter().position(|&b| b == b' ').ok_or(malformed)?;
        let last = line.iter().rposition(|&b| b == b' ').ok_or(malformed)?;
        if first == last {
            return Err(malformed);
        }
        let (method, target, version) = (&line[..first], &line[first + 1..last], &line[last + 1..]);
        if method.is_empty() || !method.iter().all(|&b| is_tchar(b)) {
            return Err(malformed);
        }
        // Checked before the version, so that an HTTP/2.0 request with a bad target is
        // a 400. A target with a space in it would have made four parts: refused above.
        if target.is_empty() || !target.iter().all(|&b| (0x21..=0x7e).contains(&b)) {
            return Err(malformed);
        }
        if target.len() > MAX_TARGET_LEN {
            return Err(Refusal {
                status: 414,
                reason: "request-target too long",
            });
        }
        check_target_form(method, target)?;
        let minor_version = match version {
            [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
                if major.is_ascii_digit() && minor.is_ascii_digit() =>
            {
                if *major != b'1' {
                    return Err(Refusal {
                        status: 505,
                        reason: "HTTP major version other than 1",
                    });
                }
                // RFC 9110 §2.5: a higher minor version is answered as the highest we speak.
                u8::from(*minor != b'0')
            }
            _ => return Err(malformed),
        };
        Ok(RequestLine {
            method,
            minor_version,
        })
    }
}

/// RFC 9112 §3.2: origin-form for every method, absolute-form (a proxy's), the
/// authority-form only with CONNECT and the asterisk-form only with OPTIONS; a fragment
/// is never part of a target.
fn check_target_form(method: &[u8], target: &[u8]) -> Result<(), Refusal> {
    if target.contains(&b'#') {
        return Err(bad("a fragment in the request-target"));
    }
    let absolute = || {
        let Some(end) = target.iter().position(|&b| b == b':') else {
            return false;
        };
        let (scheme, rest) = (&target[..end], &target[end..]);
        let Some(rest) = rest.strip_prefix(b"://") else {
            return false;
        };
        let authority_end = rest
            .iter()
            .position(|&b| b == b'/' || b == b'?')
            .unwrap_or(rest.len());
        let authority = &rest[..authority_end];
        scheme.first().is_some_and(u8::is_ascii_alphabetic)
            && scheme
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
            && !authority.is_empty()
            && valid_host(authority)
    };
    let ok = match (method, target) {
        (b"CONNECT", _) => !target.starts_with(b"/") && valid_host(target),
        (b"OPTIONS", b"*") => true,
        (_, [b'/', ..]) => true,
        _ => absolute(),
    };
    if ok {
        Ok(())
    } else {
        Err(bad("request-target of the wrong form"))
    }
}

/// The body's length by RFC 9112 §6: one Content-Length of digits, or Transfer-Encoding
/// ending in chunked (never both, never in HTTP/1.0); anything else is refused.
fn body_length(fields: &[(&str, &[u8])], minor_version: u8) -> Result<BodyLength, Refusal> {
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

/// RFC 9112 §3.2: an HTTP/1.1 request has exactly one valid Host; none may have more.
fn check_host(fields: &[(&str, &[u8])], minor_version: u8) -> Result<(), Refusal> {
    let mut hosts = fields
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("host"));
    match (hosts.next(), hosts.next()) {
        (Some(_), Some(_)) => Err(bad("more than one Host")),
        (None, _) if minor_version == 1 => Err(bad("no Host")),
        (None, _) => Ok(()),
        (Some((_, value)), None) if valid_host(trim(value)) => Ok(()),
        (Some(_), None) => Err(bad("invalid Host")),
    }
}

/// `uri-host [ ":" port ]` (RFC 3986): an IP literal in brackets or a reg-name. An empty
/// value is allowed: it is what a client sends when the target has no authority.
fn valid_host(value: &[u8]) -> bool {
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

/// The `close` and `keep-alive` options of the Connection fields (case-insensitive).
struct ConnectionOptions {
    close: bool,
    keep_alive: bool,
}

impl ConnectionOptions {
    fn of(fields: &[(&str, &[u8])]) -> ConnectionOptions {
        let mut options = ConnectionOptions {
            close: false,
            keep_alive: false,
        };
        for &(name, value) in fields {
            if name.eq_ignore_ascii_case("connection") {
                for option in list_elements(value) {
                    options.close |= option.eq_ignore_ascii_case(b"close");
                    options.keep_alive |= option.eq_ignore_ascii_case(b"keep-alive");
                }
            }
        }
        options
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(head: &str) -> u16 {
        check(head.as_bytes()).map_or_else(|r| r.status, |_| 200)
    }

    fn head(head: &str) -> Head {
        check(head.as_bytes()).unwrap()
    }

    #[test]
    fn request_lines() {
        assert_eq!(status("GET /a?x=1 HTTP/1.1\r\nHost: a\r\n\r\n"), 200);
        assert_eq!(status("GET  / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
        assert_eq!(status("GET / HTTP/1.1 \r\nHost: a\r\n\r\n"), 400);
        assert_eq!(status("GET / x HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
        assert_eq!(status("GET /\r\nHost: a\r\n\r\n"), 400);
        assert_eq!(status("GET / http/1.1\r\nHost: a\r\n\r\n"), 400);
        assert_eq!(status("GET / HTTP/1.10\r\nHost: a\r\n\r\n"), 400);
        assert_eq!(status("GET / FOO/1.1\r\nHost: a\r\n\r\n"), 400);
        assert_eq!(status("G(T / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
        assert_eq!(status("GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
        assert_eq!(status("GET / HTTP/1.1\rHost: a\r\n\r\n"), 400);
        assert_eq!(status("GET / HTTP/2.0\r\nHost: a\r\n\r\n"), 505);
        assert_eq!(status("GET / HTTP/0.9\r\nHost: a\r\n\r\n"), 505);
        assert_eq!(head("GET / HTTP/1.7\r\nHost: a\r\n\r\n").minor_version, 1);
        // Methods are the handler's: any token passes, known or not.
        assert_eq!(status("BREW / HTTP/1.1\r\nHost: a\r\n\r\n"), 200);
        let long = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(8192));
        assert_eq!(status(&long), 414);
    }

    #[test]
    fn target_forms() {
        assert_eq!(status("GET a.txt HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
        assert_eq!(status("GET /a#f HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
        assert_eq!(status("GET * HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
        assert_eq!(status("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"), 200);
        assert_eq!(status("GET http://a/x HTTP/1.1\r\nHost: a\r\n\r\n"), 200);
        assert_eq!(status("GET http:x HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
        assert_eq!(status("GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
        assert_eq!(status("GET http://u@a/x HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
        assert_eq!(status("CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n"), 200);
        assert_eq!(status("CONNECT /a HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
        assert_eq!(status("GET a:443 HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    }

    #[test]
    fn field_syntax() {
        for bad in [
            "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n",
            "GET / HTTP/1.1\r\nHost : a\r\n\r\n",
            "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n",
            "GET / HTTP/1.1\r\n Host: a\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nX: a\x7fb\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nX\x01Y: a\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nBad Name: a\r\n\r\n",
        ] {
            assert_eq!(status(bad), 400, "{bad:?}");
        }
        assert_eq!(status("GET / HTTP/1.1\nHost: a\n\n"), 200);
        assert_eq!(
            status("GET / HTTP/1.1\r\nHost: a\nContent-Length: 4\r\n\r\n"),
            400
        );
        assert_eq!(status("GET / HTTP/1.1\nHost: a\n\r\n"), 400);
        let many: String = (0..=MAX_FIELDS).map(|i| format!("X{i}: v\r\n")).collect();
        assert_eq!(status(&format!("GET / HTTP/1.1\r\n{many}\r\n")), 431);
        let long = format!(
            "GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n",
            "v".repeat(9000)
        );
        assert_eq!(status(&long), 431);
    }

    #[test]
    fn hosts() {
        assert_eq!(status("GET / HTTP/1.1\r\n\r\n"), 400);
        assert_eq!(status("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400);
        assert_eq!(status("GET / HTTP/1.1\r\nHost: a b\r\n\r\n"), 400);
        assert_eq!(status("GET / HTTP/1.1\r\nHost: a:80x\r\n\r\n"), 400);
        assert_eq!(status("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"), 400);
        assert_eq!(status("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"), 200);
        assert_eq!(status("GET / HTTP/1.1\r\nHost: 127.0.0.1:80\r\n\r\n"), 200);
        assert_eq!(status("GET / HTTP/1.1\r\nHost:\r\n\r\n"), 200);
        assert_eq!(status("GET / HTTP/1.0\r\n\r\n"), 200);
        assert_eq!(status("GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n"), 400);
    }

    #[test]
    fn body_lengths() {
        let h = |extra: &str| format!("POST / HTTP/1.1\r\nHost: a\r\n{extra}\r\n");
        let body = |extra: &str| check(h(extra).as_bytes()).map(|h| h.body);
        assert_eq!(body(""), Ok(BodyLength::None));
        assert_eq!(body("Content-Length: 0\r\n"), Ok(BodyLength::None));
        assert_eq!(body("Content-Length: 47\r\n"), Ok(BodyLength::Length(47)));
        assert_eq!(body("Content-Length:  007 \r\n"), Ok(BodyLength::Length(7)));
        for te in [
            "chunked",
            " chunked",
            "\tchunked",
            "CHUNKED",
            "gzip, chunked",
        ] {
            let field = format!("Transfer-Encoding:{te}\r\n");
            assert_eq!(body(&field), Ok(BodyLength::Chunked), "{te:?}");
        }
        for bad in [
            "Content-Length: 5\r\nContent-Length: 5\r\n",
            "Content-Length: 3\r\nContent-Length: 5\r\n",
            "Content-Length: 3, 5\r\n",
            "Content-Length: +5\r\n",
            "Content-Length: -1\r\n",
            "Content-Length: 3x\r\n",
            "Content-Length: \r\n",
            "Content-Length: 99999999999999999999\r\n",
            "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n",
            "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n",
            "Transfer-Encoding: chunked, identity\r\n",
            "Transfer-Encoding: chunked, gzip\r\n",
            "Transfer-Encoding: xchunked\r\n",
            "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
            "Transfer-Encoding: \r\n",
        ] {
            assert_eq!(status(&h(bad)), 400, "{bad:?}");
        }
        assert_eq!(status(&h("Transfer-Encoding: snappy, chunked\r\n")), 501);
        let te10 = "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(status(te10), 400);
    }

    #[test]
    fn persistence() {
        let persistent = |h: &str| head(h).persistent;
        assert!(persistent("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
        assert!(!persistent(
            "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        ));
        assert!(!persistent(
            "GET / HTTP/1.1\r\nHost: a\r\nConnection: x, CLOSE\r\n\r\n"
        ));
        assert!(!persistent("GET / HTTP/1.0\r\n\r\n"));
        assert!(persistent(
            "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"
        ));
        assert!(!persistent("CONNECT a:1 HTTP/1.1\r\nHost: a:1\r\n\r\n"));
        assert!(head("HEAD / HTTP/1.1\r\nHost: a\r\n\r\n").head_method);
        let expect =
            "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n";
        assert!(head(expect).expects_continue);
    }
}
