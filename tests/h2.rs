//! HTTP/2 over the real binary with a real client (curl, on nghttp2): over TLS by ALPN
//! and in plain text with `--h2c` (prior knowledge) — GET, HEAD, a range, 304, the
//! root's 404 page, a 5 MiB file intact, the access log saying `HTTP/2.0` and the metrics
//! `protocol="http2"` — nghttp seeing the SETTINGS the flags ask for, 100 streams
//! at once on one TLS connection each answered with its own file, and a plain listener
//! without `--h2c` not speaking it.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Server, site};

/// A self-signed certificate for localhost in `dir`: (cert, key).
fn certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let pair = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, pair.cert.pem()).unwrap();
    std::fs::write(&key, pair.signing_key.serialize_pem()).unwrap();
    (cert, key)
}

/// curl with `args` against `url` on `server` (trusting `ca`, if any): (exit status,
/// stdout bytes, stderr).
fn curl(server: &Server, ca: Option<&Path>, args: &[&str], path: &str) -> (i32, Vec<u8>, String) {
    let port = server.addr.port();
    let mut command = Command::new("curl");
    command.args(["-sS", "--max-time", "20"]);
    let url = match ca {
        Some(ca) => {
            command.arg("--cacert").arg(ca);
            command.args(["--resolve", &format!("localhost:{port}:127.0.0.1")]);
            format!("https://localhost:{port}{path}")
        }
        None => format!("http://127.0.0.1:{port}{path}"),
    };
    let out = command.args(args).arg(url).output().expect("curl");
    (
        out.status.code().unwrap_or(-1),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The same exchanges over TLS (`ca`) or h2c (`None`): every one must be HTTP/2.
fn exchanges(server: &Server, ca: Option<&Path>, big: &[u8]) {
    let version = if ca.is_some() {
        "--http2"
    } else {
        "--http2-prior-knowledge"
    };
    let ask = |args: &[&str], path: &str| {
        let mut all = vec![version];
        all.extend_from_slice(args);
        curl(server, ca, &all, path)
    };
    let write = [
        "-o",
        "/dev/null",
        "-w",
        "%{http_version} %{http_code} %{size_download}",
    ];
    let text = |out: (i32, Vec<u8>, String)| {
        assert_eq!(out.0, 0, "{}", out.2);
        String::from_utf8(out.1).unwrap()
    };
    assert_eq!(text(ask(&write, "/a.txt")), "2 200 13");
    assert_eq!(text(ask(&[], "/a.txt")), "hello from a\n");
    // HEAD: the fields, no DATA.
    let head = text(ask(&["-I"], "/a.txt"));
    assert!(head.starts_with("HTTP/2 200"), "{head}");
    assert!(head.contains("content-length: 13"), "{head}");
    assert!(!head.contains("connection:"), "{head}");
    // A range, then 304 for the ETag it came with.
    assert_eq!(text(ask(&["-r", "6-9"], "/a.txt")), "from");
    let etag = head
        .lines()
        .find_map(|l| l.strip_prefix("etag: "))
        .expect("an ETag")
        .trim()
        .to_owned();
    let if_none = format!("If-None-Match: {etag}");
    let mut not_modified = vec!["-H", &if_none];
    not_modified.extend_from_slice(&write);
    assert_eq!(text(ask(&not_modified, "/a.txt")), "2 304 0");
    // The root's 404 page, with its status.
    assert_eq!(
        text(ask(&["-w", " %{http_code}"], "/nope")),
        "<!doctype html><title>custom 404</title>\n 404"
    );
    // 5 MiB in DATA frames, as the window lets them go, intact.
    let (code, body, err) = ask(&[], "/big.bin");
    assert_eq!(code, 0, "{err}");
    assert!(body == big, "{} bytes, not the file", body.len());
}

fn site_with_big_file() -> (common::Site, Vec<u8>) {
    let site = site();
    let big = common::pattern(5 << 20);
    common::write(&site.root, "big.bin", &big);
    (site, big)
}

#[test]
fn curl_speaks_http2_over_tls_and_h2c() {
    let (site, big) = site_with_big_file();
    let (cert, key) = certificate(site.parent.path());
    let tls = Server::start(
        &site.root,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    exchanges(&tls, Some(&cert), &big);
    let h2c = Server::start(&site.root, &["--h2c", "--metrics", "127.0.0.1:0"]);
    exchanges(&h2c, None, &big);
    // The same listener still speaks HTTP/1.1 to everyone else.
    let (code, out, _) = curl(&h2c, None, &["-w", " %{http_version}"], "/a.txt");
    assert_eq!((code, out), (0, b"hello from a\n 1.1".to_vec()));
    // The access log takes the protocol from the connection.
    // (The last line first: the log is written behind the responses.)
    let log = h2c.wait_for_log("\"GET /a.txt HTTP/1.1\" 200");
    assert!(log.contains("\"HEAD /a.txt HTTP/2.0\" 200"), "{log}");
    assert!(log.contains("\"GET /big.bin HTTP/2.0\" 200"), "{log}");
    let log = tls.wait_for_log("\"GET /big.bin HTTP/2.0\" 200");
    assert!(log.contains("\"GET /big.bin HTTP/2.0\" 200"), "{log}");
    // And so do the metrics: the exchanges above by protocol (GET 2xx: a.txt twice, the
    // range, big.bin; the 304 is 3xx).
    let samples = common::scrape(h2c.metrics_addr());
    let count = |protocol| {
        let labels = [("method", "GET"), ("class", "2xx"), ("protocol", protocol)];
        common::value(&samples, "sandserve_requests_total", &labels)
    };
    assert_eq!((count("http2"), count("http1")), (4.0, 1.0));
}

#[test]
fn without_h2c_a_plain_listener_does_not_speak_http2() {
    let site = site();
    let server = Server::start(&site.root, &[]);
    let (code, _, _) = curl(&server, None, &["--http2-prior-knowledge"], "/a.txt");
    assert_ne!(code, 0, "prior knowledge must fail without --h2c");
    // And the server goes on serving.
    assert_eq!(server.get("/a.txt").status, 200);
}

#[test]
fn a_hundred_streams_on_one_connection_each_get_their_file() {
    let site = site();
    for i in 0..100 {
        common::write(
            &site.root,
            &format!("f{i}.txt"),
            format!("file number {i}\n"),
        );
    }
    // Over TLS: curl 7.88 multiplexes h2c prior-knowledge transfers wrongly ("Error in
    // the HTTP2 framing layer" before it sends the second stream).
    let (cert, key) = certificate(site.parent.path());
    let server = Server::start(
        &site.root,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    let out = site.parent.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let port = server.addr.port();
    let status = Command::new("curl")
        .args(["-sS", "--max-time", "30", "--http2", "--cacert"])
        .arg(&cert)
        .args(["--resolve", &format!("localhost:{port}:127.0.0.1")])
        .args(["--parallel", "--parallel-max", "100", "--no-progress-meter"])
        .arg("--output-dir")
        .arg(&out)
        .args(["-o", "got#1.txt"])
        .arg(format!("https://localhost:{port}/f[0-99].txt"))
        .status()
        .unwrap();
    assert!(status.success());
    for i in 0..100 {
        let got = std::fs::read_to_string(out.join(format!("got{i}.txt"))).unwrap();
        assert_eq!(got, format!("file number {i}\n"));
    }
    // All on one connection: one peer port in the access log's 100 lines.
    let log = server.wait_for_log("\"GET /f99.txt HTTP/2.0\"");
    let mut peers: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(" HTTP/2.0\" 200"))
        .filter_map(|l| l.split(' ').next())
        .collect();
    assert_eq!(peers.len(), 100, "{log}");
    peers.dedup();
    assert_eq!(peers.len(), 1, "{peers:?}");
}

#[test]
fn max_requests_counts_streams_then_goaway() {
    let site = site();
    let server = Server::start(&site.root, &["--h2c", "--max-requests", "3"]);
    let out = Command::new("nghttp")
        .args(["-nv", "-m", "5"])
        .arg(format!("http://127.0.0.1:{}/a.txt", server.addr.port()))
        .output()
        .expect("nghttp");
    let text = String::from_utf8_lossy(&out.stdout);
    // The five were sent at once: the third is the last the connection may start, so
    // the server says GOAWAY then (NO_ERROR), and finishes what it already took.
    assert!(text.contains("recv GOAWAY frame"), "{text}");
    assert!(text.contains("error_code=NO_ERROR(0x00)"), "{text}");
    assert!(text.matches(":status: 200").count() >= 3, "{text}");
}

#[test]
fn nghttp_sees_the_settings_the_flags_ask_for() {
    let site = site();
    let server = Server::start(
        &site.root,
        &[
            "--h2c",
            "--h2-max-streams",
            "77",
            "--h2-window",
            "100000",
            "--h2-max-frame-size",
            "32KiB",
        ],
    );
    let out = Command::new("nghttp")
        .args([
            "-nv",
            &format!("http://127.0.0.1:{}/a.txt", server.addr.port()),
        ])
        .output()
        .expect("nghttp (Debian's nghttp2-client; .ci/run installs it)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    // The server's SETTINGS frame, as nghttp decodes it.
    let settings = text
        .split("recv SETTINGS frame")
        .nth(1)
        .expect("a SETTINGS frame from the server");
    for setting in [
        "SETTINGS_MAX_CONCURRENT_STREAMS(0x03):77",
        "SETTINGS_INITIAL_WINDOW_SIZE(0x04):100000",
        "SETTINGS_MAX_FRAME_SIZE(0x05):32768",
        "SETTINGS_MAX_HEADER_LIST_SIZE(0x06):16384",
    ] {
        assert!(settings.contains(setting), "{setting}:\n{text}");
    }
    assert!(text.contains(":status: 200"), "{text}");
}

#[test]
fn shutdown_sends_goaway_and_lets_a_stream_in_flight_finish() {
    let (site, big) = site_with_big_file();
    let mut server = Server::start(&site.root, &["--h2c"]);
    // A download that takes about 5 s (1 MB/s; --shutdown-grace is 10 s), over HTTP/2.
    let out = site.parent.path().join("got.bin");
    let mut curl = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "20",
            "--http2-prior-knowledge",
            "--limit-rate",
            "2M",
            "-o",
        ])
        .arg(&out)
        .arg(format!("http://127.0.0.1:{}/big.bin", server.addr.port()))
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    server.signal("TERM");
    let status = curl.wait().unwrap();
    assert!(status.success(), "the stream in flight was cut short");
    assert!(std::fs::read(&out).unwrap() == big, "not the file");
    let status = server
        .wait_exit(std::time::Duration::from_secs(10))
        .expect("did not exit");
    assert!(status.success(), "{status}");
}

#[test]
fn a_handler_close_ends_the_connection_with_goaway_after_its_answer() {
    let site = site();
    let server = Server::start(&site.root, &["--h2c"]);
    // An encoded dot segment passes the host's check; the built-in handler refuses it
    // (400) and asks to close, which under HTTP/2 is a GOAWAY, not a cut.
    let out = Command::new("nghttp")
        .args([
            "-nv",
            &format!("http://127.0.0.1:{}/%2e%2e/x", server.addr.port()),
        ])
        .output()
        .expect("nghttp");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(":status: 400"), "{text}");
    assert!(text.contains("recv GOAWAY frame"), "{text}");
    assert!(text.contains("error_code=NO_ERROR(0x00)"), "{text}");
}

#[test]
fn mounts_and_record_work_per_stream() {
    let site = site();
    let file = site.parent.path().join("heads.jsonl");
    let mount = format!("/m/={}", common::NAIVE_WASM);
    let server = Server::start(
        &site.root,
        &[
            "--h2c",
            "--record",
            file.to_str().unwrap(),
            "--mount",
            &mount,
        ],
    );
    let ask = |path: &str| curl(&server, None, &["--http2-prior-knowledge", "-i"], path);
    let (code, out, err) = ask("/m/a.txt");
    let text = String::from_utf8_lossy(&out);
    assert_eq!(code, 0, "{err}");
    assert!(text.starts_with("HTTP/2 200"), "{text}");
    assert!(text.contains("x-handler: naive"), "{text}");
    assert!(text.ends_with("hello from a\n"), "{text}");
    // The recorded head is the one the handler saw: HTTP/1.1, with Host.
    let port = server.addr.port();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let recorded = loop {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        if !text.is_empty() || std::time::Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let line: serde_json::Value = serde_json::from_str(recorded.lines().next().unwrap()).unwrap();
    assert_eq!(line["mount"], "/m/");
    let head = line["head"].as_str().unwrap();
    assert!(
        head.starts_with(&format!(
            "GET /a.txt HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n"
        )),
        "{head}"
    );
}
