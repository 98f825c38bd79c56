//! HTTP/2 attacks over the real binary, each scripted with the Python `h2` package
//! (`tests/h2/attacks.py`, installed by guest/build-handlers): Rapid Reset, a
//! CONTINUATION flood, an HPACK bomb, a zero-window stall and 10,000 idle streams. Each
//! is met by GOAWAY or RST_STREAM within the default limits — and not with its limit
//! raised, so the test sees the limit work — while the server's resident memory stays
//! bounded and a control client on another connection is answered.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Server, site};
use serde_json::Value;

/// GOAWAY and RST_STREAM error codes (RFC 9113 §7).
const NO_ERROR: u64 = 0;
const REFUSED_STREAM: &str = "7";
const CANCEL: &str = "8";
const ENHANCE_YOUR_CALM: u64 = 11;

fn python() -> PathBuf {
    let tools = std::env::var_os("SANDSERVE_TOOLS").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/tools"),
        PathBuf::from,
    );
    let python = tools.join("venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run guest/build-handlers (it installs the h2 package)",
        python.display()
    );
    python
}

/// Runs `attack` against `server` while a control client asks for /a.txt on its own
/// connection every 50 ms and the server's RSS is sampled: (what the server did, the
/// RSS peak in KiB, the control answers that were not 200).
fn attack(server: &Server, attack: &str, extra: &[&str]) -> (Value, u64, usize) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/h2/attacks.py");
    let mut child = Command::new(python())
        .arg(script)
        .arg(attack)
        .arg(server.addr.port().to_string())
        .args(extra)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut peak = 0;
    let mut failed = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "{attack} did not end");
        peak = peak.max(server.rss_kib());
        if server.get("/a.txt").status != 200 {
            failed += 1;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let result =
        serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{attack}: {e}: {text}"));
    (result, peak, failed)
}

/// The server's answer to `name` with the default limits (and `args`), checked to stay
/// within memory and to keep serving; then the same attack with `raised` instead.
fn both(name: &str, args: &[&str], raised: &[&str], extra: &[&str]) -> (Value, Value) {
    let site = site();
    common::write(&site.root, "big.bin", common::pattern(5 << 20));
    let mut all = vec!["--h2c"];
    all.extend_from_slice(args);
    let server = Server::start(&site.root, &all);
    assert_eq!(server.get("/a.txt").status, 200);
    let before = server.rss_kib();
    let (limited, peak, failed) = attack(&server, name, extra);
    assert_eq!(failed, 0, "{name}: the control client was refused");
    assert!(
        peak < before + 48 * 1024,
        "{name}: RSS {before} KiB before, {peak} KiB during"
    );
    assert_eq!(server.get("/a.txt").status, 200, "{name}: after the attack");
    let mut all = vec!["--h2c"];
    all.extend_from_slice(raised);
    let server = Server::start(&site.root, &all);
    let (unlimited, _, _) = attack(&server, name, extra);
    (limited, unlimited)
}

#[test]
fn rapid_reset_gets_goaway() {
    let (limited, raised) = both(
        "rapid_reset",
        &[],
        &[
            "--h2-max-pending-resets",
            "100000",
            "--h2-max-resets",
            "100000",
            "--max-requests",
            "100000",
        ],
        &[],
    );
    assert_eq!(limited["goaway"], ENHANCE_YOUR_CALM, "{limited}");
    assert!(raised["goaway"].is_null(), "{raised}");
    // The h2 crate's own bound (resets before a stream is accepted) raised, ours alone
    // (resets per second of accepted streams) still ends it.
    let site = site();
    let args = [
        "--h2c",
        "--h2-max-pending-resets",
        "100000",
        "--max-requests",
        "100000",
    ];
    let server = Server::start(&site.root, &args);
    let (ours, _, _) = attack(&server, "rapid_reset", &[]);
    assert_eq!(ours["goaway"], ENHANCE_YOUR_CALM, "{ours}");
    let said = "HTTP/2 peer reset over 100 streams a second: GOAWAY";
    assert!(server.wait_for_log(said).contains(said));
}

#[test]
fn a_continuation_flood_gets_goaway() {
    let (limited, raised) = both(
        "continuation_flood",
        &[],
        &["--h2-max-header-list", "16MiB"],
        &[],
    );
    assert_eq!(limited["goaway"], ENHANCE_YOUR_CALM, "{limited}");
    assert!(raised["goaway"].is_null(), "{raised}");
}

#[test]
fn an_hpack_bomb_gets_goaway() {
    let (limited, raised) = both("hpack_bomb", &[], &["--h2-max-header-list", "16MiB"], &[]);
    assert_eq!(limited["goaway"], ENHANCE_YOUR_CALM, "{limited}");
    // Let through, the 16 MB head meets the host's own request check: an answer.
    assert!(raised["goaway"].is_null(), "{raised}");
    assert_eq!(raised["answered"], 1, "{raised}");
}

#[test]
fn a_zero_window_stall_gets_rst_stream_at_the_send_timeout() {
    let (limited, raised) = both(
        "zero_window",
        &["--send-timeout", "1s"],
        &["--send-timeout", "60s"],
        &["3"],
    );
    assert_eq!(limited["resets"][CANCEL], 1, "{limited}");
    assert!(raised["resets"][CANCEL].is_null(), "{raised}");
}

/// The server's open file descriptors.
fn descriptors(server: &Server) -> usize {
    std::fs::read_dir(format!("/proc/{}/fd", server.pid()))
        .unwrap()
        .count()
}

#[test]
fn a_connection_of_stalled_streams_holds_at_most_its_share_of_files() {
    // 128 streams for a 5 MiB file, none of them ever read: each being sent holds its
    // file open, and --h2-max-calls (32) bounds how many are.
    let site = site();
    common::write(&site.root, "big.bin", common::pattern(5 << 20));
    let peak = |args: &[&str]| {
        let mut all = vec!["--h2c"];
        all.extend_from_slice(args);
        let server = Server::start(&site.root, &all);
        let before = descriptors(&server);
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/h2/attacks.py");
        let mut child = Command::new(python())
            .arg(script)
            .args(["zero_window_many", &server.addr.port().to_string()])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut most = 0;
        while child.try_wait().unwrap().is_none() {
            most = most.max(descriptors(&server));
            std::thread::sleep(Duration::from_millis(20));
        }
        most - before
    };
    let limited = peak(&[]);
    assert!(limited <= 32 + 4, "{limited} descriptors more");
    let raised = peak(&["--h2-max-calls", "200"]);
    assert!(
        raised > 100,
        "{raised} descriptors more with the limit raised"
    );
}

#[test]
fn ten_thousand_idle_streams_are_refused_past_the_limit() {
    let (limited, raised) = both(
        "idle_streams",
        &[],
        &[
            "--h2-max-streams",
            "20000",
            "--h2-max-error-resets",
            "100000",
        ],
        &[],
    );
    // 128 open at once; the rest refused, and past 1024 refusals, GOAWAY.
    assert!(
        limited["resets"][REFUSED_STREAM].as_u64() > Some(100),
        "{limited}"
    );
    assert_eq!(limited["goaway"], ENHANCE_YOUR_CALM, "{limited}");
    assert!(raised["resets"][REFUSED_STREAM].is_null(), "{raised}");
    assert!(
        raised["goaway"].is_null() || raised["goaway"] == NO_ERROR,
        "{raised}"
    );
}
