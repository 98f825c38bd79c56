//! `sandserve dev [DIR]`: the edit-to-live loop. It serves the project's handler (a
//! server of its own, started from this binary with `--compile fast` and
//! `--handler-output`, or one already running, through its `--admin` socket), watches
//! the project's sources, and on each change: builds, runs `check` at the project's
//! level, swaps the build in through the admin socket — the swap's shadow check
//! replays the requests just served through old and new, and refuses a build that
//! fails where the live one did not — and asks the server once more. One line a step,
//! with its time, and the loop's: from the saved file's modification to the first
//! answer of the new version.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Instant, SystemTime};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::admin::control::text;
use crate::dev::build;
use crate::dev::project::Project;
pub use crate::dev::server::Options;
use crate::dev::server::{Server, first_answer, given, on_signal_stop, start};
use crate::dev::watch::wait_for_change;
use crate::sandbox::engine::{Compiler, on_one_core};
use crate::tools::check;

pub fn run(options: Options) -> Result<ExitCode> {
    let project = Project::open(&options.dir)?;
    if options.admin.is_none() && options.root.is_none() {
        bail!("dev: --root SITE (a server of its own) or --admin SOCK (a running one)");
    }
    if options.admin.is_some() && !options.server_args.is_empty() {
        bail!("dev --admin: flags after -- are for a server dev starts, and it starts none");
    }
    for owned in ["--root", "--handler", "--admin", "--listen"] {
        if given(&options.server_args, owned) {
            bail!("dev: {owned} after -- is dev's to set (give --root and --listen before --)");
        }
    }
    // The builds swapped in, and the admin socket of a server of our own.
    let state = tempfile::Builder::new()
        .prefix("sandserve-dev-")
        .tempdir()
        .context("cannot make a temporary folder")?;
    on_signal_stop(state.path().to_owned());
    let mut sources = project.sources();
    say(
        "watch",
        &format!(
            "{} ({} project, {} sources, check level {})",
            project.dir.display(),
            project.lang.name(),
            sources.len(),
            project.level
        ),
    );
    let mut version = 0u32;
    let mut server: Option<Server> = None;
    let mut saved = None;
    loop {
        let edit = Instant::now();
        version += 1;
        let candidate = state.path().join(format!("v{version}.wasm"));
        let ready = ready(&project, &candidate);
        if ready {
            match &mut server {
                None => {
                    let started = Instant::now();
                    let mut new = start(&options, state.path(), &candidate)?;
                    let how = match (&new.child, given(&options.server_args, "--compile")) {
                        (None, _) => "through --admin",
                        (Some(_), false) => "a server of its own, --compile fast",
                        (Some(_), true) => "a server of its own",
                    };
                    let url = new.probe.as_deref().map(|a| format!("http://{a}/ "));
                    say(
                        "serve",
                        &format!(
                            "{}({how}), {:.2} s",
                            url.unwrap_or_default(),
                            started.elapsed().as_secs_f64()
                        ),
                    );
                    // A running server gets the first build as any other; ours started
                    // with it.
                    if options.admin.is_some() {
                        swap(&mut new, &candidate, saved, edit)?;
                    } else {
                        probe(&new, saved, edit);
                    }
                    server = Some(new);
                }
                Some(server) => swap(server, &candidate, saved, edit)?,
            }
        }
        let changed = wait_for_change(&project, &mut sources, server.as_mut())?;
        saved = Some(changed.1);
        say("edit", &changed.0);
    }
}

