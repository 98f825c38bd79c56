//! Handlers run in-process, outside any server, for the tools that try them
//! (`sandserve check`, `sandserve diff`): one engine, handlers loaded from files, and a
//! root — a temporary one with the suite's files, or a site the user names — and
//! requests decided exactly as a server decides them (the host's check of the head, a
//! fresh instance, the host's check of the answer).

use std::ffi::OsStr;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use cap_std::fs::Dir;
use clap::Parser;

use crate::http::request;
use crate::sandbox::bindings::wit;
use crate::sandbox::decide::Client;
use crate::sandbox::decide::{Decider, Failure};
use crate::sandbox::engine::{Compiler, Engine};
use crate::sandbox::invoke::{Bounds, Handler, Invoker};
use crate::sandbox::response::Checked;
use crate::settings::config::{Cli, Config};

/// The files of the temporary root; its parent holds `secret.txt` with `SECRET`.
pub const FILES: &[(&str, &[u8])] = &[
    ("index.html", b"<!doctype html><title>home</title>\n"),
    ("a.txt", b"hello from a\n"),
    ("style.css", b"body { color: red }\n"),
    ("404.html", b"<!doctype html><title>not here</title>\n"),
    ("docs/index.html", b"docs index\n"),
    (".env", b"SECRET_ENV=1\n"),
];
/// The file outside the temporary root that no answer may contain.
pub const SECRET: &[u8] = b"SANDSERVE-CHECK-SECRET-51f0";

const MEMORY: usize = 64 << 20;

pub struct Lab {
    engine: Arc<Engine>,
    decider: Decider,
    /// Every instance the engine has: the lab runs one call at a time.
    quota: tokio::sync::Semaphore,
    runtime: tokio::runtime::Runtime,
    _temporary: Option<tempfile::TempDir>,
}

impl Lab {
    /// A lab over `root`, or over a temporary root with `FILES` when `None`.
    pub fn new(root: Option<&Path>) -> Result<Lab> {
        Lab::with_compiler(root, Compiler::Optimized)
    }

    /// A lab whose handlers are compiled by `compiler` (`dev`: as its server compiles
    /// them, so that the server finds each build in the compiled-handler cache).
    pub fn with_compiler(root: Option<&Path>, compiler: Compiler) -> Result<Lab> {
        let (root, temporary) = match root {
            Some(root) => (root.to_owned(), None),
            None => {
                let dir = tempfile::tempdir().context("cannot make a temporary root")?;
                let root = dir.path().join("root");
                for (path, content) in FILES {
                    let path = root.join(path);
                    std::fs::create_dir_all(path.parent().unwrap())?;
                    std::fs::write(path, content)?;
                }
                std::fs::write(dir.path().join("secret.txt"), SECRET)?;
                (root, Some(dir))
            }
        };
        let cap = Dir::open_ambient_dir(&root, cap_std::ambient_authority())
            .with_context(|| format!("cannot open the root {}", root.display()))?;
        let cap = Arc::new(cap);
        let engine = Arc::new(Engine::new(
            crate::sandbox::engine::Pool::new(MEMORY),
            crate::sandbox::cache::default_dir()
                .as_deref()
                .map(|d| (d, crate::sandbox::cache::DEFAULT_MAX)),
            compiler,
        )?);
        let invoker = Invoker::new(
            engine.clone(),
            PathBuf::from(&root),
            cap.clone(),
            Bounds::new(Duration::from_secs(2), MEMORY),
        );
        Ok(Lab {
            engine,
            decider: Decider::new(invoker, cap, policy(&root)?),
            quota: tokio::sync::Semaphore::new(crate::sandbox::engine::MAX_INSTANCES as usize),
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?,
            _temporary: temporary,
        })
    }

    /// Compiles (or loads from the cache) the handler in `file`.
    pub fn load(&self, file: &Path) -> Result<Handler> {
        let bytes =
            std::fs::read(file).with_context(|| format!("{}: cannot read", file.display()))?;
        let (pre, _) = self
            .engine
            .prepare(&bytes)
            .with_context(|| file.display().to_string())?;
        Ok(Handler::new(pre))
    }

    /// `handler`'s checked answer to `head`, as a server would send it; a head the
    /// host itself refuses is an error (no handler would see it).
    pub fn decide(&self, handler: &Handler, head: &[u8]) -> Result<Result<Checked, Failure>> {
        let checked =
            request::check(head).map_err(|refusal| anyhow!("the host refuses it: {refusal:?}"))?;
        let peer: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        Ok(self.runtime.block_on(self.decider.decide(
            handler,
            &self.quota,
            head,
            Client::http1(peer, 0),
            checked.head_method,
        )))
    }
}

/// The settings a server started on `root` with no other flags gives its handler, so
/// that a handler is tried as `sandserve --root ROOT --handler FILE` would run it.
fn policy(root: &Path) -> Result<wit::Policy> {
    let args = [
        OsStr::new("sandserve"),
        OsStr::new("--root"),
        root.as_os_str(),
    ];
    let cli = Cli::try_parse_from(args).context("the server's default flags")?;
    Ok(Config::from_args(cli.serve)?.policy())
}
