//! Slow clients. A real attacker's tool, `slowhttptest` (Debian's package; `.ci/run`
//! installs it; missing is a failure, not a skip), in its slowloris, slow-body and
//! slow-read modes against a server with short timeouts: the service stays available
//! to the tool's own probe and to a plain request from the test, and every connection
//! the tool opens is closed by the server within the timeout that applies to it. And
//! hand-made clients that trickle blank lines, or a request head, which the header
//! timeout must cut off however they space their bytes.

mod common;

use std::fmt::Write as _;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{Client, Server, pattern, site, write};
use prometheus_parse::{Scrape, Value};

/// The server's timeouts in these tests, in seconds.
const HEADER_TIMEOUT: u64 = 2;
const KEEPALIVE_TIMEOUT: u64 = 3;
const SEND_TIMEOUT: u64 = 3;

/// What the server answers within, to a plain request during an attack.
const ANSWER_WITHIN: Duration = Duration::from_secs(2);

/// The attack: connections, the rate they are opened at (so the last opens after 6 s),
/// and the tool's own time limit, in seconds.
const CONNECTIONS: u32 = 300;
const RATE: u32 = 50;
const LENGTH: u64 = 14;

/// Each attack takes the machine's cores for seconds: one at a time.
static ONE_ATTACK: Mutex<()> = Mutex::new(());

fn server_args() -> Vec<String> {
    [
        "--header-timeout",
        &format!("{HEADER_TIMEOUT}s"),
        "--keepalive-timeout",
        &format!("{KEEPALIVE_TIMEOUT}s"),
        "--send-timeout",
        &format!("{SEND_TIMEOUT}s"),
        "--max-connections",
        "400",
        "--metrics",
        "127.0.0.1:0",
        "--quiet",
    ]
    .map(str::to_owned)
    .to_vec()
}

#[test]
fn slowloris_connections_are_closed_after_the_header_timeout() {
    let report = attack(Mode {
        flag: "-H",
        path: "/a.txt",
        extra: &["-i", "1"],
        limit: HEADER_TIMEOUT,
        client_sees_close: true,
    });
    report.assert_all();
}

#[test]
fn slow_bodies_are_not_waited_for() {
    // The tool's POST says `Connection: close`: the server answers at the end of the
    // head, and closes (draining the body for at most 2 s) instead of reading it.
    let report = attack(Mode {
        flag: "-B",
        path: "/a.txt",
        extra: &["-i", "1", "-s", "8192"],
        limit: HEADER_TIMEOUT.max(2),
        client_sees_close: true,
    });
    report.assert_all();
}

#[test]
fn slow_readers_are_dropped_after_the_send_timeout() {
    // A receive window of 16 to 64 bytes, 4 bytes read a second, of a 5 MiB file:
    // the server's socket buffer fills at once and frees too slowly to ever wake it.
    let report = attack(Mode {
        flag: "-X",
        path: "/big.bin",
        extra: &["-w", "16", "-y", "64", "-n", "1", "-z", "4", "-k", "1"],
        limit: SEND_TIMEOUT,
        // The server's FIN waits in its send queue behind bytes the tool reads 4 a
        // second: the tool never sees it, so only the server's gauge can tell.
        client_sees_close: false,
    });
    let needle = format!("took no bytes for {SEND_TIMEOUT}s");
    assert!(
        report.server_log.contains(&needle),
        "no connection went for the send timeout\n{}",
        report.summary()
    );
    report.assert_all();
    // A dropped connection is dropped in the kernel too: no socket the server let go
    // of (on its port, held by no process) keeps the response's unsent bytes for as
    // long as the reader keeps its window ajar. A plain close leaves them queued, up
    // to the send buffer's 4 MiB each, outside --max-connections; a reset frees them.
    let (at, sockets, bytes) = report
        .orphans
        .iter()
        .copied()
        .max_by_key(|(_, _, bytes)| *bytes)
        .unwrap_or_default();
    assert!(
        bytes <= ORPHANED_BYTES,
        "at {at:.1} s, {sockets} sockets the server had dropped still held {bytes} unsent bytes in the kernel\n{}",
        report.summary()
    );
}

/// Unsent bytes that sockets the server has let go of may hold, all together.
const ORPHANED_BYTES: u64 = 4 << 20;

