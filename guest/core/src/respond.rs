//! A decision becomes bytes: the response head, and the body the host will send.
//!
//! Every response gets `Server` (unless configured empty), `Date`, and framing the host
//! can check: `Content-Length` equal to the body, except where the body is left out on
//! purpose (HEAD) or has no length (204). `Connection: close` whenever we will close.

use std::io::Write;
use std::time::SystemTime;

use crate::conditional::Validators;
use crate::encoding::Coding;
use crate::error::{ServeError, reason};
use crate::mime;
use crate::policy::Policy;
use crate::range::Span;

/// Bytes of a file below the root, streamed by the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRange {
    pub path: String,
    pub offset: u64,
    pub length: u64,
    /// Bytes of the host's compressed form of `path` in this coding, not of `path`.
    pub form: Option<Coding>,
}

/// A piece of a body assembled from several sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chunk {
    Bytes(Vec<u8>),
    File(FileRange),
}

/// The bytes that follow the head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    Empty,
    Bytes(Vec<u8>),
    File(FileRange),
    Chunks(Vec<Chunk>),
}

/// The whole decision for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub head: Vec<u8>,
    pub body: Body,
    pub close: bool,
}

/// The file chosen to answer a request for a path: the file itself or a precompressed
/// sibling (`path` is then `a.js.br`, `content_type` still that of `a.js`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Representation {
    pub path: String,
    pub len: u64,
    pub validators: Validators,
    pub content_type: String,
    /// `Content-Encoding`, for a precompressed sibling or a form.
    pub encoding: Option<&'static str>,
    /// A compressed form the host made of `path` (`Root::compressed`), in this coding.
    pub form: Option<Coding>,
    /// By the operator's rules for the path asked for.
    pub cache_control: Option<String>,
}

/// What all responses to one request have in common.
#[derive(Debug)]
pub struct Exchange<'a> {
    /// The operator's settings: server name, extra headers, Cache-Control rules.
    pub policy: &'a Policy,
    pub now: SystemTime,
    /// A HEAD request: send the head a GET would get, and no body.
    pub head_only: bool,
}

