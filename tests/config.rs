//! `--config FILE`, `SANDSERVE_<FLAG>` and `--print-config` over the real binary: a file
//! with every section (`[tls]` last, checked by curl) starts a server on which each value
//! shows; an unknown key, a wrong type and a bad value are refused with the file's line;
//! the environment beats the file and a flag beats both; `--print-config` is TOML that
//! `--config` reads back; SIGHUP re-reads the file, applies what can change live and
//! names what cannot.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{BIN, BUILT_IN_WASM, FIREFOX_UA, Server, site};

/// The tests' shared compiled-handler cache (as `Server::start` passes).
fn cache() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("sandserve-cache")
}

fn write_config(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("sandserve.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// `sandserve --config FILE ARGS…` with `env` set, serving.
fn serve(config: &Path, args: &[&str], env: &[(&str, &str)]) -> Server {
    let mut command = Command::new(BIN);
    command
        .arg("--config")
        .arg(config)
        .args(args)
        .envs(env.iter().copied());
    Server::spawn(command, config.parent().unwrap())
}

/// `--print-config` parsed as TOML, and the origin written after each `key = value`.
fn print_config(config: &Path, args: &[&str], env: &[(&str, &str)]) -> (toml::Table, String) {
    let out = Command::new(BIN)
        .arg("--config")
        .arg(config)
        .args(args)
        .arg("--print-config")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let table = text
        .parse::<toml::Table>()
        .unwrap_or_else(|e| panic!("{e}\n{text}"));
    (table, text)
}

/// The origin comment of the line `key = …` in `section` of a `--print-config` output.
fn origin(text: &str, section: &str, key: &str) -> String {
    let mut current = "";
    for line in text.lines() {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = name;
        } else if current == section && line.starts_with(&format!("{key} = ")) {
            return line.rsplit_once("  # ").expect("an origin").1.to_owned();
        }
    }
    panic!("no {section}.{key} in\n{text}")
}

fn ua() -> String {
    format!("User-Agent: {FIREFOX_UA}\r\n")
}

#[test]
fn a_file_with_every_section_takes_effect() {
    let site = site();
    let dir = site.parent.path();
    // Relative paths are the file's directory's: the root, the admin socket, the log.
    let config = write_config(
        dir,
        &format!(
            r#"
root = "root"
listen = "127.0.0.1:0"
handler = "{BUILT_IN_WASM}"
workers = 2
admin = "admin.sock"
cache_dir = "{cache}"

[site]
min_user_agent_len = 20
serve_dotfiles = true
list_dirs = true
fallback = "index.html"
cache_control = "no-cache"

[limits]
max_requests = 2
header_timeout = "3s"
handler_timeout = 2
handler_memory = "32MiB"
max_discarded_body = 1024

[swap]
keep_versions = 2
shadow_requests = 8
rollback_window = "5s"
rollback_threshold = 0.5

[log]
access_log = "json"
access_log_file = "access.log"

[headers]
"X-From" = "the file"

[[cache_rule]]
glob = "*.css"
value = "max-age=60"

[[mount]]
prefix = "/m/"
handler = "{BUILT_IN_WASM}"
"#,
            cache = cache().display()
        ),
    );
    let s = serve(&config, &[], &[]);
    let ua = ua();
    assert_eq!(s.get_with("/a.txt", "User-Agent: short\r\n").status, 403);
    let a = s.get_with("/a.txt", &ua);
    assert_eq!((a.status, a.text().as_str()), (200, "hello from a\n"));
    assert_eq!(a.header("X-From"), Some("the file"));
    assert_eq!(a.header("Cache-Control"), Some("no-cache"));
    assert_eq!(
        s.get_with("/style.css", &ua).header("Cache-Control"),
        Some("max-age=60")
    );
    assert_eq!(s.get_with("/.env", &ua).status, 200, "serve_dotfiles");
    let listing = s.get_with("/empty/", &ua);
    assert_eq!(listing.status, 200, "list_dirs");
    assert!(
        s.get_with("/some/route", &ua)
            .text()
            .contains("<h1>home</h1>"),
        "fallback"
    );
    assert_eq!(
        s.get_with("/m/b.txt", &ua).text(),
        "hello from b\n",
        "the mount"
    );
    // max_requests = 2: the second answer on one connection closes it.
    let mut client = s.connect();
    let req = format!("GET /a.txt HTTP/1.1\r\nHost: x\r\n{ua}\r\n");
    client.send(req.as_bytes());
    assert_eq!(client.response(false).header("Connection"), None);
    client.send(req.as_bytes());
    assert_eq!(client.response(false).header("Connection"), Some("close"));
    let status = common::admin(&dir.join("admin.sock"), &["status"]);
    assert!(status.status.success(), "the admin socket: {status:?}");
    let log = dir.join("access.log");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let lines = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.lines().count() >= 9 || std::time::Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    for line in lines.lines() {
        let entry: serde_json::Value = serde_json::from_str(line).expect("a JSON access line");
        assert!(entry["status"].is_u64(), "{line}");
    }
    assert_eq!(lines.lines().count(), 9, "{lines}");

    // What cannot be seen from outside, --print-config says, each from its line.
    let (table, text) = print_config(&config, &[], &[]);
    assert_eq!(table["limits"]["header_timeout"].as_str(), Some("3s"));
    assert_eq!(table["limits"]["handler_timeout"].as_str(), Some("2"));
    assert_eq!(table["swap"]["rollback_threshold"].as_str(), Some("0.5"));
    assert_eq!(table["swap"]["keep_versions"].as_integer(), Some(2));
    let file = config.display().to_string();
    for (section, key, line) in [
        ("", "root", 2),
        ("", "workers", 5),
        ("site", "min_user_agent_len", 10),
        ("limits", "max_requests", 17),
        ("limits", "handler_memory", 20),
        ("swap", "rollback_window", 26),
        ("log", "access_log_file", 31),
    ] {
        assert_eq!(
            origin(&text, section, key),
            format!("{file}:{line}"),
            "{key}"
        );
    }
    assert_eq!(origin(&text, "limits", "send_timeout"), "default");
    assert_eq!(
        table["root"].as_str(),
        Some(site.root.to_str().unwrap()),
        "relative to the file"
    );
    assert_eq!(table["mount"][0]["prefix"].as_str(), Some("/m/"));
    assert_eq!(table["headers"]["X-From"].as_str(), Some("the file"));

    // The same file with `[tls]` too (relative to the file, like the rest) serves HTTPS
    // (HTTP/2, which curl offers and the server prefers), with the same policy and headers (the first server's admin socket, stale once it
    // is gone, is taken over).
    drop(s);
    let pair = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    std::fs::write(dir.join("cert.pem"), pair.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), pair.signing_key.serialize_pem()).unwrap();
    let mut with_tls = std::fs::read_to_string(&config).unwrap();
    with_tls
        .push_str("\n[tls]\ncert = \"cert.pem\"\nkey = \"key.pem\"\nhandshake_timeout = \"4s\"\n");
    std::fs::write(&config, with_tls).unwrap();
    let s = serve(&config, &[], &[]);
    let out = Command::new("curl")
        .args(["-sS", "-i", "--max-time", "10", "--cacert"])
        .arg(dir.join("cert.pem"))
        .args(["-A", FIREFOX_UA, "--resolve"])
        .arg(format!("localhost:{}:127.0.0.1", s.addr.port()))
        .arg(format!("https://localhost:{}/a.txt", s.addr.port()))
        .output()
        .expect("curl");
    let answer = String::from_utf8_lossy(&out.stdout);
    assert!(
        answer.starts_with("HTTP/2 200"),
        "{answer}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        answer.contains("x-from: the file") && answer.ends_with("hello from a\n"),
        "{answer}"
    );
    let (table, text) = print_config(&config, &[], &[]);
    assert_eq!(table["tls"]["handshake_timeout"].as_str(), Some("4s"));
    assert_eq!(table["tls"]["cert"].as_str(), dir.join("cert.pem").to_str());
    assert!(origin(&text, "tls", "key").starts_with(&file), "{text}");
}

