//! Other handler components: `--handler` runs them, and a handler that traps or
//! answers something the host must not send gets a 500, closes the connection, is
//! logged, and leaves the server serving.

mod common;

use common::{HOSTILE_WASM, SECRET, Server, site};

fn hostile() -> (common::Site, Server) {
    let site = site();
    std::os::unix::fs::symlink(
        site.parent.path().join("secret.txt"),
        site.root.join("out.txt"),
    )
    .unwrap();
    let server = Server::start(&site.root, &["--handler", HOSTILE_WASM]);
    (site, server)
}

#[test]
fn handler_flag_runs_another_component() {
    let (_site, server) = hostile();
    let r = server.get("/hello");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "hostile fixture saw /hello\n");
}

/// `path` must get a 500 that closes the connection, with `reason` in the log; a new
/// connection right after is served normally; and the server's resident memory is back
/// near where it was (within 4 MiB: allocator noise, not a leaked instance).
fn assert_500(server: &Server, path: &str, reason: &str) {
    server.get("/warm-up");
    let before = server.rss_kib();
    let mut client = server.connect();
    client.send(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
    let r = client.response(false);
    assert_eq!(r.status, 500, "{path}: {}", r.head);
    assert_eq!(r.header("connection"), Some("close"));
    assert!(!r.text().contains(SECRET) && !r.text().contains("root:x:0:0"));
    assert!(client.closed(), "{path}: connection left open");
    let log = server.wait_for_log(reason);
    assert!(
        log.contains(reason),
        "{path}: no {reason:?} in the log:\n{log}"
    );
    assert_eq!(server.get("/after").text(), "hostile fixture saw /after\n");
    let after = server.rss_kib();
    assert!(
        after < before + 4096,
        "{path}: resident memory grew from {before} KiB to {after} KiB"
    );
}

#[test]
fn a_trapping_handler_gets_500() {
    let (_site, server) = hostile();
    assert_500(
        &server,
        "/trap",
        "\"GET /trap HTTP/1.1\": 500: the handler failed",
    );
}

#[test]
fn a_file_outside_the_root_gets_500() {
    let (_site, server) = hostile();
    assert_500(&server, "/escape", "not a relative path below the root");
    assert_500(&server, "/absolute", "not a relative path below the root");
    assert_500(
        &server,
        "/file/out.txt",
        "cannot open \"out.txt\" below the root",
    );
    // The same handler may name a file inside the root.
    let r = server.get("/file/a.txt");
    assert_eq!((r.status, r.body.as_slice()), (200, &b"h"[..]));
}

#[test]
fn impossible_bodies_and_malformed_heads_get_500() {
    let (_site, server) = hostile();
    assert_500(&server, "/past-end", "is outside the file's 13 bytes");
    assert_500(&server, "/garbage", "malformed status line");
    assert_500(&server, "/inject", "bare CR or LF");
    assert_500(
        &server,
        "/bad-name",
        "field name \"Bad Name\" is not a token",
    );
    assert_500(
        &server,
        "/short-body",
        "Content-Length 100 does not match the 16-byte body",
    );
}

#[test]
fn a_looping_handler_is_stopped_by_its_deadline() {
    let site = site();
    let server = Server::start(
        &site.root,
        &["--handler", HOSTILE_WASM, "--handler-timeout", "200ms"],
    );
    assert_500(
        &server,
        "/loop",
        "\"GET /loop HTTP/1.1\": 500: the handler failed: wasm trap: interrupt",
    );
}

#[test]
fn a_memory_bomb_is_stopped_at_the_cap_and_its_memory_given_back() {
    let (_site, server) = hostile();
    // The fixture touches 1 MiB after 1 MiB until the 64 MiB cap stops it: each time,
    // 64 MiB were really resident in the host process for a moment.
    for _ in 0..3 {
        assert_500(
            &server,
            "/bomb",
            "forcing trap when growing memory to 67239936 bytes",
        );
    }
    let site = site();
    let small = Server::start(
        &site.root,
        &["--handler", HOSTILE_WASM, "--handler-memory", "8MiB"],
    );
    assert_500(&small, "/bomb", "forcing trap when growing memory to 85");
}

#[test]
fn huge_answers_are_refused_without_keeping_the_memory() {
    let (_site, server) = hostile();
    for _ in 0..3 {
        assert_500(&server, "/huge-inline", "inline body of 33554432 bytes");
    }
    assert_500(&server, "/huge-head", "over the 65536-byte limit");
}

#[test]
fn every_request_gets_a_fresh_instance() {
    let (_site, server) = hostile();
    // On one keep-alive connection and on new ones: a reused instance would count up.
    let mut client = server.connect();
    for _ in 0..3 {
        client.send(b"GET /count HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(
            client.response(false).text(),
            "requests seen by this instance: 1\n"
        );
    }
    assert_eq!(
        server.get("/count").text(),
        "requests seen by this instance: 1\n"
    );
}

#[test]
fn the_sandbox_has_no_environment_no_writes_and_nothing_above_the_root() {
    let (site, server) = hostile();
    assert_eq!(server.get("/env").text(), "environment variables: 0\n");
    let write = server.get("/write").text();
    assert!(write.starts_with("write: refused"), "{write}");
    assert!(!site.root.join("written-by-guest.txt").exists());
    let read = server.get("/read-escape").text();
    assert!(read.starts_with("read-escape: refused"), "{read}");
    assert!(!read.contains(SECRET));
}

#[test]
fn a_looping_handler_does_not_hold_up_other_requests() {
    let site = site();
    // One worker thread, and a deadline long enough to answer others meanwhile.
    let server = Server::start(
        &site.root,
        &[
            "--handler",
            HOSTILE_WASM,
            "--workers",
            "1",
            "--handler-timeout",
            "3s",
        ],
    );
    let mut looping = server.connect();
    looping.send(b"GET /loop HTTP/1.1\r\nHost: x\r\n\r\n");
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert_eq!(server.get("/other").text(), "hostile fixture saw /other\n");
    // Served while the loop still runs: its answer has not come yet.
    looping.stream.set_nonblocking(true).unwrap();
    let mut byte = [0u8; 1];
    let pending = std::io::Read::read(&mut looping.stream, &mut byte);
    assert!(
        matches!(&pending, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the looping request was already answered: {pending:?}"
    );
    looping.stream.set_nonblocking(false).unwrap();
    assert_eq!(looping.response(false).status, 500);
}

#[test]
fn reuse_is_opt_in_and_bounded() {
    let site = site();
    let server = Server::start(
        &site.root,
        &["--handler", HOSTILE_WASM, "--reuse-instances", "3"],
    );
    let mut client = server.connect();
    let mut counts = Vec::new();
    for _ in 0..7 {
        client.send(b"GET /count HTTP/1.1\r\nHost: x\r\n\r\n");
        counts.push(client.response(false).text());
    }
    let seen: Vec<&str> = counts
        .iter()
        .map(|t| t.trim().rsplit(' ').next().unwrap())
        .collect();
    // One request at a time on one connection: the same instance serves three, then a
    // fresh one takes over.
    assert_eq!(seen, ["1", "2", "3", "1", "2", "3", "1"]);
    // An instance that trapped is never reused.
    assert_500(&server, "/trap", "\"GET /trap HTTP/1.1\": 500");
}
