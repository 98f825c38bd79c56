//! The handler deadline is a wall-clock deadline, over the real binary: a handler
//! stalled inside WASI — sleeping, blocked on a clock pollable, opening a FIFO that has
//! no writer — where no wasm runs for an epoch deadline to interrupt, is abandoned at
//! `--handler-timeout`: its client gets the host's 500 promptly, the access log and the
//! metrics count it, and other requests are served meanwhile. One instance cannot hold
//! more WASI resources than `--handler-descriptors`, even where the process could open
//! more; a stalled mount does not stall the others; and a swap whose check stalls is
//! refused at `--swap-check-timeout`, freeing the way for the next swap. A handler
//! without WASI whose start-up is slow (tests/fixtures/slowstart) is started again on a
//! fiber when its synchronous start meets the epoch, and the deadline still bounds it.
//!
//! Each case runs against the Rust stalling fixture (tests/fixtures/stalling) and the
//! Python fixture (tests/fixtures/python, built by `guest/build-handlers`), which stall on
//! the same paths.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{NAIVE_WASM, SLOWSTART_WASM, STALLING_WASM, Server, scrape, site, value, write};

/// The paths on which both fixtures stall, and how many of each are sent at once.
const STALLS: [&str; 3] = ["/sleep", "/poll-clock", "/fifo"];
const EACH: usize = 3;
/// A stalled request must be answered well within this (its deadline is 500 ms; the
/// stalls last 60 s).
const PROMPT_500: Duration = Duration::from_secs(10);
/// A request that does not stall must be answered within this while others stall.
const PROMPT_200: Duration = Duration::from_secs(2);
/// How long `timed_get` waits for an answer at most.
const GIVE_UP: Duration = Duration::from_secs(20);

/// Which handler a server runs: the Rust stalling fixture or the Python fixture.
#[derive(Clone, Copy, Debug)]
enum Fixture {
    Rust,
    Python,
}

impl Fixture {
    fn start(self, root: &Path, args: &[&str]) -> Server {
        match self {
            Fixture::Rust => {
                let mut all = vec!["--handler", STALLING_WASM];
                all.extend_from_slice(args);
                Server::start(root, &all)
            }
            Fixture::Python => common::start_built(root, "python-fixture", args),
        }
    }
}

/// A site whose root has a FIFO, `fifo`, that nobody writes to.
fn site_with_fifo() -> common::Site {
    let site = site();
    let fifo = site.root.join("fifo");
    let status = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(status.success(), "mkfifo {}", fifo.display());
    site
}

/// What one GET on a fresh connection got: the status (`None`: no answer within
/// `GIVE_UP`), the whole answer as text, and how long it took.
struct Timed {
    path: String,
    status: Option<u16>,
    text: String,
    took: Duration,
}

/// One GET that asks to close, read until the server closes (or `GIVE_UP` passes).
fn timed_get(addr: SocketAddr, path: &str) -> Timed {
    let started = Instant::now();
    let mut stream = TcpStream::connect(addr).expect("cannot connect");
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .unwrap();
    let mut answer = Vec::new();
    let mut chunk = [0u8; 16384];
    loop {
        let left = GIVE_UP.saturating_sub(started.elapsed());
        if left.is_zero() {
            break;
        }
        stream.set_read_timeout(Some(left)).unwrap();
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break, // timed out or reset: whatever came is the answer
        }
    }
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok());
    Timed {
        path: path.to_owned(),
        status,
        text,
        took: started.elapsed(),
    }
}

