//! The handler author's loop over the real binary, once per language: `sandserve new`
//! → `build` → `check .` → `dev`, then two edits while `dev` serves: one that changes
//! every answer (a field), which must be served and whose differences on the requests
//! served before it must be printed; and one that makes the handler trap on a request
//! served before, which the swap's shadow check must refuse, the previous version
//! still serving; and one that does not build, refused with the toolchain's error. Toolchains come from the tools cache guest/build-handlers filled
//! (`SANDSERVE_TOOLS`): nothing is installed per test.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::Server;

/// One language's project and the edits made to it.
struct Lang {
    name: &'static str,
    source: &'static str,
    /// Adds `X-Edit: 1` to every answer (and, for Python, a print): (text, replacement)
    /// pairs.
    edit: &'static [(&'static str, &'static str)],
    /// Makes a request for `/trap.txt` trap.
    trap: &'static [(&'static str, &'static str)],
    /// A line the handler prints for `GET /a.txt?after` after `edit`, if it prints one.
    prints: Option<&'static str>,
}

const PYTHON: Lang = Lang {
    name: "python",
    source: "app.py",
    edit: &[
        (
            "        path = target.split(\"?\", 1)[0]\n",
            "        path = target.split(\"?\", 1)[0]\n        print(\"serving\", path)\n",
        ),
        (
            "f\"Content-Length: {size}\\r\\n\\r\\n\"",
            "f\"X-Edit: 1\\r\\nContent-Length: {size}\\r\\n\\r\\n\"",
        ),
    ],
    trap: &[(
        "        rel = path.lstrip(",
        "        if path == \"/trap.txt\":\n            raise RuntimeError(\"trapped on purpose\")\n        rel = path.lstrip(",
    )],
    prints: Some("handler: GET /a.txt?after HTTP/1.1: serving /a.txt"),
};

const JS: Lang = Lang {
    name: "js",
    source: "handler.js",
    edit: &[(
        "Content-Length: ${size}",
        "X-Edit: 1\\r\\nContent-Length: ${size}",
    )],
    trap: &[(
        "    let status = '200 OK';",
        "    if (path === '/trap.txt') throw new Error('trapped on purpose');\n    let status = '200 OK';",
    )],
    prints: None,
};

const RUST: Lang = Lang {
    name: "rust",
    source: "src/lib.rs",
    edit: &[(
        "Content-Length: {length}",
        "X-Edit: 1\\r\\nContent-Length: {length}",
    )],
    trap: &[(
        "        let mut status = \"200 OK\";",
        "        if path == \"/trap.txt\" {\n            panic!(\"trapped on purpose\");\n        }\n        let mut status = \"200 OK\";",
    )],
    prints: None,
};

const C: Lang = Lang {
    name: "c",
    source: "handler.c",
    edit: &[(
        "Content-Length: %lld",
        "X-Edit: 1\\r\\nContent-Length: %lld",
    )],
    trap: &[(
        "  const char *status = \"200 OK\";",
        "  if (strcmp(rel, \"trap.txt\") == 0) __builtin_trap();\n  const char *status = \"200 OK\";",
    )],
    prints: None,
};

#[test]
fn python_new_build_check_dev() {
    the_loop(&PYTHON);
}

#[test]
fn js_new_build_check_dev() {
    the_loop(&JS);
}

#[test]
fn rust_new_build_check_dev() {
    the_loop(&RUST);
}

#[test]
fn c_new_build_check_dev() {
    the_loop(&C);
}

