//! `--mount PREFIX=FILE.wasm` over the real binary: the seed's Python logic serving
//! `/py/` beside the built-in handler, the prefix taken off and put back on `Location`,
//! the host's slash redirect, and a mount swapped and rolled back alone.

mod common;

use std::process::Command;

use common::{BUILT_IN_WASM, NAIVE_WASM, Server, admin, site};
use serde_json::Value;

fn get(server: &Server, target: &str) -> common::Response {
    server.request(&format!(
        "GET {target} HTTP/1.1\r\nHost: x\r\nUser-Agent: curl/8\r\nConnection: close\r\n\r\n"
    ))
}

#[test]
fn the_python_seed_serves_py_beside_the_built_in_handler() {
    let site = site();
    let seed = common::built_handler("seed-python");
    let server = Server::start(
        &site.root,
        &[
            "--mount",
            &format!("/py/={seed}"),
            "--mount",
            &format!("/b/={BUILT_IN_WASM}"),
        ],
    );
    let page_404 = std::fs::read(site.root.join("404.html")).unwrap();

    // The same file through both: the built-in handler gives a validator, the seed's
    // logic none.
    let built_in = get(&server, "/a.txt");
    let python = get(&server, "/py/a.txt");
    assert_eq!(
        (built_in.status, python.status),
        (200, 200),
        "{}",
        python.head
    );
    assert_eq!(built_in.body, python.body);
    assert!(built_in.header("etag").is_some(), "{}", built_in.head);
    assert_eq!(python.header("etag"), None, "{}", python.head);
    // The mount's root is the site's root: `/py/` is its index, its misses its 404 page.
    let index = get(&server, "/py/");
    assert_eq!(index.status, 200);
    assert!(index.text().contains("<h1>home</h1>"), "{}", index.text());
    let missing = get(&server, "/py/missing.txt");
    assert_eq!((missing.status, missing.body), (404, page_404));
    // Whole segments only: `/python` is the --handler's, not a mount's.
    let other = get(&server, "/python/a.txt");
    assert_eq!(other.status, 404);
    assert!(other.header("etag").is_none() && other.header("server").is_some());

    // The prefix without its slash: the host's 301, query kept.
    let bare = get(&server, "/py?x=1");
    assert_eq!(bare.status, 301, "{}", bare.head);
    assert_eq!(bare.header("location"), Some("/py/?x=1"));
    assert_eq!(bare.header("content-length"), Some("0"));

    // A mounted handler's path Location is put back under its prefix: the built-in
    // handler at /b/ adds the slash of a directory as /b/docs/, not /docs/.
    let dir = get(&server, "/b/docs");
    assert_eq!(dir.status, 301, "{}", dir.head);
    assert_eq!(dir.header("location"), Some("/b/docs/"));
    let docs = get(&server, "/b/docs/");
    assert_eq!(docs.status, 200, "{}", docs.head);

    // Keep-alive across slots: one connection, three handlers.
    let mut client = server.connect();
    for target in ["/a.txt", "/py/a.txt", "/b/a.txt"] {
        client.send(format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
        let r = client.response(false);
        assert_eq!(
            (r.status, r.body.as_slice()),
            (200, &b"hello from a\n"[..]),
            "{target}"
        );
    }
    let log = server.log();
    assert!(log.contains("; /py/ "), "{log}");
}

#[test]
fn a_mount_is_swapped_and_rolled_back_alone() {
    let site = site();
    let socket = site.parent.path().join("admin.sock");
    let server = Server::start(
        &site.root,
        &[
            "--admin",
            socket.to_str().unwrap(),
            "--handler",
            BUILT_IN_WASM,
            "--mount",
            &format!("/m/={BUILT_IN_WASM}"),
        ],
    );
    let naive = |r: &common::Response| r.header("x-handler") == Some("naive");
    assert!(!naive(&get(&server, "/m/a.txt")));

    let out = admin(&socket, &["swap", "--mount", "/m/", NAIVE_WASM]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("swapped") && text.contains("(mount /m/)"),
        "{text}"
    );
    assert!(naive(&get(&server, "/m/a.txt")));
    assert!(
        !naive(&get(&server, "/a.txt")),
        "the --handler slot is untouched"
    );

    let out = admin(&socket, &["status", "--json"]);
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mount = &status["mounts"][0];
    assert_eq!(mount["prefix"], "/m/");
    assert_eq!(mount["live"]["source"], NAIVE_WASM);
    assert_eq!(mount["kept"].as_array().unwrap().len(), 1);
    assert_eq!(status["live"]["source"], BUILT_IN_WASM);
    assert_eq!(status["kept"].as_array().unwrap().len(), 0);
    // Each slot has its own last swap.
    assert_eq!(mount["last_swap"]["outcome"], "swapped");
    assert_eq!(mount["last_swap"]["mount"], "/m/");
    assert_eq!(status["last_swap"], Value::Null);
    // `?mount` without a prefix is refused, not taken for the --handler slot.
    let out = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-X",
            "POST",
            "--unix-socket",
        ])
        .arg(&socket)
        .args(["--data-binary", NAIVE_WASM, "http://admin/swap?mount"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "400");

    // A rollback of the mount leaves the --handler slot as it is, and the other way.
    let out = admin(&socket, &["rollback", "--mount", "/m"]);
    assert!(out.status.success(), "{out:?}");
    assert!(!naive(&get(&server, "/m/a.txt")));
    let out = admin(&socket, &["rollback"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("no previous version"));

    // A mount that is not there is refused, one line, exit 1.
    let out = admin(&socket, &["swap", "--mount", "/nope/", NAIVE_WASM]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("refused") && text.contains("no --mount /nope/"),
        "{text}"
    );
    assert!(!naive(&get(&server, "/m/a.txt")));
}

#[test]
fn bad_mounts_are_one_line_and_status_1() {
    let site = site();
    for (args, expected) in [
        (vec!["--mount", "/py/"], "expected PREFIX=FILE.wasm"),
        (vec!["--mount", "/=x.wasm"], "whole segments"),
        (vec!["--mount", "/a/../b/=x.wasm"], "whole segments"),
        (vec!["--mount", "/py/=/no/such.wasm"], "is not a file"),
        (
            vec![
                "--mount",
                &format!("/py/={BUILT_IN_WASM}") as &str,
                "--mount",
                &format!("/py={BUILT_IN_WASM}"),
            ],
            "mounted twice",
        ),
        (vec!["--watch"], "no --handler or --mount file"),
    ] {
        let root = site.root.to_str().unwrap();
        let mut all = vec!["--root", root, "--listen", "127.0.0.1:0"];
        all.extend_from_slice(&args);
        let err = common::refuses(&all);
        assert!(err.contains(expected), "{args:?}: {err}");
    }
}