/// The body of an answer `timed_get` read.
fn body(timed: &Timed) -> &str {
    timed.text.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

/// Sends `count` GETs of each of `paths` at once, each on its own connection in its own
/// thread; returns the threads.
fn in_flight(
    addr: SocketAddr,
    paths: &[&str],
    count: usize,
) -> Vec<std::thread::JoinHandle<Timed>> {
    paths
        .iter()
        .flat_map(|path| std::iter::repeat_n(path.to_string(), count))
        .map(|path| std::thread::spawn(move || timed_get(addr, &path)))
        .collect()
}

/// GETs `path` `times` times one after the other while others stall: each must be
/// answered 200 within `PROMPT_200`. Returns the slowest.
fn served_meanwhile(label: &str, addr: SocketAddr, path: &str, times: usize) -> Duration {
    let mut slowest = Duration::ZERO;
    for _ in 0..times {
        let r = timed_get(addr, path);
        assert_eq!(
            r.status,
            Some(200),
            "{label}: {path} while others stall, after {:?}: {:?}",
            r.took,
            r.text
        );
        assert!(
            r.took < PROMPT_200,
            "{label}: {path} took {:?} while others stall",
            r.took
        );
        slowest = slowest.max(r.took);
    }
    slowest
}

/// Every stalled request got the host's 500 within `PROMPT_500`; prints the times.
fn all_500_promptly(label: &str, stalled: Vec<std::thread::JoinHandle<Timed>>) -> Vec<Timed> {
    let answers: Vec<Timed> = stalled.into_iter().map(|t| t.join().unwrap()).collect();
    for r in &answers {
        eprintln!("{label}: {} → {:?} in {:?}", r.path, r.status, r.took);
    }
    for r in &answers {
        assert!(
            r.status == Some(500) && r.took < PROMPT_500,
            "{label}: {} got {:?} after {:?} (want the host's 500 within {PROMPT_500:?}): {:?}",
            r.path,
            r.status,
            r.took,
            r.text
        );
    }
    answers
}

/// The default (`sandserve`) access-log lines of `GET path` answered `status`.
fn access_lines(log: &str, path: &str, status: u16) -> Vec<String> {
    let needle = format!("\"GET {path} HTTP/1.1\" {status} ");
    log.lines()
        .filter(|line| line.contains(&needle))
        .map(str::to_owned)
        .collect()
}

/// Waits (bounded) until the log has `count` access lines of `GET path` → `status`.
fn wait_for_access_lines(server: &Server, path: &str, status: u16, count: usize) -> Vec<String> {
    let deadline = Instant::now() + common::READ_TIMEOUT;
    loop {
        let lines = access_lines(&server.log(), path, status);
        if lines.len() >= count || Instant::now() > deadline {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `/sleep`, `/poll-clock` and `/fifo`, three of each at once, under `--handler-timeout
/// 500ms`: each gets the host's 500 within seconds, not the 60 s its stall would last,
/// while `/a.txt` is served; each is logged with `deadline` and counted as a timeout.
fn stalls_end_at_the_deadline(fixture: Fixture) {
    let label = format!("{fixture:?}");
    let site = site_with_fifo();
    let server = fixture.start(
        &site.root,
        &["--handler-timeout", "500ms", "--metrics", "127.0.0.1:0"],
    );
    let metrics = server.metrics_addr();
    let before = value(&scrape(metrics), "sandserve_handler_timeouts_total", &[]);
    // Served before anything stalls, to compare with.
    let quiet = served_meanwhile(&label, server.addr, "/a.txt", 1);

    let started = Instant::now();
    let stalled = in_flight(server.addr, &STALLS, EACH);
    std::thread::sleep(Duration::from_millis(100));
    let busy = served_meanwhile(&label, server.addr, "/a.txt", 5);
    let answers = all_500_promptly(&label, stalled);
    eprintln!(
        "{label}: {} stalled requests all answered in {:?}; /a.txt took {quiet:?} alone, \
         at most {busy:?} meanwhile",
        answers.len(),
        started.elapsed()
    );
    // And the server still serves once they are gone.
    served_meanwhile(&label, server.addr, "/a.txt", 2);

    // The access log says which 500s were the deadline's: the default format's line
    // ends with the word `deadline`, and only for those.
    for path in STALLS {
        let lines = wait_for_access_lines(&server, path, 500, EACH);
        assert_eq!(lines.len(), EACH, "{label}: {path}: {}", server.log());
        for line in &lines {
            assert!(line.trim_end().ends_with(" deadline"), "{label}: {line}");
        }
    }
    let served = wait_for_access_lines(&server, "/a.txt", 200, 8);
    assert_eq!(served.len(), 8, "{label}: {}", server.log());
    for line in &served {
        assert!(!line.trim_end().ends_with(" deadline"), "{label}: {line}");
    }
    // The metrics count every one.
    let timeouts = value(&scrape(metrics), "sandserve_handler_timeouts_total", &[]) - before;
    assert!(
        timeouts >= (STALLS.len() * EACH) as f64,
        "{label}: sandserve_handler_timeouts_total moved by {timeouts}"
    );
}

#[test]
fn rust_stalls_end_at_the_deadline() {
    stalls_end_at_the_deadline(Fixture::Rust);
}

#[test]
fn python_stalls_end_at_the_deadline() {
    stalls_end_at_the_deadline(Fixture::Python);
}

/// `--access-log json` says `"deadline": true` for a stalled request's line and
/// `false` for the others.
#[test]
fn the_json_access_log_marks_the_deadline() {
    let site = site();
    let log = site.parent.path().join("access.json");
    let mut server = Fixture::Rust.start(
        &site.root,
        &[
            "--handler-timeout",
            "500ms",
            "--access-log",
            "json",
            "--access-log-file",
            log.to_str().unwrap(),
        ],
    );
    let stalled = timed_get(server.addr, "/sleep");
    assert_eq!(stalled.status, Some(500), "after {:?}", stalled.took);
    assert!(stalled.took < PROMPT_500, "{:?}", stalled.took);
    assert_eq!(timed_get(server.addr, "/a.txt").status, Some(200));
    // SIGTERM, as an operator would: the server writes out its lines.
    server.signal("TERM");
    assert!(server.wait_exit(Duration::from_secs(10)).is_some());
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    for line in &lines {
        let stalled = line["request"] == "GET /sleep HTTP/1.1";
        assert_eq!(line["deadline"], stalled, "{line}");
        assert_eq!(line["status"], if stalled { 500 } else { 200 }, "{line}");
    }
}

/// The server's open-descriptor limit, lowered to `limit` (soft and hard) while it runs,
/// so that a handler opening files without end would exhaust the process without a cap.
fn lower_descriptor_limit(server: &Server, limit: u64) {
    let pid = rustix::process::Pid::from_raw(server.pid() as i32).unwrap();
    let new = rustix::process::Rlimit {
        current: Some(limit),
        maximum: Some(limit),
    };
    rustix::process::prlimit(Some(pid), rustix::process::Resource::Nofile, new)
        .expect("cannot lower the server's descriptor limit");
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", server.pid())).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    assert!(line.contains(&format!(" {limit} ")), "{line}");
}

fn open_descriptors(server: &Server) -> usize {
    std::fs::read_dir(format!("/proc/{}/fd", server.pid())).map_or(0, |dir| dir.count())
}

/// `/open-loop` opens files until an open fails: the cap (`--handler-descriptors`, or its
/// default 128) makes it fail inside the handler — `opened N: …` with N at most the cap,
/// or the host's 500 — long before the process's 512 descriptors run out, and the
/// server keeps serving, during and after.
fn open_loop_is_capped(fixture: Fixture, cap: Option<usize>) {
    let label = format!("{fixture:?}");
    let site = site();
    let cap_text = cap.map(|c| c.to_string());
    let mut args = vec!["--handler-timeout", "5s"];
    if let Some(cap) = &cap_text {
        args.extend(["--handler-descriptors", cap.as_str()]);
    }
    let server = fixture.start(&site.root, &args);
    let cap = cap.unwrap_or(128);
    lower_descriptor_limit(&server, 512);
    let check = |r: &Timed| {
        match r.status {
            Some(200) => {
                let text = body(r);
                let opened: usize = text
                    .strip_prefix("opened ")
                    .and_then(|rest| rest.split(':').next())
                    .and_then(|n| n.parse().ok())
                    .unwrap_or_else(|| panic!("{label}: {text:?}"));
                assert!(opened <= cap, "{label}: {text} (cap {cap})");
                assert!(!text.ends_with(": no error"), "{label}: {text}");
            }
            Some(500) => {}
            other => panic!("{label}: /open-loop got {other:?}: {:?}", r.text),
        }
        eprintln!(
            "{label}: /open-loop → {:?} {:?} in {:?}",
            r.status,
            body(r),
            r.took
        );
    };
    // Alone first: without a cap it would open some 500 files.
    check(&timed_get(server.addr, "/open-loop"));
    // Four at once, and files served meanwhile.
    let loops = in_flight(server.addr, &["/open-loop"], 4);
    let normal = in_flight(server.addr, &["/a.txt"], 20);
    for r in normal.into_iter().map(|t| t.join().unwrap()) {
        assert_eq!(r.status, Some(200), "{label}: {:?}", r.text);
    }
    for r in loops.into_iter().map(|t| t.join().unwrap()) {
        check(&r);
    }
    // Nothing kept: the server serves as before, well inside its limit.
    served_meanwhile(&label, server.addr, "/a.txt", 10);
    let open = open_descriptors(&server);
    eprintln!("{label}: the server holds {open} descriptors after the loops");
    assert!(open < 256, "{label}: {open} descriptors still open");
}

#[test]
fn rust_open_loop_is_capped() {
    open_loop_is_capped(Fixture::Rust, None);
}

#[test]
fn python_open_loop_is_capped_lower() {
    open_loop_is_capped(Fixture::Python, Some(64));
}

/// The stalling fixture mounted at `/stall/` beside the built-in handler: twenty stalled
/// requests there leave `/` answering promptly, and each ends at its deadline.
#[test]
fn a_stalled_mount_does_not_stall_the_others() {
    let site = site();
    let mount = format!("/stall/={STALLING_WASM}");
    let server = Server::start(&site.root, &["--mount", &mount, "--handler-timeout", "3s"]);
    let r = timed_get(server.addr, "/stall/x");
    assert_eq!(body(&r), "stalling fixture", "{:?}", r.text);

    let started = Instant::now();
    let stalled = in_flight(server.addr, &["/stall/sleep"], 20);
    std::thread::sleep(Duration::from_millis(200));
    let slowest = served_meanwhile("mount", server.addr, "/a.txt", 10);
    let meanwhile = started.elapsed();
    assert!(
        meanwhile < Duration::from_secs(3),
        "/a.txt was not served before the stalls ended ({meanwhile:?})"
    );
    let answers = all_500_promptly("mount", stalled);
    eprintln!(
        "mount: 20 stalled; 10 × / served within {meanwhile:?} (slowest {slowest:?}); \
         the stalls ended by {:?} (deadline 3 s)",
        started.elapsed()
    );
    assert_eq!(answers.len(), 20);
    served_meanwhile("mount", server.addr, "/a.txt", 2);
}

/// Drives the admin socket with curl: the HTTP status and the JSON answer.
fn admin_swap(socket: &Path, file: &str) -> (u16, serde_json::Value, Duration) {
    let started = Instant::now();
    let out = Command::new("curl")
        .args([
            "-s",
            "--max-time",
            "120",
            "-w",
            "\n%{http_code}",
            "--unix-socket",
        ])
        .arg(socket)
        .args(["-X", "POST", "--data-binary", file, "http://x/swap"])
        .output()
        .unwrap();
    let took = started.elapsed();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (json, code) = text.rsplit_once('\n').unwrap_or(("", ""));
    let status = code.trim().parse().unwrap_or(0);
    let value = serde_json::from_str(json).unwrap_or(serde_json::Value::String(text.clone()));
    (status, value, took)
}

/// The live handler (the built-in) serves the root's file `sleep` at once; the candidate
/// (the stalling fixture) sleeps 60 s on `/sleep`, under a handler timeout of 2 min. The
/// shadow check replays the recorded `/sleep` requests: it stalls, and
/// `--swap-check-timeout 3s` refuses the swap after about 3 s; meanwhile another swap is
/// refused as busy, and afterwards one is checked and made live.
#[test]
fn a_swap_whose_check_stalls_is_refused_at_the_check_timeout() {
    let site = site();
    write(&site.root, "sleep", "zzz\n");
    let socket = site.parent.path().join("admin.sock");
    let server = Server::start(
        &site.root,
        &[
            "--admin",
            socket.to_str().unwrap(),
            "--handler-timeout",
            "2m",
            "--swap-check-timeout",
            "3s",
        ],
    );
    for path in ["/sleep", "/a.txt", "/sleep", "/sleep"] {
        let r = timed_get(server.addr, path);
        assert_eq!(r.status, Some(200), "{path}: {:?}", r.text);
    }

    let stalling = {
        let socket = socket.clone();
        std::thread::spawn(move || admin_swap(&socket, STALLING_WASM))
    };
    std::thread::sleep(Duration::from_millis(500));
    // While that check runs: the server serves, and a second swap is refused as busy.
    served_meanwhile("swap", server.addr, "/a.txt", 3);
    let (status, busy, _) = admin_swap(&socket, NAIVE_WASM);
    assert_eq!(status, 409, "{busy}");
    assert!(
        busy.to_string().contains("another swap is being checked"),
        "{busy}"
    );

    let (status, report, took) = stalling.join().unwrap();
    eprintln!("swap: the stalling candidate → {status} in {took:?}: {report}");
    assert_eq!(status, 409, "{report}");
    assert_eq!(report["outcome"], "refused", "{report}");
    assert!(
        took < Duration::from_secs(30),
        "the refusal took {took:?} (check timeout 3 s)"
    );
    let r = timed_get(server.addr, "/sleep");
    assert_eq!(
        (r.status, body(&r)),
        (Some(200), "zzz\n"),
        "still the built-in"
    );

    // The check's lock is free again: the next swap is checked, passes and goes live.
    let (status, report, took) = admin_swap(&socket, NAIVE_WASM);
    eprintln!("swap: then naive → {status} in {took:?}");
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["outcome"], "swapped", "{report}");
    assert!(took < Duration::from_secs(30), "{took:?}");
    let r = timed_get(server.addr, "/sleep");
    assert_eq!(r.status, Some(200), "{:?}", r.text);
    assert!(r.text.contains("X-Handler: naive"), "{:?}", r.text);
}

/// A handler without WASI is instantiated synchronously, where the epoch's second tick
/// traps its start. A start that is only slow (the fixture spins tens of milliseconds)
/// is then started again on a fiber and serves; one longer than `--handler-timeout` is
/// stopped by the deadline like any call.
#[test]
fn a_slow_synchronous_start_is_started_again_and_bounded_by_the_deadline() {
    let site = site();
    let patient = Server::start(
        &site.root,
        &["--handler", SLOWSTART_WASM, "--handler-timeout", "10s"],
    );
    for _ in 0..2 {
        let response = patient.get("/x");
        assert_eq!((response.status, response.text()), (200, "started".into()));
    }
    let hasty = Server::start(
        &site.root,
        &["--handler", SLOWSTART_WASM, "--handler-timeout", "30ms"],
    );
    let asked = Instant::now();
    let response = hasty.get("/x");
    assert_eq!(response.status, 500);
    assert!(asked.elapsed() < PROMPT_500, "{:?}", asked.elapsed());
}
