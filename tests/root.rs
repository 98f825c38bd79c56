//! The root as the contracts lend it, over the real binary: the built-in handler
//! imports nothing of WASI nor any function of ours, so it is one core instance (asked of
//! the real `wasm-tools`), the host's 0.3.0 `root` import refuses every way out
//! of the root (asked through the prober fixture, over a real socket), and a body is the
//! very file the handler looked at even when it is replaced in between.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{BUILT_IN_WASM, SECRET, Server, site, wasm_tools};

const PROBER_WASM: &str = env!("SANDSERVE_PROBER_WASM");
const LOOKER_WASM: &str = env!("SANDSERVE_LOOKER_WASM");

/// The `import`/`export` lines of a component's world, as `wasm-tools component wit`
/// prints them.
fn world_lines(component: &str) -> Vec<String> {
    let out = Command::new(wasm_tools())
        .args(["component", "wit", component])
        .output()
        .expect("cannot run wasm-tools");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let wit = String::from_utf8(out.stdout).unwrap();
    let world = wit
        .split("world root {")
        .nth(1)
        .expect("a world")
        .split('}')
        .next()
        .unwrap();
    world
        .lines()
        .map(str::trim)
        .filter(|line| line.starts_with("import ") || line.starts_with("export "))
        .map(str::to_owned)
        .collect()
}

/// How many core instances one instantiation of `component` makes, as `wasm-tools
/// print` shows them.
fn core_instances(component: &str) -> usize {
    let out = Command::new(wasm_tools())
        .args(["print", component])
        .output()
        .expect("cannot run wasm-tools");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|line| line.trim_start().starts_with("(core instance"))
        .count()
}

#[test]
fn the_built_in_handler_imports_nothing_of_wasi() {
    // 0.5.0: `root` only for its types — the handler looks, it does not call.
    assert_eq!(
        world_lines(BUILT_IN_WASM),
        [
            "import sandserve:server/types@0.5.0;",
            "import sandserve:server/root@0.5.0;",
            "export sandserve:server/handler@0.5.0;",
        ]
    );
    assert_eq!(
        world_lines(PROBER_WASM),
        [
            "import sandserve:server/types@0.3.0;",
            "import sandserve:server/root@0.3.0;",
            "export sandserve:server/handler@0.3.0;",
        ]
    );
    // So it is one core instance; a handler that calls `root` (the 0.3.0 prober) gets
    // wit-component's shim and fixup instances besides its own, at every request.
    assert_eq!(core_instances(BUILT_IN_WASM), 1);
    assert!(core_instances(PROBER_WASM) > 1);
    // And the 0.2.0 fixtures do import WASI: the check can tell the difference.
    let naive = world_lines(common::NAIVE_WASM);
    assert!(
        naive
            .iter()
            .any(|l| l.starts_with("import wasi:filesystem/")),
        "{naive:?}"
    );
    assert!(naive.contains(&"export sandserve:server/handler@0.2.0;".to_owned()));
}

/// The prober's answer to `GET target`.
fn probe(server: &Server, target: &str) -> String {
    let response = server.get(target);
    assert_eq!(response.status, 200, "{target}: {}", response.text());
    let text = response.text();
    assert!(
        !text.contains(SECRET),
        "{target} reached the secret: {text}"
    );
    text
}

#[test]
fn root_refuses_every_way_out_and_follows_links_inside() {
    let site = site();
    let root = &site.root;
    let secret = site.parent.path().join("secret.txt");
    std::os::unix::fs::symlink("../secret.txt", root.join("out")).unwrap();
    std::os::unix::fs::symlink(&secret, root.join("abs")).unwrap();
    std::os::unix::fs::symlink("..", root.join("up")).unwrap();
    std::os::unix::fs::symlink("a.txt", root.join("inside")).unwrap();
    std::os::unix::fs::symlink("docs/../a.txt", root.join("inside-dotdot")).unwrap();
    std::os::unix::fs::symlink("nowhere", root.join("broken")).unwrap();
    // Out of the root to something that does not exist: the same answer as to
    // something that does, so the answer says nothing about what lies outside.
    std::os::unix::fs::symlink("../nope", root.join("out-nowhere")).unwrap();
    std::os::unix::fs::symlink(site.parent.path(), root.join("abs-dir")).unwrap();
    // Special files: stat'ed without blocking, never read.
    let fifo = Command::new("mkfifo")
        .arg(root.join("fifo"))
        .status()
        .unwrap();
    assert!(fifo.success());
    let _socket = std::os::unix::net::UnixListener::bind(root.join("socket")).unwrap();
    // The same cases by call (the 0.3.0 prober) and by look (the 0.4.0 looker, whose
    // `/look` is the prober's `/stat`; it has no `/read-big`).
    for (handler, looks) in [(PROBER_WASM, false), (LOOKER_WASM, true)] {
        let server = Server::start(root, &["--handler", handler]);
        confined(&server, looks);
    }
}

