//! Malformed and unsupported requests: each gets its proper status, and where the
//! request could not be trusted the connection closes, so nothing after it is ever
//! taken for a request. The host checks message syntax before any handler runs, so
//! every such case is asserted behind the naive fixture too (`Server::each_handler`),
//! which itself checks nothing of the kind.

mod common;

use common::{Server, count_responses, site};

/// Sends `raw`, expects exactly one response with `status`, then the server's close.
fn assert_rejected_and_closed(server: &Server, raw: &[u8], status: u16) {
    assert_one_answer_then_close(server, raw, Some(status));
}

/// Sends `raw` and a request after it; expects exactly one response (with `status`, when
/// given), which says `Connection: close`, and the close: the second is never answered.
fn assert_one_answer_then_close(server: &Server, raw: &[u8], status: Option<u16>) {
    // A second request follows: it must never be answered.
    let mut bytes = raw.to_vec();
    bytes.extend_from_slice(b"GET /b.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    let out = server.exchange(&bytes);
    let text = String::from_utf8_lossy(&out);
    let expected = status.map_or("HTTP/1.1 ".to_owned(), |s| format!("HTTP/1.1 {s} "));
    assert!(
        text.starts_with(&expected),
        "{:?} got {:?}",
        String::from_utf8_lossy(raw),
        text.lines().next()
    );
    assert_eq!(count_responses(&out), 1, "{text}");
    assert!(!text.contains("hello from b"));
    assert!(text.contains("Connection: close\r\n"), "{text}");
}

#[test]
fn malformed_request_lines_get_400() {
    let site = site();
    for (_handler, server) in Server::each_handler(&site.root, &[]) {
        for raw in [
            "GET  /a.txt HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET /a.txt  HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET /a.txt\r\nHost: x\r\n\r\n",
            "GET /a.txt HTTP/1.1 extra\r\nHost: x\r\n\r\n",
            "GET /a.txt http/1.1\r\nHost: x\r\n\r\n",
            "GET a.txt HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET /a.txt#frag HTTP/1.1\r\nHost: x\r\n\r\n",
            "G\x01T /a.txt HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET * HTTP/1.1\r\nHost: x\r\n\r\n",
        ] {
            assert_rejected_and_closed(&server, raw.as_bytes(), 400);
        }
    }
}

#[test]
fn malformed_header_sections_get_400() {
    let site = site();
    for (_handler, server) in Server::each_handler(&site.root, &[]) {
        for raw in [
            // obs-fold
            "GET /a.txt HTTP/1.1\r\nHost: x\r\nX-Long: a\r\n  b\r\n\r\n",
            // space before the colon
            "GET /a.txt HTTP/1.1\r\nHost : x\r\n\r\n",
            // a field line without a colon
            "GET /a.txt HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n",
            // NUL and bare CR in a value
            "GET /a.txt HTTP/1.1\r\nHost: x\r\nX: a\0b\r\n\r\n",
            "GET /a.txt HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n",
            // Host: missing, doubled, invalid
            "GET /a.txt HTTP/1.1\r\n\r\n",
            "GET /a.txt HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
            "GET /a.txt HTTP/1.1\r\nHost: x y\r\n\r\n",
            // framing
            "GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
            "GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
            "GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n",
            "GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\n",
            "GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
            "GET /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
            "GET /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n",
            "GET /a.txt HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
        ] {
            assert_rejected_and_closed(&server, raw.as_bytes(), 400);
        }
    }
}

#[test]
fn unknown_methods_versions_and_codings() {
    let site = site();
    // Methods are the handler's to judge; the built-in one does not know BREW.
    let server = Server::start(&site.root, &[]);
    assert_rejected_and_closed(&server, b"BREW /a.txt HTTP/1.1\r\nHost: x\r\n\r\n", 501);
    // Codings and versions are the host's.
    for (_handler, server) in Server::each_handler(&site.root, &[]) {
        assert_rejected_and_closed(
            &server,
            b"GET /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: snappy, chunked\r\n\r\n",
            501,
        );
        assert_rejected_and_closed(&server, b"GET /a.txt HTTP/2.0\r\nHost: x\r\n\r\n", 505);
        assert_rejected_and_closed(&server, b"GET /a.txt HTTP/0.9\r\nHost: x\r\n\r\n", 505);
        assert_rejected_and_closed(&server, b"GET /a.txt FOO/1.1\r\nHost: x\r\n\r\n", 400);
        // A HEAD that is refused gets the head of the refusal and no body.
        let mut client = server.connect();
        client.send(b"HEAD /a.txt HTTP/2.0\r\nHost: x\r\n\r\n");
        let r = client.response(true);
        assert_eq!(r.status, 505);
        assert!(client.read_to_close().is_empty());
    }
}

#[test]
fn a_higher_minor_version_is_answered_as_1_1() {
    let site = site();
    for (_handler, server) in Server::each_handler(&site.root, &[]) {
        let r = server.request("GET /a.txt HTTP/1.9\r\nHost: x\r\nConnection: close\r\n\r\n");
        assert_eq!(r.status, 200);
        assert!(r.head.starts_with("HTTP/1.1 200 OK\r\n"));
        assert_eq!(r.body, b"hello from a\n");
    }
}

#[test]
fn oversize_requests_get_414_or_431() {
    let site = site();
    for (_handler, server) in Server::each_handler(&site.root, &[]) {
        let long_target = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(9000));
        assert_rejected_and_closed(&server, long_target.as_bytes(), 414);
        let many: String = (0..150).map(|i| format!("X-{i}: v\r\n")).collect();
        let many = format!("GET /a.txt HTTP/1.1\r\nHost: x\r\n{many}\r\n");
        assert_rejected_and_closed(&server, many.as_bytes(), 431);
        // Over the host's 16 KiB head limit: refused before the guest sees it.
        let huge = format!(
            "GET /a.txt HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
            "b".repeat(17 * 1024)
        );
        let out = server.exchange(huge.as_bytes());
        assert!(String::from_utf8_lossy(&out).starts_with("HTTP/1.1 431 "));
        // A head that never ends is cut at the limit too, without waiting for the rest.
        let mut client = server.connect();
        client.send(format!("GET /a.txt HTTP/1.1\r\nX: {}", "c".repeat(20 * 1024)).as_bytes());
        let out = client.read_to_close();
        assert!(String::from_utf8_lossy(&out).starts_with("HTTP/1.1 431 "));
    }
}