fn the_loop(lang: &Lang) {
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join(format!("loop-{}", lang.name));
    let out = sandserve(
        tmp.path(),
        &["new", "--lang", lang.name, project.to_str().unwrap()],
    );
    assert!(out.status.success(), "new: {}", text(&out));
    for file in [
        "sandserve.toml",
        "README.md",
        "wit/sandserve.wit",
        lang.source,
    ] {
        assert!(project.join(file).is_file(), "new wrote no {file}");
    }

    let out = sandserve(&project, &["build"]);
    assert!(out.status.success(), "build: {}", text(&out));
    assert!(project.join("handler.wasm").is_file());

    // The check runs the suite at the manifest's level and the project's own requests.
    let out = sandserve(&project, &["check", "."]);
    let report = text(&out);
    assert!(out.status.success(), "check: {report}");
    assert!(report.contains("project: GET /a.txt  pass"), "{report}");
    assert!(
        report.contains("project: GET /no/such/file  pass"),
        "{report}"
    );

    let site = tmp.path().join("site");
    std::fs::create_dir(&site).unwrap();
    std::fs::write(site.join("index.html"), "<p>home</p>\n").unwrap();
    std::fs::write(site.join("a.txt"), "hello from the site\n").unwrap();
    std::fs::write(site.join("trap.txt"), "a file the second edit traps on\n").unwrap();
    std::fs::write(site.join("404.html"), "<p>not here</p>\n").unwrap();

    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let mut dev = Dev::start(&project, &site, &listen);
    dev.wait_for("answered 200 by the new version", 0);
    let server = Server::elsewhere(listen.parse().unwrap(), "localhost", &site);

    // Traffic for the shadow check to replay.
    for path in ["/", "/a.txt", "/trap.txt", "/missing"] {
        let response = server.get(path);
        assert_eq!(
            response.status,
            if path == "/missing" { 404 } else { 200 },
            "{path}"
        );
        assert_eq!(response.header("x-edit"), None);
    }

    // A change of every answer: served, and its differences printed.
    let from = dev.output().len();
    edit(&project.join(lang.source), lang.edit);
    let said = dev.wait_for("answered 200 by the new version", from);
    let swap = line_of(&said, "dev: swap");
    assert!(swap.contains("swapped"), "{said}");
    assert!(
        said.contains("+ x-edit: 1"),
        "no difference printed:\n{said}"
    );
    let response = server.get("/a.txt");
    assert_eq!(
        response.header("x-edit"),
        Some("1"),
        "the new version is not serving"
    );
    if let Some(printed) = lang.prints {
        // What the handler printed for a request of its own (not a replay's), in dev's
        // log, prefixed with the request; the replays' are marked as such.
        assert!(
            said.contains("handler (replay, candidate): GET /a.txt HTTP/1.1: serving /a.txt"),
            "{said}"
        );
        assert_eq!(server.get("/a.txt?after").status, 200);
        dev.wait_for(printed, from);
    }

    // A trap on a request served before: refused by the replay, the old one serving.
    let from = dev.output().len();
    edit(&project.join(lang.source), lang.trap);
    let said = dev.wait_for("dev: refused", from);
    let swap = line_of(&said, "dev: swap");
    assert!(swap.contains("refused"), "{said}");
    let failed: u32 = swap
        .split(" fail only with the new build")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count of new failures: {swap}"));
    assert!(failed >= 1, "{said}");
    assert!(said.contains("status 200 → 500"), "{said}");
    let response = server.get("/trap.txt");
    assert_eq!(response.status, 200, "the old version is not serving");
    assert_eq!(response.text(), "a file the second edit traps on\n");
    assert_eq!(response.header("x-edit"), Some("1"));

    // A build that fails: the toolchain's own error shown, nothing swapped.
    let from = dev.output().len();
    let source = project.join(lang.source);
    let mut text = std::fs::read_to_string(&source).unwrap();
    text.push_str("\nthis is not code (\n");
    std::fs::write(&source, text).unwrap();
    let said = dev.wait_for("dev: refused", from);
    assert!(line_of(&said, "dev: build").contains("failed"), "{said}");
    assert!(
        line_of(&said, "dev: refused").contains("the build failed"),
        "{said}"
    );
    assert!(!said.contains("dev: swap"), "{said}");
    assert_eq!(server.get("/a.txt").header("x-edit"), Some("1"));
}

/// Makes each replacement in `file`, which must hold each text it replaces.
fn edit(file: &Path, replacements: &[(&str, &str)]) {
    let mut source = std::fs::read_to_string(file).unwrap();
    for (text, by) in replacements {
        assert!(source.contains(text), "{} has no {text:?}", file.display());
        source = source.replacen(text, by, 1);
    }
    std::fs::write(file, source).unwrap();
}

fn line_of<'a>(said: &'a str, prefix: &str) -> &'a str {
    said.lines()
        .rev()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix:?} line in:\n{said}"))
}

/// `sandserve ARGS` in `dir`, with the tools cache guest/build-handlers filled.
fn sandserve(dir: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(common::BIN);
    environment(&mut command);
    command.current_dir(dir).args(args).output().unwrap()
}

