//! The root's own error pages, always with the real status: `404.html`, `403.html`
//! from the handler, `50x.html` from the host when the handler fails.

mod common;

use common::{HOSTILE_WASM, Server, site, write};

#[test]
fn custom_403_and_404_pages_keep_their_status() {
    let site = site();
    write(
        &site.root,
        "403.html",
        "<!doctype html><title>custom 403</title>\n",
    );
    let server = Server::start(&site.root, &[]);
    let r = server.get("/.env");
    assert_eq!(r.status, 403);
    assert_eq!(r.text(), "<!doctype html><title>custom 403</title>\n");
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    let r = server.get("/missing");
    assert_eq!(r.status, 404);
    assert_eq!(r.text(), "<!doctype html><title>custom 404</title>\n");
}

#[test]
fn without_pages_the_built_in_ones_are_sent() {
    let site = site();
    std::fs::remove_file(site.root.join("404.html")).unwrap();
    let server = Server::start(&site.root, &[]);
    for (path, status) in [("/.env", 403), ("/missing", 404)] {
        let r = server.get(path);
        assert_eq!(r.status, status);
        assert!(r.text().contains(&format!("<h1>{status} ")), "{}", r.text());
    }
}

#[test]
fn a_failing_handler_gets_the_root_50x_page() {
    let site = site();
    let page = "<!doctype html><title>we broke</title>\n";
    write(&site.root, "50x.html", page);
    let server = Server::start(&site.root, &["--handler", HOSTILE_WASM]);
    let r = server.get("/trap");
    assert_eq!(r.status, 500);
    assert_eq!(r.text(), page);
    assert_eq!(r.header("connection"), Some("close"));
    // A 50x.html that is a symlink out of the root is not used.
    std::fs::remove_file(site.root.join("50x.html")).unwrap();
    std::os::unix::fs::symlink(
        site.parent.path().join("secret.txt"),
        site.root.join("50x.html"),
    )
    .unwrap();
    let r = server.get("/trap");
    assert_eq!(r.status, 500);
    assert!(
        r.text().contains("<h1>500 Internal Server Error</h1>"),
        "{}",
        r.text()
    );
}
