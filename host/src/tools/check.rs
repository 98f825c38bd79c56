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

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Result, bail};

use crate::sandbox::engine::Compiler;
use crate::sandbox::invoke::Handler;
pub use crate::tools::lab::FILES;
use crate::tools::lab::{Lab, SECRET};

/// The levels, lowest first.
pub const LEVELS: [&str; 3] = ["seed", "http", "static"];

/// A request of a project's own (its manifest's `[[test]]`), answered in the
/// temporary root: `GET` of `get` must answer `status`, with `body` in the body.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub get: String,
    pub status: u16,
    #[serde(default)]
    pub body: Option<String>,
}

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

/// The handler under check, in a lab over the temporary root.
pub struct Bench {
    lab: Lab,
    handler: Handler,
    /// The file outside the root that no answer may contain.
    pub secret: &'static [u8],
}

impl Bench {
    /// The answer to `METHOD target` with `fields` added, with its body read.
    pub fn ask(&self, method: &str, target: &str, fields: &str) -> Result<Answer, String> {
        let head = format!(
            "{method} {target} HTTP/1.1\r\nHost: check.invalid\r\nUser-Agent: sandserve-check/1 (a conformance suite for sandserve handlers)\r\n{fields}\r\n"
        );
        let decided = self
            .lab
            .decide(&self.handler, head.as_bytes())
            .map_err(|e| format!("{e:#}"))?;
        let checked = decided.map_err(|failure| format!("{:#}", failure.error))?;
        let fields = crate::versions::compare::field_pairs(&checked.head);
        let body = checked
            .body
            .into_bytes()
            .map_err(|e| format!("cannot read the body's file: {e:#}"))?;
        Ok(Answer {
            status: checked.status,
            fields,
            body,
        })
    }
}

/// Loads `file` as a handler and runs every rule; prints the table and the level.
/// Exit status 1 when the level reached is below `require`.
pub fn run(file: &Path, require: &str) -> Result<ExitCode> {
    run_with(file, require, &[], Compiler::Optimized)
}

/// `run`, with a project's own requests after the rules (each must pass too).
pub fn run_with(
    file: &Path,
    require: &str,
    cases: &[Case],
    compiler: Compiler,
) -> Result<ExitCode> {
    let (passed, _) = report(file, require, cases, compiler, true)?;
    Ok(if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Runs and prints the check (`all`: every rule, else only failures); whether it
/// passed (the level reached and every case), and a one-line summary.
pub fn report(
    file: &Path,
    require: &str,
    cases: &[Case],
    compiler: Compiler,
    all: bool,
) -> Result<(bool, String)> {
    if !LEVELS.contains(&require) {
        bail!("--require {require}: the levels are {}", LEVELS.join(", "));
    }
    let bench = bench(file, compiler)?;
    let results = rules::run_all(&bench);
    let width = results.iter().map(|r| r.0.len()).max().unwrap_or(0);
    if all {
        println!("{:width$}  level   result", "rule");
    }
    let needed = LEVELS.iter().position(|l| *l == require);
    for (rule, level, outcome) in &results {
        // Quiet, only what fails the required level is said.
        let above = LEVELS.iter().position(|l| l == level) > needed;
        match outcome {
            Outcome::Pass if !all => {}
            Outcome::Fail(_) if !all && above => {}
            Outcome::Pass => println!("{rule:width$}  {level:6}  pass"),
            Outcome::Fail(why) => println!("{rule:width$}  {level:6}  FAIL: {why}"),
        }
    }
    let reached = level_reached(&results);
    let passed = results.iter().filter(|r| r.2 == Outcome::Pass).count();
    if all {
        println!(
            "level: {} ({passed} of {} rules pass)",
            reached.unwrap_or("none"),
            results.len()
        );
    }
    let mut cases_failed = 0;
    for case in cases {
        let outcome = own(&bench, case);
        if outcome.is_err() {
            cases_failed += 1;
        }
        match outcome {
            Ok(()) if !all => {}
            Ok(()) => println!("project: GET {}  pass", case.get),
            Err(why) => println!("project: GET {}  FAIL: {why}", case.get),
        }
    }
    let got = reached.and_then(|r| LEVELS.iter().position(|l| *l == r));
    let summary = format!(
        "level {} ({require} required), {passed} of {} rules{}",
        reached.unwrap_or("none"),
        results.len(),
        if cases.is_empty() {
            String::new()
        } else {
            format!(
                ", {} of {} project requests",
                cases.len() - cases_failed,
                cases.len()
            )
        }
    );
    Ok((got >= needed && cases_failed == 0, summary))
}

/// One of the project's own requests.
fn own(bench: &Bench, case: &Case) -> Result<(), String> {
    let answer = bench.ask("GET", &case.get, "")?;
    if answer.status != case.status {
        return Err(format!("status {}, not {}", answer.status, case.status));
    }
    if let Some(text) = &case.body.as_ref().filter(|t| !t.is_empty())
        && !answer
            .body
            .windows(text.len())
            .any(|w| w == text.as_bytes())
    {
        return Err(format!("the body has no {text:?}"));
    }
    Ok(())
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

fn bench(file: &Path, compiler: Compiler) -> Result<Bench> {
    let lab = Lab::with_compiler(None, compiler)?;
    let handler = lab.load(file)?;
    Ok(Bench {
        lab,
        handler,
        secret: SECRET,
    })
}
