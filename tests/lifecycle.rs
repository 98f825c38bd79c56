//! The process around the requests: command-line errors, slow clients, and graceful
//! shutdown on SIGTERM/SIGINT.

mod common;

use std::time::Duration;

use common::{Client, Server, pattern, refuses, site, write};

/// Runs sandserve expecting it to refuse to start; returns its stderr.
#[test]
fn bad_command_lines_get_one_line_and_exit_1() {
    let site = site();
    let root = site.root.to_str().unwrap();
    let e = refuses(&["--root", "/no/such/dir", "--listen", "127.0.0.1:0"]);
    assert!(e.contains("--root /no/such/dir"), "{e}");
    let e = refuses(&["--root", root, "--listen", "not-an-address"]);
    assert!(e.contains("--listen not-an-address"), "{e}");
    let e = refuses(&[
        "--root",
        root,
        "--handler-memory",
        "1MiB",
        "--handler-keep-resident",
        "2MiB",
    ]);
    assert!(
        e.contains("--handler-keep-resident 2097152: must be at most --handler-memory"),
        "{e}"
    );
    let e = refuses(&["--root", root, "--max-instances", "0"]);
    assert!(e.contains("--max-instances 0: must be 1 to 10000"), "{e}");
    let e = refuses(&[
        "--root",
        root,
        "--max-instances",
        "10",
        "--slot-instances",
        "20",
    ]);
    assert!(e.contains("--slot-instances 20: must be 1 to 10"), "{e}");
    // HTTP/2's limits, each checked as given.
    for (flag, value, said) in [
        (
            "--h2-max-streams",
            "0",
            "--h2-max-streams 0: must be 1 to 1048576",
        ),
        (
            "--h2-max-frame-size",
            "1KiB",
            "--h2-max-frame-size 1024: must be 16KiB to 16MiB",
        ),
        (
            "--h2-max-calls",
            "2000",
            "--h2-max-calls 2000: must be 1 to --max-instances",
        ),
    ] {
        let e = refuses(&["--root", root, flag, value]);
        assert!(e.contains(said), "{flag}: {e}");
    }
    let with_handler = |handler: &str| {
        refuses(&[
            "--root",
            root,
            "--listen",
            "127.0.0.1:0",
            "--handler",
            handler,
        ])
    };
    let garbage = site.parent.path().join("garbage.wasm");
    std::fs::write(&garbage, b"this is not wasm").unwrap();
    let e = with_handler(garbage.to_str().unwrap());
    assert!(e.contains("not a valid component"), "{e}");
    // The handler's export under either contract's name, with a `handle` of other
    // types: refused when it is prepared (the host calls it without checking again).
    // (0.5.0's `handle` takes two parameters, the older ones' one.)
    for (interface, params, seen) in [
        (
            "sandserve:server/handler@0.5.0",
            "i32 i32",
            r#"(param "seen" u32)"#,
        ),
        ("sandserve:server/handler@0.3.0", "i32", ""),
        ("sandserve:server/handler@0.2.0", "i32", ""),
    ] {
        let wat = format!(
            r#"(component
                (core module $m (func (export "f") (param {params}) (result i32) local.get 0))
                (core instance $i (instantiate $m))
                (func $f (param "req" u32) {seen} (result u32) (canon lift (core func $i "f")))
                (instance $h (export "handle" (func $f)))
                (export "{interface}" (instance $h)))"#
        );
        let mistyped = site.parent.path().join("mistyped.wasm");
        std::fs::write(&mistyped, wat::parse_str(&wat).unwrap()).unwrap();
        let e = with_handler(mistyped.to_str().unwrap());
        assert!(
            e.contains("not a handler of the sandserve world: expected `record` found `u32`"),
            "{interface}: {e}"
        );
    }
    // A valid, empty component: it exports no handler.
    let empty = site.parent.path().join("empty.wasm");
    std::fs::write(&empty, b"\0asm\x0d\0\x01\0").unwrap();
    let e = with_handler(empty.to_str().unwrap());
    assert!(
        e.contains("not a handler of the sandserve world: no exported instance"),
        "{e}"
    );
    let e = with_handler("/no/such.wasm");
    assert!(e.contains("--handler /no/such.wasm"), "{e}");
}

