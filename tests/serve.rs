//! Serving files: status, headers, bodies, directories, decoding, error pages and the
//! seed server's behaviour, over real sockets against the real binary and component.

mod common;

use common::{FIREFOX_UA, Server, pattern, site, write};

#[test]
fn serves_a_file_with_its_headers() {
    let site = site();
    let server = Server::start(&site.root, &[]);
    let r = server.get("/a.txt");
    assert_eq!(r.status, 200);
    assert!(r.head.starts_with("HTTP/1.1 200 OK\r\n"), "{}", r.head);
    assert_eq!(r.body, b"hello from a\n");
    assert_eq!(r.header("content-length"), Some("13"));
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(r.header("server"), Some("sandserve"));
    let date = r.header("date").expect("Date");
    assert!(httpdate_like(date), "{date}");
    let modified = r.header("last-modified").expect("Last-Modified");
    assert!(httpdate_like(modified), "{modified}");
}

fn httpdate_like(v: &str) -> bool {
    // e.g. "Thu, 26 Nov 2026 08:33:51 GMT"
    v.len() == 29 && v.ends_with(" GMT") && v.as_bytes()[3] == b','
}

#[test]
fn content_types_by_extension() {
    let site = site();
    let server = Server::start(&site.root, &[]);
    for (path, ty) in [
        ("/", "text/html; charset=utf-8"),
        ("/style.css", "text/css; charset=utf-8"),
        ("/logo.png", "image/png"),
        ("/mod.wasm", "application/wasm"),
    ] {
        assert_eq!(server.get(path).header("content-type"), Some(ty), "{path}");
    }
    let js = server.get("/app.js");
    assert!(
        js.header("content-type")
            .unwrap()
            .ends_with("javascript; charset=utf-8"),
        "{}",
        js.head
    );
}

#[test]
fn head_sends_the_get_head_without_a_body() {
    let site = site();
    let server = Server::start(&site.root, &[]);
    let get = server.get("/a.txt");
    // On one connection: if HEAD sent a body, the GET's status line would not come next.
    let mut client = server.connect();
    client.send(b"HEAD /a.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /b.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    let head = client.response(true);
    let next = client.response(false);
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("13"));
    assert_eq!(head.header("content-type"), get.header("content-type"));
    assert_eq!(head.header("last-modified"), get.header("last-modified"));
    assert_eq!(next.body, b"hello from b\n");
}

#[test]
fn directories_indexes_and_redirects() {
    let site = site();
    let server = Server::start(&site.root, &[]);
    assert_eq!(
        server.get("/").body,
        std::fs::read(site.root.join("index.html")).unwrap()
    );
    assert_eq!(server.get("/docs/").body, b"docs index\n");
    let r = server.get("/docs");
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location"), Some("/docs/"));
    let r = server.get("/docs?lang=en&x=%20");
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location"), Some("/docs/?lang=en&x=%20"));
    // A directory without an index is refused, as nginx does without autoindex.
    assert_eq!(server.get("/empty/").status, 403);
    assert_eq!(server.get("/a.txt/").status, 404);
}

#[test]
fn query_does_not_select_a_file_and_paths_are_decoded_once() {
    let site = site();
    let server = Server::start(&site.root, &[]);
    assert_eq!(server.get("/a.txt?file=b.txt").body, b"hello from a\n");
    assert_eq!(
        server.get("/h%C3%A9llo%20world.txt").body,
        b"unicode name\n"
    );
    assert_eq!(server.get("/%61.txt").body, b"hello from a\n");
    // Decoded once: %2561 is the literal name "%61.txt", which does not exist.
    assert_eq!(server.get("/%2561.txt").status, 404);
    // Not UTF-8 after decoding.
    assert_eq!(server.get("/%ff.txt").status, 400);
}

