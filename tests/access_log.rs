//! The access log over the real binary: `--access-log common|combined|json` to
//! `--access-log-file`, each line read as log tools read it (common and combined by
//! the usual regular expression, JSON by a parser), a client's quotes unable to forge
//! a field, and rotation by rename + SIGUSR1 under load losing no line.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{Client, Server, site};
use regex::Regex;

/// A quoted field of the Common/Combined formats: anything but an unescaped quote.
const QUOTED: &str = r#""((?:[^"\\]|\\.)*)""#;

fn combined() -> Regex {
    Regex::new(&format!(
        r#"^(\S+) (\S+) (\S+) \[([^\]]+)\] {QUOTED} (\d{{3}}) (\d+|-) {QUOTED} {QUOTED}(?: (\S+) (\S+))?$"#
    ))
    .unwrap()
}

fn read_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// A server logging in `format` to `file`.
fn logging(site: &common::Site, format: &str, file: &Path) -> Server {
    let file = file.to_str().unwrap();
    Server::start(
        &site.root,
        &["--access-log", format, "--access-log-file", file],
    )
}

/// Stops the server as an operator would (SIGTERM), so that it writes out its lines.
fn stop(mut server: Server) {
    server.signal("TERM");
    assert!(server.wait_exit(Duration::from_secs(10)).is_some());
}