#[test]
fn a_request_body_is_never_read_as_a_request() {
    let site = site();
    // The "body" is itself a request; it must not be answered.
    let smuggled = "GET /b.txt HTTP/1.1\r\nHost: x\r\n\r\n";
    for (handler, server) in Server::each_handler(&site.root, &[]) {
        // A Content-Length body is skipped and the connection kept: the request after
        // the body is the next one answered (the issue's own case, with POST).
        for method in ["GET", "POST"] {
            let raw = format!(
                "{method} /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{smuggled}\
                 GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                smuggled.len()
            );
            let out = server.exchange(raw.as_bytes());
            let text = String::from_utf8_lossy(&out);
            assert_eq!(count_responses(&out), 2, "{handler} {method}: {text}");
            assert!(!text.contains("hello from b"), "{handler} {method}: {text}");
            assert!(
                text.ends_with("hello from a\n"),
                "{handler} {method}: {text}"
            );
        }
        // A chunked body is not read at all: one answer, then the close.
        let raw = format!(
            "POST /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{smuggled}\r\n0\r\n\r\n",
            smuggled.len()
        );
        assert_one_answer_then_close(&server, raw.as_bytes(), None);
    }
    let server = Server::start(&site.root, &[]);
    let raw = "POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n";
    assert_eq!(server.request(raw).status, 405);
}