/// The answers of a handler that passes its query to one root function, by call or
/// by look: every way out of the root refused, links inside followed.
fn confined(server: &Server, looks: bool) {
    for (target, expected) in [
        ("/stat?a.txt", "ok file 13"),
        ("/stat?docs", "ok directory"),
        ("/stat?", "ok directory"),
        ("/stat?missing", "err not-found"),
        ("/stat?a.txt/x", "err not-a-directory"),
        ("/stat?../secret.txt", "err invalid-path"),
        ("/stat?docs/../../secret.txt", "err invalid-path"),
        ("/stat?/etc/passwd", "err invalid-path"),
        ("/stat?a.txt%00", "err invalid-path"),
        ("/stat?docs%5Cindex.html", "err invalid-path"),
        ("/stat?out", "err outside-root"),
        ("/stat?abs", "err outside-root"),
        ("/stat?up/secret.txt", "err outside-root"),
        ("/stat?out-nowhere", "err outside-root"),
        ("/list?abs-dir", "err outside-root"),
        ("/stat?fifo", "ok other"),
        ("/read?fifo", "err not-a-file"),
        ("/stat?socket", "ok other"),
        ("/read?socket", "err not-a-file"),
        ("/read?out", "err outside-root"),
        ("/read?abs", "err outside-root"),
        ("/read?up/root/a.txt", "err outside-root"),
        ("/read?../secret.txt", "err invalid-path"),
        ("/read?inside", "ok hello from a\n"),
        ("/read?inside-dotdot", "ok hello from a\n"),
        ("/read?docs", "err not-a-file"),
        ("/read?broken", "err not-found"),
        ("/read-big?a.txt", "err too-large"),
        ("/list?up", "err outside-root"),
        ("/list?../", "err invalid-path"),
        ("/list?a.txt", "err not-a-directory"),
        ("/list?docs", "ok guide.txt,index.html"),
    ] {
        if looks && target.starts_with("/read-big") {
            continue;
        }
        let target = match looks {
            true => target.replacen("/stat?", "/look?", 1),
            false => target.to_owned(),
        };
        let text = probe(server, &target);
        assert!(
            text.starts_with(expected),
            "{target}: {text:?}, expected {expected:?}"
        );
    }
    // A listing leaves out links that lead out or nowhere, and keeps those inside.
    let listing = probe(server, "/list?");
    let names: Vec<&str> = listing["ok ".len()..].split(',').collect();
    for name in ["a.txt", "inside", "inside-dotdot", "docs"] {
        assert!(names.contains(&name), "{name} missing from {listing}");
    }
    for name in ["out", "abs", "up", "broken", "out-nowhere", "abs-dir"] {
        assert!(!names.contains(&name), "{name} listed in {listing}");
    }
}

#[test]
fn a_body_is_the_file_the_handler_looked_at() {
    // Read with the head (up to 16 KiB) and sent with sendfile (larger).
    for old in [b"the old content".to_vec(), common::pattern(100_000)] {
        let site = site();
        let root = site.root.clone();
        common::write(&root, "v.txt", &old);
        let server = Server::start(
            &root,
            &["--handler", PROBER_WASM, "--handler-timeout", "5s"],
        );
        let mut client = server.connect();
        client.send(b"GET /send?v.txt HTTP/1.1\r\nHost: x\r\n\r\n");
        // The handler has stat'ed v.txt and now waits for `go`: replace the file under
        // it. (Should the handler be slower than this sleep, it stats the new file and
        // the test fails loudly, it does not pass wrongly.)
        std::thread::sleep(Duration::from_millis(300));
        std::fs::rename(root.join("v.txt"), root.join("v.old")).unwrap();
        common::write(&root, "v.txt", "NEW");
        std::fs::File::create(root.join("go"))
            .unwrap()
            .write_all(b"")
            .unwrap();
        let response = client.response(false);
        assert_eq!(response.status, 200, "{}", response.text());
        assert!(
            response.body == old,
            "{} bytes, not the old file",
            response.body.len()
        );
        // A request after the swap sees the new file.
        std::fs::remove_file(root.join("go")).unwrap();
        assert_eq!(probe(&server, "/read?v.txt"), "ok NEW");
    }
}