#[test]
fn not_found_uses_the_roots_404_page_with_status_404() {
    let site = site();
    let server = Server::start(&site.root, &[]);
    let r = server.get("/missing.html");
    assert_eq!(r.status, 404);
    assert_eq!(r.body, std::fs::read(site.root.join("404.html")).unwrap());
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    let head =
        server.request("HEAD /missing.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!(head.status, 404);
    assert!(head.body.is_empty());
}

#[test]
fn not_found_without_a_404_page_gets_a_built_in_one() {
    let site = site();
    std::fs::remove_file(site.root.join("404.html")).unwrap();
    let server = Server::start(&site.root, &[]);
    let r = server.get("/missing.html");
    assert_eq!(r.status, 404);
    assert!(r.text().contains("404 Not Found"), "{}", r.text());
}

#[test]
fn absolute_form_targets_and_leading_empty_lines() {
    let site = site();
    let server = Server::start(&site.root, &[]);
    let r = server.request("GET http://example.com/a.txt HTTP/1.1\r\nHost: example.com\r\n\r\n");
    assert_eq!(r.body, b"hello from a\n");
    let r = server.request("\r\n\r\nGET /b.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.body, b"hello from b\n");
}

#[test]
fn seed_user_agent_rule() {
    let site = site();
    let server = Server::start(&site.root, &["--min-user-agent-len", "60"]);
    let ua = |ua: &str| {
        server.request(&format!(
            "GET /a.txt HTTP/1.1\r\nHost: x\r\nUser-Agent: {ua}\r\nConnection: close\r\n\r\n"
        ))
    };
    assert_eq!(server.get("/a.txt").status, 403, "no User-Agent");
    assert_eq!(ua("curl/8.5.0").status, 403);
    let long = ua(FIREFOX_UA);
    assert_eq!(
        long.status, 200,
        "Firefox's rv: must not cut its User-Agent"
    );
    assert_eq!(long.body, b"hello from a\n");
    let r = server.request(&format!(
        "GET /nope HTTP/1.1\r\nHost: x\r\nUser-Agent: {FIREFOX_UA}\r\n\r\n"
    ));
    assert_eq!(r.status, 404);
    assert_eq!(r.body, std::fs::read(site.root.join("404.html")).unwrap());
    // Off by default.
    let open = Server::start(&site.root, &[]);
    assert_eq!(open.get("/a.txt").status, 200);
}

#[test]
fn dotfiles_are_refused_unless_allowed() {
    let site = site();
    let server = Server::start(&site.root, &[]);
    for path in ["/.env", "/.git/config", "/.git/", "/%2eenv"] {
        let r = server.get(path);
        assert_eq!(r.status, 403, "{path}");
        assert!(!r.text().contains("SECRET_ENV"));
    }
    let open = Server::start(&site.root, &["--serve-dotfiles"]);
    assert_eq!(open.get("/.env").body, b"SECRET_ENV=1\n");
}

#[test]
fn large_files_arrive_whole_and_exact() {
    let site = site();
    let big = pattern(5 << 20);
    let medium = pattern(100 << 10);
    write(&site.root, "big.bin", &big);
    write(&site.root, "medium.bin", &medium);
    let server = Server::start(&site.root, &[]);
    let r = server.get("/big.bin");
    assert_eq!(r.header("content-length"), Some("5242880"));
    assert!(r.body == big, "5 MiB body differs");
    assert!(
        server.get("/medium.bin").body == medium,
        "100 KiB body differs"
    );
}

#[test]
fn options_and_other_methods() {
    let site = site();
    let server = Server::start(&site.root, &[]);
    let r = server.request("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.status, 204);
    assert_eq!(r.header("allow"), Some("GET, HEAD, OPTIONS"));
    for method in ["POST", "PUT", "DELETE", "PATCH", "TRACE"] {
        let r = server.request(&format!("{method} /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"));
        assert_eq!(r.status, 405, "{method}");
        assert_eq!(r.header("allow"), Some("GET, HEAD, OPTIONS"), "{method}");
    }
    let r = server.request("BREW /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.status, 501);
}

#[test]
fn access_log_has_one_line_per_request() {
    let site = site();
    let server = Server::start(&site.root, &[]);
    server.get("/a.txt");
    server.get("/missing");
    let log = server.wait_for_log("\"GET /missing HTTP/1.1\" 404");
    let line = log
        .lines()
        .find(|l| l.contains("\"GET /a.txt HTTP/1.1\" 200"))
        .unwrap_or_else(|| panic!("no log line for /a.txt in:\n{log}"));
    // peer "request line" status bytes microseconds version handler-microseconds
    let fields: Vec<&str> = line.split(' ').collect();
    let n = fields.len();
    assert!(fields[0].starts_with("127.0.0.1:"), "{line}");
    assert!(fields[n - 4].parse::<u64>().unwrap() > 13, "{line}");
    assert!(fields[n - 3].ends_with("us"), "{line}");
    let version = fields[n - 2];
    assert!(
        version.len() == 12 && version.bytes().all(|b| b.is_ascii_hexdigit()),
        "{line}"
    );
    assert!(fields[n - 1].parse::<u64>().is_ok(), "{line}");
}
