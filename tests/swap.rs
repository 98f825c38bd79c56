//! Hot swap over the real binary: `sandserve swap|rollback|status` against a running
//! server's admin socket, swaps under load, refusals, forced swaps rolled back by the
//! watch, SIGHUP and `--watch`, and the admin socket's own safety.

mod common;

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{BIN, BUILT_IN_WASM, HOSTILE_WASM, Server, TRAPPING_WASM, admin, site};
use serde_json::Value;

const BUILT_IN_BODY: &[u8] = b"hello from a\n";
const HOSTILE_BODY: &[u8] = b"hostile fixture saw /a.txt\n";

/// The 0.3.0 fixture, which calls `root`.
const PROBER_WASM: &str = env!("SANDSERVE_PROBER_WASM");

/// A server with an admin socket in the site's parent directory.
fn with_admin(site: &common::Site, args: &[&str]) -> (Server, PathBuf) {
    let admin = site.parent.path().join("admin.sock");
    let mut all = vec!["--admin", admin.to_str().unwrap()];
    all.extend_from_slice(args);
    (Server::start(&site.root, &all), admin)
}

fn rustix_uid_is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn swap(socket: &Path, file: &str) -> Output {
    admin(socket, &["swap", file])
}

fn status(socket: &Path) -> Value {
    let out = admin(socket, &["status", "--json"]);
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).expect("status --json is JSON")
}

/// A few requests, so that the shadow check has something to replay.
fn warm_up(server: &Server) {
    for path in ["/a.txt", "/b.txt", "/missing", "/docs/"] {
        server.get(path);
    }
}

#[test]
fn swaps_under_load_lose_no_request() {
    let site = site();
    // Each of the 32 connections stays open for the whole run.
    let (server, socket) = with_admin(&site, &["--quiet", "--max-requests", "100000000"]);
    warm_up(&server);
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
    let clients: Vec<_> = (0..32)
        .map(|_| {
            let (stop, seen, addr) = (stop.clone(), seen.clone(), server.addr);
            std::thread::spawn(move || {
                let mut client = common::Client::connect(addr);
                let mut served = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    client.send(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
                    let r = client.response(false);
                    assert_eq!(r.status, 200, "{}", r.head);
                    // Every answer is wholly one version's: its body and its fields.
                    if r.body == BUILT_IN_BODY {
                        assert_eq!(r.header("server"), Some("sandserve"), "{}", r.head);
                        seen[0].fetch_add(1, Ordering::Relaxed);
                    } else {
                        assert_eq!(r.body, HOSTILE_BODY, "{}", r.head);
                        assert_eq!(r.header("server"), None, "{}", r.head);
                        seen[1].fetch_add(1, Ordering::Relaxed);
                    }
                    served += 1;
                }
                served
            })
        })
        .collect();
    let started = Instant::now();
    let mut swaps = 0;
    while started.elapsed() < Duration::from_secs(10) || swaps < 40 {
        let file = if swaps % 2 == 0 {
            HOSTILE_WASM
        } else {
            BUILT_IN_WASM
        };
        let out = swap(&socket, file);
        assert!(out.status.success(), "{}", stdout(&out));
        assert!(stdout(&out).starts_with("swapped: "), "{}", stdout(&out));
        swaps += 1;
    }
    stop.store(true, Ordering::Relaxed);
    let served: u64 = clients.into_iter().map(|c| c.join().unwrap()).sum();
    let (a, b) = (
        seen[0].load(Ordering::Relaxed),
        seen[1].load(Ordering::Relaxed),
    );
    eprintln!("{swaps} swaps, {served} responses: {a} built-in, {b} fixture");
    assert!(swaps >= 40 && a > 0 && b > 0, "{swaps} swaps, {a} / {b}");
    assert_eq!(a + b, served);
    assert!(
        !server.log().contains("connection error"),
        "{}",
        server.log()
    );
}

