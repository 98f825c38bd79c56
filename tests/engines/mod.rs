//! One list of cases for the built-in handler's logic, run on every engine that serves
//! it: sandserve itself and the `wasi:http` component under `wasmtime serve`
//! (tests/wasi_http.rs), `wash dev` and two `wash host`s of a wasmCloud lattice
//! (tests/wasmcloud.rs). A case starts its server through the engine with sandserve's
//! flag names for its settings, and asserts the same answers whoever serves them:
//! files, index and slash redirect, error pages, dotfiles, traversal, conditional
//! requests, ranges, precompressed siblings, listings, methods, HEAD and the policy.

#![allow(dead_code)]

use std::path::Path;

use crate::common::{Client, SECRET, Server, TRAVERSALS, assert_refused, pattern, site, write};

/// Where the logic runs.
pub trait Engine {
    /// A server over `root` with `settings`: sandserve flag names without `--` and
    /// their values (`"1"` for a switch).
    fn start(&self, root: &Path, settings: &[(&str, &str)]) -> Server;
}

/// `settings` as the component reads them: `SANDSERVE_*` variables, a repeated flag one
/// line each.
pub fn variables(settings: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = Vec::new();
    for &(flag, value) in settings {
        let name = format!("SANDSERVE_{}", flag.replace('-', "_").to_uppercase());
        match env.iter_mut().find(|(n, _)| *n == name) {
            Some((_, lines)) => *lines = format!("{lines}\n{value}"),
            None => env.push((name, value.to_owned())),
        }
    }
    env
}

/// A case: its checks against a server the engine starts.
pub type Case = fn(&dyn Engine);

/// Every case, by name.
pub const CASES: &[(&str, Case)] = &[
    (
        "files_with_their_types_and_validators",
        files_with_their_types_and_validators,
    ),
    (
        "a_large_file_arrives_whole_and_ranged",
        a_large_file_arrives_whole_and_ranged,
    ),
    (
        "index_files_and_the_slash_redirect",
        index_files_and_the_slash_redirect,
    ),
    (
        "error_pages_with_their_status",
        error_pages_with_their_status,
    ),
    (
        "dotfiles_are_refused_unless_allowed",
        dotfiles_are_refused_unless_allowed,
    ),
    (
        "traversal_and_links_out_are_refused",
        traversal_and_links_out_are_refused,
    ),
    ("conditional_requests", conditional_requests),
    ("ranges", ranges),
    ("precompressed_siblings", precompressed_siblings),
    ("listings", listings),
    ("methods_and_head", methods_and_head),
    ("the_operators_policy", the_operators_policy),
    ("odd_names_and_a_fifo", odd_names_and_a_fifo),
];

/// One `#[test]` per case, on the engine `$engine`.
macro_rules! engine_cases {
    ($engine:expr) => {
        engine_cases!(@each $engine;
            files_with_their_types_and_validators,
            a_large_file_arrives_whole_and_ranged,
            index_files_and_the_slash_redirect,
            error_pages_with_their_status,
            dotfiles_are_refused_unless_allowed,
            traversal_and_links_out_are_refused,
            conditional_requests,
            ranges,
            precompressed_siblings,
            listings,
            methods_and_head,
            the_operators_policy,
            odd_names_and_a_fifo,
        );
    };
    (@each $engine:expr; $($case:ident,)*) => {
        $(#[test]
        fn $case() {
            crate::engines::$case(&$engine);
        })*
    };
}

