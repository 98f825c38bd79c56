//! A sandserve handler in Rust: files of the root, 404 with the root's 404.html.
//!
//! Build:  sandserve build          (cargo, for wasm32-wasip2; the tools cache's target)
//! Try:    sandserve check .        (the conformance suite, and sandserve.toml's requests)
//! Live:   sandserve dev --root SITE   (rebuilt, checked and swapped in on every save;
//!                                      what println! writes shows in its log)

use std::time::{Duration, UNIX_EPOCH};

use exports::sandserve::server::handler::{Answer, Guest};
use sandserve::server::root::{self, Kind, Seen};
use sandserve::server::types::{Body, FileRange, Request, Response};

wit_bindgen::generate!({ path: "wit", world: "sandserve" });

struct Handler;

/// The size of the regular file `rel` of the root, if there is one.
fn found(rel: &str) -> Option<u64> {
    root::stat(rel)
        .ok()
        .filter(|meta| meta.kind == Kind::File)
        .map(|meta| meta.size)
}

impl Guest for Handler {
    // `seen`: looks the host made (none for a handler that calls `root`, as this one
    // does); so the answer is always a response.
    fn handle(request: Request, _seen: Vec<Seen>) -> Answer {
        // The host has checked the head: `METHOD SP target SP HTTP/1.x`.
        let head = String::from_utf8_lossy(&request.head);
        let mut words = head.split(' ');
        let method = words.next().unwrap_or_default();
        let path = words.next().unwrap_or("/").split('?').next().unwrap_or("/");
        let mut rel = path.trim_start_matches('/').to_owned();
        if rel.is_empty() || rel.ends_with('/') {
            rel.push_str("index.html");
        }
        let mut status = "200 OK";
        let mut size = if path.split('/').any(|s| s == "..") { None } else { found(&rel) };
        if size.is_none() {
            (status, rel, size) = ("404 Not Found", "404.html".into(), found("404.html"));
        }
        let (body, length) = match size {
            // The host streams the file itself: its bytes never enter the handler.
            Some(length) => (Body::File(FileRange { path: rel, offset: 0, length, coding: None }), length),
            None => (Body::Bytes(b"not found\n".to_vec()), 10),
        };
        let received = UNIX_EPOCH + Duration::from_secs(request.received.seconds);
        let date = httpdate::fmt_http_date(received);
        Answer::Response(Response {
            head: format!("HTTP/1.1 {status}\r\nDate: {date}\r\nContent-Length: {length}\r\n\r\n")
                .into_bytes(),
            body: if method == "HEAD" { Body::Empty } else { body },
            close: false,
        })
    }
}

export!(Handler);
