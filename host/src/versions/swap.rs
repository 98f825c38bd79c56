//! The checked path from a component file to the live handler, whatever asked for it
//! (`sandserve swap`, SIGHUP, `--watch`): read (size-capped), compile off the serving
//! threads (through the compiled-handler cache), link against the world, instantiate
//! once, then the shadow check — the last requests served are replayed through the live
//! handler and the candidate side by side, in fresh instances as always — and only then
//! the pointer flip in `live`. One swap is checked at a time; a second is refused. The
//! handlers' part of the check (the candidate's first instance and the replay) is
//! bounded by `--swap-check-timeout`, so the lock is never held past it by a handler.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::http::request;
use crate::sandbox::cache::Origin;
use crate::sandbox::decide::Decider;
use crate::sandbox::engine::Engine;
use crate::sandbox::invoke::Handler;
use crate::sandbox::output::REPLAY;
use crate::versions::compare::{self, Summary};
pub use crate::versions::live::short;
use crate::versions::live::{Live, Version};

/// Differences shown in a report; the rest are counted.
const SHOWN: usize = 5;
/// The replay stops after this many new failures: the verdict is clear, and a candidate
/// that loops would otherwise hold the check for a handler timeout per request.
const ENOUGH_FAILURES: usize = 3;

/// What a swap did, for the command that asked and for `status`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `swapped`, `unchanged` (those bytes are live already) or `refused`.
    pub outcome: &'static str,
    /// The slot swapped: a `--mount` prefix, or `None` for `--handler`'s.
    pub mount: Option<String>,
    /// Why it was refused, or that `--force` overrode the check.
    pub reason: Option<String>,
    pub source: String,
    pub sha256: Option<String>,
    /// Time to compile (or load from the cache) and link.
    pub compile_ms: u64,
    /// `compiled` or `cache`.
    pub origin: Option<&'static str>,
    pub replayed: usize,
    /// Replayed requests whose answers differ.
    pub differing: usize,
    /// The first few differences, `request line: what changed`.
    pub differences: Vec<String>,
    /// Replayed requests the candidate failed (5xx, trap) and the live handler did not.
    pub new_failures: usize,
    /// Seconds since the Unix epoch.
    pub at: u64,
}

impl Report {
    fn new(source: &str) -> Report {
        Report {
            outcome: "refused",
            mount: None,
            reason: None,
            source: source.to_owned(),
            sha256: None,
            compile_ms: 0,
            origin: None,
            replayed: 0,
            differing: 0,
            differences: Vec::new(),
            new_failures: 0,
            at: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        }
    }

    /// A swap of `path` refused before any check.
    pub fn refusal(path: &Path, reason: impl Into<String>) -> Report {
        Report::new(&path.display().to_string()).refused(reason)
    }

    fn refused(mut self, reason: impl Into<String>) -> Report {
        self.outcome = "refused";
        self.reason = Some(reason.into());
        self
    }
}

/// The hex SHA-256 of a component's bytes: what names a version.
pub fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub struct Swapper {
    engine: Arc<Engine>,
    max_size: u64,
    /// `--swap-check-timeout`.
    check_timeout: Duration,
    /// One check at a time, whichever slot it is for: each takes the cores for itself.
    busy: tokio::sync::Mutex<()>,
    /// Each slot's last report, by its `--mount` prefix (`None`: `--handler`'s).
    last: Mutex<HashMap<Option<String>, Report>>,
}

impl Swapper {
    pub fn new(engine: Arc<Engine>, max_size: u64, check_timeout: Duration) -> Swapper {
        Swapper {
            engine,
            max_size,
            check_timeout,
            busy: tokio::sync::Mutex::new(()),
            last: Mutex::new(HashMap::new()),
        }
    }

    /// The last swap's report of the slot of `mount` (`None`: `--handler`'s).
    pub fn last(&self, mount: Option<&str>) -> Option<Report> {
        let last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        last.get(&mount.map(str::to_owned)).cloned()
    }

    /// Checks the component in `path` and makes it live if it passes (or `force`).
    /// `wait`: wait for a check under way to finish (SIGHUP, `--watch`) instead of
    /// refusing (an admin client, which can retry).
    /// `mount`: the slot's `--mount` prefix, for the report (`None`: `--handler`'s).
    pub async fn swap(
        &self,
        live: &Live,
        mount: Option<&str>,
        decider: &Decider,
        path: &Path,
        force: bool,
        wait: bool,
    ) -> Report {
        let _busy = match self.busy.try_lock() {
            Ok(busy) => busy,
            Err(_) if wait => self.busy.lock().await,
            Err(_) => {
                let mut report = Report::new(&path.display().to_string())
                    .refused("another swap is being checked; try again when it is done");
                report.mount = mount.map(str::to_owned);
                return report;
            }
        };
        let mut report = self.checked(live, decider, path, force).await;
        report.mount = mount.map(str::to_owned);
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        last.insert(report.mount.clone(), report.clone());
        report
    }

