//! Property: whatever bytes a client sends as a request head, the server answers with
//! well-formed HTTP/1.1 responses or closes the connection cleanly — never a hang, a
//! malformed head, a body that disagrees with its length, or a crash.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use common::{READ_TIMEOUT, site};

/// Request-shaped bytes: a request line and field lines chosen from pieces that reach
/// every branch of the parser, then up to three bytes overwritten with anything; or,
/// one time in four, a free mix of those pieces and random bytes.
fn head() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![3 => shaped(), 1 => free()]
}

fn pick(options: &'static [&'static str]) -> impl Strategy<Value = &'static str> {
    proptest::sample::select(options)
}

fn shaped() -> impl Strategy<Value = Vec<u8>> {
    let method = pick(&[
        "GET", "GET", "HEAD", "OPTIONS", "POST", "CONNECT", "BREW", "get", "",
    ]);
    // Mostly valid pieces, some of every kind of invalid one.
    let segment = prop_oneof![
        4 => pick(&["a.txt", "a.txt", "b.txt", "dir", "404.html", "nope", "%41", "?q=1"]),
        1 => pick(&[".hidden", "%2e", "%2F", "..", "%00", "%", "#f", "*", "http://x/", "//", "\\"]),
    ];
    let segments = proptest::collection::vec(segment, 0..4);
    let target = prop_oneof![
        4 => segments.clone().prop_map(|s| format!("/{}", s.join("/"))),
        1 => segments.prop_map(|s| s.concat()),
    ];
    let version = prop_oneof![
        6 => Just(" HTTP/1.1"),
        1 => pick(&[" HTTP/1.0", " HTTP/1.9", " HTTP/2.0", "", " http/1.1"]),
    ];
    let field = prop_oneof![
        4 => pick(&["Connection: close", "Connection: keep-alive", "User-Agent: curl/8.5",
            "If-None-Match: *", "Range: bytes=0-1", "Accept: */*", "Content-Length: 0"]),
        1 => pick(&["Host:", "Host: a b", "Content-Length: 5", "Content-Length: -1",
            "Transfer-Encoding: chunked", "Transfer-Encoding: gzip", "X: a\0b", " folded",
            "Bad Name: x", "NoColon"]),
    ];
    let fields = (
        prop_oneof![6 => Just(vec!["Host: x"]), 1 => Just(vec![])],
        proptest::collection::vec(field, 0..5),
    )
        .prop_map(|(host, rest)| [host, rest].concat());
    let eol = pick(&["\r\n", "\r\n", "\n"]);
    let mutation = (any::<prop::sample::Index>(), any::<u8>());
    let mutations = prop_oneof![
        3 => Just(vec![]),
        1 => proptest::collection::vec(mutation, 1..3),
    ];
    (method, target, version, fields, eol, mutations).prop_map(
        |(method, target, version, fields, eol, mutations)| {
            let mut head = format!("{method} {target}{version}{eol}");
            for field in fields {
                head.push_str(field);
                head.push_str(eol);
            }
            head.push_str(eol);
            let mut head = head.into_bytes();
            for (at, byte) in mutations {
                let at = at.index(head.len());
                head[at] = byte;
            }
            head
        },
    )
}

/// Pieces and any bytes, freely mixed.
const PIECES: &[&[u8]] = &[
    b"GET ",
    b"HEAD ",
    b"OPTIONS ",
    b"/",
    b"/a.txt",
    b"*",
    b"%2e",
    b"%",
    b"..",
    b" HTTP/1.1",
    b" HTTP/1.0",
    b"\r\n",
    b"\n",
    b"\r",
    b"\r\n\r\n",
    b"Host: x",
    b":",
    b" ",
    b"\t",
    b"\0",
    b"\x7f",
    b"\xff",
    b"Content-Length: 5",
    b"Transfer-Encoding: chunked",
];

fn free() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        3 => proptest::sample::select(PIECES).prop_map(|p| p.to_vec()),
        1 => proptest::collection::vec(any::<u8>(), 1..8),
    ];
    proptest::collection::vec(piece, 0..24).prop_map(|pieces| pieces.concat())
}

/// Checks that `out` is zero or more complete, well-formed responses.
fn well_formed(out: &[u8]) -> Result<usize, String> {
    let mut rest = out;
    let mut count = 0;
    while !rest.is_empty() {
        let mut fields = [httparse::EMPTY_HEADER; 64];
        let mut response = httparse::Response::new(&mut fields);
        let head_len = match response.parse(rest) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => return Err("a response head cut short".into()),
            Err(e) => return Err(format!("a malformed response head: {e}")),
        };
        if response.version != Some(1) {
            return Err("not HTTP/1.1".into());
        }
        let code = response.code.unwrap_or(0);
        let length = response
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("content-length"))
            .map(|h| {
                std::str::from_utf8(h.value)
                    .unwrap()
                    .parse::<usize>()
                    .unwrap()
            });
        // We cannot know which answered a HEAD request; a HEAD answer's length is the
        // file's, so accept a body of either size only when it is the last response.
        let body = match (code, length) {
            (204 | 304, _) => 0,
            (_, Some(n)) if rest.len() >= head_len + n => n,
            (_, Some(_)) if rest.len() == head_len => 0,
            (_, Some(n)) => return Err(format!("a body of {n} bytes cut short")),
            (_, None) => return Err(format!("a {code} without Content-Length")),
        };
        rest = &rest[head_len + body..];
        count += 1;
    }
    Ok(count)
}

#[test]
fn any_bytes_get_well_formed_responses_or_a_clean_close() {
    let site = site();
    let server = common::Server::start(&site.root, &["--quiet"]);
    let mut runner = TestRunner::new(Config {
        cases: 2000,
        failure_persistence: None,
        ..Config::default()
    });
    // How many cases got at least one response, and how many statuses of each class:
    // the generator must reach past the framing into the parser and the file lookup.
    let answered = std::cell::Cell::new(0u32);
    let statuses = std::cell::RefCell::new(std::collections::BTreeMap::<u16, u32>::new());
    runner
        .run(&head(), |bytes| {
            let mut stream = TcpStream::connect(server.addr).unwrap();
            stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
            let _ = stream.write_all(&bytes);
            // No more bytes: a head the server still waits for ends with the stream.
            let _ = stream.shutdown(Shutdown::Write);
            let mut out = Vec::new();
            match stream.read_to_end(&mut out) {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
                Err(e) => return Err(TestCaseError::fail(format!("no clean close: {e}"))),
            }
            let count = well_formed(&out).map_err(TestCaseError::fail)?;
            if count > 0 {
                answered.set(answered.get() + 1);
                let status = std::str::from_utf8(&out[9..12]).unwrap().parse().unwrap();
                *statuses.borrow_mut().entry(status).or_default() += 1;
            }
            Ok(())
        })
        .unwrap();
    let statuses = statuses.into_inner();
    eprintln!(
        "{} of 2000 cases answered; first statuses: {statuses:?}",
        answered.get()
    );
    assert!(
        answered.get() >= 200,
        "only {} cases answered",
        answered.get()
    );
    for status in [200, 400, 404] {
        assert!(
            statuses.contains_key(&status),
            "no {status} among {statuses:?}"
        );
    }
    // And the server is still there.
    assert_eq!(server.get("/a.txt").body, b"hello from a\n");
}
