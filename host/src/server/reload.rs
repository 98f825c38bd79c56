//! SIGHUP with `--config`: the layers re-read (`layers`; flags and environment as at
//! start, the file as it is now) and checked whole, then what can change while serving
//! applied — the site policy, headers and cache rules, the access log, the TLS
//! certificate, the handler's file (swapped, on the swap's checked path) — and the rest reported as needing a
//! restart. A file that does not read or check changes nothing.

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Mutex;

use anyhow::Result;

use crate::net::tls;
use crate::observe::access::AccessLog;
use crate::server::shared::Shared;
use crate::settings::config::{Config, HandlerSource};
use crate::settings::keys::Key;
use crate::settings::layers::{self, Resolved};

/// What the settings were at the last (re)load, as `--print-config` renders them.
type Values = Vec<(&'static Key, Option<String>)>;

pub struct Reloader {
    argv: Vec<OsString>,
    values: Mutex<Values>,
}

/// What one re-read found and did.
pub struct Reloaded {
    /// The keys changed and applied, and those changed that wait for a restart.
    pub applied: Vec<String>,
    pub restart: Vec<String>,
    /// The `--handler` file to swap in (the file's, when it names one).
    pub handler: Option<PathBuf>,
    /// The certificate file re-read, when serving HTTPS.
    pub certificate: Option<PathBuf>,
}

impl Reloader {
    /// `resolved`: the settings the server started with, from `argv`.
    pub fn new(argv: Vec<OsString>, resolved: &Resolved) -> Reloader {
        Reloader {
            argv,
            values: Mutex::new(resolved.values()),
        }
    }

    /// Re-reads the layers and applies the live changes to `shared`; an error (the
    /// file's line named, as at start) leaves everything as it was.
    pub fn reload(&self, shared: &Shared) -> Result<Reloaded> {
        let resolved = layers::resolve(&self.argv)?;
        let config = Config::from_args(resolved.args.clone()).map_err(|e| resolved.locate(e))?;
        let new = resolved.values();
        let mut values = self.values.lock().unwrap_or_else(|e| e.into_inner());
        let mut changed = Vec::new();
        for (i, (key, value)) in new.into_iter().enumerate() {
            if values[i].1 != value {
                changed.push((i, key, value));
            }
        }
        let handler = match &config.handler {
            HandlerSource::File(path) => Some(path.clone()),
            HandlerSource::BuiltIn => None,
        };
        // The built-in handler has no file to swap in, and a plain port cannot become an
        // HTTPS one (or back) while serving: those take a restart.
        let tls_flips = config.tls.is_some() != shared.tls.is_some();
        let live = |key: &Key| {
            key.live
                && !(key.id == "handler" && handler.is_none())
                && !(key.id.starts_with("tls_") && tls_flips)
        };
        let changes = |group: &[&str]| changed.iter().any(|(_, k, _)| group.contains(&k.id));
        // What can fail is made before anything is applied. The certificate is re-read
        // whether or not its paths changed: renewing one rewrites the same files.
        let certs = match (&config.tls, &shared.tls) {
            (Some((cert, key)), Some(_)) => Some(tls::load(cert, key)?),
            _ => None,
        };
        let log = if changes(&["access_log", "access_log_file", "quiet"]) {
            Some(AccessLog::open(
                config.access_log,
                config.access_log_file.as_deref(),
            )?)
        } else {
            None
        };
        if changes(&[
            "min_user_agent_len",
            "serve_dotfiles",
            "list_dirs",
            "fallback",
            "cache_control",
            "cache_rules",
            "headers",
            "compress_types",
        ]) {
            shared.set_policy(config.policy());
        }
        if let Some(log) = log {
            shared.replace_access_log(log);
        }
        let certificate = match (certs, &shared.tls) {
            (Some(loaded), Some(tls)) => {
                tls.install(loaded);
                Some(tls.files().0)
            }
            _ => None,
        };
        let (mut applied, mut restart) = (Vec::new(), Vec::new());
        for (i, key, value) in changed {
            if live(key) {
                applied.push(key.name());
                // A restart-only value keeps its old text, so each SIGHUP says it again.
                values[i].1 = value;
            } else {
                restart.push(key.name());
            }
        }
        Ok(Reloaded {
            applied,
            restart,
            handler,
            certificate,
        })
    }
}
