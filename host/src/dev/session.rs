//! `sandserve dev [DIR]`: the edit-to-live loop. It serves the project's handler (a
//! server of its own, started from this binary with `--compile fast` and
//! `--handler-output`, or one already running, through its `--admin` socket), watches
//! the project's sources, and on each change: builds, runs `check` at the project's
//! level, swaps the build in through the admin socket — the swap's shadow check
//! replays the requests just served through old and new, and refuses a build that
//! fails where the live one did not — and asks the server once more. One line a step,
//! with its time, and the loop's: from the saved file's modification to the first
//! answer of the new version.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::dev::build;
use crate::dev::project::Project;
use crate::sandbox::engine::Compiler;
use crate::tools::check;

/// How often the sources are looked at.
const POLL: Duration = Duration::from_millis(100);
/// Longest wait for the first server to listen (a cold compile of CPython on one core
/// takes ~10 s here).
const START: Duration = Duration::from_secs(300);
/// What one request's handler output may show in the server's log.
const OUTPUT: &str = "4KiB";

pub struct Options {
    pub dir: PathBuf,
    pub root: Option<PathBuf>,
    pub listen: Option<String>,
    pub admin: Option<PathBuf>,
    /// More flags for the server `dev` starts.
    pub server_args: Vec<OsString>,
}

