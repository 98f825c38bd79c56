//! The host's request check, rule by rule, on whole heads.

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
    let expect = "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n";
    assert!(head(expect).expects_continue);
}