/// One of the tool's modes and what the server must do about it.
struct Mode {
    flag: &'static str,
    path: &'static str,
    extra: &'static [&'static str],
    /// Seconds after which the server must have closed each of the tool's connections.
    limit: u64,
    /// Whether the tool can see the server's close (its CSV then shows it).
    client_sees_close: bool,
}

/// One row of the tool's CSV: each second, how many of its connections are closed,
/// pending (connecting, or the request not yet sent), connected, and whether its probe
/// was answered (the number of connections if so, else 0).
#[derive(Debug, Clone, Copy)]
struct Row {
    second: u64,
    closed: u64,
    pending: u64,
    connected: u64,
    available: u64,
}

impl Row {
    /// The connections the tool has opened by this second.
    fn total(&self) -> u64 {
        self.closed + self.pending + self.connected
    }
}

/// A plain request the test made during the attack: when (s after the tool started),
/// and its status and time, or what went wrong.
type Probe = (f64, Result<(u16, Duration), String>);

struct Report {
    mode: Mode,
    rows: Vec<Row>,
    /// `sandserve_connections_active`, sampled while the tool ran: (s, value).
    gauge: Vec<(f64, f64)>,
    /// Sockets on the server's port that no process holds, and their unsent bytes,
    /// sampled with the gauge: (s, sockets, bytes).
    orphans: Vec<(f64, usize, u64)>,
    probes: Vec<Probe>,
    /// When the tool ended (s), and whether it ended by itself.
    tool_ended: f64,
    tool_finished: bool,
    tool_output: String,
    /// How long after the tool ended the gauge was 0, if it was within the wait.
    drained_after: Option<f64>,
    server_log: String,
}

/// Runs the tool against a fresh server; samples the gauge and makes plain requests
/// meanwhile.
fn attack(mode: Mode) -> Report {
    let _one = ONE_ATTACK.lock().unwrap_or_else(|e| e.into_inner());
    let site = site();
    write(&site.root, "big.bin", pattern(5 << 20));
    let args = server_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Server::start(&site.root, &args);
    let metrics = server.metrics_addr();
    assert_eq!(gauge(metrics), Some(0.0));

    let prefix = site.parent.path().join("attack");
    let output = site.parent.path().join("attack.out");
    let url = format!("http://{}{}", server.addr, mode.path);
    let (connections, rate, length) = (
        CONNECTIONS.to_string(),
        RATE.to_string(),
        LENGTH.to_string(),
    );
    let mut command = Command::new("slowhttptest");
    command
        .arg(mode.flag)
        .args(["-c", &connections, "-r", &rate, "-l", &length, "-p", "2"])
        .args(mode.extra)
        .args(["-u", &url, "-g", "-o"])
        .arg(&prefix)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&output).unwrap())
        .stderr(Stdio::inherit());
    let started = Instant::now();
    let mut tool = command.spawn().unwrap_or_else(|e| {
        panic!("cannot run slowhttptest ({e}): install it (Debian: apt-get install slowhttptest; .ci/run does)")
    });

    let stop = AtomicBool::new(false);
    let port = server.addr.port();
    let mut orphans = Vec::new();
    let (probes, gauge_samples, tool_finished, tool_ended) = std::thread::scope(|scope| {
        let (addr, stop) = (server.addr, &stop);
        let prober = scope.spawn(move || {
            let mut probes = Vec::new();
            // One plain request a second while the tool runs (bounded by its limit).
            for _ in 0..LENGTH + 20 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let at = started.elapsed().as_secs_f64();
                probes.push((at, plain_get(addr, "/a.txt")));
                std::thread::sleep(Duration::from_secs(1));
            }
            probes
        });
        let mut samples = Vec::new();
        let hard_stop = Duration::from_secs(LENGTH + 15);
        let finished = loop {
            if let Some(value) = gauge(metrics) {
                samples.push((started.elapsed().as_secs_f64(), value));
            }
            let (sockets, bytes) = orphaned(port);
            orphans.push((started.elapsed().as_secs_f64(), sockets, bytes));
            if tool.try_wait().unwrap().is_some() {
                break true;
            }
            if started.elapsed() > hard_stop {
                let _ = tool.kill();
                let _ = tool.wait();
                break false;
            }
            std::thread::sleep(Duration::from_millis(250));
        };
        let ended = started.elapsed().as_secs_f64();
        stop.store(true, Ordering::Relaxed);
        (prober.join().unwrap(), samples, finished, ended)
    });

    // Once the tool has gone, its connections are gone from the server too, within the
    // limit (they would have been anyway) and a margin.
    let wait = Duration::from_secs(mode.limit + 2);
    let after = Instant::now();
    let drained_after = loop {
        if gauge(metrics) == Some(0.0) {
            break Some(after.elapsed().as_secs_f64());
        }
        if after.elapsed() > wait {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };

    let csv = std::fs::read_to_string(prefix.with_extension("csv")).unwrap_or_default();
    Report {
        rows: parse_csv(&csv),
        gauge: gauge_samples,
        orphans,
        probes,
        tool_ended,
        tool_finished,
        tool_output: tail(
            &strip_ansi(&std::fs::read_to_string(&output).unwrap_or_default()),
            12,
        ),
        drained_after,
        server_log: server.log(),
        mode,
    }
}

