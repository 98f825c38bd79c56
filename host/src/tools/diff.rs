//! `sandserve diff A.wasm B.wasm`: the same requests through two handlers, in-process,
//! and what differs between their answers — compared by `compare`, exactly as the
//! hot-swap check compares a candidate with the live version.
//!
//! The requests are a built-in corpus (files, directories, misses, `..`, HEAD, an
//! unknown method, conditionals, ranges, compression) against the lab's temporary root,
//! or `--requests FILE` (JSON lines, `{"head": "GET / HTTP/1.1\r\n…\r\n\r\n"}`, as a
//! server started with `--record FILE` writes them) against `--root DIR`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::tools::lab::Lab;
use crate::versions::compare::{Summary, differences};

/// How many differences of one request are printed.
const SHOWN: usize = 5;

#[derive(Deserialize)]
struct Recorded {
    head: String,
    /// The `--mount` prefix whose handler decided it (`--record`); none: `--handler`'s.
    #[serde(default)]
    mount: Option<String>,
}

/// Runs the corpus (or `requests`: a file, and the mount whose heads alone to take)
/// through `a` and `b` and prints each request that differs, then a summary. Exit
/// status 1 when any differs.
pub fn run(
    a: &Path,
    b: &Path,
    requests: Option<(&Path, Option<&str>)>,
    root: Option<&Path>,
) -> Result<ExitCode> {
    let heads = match requests {
        Some((file, mount)) => read_requests(file, mount)?,
        None => corpus().into_iter().map(String::into_bytes).collect(),
    };
    let lab = Lab::new(root)?;
    let (first, second) = (lab.load(a)?, lab.load(b)?);
    let mut differing = 0;
    for head in &heads {
        let line = label(head);
        let (one, two) = match (lab.decide(&first, head), lab.decide(&second, head)) {
            (Ok(one), Ok(two)) => (Summary::of(&one), Summary::of(&two)),
            (Err(e), _) | (_, Err(e)) => {
                println!("{line}: skipped, {e:#}");
                continue;
            }
        };
        let found = differences(&one, &two);
        if found.is_empty() {
            continue;
        }
        differing += 1;
        println!("{line}");
        for difference in found.iter().take(SHOWN) {
            println!("    {difference}");
        }
        if found.len() > SHOWN {
            println!("    … and {} more", found.len() - SHOWN);
        }
    }
    println!(
        "{} requests, {differing} differ ({} against {})",
        heads.len(),
        a.display(),
        b.display()
    );
    Ok(if differing == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The request line, and the fields that make it differ from a plain one.
fn label(head: &[u8]) -> String {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.lines();
    let first = crate::http::request::request_line(head);
    let extra: Vec<&str> = lines
        .by_ref()
        .skip(1)
        .filter(|l| !l.is_empty())
        .filter(|l| {
            let name = l.split(':').next().unwrap_or("").to_ascii_lowercase();
            name != "host" && name != "user-agent"
        })
        .collect();
    if extra.is_empty() {
        first
    } else {
        format!("{first} [{}]", extra.join("; "))
    }
}

fn read_requests(file: &Path, mount: Option<&str>) -> Result<Vec<Vec<u8>>> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("--requests {}: cannot read", file.display()))?;
    let mut heads = Vec::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let recorded: Recorded = serde_json::from_str(line).with_context(|| {
            format!(
                "--requests {} line {}: not {{\"head\": …}}",
                file.display(),
                n + 1
            )
        })?;
        let taken = mount.is_none_or(|wanted| {
            recorded
                .mount
                .as_deref()
                .is_some_and(|m| m == wanted || m.strip_suffix('/') == Some(wanted))
        });
        if !taken {
            continue;
        }
        let head = crate::observe::record::head_bytes(&recorded.head).with_context(|| {
            format!(
                "--requests {} line {}: a head is bytes, one character (U+0000 to U+00FF) each",
                file.display(),
                n + 1
            )
        })?;
        heads.push(head);
    }
    if heads.is_empty() {
        match mount {
            Some(mount) => bail!(
                "--requests {}: no requests of --mount {mount} in it",
                file.display()
            ),
            None => bail!("--requests {}: no requests in it", file.display()),
        }
    }
    Ok(heads)
}

/// Requests a person would try by hand on a static site.
fn corpus() -> Vec<String> {
    let plain = |method: &str, target: &str, fields: &str| {
        format!(
            "{method} {target} HTTP/1.1\r\nHost: diff.invalid\r\nUser-Agent: sandserve-diff/1\r\n{fields}\r\n"
        )
    };
    let mut heads = Vec::new();
    for target in [
        "/",
        "/a.txt",
        "/style.css",
        "/docs/",
        "/docs",
        "/missing.txt",
        "/.env",
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/a.txt?q=1",
    ] {
        heads.push(plain("GET", target, ""));
    }
    heads.push(plain("HEAD", "/a.txt", ""));
    heads.push(plain("DELETE", "/a.txt", ""));
    heads.push(plain("OPTIONS", "*", ""));
    heads.push(plain("GET", "/a.txt", "Range: bytes=0-4\r\n"));
    heads.push(plain(
        "GET",
        "/a.txt",
        "If-Modified-Since: Sat, 01 Jan 2100 00:00:00 GMT\r\n",
    ));
    heads.push(plain("GET", "/a.txt", "Accept-Encoding: gzip, br\r\n"));
    heads.push(plain("GET", "/a.txt", "Connection: close\r\n"));
    heads
}
