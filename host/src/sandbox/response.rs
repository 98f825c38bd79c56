//! The guest's answer, checked and planned before a byte of it reaches the client, and
//! `error_response`, the one place the host makes a response of its own (a refused
//! head's 4xx/505, a 500); `set_connection` makes a head say what the connection does.

use anyhow::{Result, bail, ensure};
use cap_std::fs::Dir;

use crate::http::syntax::{is_field_vchar, is_tchar, list_elements, trim};
use crate::sandbox::bindings::wit;
use crate::sandbox::plan::{self, Plan};
use crate::sandbox::root::Opened;

/// Longest response head a handler may return.
pub const MAX_RESPONSE_HEAD: usize = 64 * 1024;

/// A response ready to be written: its head is well-formed and its body matches it.
#[derive(Debug)]
pub struct Checked {
    pub status: u16,
    pub head: Vec<u8>,
    pub body: Plan,
    /// What the body was made of: `empty`, `bytes`, `file` or `chunks`.
    pub kind: &'static str,
    /// The connection closes after this response.
    pub close: bool,
    /// The head already says `Connection: close`.
    pub says_close: bool,
    /// Who decided it, for the access log (`None`: the host answered by itself).
    pub decided_by: Option<Decided>,
}

/// The handler call behind a response, for the access log.
#[derive(Debug, Clone)]
pub struct Decided {
    /// The live version's short sha256.
    pub version: String,
    /// The call's microseconds.
    pub micros: u128,
    /// The call was stopped at its deadline (the answer is the host's 500).
    pub deadline: bool,
}

/// Validates the guest's response against the request it answers and prepares its
/// body (files are opened here, confined to `root`), so that every failure becomes a
/// 500 before anything is sent.
/// `opened`: the files the handler's `root` calls opened, which a body naming them uses.
pub fn check(
    response: wit::Response,
    head_request: bool,
    root: &Dir,
    opened: Vec<Opened>,
) -> Result<Checked> {
    ensure!(
        response.head.len() <= MAX_RESPONSE_HEAD,
        "response head of {} bytes is over the {MAX_RESPONSE_HEAD}-byte limit",
        response.head.len()
    );
    let parsed = parse_head(&response.head)?;
    let kind = match &response.body {
        wit::Body::Empty => "empty",
        wit::Body::Bytes(_) => "bytes",
        wit::Body::File(_) => "file",
        wit::Body::Chunks(_) => "chunks",
    };
    let body = plan::plan(response.body, root, opened)?;
    let bodiless = head_request || parsed.status == 204 || parsed.status == 304;
    if bodiless {
        ensure!(
            body.is_empty(),
            "a {} response to this request cannot have a body",
            parsed.status
        );
        ensure!(
            parsed.status != 204 || parsed.content_length.is_none(),
            "a 204 response cannot have Content-Length"
        );
    } else {
        match parsed.content_length {
            Some(length) => ensure!(
                length == body.len(),
                "Content-Length {length} does not match the {}-byte body",
                body.len()
            ),
            None => bail!("response has no Content-Length"),
        }
    }
    Ok(Checked {
        status: parsed.status,
        head: response.head,
        body,
        kind,
        close: response.close || parsed.close,
        says_close: parsed.close,
        decided_by: None,
    })
}

/// The root's page for the host's own 5xx answers, like nginx's customary `50x.html`.
pub const SERVER_ERROR_PAGE: &str = "50x.html";