impl Report {
    fn assert_all(&self) {
        let summary = self.summary();
        // Shown with --nocapture, and on a failure.
        println!("{summary}");
        let flag = self.mode.flag;
        assert!(
            self.tool_finished,
            "{flag}: the tool did not end by itself\n{summary}"
        );
        let opened = self.rows.last().map_or(0, Row::total);
        assert!(
            opened >= u64::from(CONNECTIONS) * 9 / 10 && self.rows.len() >= 4,
            "{flag}: the tool opened {opened} of {CONNECTIONS} connections\n{summary}"
        );
        // The tool stops by itself when the server has closed every connection it
        // opened: that it did, soon after it opened the last, says no connection
        // lingered. (Where it cannot see the closes, the gauge below tells.)
        let ramp = u64::from(CONNECTIONS / RATE);
        if self.mode.client_sees_close {
            let by = (ramp + self.mode.limit + 3) as f64;
            assert!(
                self.tool_output.contains("No open connections left") && self.tool_ended <= by,
                "{flag}: the tool still had open connections {by} s in\n{summary}"
            );
        }
        // The tool's probe was answered in every second it sampled.
        for row in &self.rows {
            assert!(
                row.available > 0,
                "{flag}: the tool's probe found the service unavailable in second {}\n{summary}",
                row.second
            );
        }
        // And so was each plain request of ours, within 2 s.
        assert!(
            self.probes.len() >= 4,
            "{flag}: too few plain requests\n{summary}"
        );
        for (at, probe) in &self.probes {
            match probe {
                Ok((200, took)) if *took <= ANSWER_WITHIN => {}
                other => panic!("{flag}: the plain request at {at:.1} s: {other:?}\n{summary}"),
            }
        }
        // No connection of the tool's outlives the limit (plus 2 s for the CSV's
        // one-second steps and the tool's one-second poll): what it had opened by
        // second s - D it has seen closed by second s.
        let margin = self.mode.limit + 2;
        if self.mode.client_sees_close {
            for row in &self.rows {
                let Some(then) = row.second.checked_sub(margin) else {
                    continue;
                };
                let had = self.opened_by_at_least(then);
                assert!(
                    row.closed >= had,
                    "{flag}: in second {} only {} connections were closed, of the {had} open by second {then}\n{summary}",
                    row.second,
                    row.closed
                );
            }
        }
        // The server holds no more connections than the tool opened in the last
        // limit + 1 s (a second for the accept, the handler, filling the buffers),
        // counted in the CSV's whole seconds on the safe side, and 3 of its own: the
        // tool's probe and ours.
        for (at, value) in &self.gauge {
            let now = *at as u64;
            let since = now.checked_sub(self.mode.limit + 1);
            let newest = self.opened_by_at_most(now + 1);
            let oldest = since.map_or(0, |s| self.opened_by_at_least(s));
            let allowed = newest.saturating_sub(oldest) + 3;
            assert!(
                *value <= allowed as f64,
                "{flag}: at {at:.2} s the server held {value} connections, over the {allowed} the tool opened from second {} to {}\n{summary}",
                since.unwrap_or_default(),
                now + 1
            );
        }
        assert!(
            self.drained_after.is_some(),
            "{flag}: connections still open {margin} s after the tool ended\n{summary}"
        );
    }

