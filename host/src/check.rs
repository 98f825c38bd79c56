//! `sandserve check FILE.wasm`: a handler put through a conformance suite in-process —
//! the real engine, a fresh instance per request, the host's own checks of every answer
//! — against a temporary root this module writes, and a table of what it got right.
//!
//! Rules come in three levels, each including the ones before: `seed` (what the seed
//! server meant to do: files, 404 with the root's page, no way out of the root), `http`
//! (what HTTP/1.1 asks of any origin server: HEAD, Date, lengths, methods, encoded
//! `..`), `static` (what users expect of a static-file server: types, index files,
//! dotfiles, validators and 304, ranges). The level reached is the highest whose rules
//! and all below pass. The rules themselves live in `check/rules.rs`.

mod rules;

use std::net::SocketAddr;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use cap_std::fs::Dir;

use crate::bindings::wit;
use crate::decide::Decider;
use crate::engine::Engine;
use crate::invoke::{Handler, Invoker};
use crate::plan::Piece;
use crate::request;

/// The levels, lowest first.
pub const LEVELS: [&str; 3] = ["seed", "http", "static"];

/// What one rule found.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail(String),
}

/// A handler's answer to one request, as the host would send it.
pub struct Answer {
    pub status: u16,
    /// Field names lower-cased, in order.
    pub fields: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The handler under check and the root it sees.
pub struct Bench {
    decider: Decider,
    handler: Handler,
    runtime: tokio::runtime::Runtime,
    /// The file outside the root that no answer may contain.
    pub secret: Vec<u8>,
    _dir: tempfile::TempDir,
}

impl Bench {
    /// The answer to `GET target` (or another method) with `fields` added.
    pub fn ask(&self, method: &str, target: &str, fields: &str) -> Result<Answer, String> {
        let head = format!(
            "{method} {target} HTTP/1.1\r\nHost: check.invalid\r\nUser-Agent: sandserve-check/1 (a conformance suite for sandserve handlers)\r\n{fields}\r\n"
        );
        let checked = request::check(head.as_bytes())
            .map_err(|refusal| format!("the host refused the request: {refusal:?}"))?;
        let peer: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let decided = self.runtime.block_on(self.decider.decide(
            &self.handler,
            head.as_bytes(),
            peer,
            0,
            checked.head_method,
        ));
        let checked = decided.map_err(|failure| format!("{:#}", failure.error))?;
        let text = String::from_utf8_lossy(&checked.head);
        let fields = text
            .split("\r\n")
            .skip(1)
            .filter_map(|line| line.split_once(':'))
            .map(|(n, v)| (n.to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let mut body = Vec::new();
        for piece in &checked.body.pieces {
            match piece {
                Piece::Bytes(bytes) => body.extend_from_slice(bytes),
                Piece::File {
                    file,
                    offset,
                    length,
                } => {
                    let mut part = vec![0; *length as usize];
                    file.read_exact_at(&mut part, *offset)
                        .map_err(|e| format!("cannot read the body's file: {e}"))?;
                    body.extend(part);
                }
            }
        }
        Ok(Answer {
            status: checked.status,
            fields,
            body,
        })
    }
}

/// The root every check runs against; its parent holds `secret.txt`.
pub const FILES: &[(&str, &[u8])] = &[
    ("index.html", b"<!doctype html><title>home</title>\n"),
    ("a.txt", b"hello from a\n"),
    ("style.css", b"body { color: red }\n"),
    ("404.html", b"<!doctype html><title>not here</title>\n"),
    ("docs/index.html", b"docs index\n"),
    (".env", b"SECRET_ENV=1\n"),
];
const SECRET: &[u8] = b"SANDSERVE-CHECK-SECRET-51f0";

/// Loads `file` as a handler and runs every rule; prints the table and the level.
/// Exit status 1 when the level reached is below `require`.
pub fn run(file: &Path, require: &str) -> Result<ExitCode> {
    if !LEVELS.contains(&require) {
        bail!("--require {require}: the levels are {}", LEVELS.join(", "));
    }
    let bench = bench(file)?;
    let results = rules::run_all(&bench);
    let width = results.iter().map(|r| r.0.len()).max().unwrap_or(0);
    println!("{:width$}  level   result", "rule");
    for (rule, level, outcome) in &results {
        match outcome {
            Outcome::Pass => println!("{rule:width$}  {level:6}  pass"),
            Outcome::Fail(why) => println!("{rule:width$}  {level:6}  FAIL: {why}"),
        }
    }
    let reached = level_reached(&results);
    let passed = results.iter().filter(|r| r.2 == Outcome::Pass).count();
    println!(
        "level: {} ({passed} of {} rules pass)",
        reached.unwrap_or("none"),
        results.len()
    );
    let needed = LEVELS.iter().position(|l| *l == require);
    let got = reached.and_then(|r| LEVELS.iter().position(|l| *l == r));
    Ok(if got >= needed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The highest level whose rules, and those of every level below, all pass.
pub fn level_reached(results: &[(&str, &str, Outcome)]) -> Option<&'static str> {
    let mut reached = None;
    for level in LEVELS {
        let all = results
            .iter()
            .filter(|r| r.1 == level)
            .all(|r| r.2 == Outcome::Pass);
        if !all {
            break;
        }
        reached = Some(level);
    }
    reached
}

fn bench(file: &Path) -> Result<Bench> {
    let bytes = std::fs::read(file).with_context(|| format!("{}: cannot read", file.display()))?;
    let dir = tempfile::tempdir().context("cannot make a temporary root")?;
    let root: PathBuf = dir.path().join("root");
    for (path, content) in FILES {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap())?;
        std::fs::write(path, content)?;
    }
    std::fs::write(dir.path().join("secret.txt"), SECRET)?;
    let memory = 64 << 20;
    let engine = Arc::new(Engine::new(memory, crate::cache::default_dir().as_deref())?);
    let (pre, _) = engine
        .prepare(&bytes)
        .with_context(|| file.display().to_string())?;
    let cap = Arc::new(Dir::open_ambient_dir(&root, cap_std::ambient_authority())?);
    let invoker = Invoker::new(engine, root, cap.clone(), Duration::from_secs(2), memory, 1);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok(Bench {
        decider: Decider::new(invoker, cap, policy()),
        handler: Handler::new(pre),
        runtime,
        secret: SECRET.to_vec(),
        _dir: dir,
    })
}

/// The server's defaults: no User-Agent rule, no dotfiles, no listings.
fn policy() -> wit::Policy {
    wit::Policy {
        min_user_agent_len: 0,
        serve_dotfiles: false,
        server_name: "sandserve".to_owned(),
        cache_control: Vec::new(),
        extra_headers: Vec::new(),
        list_dirs: false,
        fallback: None,
    }
}