#[test]
fn bad_files_are_refused_with_their_line_and_key() {
    let site = site();
    let dir = site.parent.path();
    let root = site.root.display();
    for (body, expected) in [
        (
            "[limits]\nmax_requestz = 5\n",
            ":3: unknown key `max_requestz` in [limits]",
        ),
        ("rooot = \"x\"\n", ":2: unknown key `rooot` at the top"),
        (
            "[limits]\nmax_requests = \"many\"\n",
            ":3: limits.max_requests: expected an integer, found a string",
        ),
        (
            "[limits]\nheader_timeout = \"5 parsecs\"\n",
            ":3: limits.header_timeout: invalid value '5 parsecs'",
        ),
        (
            "[limits]\nmax_requests = -1\n",
            ":3: limits.max_requests: invalid value '-1'",
        ),
        (
            "[site]\nserve_dotfiles = \"yes\"\n",
            ":3: site.serve_dotfiles: expected true or false",
        ),
        (
            "[limits]\nmax_requests = 0\n",
            ":3: limits.max_requests: --max-requests 0",
        ),
        (
            "[headers]\n\"X-A\" = \"1\"\n\"Content-Length\" = \"5\"\n",
            ":4: headers: --header",
        ),
        (
            "[[mount]]\nprefix = \"/py/\"\nhandler = \"no-such.wasm\"\n",
            ":2: mount: --mount /py/=",
        ),
        (
            "[[mount]]\nprefix = \"/py/\"\n",
            ":2: [[mount]] needs both `prefix` and `handler`",
        ),
        (
            "[log]\naccess_log = \"fancy\"\n",
            ":3: log.access_log: --access-log fancy",
        ),
        ("[limits\n", ":2: "),
        (
            "[headers]\n\"X-A\" = \"a\\nSet-Cookie: s=1\"\n",
            ":3: headers: a value cannot hold a line break",
        ),
        (
            "[[cache_rule]]\nglob = \"a=b\"\nvalue = \"no-cache\"\n",
            ":2: [[cache_rule]] glob \"a=b\": cannot hold a `=`",
        ),
        (
            "[log]\nrecord_keep = [\"Cookie\"]\n",
            ":3: log.record_keep: --record-keep Cookie: needs --record",
        ),
    ] {
        let config = write_config(dir, &format!("root = \"{root}\"\n{body}"));
        let stderr = common::refuses(&["--config", config.to_str().unwrap()]);
        let at = format!("sandserve: {}{expected}", config.display());
        assert!(
            stderr.starts_with(&at),
            "{body:?}:\n{stderr}\nexpected: {at}"
        );
    }
    let stderr = common::refuses(&["--config", "/no/such/sandserve.toml"]);
    assert!(
        stderr.contains("--config /no/such/sandserve.toml: cannot read"),
        "{stderr}"
    );
    // A bad value from the environment is named by its variable.
    let out = Command::new(BIN)
        .args(["--root", site.root.to_str().unwrap()])
        .env("SANDSERVE_MAX_REQUESTS", "0")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.starts_with("sandserve: SANDSERVE_MAX_REQUESTS: --max-requests 0"),
        "{stderr}"
    );
}

