//! The server `dev` swaps builds into: one of its own, started from this binary on the
//! first build that passes (`--compile fast`, `--handler-output`, its admin socket in
//! dev's temporary folder; stopped with dev, however dev ends), or the one already
//! running at `--admin`; and its first answer to a new version.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// Longest wait for the first server to listen (a cold compile of CPython on one core
/// takes ~10 s here).
pub const START: Duration = Duration::from_secs(300);
/// What one request's handler output may show in the server's log.
const OUTPUT: &str = "4KiB";

/// What `sandserve dev` was asked for.
pub struct Options {
    pub dir: PathBuf,
    pub root: Option<PathBuf>,
    pub listen: Option<String>,
    pub admin: Option<PathBuf>,
    /// More flags for the server `dev` starts.
    pub server_args: Vec<OsString>,
}

/// The server builds are swapped into.
pub struct Server {
    pub admin: PathBuf,
    /// Where to ask for the first answer of a new version (`None`: not known).
    pub probe: Option<String>,
    /// The server `dev` started, stopped with it.
    pub child: Option<Child>,
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

/// The server: ours, started on the first build, or the one at `--admin`.
pub fn start(options: &Options, state: &Path, first: &Path) -> Result<Server> {
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

/// The status line's code of `GET /` on a fresh connection.
pub fn first_answer(address: &str) -> Result<String> {
    let mut stream = TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(b"GET / HTTP/1.1\r\nHost: dev\r\nUser-Agent: sandserve-dev (first answer)\r\nConnection: close\r\n\r\n")?;
    let mut head = [0u8; 64];
    let n = stream.read(&mut head)?;
    let line = String::from_utf8_lossy(&head[..n]);
    Ok(line.split(' ').nth(1).unwrap_or("?").to_owned())
}

/// The server dev started, for the signal handler.
static SERVER: std::sync::Mutex<Option<u32>> = std::sync::Mutex::new(None);

/// On SIGINT or SIGTERM (Ctrl-C is how dev is stopped), the server is stopped and the
/// temporary folder removed before dev exits: no destructor runs on a signal.
pub fn on_signal_stop(state: PathBuf) {
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
pub fn given(args: &[OsString], flag: &str) -> bool {
    args.iter().any(|a| {
        let a = a.to_string_lossy();
        a == flag || a.starts_with(&format!("{flag}="))
    })
}