/// Builds and checks; whether `candidate` now holds a build that passed.
fn ready(project: &Project, candidate: &Path) -> bool {
    let started = Instant::now();
    if let Err(e) = build::build(project) {
        say(
            "build",
            &format!(
                "failed, {:.2} s: {}",
                started.elapsed().as_secs_f64(),
                crate::versions::compare::one_line(&e)
            ),
        );
        say("refused", "the build failed; the handler serving stays");
        return false;
    }
    say(
        "build",
        &format!("ok, {:.2} s", started.elapsed().as_secs_f64()),
    );
    if let Err(e) = std::fs::copy(&project.out, candidate) {
        say(
            "build",
            &format!("cannot copy {}: {e}", project.out.display()),
        );
        return false;
    }
    let started = Instant::now();
    // Its compile beside the serving server, on one core as the server's own are.
    let checked = on_one_core(|| {
        check::report(
            candidate,
            project.level,
            &project.cases,
            Compiler::Fast,
            false,
        )
    });
    match checked {
        Ok((true, summary)) => {
            say(
                "check",
                &format!("{summary}, {:.2} s", started.elapsed().as_secs_f64()),
            );
            true
        }
        Ok((false, summary)) => {
            say(
                "check",
                &format!(
                    "FAILED: {summary}, {:.2} s",
                    started.elapsed().as_secs_f64()
                ),
            );
            say("refused", "the check failed; the handler serving stays");
            false
        }
        Err(e) => {
            say(
                "check",
                &format!("FAILED: {}", crate::versions::compare::one_line(&e)),
            );
            say("refused", "the check failed; the handler serving stays");
            false
        }
    }
}

/// Swaps `candidate` in, says what the shadow check found, and asks for the first
/// answer of the new version.
fn swap(
    server: &mut Server,
    candidate: &Path,
    saved: Option<SystemTime>,
    edit: Instant,
) -> Result<()> {
    if let Some(child) = server.child.as_mut()
        && let Some(status) = child.try_wait()?
    {
        bail!("the server exited ({status})");
    }
    let started = Instant::now();
    let body = std::os::unix::ffi::OsStrExt::as_bytes(candidate.as_os_str());
    let answer = crate::admin::control::call(&server.admin, "POST", "/swap", body);
    // The server has read the candidate (or never will): its copy can go.
    let _ = std::fs::remove_file(candidate);
    let (status, report) = match answer {
        Ok(answer) => answer,
        Err(e) => {
            say(
                "swap",
                &format!("failed: {}", crate::versions::compare::one_line(&e)),
            );
            say(
                "refused",
                "the swap did not happen; the handler serving stays",
            );
            return Ok(());
        }
    };
    let took = started.elapsed().as_secs_f64();
    let outcome = report["outcome"].as_str().unwrap_or("refused");
    let counts = format!(
        "{} requests replayed, {} differ, {} fail only with the new build",
        report["replayed"], report["differing"], report["new_failures"]
    );
    if status == 200 && outcome == "swapped" {
        say(
            "swap",
            &format!(
                "swapped ({} in {} ms): {counts}, {took:.2} s",
                text(&report["origin"]),
                report["compile_ms"]
            ),
        );
        differences(&report);
        probe(server, saved, edit);
    } else if outcome == "unchanged" {
        say("swap", "unchanged: the build is the handler serving");
    } else {
        let why = report
            .get("error")
            .or(report.get("reason"))
            .map(text)
            .unwrap_or_default();
        say("swap", &format!("refused: {why} ({counts}, {took:.2} s)"));
        differences(&report);
        say("refused", "the handler serving stays");
    }
    Ok(())
}

fn differences(report: &Value) {
    for line in report["differences"].as_array().into_iter().flatten() {
        println!("dev:          {}", text(line));
    }
}

/// Asks for `/` and prints the loop time: from the save (or, for the first build,
/// from when `dev` began it) to this answer.
fn probe(server: &Server, saved: Option<SystemTime>, edit: Instant) {
    let from = if saved.is_some() {
        "the save"
    } else {
        "the start"
    };
    let Some(address) = &server.probe else {
        say(
            "live",
            &format!("loop {:.2} s from {from} to the swap", since(saved, edit)),
        );
        return;
    };
    match first_answer(address) {
        Ok(status) => say(
            "live",
            &format!(
                "GET / answered {status} by the new version; loop {:.2} s from {from}",
                since(saved, edit)
            ),
        ),
        Err(e) => say("live", &format!("GET / failed: {e:#}")),
    }
}

fn since(saved: Option<SystemTime>, edit: Instant) -> f64 {
    saved
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .unwrap_or_else(|| edit.elapsed())
        .as_secs_f64()
}

fn say(step: &str, what: &str) {
    println!("dev: {step:8} {what}");
    let _ = std::io::stdout().flush();
}
