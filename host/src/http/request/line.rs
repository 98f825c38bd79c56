//! The request line (RFC 9112 §3): three parts with single spaces, a token method, a
//! target of the form its method allows, `HTTP/1.x`; and the authority syntax that the
//! target and the Host field share.

use super::MAX_TARGET_LEN;
use super::refusal::{Refusal, bad};
use crate::http::syntax::is_tchar;

/// `method SP request-target SP HTTP-version`, single spaces only (RFC 9112 §3).
pub(super) struct RequestLine<'h> {
    pub method: &'h [u8],
    pub minor_version: u8,
}

impl<'h> RequestLine<'h> {
    pub fn parse(line: &'h [u8]) -> Result<RequestLine<'h>, Refusal> {
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

/// `uri-host [ ":" port ]` (RFC 3986): an IP literal in brackets or a reg-name. An empty
/// value is allowed: it is what a client sends when the target has no authority.
pub(super) fn valid_host(value: &[u8]) -> bool {
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
