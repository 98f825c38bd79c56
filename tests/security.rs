//! Nothing outside the root is ever served or revealed: traversal in every encoding,
//! backslashes, NUL bytes, and symlinks that lead out of the root.

mod common;

use common::{SECRET, Server, site};

fn assert_refused(server: &Server, target: &str) {
    let raw = format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let out = server.exchange(raw.as_bytes());
    let text = String::from_utf8_lossy(&out);
    let status = &text[9..12];
    assert!(
        ["400", "403", "404"].contains(&status),
        "{target} got {:?}",
        text.lines().next()
    );
    assert!(!text.contains(SECRET), "{target} revealed the secret");
    assert!(
        !text.contains("root:x:0:0"),
        "{target} revealed /etc/passwd"
    );
}

#[test]
fn traversal_in_every_form_is_refused() {
    let site = site();
    let server = Server::start(&site.root, &[]);
    for target in [
        "/../secret.txt",
        "/docs/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/secret.txt",
        "/.%2e/secret.txt",
        "/%2e%2e%2fsecret.txt",
        "/..%2fsecret.txt",
        "/docs%2f..%2f..%2fsecret.txt",
        "/%252e%252e/secret.txt",
        "/%252e%252e%252fsecret.txt",
        "/..\\secret.txt",
        "/..%5csecret.txt",
        "/%5c..%5csecret.txt",
        "/secret.txt%00.html",
        "/a.txt%00",
        "/../../../../../../etc/passwd",
        "/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "http://x/../secret.txt",
        "//etc/passwd",
    ] {
        assert_refused(&server, target);
    }
}

#[test]
fn symlinks_out_of_the_root_are_refused() {
    let site = site();
    let outside = site.parent.path().join("secret.txt");
    std::os::unix::fs::symlink(&outside, site.root.join("link-out.txt")).unwrap();
    std::os::unix::fs::symlink(site.parent.path(), site.root.join("dir-out")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", site.root.join("passwd")).unwrap();
    std::os::unix::fs::symlink("../secret.txt", site.root.join("relative-out.txt")).unwrap();
    // A symlink that stays inside the root is an ordinary file.
    std::os::unix::fs::symlink("a.txt", site.root.join("alias.txt")).unwrap();
    let server = Server::start(&site.root, &[]);
    for target in [
        "/link-out.txt",
        "/dir-out/secret.txt",
        "/dir-out/",
        "/passwd",
        "/relative-out.txt",
    ] {
        assert_refused(&server, target);
    }
    assert_eq!(server.get("/alias.txt").body, b"hello from a\n");
}

#[test]
fn the_redirect_for_a_directory_cannot_point_off_site() {
    let site = site();
    std::fs::create_dir(site.root.join("evil.example")).unwrap();
    let server = Server::start(&site.root, &[]);
    let r = server.get("//evil.example");
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location"), Some("/evil.example/"));
}