/// The environment of every command here: the repository's tools cache; a compiled-
/// handler cache of these tests; the toolchain that builds this repository first on
/// the path (cargo for the Rust project, outside this repository's
/// rust-toolchain.toml).
fn environment(command: &mut Command) {
    let top = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let tools =
        std::env::var_os("SANDSERVE_TOOLS").map_or_else(|| top.join("target/tools"), PathBuf::from);
    let cargo = Path::new(env!("CARGO"));
    let path = std::env::join_paths(std::iter::once(cargo.parent().unwrap().to_owned()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .unwrap();
    command
        .env("SANDSERVE_TOOLS", tools)
        .env(
            "XDG_CACHE_HOME",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("dev-cache"),
        )
        .env("PATH", path)
        .env("RUSTC", cargo.with_file_name("rustc"))
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("VIRTUAL_ENV");
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `sandserve dev` running, its stdout and stderr gathered in one text.
struct Dev {
    child: Child,
    said: Arc<Mutex<String>>,
}

impl Dev {
    fn start(project: &Path, site: &Path, listen: &str) -> Dev {
        let mut command = Command::new(common::BIN);
        environment(&mut command);
        let mut child = command
            .arg("dev")
            .arg(project)
            .arg("--root")
            .arg(site)
            .args(["--listen", listen])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let said = Arc::new(Mutex::new(String::new()));
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let sink = said.clone();
            std::thread::spawn(move || {
                let mut lines = BufReader::new(stream);
                let mut line = String::new();
                while lines.read_line(&mut line).unwrap_or(0) > 0 {
                    sink.lock().unwrap().push_str(&line);
                    line.clear();
                }
            });
        }
        Dev { child, said }
    }

    fn output(&self) -> String {
        self.said.lock().unwrap().clone()
    }

    /// What dev said from byte `from` on, once it holds `needle` (fails after 5
    /// minutes: a cold compile of CPython on one core is ~10 s here).
    fn wait_for(&mut self, needle: &str, from: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let said = self.output();
            if said[from..].contains(needle) {
                return said[from..].to_owned();
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("dev exited ({status}) before {needle:?}:\n{said}");
            }
            assert!(
                Instant::now() < deadline,
                "no {needle:?} within 5 minutes:\n{said}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("dev said:\n{}", self.output());
        }
    }
}

#[test]
fn what_a_handler_prints_is_logged_bounded_escaped_and_never_sent() {
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("prints-c");
    let out = sandserve(
        tmp.path(),
        &["new", "--lang", "c", project.to_str().unwrap()],
    );
    assert!(out.status.success(), "new: {}", text(&out));
    // A line with a terminal escape and a carriage return (which could forge what a
    // terminal shows of the log), longer than the bound; stderr is unbuffered.
    edit(
        &project.join("handler.c"),
        &[(
            "  const char *status = \"200 OK\";",
            "  fprintf(stderr, \"look \\x1b[31mred\\x1b[0m\\r at %s and then a long tail that the bound cuts off\\n\", rel);\n  const char *status = \"200 OK\";",
        )],
    );
    let out = sandserve(&project, &["build"]);
    assert!(out.status.success(), "build: {}", text(&out));
    let wasm = project.join("handler.wasm");
    let site = tmp.path().join("site");
    std::fs::create_dir(&site).unwrap();
    std::fs::write(site.join("a.txt"), "hello\n").unwrap();

    let server = Server::start(
        &site,
        &[
            "--handler",
            wasm.to_str().unwrap(),
            "--handler-output",
            "40B",
        ],
    );
    let response = server.get("/a.txt");
    assert_eq!(
        (response.status, response.text().as_str()),
        (200, "hello\n")
    );
    let log = server.wait_for_log("more bytes not shown");
    assert!(
        log.contains("sandserve: handler: GET /a.txt HTTP/1.1: look \\x1b[31mred\\x1b[0m\\r at a.txt and then a "),
        "{log}"
    );
    assert!(
        !log.contains('\u{1b}'),
        "an escape reached the log: {log:?}"
    );
    assert!(
        log.contains("(0 more lines and 33 more bytes not shown: --handler-output)"),
        "{log}"
    );

    // Off by default: nothing of it in the log.
    let quiet = Server::start(&site, &["--handler", wasm.to_str().unwrap()]);
    assert_eq!(quiet.get("/a.txt").status, 200);
    assert_eq!(quiet.get("/a.txt").status, 200);
    assert!(!quiet.log().contains("handler:"), "{}", quiet.log());
}
