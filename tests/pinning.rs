//! Nothing a client or a handler can pin, over the real binary: a descriptor limit far
//! below the connection cap (raised at start, connections clamped, accept paused —
//! never a 500), the metrics port's probes past idle clients, `--watch` following the
//! file the configuration names after SIGHUP, the compiled-handler cache's bound, the
//! bytes a cut response really sent, and no free instance as a 503 that is not the
//! handler's failure.

mod common;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{
    BIN, BUILT_IN_WASM, HOSTILE_WASM, NAIVE_WASM, STALLING_WASM, Server, fetch, scrape, site,
    value, write,
};

/// `sandserve --root ROOT --listen 127.0.0.1:0 ARGS` started with the descriptor limit
/// `soft`:`hard`, as `ulimit -n` would leave it.
fn start_limited(root: &Path, soft: u64, hard: u64, args: &[&str]) -> Server {
    let mut command = Command::new(BIN);
    command
        .arg("--root")
        .arg(root)
        .args(["--listen", "127.0.0.1:0", "--no-cache"])
        .args(args);
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        command.pre_exec(move || {
            let limit = rustix::process::Rlimit {
                current: Some(soft),
                maximum: Some(hard),
            };
            rustix::process::setrlimit(rustix::process::Resource::Nofile, limit)
                .map_err(std::io::Error::from)
        });
    }
    Server::spawn(command, root)
}

#[test]
fn the_descriptor_limit_is_raised_and_connections_clamped_to_it() {
    let site = site();
    let server = start_limited(&site.root, 100, 4000, &[]);
    let log = server.wait_for_log("lowered to");
    assert!(
        log.contains("descriptors: soft limit raised from 100 to 4000"),
        "{log}"
    );
    assert!(
        log.contains("--max-connections 10000: lowered to 1872"),
        "{log}"
    );
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", server.pid())).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    assert!(line.contains(" 4000 "), "{line}");
}