/// A response made by the host itself; it always closes the connection. A 5xx uses the
/// root's `50x.html` when there is one (opened confined, like every file), else a small
/// built-in page. `head_only`: the answer to a HEAD request, with the page's length and
/// no body.
pub fn error_response(status: u16, root: Option<&Dir>, head_only: bool) -> Checked {
    let (status, reason) = match status {
        400 => (400, "Bad Request"),
        414 => (414, "URI Too Long"),
        431 => (431, "Request Header Fields Too Large"),
        501 => (501, "Not Implemented"),
        503 => (503, "Service Unavailable"),
        505 => (505, "HTTP Version Not Supported"),
        _ => (500, "Internal Server Error"),
    };
    let page = root
        .filter(|_| status >= 500)
        .and_then(|root| plan::plan_page(root, SERVER_ERROR_PAGE));
    let body = page.unwrap_or_else(|| {
        Plan::bytes(
            format!(
                "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{status} {reason}</title></head>\n\
                 <body><h1>{status} {reason}</h1><hr><p>sandserve</p></body></html>\n"
            )
            .into_bytes(),
        )
    });
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nServer: sandserve\r\nDate: {}\r\n\
         X-Content-Type-Options: nosniff\r\nContent-Type: text/html; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        httpdate::fmt_http_date(std::time::SystemTime::now()),
        body.len()
    );
    Checked {
        status,
        head: head.into_bytes(),
        kind: if head_only { "empty" } else { "bytes" },
        body: if head_only { Plan::default() } else { body },
        close: true,
        says_close: true,
        decided_by: None,
    }
}

/// The host's 503 when it cannot run a handler now (no free instance, no descriptor):
/// `Retry-After: 1`, and the connection closes.
pub fn busy_response(head_only: bool) -> Checked {
    let mut page = error_response(503, None, head_only);
    let end = page.head.len() - 2;
    page.head.splice(end..end, *b"Retry-After: 1\r\n");
    page
}

/// Makes a checked response's head say `Connection: VALUE` (`close`, `keep-alive`):
/// any `Connection` field the guest wrote is replaced.
pub fn set_connection(reply: &mut Checked, value: &str) {
    let mut head = Vec::with_capacity(reply.head.len() + 24);
    for line in reply.head.split_inclusive(|&b| b == b'\n') {
        if line == b"\r\n" {
            head.extend_from_slice(b"Connection: ");
            head.extend_from_slice(value.as_bytes());
            head.extend_from_slice(b"\r\n\r\n");
        } else if !field_name(line).eq_ignore_ascii_case(b"connection") {
            head.extend_from_slice(line);
        }
    }
    reply.head = head;
    reply.says_close = value == "close";
}

fn field_name(line: &[u8]) -> &[u8] {
    line.iter()
        .position(|&b| b == b':')
        .map_or(&[][..], |colon| &line[..colon])
}

/// What the host needs to know of a response head.
#[derive(Debug, PartialEq, Eq)]
pub struct ParsedHead {
    pub status: u16,
    pub content_length: Option<u64>,
    pub close: bool,
}