    /// The connections opened by second `s` at least (the last row at or before it).
    fn opened_by_at_least(&self, s: u64) -> u64 {
        self.rows
            .iter()
            .filter(|r| r.second <= s)
            .map(Row::total)
            .max()
            .unwrap_or(0)
    }

    /// The connections opened by second `s` at most (the first row at or after it).
    fn opened_by_at_most(&self, s: u64) -> u64 {
        self.rows
            .iter()
            .find(|r| r.second >= s)
            .or(self.rows.last())
            .map_or(u64::MAX / 2, Row::total)
    }

    fn summary(&self) -> String {
        let mut out = format!(
            "slowhttptest {} -c {CONNECTIONS} -r {RATE} -l {LENGTH} {}: ended at {:.1} s ({}), server's gauge 0 {} after\n",
            self.mode.flag,
            self.mode.extra.join(" "),
            self.tool_ended,
            if self.tool_finished {
                "by itself"
            } else {
                "killed"
            },
            self.drained_after
                .map_or("not within the wait".to_owned(), |s| format!("{s:.2} s")),
        );
        out.push_str("CSV (second: closed/pending/connected, available):");
        for r in &self.rows {
            let _ = write!(
                out,
                " {}:{}/{}/{},{}",
                r.second,
                r.closed,
                r.pending,
                r.connected,
                if r.available > 0 { "y" } else { "N" }
            );
        }
        out.push_str("\ngauge (s: open):");
        for (at, value) in &self.gauge {
            let _ = write!(out, " {at:.1}:{value}");
        }
        out.push_str("\nsockets the server let go of (s: sockets/unsent KiB):");
        for (at, sockets, bytes) in &self.orphans {
            if *sockets > 0 {
                let _ = write!(out, " {at:.1}:{sockets}/{}", bytes >> 10);
            }
        }
        out.push_str("\nplain requests (s: status in ms):");
        for (at, probe) in &self.probes {
            match probe {
                Ok((status, took)) => {
                    let _ = write!(out, " {at:.1}:{status} in {}", took.as_millis());
                }
                Err(e) => {
                    let _ = write!(out, " {at:.1}:{e}");
                }
            }
        }
        let log = tail(&self.server_log, 5);
        let _ = write!(
            out,
            "\ntool:\n{}\nserver log (end):\n{log}",
            self.tool_output
        );
        out
    }
}

fn parse_csv(csv: &str) -> Vec<Row> {
    csv.lines()
        .skip(1)
        .filter_map(|line| {
            let v: Vec<u64> = line
                .split(',')
                .map(|f| f.trim().parse())
                .collect::<Result<_, _>>()
                .ok()?;
            let [second, closed, pending, connected, available] = v[..] else {
                return None;
            };
            Some(Row {
                second,
                closed,
                pending,
                connected,
                available,
            })
        })
        .collect()
}

fn strip_ansi(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // CSI: ESC [ parameters, then a letter.
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A GET on a fresh connection, with every wait bounded: its status and how long the
/// whole answer took.
fn plain_get(addr: SocketAddr, path: &str) -> Result<(u16, Duration), String> {
    let began = Instant::now();
    let bound = ANSWER_WITHIN + Duration::from_secs(1);
    let mut stream =
        TcpStream::connect_timeout(&addr, bound).map_err(|e| format!("connect: {e}"))?;
    stream.set_read_timeout(Some(bound)).unwrap();
    stream.set_write_timeout(Some(bound)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| format!("send: {e}"))?;
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .map_err(|e| format!("read after {:?}: {e}", began.elapsed()))?;
    let status = String::from_utf8_lossy(answer.get(9..12).unwrap_or_default())
        .parse()
        .map_err(|_| format!("no status: {:?}", String::from_utf8_lossy(&answer)))?;
    Ok((status, began.elapsed()))
}

/// `sandserve_connections_active` now, by a bounded scrape (`None` if it failed).
fn gauge(metrics: SocketAddr) -> Option<f64> {
    let bound = Duration::from_secs(2);
    let mut stream = TcpStream::connect_timeout(&metrics, bound).ok()?;
    stream.set_read_timeout(Some(bound)).unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    let body = answer.split_once("\r\n\r\n")?.1;
    let lines = body.lines().map(|l| Ok(l.to_owned()));
    let samples = Scrape::parse(lines).ok()?.samples;
    samples
        .iter()
        .find(|s| s.metric == "sandserve_connections_active")
        .and_then(|s| match s.value {
            Value::Gauge(v) | Value::Untyped(v) => Some(v),
            _ => None,
        })
}

/// Sockets on local `port` that no process holds (inode 0 in /proc/net/tcp: closed by
/// the server, the kernel still finishing them; TIME_WAIT left out), and the unsent
/// bytes in their queues.
fn orphaned(port: u16) -> (usize, u64) {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    let local = format!(":{port:04X}");
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (address, state) = (fields.get(1)?, fields.get(3)?);
            let (queues, inode) = (fields.get(4)?, fields.get(9)?);
            let unsent = u64::from_str_radix(queues.split(':').next()?, 16).ok()?;
            // Not TIME_WAIT (06): those hold nothing.
            (address.ends_with(&local) && *inode == "0" && *state != "06").then_some(unsent)
        })
        .fold((0, 0), |(n, bytes), unsent| (n + 1, bytes + unsent))
}