/// Soft = hard = 100 and 120 idle clients: before, every descriptor went to a
/// connection and a request on an open one got a 500 (its file could not be opened),
/// counted against the handler. Now the connections are clamped below the limit and
/// the rest wait in the backlog.
#[test]
fn idle_clients_cannot_exhaust_the_descriptors_a_response_needs() {
    let site = site();
    let server = start_limited(&site.root, 100, 100, &[]);
    server.wait_for_log("lowered to 37");
    let mut first = server.connect();
    first.send(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(first.response(false).status, 200);
    let idle: Vec<TcpStream> = (0..120)
        .map(|_| TcpStream::connect(server.addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    for _ in 0..5 {
        first.send(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
        let answer = first.response(false);
        assert_eq!(answer.status, 200, "{}\n{}", answer.text(), server.log());
        assert_eq!(answer.body, b"hello from a\n");
    }
    drop(idle);
    let log = server.log();
    assert!(!log.contains(" 500"), "{log}");
    assert!(log.matches("accept failed").count() == 0, "{log}");
}

/// Before, the port's 8 permits were taken before `accept` and kept through a 10 s
/// read: 8 idle clients kept `/healthz` from answering, and a liveness probe would
/// restart a healthy server.
#[test]
fn healthz_answers_while_idle_clients_hold_the_metrics_port() {
    let site = site();
    let server = Server::start(&site.root, &["--metrics", "127.0.0.1:0"]);
    let addr = server.metrics_addr();
    let idle: Vec<TcpStream> = (0..16).map(|_| TcpStream::connect(addr).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(300));
    for path in ["/healthz", "/readyz"] {
        let started = Instant::now();
        let answer = fetch(addr, "GET", path);
        let took = started.elapsed();
        assert!(answer.starts_with("HTTP/1.1 200 "), "{path}: {answer}");
        assert!(took < Duration::from_millis(1500), "{path} took {took:?}");
    }
    drop(idle);
}

fn admin_status(socket: &Path) -> String {
    let out = common::admin(socket, &["status"]);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Before, `--watch` kept watching the file the server started with: after a SIGHUP
/// whose configuration named another, touching the old one swapped it back in.
#[test]
fn watch_follows_the_file_the_configuration_names_after_sighup() {
    let site = site();
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.wasm"), dir.path().join("b.wasm"));
    std::fs::copy(NAIVE_WASM, &a).unwrap();
    std::fs::copy(BUILT_IN_WASM, &b).unwrap();
    let config = dir.path().join("sandserve.toml");
    std::fs::write(&config, "handler = \"a.wasm\"\n").unwrap();
    let socket = dir.path().join("admin.sock");
    let server = Server::start(
        &site.root,
        &[
            "--config",
            config.to_str().unwrap(),
            "--watch",
            "--admin",
            socket.to_str().unwrap(),
        ],
    );
    assert_eq!(server.get("/a.txt").header("x-handler"), Some("naive"));
    std::fs::write(&config, "handler = \"b.wasm\"\n").unwrap();
    server.signal("HUP");
    let log = server.wait_for_log("b.wasm: swapped");
    assert!(log.contains("b.wasm: swapped"), "{log}");
    assert_eq!(server.get("/a.txt").header("x-handler"), None);
    // The old file changes: nothing happens.
    std::fs::copy(HOSTILE_WASM, &a).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let answer = server.get("/a.txt");
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("x-handler"), None, "{}", server.log());
    assert!(
        !server.log().contains("a.wasm: swapped"),
        "{}",
        server.log()
    );
    // The file named now changes: it is swapped in.
    let temp = dir.path().join("b.wasm.new");
    std::fs::copy(NAIVE_WASM, &temp).unwrap();
    std::fs::rename(&temp, &b).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.get("/a.txt").header("x-handler") != Some("naive") {
        assert!(Instant::now() < deadline, "{}", server.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(admin_status(&socket).contains("b.wasm"));
}

/// The compiled entries in `dir`: name and size.
fn entries(dir: &Path) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = std::fs::read_dir(dir)
        .map(|list| {
            list.filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().ends_with(".cwasm"))
                .map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    (name, e.metadata().unwrap().len())
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Starts and stops a server for `handler` with the cache in `dir`, bounded by `max`;
/// returns the entry it added (if any).
fn cache_once(root: &Path, dir: &Path, handler: &str, max: u64) -> Option<(String, u64)> {
    let before = entries(dir);
    let max = max.to_string();
    let cache = dir.to_str().unwrap();
    let args = [
        "--handler",
        handler,
        "--cache-dir",
        cache,
        "--cache-max",
        &max,
    ];
    let server = Server::start(root, &args);
    assert_eq!(server.get("/a.txt").status, 200, "{}", server.log());
    drop(server);
    entries(dir).into_iter().find(|e| !before.contains(e))
}

/// Before, the cache kept every compiled handler for ever (~35 MB per Python build:
/// a `--watch` edit loop filled the disk). Now it keeps at most `--cache-max` bytes and
/// removes the least recently used entry first.
#[test]
fn the_compile_cache_keeps_its_bound_least_recently_used_out() {
    let site = site();
    let handlers = [NAIVE_WASM, STALLING_WASM, BUILT_IN_WASM];
    let sizes = tempfile::tempdir().unwrap();
    let size: Vec<u64> = handlers
        .iter()
        .map(|h| cache_once(&site.root, sizes.path(), h, 1 << 30).unwrap().1)
        .collect();
    // Room for the last two, not for all three.
    let max = size[1] + size[2];
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let first = cache_once(&site.root, &cache, handlers[0], max).unwrap();
    let second = cache_once(&site.root, &cache, handlers[1], max).unwrap();
    let third = cache_once(&site.root, &cache, handlers[2], max).unwrap();
    let left = entries(&cache);
    assert!(!left.contains(&first), "{left:?}");
    assert!(left.contains(&second) && left.contains(&third), "{left:?}");
    let total: u64 = left.iter().map(|(_, len)| len).sum();
    assert!(total <= max, "{total} > {max}");
    // A hit makes an entry the most recently used: the next new one removes the other.
    assert!(cache_once(&site.root, &cache, handlers[1], max).is_none());
    let again = cache_once(&site.root, &cache, handlers[0], max).unwrap();
    let left = entries(&cache);
    assert!(left.contains(&again) && left.contains(&second), "{left:?}");
    assert!(!left.contains(&third), "{left:?}");
}

/// Before, the access log said a response's full length even when the client stopped
/// reading and `--send-timeout` cut it.
#[test]
fn a_cut_response_is_logged_with_the_bytes_it_sent() {
    let site = site();
    let big = 8 << 20;
    write(&site.root, "big.bin", vec![7u8; big]);
    let server = Server::start(
        &site.root,
        &["--send-timeout", "1s", "--access-log", "json"],
    );
    let socket = socket2_small_buffer(server.addr);
    let mut stream = socket;
    stream
        .write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    // Never read: the server's send times out after a second of no progress.
    let log = server.wait_for_log("GET /big.bin");
    let line = log
        .lines()
        .find(|l| l.contains("GET /big.bin"))
        .unwrap_or_else(|| panic!("no access line:\n{log}"));
    let value: serde_json::Value = serde_json::from_str(line).unwrap();
    let bytes = value["bytes"].as_u64().unwrap();
    assert!(bytes > 0 && bytes < big as u64, "{line}");
    drop(stream);
}

/// A connection whose receive buffer is small, so that the server's sends stall soon.
fn socket2_small_buffer(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    let fd = rustix::fd::AsFd::as_fd(&stream);
    rustix::net::sockopt::set_socket_recv_buffer_size(fd, 4096).unwrap();
    stream
}

/// Before, with every pooled instance taken, instantiation failed, the client got a
/// 500 and the live version was charged a trap (load alone could roll back a good
/// swap). Now the request waits `--instance-wait` for one, then gets 503 with
/// `Retry-After`; nothing is held against the handler. `--slot-instances` makes the
/// pool small enough to fill here.
#[test]
fn no_free_instance_is_a_503_with_retry_after_not_a_trap() {
    let site = site();
    let server = Server::start(
        &site.root,
        &[
            "--handler",
            STALLING_WASM,
            "--handler-timeout",
            "4s",
            "--slot-instances",
            "2",
            "--instance-wait",
            "300ms",
            "--metrics",
            "127.0.0.1:0",
        ],
    );
    let addr = server.addr;
    let sleepers: Vec<_> = (0..2)
        .map(|_| {
            std::thread::spawn(move || {
                let mut client = common::Client::connect(addr);
                client.send(b"GET /sleep HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
                client.response(false).status
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(700));
    let started = Instant::now();
    let answer = server.get("/hello");
    let took = started.elapsed();
    assert_eq!(answer.status, 503, "{}", answer.text());
    assert_eq!(answer.header("retry-after"), Some("1"));
    assert!(took < Duration::from_secs(2), "{took:?}");
    let metrics = scrape(server.metrics_addr());
    assert_eq!(value(&metrics, "sandserve_busy_total", &[]), 1.0);
    assert_eq!(value(&metrics, "sandserve_handler_traps_total", &[]), 0.0);
    for sleeper in sleepers {
        assert_eq!(sleeper.join().unwrap(), 500);
    }
    // Once the instances are back, the slot serves again.
    assert_eq!(server.get("/hello").status, 200);
}
