//! The seed server's logic in Python (`guest/python/seed.py`, built by
//! `guest/build-handlers`) over the real binary: the seed's behaviours — 200 for a file,
//! 404 with the root's `404.html`, 403 `ForForForbid` for a short User-Agent with the
//! rule on, none with it off — and what the seed got wrong, done right.

mod common;

use common::{FIREFOX_UA, SECRET, Server, site, write};

const SEED: &str = "seed-python";

fn get(server: &Server, path: &str, user_agent: &str) -> common::Response {
    server.request(&format!(
        "GET {path} HTTP/1.1\r\nHost: x\r\nUser-Agent: {user_agent}\r\nConnection: close\r\n\r\n"
    ))
}

#[test]
fn the_seed_behaviours_with_the_rule_on_and_off() {
    let site = site();
    let on = common::start_built(&site.root, SEED, &["--min-user-agent-len", "60"]);
    let off = common::start_built(&site.root, SEED, &[]);
    let page_404 = std::fs::read(site.root.join("404.html")).unwrap();

    // Rule on: a short User-Agent, or none, is 403 with the seed's body.
    for raw in [
        "GET /a.txt HTTP/1.1\r\nHost: x\r\nUser-Agent: curl/8\r\nConnection: close\r\n\r\n",
        "GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    ] {
        let r = on.request(raw);
        assert_eq!(r.status, 403, "{raw:?}: {}", r.head);
        assert_eq!(r.body, b"ForForForbid");
    }
    // Firefox's `rv:` no longer cuts its User-Agent short.
    let r = get(&on, "/a.txt", FIREFOX_UA);
    assert_eq!(
        (r.status, r.body.as_slice()),
        (200, &b"hello from a\n"[..]),
        "{}",
        r.head
    );
    let r = get(&on, "/missing.html", FIREFOX_UA);
    assert_eq!(r.status, 404);
    assert_eq!(r.body, page_404);

    // Rule off: the same short User-Agent is served.
    let r = get(&off, "/a.txt", "curl/8");
    assert_eq!(r.status, 200, "{}", r.head);
    assert_eq!(r.body, b"hello from a\n");
    assert_eq!(r.header("content-length"), Some("13"));
    assert!(r.header("date").is_some(), "{}", r.head);
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    let r = get(&off, "/", "curl/8");
    assert_eq!(r.status, 200);
    assert!(r.text().contains("<h1>home</h1>"), "{}", r.text());
    let r = get(&off, "/nope", "curl/8");
    assert_eq!((r.status, r.body.clone()), (404, page_404.clone()));
}

#[test]
fn what_the_seed_got_wrong_is_done_right() {
    let site = site();
    let big = common::pattern(200_000);
    write(&site.root, "big.bin", &big);
    let server = common::start_built(&site.root, SEED, &[]);

    // HEAD: the head with the file's length, no body.
    let mut client = server.connect();
    client.send(b"HEAD /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    let r = client.response(true);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("13"));
    assert!(r.body.is_empty());
    // Keep-alive: the same connection answers again, a large body streamed whole.
    client.send(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
    let r = client.response(false);
    assert_eq!(r.status, 200);
    assert!(r.body == big, "{} bytes", r.body.len());
    // Out of the root, in every spelling: never the secret.
    for target in [
        "/../secret.txt",
        "/docs/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/..%2fsecret.txt",
    ] {
        let r = get(&server, target, "curl/8");
        assert_ne!(r.status, 200, "{target}");
        assert!(!r.text().contains(SECRET), "{target}");
    }
    // A method it does not serve.
    let r = server.request("DELETE /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD"));
}

#[test]
fn dotfiles_are_refused_as_the_built_in_handler_refuses_them() {
    let site = site();
    write(&site.root, ".well-known/security.txt", "Contact: x\n");
    let refusing = common::start_built(&site.root, SEED, &[]);
    let serving = common::start_built(&site.root, SEED, &["--serve-dotfiles"]);
    let built_in = Server::start(&site.root, &[]);

    // Any segment that starts with `.`, percent-encoded or not, existing or not, and
    // `.well-known` too: 403, as the built-in handler answers.
    for target in [
        "/.env",
        "/.git/config",
        "/%2eenv",
        "/%2Egit/config",
        "/docs/.hidden",
        "/.well-known/security.txt",
    ] {
        let seed = get(&refusing, target, "curl/8");
        let ours = get(&built_in, target, "curl/8");
        assert_eq!(
            (seed.status, ours.status),
            (403, 403),
            "{target}: {}",
            seed.head
        );
        assert!(!seed.text().contains("SECRET_ENV"), "{target}");
        assert!(!seed.text().contains("[core]"), "{target}");
    }
    let head = refusing.request("HEAD /.env HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!(head.status, 403);
    assert!(head.body.is_empty());
    // A dot inside a name is not a dotfile.
    write(&site.root, "v1.2/notes.txt", "notes\n");
    assert_eq!(get(&refusing, "/v1.2/notes.txt", "curl/8").status, 200);

    // The policy that allows them (`--serve-dotfiles`): served.
    for (target, body) in [
        ("/.env", &b"SECRET_ENV=1\n"[..]),
        ("/.git/config", b"[core]\n"),
        ("/.well-known/security.txt", b"Contact: x\n"),
    ] {
        let r = get(&serving, target, "curl/8");
        assert_eq!(
            (r.status, r.body.as_slice()),
            (200, body),
            "{target}: {}",
            r.head
        );
    }
    assert_eq!(get(&serving, "/.missing", "curl/8").status, 404);
}
