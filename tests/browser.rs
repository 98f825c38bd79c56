//! A real browser on the real server: headless Chromium loads the default site and a
//! directory listing; every subresource must come back 200 (the server's access log
//! says so) and the pages must render (their DOM, after scripts ran). Screenshots are
//! left in `target/tmp/browser/` for a developer to look at, never in the repository.
//!
//! Needs Debian's `chromium`, which `.ci/run` installs. Without it the test says so and
//! passes, unless SANDSERVE_REQUIRE_BROWSER=1 (set by `.ci/run`), which makes a missing
//! browser a failure.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::Server;

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            let out = Command::new("which").arg(name).output().ok()?;
            out.status
                .success()
                .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
        })
}

/// Chromium, or `None` (said on stderr) when it is missing and not required.
fn browser() -> Option<PathBuf> {
    let found = chromium();
    if found.is_none() {
        assert!(
            std::env::var_os("SANDSERVE_REQUIRE_BROWSER").is_none(),
            "SANDSERVE_REQUIRE_BROWSER is set but no chromium is installed"
        );
        eprintln!("skipped: no chromium (apt-get install chromium; .ci/run does)");
    }
    found
}

/// Runs headless Chromium on `url` with `args` (`--dump-dom` or `--screenshot=…`);
/// returns what it printed on stdout.
fn run(browser: &Path, profile: &Path, url: &str, args: &[&str]) -> String {
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--virtual-time-budget=5000",
            "--window-size=1024,768",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .output()
        .expect("cannot run chromium");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Each URL Chromium's net log (`--log-net-log`) has response headers for, with the
/// `Content-Encoding` they named.
fn response_codings(netlog: &Path) -> Vec<(String, Option<String>)> {
    let log: serde_json::Value =
        serde_json::from_slice(&std::fs::read(netlog).expect("no net log")).unwrap();
    let mut urls = std::collections::BTreeMap::new();
    let mut codings = std::collections::BTreeMap::new();
    for event in log["events"].as_array().unwrap() {
        let source = event["source"]["id"].as_u64().unwrap_or(0);
        let params = &event["params"];
        if let Some(url) = params["url"].as_str() {
            urls.insert(source, url.to_owned());
        }
        if let Some(headers) = params["headers"].as_array()
            && headers
                .iter()
                .any(|h| h.as_str().is_some_and(|h| h.starts_with("HTTP/")))
        {
            let coding = headers.iter().filter_map(|h| h.as_str()).find_map(|h| {
                let (name, value) = h.split_once(':')?;
                name.eq_ignore_ascii_case("content-encoding")
                    .then(|| value.trim().to_owned())
            });
            codings.insert(source, coding);
        }
    }
    codings
        .into_iter()
        .filter_map(|(source, coding)| Some((urls.get(&source)?.clone(), coding)))
        .collect()
}

#[test]
fn the_default_site_and_a_listing_render_in_chromium() {
    let Some(browser) = browser() else {
        return;
    };
    let site = Path::new(env!("CARGO_MANIFEST_DIR")).join("../static");
    let server = Server::start(&site, &["--list-dirs"]);
    let base = format!("http://{}", server.addr);
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser");
    std::fs::create_dir_all(&shots).unwrap();
    let profile = tempfile::tempdir().unwrap();

    // The home page: rendered, with its script run (it writes what the server said) —
    // from the compressed forms the server made of its CSS and JS, which Chromium's
    // net log shows arriving with their Content-Encoding.
    let netlog = profile.path().join("net.json");
    let dom = run(
        &browser,
        profile.path(),
        &format!("{base}/"),
        &["--dump-dom", &format!("--log-net-log={}", netlog.display())],
    );
    let codings = response_codings(&netlog);
    for asset in ["/assets/style.css", "/assets/app.js"] {
        let coding = codings
            .iter()
            .find(|(url, _)| url.ends_with(asset))
            .and_then(|(_, coding)| coding.as_deref());
        assert!(
            matches!(coding, Some("br" | "zstd" | "gzip")),
            "{asset} came as {coding:?}: {codings:?}"
        );
    }
    assert!(dom.contains("<h1>sandserve</h1>"), "{dom}");
    assert!(
        dom.contains("This page was served by sandserve as text/html; charset=utf-8."),
        "the script did not run:\n{dom}"
    );
    let shot = shots.join("home.png");
    run(
        &browser,
        profile.path(),
        &format!("{base}/"),
        &[&format!("--screenshot={}", shot.display())],
    );
    assert!(
        std::fs::metadata(&shot).unwrap().len() > 10_000,
        "screenshot is blank"
    );

    // A listing: the assets directory has no index.
    let dom = run(
        &browser,
        profile.path(),
        &format!("{base}/assets/"),
        &["--dump-dom"],
    );
    assert!(dom.contains("Index of /assets/"), "{dom}");
    for name in ["app.js", "logo.svg", "style.css"] {
        assert!(
            dom.contains(&format!("<a href=\"{name}\">{name}</a>")),
            "{name}:\n{dom}"
        );
    }
    let shot = shots.join("listing.png");
    run(
        &browser,
        profile.path(),
        &format!("{base}/assets/"),
        &[&format!("--screenshot={}", shot.display())],
    );

    // Every request the browser made was answered 200 (or 304, a cache revalidation).
    let log = server.wait_for_log("\"GET /assets/app.js HTTP/1.1\"");
    let requests: Vec<&str> = log.lines().filter(|l| l.contains(" HTTP/1.1\" ")).collect();
    for path in [
        "/ ",
        "/assets/style.css",
        "/assets/logo.svg",
        "/assets/app.js",
        "/assets/ ",
    ] {
        assert!(
            requests
                .iter()
                .any(|l| l.contains(&format!("\"GET {path}"))),
            "the browser never asked for {path}:\n{log}"
        );
    }
    for line in &requests {
        let status = line
            .rsplit('"')
            .next()
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap();
        assert!(status == "200" || status == "304", "not loaded: {line}");
    }
    eprintln!("screenshots in {}", shots.display());
}

#[test]
fn chromium_loads_the_default_site_over_one_http2_connection() {
    let Some(browser) = browser() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let pair = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, pair.cert.pem()).unwrap();
    std::fs::write(&key, pair.signing_key.serialize_pem()).unwrap();
    let site = Path::new(env!("CARGO_MANIFEST_DIR")).join("../static");
    let server = Server::start(
        &site,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    let profile = tempfile::tempdir().unwrap();
    let url = format!("https://localhost:{}/", server.addr.port());
    // The certificate is our own: the browser is told to take it.
    let dom = run(
        &browser,
        profile.path(),
        &url,
        &["--ignore-certificate-errors", "--dump-dom"],
    );
    assert!(dom.contains("<h1>sandserve</h1>"), "{dom}");
    // The page and its assets came over HTTP/2, all on one connection (one peer port).
    let log = server.wait_for_log("\"GET /assets/app.js HTTP/2.0\"");
    let mut peers = Vec::new();
    for path in [
        "/ ",
        "/assets/style.css",
        "/assets/logo.svg",
        "/assets/app.js",
    ] {
        let line = log
            .lines()
            .find(|l| l.contains(&format!("\"GET {path}")))
            .unwrap_or_else(|| panic!("the browser never asked for {path}:\n{log}"));
        assert!(line.contains(" HTTP/2.0\" 200 "), "{line}");
        peers.push(line.split(' ').next().unwrap().to_owned());
    }
    peers.dedup();
    assert_eq!(peers.len(), 1, "more than one connection: {peers:?}\n{log}");
}
