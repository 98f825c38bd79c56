//! What the operator can turn on: directory listings (HTML and JSON), a fallback for
//! single-page apps, Cache-Control rules and extra headers — and the clear refusals of
//! settings that would break responses.

mod common;

use common::{Server, site, write};

#[test]
fn directory_listings_in_html_and_json() {
    let site = site();
    write(&site.root, "files/b <&> \"q\".txt", "12345");
    write(&site.root, "files/a.txt", "a");
    write(&site.root, "files/.hidden", "h");
    write(&site.root, "files/sub/x.txt", "x");
    write(&site.root, "files/héllo.txt", "h");
    let server = Server::start(&site.root, &["--list-dirs"]);
    let r = server.get("/files/");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    let page = r.text();
    assert!(page.contains("<title>Index of /files/</title>"), "{page}");
    assert!(page.contains("<a href=\"../\">../</a>"));
    assert!(page.contains("<a href=\"sub/\">sub/</a>"));
    assert!(
        page.contains(
            "<a href=\"b%20%3C&amp;%3E%20%22q%22.txt\">b &lt;&amp;&gt; &quot;q&quot;.txt</a>"
        ),
        "{page}"
    );
    assert!(
        page.contains("<a href=\"h%C3%A9llo.txt\">héllo.txt</a>"),
        "{page}"
    );
    assert!(!page.contains("hidden"));
    // Directories first, then files by name.
    let order: Vec<usize> = ["sub/", "a.txt", "b ", "héllo"]
        .iter()
        .map(|n| {
            page.find(&format!(">{n}"))
                .unwrap_or_else(|| panic!("{n} missing"))
        })
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    // Every link of the page works.
    for href in [
        "sub/",
        "a.txt",
        "b%20%3C%26%3E%20%22q%22.txt",
        "h%C3%A9llo.txt",
    ] {
        assert_eq!(server.get(&format!("/files/{href}")).status, 200, "{href}");
    }

    let r = server.request(
        "GET /files/ HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("vary"), Some("Accept"));
    let json = r.text();
    assert!(
        json.starts_with(
            "{\"path\":\"/files/\",\"entries\":[{\"name\":\"sub\",\"type\":\"directory\""
        ),
        "{json}"
    );
    assert!(
        json.contains(
            "{\"name\":\"b <&> \\\"q\\\".txt\",\"type\":\"file\",\"size\":5,\"modified\":"
        ),
        "{json}"
    );
    // A directory with an index is still served its index; the root's listing has no
    // parent link; off by default.
    assert_eq!(server.get("/docs/").text(), "docs index\n");
    let root = server.get("/empty/");
    assert_eq!(root.status, 200);
    assert!(!server.get("/files/").text().contains(".hidden"));
    let plain = Server::start(&site.root, &[]);
    assert_eq!(plain.get("/files/").status, 403);
}

#[test]
fn fallback_serves_routes_but_not_missing_assets() {
    let site = site();
    write(&site.root, "app.html", "<div id=app></div>\n");
    let server = Server::start(&site.root, &["--fallback", "app.html"]);
    for route in ["/users/42", "/settings", "/deep/ly/nested/"] {
        let r = server.get(route);
        assert_eq!(
            (r.status, r.text().as_str()),
            (200, "<div id=app></div>\n"),
            "{route}"
        );
    }
    for asset in ["/app.js.map", "/missing.css", "/img/logo.png"] {
        let r = server.get(asset);
        assert_eq!(r.status, 404, "{asset}");
        assert_eq!(r.text(), "<!doctype html><title>custom 404</title>\n");
    }
    // Real files are still themselves.
    assert_eq!(server.get("/a.txt").text(), "hello from a\n");
}

#[test]
fn cache_control_rules_and_extra_headers() {
    let site = site();
    write(&site.root, "assets/app.3f9a.js", "x");
    let server = Server::start(
        &site.root,
        &[
            "--cache-rule",
            "assets/**=max-age=31536000, immutable",
            "--cache-rule",
            "*.css=max-age=600",
            "--cache-control",
            "no-cache",
            "--header",
            "Permissions-Policy: camera=()",
            "--header",
            "X-Frame-Options: DENY",
        ],
    );
    for (path, value) in [
        ("/assets/app.3f9a.js", "max-age=31536000, immutable"),
        ("/style.css", "max-age=600"),
        ("/a.txt", "no-cache"),
        ("/", "no-cache"),
    ] {
        let r = server.get(path);
        assert_eq!(r.header("cache-control"), Some(value), "{path}");
        assert_eq!(r.header("permissions-policy"), Some("camera=()"), "{path}");
        assert_eq!(r.header("x-frame-options"), Some("DENY"), "{path}");
    }
    // Partial answers too, multipart ones included.
    let r = server.get_with("/a.txt", "Range: bytes=0-1,5-6\r\n");
    assert_eq!(r.status, 206);
    assert_eq!(r.header("cache-control"), Some("no-cache"));
    // Errors carry the extra headers too, but no Cache-Control.
    let r = server.get("/missing");
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    assert_eq!(r.header("cache-control"), None);
    // None by default.
    let plain = Server::start(&site.root, &[]);
    assert_eq!(plain.get("/a.txt").header("cache-control"), None);
}

#[test]
fn bad_settings_are_refused_at_start() {
    let site = site();
    let root = site.root.to_str().unwrap();
    for (args, expected) in [
        (
            vec!["--header", "X-Bad: a\r\nSet-Cookie: x"],
            "not a valid field value",
        ),
        (
            vec!["--header", "Content-Length: 5"],
            "sets Content-Length itself",
        ),
        (vec!["--header", "No colon"], "expected 'Name: value'"),
        (vec!["--cache-rule", "no-equals"], "expected GLOB=VALUE"),
        (
            vec!["--fallback", "../secret.txt"],
            "not a file below the root",
        ),
        (vec!["--fallback", "nope.html"], "not a file below the root"),
    ] {
        let out = std::process::Command::new(common::BIN)
            .args(["--root", root, "--listen", "127.0.0.1:0"])
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
}
