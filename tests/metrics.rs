//! Metrics and health over the real binary: `/metrics` on `--metrics ADDR` and on the
//! admin socket, read by a Prometheus text parser (the `prometheus-parse` crate), with
//! counters that move by exactly the requests sent (by method and status class, handler
//! calls, traps, timeouts, the instance-time histogram, bytes), the open connections,
//! swaps and rollbacks, and the live version of each slot as a label; `/healthz` and
//! `/readyz`; and nothing else on the metrics port.

mod common;

use std::process::Command;

use common::{
    BUILT_IN_WASM, Client, HOSTILE_WASM, NAIVE_WASM, Server, TRAPPING_WASM, admin, fetch, scrape,
    site, value,
};

/// The sha256 of a component file, as the server names versions.
fn sha256(path: &str) -> String {
    sandserve::versions::swap::sha256(&std::fs::read(path).unwrap())
}

#[test]
fn counters_move_with_the_requests_sent() {
    let site = site();
    let socket = site.parent.path().join("admin.sock");
    let s = Server::start(
        &site.root,
        &[
            "--admin",
            socket.to_str().unwrap(),
            "--metrics",
            "127.0.0.1:0",
            "--mount",
            &format!("/trap/={TRAPPING_WASM}"),
            "--mount",
            &format!("/hostile/={HOSTILE_WASM}"),
            "--handler-timeout",
            "200ms",
        ],
    );
    let addr = s.metrics_addr();
    let before = scrape(addr);
    let mut sent = 0;
    for _ in 0..3 {
        sent += s.get("/a.txt").body.len();
    }
    for _ in 0..2 {
        assert_eq!(s.get("/missing").status, 404);
    }
    s.request("HEAD /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!(s.get("/trap/x").status, 500);
    assert_eq!(s.get("/hostile/loop").status, 500);
    // One connection held open while the scrape happens.
    let mut held = Client::connect(s.addr);
    held.send(b"GET /b.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    held.response(false);
    let after = scrape(addr);
    let delta = |name: &str, labels: &[(&str, &str)]| {
        value(&after, name, labels) - value(&before, name, labels)
    };
    let get = |class| [("method", "GET"), ("class", class)];
    assert_eq!(delta("sandserve_requests_total", &get("2xx")), 4.0);
    assert_eq!(delta("sandserve_requests_total", &get("4xx")), 2.0);
    assert_eq!(delta("sandserve_requests_total", &get("5xx")), 2.0);
    assert_eq!(
        delta(
            "sandserve_requests_total",
            &[("method", "HEAD"), ("class", "2xx")]
        ),
        1.0
    );
    assert_eq!(delta("sandserve_handler_calls_total", &[]), 9.0);
    assert_eq!(delta("sandserve_handler_traps_total", &[]), 2.0);
    assert_eq!(delta("sandserve_handler_timeouts_total", &[]), 1.0);
    assert_eq!(delta("sandserve_handler_instance_seconds", &[]), 9.0);
    assert!(delta("sandserve_sent_bytes_total", &[]) > sent as f64);
    assert_eq!(value(&after, "sandserve_connections_active", &[]), 1.0);
    drop(held);
    // The live version of each slot, by the sha256 of its file.
    for (slot, file) in [("/", BUILT_IN_WASM), ("/trap/", TRAPPING_WASM)] {
        let labels = [("slot", slot), ("sha256", &sha256(file))];
        assert_eq!(
            value(&after, "sandserve_handler_info", &labels),
            1.0,
            "{slot}"
        );
    }
    // The same text on the admin socket.
    let out = Command::new("curl")
        .args([
            "-s",
            "--unix-socket",
            socket.to_str().unwrap(),
            "http://x/metrics",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("sandserve_handler_calls_total"), "{text}");
    assert!(text.trim_end().ends_with("# EOF"));
}

#[test]
fn swaps_and_rollbacks_are_counted_and_the_live_version_follows() {
    let site = site();
    let socket = site.parent.path().join("admin.sock");
    let s = Server::start(
        &site.root,
        &[
            "--admin",
            socket.to_str().unwrap(),
            "--metrics",
            "127.0.0.1:0",
        ],
    );
    let addr = s.metrics_addr();
    let built_in = [("slot", "/"), ("sha256", &*sha256(BUILT_IN_WASM))];
    let naive = [("slot", "/"), ("sha256", &*sha256(NAIVE_WASM))];
    let out = admin(&socket, &["swap", "--force", NAIVE_WASM]);
    assert!(out.status.success(), "{out:?}");
    let m = scrape(addr);
    assert_eq!(
        value(&m, "sandserve_swaps_total", &[("outcome", "swapped")]),
        1.0
    );
    assert_eq!(value(&m, "sandserve_handler_info", &naive), 1.0);
    assert_eq!(
        value(&m, "sandserve_handler_info", &built_in),
        0.0,
        "the old series goes"
    );
    let out = admin(&socket, &["rollback"]);
    assert!(out.status.success(), "{out:?}");
    let m = scrape(addr);
    assert_eq!(value(&m, "sandserve_rollbacks_total", &[]), 1.0);
    assert_eq!(value(&m, "sandserve_handler_info", &built_in), 1.0);
    let out = admin(&socket, &["swap", "/no/such/file.wasm"]);
    assert!(!out.status.success());
    let m = scrape(addr);
    assert_eq!(
        value(&m, "sandserve_swaps_total", &[("outcome", "refused")]),
        1.0
    );
}

#[test]
fn health_and_readiness_and_nothing_else_on_the_metrics_port() {
    let site = site();
    let s = Server::start(&site.root, &["--metrics", "127.0.0.1:0"]);
    let addr = s.metrics_addr();
    assert!(fetch(addr, "GET", "/healthz").starts_with("HTTP/1.1 200 "));
    assert!(fetch(addr, "GET", "/readyz").starts_with("HTTP/1.1 200 "));
    assert!(fetch(addr, "POST", "/metrics").starts_with("HTTP/1.1 405 "));
    for path in ["/swap", "/status", "/rollback", "/a.txt"] {
        assert!(
            fetch(addr, "GET", path).starts_with("HTTP/1.1 404 "),
            "{path}"
        );
    }
    assert!(fetch(addr, "POST", "/swap").starts_with("HTTP/1.1 404 "));
    let root = site.root.to_str().unwrap();
    let refused = common::refuses(&["--root", root, "--metrics", "nowhere"]);
    assert!(
        refused.contains("--metrics nowhere: not an IP:port address"),
        "{refused}"
    );
}