impl Exchange<'_> {
    /// The status line and the fields every response carries.
    fn start(&self, status: u16) -> Vec<u8> {
        let mut head = Vec::with_capacity(256);
        let _ = write!(head, "HTTP/1.1 {status} {}\r\n", reason(status));
        if !self.policy.server_name.is_empty() {
            field(&mut head, "Server", &self.policy.server_name);
        }
        field(&mut head, "Date", &httpdate::fmt_http_date(self.now));
        // Browsers must not guess a type other than the one we send (a text file that
        // looks like HTML must not run as a page).
        field(&mut head, "X-Content-Type-Options", "nosniff");
        for (name, value) in &self.policy.extra_headers {
            field(&mut head, name, value);
        }
        head
    }

    /// The fields that describe a file's representation: type, coding, validators,
    /// ranges, and that it varies with Accept-Encoding (a precompressed sibling may be
    /// chosen for another client, or appear later).
    /// `content_type` is the file's, or multipart/byteranges for several ranges.
    fn representation(&self, head: &mut Vec<u8>, r: &Representation, content_type: &str) {
        field(head, "Content-Type", content_type);
        if let Some(coding) = r.encoding {
            field(head, "Content-Encoding", coding);
        }
        self.validators(head, &r.validators);
        field(head, "Accept-Ranges", "bytes");
        if let Some(value) = &r.cache_control {
            field(head, "Cache-Control", value);
        }
    }

    fn validators(&self, head: &mut Vec<u8>, v: &Validators) {
        field(head, "Vary", "Accept-Encoding");
        field(head, "ETag", &v.etag);
        if let Some(modified) = v.last_modified {
            field(head, "Last-Modified", &httpdate::fmt_http_date(modified));
        }
    }

    /// Adds the framing fields and the final empty line. `length` is the full body's
    /// length, announced even when `head_only` leaves the body out.
    fn finish(
        &self,
        mut head: Vec<u8>,
        status: u16,
        length: Option<u64>,
        body: Body,
        must_close: bool,
    ) -> Response {
        if let Some(length) = length {
            field(&mut head, "Content-Length", &length.to_string());
        }
        // Persistence by the request's version and fields, and skipping its body, are
        // the host's; we only ask for a close after a request we would not trust.
        if must_close {
            field(&mut head, "Connection", "close");
        }
        head.extend_from_slice(b"\r\n");
        let body = if self.head_only { Body::Empty } else { body };
        Response {
            status,
            head,
            body,
            close: must_close,
        }
    }

    /// 200 with the whole file.
    pub fn file(&self, r: Representation) -> Response {
        let mut head = self.start(200);
        self.representation(&mut head, &r, &r.content_type);
        let length = r.len;
        let body = Body::File(FileRange {
            path: r.path,
            offset: 0,
            length,
            form: r.form,
        });
        self.finish(head, 200, Some(length), body, false)
    }

    /// 304: the validators, no body and no length (RFC 9110 §15.4.5).
    pub fn not_modified(&self, v: &Validators) -> Response {
        let mut head = self.start(304);
        self.validators(&mut head, v);
        self.finish(head, 304, None, Body::Empty, false)
    }

    /// 206 with one range of the file.
    pub fn partial(&self, r: Representation, span: Span) -> Response {
        let mut head = self.start(206);
        self.representation(&mut head, &r, &r.content_type);
        let range = format!("bytes {}-{}/{}", span.first, span.last, r.len);
        field(&mut head, "Content-Range", &range);
        let body = Body::File(FileRange {
            path: r.path,
            offset: span.first,
            length: span.len(),
            form: r.form,
        });
        self.finish(head, 206, Some(span.len()), body, false)
    }

    /// 206 multipart/byteranges (RFC 9110 §14.6): each part its own small head, then
    /// its bytes, which the host streams from the file.
    pub fn multipart(&self, r: Representation, spans: &[Span], boundary: &str) -> Response {
        let mut head = self.start(206);
        let mut chunks = Vec::with_capacity(spans.len() * 2 + 1);
        let mut total = 0;
        for span in spans {
            let part = format!(
                "\r\n--{boundary}\r\nContent-Type: {}\r\n\
                 Content-Range: bytes {}-{}/{}\r\n\r\n",
                r.content_type, span.first, span.last, r.len
            );
            total += part.len() as u64 + span.len();
            chunks.push(Chunk::Bytes(part.into_bytes()));
            chunks.push(Chunk::File(FileRange {
                path: r.path.clone(),
                offset: span.first,
                length: span.len(),
                form: r.form,
            }));
        }
        let end = format!("\r\n--{boundary}--\r\n");
        total += end.len() as u64;
        chunks.push(Chunk::Bytes(end.into_bytes()));
        let multipart = format!("multipart/byteranges; boundary={boundary}");
        self.representation(&mut head, &r, &multipart);
        self.finish(head, 206, Some(total), Body::Chunks(chunks), false)
    }

    /// 200 with a listing page made here; it varies with Accept (HTML or JSON).
    pub fn listing(&self, page: String, content_type: &str) -> Response {
        let mut head = self.start(200);
        field(&mut head, "Content-Type", content_type);
        field(&mut head, "Vary", "Accept");
        let length = page.len() as u64;
        self.finish(
            head,
            200,
            Some(length),
            Body::Bytes(page.into_bytes()),
            false,
        )
    }

    /// 301 to `location` (an absolute path, already encoded).
    pub fn redirect(&self, location: &str) -> Response {
        let mut head = self.start(301);
        field(&mut head, "Location", location);
        self.page(head, 301, false)
    }

    /// 204 for OPTIONS: what the resource allows.
    pub fn options(&self) -> Response {
        let mut head = self.start(204);
        field(&mut head, "Allow", ALLOW);
        self.finish(head, 204, None, Body::Empty, false)
    }

    /// The error's status with a page: `page` is a file of the root (the custom
    /// `404.html`) with its length, or `None` for the small built-in page.
    pub fn error(&self, error: ServeError, page: Option<(String, u64)>) -> Response {
        let status = error.status();
        let mut head = self.start(status);
        match error {
            ServeError::MethodNotAllowed => field(&mut head, "Allow", ALLOW),
            ServeError::RangeNotSatisfiable(len) => {
                field(&mut head, "Content-Range", &format!("bytes */{len}"));
                // Of the representation chosen by Accept-Encoding (a form's length).
                field(&mut head, "Vary", "Accept-Encoding");
            }
            // Only a file's preconditions fail, against its chosen representation.
            ServeError::PreconditionFailed => field(&mut head, "Vary", "Accept-Encoding"),
            _ => {}
        }
        match page {
            Some((path, length)) => {
                field(&mut head, "Content-Type", &mime::content_type(&path));
                let body = Body::File(FileRange {
                    path,
                    offset: 0,
                    length,
                    form: None,
                });
                self.finish(head, status, Some(length), body, error.must_close())
            }
            None => self.page(head, status, error.must_close()),
        }
    }

    /// Finishes `head` with the built-in HTML page for `status`.
    fn page(&self, mut head: Vec<u8>, status: u16, must_close: bool) -> Response {
        let reason = reason(status);
        let html = format!(
            "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{status} {reason}</title></head>\n\
             <body><h1>{status} {reason}</h1><hr><p>sandserve</p></body></html>\n"
        );
        field(&mut head, "Content-Type", "text/html; charset=utf-8");
        let length = html.len() as u64;
        self.finish(
            head,
            status,
            Some(length),
            Body::Bytes(html.into_bytes()),
            must_close,
        )
    }
}