#[test]
fn the_compiled_handler_is_cached_and_a_bad_entry_is_ignored() {
    let site = site();
    let cache = site.parent.path().join("cache");
    let cache_arg = cache.to_str().unwrap();
    let first = Server::start(&site.root, &["--cache-dir", cache_arg]);
    assert!(
        first.log().contains("handler compiled in"),
        "{}",
        first.log()
    );
    drop(first);
    // One entry: the compiled code, and its checksum beside it (and `forms/`, the
    // compressed forms' own folder).
    let mut entries: Vec<_> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !p.ends_with("forms"))
        .collect();
    entries.sort();
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert_eq!(entries[0].extension().unwrap(), "cwasm", "{entries:?}");
    assert_eq!(entries[1], entries[0].with_extension("sha256"));
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&cache).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o700);

    let second = Server::start(&site.root, &["--cache-dir", cache_arg]);
    assert!(
        second.log().contains("handler loaded from the cache"),
        "{}",
        second.log()
    );
    assert_eq!(second.get("/a.txt").body, b"hello from a\n");
    drop(second);

    // A corrupted entry is a miss: the handler is compiled again and serves correctly.
    let mut bytes = std::fs::read(&entries[0]).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&entries[0], &bytes).unwrap();
    let third = Server::start(&site.root, &["--cache-dir", cache_arg]);
    assert!(
        third.log().contains("handler compiled in"),
        "{}",
        third.log()
    );
    assert_eq!(third.get("/a.txt").body, b"hello from a\n");
    drop(third);

    // So is an entry without its checksum.
    std::fs::remove_file(&entries[1]).unwrap();
    let again = Server::start(&site.root, &["--cache-dir", cache_arg]);
    assert!(
        again.log().contains("handler compiled in"),
        "{}",
        again.log()
    );
    assert_eq!(again.get("/a.txt").body, b"hello from a\n");
    drop(again);

    // A directory other users can write to is never trusted.
    std::fs::set_permissions(&cache, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let fourth = Server::start(&site.root, &["--cache-dir", cache_arg]);
    assert!(
        fourth.log().contains("handler compiled in"),
        "{}",
        fourth.log()
    );
    assert!(fourth.log().contains("not private"), "{}", fourth.log());
}

#[test]
fn workers_flag_sets_the_thread_count() {
    let site = site();
    for workers in ["1", "3"] {
        let server = Server::start(&site.root, &["--workers", workers]);
        assert!(
            server.log().contains(&format!("with {workers} workers")),
            "{}",
            server.log()
        );
        assert_eq!(server.get("/a.txt").body, b"hello from a\n");
    }
    let e = refuses(&["--root", site.root.to_str().unwrap(), "--workers", "0"]);
    assert!(e.contains("--workers 0"), "{e}");
}

#[test]
fn an_address_in_use_is_a_clean_error() {
    let site = site();
    let server = Server::start(&site.root, &[]);
    let addr = server.addr.to_string();
    let e = refuses(&["--root", site.root.to_str().unwrap(), "--listen", &addr]);
    assert!(e.contains("cannot bind"), "{e}");
}

#[test]
fn a_head_that_never_completes_is_closed_after_the_timeout() {
    let site = site();
    let server = Server::start(&site.root, &["--header-timeout", "1"]);
    let mut client = server.connect();
    client.send(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n");
    // The read timeout (10 s) would fail the test if the server kept waiting.
    assert!(client.read_to_close().is_empty());
    // An idle connection that sends nothing is closed too.
    let mut idle = server.connect();
    assert!(idle.read_to_close().is_empty());
}

#[test]
fn shutdown_lets_an_in_flight_response_finish_and_exits_0() {
    let site = site();
    let big = pattern(32 << 20);
    write(&site.root, "big.bin", &big);
    let mut server = Server::start(&site.root, &[]);
    let idle = server.connect();
    let mut client = server.connect();
    // Don't read yet: the response stalls in the socket buffers, in flight.
    client.send(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
    std::thread::sleep(Duration::from_millis(300));
    server.signal("TERM");
    // New connections are refused once the listener is closed (waiting, bounded, for
    // the signal to be handled on a busy machine).
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while std::net::TcpStream::connect(server.addr).is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "still accepting after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let r = client.response(false);
    assert!(r.body == big, "the in-flight response was cut short");
    assert!(client.closed(), "connection should close after shutdown");
    let status = server
        .wait_exit(Duration::from_secs(10))
        .expect("did not exit");
    assert!(status.success(), "{status}");
    drop(idle);
}

#[test]
fn sigint_stops_an_idle_server() {
    let site = site();
    let mut server = Server::start(&site.root, &[]);
    let mut idle: Client = server.connect();
    server.signal("INT");
    assert!(idle.closed(), "idle keep-alive connection should be closed");
    let status = server
        .wait_exit(Duration::from_secs(10))
        .expect("did not exit");
    assert!(status.success(), "{status}");
}