#[test]
fn method_not_allowed_keeps_a_clean_connection_open() {
    let site = site();
    let server = Server::start(&site.root, &[]);
    let mut client = server.connect();
    client.send(b"DELETE /a.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(client.response(false).status, 405);
    assert_eq!(client.response(false).body, b"hello from a\n");
}

#[test]
fn obfuscated_framing_and_control_bytes_are_refused() {
    let site = site();
    for (_handler, server) in Server::each_handler(&site.root, &[]) {
        for raw in [
            // Transfer-Encoding twice, or chunked not last
            "GET /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
            "GET /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
            // signed, negative, listed, padded-with-garbage Content-Length
            "GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: -3\r\n\r\n",
            "GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n\r\n",
            "GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 3x\r\n\r\n",
            // a bare CR inside the request line; control bytes and DEL in values and names
            "GET /a.txt HTTP/1.1\rHost: x\r\n\r\n",
            "GET /a.txt HTTP/1.1\r\nHost: x\r\nX: a\x01b\r\n\r\n",
            "GET /a.txt HTTP/1.1\r\nHost: x\r\nX: a\x7fb\r\n\r\n",
            "GET /a.txt HTTP/1.1\r\nHost: x\r\nX\x01Y: a\r\n\r\n",
            "GET /a.txt HTTP/1.1\r\nHost: x\r\nTransfer\0Encoding: chunked\r\n\r\n",
            // whitespace tricks around the field name
            "GET /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding\t: chunked\r\n\r\n",
            "GET /a.txt HTTP/1.1\r\nHost: x\r\n Transfer-Encoding: chunked\r\n\r\n",
        ] {
            assert_rejected_and_closed(&server, raw.as_bytes(), 400);
        }
        // What a CONNECT client sends next may be tunnel bytes, so they are never read
        // as requests, whatever the handler answers.
        let connect = b"CONNECT a.txt:443 HTTP/1.1\r\nHost: a.txt:443\r\n\r\n";
        assert_one_answer_then_close(&server, connect, None);
    }
    // The built-in handler does not serve it (405 with Allow).
    let server = Server::start(&site.root, &[]);
    assert_rejected_and_closed(
        &server,
        b"CONNECT a.txt:443 HTTP/1.1\r\nHost: a.txt:443\r\n\r\n",
        405,
    );
}

#[test]
fn chunked_with_optional_whitespace_is_still_chunked() {
    let site = site();
    for (_handler, server) in Server::each_handler(&site.root, &[]) {
        // ` chunked` and `\tchunked` are the same coding (OWS): the body, which holds a
        // request, is never taken for one; the connection closes after the answer.
        for te in [" chunked", "\tchunked", "CHUNKED"] {
            let smuggled = "GET /b.txt HTTP/1.1\r\nHost: x\r\n\r\n";
            let raw = format!(
                "GET /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:{te}\r\n\r\n{:x}\r\n{smuggled}\r\n0\r\n\r\n",
                smuggled.len()
            );
            let out = server.exchange(raw.as_bytes());
            let text = String::from_utf8_lossy(&out);
            assert_eq!(count_responses(&out), 1, "{te:?}: {text}");
            assert!(text.contains("hello from a"), "{te:?}: {text}");
            assert!(!text.contains("hello from b"), "{te:?}: {text}");
            assert!(text.contains("Connection: close\r\n"), "{te:?}: {text}");
        }
    }
}

#[test]
fn over_long_methods_and_field_lines() {
    let site = site();
    let server = Server::start(&site.root, &[]);
    // RFC 9112 §3.1: a method longer than any we implement is a 501.
    let method = format!("{} /a.txt HTTP/1.1\r\nHost: x\r\n\r\n", "GET".repeat(2000));
    assert_rejected_and_closed(&server, method.as_bytes(), 501);
    drop(server);
    for (_handler, server) in Server::each_handler(&site.root, &[]) {
        // One field line over 8 KiB (name or value), inside the 16 KiB head: 431.
        let name = format!(
            "GET /a.txt HTTP/1.1\r\nHost: x\r\n{}: v\r\n\r\n",
            "N".repeat(9000)
        );
        assert_rejected_and_closed(&server, name.as_bytes(), 431);
        let value = format!(
            "GET /a.txt HTTP/1.1\r\nHost: x\r\nX: {}\r\n\r\n",
            "v".repeat(9000)
        );
        assert_rejected_and_closed(&server, value.as_bytes(), 431);
        // Just under the limit is fine.
        let fits = format!(
            "GET /a.txt HTTP/1.1\r\nHost: x\r\nX: {}\r\nConnection: close\r\n\r\n",
            "v".repeat(8000)
        );
        let out = server.exchange(fits.as_bytes());
        assert!(String::from_utf8_lossy(&out).starts_with("HTTP/1.1 200 "));
    }
}

#[test]
fn bare_lf_requests_are_served_and_nothing_follows_a_rejected_one() {
    let site = site();
    for (_handler, server) in Server::each_handler(&site.root, &[]) {
        // RFC 9112 §2.2 lets a server accept a bare LF as the line end.
        let mut client = server.connect();
        client.send(b"GET /a.txt HTTP/1.1\nHost: x\n\nGET /b.txt HTTP/1.1\nHost: x\n\n");
        assert_eq!(client.response(false).body, b"hello from a\n");
        assert_eq!(client.response(false).body, b"hello from b\n");
        // Pipelined behind a request that is refused, even a valid request is never served.
        let out = server.exchange(
            b"GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n\
              GET /b.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /b.txt HTTP/1.1\r\nHost: x\r\n\r\n",
        );
        assert_eq!(count_responses(&out), 1);
        assert!(!String::from_utf8_lossy(&out).contains("hello from b"));
    }
}