#[test]
fn the_environment_beats_the_file_and_a_flag_beats_both() {
    let site = site();
    let config = write_config(
        site.parent.path(),
        &format!(
            "root = \"{}\"\nlisten = \"127.0.0.1:0\"\ncache_dir = \"{}\"\n[limits]\nmax_requests = 5\nsend_timeout = \"9s\"\n[headers]\n\"X-Layer\" = \"file\"\n",
            site.root.display(),
            cache().display()
        ),
    );
    let env = [
        ("SANDSERVE_MAX_REQUESTS", "7"),
        // A repeatable flag's variable takes one value per line.
        ("SANDSERVE_HEADER", "X-Layer: environment\nX-Second: 2"),
    ];
    let (table, text) = print_config(&config, &[], &env);
    assert_eq!(table["limits"]["max_requests"].as_integer(), Some(7));
    assert_eq!(
        origin(&text, "limits", "max_requests"),
        "environment SANDSERVE_MAX_REQUESTS"
    );
    assert_eq!(
        origin(&text, "limits", "send_timeout"),
        format!("{}:6", config.display())
    );
    let (table, text) = print_config(&config, &["--max-requests", "9"], &env);
    assert_eq!(table["limits"]["max_requests"].as_integer(), Some(9));
    assert_eq!(
        origin(&text, "limits", "max_requests"),
        "flag --max-requests"
    );

    let s = serve(&config, &[], &env);
    let a = s.get("/a.txt");
    assert_eq!(a.header("X-Layer"), Some("environment"));
    assert_eq!(a.header("X-Second"), Some("2"));
    drop(s);
    let s = serve(&config, &["--header", "X-Layer: flag"], &env);
    let a = s.get("/a.txt");
    assert_eq!(a.header("X-Layer"), Some("flag"));
    assert_eq!(
        a.header("X-Second"),
        None,
        "the flag replaces the variable's list"
    );
}