#[test]
fn combined_lines_parse_as_log_tools_parse_them() {
    let site = site();
    let log = site.parent.path().join("access.log");
    let s = logging(&site, "combined", &log);
    s.get_with(
        "/a.txt",
        "Referer: http://example.com/page\r\nUser-Agent: Mozilla/5.0 (X11)\r\n",
    );
    s.get("/missing");
    s.get_with("/a.txt", "User-Agent: evil\" 200 999 \"x\r\n");
    stop(s);
    let lines = read_lines(&log);
    assert_eq!(lines.len(), 3, "{lines:?}");
    let re = combined();
    let mut caps: Vec<_> = lines
        .iter()
        .map(|l| {
            re.captures(l)
                .unwrap_or_else(|| panic!("not combined: {l}"))
        })
        .collect();
    // Lines of different connections may come in either order: sort as sent.
    let rank = |c: &regex::Captures| match (&c[5], &c[9]) {
        (_, "Mozilla/5.0 (X11)") => 0,
        ("GET /missing HTTP/1.1", _) => 1,
        _ => 2,
    };
    caps.sort_by_key(rank);
    assert_eq!(&caps[0][1], "127.0.0.1");
    assert!(
        Regex::new(r"^\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000$")
            .unwrap()
            .is_match(&caps[0][4])
    );
    assert_eq!(&caps[0][5], "GET /a.txt HTTP/1.1");
    assert_eq!(&caps[0][6], "200");
    assert!(caps[0][7].parse::<u64>().unwrap() > 13, "head and body");
    assert_eq!(&caps[0][8], "http://example.com/page");
    assert_eq!(&caps[0][9], "Mozilla/5.0 (X11)");
    // The handler's time and version follow.
    assert!(caps[0][10].parse::<u64>().is_ok(), "{}", &caps[0][0]);
    assert_eq!(caps[0][11].len(), 12, "{}", &caps[0][0]);
    assert_eq!((&caps[1][6], &caps[1][8]), ("404", "-"));
    // The quotes came escaped: still one User-Agent, status still 200.
    assert_eq!(&caps[2][6], "200");
    assert_eq!(&caps[2][9], r#"evil\" 200 999 \"x"#);
}

#[test]
fn common_and_json_lines() {
    let site = site();
    let common_log = site.parent.path().join("common.log");
    let s = logging(&site, "common", &common_log);
    s.get("/a.txt");
    stop(s);
    let re = Regex::new(&format!(
        r#"^(\S+) - - \[([^\]]+)\] {QUOTED} (\d{{3}}) (\d+)$"#
    ))
    .unwrap();
    let lines = read_lines(&common_log);
    assert_eq!(lines.len(), 1);
    let caps = re.captures(&lines[0]).expect("common log format");
    assert_eq!((&caps[3], &caps[4]), ("GET /a.txt HTTP/1.1", "200"));

    let json_log = site.parent.path().join("json.log");
    let s = logging(&site, "json", &json_log);
    s.get_with("/b.txt", "User-Agent: t \"q\"\r\n");
    s.request("HEAD /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    stop(s);
    let lines = read_lines(&json_log);
    assert_eq!(lines.len(), 2);
    let mut values: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    values.sort_by_key(|v| v["request"].as_str().unwrap().starts_with("HEAD"));
    let first = &values[0];
    assert_eq!(first["request"], "GET /b.txt HTTP/1.1");
    assert_eq!(first["status"], 200);
    assert_eq!(first["user_agent"], "t \"q\"");
    assert_eq!(first["remote"], "127.0.0.1");
    assert!(first["handler_us"].as_u64().is_some());
    assert_eq!(first["handler"].as_str().unwrap().len(), 12);
    assert!(first["bytes"].as_u64().unwrap() > 13);
    assert_eq!(values[1]["request"], "HEAD /a.txt HTTP/1.1");
}

#[test]
fn rotation_by_sigusr1_under_load_loses_no_line() {
    let site = site();
    let log = site.parent.path().join("access.log");
    let s = logging(&site, "combined", &log);
    const CONNECTIONS: usize = 4;
    const EACH: usize = 400;
    let addr = s.addr;
    let load: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            std::thread::spawn(move || {
                let mut c = Client::connect(addr);
                for _ in 0..EACH {
                    c.send(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
                    assert_eq!(c.response(false).status, 200);
                }
            })
        })
        .collect();
    let mut rotated = Vec::new();
    for i in 0..3 {
        std::thread::sleep(Duration::from_millis(60));
        let old = site.parent.path().join(format!("access.log.{i}"));
        if std::fs::rename(&log, &old).is_ok() {
            rotated.push(old);
        }
        s.signal("USR1");
    }
    for thread in load {
        thread.join().unwrap();
    }
    // The last reopen made the file anew; a line after it goes there.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !log.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(s.get("/b.txt").status, 200);
    stop(s);
    let re = combined();
    let mut all = read_lines(&log);
    for old in &rotated {
        all.extend(read_lines(old));
    }
    assert!(!rotated.is_empty());
    for line in &all {
        assert!(re.is_match(line), "a broken line: {line}");
    }
    assert_eq!(all.len(), CONNECTIONS * EACH + 1, "lines lost or doubled");
    let last = read_lines(&log);
    assert!(
        last.last().is_some_and(|l| l.contains("GET /b.txt")),
        "{last:?}"
    );
}

#[test]
fn off_writes_nothing_and_a_bad_format_is_refused() {
    let site = site();
    let log = site.parent.path().join("access.log");
    let s = logging(&site, "off", &log);
    s.get("/a.txt");
    stop(s);
    assert!(read_lines(&log).is_empty());
    let root = site.root.to_str().unwrap();
    let refused = common::refuses(&["--root", root, "--access-log", "apache"]);
    assert!(
        refused.contains("expected sandserve, common, combined, json or off"),
        "{refused}"
    );
}

/// The server's own messages (not the access log) go through `tracing`: `RUST_LOG`
/// chooses the levels, warnings say so, and a filter that does not parse is said once.
fn messages(rust_log: Option<&str>) -> String {
    let site = site();
    let socket = site.parent.path().join("admin.sock");
    let mut command = std::process::Command::new(common::BIN);
    command
        .args([
            "--root",
            site.root.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ])
        .arg("--admin")
        .arg(&socket)
        .stderr(std::process::Stdio::piped());
    match rust_log {
        Some(filter) => command.env("RUST_LOG", filter),
        None => command.env_remove("RUST_LOG"),
    };
    let mut child = command.spawn().unwrap();
    let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let mut pipe = child.stderr.take().unwrap();
    let sink = stderr.clone();
    let reader = std::thread::spawn(move || {
        let mut chunk = [0u8; 4096];
        while let Ok(n @ 1..) = std::io::Read::read(&mut pipe, &mut chunk) {
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&chunk[..n]));
        }
    });
    // The admin socket is bound before the handler is compiled; status answers once
    // the server serves.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !common::admin(&socket, &["status"]).status.success() {
        assert!(
            std::time::Instant::now() < deadline,
            "the server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let pid = child.id().to_string();
    let kill = |signal: &str| {
        let sent = std::process::Command::new("kill")
            .args(["-s", signal, &pid])
            .status();
        assert!(sent.unwrap().success());
    };
    // The built-in handler has no file to re-read: a warning, waited for unless the
    // filter hides it (then a moment, for the signal to be taken).
    kill("HUP");
    if rust_log == Some("error") {
        std::thread::sleep(Duration::from_millis(500));
    } else {
        while !stderr.lock().unwrap().contains("SIGHUP") {
            assert!(std::time::Instant::now() < deadline, "no SIGHUP line");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    kill("TERM");
    child.wait().unwrap();
    reader.join().unwrap();
    stderr.lock().unwrap().clone()
}

#[test]
fn rust_log_filters_the_servers_own_messages_by_level() {
    let all = messages(None);
    assert!(all.contains("sandserve: serving "), "{all}");
    assert!(
        all.contains("sandserve: warning: SIGHUP: the built-in handler"),
        "{all}"
    );
    let warnings = messages(Some("warn"));
    assert!(!warnings.contains("serving"), "{warnings}");
    assert!(
        warnings.contains("sandserve: warning: SIGHUP"),
        "{warnings}"
    );
    let errors = messages(Some("error"));
    assert!(
        !errors.contains("serving") && !errors.contains("SIGHUP"),
        "{errors}"
    );
    let bad = messages(Some("sandserve=loud"));
    assert_eq!(
        bad.matches("sandserve: warning: RUST_LOG: ").count(),
        1,
        "{bad}"
    );
    assert!(
        bad.contains("sandserve: serving "),
        "the default filter instead: {bad}"
    );
}