#[test]
fn the_host_logs_which_contract_a_handler_speaks() {
    let site = site();
    let built_in = Server::start(&site.root, &[]);
    let log = built_in.wait_for_log("sandserve:server@");
    assert!(log.contains("sandserve:server@0.5.0, no WASI"), "{log}");
    let prober = Server::start(&site.root, &["--handler", PROBER_WASM]);
    let log = prober.wait_for_log("sandserve:server@");
    assert!(log.contains("sandserve:server@0.3.0, no WASI"), "{log}");
    let naive = Server::start(&site.root, &["--handler", common::NAIVE_WASM]);
    let log = naive.wait_for_log("sandserve:server@");
    assert!(
        log.contains("sandserve:server@0.2.0, imports WASI"),
        "{log}"
    );
    assert_eq!(naive.get("/a.txt").header("x-handler"), Some("naive"));
}

#[test]
fn handlers_of_all_three_contracts_are_served_side_by_side() {
    let site = site();
    let server = Server::start(
        &site.root,
        &[
            "--mount",
            &format!("/v3/={PROBER_WASM}"),
            "--mount",
            &format!("/v2/={}", common::NAIVE_WASM),
        ],
    );
    // 0.5.0 (the built-in handler, by looks), 0.3.0 (root calls), 0.2.0 (WASI), in turn
    // on one keep-alive connection.
    let mut client = server.connect();
    for _ in 0..3 {
        for (target, handler) in [
            ("/a.txt", None),
            ("/v3/read?a.txt", None),
            ("/v2/a.txt", Some("naive")),
        ] {
            client.send(format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
            let response = client.response(false);
            assert_eq!(response.status, 200, "{target}: {}", response.text());
            assert!(
                response.text().ends_with("hello from a\n"),
                "{target}: {}",
                response.text()
            );
            assert_eq!(response.header("x-handler"), handler, "{target}");
        }
    }
}

#[test]
fn sandserve_wit_hands_out_the_contract() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let out = Command::new(common::BIN).arg("wit").output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        out.stdout,
        std::fs::read(workspace.join("wit/sandserve.wit")).unwrap()
    );
    for version in ["0.4.0", "0.3.0", "0.2.0"] {
        let out = Command::new(common::BIN)
            .args(["wit", "--compat", version])
            .output()
            .unwrap();
        let old = std::fs::read(workspace.join(format!("wit/compat/sandserve@{version}.wit")));
        assert_eq!(out.stdout, old.unwrap(), "{version}");
    }
    // A contract that never was is a one-line refusal.
    let out = Command::new(common::BIN)
        .args(["wit", "--compat", "0.1.0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());

    // Written to a folder, it is a WIT package the real tools read.
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("wit");
    for _ in 0..2 {
        // Twice: the same contract again is fine.
        let out = Command::new(common::BIN)
            .arg("wit")
            .arg("--out")
            .arg(&folder)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let parsed = Command::new(wasm_tools())
        .args(["component", "wit"])
        .arg(&folder)
        .output()
        .unwrap();
    assert!(
        parsed.status.success(),
        "{}",
        String::from_utf8_lossy(&parsed.stderr)
    );
    let text = String::from_utf8(parsed.stdout).unwrap();
    assert!(text.contains("package sandserve:server@0.5.0;"), "{text}");
    assert!(
        text.contains("import root;") && text.contains("export handler;"),
        "{text}"
    );

    // Someone's edited copy is not overwritten.
    std::fs::write(folder.join("sandserve.wit"), "// mine\n").unwrap();
    let out = Command::new(common::BIN)
        .arg("wit")
        .arg("--out")
        .arg(&folder)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("exists and differs") && stderr.lines().count() == 1,
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(folder.join("sandserve.wit")).unwrap(),
        "// mine\n"
    );
}

#[test]
fn a_reused_instance_opens_afresh_for_every_request() {
    // With --reuse-instances the store lives on, but what `root` opened belongs to one
    // request: the next sees the file as it is now, not the descriptor kept before.
    let site = site();
    common::write(&site.root, "v.txt", "old");
    let server = Server::start(
        &site.root,
        &["--handler", PROBER_WASM, "--reuse-instances", "10"],
    );
    let mut client = server.connect();
    let read = |client: &mut common::Client| {
        client.send(b"GET /read?v.txt HTTP/1.1\r\nHost: x\r\n\r\n");
        client.response(false).text()
    };
    assert_eq!(read(&mut client), "ok old");
    std::fs::rename(site.root.join("v.txt"), site.root.join("v.old")).unwrap();
    common::write(&site.root, "v.txt", "NEW");
    assert_eq!(read(&mut client), "ok NEW");
}

/// The pool forced to one slot, so that every instance lives in the same memory: a
/// request plants a needle in its heap and in 256 scattered pages it grows the memory
/// to hold (more dirty regions than one PAGEMAP_SCAN buffer holds, and more bytes than
/// the slot keeps resident); the next request, a fresh instance in that very slot, finds
/// none of it in the whole memory. With `--reuse-instances` the same two requests find every copy,
/// so the probe can tell.
#[test]
fn a_fresh_instance_in_the_same_slot_reads_nothing_of_the_last_one() {
    let site = site();
    let secret = "k7Qz-40913";
    let run = |extra: &[&str]| {
        let mut args = vec!["--handler", PROBER_WASM, "--max-instances", "1"];
        args.extend_from_slice(extra);
        let server = Server::start(&site.root, &args);
        let mut client = server.connect();
        let mut ask = |target: String| {
            client.send(format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
            let response = client.response(false);
            assert_eq!(response.status, 200, "{target}: {}", response.text());
            response.text()
        };
        let planted = ask(format!("/plant?{secret}"));
        (planted, ask(format!("/look?{secret}")))
    };
    let planted = 40 + 256;
    let fresh = run(&[]);
    assert_eq!(fresh, (format!("planted {planted}"), "found 0".to_owned()));
    let reused = run(&["--reuse-instances", "2"]);
    assert_eq!(
        reused,
        (format!("planted {planted}"), format!("found {planted}"))
    );
}

#[test]
fn looks_are_bounded_and_the_host_looks_at_the_target_first() {
    let site = site();
    let server = Server::start(&site.root, &["--handler", LOOKER_WASM]);
    // Before the first call the host stat'ed the target, `seen` (which is no file).
    assert_eq!(probe(&server, "/seen"), "stat seen err not-found");
    assert_eq!(probe(&server, "/seen?x"), "stat seen err not-found");
    // Not for a dotfile, which the handler's policy may refuse (the default does), nor
    // for methods other than GET and HEAD, which name no file to serve.
    assert_eq!(probe(&server, "/.hidden/seen"), "none");
    let response = server.request("DELETE /seen HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!(response.text(), "none");
    // 32 looks in one answer are made; 33 are refused, as is an eighth call.
    assert_eq!(probe(&server, "/many?32"), "ok 33");
    assert_eq!(server.get("/many?33").status, 500);
    assert_eq!(server.get("/forever").status, 500);
    for said in [
        "500: the handler failed: it asked for 33 looks in one answer (at most 32)",
        "500: the handler failed: it answered 8 calls with looks and never with a response",
    ] {
        assert!(server.wait_for_log(said).contains(said), "{said}");
    }
    // A request's reads by look come to 4 MiB at most.
    common::write(&site.root, "big.bin", "x".repeat(5 << 20));
    assert_eq!(probe(&server, "/big?4"), format!("ok {}", 4 << 20));
    assert_eq!(server.get("/big?5").status, 500);
    let said = "500: the handler failed: its looks read over 4 MiB";
    assert!(server.wait_for_log(said).contains(said));
    // And the server goes on serving.
    assert_eq!(probe(&server, "/look?a.txt"), "ok file 13");
}