pub fn files_with_their_types_and_validators(engine: &dyn Engine) {
    let site = site();
    let s = engine.start(&site.root, &[]);
    let r = s.get("/a.txt");
    assert_eq!(r.status, 200, "{}", r.head);
    assert_eq!(r.body, b"hello from a\n");
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(r.header("content-length"), Some("13"));
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
    assert_eq!(r.header("server"), Some("sandserve"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert!(r.header("etag").is_some_and(|e| e.starts_with('"')));
    assert!(
        r.header("last-modified")
            .is_some_and(|d| d.ends_with(" GMT"))
    );
    assert!(r.header("date").is_some());
    for (path, kind) in [
        ("/style.css", "text/css"),
        ("/app.js", "text/javascript"),
        ("/logo.png", "image/png"),
        ("/mod.wasm", "application/wasm"),
    ] {
        let r = s.get(path);
        assert_eq!(r.status, 200, "{path}");
        let got = r.header("content-type").unwrap_or("");
        assert!(got.starts_with(kind), "{path}: {got}");
    }
    assert_eq!(s.get("/h%C3%A9llo%20world.txt").body, b"unicode name\n");
    assert_eq!(s.get("/a.txt?v=2").body, b"hello from a\n");
}

pub fn a_large_file_arrives_whole_and_ranged(engine: &dyn Engine) {
    let site = site();
    let big = pattern(5 << 20);
    write(&site.root, "big.bin", &big);
    let s = engine.start(&site.root, &[]);
    let r = s.get("/big.bin");
    assert_eq!(r.status, 200);
    assert!(r.body == big, "the 5 MiB body differs");
    let r = s.get_with("/big.bin", "Range: bytes=3000000-3999999\r\n");
    assert_eq!(r.status, 206);
    assert!(
        r.body == big[3_000_000..4_000_000],
        "the ranged body differs"
    );
}

pub fn index_files_and_the_slash_redirect(engine: &dyn Engine) {
    let site = site();
    let s = engine.start(&site.root, &[]);
    assert_eq!(
        s.get("/").body,
        b"<!doctype html><title>home</title><h1>home</h1>\n"
    );
    let r = s.get("/docs");
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location"), Some("/docs/"));
    let r = s.get("/docs?page=2&x=%20");
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location"), Some("/docs/?page=2&x=%20"));
    let r = s.get("/docs/");
    assert_eq!((r.status, r.body.as_slice()), (200, &b"docs index\n"[..]));
    assert_eq!(s.get("/docs/guide.txt").body, b"guide\n");
}

pub fn error_pages_with_their_status(engine: &dyn Engine) {
    let site = site();
    write(
        &site.root,
        "403.html",
        "<!doctype html><title>custom 403</title>\n",
    );
    let s = engine.start(&site.root, &[]);
    let r = s.get("/no/such/file.txt");
    assert_eq!(r.status, 404);
    assert_eq!(r.body, b"<!doctype html><title>custom 404</title>\n");
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    let r = s.get("/empty/");
    assert_eq!(r.status, 403, "a directory with no index and no listing");
    assert_eq!(r.body, b"<!doctype html><title>custom 403</title>\n");
    std::fs::remove_file(site.root.join("404.html")).unwrap();
    let r = s.get("/gone.txt");
    assert_eq!(r.status, 404, "without the page, a 404 of our own");
    assert!(!r.body.is_empty());
}

pub fn dotfiles_are_refused_unless_allowed(engine: &dyn Engine) {
    let site = site();
    let s = engine.start(&site.root, &[]);
    for path in ["/.env", "/.git/config", "/.git/", "/docs/.hidden"] {
        let r = s.get(path);
        assert_eq!(r.status, 403, "{path}");
        assert!(!r.text().contains("SECRET_ENV"), "{path}");
    }
    let s = engine.start(&site.root, &[("serve-dotfiles", "1")]);
    assert_eq!(s.get("/.env").body, b"SECRET_ENV=1\n");
}

pub fn traversal_and_links_out_are_refused(engine: &dyn Engine) {
    let site = site();
    let outside = site.parent.path().join("secret.txt");
    std::os::unix::fs::symlink(&outside, site.root.join("link-out.txt")).unwrap();
    std::os::unix::fs::symlink(site.parent.path(), site.root.join("dir-out")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", site.root.join("passwd")).unwrap();
    std::os::unix::fs::symlink("a.txt", site.root.join("alias.txt")).unwrap();
    write(&site.root, "files/x.txt", "x");
    let s = engine.start(&site.root, &[("list-dirs", "1")]);
    for target in TRAVERSALS.iter().chain(&[
        "/link-out.txt",
        "/dir-out/secret.txt",
        "/dir-out/",
        "/passwd",
    ]) {
        assert_refused(&s, target);
    }
    // A link that stays inside is an ordinary file; a listing leaves out the others.
    assert_eq!(s.get("/alias.txt").body, b"hello from a\n");
    std::os::unix::fs::symlink(&outside, site.root.join("files/out.txt")).unwrap();
    std::os::unix::fs::symlink("../a.txt", site.root.join("files/in.txt")).unwrap();
    let listing = s.get("/files/").text();
    assert!(listing.contains("in.txt"), "{listing}");
    assert!(
        !listing.contains("out.txt") && !listing.contains(SECRET),
        "{listing}"
    );
}

pub fn conditional_requests(engine: &dyn Engine) {
    let site = site();
    let s = engine.start(&site.root, &[]);
    let first = s.get("/a.txt");
    let etag = first.header("etag").unwrap();
    let modified = first.header("last-modified").unwrap();
    let r = s.get_with("/a.txt", &format!("If-None-Match: {etag}\r\n"));
    assert_eq!(r.status, 304);
    assert!(r.body.is_empty());
    assert_eq!(r.header("etag"), Some(etag));
    assert_eq!(r.header("content-length"), None, "a 304 has no length");
    let r = s.get_with("/a.txt", &format!("If-None-Match: \"other\", {etag}\r\n"));
    assert_eq!(r.status, 304, "any of a list");
    assert_eq!(
        s.get_with("/a.txt", "If-None-Match: \"other\"\r\n").status,
        200
    );
    let r = s.get_with("/a.txt", &format!("If-Modified-Since: {modified}\r\n"));
    assert_eq!(r.status, 304);
    let r = s.get_with(
        "/a.txt",
        "If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n",
    );
    assert_eq!(r.status, 200);
    assert_eq!(s.get_with("/a.txt", "If-Match: \"nope\"\r\n").status, 412);
    let r = s.get_with(
        "/a.txt",
        "If-Unmodified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n",
    );
    assert_eq!(r.status, 412);
}

pub fn ranges(engine: &dyn Engine) {
    let site = site();
    let data = pattern(10_000);
    write(&site.root, "p.bin", &data);
    let s = engine.start(&site.root, &[]);
    let r = s.get_with("/p.bin", "Range: bytes=0-99\r\n");
    assert_eq!(r.status, 206);
    assert_eq!(r.header("content-range"), Some("bytes 0-99/10000"));
    assert_eq!(r.body, &data[..100]);
    let r = s.get_with("/p.bin", "Range: bytes=-10\r\n");
    assert_eq!((r.status, r.body.as_slice()), (206, &data[9990..]));
    let r = s.get_with("/p.bin", "Range: bytes=9000-\r\n");
    assert_eq!(r.header("content-range"), Some("bytes 9000-9999/10000"));
    assert_eq!(r.body, &data[9000..]);
    let r = s.get_with("/p.bin", "Range: bytes=0-9,5000-5009\r\n");
    assert_eq!(r.status, 206);
    let kind = r.header("content-type").unwrap().to_owned();
    let boundary = kind
        .strip_prefix("multipart/byteranges; boundary=")
        .unwrap_or_else(|| panic!("{kind}"));
    let body = r.body;
    let parts = body
        .windows(boundary.len())
        .filter(|w| *w == boundary.as_bytes());
    assert_eq!(parts.count(), 3, "two parts and the closing delimiter");
    for (start, end) in [(0, 10), (5000, 5010)] {
        let slice = &data[start..end];
        assert!(body.windows(10).any(|w| w == slice), "part {start}-{end}");
    }
    let r = s.get_with("/p.bin", "Range: bytes=20000-\r\n");
    assert_eq!(r.status, 416);
    assert_eq!(r.header("content-range"), Some("bytes */10000"));
    let r = s.get_with("/p.bin", "Range: bytes=0-9\r\nIf-Range: \"stale\"\r\n");
    assert_eq!((r.status, r.body.len()), (200, 10_000), "If-Range not met");
}

pub fn precompressed_siblings(engine: &dyn Engine) {
    let site = site();
    write(&site.root, "app.js.gz", b"\x1f\x8bGZIP-BYTES");
    write(&site.root, "app.js.br", b"BROTLI-BYTES");
    let s = engine.start(&site.root, &[]);
    let r = s.get_with("/app.js", "Accept-Encoding: gzip\r\n");
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_eq!(r.body, b"\x1f\x8bGZIP-BYTES");
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(r.header("vary").unwrap().contains("Accept-Encoding"));
    let r = s.get_with("/app.js", "Accept-Encoding: gzip, br\r\n");
    assert_eq!(r.header("content-encoding"), Some("br"));
    assert_eq!(r.body, b"BROTLI-BYTES");
    let r = s.get("/app.js");
    assert_eq!(r.header("content-encoding"), None);
    assert_eq!(r.body, b"console.log('hi');\n");
}

pub fn listings(engine: &dyn Engine) {
    let site = site();
    write(&site.root, "files/x.txt", "x");
    write(&site.root, "files/y <&>.txt", "y");
    let off = engine.start(&site.root, &[]);
    assert_eq!(off.get("/files/").status, 403);
    let s = engine.start(&site.root, &[("list-dirs", "1")]);
    let r = s.get("/files/");
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    let html = r.text();
    assert!(html.contains("x.txt"), "{html}");
    assert!(
        html.contains("y &lt;&amp;&gt;.txt"),
        "names escaped: {html}"
    );
    let r = s.get_with("/files/", "Accept: application/json\r\n");
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    assert!(r.text().contains("\"x.txt\""), "{}", r.text());
    assert_eq!(s.get("/empty/").status, 200);
}

pub fn methods_and_head(engine: &dyn Engine) {
    let site = site();
    let s = engine.start(&site.root, &[]);
    let host = s.host().to_owned();
    let r = s.request(&format!(
        "POST /a.txt HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    ));
    assert_eq!(r.status, 405);
    assert!(r.header("allow").unwrap().contains("GET"));
    let r = s.request(&format!(
        "OPTIONS /a.txt HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    ));
    assert!(r.header("allow").unwrap().contains("HEAD"));
    // HEAD: the GET's head, its length included, and no body; the connection goes on.
    let mut c = Client::connect(s.addr);
    c.send(format!("HEAD /a.txt HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes());
    let head = c.response(true);
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("13"));
    c.send(format!("GET /b.txt HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes());
    assert_eq!(
        c.response(false).body,
        b"hello from b\n",
        "after HEAD, no stray body"
    );
    c.send(format!("HEAD /missing HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes());
    assert_eq!(c.response(true).status, 404);
    c.send(format!("GET /a.txt HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes());
    assert_eq!(c.response(false).body, b"hello from a\n");
}

pub fn the_operators_policy(engine: &dyn Engine) {
    let site = site();
    write(&site.root, "app/index.html", "spa\n");
    let s = engine.start(
        &site.root,
        &[
            ("min-user-agent-len", "20"),
            ("header", "X-Frame-Options: DENY"),
            ("header", "Permissions-Policy: camera=()"),
            ("cache-rule", "*.css=max-age=60"),
            ("cache-control", "no-cache"),
            ("fallback", "app/index.html"),
        ],
    );
    let ua = "User-Agent: a-long-enough-user-agent/1.0\r\n";
    assert_eq!(s.get_with("/a.txt", "User-Agent: short\r\n").status, 403);
    assert_eq!(s.get("/a.txt").status, 403, "no User-Agent at all");
    let r = s.get_with("/a.txt", ua);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    assert_eq!(r.header("permissions-policy"), Some("camera=()"));
    assert_eq!(r.header("cache-control"), Some("no-cache"));
    let r = s.get_with("/style.css", ua);
    assert_eq!(r.header("cache-control"), Some("max-age=60"));
    let r = s.get_with("/some/route", ua);
    assert_eq!((r.status, r.body.as_slice()), (200, &b"spa\n"[..]));
    assert_eq!(s.get_with("/missing.png", ua).status, 404);
}

/// A FIFO in the root is refused at once (never opened: an open would wait for a
/// writer), and a name no file can have is a 404, not a failure.
pub fn odd_names_and_a_fifo(engine: &dyn Engine) {
    let site = site();
    let fifo = site.root.join("pipe");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    let s = engine.start(&site.root, &[]);
    let r = s.get("/pipe");
    assert!(matches!(r.status, 403 | 404), "{}", r.head);
    let long = "x".repeat(300);
    assert_eq!(s.get(&format!("/{long}")).status, 404);
    assert_eq!(s.get(&format!("/{long}/a.txt")).status, 404);
    assert_eq!(s.get("/a.txt").status, 200, "still serving");
}