/// The methods a file allows (405's and OPTIONS's `Allow`).
pub const ALLOW: &str = "GET, HEAD, OPTIONS";

fn field(head: &mut Vec<u8>, name: &str, value: &str) {
    head.extend_from_slice(name.as_bytes());
    head.extend_from_slice(b": ");
    head.extend_from_slice(value.as_bytes());
    head.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::root::{Kind, Meta};

    fn exchange(head_only: bool) -> Exchange<'static> {
        static POLICY: std::sync::LazyLock<Policy> = std::sync::LazyLock::new(Policy::default);
        Exchange {
            policy: &POLICY,
            now: SystemTime::UNIX_EPOCH,
            head_only,
        }
    }

    fn repr(len: u64, modified: Option<SystemTime>) -> Representation {
        Representation {
            path: "a.txt".into(),
            len,
            validators: Validators::of(&Meta {
                kind: Kind::File,
                len,
                modified,
            }),
            content_type: mime::content_type("a.txt").into_owned(),
            encoding: None,
            form: None,
            cache_control: None,
        }
    }

    fn text(r: &Response) -> String {
        String::from_utf8(r.head.clone()).unwrap()
    }

    #[test]
    fn file_head_and_body() {
        let rep = repr(5, Some(SystemTime::UNIX_EPOCH));
        let r = exchange(false).file(rep.clone());
        assert_eq!(
            text(&r),
            "HTTP/1.1 200 OK\r\nServer: sandserve\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\n\
             X-Content-Type-Options: nosniff\r\nContent-Type: text/plain; charset=utf-8\r\n\
             Vary: Accept-Encoding\r\nETag: \"5-0.00000000\"\r\nLast-Modified: Thu, 01 Jan 1970 00:00:00 GMT\r\n\
             Accept-Ranges: bytes\r\nContent-Length: 5\r\n\r\n"
        );
        assert_eq!(
            r.body,
            Body::File(FileRange {
                path: "a.txt".into(),
                offset: 0,
                length: 5,
                form: None,
            })
        );
        assert!(!r.close);
        let head = exchange(true).file(rep);
        assert_eq!(head.head, r.head);
        assert_eq!(head.body, Body::Empty);
    }

    #[test]
    fn multipart_length_counts_every_byte() {
        let spans = [
            Span { first: 0, last: 9 },
            Span {
                first: 50,
                last: 59,
            },
        ];
        let r = exchange(false).multipart(repr(100, None), &spans, "B");
        let Body::Chunks(chunks) = &r.body else {
            panic!("{:?}", r.body)
        };
        let total: u64 = chunks
            .iter()
            .map(|c| match c {
                Chunk::Bytes(b) => b.len() as u64,
                Chunk::File(f) => f.length,
            })
            .sum();
        assert!(text(&r).contains(&format!("Content-Length: {total}\r\n")));
        assert!(text(&r).contains("Content-Type: multipart/byteranges; boundary=B\r\n"));
        assert_eq!(
            chunks[0],
            Chunk::Bytes(
                b"\r\n--B\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 0-9/100\r\n\r\n"
                    .to_vec()
            )
        );
        assert_eq!(chunks[4], Chunk::Bytes(b"\r\n--B--\r\n".to_vec()));
    }

    #[test]
    fn connection_fields() {
        let r = exchange(false).options();
        assert!(!text(&r).contains("Connection:"));
        assert!(!r.close);
        let r = exchange(false).error(ServeError::BadRequest("x"), None);
        assert!(r.close && text(&r).contains("Connection: close\r\n"));
    }

    #[test]
    fn error_pages() {
        let r = exchange(false).error(ServeError::MethodNotAllowed, None);
        assert!(text(&r).starts_with("HTTP/1.1 405 Method Not Allowed\r\n"));
        assert!(text(&r).contains("Allow: GET, HEAD, OPTIONS\r\n"));
        let Body::Bytes(html) = &r.body else {
            panic!("{:?}", r.body)
        };
        assert!(text(&r).contains(&format!("Content-Length: {}\r\n", html.len())));
        let r = exchange(false).error(ServeError::NotFound, Some(("404.html".into(), 9)));
        assert!(
            text(&r).contains("Content-Type: text/html; charset=utf-8\r\nContent-Length: 9\r\n")
        );
        assert!(!r.close);
    }
}
