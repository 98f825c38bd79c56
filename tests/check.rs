//! `sandserve check` over the real binary and real components: the built-in handler
//! reaches the top level, the seed handler in Python `http`, the naive fixture `seed`,
//! and the faulty fixtures fail the rules they break — the check can fail.

mod common;

use std::process::{Command, Output};

/// `sandserve SUBCOMMAND ARGS…`, with the compiled-handler cache of the other tests, so
/// that a Python component compiles once.
fn sandserve(subcommand: &str, args: &[&str]) -> Output {
    Command::new(common::BIN)
        .arg(subcommand)
        .args(args)
        .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
        .output()
        .unwrap()
}

fn check(file: &str, args: &[&str]) -> Output {
    let mut all = vec![file];
    all.extend_from_slice(args);
    sandserve("check", &all)
}

fn table(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The result column of one rule.
fn result<'a>(table: &'a str, rule: &str) -> &'a str {
    let line = table
        .lines()
        .find(|l| l.starts_with(rule))
        .unwrap_or_else(|| panic!("{rule} in\n{table}"));
    line[rule.len()..]
        .trim_start()
        .split_once("  ")
        .map_or("", |(_, r)| r.trim())
}

#[test]
fn the_shipped_handlers_reach_their_levels() {
    reaches_static(common::BUILT_IN_WASM);

    let seed = common::built_handler("seed-python");
    let out = check(&seed, &["--require", "http"]);
    let text = table(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("level: http"), "{text}");
    assert_eq!(
        result(&text, "a validator, and 304 for If-None-Match"),
        "FAIL: GET /a.txt: no ETag"
    );
    assert_eq!(
        check(&seed, &["--require", "static"]).status.code(),
        Some(1)
    );

    let out = check(common::NAIVE_WASM, &[]);
    let text = table(&out);
    assert!(
        out.status.success() && text.contains("level: seed"),
        "{text}"
    );
    assert!(
        result(&text, "every answer has a Date").starts_with("FAIL"),
        "{text}"
    );
}

#[test]
fn faulty_handlers_fail_the_rules_they_break() {
    let out = check(common::HOSTILE_WASM, &[]);
    let text = table(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("level: none (0 of 13 rules pass)"), "{text}");
    assert_eq!(
        result(&text, "GET of a file: 200 with its bytes"),
        "FAIL: GET /a.txt: not the file's bytes"
    );
    assert_eq!(
        result(&text, "a missing file: 404"),
        "FAIL: GET /missing.txt: 200 instead of 404"
    );

    let out = check(common::TRAPPING_WASM, &[]);
    let text = table(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        result(&text, "a missing file: 404").contains("wasm trap"),
        "{text}"
    );
}

#[test]
fn bad_input_is_one_line_and_status_1() {
    for args in [
        vec!["/nonexistent.wasm"],
        vec![common::BUILT_IN_WASM, "--require", "best"],
    ] {
        let out = Command::new(common::BIN)
            .arg("check")
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
}

#[test]
fn diff_shows_what_two_handlers_answer_differently() {
    let same = sandserve("diff", &[common::BUILT_IN_WASM, common::BUILT_IN_WASM]);
    assert!(same.status.success(), "{}", table(&same));
    assert!(
        table(&same).contains(" requests, 0 differ"),
        "{}",
        table(&same)
    );

    let seed = common::built_handler("seed-python");
    let out = sandserve("diff", &[common::BUILT_IN_WASM, &seed]);
    let text = table(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    // The built-in handler redirects a directory without its slash; the seed serves it.
    let docs = text
        .split("GET /docs HTTP/1.1\n")
        .nth(1)
        .expect("GET /docs differs");
    assert!(docs.starts_with("    status 301 → 200"), "{text}");
    assert!(
        text.contains("GET /a.txt HTTP/1.1 [Range: bytes=0-4]\n    status 206 → 200"),
        "{text}"
    );
    // And nothing a reader would not expect: a plain file has the same status, type,
    // length and body through both, and lacks only the fields the seed never sent; a
    // miss is the same 404 page, less `nosniff`.
    let fields = |line: &str| -> Vec<String> {
        let block = text
            .split(&format!("{line}\n"))
            .nth(1)
            .unwrap_or_else(|| panic!("{line} differs: {text}"));
        block
            .lines()
            .take_while(|l| l.starts_with("    "))
            .map(|l| l.split(':').next().unwrap().trim().to_owned())
            .collect()
    };
    let missing = [
        "- x-content-type-options",
        "- vary",
        "- etag",
        "- last-modified",
        "- accept-ranges",
    ];
    assert_eq!(fields("GET /a.txt HTTP/1.1"), missing, "{text}");
    assert_eq!(fields("HEAD /a.txt HTTP/1.1"), missing, "{text}");
    assert_eq!(
        fields("GET /missing.txt HTTP/1.1"),
        ["- x-content-type-options"],
        "{text}"
    );

    // Recorded requests against a site of one's own.
    let site = common::site();
    let requests = site.parent.path().join("requests.jsonl");
    std::fs::write(
        &requests,
        "{\"head\": \"GET /a.txt HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n\"}\n\n{\"head\": \"GET /b.txt HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n\"}\n",
    )
    .unwrap();
    let args = [
        "--requests",
        requests.to_str().unwrap(),
        "--root",
        site.root.to_str().unwrap(),
    ];
    let mut all = vec![common::BUILT_IN_WASM, common::NAIVE_WASM];
    all.extend_from_slice(&args);
    let text = table(&sandserve("diff", &all));
    assert!(text.contains("2 requests, 2 differ"), "{text}");
    assert!(
        text.contains("GET /b.txt HTTP/1.1\n    - server: sandserve"),
        "{text}"
    );

    // A file that is not JSON lines of heads: one line, status 1.
    std::fs::write(&requests, "GET / HTTP/1.1\n").unwrap();
    let mut all = vec![common::BUILT_IN_WASM, common::NAIVE_WASM];
    all.extend_from_slice(&args);
    let out = sandserve("diff", &all);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
}

/// `file` passes every rule: level `static`, 13 of 13.
fn reaches_static(file: &str) {
    let out = check(file, &["--require", "static"]);
    let text = table(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("level: static (13 of 13 rules pass)"),
        "{text}"
    );
}

#[test]
fn new_refuses_what_it_cannot_do() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("taken"), "x").unwrap();
    for args in [
        vec!["--lang", "cobol", "fresh"],
        vec!["--lang", "rust", "."],
    ] {
        let out = Command::new(common::BIN)
            .current_dir(tmp.path())
            .arg("new")
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr).lines().count(),
            1,
            "{args:?}"
        );
    }
}

#[test]
fn the_js_handler_reaches_static() {
    reaches_static(&common::built_handler("js"));
}

#[test]
fn the_js_handler_on_quickjs_reaches_static_too() {
    // The same guest/js/site.js as `js`, built by componentize-qjs (guest/build-handlers).
    reaches_static(&common::built_handler("js-quickjs"));
}

#[test]
fn the_c_seed_reaches_http_and_answers_as_the_python_seed() {
    // guest/c/seed.c, built by guest/build-handlers with `sandserve build guest/c`.
    let c = common::built_handler("seed-c");
    let out = check(&c, &["--require", "http"]);
    let text = table(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("level: http (11 of 13 rules pass)"), "{text}");
    // Request for request the same answers as the Python seed (the diff's corpus).
    let out = Command::new(common::BIN)
        .args(["diff", &common::built_handler("seed-python"), &c])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
