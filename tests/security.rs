//! Nothing outside the root is ever served or revealed: traversal in every encoding,
//! backslashes, NUL bytes, and symlinks that lead out of the root.

mod common;

use common::{Server, TRAVERSALS, assert_refused, site};

#[test]
fn traversal_in_every_form_is_refused() {
    let site = site();
    let server = Server::start(&site.root, &[]);
    for target in TRAVERSALS {
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
