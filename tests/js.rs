//! The JavaScript handler (guest/js/, built by `guest/build-handlers` twice: js.wasm on
//! SpiderMonkey by componentize-js, js-quickjs.wasm on QuickJS by componentize-qjs, the
//! same guest/js/site.js behind two thin entries) over the real binary: the site's
//! `_redirects` (redirects with splats and placeholders, rewrites) and `_headers`
//! (fields on the paths they name only), and the static basics it must get right
//! besides. Every socket test runs against both builds (`spidermonkey::…` and
//! `quickjs::…`). Also its unit tests under plain node (`node --test`), so that `cargo
//! test` runs them.

mod common;

use std::process::Command;

use common::{SECRET, Server, site, write};

/// One test function per build of the handler, named by its engine.
macro_rules! on_both_engines {
    ($($test:ident),* $(,)?) => {
        mod spidermonkey {
            $(#[test]
            fn $test() {
                super::$test("js");
            })*
        }
        mod quickjs {
            $(#[test]
            fn $test() {
                super::$test("js-quickjs");
            })*
        }
    };
}

on_both_engines!(
    redirects_and_rewrites_follow_the_sites_rules,
    headers_apply_to_the_paths_they_name_only,
    the_static_basics,
    the_operators_policy,
);

const REDIRECTS: &str = "\
# sections that moved
/news/*            /blog/:splat        302
/blog/:year/:slug  /posts/:year-:slug  308
/old               /a.txt
/app/*             /app.html           200
/private/*         /404.html           404
";

const HEADERS: &str = "\
/*
  X-Frame-Options: DENY

/docs/*
  X-Docs: yes
  ! X-Frame-Options
/a.txt
  Content-Type: text/x-plain-special
";

/// The shared site, with the rule files and the page the rewrite serves.
fn rules_site() -> common::Site {
    let site = site();
    write(&site.root, "_redirects", REDIRECTS);
    write(&site.root, "_headers", HEADERS);
    write(
        &site.root,
        "app.html",
        "<!doctype html><title>app</title>\n",
    );
    site
}

/// A server running the build `build` (`js` or `js-quickjs`) of the handler.
fn start(site: &common::Site, build: &str, args: &[&str]) -> Server {
    common::start_built(&site.root, build, args)
}

fn redirects_and_rewrites_follow_the_sites_rules(build: &str) {
    let site = rules_site();
    let server = start(&site, build, &[]);
    let page_404 = std::fs::read(site.root.join("404.html")).unwrap();

    // Redirects: their status and Location, placeholders filled, the query kept.
    for (target, status, location) in [
        ("/news/2024/launch", 302, "/blog/2024/launch"),
        ("/news/x?page=2", 302, "/blog/x?page=2"),
        ("/blog/2024/hello", 308, "/posts/2024-hello"),
        ("/old?a=1", 301, "/a.txt?a=1"),
        // Percent-decoded to match, encoded again in the Location: no header injection.
        (
            "/news/a%0d%0aSet-Cookie:%20x",
            302,
            "/blog/a%0D%0ASet-Cookie:%20x",
        ),
    ] {
        let r = server.get(target);
        assert_eq!(r.status, status, "{target}: {}", r.head);
        assert_eq!(r.header("location"), Some(location), "{target}");
        assert_eq!(r.header("set-cookie"), None, "{target}");
    }
    // A 200 rewrite: the other file's bytes under the URL asked for.
    let r = server.get("/app/users/7");
    assert_eq!(r.status, 200, "{}", r.head);
    assert_eq!(r.body, std::fs::read(site.root.join("app.html")).unwrap());
    assert_eq!(r.header("location"), None);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    // A 404 rewrite: the page, with the rule's status.
    let r = server.get("/private/plans.txt");
    assert_eq!((r.status, r.body.clone()), (404, page_404.clone()));
    // The rule files themselves are never served; other paths are unaffected.
    for target in ["/_redirects", "/_headers", "/%5fheaders"] {
        let r = server.get(target);
        assert_eq!(r.status, 404, "{target}");
        assert_eq!(r.body, page_404, "{target}");
    }
    assert_eq!(server.get("/a.txt").status, 200);
}

fn headers_apply_to_the_paths_they_name_only(build: &str) {
    let site = rules_site();
    let server = start(&site, build, &[]);

    let r = server.get("/b.txt");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-frame-options"), Some("DENY"), "{}", r.head);
    assert_eq!(r.header("x-docs"), None);
    // A later block detaches what an earlier one set.
    let r = server.get("/docs/guide.txt");
    assert_eq!(r.header("x-docs"), Some("yes"), "{}", r.head);
    assert_eq!(r.header("x-frame-options"), None, "{}", r.head);
    // A site field replaces the handler's own, once.
    let r = server.get("/a.txt");
    assert_eq!(r.header("content-type"), Some("text/x-plain-special"));
    assert_eq!(r.head.matches("\r\nContent-Type:").count(), 1, "{}", r.head);
    // The 304 of a matching path carries them too; an error does not.
    let etag = server.get("/b.txt").header("etag").unwrap().to_owned();
    let r = server.get_with("/b.txt", &format!("If-None-Match: {etag}\r\n"));
    assert_eq!(r.status, 304);
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    let r = server.get("/missing.txt");
    assert_eq!(r.status, 404);
    assert_eq!(r.header("x-frame-options"), None, "{}", r.head);
}

fn the_static_basics(build: &str) {
    let site = rules_site();
    let big = common::pattern(100_000);
    write(&site.root, "big.bin", &big);
    let server = start(&site, build, &["--header", "X-Op: yes"]);

    // 200 with its fields; the operator's extra field on every answer.
    let r = server.get("/b.txt");
    assert_eq!((r.status, r.body.as_slice()), (200, &b"hello from b\n"[..]));
    assert_eq!(r.header("content-length"), Some("13"));
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(r.header("server"), Some("sandserve"));
    assert_eq!(r.header("x-op"), Some("yes"));
    assert!(r.header("last-modified").is_some(), "{}", r.head);
    let date = r.header("date").unwrap();
    assert!(httpdate::parse_http_date(date).is_ok(), "{date}");
    // ETag, then 304 for If-None-Match (and for If-Modified-Since without one).
    let etag = r.header("etag").expect("an ETag").to_owned();
    let r = server.get_with("/b.txt", &format!("If-None-Match: {etag}\r\n"));
    assert_eq!(r.status, 304, "{}", r.head);
    assert!(r.body.is_empty());
    assert_eq!(r.header("etag"), Some(etag.as_str()));
    let r = server.get_with("/b.txt", "If-None-Match: \"other\"\r\n");
    assert_eq!(r.status, 200);
    let modified = server
        .get("/b.txt")
        .header("last-modified")
        .unwrap()
        .to_owned();
    let r = server.get_with("/b.txt", &format!("If-Modified-Since: {modified}\r\n"));
    assert_eq!(r.status, 304, "{}", r.head);
    // HEAD: no body, the GET's length; a large body streams whole.
    let mut client = server.connect();
    client.send(b"HEAD /big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
    let r = client.response(true);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("100000"));
    client.send(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
    let r = client.response(false);
    assert!(r.body == big, "{} bytes", r.body.len());
    // One range, and one that cannot be.
    let r = server.get_with("/big.bin", "Range: bytes=10-19\r\n");
    assert_eq!(r.status, 206, "{}", r.head);
    assert_eq!(r.header("content-range"), Some("bytes 10-19/100000"));
    assert_eq!(r.body, &big[10..20]);
    let r = server.get_with("/big.bin", "Range: bytes=100000-\r\n");
    assert_eq!(r.status, 416);
    assert_eq!(r.header("content-range"), Some("bytes */100000"));
    // Directories: a slash added by 301, then the index.
    let r = server.get("/docs?x=1");
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location"), Some("/docs/?x=1"));
    assert_eq!(server.get("/docs/").body, b"docs index\n");
    // 404 with the root's page, and without one.
    let r = server.get("/nope.html");
    assert_eq!(r.status, 404);
    assert_eq!(r.body, std::fs::read(site.root.join("404.html")).unwrap());
    assert_eq!(r.header("x-op"), Some("yes"));
    // 405 with Allow.
    let r = server.request("DELETE /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD"));
    // Out of the root in every spelling, and dotfiles: refused.
    for target in [
        "/../secret.txt",
        "/docs/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/..%2fsecret.txt",
    ] {
        let r = server.get(target);
        assert_eq!(r.status, 400, "{target}");
        assert!(!r.text().contains(SECRET), "{target}");
    }
    for target in ["/.env", "/.git/config", "/%2egit/config"] {
        assert_eq!(server.get(target).status, 403, "{target}");
    }
    std::fs::remove_file(site.root.join("404.html")).unwrap();
    let r = server.get("/nope.html");
    assert_eq!((r.status, r.text().as_str()), (404, "404 Not Found\n"));
}

fn the_operators_policy(build: &str) {
    let site = rules_site();
    let server = start(
        &site,
        build,
        &[
            "--min-user-agent-len",
            "20",
            "--serve-dotfiles",
            "--cache-rule",
            "*.txt=no-cache",
        ],
    );
    let r = server.get_with("/a.txt", "User-Agent: curl/8\r\n");
    assert_eq!(r.status, 403);
    let r = server.get_with("/a.txt", &format!("User-Agent: {}\r\n", common::FIREFOX_UA));
    assert_eq!(r.status, 200, "{}", r.head);
    assert_eq!(r.header("cache-control"), Some("no-cache"));
    let r = server.get_with("/.env", &format!("User-Agent: {}\r\n", common::FIREFOX_UA));
    assert_eq!((r.status, r.body.as_slice()), (200, &b"SECRET_ENV=1\n"[..]));
}

#[test]
fn the_node_unit_tests_pass() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../guest/js/");
    let out = Command::new("node")
        .args(["--test", dir])
        .output()
        .expect("node (v20 or later) runs guest/js's unit tests");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
