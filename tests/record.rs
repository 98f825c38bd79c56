//! `--record FILE` over the real binary: the heads handlers decided, as JSON lines
//! without credentials (unless kept), which `sandserve diff --requests` replays.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{BIN, BUILT_IN_WASM, NAIVE_WASM, Server, site};
use serde_json::Value;

/// The recorded lines, once `count` of them are on disk (the writer flushes whenever
/// its queue runs dry; a missing line fails the test after 10 s).
fn recorded(file: &Path, count: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("each line is JSON"))
            .collect();
        if lines.len() >= count || Instant::now() > deadline {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn heads_are_recorded_without_credentials_and_replayed_by_diff() {
    let site = site();
    let file = site.parent.path().join("heads.jsonl");
    let server = Server::start(&site.root, &["--record", file.to_str().unwrap()]);
    let secret = "GET /a.txt?x=1 HTTP/1.1\r\nHost: x\r\nCookie: session=s3cr3t\r\n\
                  Authorization: Bearer t0ken\r\nAccept: */*\r\nConnection: close\r\n\r\n";
    assert_eq!(server.request(secret).status, 200);
    assert_eq!(
        server
            .request("HEAD /docs/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .status,
        200
    );
    // A head the host refuses reaches no handler, and is not recorded.
    assert_eq!(server.request("GET /a.txt HTTP/1.1\r\n\r\n").status, 400);
    assert_eq!(
        server
            .request("GET /missing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .status,
        404
    );

    let lines = recorded(&file, 3);
    let heads: Vec<&str> = lines.iter().map(|l| l["head"].as_str().unwrap()).collect();
    assert_eq!(
        heads,
        [
            "GET /a.txt?x=1 HTTP/1.1\r\nHost: x\r\nAccept: */*\r\nConnection: close\r\n\r\n",
            "HEAD /docs/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            "GET /missing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        ]
    );
    assert!(
        lines
            .iter()
            .all(|l| l["at"].as_u64().unwrap() > 1_700_000_000)
    );
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&file).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);

    // The recording replayed: the built-in handler against the naive fixture.
    let out = Command::new(BIN)
        .args(["diff", BUILT_IN_WASM, NAIVE_WASM, "--requests"])
        .arg(&file)
        .arg("--root")
        .arg(&site.root)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.ends_with(&format!(
            "3 requests, 3 differ ({BUILT_IN_WASM} against {NAIVE_WASM})\n"
        )),
        "{text}"
    );
    assert!(text.contains("GET /a.txt?x=1 HTTP/1.1"), "{text}");
    drop(server);

    // Kept when asked: the same head with its Cookie, appended to the same file.
    let server = Server::start(
        &site.root,
        &[
            "--record",
            file.to_str().unwrap(),
            "--record-keep",
            "Cookie",
        ],
    );
    assert_eq!(server.request(secret).status, 200);
    let lines = recorded(&file, 4);
    let head = lines[3]["head"].as_str().unwrap();
    assert!(head.contains("Cookie: session=s3cr3t\r\n"), "{head}");
    assert!(!head.contains("Authorization"), "{head}");
}

#[test]
fn a_mounted_handler_s_heads_are_recorded_as_it_saw_them() {
    let site = site();
    let file = site.parent.path().join("heads.jsonl");
    // A file that exists already, readable by others: the recording makes it private.
    std::fs::write(&file, "").unwrap();
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let mount = format!("/m/={NAIVE_WASM}");
    let server = Server::start(
        &site.root,
        &["--record", file.to_str().unwrap(), "--mount", &mount],
    );
    for target in ["/a.txt", "/m/b.txt", "/m"] {
        let raw = format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        assert!(server.request(&raw).status < 400, "{target}");
    }
    let lines = recorded(&file, 2);
    // The host's own 301 for `/m` was decided by no handler: not recorded.
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0]["mount"], Value::Null);
    assert!(
        lines[0]["head"]
            .as_str()
            .unwrap()
            .starts_with("GET /a.txt ")
    );
    assert_eq!(lines[1]["mount"], "/m/");
    assert!(
        lines[1]["head"]
            .as_str()
            .unwrap()
            .starts_with("GET /b.txt ")
    );
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&file).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);

    // `diff --mount` replays that slot's heads alone.
    let diff = |mount: &str| {
        let out = Command::new(BIN)
            .args(["diff", BUILT_IN_WASM, NAIVE_WASM, "--requests"])
            .arg(&file)
            .args(["--mount", mount, "--root"])
            .arg(&site.root)
            .output()
            .unwrap();
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (text, _) = diff("/m");
    assert!(
        text.contains("GET /b.txt HTTP/1.1") && !text.contains("/a.txt"),
        "{text}"
    );
    assert!(text.contains("1 requests, 1 differ"), "{text}");
    let (_, err) = diff("/other/");
    assert!(err.contains("no requests of --mount /other/"), "{err}");
}

#[test]
fn bad_recording_flags_are_one_line_and_status_1() {
    let site = site();
    let file = site.parent.path().join("r.jsonl");
    for (args, expected) in [
        (
            vec!["--record", "/no/such/dir/r.jsonl"],
            "--record /no/such/dir/r.jsonl: cannot open",
        ),
        (
            vec!["--record", file.to_str().unwrap(), "--record-keep", "Host"],
            "--record-keep Host",
        ),
    ] {
        let root = site.root.to_str().unwrap();
        let mut all = vec!["--root", root, "--listen", "127.0.0.1:0"];
        all.extend_from_slice(&args);
        let err = common::refuses(&all);
        assert!(err.contains(expected), "{args:?}: {err}");
    }
    // A recording with a head that is not bytes is refused by diff, one line.
    std::fs::write(&file, "{\"head\": \"GET /\u{100} HTTP/1.1\\r\\n\\r\\n\"}\n").unwrap();
    let out = Command::new(BIN)
        .args(["diff", BUILT_IN_WASM, NAIVE_WASM, "--requests"])
        .arg(&file)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("line 1: a head is bytes"), "{err}");
}