    async fn checked(&self, live: &Live, decider: &Decider, path: &Path, force: bool) -> Report {
        let source = path.display().to_string();
        let mut report = Report::new(&source);
        let bytes = match read_capped(path, self.max_size).await {
            Ok(bytes) => bytes,
            Err(e) => return report.refused(compare::one_line(&e)),
        };
        let sha = sha256(&bytes);
        report.sha256 = Some(sha.clone());
        if live.current().sha256 == sha {
            report.outcome = "unchanged";
            report.reason = Some("those bytes are the live handler already".into());
            return report;
        }
        let started = Instant::now();
        let engine = self.engine.clone();
        let prepared =
            tokio::task::spawn_blocking(move || engine.prepare_beside_serving(&bytes)).await;
        report.compile_ms = started.elapsed().as_millis() as u64;
        let (pre, origin) = match prepared {
            Ok(Ok(prepared)) => prepared,
            Ok(Err(e)) => return report.refused(compare::one_line(&e)),
            Err(e) => return report.refused(format!("the compile failed: {e}")),
        };
        report.origin = Some(match origin {
            Origin::Compiled => "compiled",
            Origin::Cached => "cache",
        });
        let candidate = Handler::new(pre);
        let current = live.current();
        let check = async {
            if let Err(e) = decider.try_instantiate(&candidate).await {
                return Err(format!("fails to instantiate: {}", compare::one_line(&e)));
            }
            shadow_check(live, decider, &current.handler, &candidate, &mut report).await;
            Ok(())
        };
        let checked = tokio::time::timeout(self.check_timeout, check).await;
        match checked {
            Ok(Ok(())) => {}
            Ok(Err(why)) => return report.refused(why),
            Err(_) => {
                let why = format!(
                    "the check took over {:?} (--swap-check-timeout); the live handler stays",
                    self.check_timeout
                );
                return report.refused(why);
            }
        }
        if report.new_failures > 0 {
            let why = format!(
                "the candidate failed {} of {} replayed requests that the live handler answered",
                report.new_failures, report.replayed
            );
            if !force {
                return report.refused(why);
            }
            report.reason = Some(format!("forced: {why}"));
        }
        live.install(Arc::new(Version::new(candidate, sha, source)));
        report.outcome = "swapped";
        report
    }
}

/// The component's bytes, refused past `max` without reading them (on a blocking
/// thread: the file may be large, or on a slow disk).
async fn read_capped(path: &Path, max: u64) -> Result<Vec<u8>> {
    let owned = path.to_owned();
    tokio::task::spawn_blocking(move || read_capped_now(&owned, max))
        .await
        .context("the read failed")?
}

fn read_capped_now(path: &Path, max: u64) -> Result<Vec<u8>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        bail!("{} is not a file", path.display());
    }
    if meta.len() > max {
        bail!(
            "{} is {} bytes, over the {max}-byte limit (--max-handler-size)",
            path.display(),
            meta.len()
        );
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    std::io::Read::read_to_end(&mut std::io::Read::take(file, max + 1), &mut bytes)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if bytes.len() as u64 > max {
        bail!("{} grew past the --max-handler-size limit", path.display());
    }
    Ok(bytes)
}

/// Replays the recent requests through both handlers and fills in the comparison.
async fn shadow_check(
    live: &Live,
    decider: &Decider,
    current: &Handler,
    candidate: &Handler,
    report: &mut Report,
) {
    // Only heads that passed the host's check are remembered: replay them as they are.
    for recent in live.recent() {
        let decide = |handler| {
            decider.decide(
                handler,
                &live.quota,
                &recent.head,
                recent.client,
                recent.head_request,
            )
        };
        // What each prints is logged as a replay's, not as a client's request.
        let (old, new) = (
            REPLAY.scope("replay, live", decide(current)).await,
            REPLAY.scope("replay, candidate", decide(candidate)).await,
        );
        // No free instance says nothing of either version: that request is not compared.
        let busy = |answer: &Result<_, crate::sandbox::decide::Failure>| {
            answer.as_ref().is_err_and(|f| f.busy)
        };
        if busy(&old) || busy(&new) {
            continue;
        }
        let (old, new) = (Summary::of(&old), Summary::of(&new));
        // The replay shares the workers with live traffic: let waiting requests run
        // between replayed ones instead of queueing behind the whole check.
        tokio::task::yield_now().await;
        report.replayed += 1;
        if new.status >= 500 && old.status < 500 {
            report.new_failures += 1;
        }
        let enough = report.new_failures >= ENOUGH_FAILURES;
        let differences = compare::differences(&old, &new);
        if differences.is_empty() {
            continue;
        }

        report.differing += 1;
        if report.differences.len() < SHOWN {
            let line = request::request_line(&recent.head);
            let shown = format!("{line}: {}", differences.join("; "));
            // The same request answered the same way again tells the reader nothing new.
            if !report.differences.contains(&shown) {
                report.differences.push(shown);
            }
        }
        if enough {
            break;
        }
    }
}