/// The server builds are swapped into.
struct Server {
    admin: PathBuf,
    /// Where to ask for the first answer of a new version (`None`: not known).
    probe: Option<String>,
    /// The server `dev` started, stopped with it.
    child: Option<Child>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = rustix::process::kill_process(
                rustix::process::Pid::from_child(child),
                rustix::process::Signal::TERM,
            );
            let _ = child.wait();
        }
    }
}

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
    let compile_one_core = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .context("cannot start the compile thread")?;
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
        let ready = compile_one_core.install(|| ready(&project, &candidate));
        if ready {
            match &mut server {
                None => {
                    let started = Instant::now();
                    let new = start(&options, state.path(), &candidate)?;
                    say(
                        "serve",
                        &format!(
                            "{}{}, {:.2} s",
                            new.probe
                                .as_deref()
                                .map(|a| format!("http://{a}/ "))
                                .unwrap_or_default(),
                            if new.child.is_some() {
                                "(a server of its own, --compile fast)"
                            } else {
                                "(through --admin)"
                            },
                            started.elapsed().as_secs_f64()
                        ),
                    );
                    server = Some(new);
                    if let Some(server) = &mut server {
                        if options.admin.is_some() {
                            swap(server, &candidate, saved, edit)?;
                        } else {
                            probe(server, saved, edit);
                        }
                    }
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
    match check::report(
        candidate,
        project.level,
        &project.cases,
        Compiler::Fast,
        false,
    ) {
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

/// The server: ours, started on the first build, or the one at `--admin`.
fn start(options: &Options, state: &Path, first: &Path) -> Result<Server> {
    if let Some(admin) = &options.admin {
        return Ok(Server {
            admin: admin.clone(),
            probe: options.listen.clone(),
            child: None,
        });
    }
    let listen = options
        .listen
        .clone()
        .unwrap_or_else(|| "127.0.0.1:8080".to_owned());
    let admin = state.join("admin.sock");
    let mut command = Command::new(std::env::current_exe().context("cannot find this binary")?);
    command
        .arg("--root")
        .arg(options.root.as_deref().unwrap())
        .args([
            "--listen",
            &listen,
            "--compile",
            "fast",
            "--handler-output",
            OUTPUT,
        ])
        .arg("--handler")
        .arg(first)
        .arg("--admin")
        .arg(&admin)
        .args(&options.server_args);
    // SAFETY: between fork and exec only the async-signal-safe prctl is called: the
    // server is sent SIGTERM if `dev` dies, however it dies.
    // A dev that died before the prctl took effect leaves the server a new parent:
    // then it does not start.
    let parent = rustix::process::getpid();
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut command, move || {
            rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::TERM))
                .map_err(std::io::Error::from)?;
            if rustix::process::getppid() != Some(parent) {
                return Err(std::io::Error::other("dev is gone"));
            }
            Ok(())
        });
    }
    let mut child = command.spawn().context("cannot start the server")?;
    *SERVER.lock().unwrap_or_else(|e| e.into_inner()) = Some(child.id());
    let deadline = Instant::now() + START;
    // The sockets are bound before the handler is compiled, the admin channel served
    // only after: its answer says the server serves.
    let answers = || {
        admin.exists()
            && crate::admin::control::call(&admin, "GET", "/status", b"").is_ok_and(|a| a.0 == 200)
    };
    while !answers() {
        if let Some(status) = child.try_wait()? {
            bail!("the server exited ({status}) before it served");
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            bail!("the server did not listen on {listen} within {START:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(Server {
        admin,
        probe: Some(listen),
        child: Some(child),
    })
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

/// The status line's code of `GET /` on a fresh connection.
fn first_answer(address: &str) -> Result<String> {
    let mut stream = TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(b"GET / HTTP/1.1\r\nHost: dev\r\nUser-Agent: sandserve-dev (first answer)\r\nConnection: close\r\n\r\n")?;
    let mut head = [0u8; 64];
    let n = stream.read(&mut head)?;
    let line = String::from_utf8_lossy(&head[..n]);
    Ok(line.split(' ').nth(1).unwrap_or("?").to_owned())
}

/// Waits until the sources change and stay unchanged for a poll; the changed files
/// and the newest modification among them. Fails when the server `dev` started exits.
fn wait_for_change(
    project: &Project,
    seen: &mut Vec<(PathBuf, SystemTime)>,
    mut server: Option<&mut Server>,
) -> Result<(String, SystemTime)> {
    loop {
        std::thread::sleep(POLL);
        if let Some(child) = server.as_mut().and_then(|s| s.child.as_mut())
            && let Some(status) = child.try_wait()?
        {
            bail!("the server exited ({status})");
        }
        let now = project.sources();
        if now == *seen {
            continue;
        }
        // An editor may write a file in steps: wait until a look finds no change.
        let mut settled = now;
        loop {
            std::thread::sleep(POLL / 2);
            let again = project.sources();
            if again == settled {
                break;
            }
            settled = again;
        }
        let changed: Vec<&(PathBuf, SystemTime)> =
            settled.iter().filter(|s| !seen.contains(s)).collect();
        let removed = seen
            .iter()
            .filter(|(p, _)| !settled.iter().any(|(q, _)| q == p))
            .count();
        let newest = changed
            .iter()
            .map(|(_, t)| *t)
            .max()
            .unwrap_or_else(SystemTime::now);
        let mut names: Vec<String> = changed
            .iter()
            .map(|(p, _)| {
                p.strip_prefix(&project.dir)
                    .unwrap_or(p)
                    .display()
                    .to_string()
            })
            .collect();
        if removed > 0 {
            names.push(format!("({removed} removed)"));
        }
        *seen = settled;
        return Ok((names.join(" "), newest));
    }
}

/// The server dev started, for the signal handler.
static SERVER: std::sync::Mutex<Option<u32>> = std::sync::Mutex::new(None);

/// On SIGINT or SIGTERM (Ctrl-C is how dev is stopped), the server is stopped and the
/// temporary folder removed before dev exits: no destructor runs on a signal.
fn on_signal_stop(state: PathBuf) {
    std::thread::spawn(move || {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        runtime.block_on(async {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut int), Ok(mut term)) = (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            ) else {
                return;
            };
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        });
        if let Some(pid) = *SERVER.lock().unwrap_or_else(|e| e.into_inner())
            && let Some(pid) = rustix::process::Pid::from_raw(pid as i32)
        {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        let _ = std::fs::remove_dir_all(&state);
        std::process::exit(130);
    });
}

/// Whether `flag` is among `args`, as `--flag VALUE` or `--flag=VALUE`.
fn given(args: &[OsString], flag: &str) -> bool {
    args.iter().any(|a| {
        let a = a.to_string_lossy();
        a == flag || a.starts_with(&format!("{flag}="))
    })
}

fn say(step: &str, what: &str) {
    println!("dev: {step:8} {what}");
    let _ = std::io::stdout().flush();
}

fn text(value: &Value) -> String {
    value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned)
}
