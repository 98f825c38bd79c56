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

use crate::http::syntax::{list_elements, trim};

mod framing;
mod line;
mod refusal;
#[cfg(test)]
mod tests;

use framing::body_length;
pub use framing::{BodyLength, parse_content_length};
use line::{RequestLine, valid_host};
pub use refusal::Refusal;
use refusal::bad;

/// Longest request-target accepted; beyond it, 414 (nginx's 8 KiB line buffers).
pub const MAX_TARGET_LEN: usize = 8 * 1024;
/// Most header fields accepted; beyond it, 431.
pub const MAX_FIELDS: usize = 100;
/// Longest field line (name and value) accepted; beyond it, 431 (RFC 6585 §5).
pub const MAX_FIELD_LINE: usize = 8 * 1024;

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