// --- Trickling clients -------------------------------------------------------------

/// How a trickling connection ended: closed by the server this long after the
/// reference instant, or still open when the client gave up; with what it received.
#[derive(Debug)]
enum Ended {
    Closed { after: Duration, got: String },
    Open { got: String },
}

/// Sends each piece of `schedule` at its time after `from`, reading meanwhile, until
/// the server closes the connection (a read of 0 bytes, a reset, or a write refused) or
/// `give_up` after `from`.
fn trickle(
    stream: &mut TcpStream,
    schedule: &[(Duration, &[u8])],
    from: Instant,
    give_up: Duration,
) -> Ended {
    let mut got = Vec::new();
    let text = |got: &[u8]| String::from_utf8_lossy(got).into_owned();
    let gone = |e: &std::io::Error| {
        matches!(
            e.kind(),
            ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe
        )
    };
    let mut next = 0;
    loop {
        let now = from.elapsed();
        if now >= give_up {
            return Ended::Open { got: text(&got) };
        }
        if let Some((at, piece)) = schedule.get(next)
            && *at <= now
        {
            match stream.write_all(piece) {
                Ok(()) => {}
                Err(e) if gone(&e) => {
                    return Ended::Closed {
                        after: now,
                        got: text(&got),
                    };
                }
                Err(e) => panic!("write failed: {e}"),
            }
            next += 1;
            continue;
        }
        let until = schedule
            .get(next)
            .map_or(give_up, |(at, _)| (*at).min(give_up));
        let wait = until.saturating_sub(now).max(Duration::from_millis(1));
        stream.set_read_timeout(Some(wait)).unwrap();
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk) {
            Ok(0) => {
                return Ended::Closed {
                    after: from.elapsed(),
                    got: text(&got),
                };
            }
            Ok(n) => got.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if gone(&e) => {
                return Ended::Closed {
                    after: from.elapsed(),
                    got: text(&got),
                };
            }
            Err(e) => panic!("read failed: {e}"),
        }
    }
}

fn trickle_server(root: &Path) -> Server {
    Server::start(
        root,
        &[
            "--header-timeout",
            &format!("{HEADER_TIMEOUT}s"),
            "--keepalive-timeout",
            &format!("{KEEPALIVE_TIMEOUT}s"),
            "--quiet",
        ],
    )
}

/// `\r\n` every 1.5 s, the first `first` after the reference instant.
fn blank_lines(first: Duration, count: u32) -> Vec<(Duration, &'static [u8])> {
    (0..count)
        .map(|i| (first + Duration::from_millis(1500) * i, &b"\r\n"[..]))
        .collect()
}

const SLACK: Duration = Duration::from_millis(1500);