#[test]
fn print_config_is_a_file_that_reads_back_the_same() {
    let site = site();
    let dir = site.parent.path();
    let config = write_config(
        dir,
        &format!(
            "root = \"root\"\n[site]\nlist_dirs = true\n[headers]\n\"Link\" = [\"</a.css>; rel=preload\", \"</b.js>; rel=preload\"]\n\"X-Quote\" = \"a \\\"quoted\\\" value\"\n[[cache_rule]]\nglob = \"assets/**\"\nvalue = \"max-age=31536000, immutable\"\n[[mount]]\nprefix = \"/m/\"\nhandler = \"{BUILT_IN_WASM}\"\n[log]\nrecord_keep = [\"Cookie\"]\nrecord = \"heads.jsonl\"\n"
        ),
    );
    let (first, text) = print_config(&config, &["--max-requests", "9"], &[]);
    let again = dir.join("again.toml");
    std::fs::write(&again, &text).unwrap();
    let (second, text2) = print_config(&again, &[], &[]);
    assert_eq!(first, second, "{text}\n---\n{text2}");
    assert_eq!(
        origin(&text2, "limits", "max_requests"),
        format!(
            "{}:{}",
            again.display(),
            text.lines()
                .position(|l| l.starts_with("max_requests = "))
                .unwrap()
                + 1
        )
    );
    assert_eq!(first["headers"]["Link"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        first["cache_rule"][0]["value"].as_str(),
        Some("max-age=31536000, immutable")
    );
}

#[test]
fn sighup_rereads_the_file_and_applies_what_can_change_live() {
    let site = site();
    let dir = site.parent.path();
    let base = format!(
        "root = \"{}\"\nlisten = \"127.0.0.1:0\"\ncache_dir = \"{}\"\n",
        site.root.display(),
        cache().display()
    );
    let config = write_config(dir, &format!("{base}[headers]\n\"X-Version\" = \"1\"\n"));
    let s = serve(&config, &[], &[]);
    assert_eq!(s.get("/a.txt").header("X-Version"), Some("1"));
    // An idle keep-alive connection open across the reload keeps being served.
    let mut kept = s.connect();
    kept.send(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(kept.response(false).status, 200);

    write_config(
        dir,
        &format!(
            "{base}[site]\nmin_user_agent_len = 20\n[limits]\nmax_requests = 3\n[headers]\n\"X-Version\" = \"2\"\n"
        ),
    );
    s.signal("HUP");
    let log = s.wait_for_log("configuration re-read");
    assert!(
        log.contains(
            "applied: site.min_user_agent_len, headers; needs a restart: limits.max_requests"
        ),
        "{log}"
    );
    assert_eq!(s.get("/a.txt").status, 403, "the new policy");
    let a = s.get_with("/a.txt", &ua());
    assert_eq!((a.status, a.header("X-Version")), (200, Some("2")));
    kept.send(format!("GET /b.txt HTTP/1.1\r\nHost: x\r\n{}\r\n", ua()).as_bytes());
    assert_eq!(kept.response(false).header("X-Version"), Some("2"));

    // A file that does not check changes nothing.
    write_config(
        dir,
        &format!("{base}[headers]\n\"X-Version\" = \"3\"\n[site]\nmin_user_agent_len = \"x\"\n"),
    );
    s.signal("HUP");
    let log = s.wait_for_log("nothing changed");
    assert!(
        log.contains(&format!("{}:7: site.min_user_agent_len", config.display())),
        "{log}"
    );
    assert_eq!(s.get_with("/a.txt", &ua()).header("X-Version"), Some("2"));
    assert_eq!(s.get("/a.txt").status, 403);
}

#[test]
fn a_flag_that_excludes_a_file_setting_outranks_it_and_paths_print_absolute() {
    let site = site();
    let dir = site.parent.path();
    let config = write_config(dir, "root = \"root\"\ncache_dir = \"cache\"\n");
    let (table, text) = print_config(&config, &["--no-cache"], &[]);
    assert_eq!(table["no_cache"].as_bool(), Some(true));
    assert_eq!(origin(&text, "", "no_cache"), "flag --no-cache");
    assert!(text.contains("# cache_dir is unset"), "{text}");
    // A relative path from a flag prints absolute (the printed file may be read from
    // anywhere); the file read back from elsewhere serves the same root.
    let out = Command::new(BIN)
        .current_dir(dir)
        .args(["--root", "root", "--print-config"])
        .output()
        .unwrap();
    let printed = String::from_utf8(out.stdout).unwrap();
    let table: toml::Table = printed.parse().unwrap();
    assert_eq!(table["root"].as_str(), Some(site.root.to_str().unwrap()));
    let elsewhere = tempfile::tempdir().unwrap();
    let again = write_config(elsewhere.path(), &printed);
    let (table, _) = print_config(&again, &[], &[]);
    assert_eq!(table["root"].as_str(), Some(site.root.to_str().unwrap()));
}