/// Strict HTTP/1.1 response head: `HTTP/1.1 NNN reason` CRLF, `token: value` CRLF
/// fields with no CR, LF, NUL or other controls in values, a final CRLF, nothing after.
/// (Public for the fuzz target.)
pub fn parse_head(head: &[u8]) -> Result<ParsedHead> {
    let Some(body) = head.strip_suffix(b"\r\n") else {
        bail!("response head does not end with an empty line");
    };
    let mut lines = body.split(|&b| b == b'\n');
    let status_line = lines.next().unwrap_or_default();
    let status_line = crlf_line(status_line)?;
    let status = match status_line {
        [
            b'H',
            b'T',
            b'T',
            b'P',
            b'/',
            b'1',
            b'.',
            b'1',
            b' ',
            a,
            b,
            c,
            b' ',
            reason @ ..,
        ] if [a, b, c].iter().all(|d| d.is_ascii_digit())
            && reason
                .iter()
                .all(|&r| is_field_vchar(r) || r == b' ' || r == b'\t') =>
        {
            u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0')
        }
        _ => bail!(
            "malformed status line {:?}",
            String::from_utf8_lossy(status_line)
        ),
    };
    ensure!(
        (200..=599).contains(&status),
        "status {status} is not a final status we send"
    );

    let mut parsed = ParsedHead {
        status,
        content_length: None,
        close: false,
    };
    // The split leaves one empty piece after the last field's LF.
    let fields: Vec<&[u8]> = lines.collect();
    let Some((last, fields)) = fields.split_last() else {
        bail!("response head does not end with an empty line");
    };
    ensure!(
        last.is_empty(),
        "response head does not end with an empty line"
    );
    for line in fields {
        let line = crlf_line(line)?;
        let colon = line.iter().position(|&b| b == b':');
        let Some(colon) = colon.filter(|&c| c > 0) else {
            bail!(
                "field line without a name: {:?}",
                String::from_utf8_lossy(line)
            );
        };
        let (name, value) = (&line[..colon], trim(&line[colon + 1..]));
        ensure!(
            name.iter().all(|&b| is_tchar(b)),
            "field name {:?} is not a token",
            String::from_utf8_lossy(name)
        );
        ensure!(
            value
                .iter()
                .all(|&b| is_field_vchar(b) || b == b' ' || b == b'\t'),
            "field {:?} has a control byte in its value",
            String::from_utf8_lossy(name)
        );
        if name.eq_ignore_ascii_case(b"content-length") {
            ensure!(
                parsed.content_length.is_none(),
                "more than one Content-Length"
            );
            let digits = std::str::from_utf8(value).unwrap_or("x");
            ensure!(
                !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()),
                "invalid Content-Length {digits:?}"
            );
            parsed.content_length = Some(digits.parse()?);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            bail!("Transfer-Encoding in a response: the host frames bodies by length");
        } else if name.eq_ignore_ascii_case(b"connection") {
            parsed.close |= list_elements(value).any(|t| t.eq_ignore_ascii_case(b"close"));
        }
    }
    Ok(parsed)
}

/// The content of a line that must end in CR LF (the LF is already split off).
fn crlf_line(line: &[u8]) -> Result<&[u8]> {
    match line.strip_suffix(b"\r") {
        Some(content) if !content.contains(&b'\r') => Ok(content),
        _ => bail!("bare CR or LF in the response head"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(head: &str) -> Result<ParsedHead> {
        parse_head(head.as_bytes())
    }

    #[test]
    fn accepts_well_formed_heads() {
        let p = parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: Close\r\n\r\n").unwrap();
        assert_eq!(
            p,
            ParsedHead {
                status: 200,
                content_length: Some(5),
                close: true
            }
        );
        let p = parse("HTTP/1.1 404 \r\n\r\n").unwrap();
        assert_eq!(p.status, 404);
        assert_eq!(p.content_length, None);
    }

    #[test]
    fn set_connection_replaces_the_connection_field() {
        let head = "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n";
        let mut reply = Checked {
            status: 200,
            head: head.as_bytes().to_vec(),
            body: Plan::default(),
            kind: "empty",
            close: false,
            says_close: false,
            decided_by: None,
        };
        set_connection(&mut reply, "close");
        assert_eq!(
            String::from_utf8(reply.head.clone()).unwrap(),
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        assert!(reply.says_close);
        assert!(parse_head(&reply.head).unwrap().close);
    }

    #[test]
    fn rejects_malformed_heads() {
        for bad in [
            "",
            "HTTP/1.1 200 OK\r\n",
            "HTTP/1.1 200 OK\r\nA: b\r\n",
            "HTTP/1.0 200 OK\r\n\r\n",
            "HTTP/1.1 20 OK\r\n\r\n",
            "HTTP/1.1 101 Switching\r\n\r\n",
            "HTTP/1.1 600 Nope\r\n\r\n",
            "this is not http\r\n\r\n",
            "HTTP/1.1 200 OK\nA: b\r\n\r\n",
            "HTTP/1.1 200 OK\r\nA: b\rSet-Cookie: x\r\n\r\n",
            "HTTP/1.1 200 OK\r\nA: b\0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nA b: c\r\n\r\n",
            "HTTP/1.1 200 OK\r\n: c\r\n\r\n",
            "HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            "HTTP/1.1 200 OK\r\n\r\nextra",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
