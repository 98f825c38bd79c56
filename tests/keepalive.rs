//! Persistent connections by HTTP/1.1 and HTTP/1.0 rules, `Connection: close`, and
//! pipelined requests answered in order. These are the host's rules, so each holds
//! behind the naive fixture (which never closes) as behind the built-in handler.

mod common;

use common::{Server, site};

#[test]
fn http_1_1_keeps_the_connection_open() {
    let site = site();
    for (_handler, server) in Server::each_handler(&site.root, &[]) {
        let mut client = server.connect();
        for _ in 0..3 {
            client.send(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
            let r = client.response(false);
            assert_eq!(r.body, b"hello from a\n");
            assert_eq!(r.header("connection"), None);
        }
    }
}

#[test]
fn connection_close_is_honoured() {
    let site = site();
    for (_handler, server) in Server::each_handler(&site.root, &[]) {
        let mut client = server.connect();
        client.send(b"GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let r = client.response(false);
        assert_eq!(r.header("connection"), Some("close"));
        assert!(client.closed());
    }
}

#[test]
fn http_1_0_closes_unless_asked_to_keep_alive() {
    let site = site();
    for (_handler, server) in Server::each_handler(&site.root, &[]) {
        let mut client = server.connect();
        client.send(b"GET /a.txt HTTP/1.0\r\n\r\n");
        let r = client.response(false);
        assert_eq!(r.body, b"hello from a\n");
        assert!(client.closed());

        let mut client = server.connect();
        client.send(b"GET /a.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        let r = client.response(false);
        assert_eq!(r.header("connection"), Some("keep-alive"));
        client.send(b"GET /b.txt HTTP/1.0\r\n\r\n");
        assert_eq!(client.response(false).body, b"hello from b\n");
        assert!(client.closed());
    }
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let site = site();
    for (_handler, server) in Server::each_handler(&site.root, &[]) {
        let mut client = server.connect();
        let mut batch = Vec::new();
        let paths = ["/a.txt", "/b.txt", "/missing", "/docs/guide.txt", "/a.txt"];
        for path in paths {
            batch.extend_from_slice(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
        }
        batch.extend_from_slice(b"HEAD /b.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /b.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        client.send(&batch);
        let expect: [(u16, &[u8]); 5] = [
            (200, b"hello from a\n"),
            (200, b"hello from b\n"),
            (404, b"<!doctype html><title>custom 404</title>\n"),
            (200, b"guide\n"),
            (200, b"hello from a\n"),
        ];
        for (status, body) in expect {
            let r = client.response(false);
            assert_eq!((r.status, r.body.as_slice()), (status, body));
        }
        let head = client.response(true);
        assert_eq!(head.header("content-length"), Some("13"));
        assert_eq!(client.response(false).body, b"hello from b\n");
        assert!(client.closed());
    }
}

#[test]
fn a_request_split_across_many_writes_is_framed() {
    let site = site();
    for (_handler, server) in Server::each_handler(&site.root, &[]) {
        let mut client = server.connect();
        for byte in b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n" {
            client.send(&[*byte]);
        }
        assert_eq!(client.response(false).body, b"hello from a\n");
    }
}
