//! The client side of the admin channel: `sandserve swap`, `rollback` and `status`
//! send one HTTP/1.1 request over the server's Unix socket and print the answer, as a
//! short report or (`status --json`) as the server's JSON.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::settings::cli::AdminCommand as Command;
use crate::versions::swap::short;

/// A swap of a large component compiles it first: allow for that.
const TIMEOUT: Duration = Duration::from_secs(300);

/// Runs one admin command; the exit status is 1 when the server refused it.
pub fn run(command: Command) -> Result<ExitCode> {
    let refused = |answer: &Value| match answer.get("error") {
        Some(error) => {
            println!("refused: {}", text(error));
            true
        }
        None => false,
    };
    match command {
        Command::Swap {
            admin,
            force,
            mount,
            file,
        } => {
            let file = std::path::absolute(&file)
                .with_context(|| format!("{}: not a usable path", file.display()))?;
            let target = format!("/swap{}", query(force, mount.as_deref()));
            // The path's own bytes: a file name need not be UTF-8.
            let body = std::os::unix::ffi::OsStrExt::as_bytes(file.as_os_str());
            let (status, report) = call(&admin, "POST", &target, body)?;
            print_report(&report);
            Ok(exit(status))
        }
        Command::Rollback { admin, mount } => {
            let target = format!("/rollback{}", query(false, mount.as_deref()));
            let (status, answer) = call(&admin, "POST", &target, b"")?;
            if !refused(&answer) {
                println!("live: {}", version_line(&answer["live"]));
            }
            Ok(exit(status))
        }
        Command::Status { admin, json } => {
            let (status, answer) = call(&admin, "GET", "/status", b"")?;
            if refused(&answer) {
                return Ok(exit(status));
            }
            if json {
                println!("{answer}");
            } else {
                println!("live: {}", version_line(&answer["live"]));
                for kept in answer["kept"].as_array().into_iter().flatten() {
                    println!("kept: {}", version_line(kept));
                }
                for mount in answer["mounts"].as_array().into_iter().flatten() {
                    println!("mount {}:", text(&mount["prefix"]));
                    println!("  live: {}", version_line(&mount["live"]));
                    for kept in mount["kept"].as_array().into_iter().flatten() {
                        println!("  kept: {}", version_line(kept));
                    }
                }
                if !answer["last_swap"].is_null() {
                    println!("last swap:");
                    print_report(&answer["last_swap"]);
                }
            }
            Ok(exit(status))
        }
    }
}

/// `?force=1&mount=PREFIX` as asked, or nothing.
fn query(force: bool, mount: Option<&str>) -> String {
    let mut pairs = Vec::new();
    if force {
        pairs.push("force=1".to_owned());
    }
    if let Some(prefix) = mount {
        let encoded =
            percent_encoding::utf8_percent_encode(prefix, percent_encoding::NON_ALPHANUMERIC);
        pairs.push(format!("mount={encoded}"));
    }
    if pairs.is_empty() {
        String::new()
    } else {
        format!("?{}", pairs.join("&"))
    }
}

fn exit(status: u16) -> ExitCode {
    if status == 200 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// One request on a fresh connection; the status and the JSON body of the answer.
pub fn call(admin: &Path, method: &str, target: &str, body: &[u8]) -> Result<(u16, Value)> {
    let mut stream = UnixStream::connect(admin)
        .with_context(|| format!("--admin {}: cannot connect", admin.display()))?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    let head = format!(
        "{method} {target} HTTP/1.1\r\nHost: sandserve\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .context("the server did not answer")?;
    let mut fields = [httparse::EMPTY_HEADER; 16];
    let mut response = httparse::Response::new(&mut fields);
    let Ok(httparse::Status::Complete(head_len)) = response.parse(&answer) else {
        bail!("the admin socket answered something that is not HTTP");
    };
    let status = response.code.unwrap_or(0);
    let value = serde_json::from_slice(&answer[head_len..])
        .context("the admin socket answered something that is not JSON")?;
    Ok((status, value))
}

/// A JSON value as text: a string as it is, anything else as JSON.
pub fn text(value: &Value) -> String {
    value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned)
}

fn version_line(v: &Value) -> String {
    let sha = v["sha256"].as_str().unwrap_or("?");
    format!(
        "{} {} (sandserve:server@{}{}; since {}; {} requests, {} 5xx, {} traps)",
        short(sha),
        text(&v["source"]),
        text(&v["contract"]),
        if v["wasi"] == true { ", WASI" } else { "" },
        v["live_since"],
        v["requests"],
        v["failures"],
        v["traps"]
    )
}

fn print_report(r: &Value) {
    if let Some(error) = r.get("error") {
        println!("refused: {}", text(error));
        return;
    }
    let sha = r["sha256"].as_str().unwrap_or("-");
    let slot = r["mount"]
        .as_str()
        .map(|prefix| format!(" (mount {prefix})"))
        .unwrap_or_default();
    println!(
        "{}: {} {}{slot}",
        text(&r["outcome"]),
        short(sha),
        text(&r["source"])
    );
    if let Some(reason) = r["reason"].as_str() {
        println!("  {reason}");
    }
    if !r["origin"].is_null() {
        println!("  {} in {} ms", text(&r["origin"]), r["compile_ms"]);
    }
    println!(
        "  {} requests replayed, {} differ, {} failed only with the candidate",
        r["replayed"], r["differing"], r["new_failures"]
    );
    for line in r["differences"].as_array().into_iter().flatten() {
        println!("    {}", text(line));
    }
}