#[test]
fn blank_lines_before_a_first_request_do_not_keep_the_connection() {
    // Blank lines before a request line are allowed (RFC 9112 §2.2), but they are the
    // head's first bytes: the header timeout runs from the connect, whatever they say.
    let site = site();
    let server = trickle_server(&site.root);
    let mut stream = TcpStream::connect(server.addr).unwrap();
    let connected = Instant::now();
    let header = Duration::from_secs(HEADER_TIMEOUT);
    let ended = trickle(
        &mut stream,
        &blank_lines(Duration::ZERO, 5),
        connected,
        Duration::from_secs(6),
    );
    match ended {
        Ended::Closed { after, .. } => assert!(
            after <= header + SLACK,
            "closed {after:?} after the connect; the header timeout is {header:?}"
        ),
        Ended::Open { got } => panic!(
            "a \\r\\n every 1.5 s kept the connection open for 6 s (header timeout {header:?}); received {got:?}"
        ),
    }
}

#[test]
fn blank_lines_after_a_response_do_not_keep_the_connection() {
    let site = site();
    let server = trickle_server(&site.root);
    let mut client = Client::connect(server.addr);
    client.send(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    let r = client.response(false);
    assert_eq!((r.status, r.body.as_slice()), (200, &b"hello from a\n"[..]));
    let answered = Instant::now();
    // Idle for 1 s (within the keep-alive timeout), then a blank line every 1.5 s: the
    // first starts the next head, which the header timeout then bounds.
    let first = Duration::from_secs(1);
    let header = Duration::from_secs(HEADER_TIMEOUT);
    let ended = trickle(
        &mut client.stream,
        &blank_lines(first, 6),
        answered,
        first + Duration::from_secs(7),
    );
    match ended {
        Ended::Closed { after, .. } => {
            let since_first = after.saturating_sub(first);
            assert!(
                since_first <= header + SLACK,
                "closed {since_first:?} after the first trickled byte; the header timeout is {header:?}"
            );
        }
        Ended::Open { got } => panic!(
            "a \\r\\n every 1.5 s after a response kept the connection open 7 s past the first (header timeout {header:?}, keep-alive {KEEPALIVE_TIMEOUT} s); received {got:?}"
        ),
    }
}

#[test]
fn a_first_head_must_end_within_the_header_timeout_of_the_connect() {
    // Two clients at once, each silent for 1.5 s after connecting, then sending a head
    // a byte at a time: one over 3.4 s (200 ms a byte), one over 1.7 s (100 ms), whose
    // head would be complete 3.2 s after the connect. The header timeout (2 s) counts
    // from the connect: each is closed by then (plus 1 s), and neither is answered.
    let site = site();
    let server = trickle_server(&site.root);
    let head: &[u8] = b"GET / HTTP/1.0\r\n\r\n";
    let header = Duration::from_secs(HEADER_TIMEOUT);
    let results: Vec<(u64, Ended)> = std::thread::scope(|scope| {
        let clients: Vec<_> = [200u64, 100]
            .into_iter()
            .map(|every| {
                let addr = server.addr;
                scope.spawn(move || {
                    let mut stream = TcpStream::connect(addr).unwrap();
                    let connected = Instant::now();
                    let schedule: Vec<(Duration, &[u8])> = head
                        .chunks(1)
                        .enumerate()
                        .map(|(i, byte)| {
                            let at = Duration::from_millis(1500 + every * i as u64);
                            (at, byte)
                        })
                        .collect();
                    let give_up = schedule.last().unwrap().0 + SLACK;
                    (every, trickle(&mut stream, &schedule, connected, give_up))
                })
            })
            .collect();
        clients.into_iter().map(|c| c.join().unwrap()).collect()
    });
    let mut problems = Vec::new();
    for (every, ended) in results {
        let complete = Duration::from_millis(1500 + every * (head.len() as u64 - 1));
        match ended {
            Ended::Closed { after, got } if got.starts_with("HTTP/1.1 2") => problems.push(format!(
                "{every} ms a byte: answered though the head completed {complete:?} after the connect, closed {after:?} after it: {:?}",
                got.lines().next().unwrap_or_default()
            )),
            Ended::Closed { after, .. } if after > header + Duration::from_secs(1) => problems.push(format!(
                "{every} ms a byte: closed {after:?} after the connect (the head's first byte at 1.5 s, its last at {complete:?})"
            )),
            Ended::Closed { .. } => {}
            Ended::Open { got } => problems.push(format!(
                "{every} ms a byte: still open {:?} after the connect; received {got:?}",
                complete + SLACK
            )),
        }
    }
    assert!(
        problems.is_empty(),
        "header timeout {header:?}:\n{}",
        problems.join("\n")
    );
}