#[test]
fn bad_candidates_are_refused_and_a_forced_one_is_rolled_back() {
    let site = site();
    let (server, socket) = with_admin(&site, &[]);
    warm_up(&server);
    let garbage = site.parent.path().join("garbage.wasm");
    std::fs::write(&garbage, b"this is not wasm").unwrap();
    let empty = site.parent.path().join("empty.wasm");
    std::fs::write(&empty, b"\0asm\x0d\0\x01\0").unwrap();
    for (file, reason) in [
        (garbage.to_str().unwrap(), "not a valid component"),
        (
            empty.to_str().unwrap(),
            "not a handler of the sandserve world",
        ),
        ("/no/such.wasm", "cannot read /no/such.wasm"),
        (TRAPPING_WASM, "the candidate failed 3 of"),
    ] {
        let out = swap(&socket, file);
        assert_eq!(out.status.code(), Some(1), "{file}: {}", stdout(&out));
        assert!(stdout(&out).starts_with("refused: "), "{}", stdout(&out));
        assert!(stdout(&out).contains(reason), "{reason}: {}", stdout(&out));
        assert_eq!(server.get("/a.txt").body, BUILT_IN_BODY);
    }
    // The report shows what the candidate would have changed.
    let out = swap(&socket, TRAPPING_WASM);
    assert!(
        stdout(&out).contains("status 200 → 500 (the handler failed"),
        "{}",
        stdout(&out)
    );
    // Forced in, it fails every request; the watch brings the built-in handler back.
    let out = admin(&socket, &["swap", "--force", TRAPPING_WASM]);
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("forced: the candidate failed"),
        "{}",
        stdout(&out)
    );
    let mut failed = 0;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = server.get("/a.txt");
        if r.status == 200 {
            assert_eq!(r.body, BUILT_IN_BODY);
            break;
        }
        assert_eq!(r.status, 500);
        failed += 1;
        assert!(
            Instant::now() < deadline,
            "no rollback after {failed} failures"
        );
    }
    assert!(
        (20..=25).contains(&failed),
        "rolled back after {failed} failures"
    );
    let log = server.wait_for_log("automatic rollback");
    assert!(log.contains("automatic rollback of --handler: "), "{log}");
    assert_eq!(status(&socket)["live"]["source"], "built-in");
}

#[test]
fn no_rollback_when_the_previous_version_failed_as_much() {
    let site = site();
    let (server, socket) = with_admin(&site, &["--handler", TRAPPING_WASM]);
    for _ in 0..20 {
        assert_eq!(server.get("/a.txt").status, 500);
    }
    // Another build of the same trapping handler (a custom section appended).
    let other = site.parent.path().join("trapping2.wasm");
    let mut bytes = std::fs::read(TRAPPING_WASM).unwrap();
    bytes.extend_from_slice(b"\x00\x06\x05other");
    std::fs::write(&other, bytes).unwrap();
    let out = admin(&socket, &["swap", other.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stdout(&out));
    for _ in 0..40 {
        assert_eq!(server.get("/a.txt").status, 500);
    }
    assert_eq!(status(&socket)["live"]["source"], other.to_str().unwrap());
    assert!(!server.log().contains("automatic rollback"));
}

#[test]
fn status_and_rollback() {
    let site = site();
    let (server, socket) = with_admin(&site, &[]);
    warm_up(&server);
    let before = status(&socket);
    assert_eq!(before["live"]["source"], "built-in");
    assert!(before["kept"].as_array().unwrap().is_empty());
    assert!(before["last_swap"].is_null());
    let built_in_sha = before["live"]["sha256"].as_str().unwrap().to_owned();

    let out = swap(&socket, HOSTILE_WASM);
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("4 requests replayed"),
        "{}",
        stdout(&out)
    );
    assert_eq!(server.get("/a.txt").body, HOSTILE_BODY);
    let after = status(&socket);
    let sha = sandserve::versions::swap::sha256(&std::fs::read(HOSTILE_WASM).unwrap());
    assert_eq!(after["live"]["sha256"], sha.as_str());
    assert_eq!(after["live"]["source"], HOSTILE_WASM);
    assert_eq!(after["live"]["requests"], 1);
    assert_eq!(after["kept"][0]["sha256"], built_in_sha.as_str());
    assert_eq!(after["last_swap"]["outcome"], "swapped");
    assert_eq!(after["last_swap"]["replayed"], 4);
    assert!(after["last_swap"]["differing"].as_u64().unwrap() >= 3);
    // The same bytes again: a no-op that says so.
    let out = swap(&socket, HOSTILE_WASM);
    assert!(stdout(&out).starts_with("unchanged: "), "{}", stdout(&out));
    // The text form names the live version by its short hash.
    let text = stdout(&admin(&socket, &["status"]));
    assert!(
        text.starts_with(&format!("live: {} ", &sha[..12])),
        "{text}"
    );

    let out = admin(&socket, &["rollback"]);
    assert!(out.status.success(), "{}", stdout(&out));
    assert_eq!(server.get("/a.txt").body, BUILT_IN_BODY);
    assert_eq!(status(&socket)["live"]["sha256"], built_in_sha.as_str());
    let out = admin(&socket, &["rollback"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("no previous version"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn sighup_and_watch_re_read_the_handler_file() {
    let site = site();
    let handler = site.parent.path().join("handler.wasm");
    std::fs::copy(BUILT_IN_WASM, &handler).unwrap();
    let handler_arg = handler.to_str().unwrap();

    let server = Server::start(&site.root, &["--handler", handler_arg]);
    assert_eq!(server.get("/a.txt").body, BUILT_IN_BODY);
    std::fs::copy(HOSTILE_WASM, &handler).unwrap();
    server.signal("HUP");
    server.wait_for_log("swapped");
    assert_eq!(server.get("/a.txt").body, HOSTILE_BODY);
    server.signal("HUP");
    assert!(server.wait_for_log("unchanged").contains("unchanged"));
    // The file gone between the signal and the read: refused, still serving.
    std::fs::remove_file(&handler).unwrap();
    server.signal("HUP");
    assert!(server.wait_for_log("refused").contains("cannot read"));
    assert_eq!(server.get("/a.txt").body, HOSTILE_BODY);
    drop(server);

    // --watch: an atomic rename over the file, as a build would do it.
    std::fs::copy(BUILT_IN_WASM, &handler).unwrap();
    let server = Server::start(&site.root, &["--handler", handler_arg, "--watch"]);
    let next = site.parent.path().join("handler.wasm.new");
    std::fs::copy(HOSTILE_WASM, &next).unwrap();
    std::fs::rename(&next, &handler).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.get("/a.txt").body != HOSTILE_BODY {
        assert!(
            Instant::now() < deadline,
            "--watch did not swap: {}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // And an in-place rewrite back.
    std::fs::copy(BUILT_IN_WASM, &handler).unwrap();
    while server.get("/a.txt").body != BUILT_IN_BODY {
        assert!(
            Instant::now() < deadline,
            "--watch did not swap: {}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_admin_socket_is_private_and_not_taken_twice() {
    let site = site();
    let (server, socket) = with_admin(&site, &[]);
    let meta = std::fs::metadata(&socket).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    // A second server started on the same path: exit 1, one line on stderr.
    let refused = |path: &Path| {
        let out = Command::new(BIN)
            .args(["--root", site.root.to_str().unwrap()])
            .args(["--listen", "127.0.0.1:0", "--admin", path.to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        stderr
    };
    // It cannot take a live socket, nor a path that is not a socket.
    let e = refused(&socket);
    assert!(e.contains("another server is listening on it"), "{e}");
    let file = site.parent.path().join("plain");
    std::fs::write(&file, b"x").unwrap();
    assert!(refused(&file).contains("is not a socket"));
    // A client that sends garbage gets a 400; one that stalls does not hold up others.
    use std::io::{Read, Write};
    let mut stalled = std::os::unix::net::UnixStream::connect(&socket).unwrap();
    stalled.write_all(b"GET /sta").unwrap();
    let mut garbage = std::os::unix::net::UnixStream::connect(&socket).unwrap();
    garbage.write_all(b"\x01\x02 not http\r\n\r\n").unwrap();
    let mut answer = String::new();
    garbage.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    assert_eq!(status(&socket)["live"]["source"], "built-in");
    // The server itself refuses a relative path (its working directory is not the
    // client's), whatever a client sends.
    let mut relative = std::os::unix::net::UnixStream::connect(&socket).unwrap();
    relative
        .write_all(b"POST /swap HTTP/1.1\r\nContent-Length: 11\r\n\r\nx/ybad.wasm")
        .unwrap();
    let mut answer = String::new();
    relative.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    assert!(answer.contains("absolute path"), "{answer}");
    assert_eq!(server.get("/a.txt").body, BUILT_IN_BODY);
    drop(stalled);
    // Eight stalled clients fill the admin slots; they are cut off after 10 s, and the
    // next client is then served.
    let stalled: Vec<_> = (0..8)
        .map(|_| {
            let mut s = std::os::unix::net::UnixStream::connect(&socket).unwrap();
            s.write_all(b"GET /sta").unwrap();
            s
        })
        .collect();
    assert_eq!(status(&socket)["live"]["source"], "built-in");
    drop(stalled);
    // Another user is refused even if the socket's mode let it in: the peer's uid is
    // checked too. (Run as nobody, with the socket and its directory opened up.)
    if rustix_uid_is_root() {
        let dir = socket.parent().unwrap();
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o666)).unwrap();
        let out = Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "curl",
                "-s",
            ])
            .args([
                "--unix-socket",
                socket.to_str().unwrap(),
                "http://admin/status",
            ])
            .output()
            .unwrap();
        let body = String::from_utf8_lossy(&out.stdout);
        assert!(body.contains("not the server's user"), "{body} {out:?}");
        std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    // When the server stops, its socket goes with it, and a stale one is reused.
    drop(server);
    assert!(socket.exists(), "a killed server leaves its socket behind");
    let (server, _) = with_admin(&site, &[]);
    assert_eq!(server.get("/a.txt").body, BUILT_IN_BODY);
}

#[test]
fn swaps_between_every_contract_every_way() {
    let site = site();
    let (server, socket) = with_admin(&site, &[]);
    warm_up(&server);
    let contract = |socket: &Path| {
        let live = &status(socket)["live"];
        (
            live["contract"].as_str().map(str::to_owned),
            live["wasi"].as_bool(),
        )
    };
    assert_eq!(contract(&socket), (Some("0.5.0".into()), Some(false)));

    // 0.5.0 → 0.2.0 (the naive fixture, through WASI).
    let out = swap(&socket, common::NAIVE_WASM);
    assert!(out.status.success(), "{}", stdout(&out));
    let response = server.get("/a.txt");
    assert_eq!(response.header("x-handler"), Some("naive"));
    assert_eq!(response.body, BUILT_IN_BODY);
    assert_eq!(contract(&socket), (Some("0.2.0".into()), Some(true)));

    // 0.2.0 → 0.3.0 (the prober, through `root` calls).
    let out = swap(&socket, PROBER_WASM);
    assert!(out.status.success(), "{}", stdout(&out));
    let response = server.get("/read?a.txt");
    assert_eq!(
        response.text(),
        format!("ok {}", String::from_utf8_lossy(BUILT_IN_BODY))
    );
    assert_eq!(contract(&socket), (Some("0.3.0".into()), Some(false)));

    // 0.3.0 → 0.4.0 (the looker fixture, through looks).
    let out = swap(&socket, env!("SANDSERVE_LOOKER_WASM"));
    assert!(out.status.success(), "{}", stdout(&out));
    let response = server.get("/look?a.txt");
    assert_eq!(response.text(), format!("ok file {}", BUILT_IN_BODY.len()));
    assert_eq!(contract(&socket), (Some("0.4.0".into()), Some(false)));

    // 0.4.0 → 0.5.0 (the built-in handler, through looks).
    let out = swap(&socket, BUILT_IN_WASM);
    assert!(out.status.success(), "{}", stdout(&out));
    let response = server.get("/a.txt");
    assert_eq!(response.header("x-handler"), None);
    assert_eq!(response.body, BUILT_IN_BODY);
    assert_eq!(contract(&socket), (Some("0.5.0".into()), Some(false)));
    // The text form names the contract too.
    let text = stdout(&admin(&socket, &["status"]));
    assert!(text.contains("(sandserve:server@0.5.0; since"), "{text}");

    // And 0.5.0 → 0.3.0 → 0.4.0 → 0.2.0 → 0.5.0 the other way round.
    for (file, version) in [
        (PROBER_WASM, "0.3.0"),
        (env!("SANDSERVE_LOOKER_WASM"), "0.4.0"),
        (common::NAIVE_WASM, "0.2.0"),
        (BUILT_IN_WASM, "0.5.0"),
    ] {
        let out = swap(&socket, file);
        assert!(out.status.success(), "{version}: {}", stdout(&out));
        assert_eq!(contract(&socket).0.as_deref(), Some(version));
    }
    assert_eq!(server.get("/a.txt").body, BUILT_IN_BODY);
}
