//! What every connection shares (`Shared`): the handler slots (`mount`) with their live
//! versions and the swaps that change them, the decision of one request by the version
//! live in its slot, the recording of heads, the access log and the metrics. The accept
//! loop that hands connections out is `accept`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use cap_std::fs::Dir;

use crate::http::request;
use crate::net::tls::{self, Tls};
use crate::observe::access::{self, AccessLog};
use crate::observe::metrics::Metrics;
use crate::observe::record::Recorder;
use crate::sandbox::cache::Origin;
use crate::sandbox::decide::{Client, Decider};
use crate::sandbox::engine::{BUILT_IN_HANDLER, Engine};
use crate::sandbox::invoke::{Bounds, Handler, Invoker};
use crate::sandbox::response::{self, Checked, Decided};
use crate::settings::config::{Config, HandlerSource};
use crate::settings::http2::Http2;
use crate::versions::live::{Live, RollbackRule, Version};
use crate::versions::mount::{self, Mounts, Route, Slot};
use crate::versions::swap::{self, Report, Swapper};

/// Timeouts and caps for client connections.
#[derive(Debug, Clone)]
pub struct Limits {
    pub header_timeout: Duration,
    pub keepalive_timeout: Duration,
    pub send_timeout: Duration,
    pub max_connections: usize,
    pub max_requests: u32,
    /// Longest `Content-Length` body skipped to keep a connection open; a longer one
    /// (or a chunked one) is left unread and the connection closes.
    pub max_discarded_body: u64,
    pub shutdown_grace: Duration,
    /// `--instance-wait`: also how long an HTTP/2 stream waits for its connection's
    /// share of handler calls.
    pub instance_wait: Duration,
}

/// What every connection task uses.
pub struct Shared {
    decider: Decider,
    /// The handler slots, each with the version its new requests use and those kept
    /// for rollback: `--handler`'s and each `--mount`'s.
    pub mounts: Mounts,
    swapper: Swapper,
    recorder: Option<Recorder>,
    pub limits: Limits,
    /// HTTP/2's own settings (`--h2c`, `--h2-*`).
    pub h2: Http2,
    /// Replaced whole when SIGHUP re-reads new log settings (`reload`).
    access_log: RwLock<AccessLog>,
    /// What is counted for `/metrics`.
    pub metrics: Metrics,
    /// Cleared when shutdown begins: `/readyz` then says 503.
    pub accepting: std::sync::atomic::AtomicBool,
    /// HTTPS, when `--tls-cert` is set: every connection's handshake.
    pub tls: Option<Tls>,
    /// How the handlers were obtained and how long it took, for the start-up line.
    pub handler_origin: String,
}

/// The first version of a slot: the component compiled (or loaded from the cache) and
/// linked, and how, for the start-up line.
fn first_version(engine: &Engine, file: Option<&Path>) -> Result<(Version, String)> {
    let started = Instant::now();
    let (bytes, source) = match file {
        None => (BUILT_IN_HANDLER.to_vec(), "built-in".to_owned()),
        Some(path) => (
            std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?,
            path.display().to_string(),
        ),
    };
    let (pre, origin) = engine.prepare(&bytes).with_context(|| source.clone())?;
    let how = format!(
        "{} in {} ms (sandserve:server@{}, {})",
        match origin {
            Origin::Compiled => "compiled",
            Origin::Cached => "loaded from the cache",
        },
        started.elapsed().as_millis(),
        pre.version(),
        if pre.wasi { "imports WASI" } else { "no WASI" },
    );
    Ok((
        Version::new(Handler::new(pre), swap::sha256(&bytes), source),
        how,
    ))
}

/// The store of compressed forms: in the cache directory, or in memory when there is
/// none or it cannot be used (a cache that cannot be written costs CPU, not service).
fn forms(config: &Config) -> Result<Arc<crate::compress::Forms>> {
    let settings = config.compress.settings(config.cache_dir.as_deref());
    crate::compress::Forms::new(settings).or_else(|e| {
        tracing::warn!("compressed forms kept in memory: {e:#}");
        crate::compress::Forms::new(config.compress.settings(None))
    })
}

impl Shared {
    /// Builds the engine, the first handler version and everything around them.
    pub fn new(config: &Config) -> Result<Shared> {
        let cache = config
            .cache_dir
            .as_deref()
            .map(|dir| (dir, config.cache_max));
        let pool = crate::sandbox::engine::Pool {
            memory: config.handler_memory,
            instances: config.max_instances,
            keep_resident: config.handler_keep_resident,
        };
        let engine = Arc::new(Engine::new(pool, cache, config.compiler)?);
        let rule = RollbackRule {
            window: config.rollback_window,
            requests: config.rollback_requests,
            threshold: config.rollback_threshold,
        };
        let slot = |prefix: Option<String>, file: Option<PathBuf>| -> Result<(Slot, String)> {
            let (first, how) =
                first_version(&engine, file.as_deref()).with_context(|| match &prefix {
                    None => "--handler".to_owned(),
                    Some(prefix) => format!("--mount {prefix}"),
                })?;
            let live = Live::new(
                first,
                config.keep_versions,
                config.shadow_requests,
                rule,
                config.slot_instances,
            );
            Ok((Slot::new(prefix, live, file), how))
        };
        let file = match &config.handler {
            HandlerSource::BuiltIn => None,
            HandlerSource::File(path) => Some(path.clone()),
        };
        let (default, how) = slot(None, file)?;
        let mut handler_origin = format!("handler {how}");
        let mut mounted = Vec::new();
        for (prefix, file) in &config.mounts {
            let (mount, how) = slot(Some(prefix.clone()), Some(file.clone()))?;
            handler_origin.push_str(&format!("; {prefix} {how}"));
            mounted.push(mount);
        }
        let recorder = config
            .record
            .as_deref()
            .map(|path| Recorder::open(path, &config.record_keep))
            .transpose()?;
        let dir = Dir::open_ambient_dir(&config.root, cap_std::ambient_authority())
            .with_context(|| format!("cannot open the root {}", config.root.display()))?;
        let dir = Arc::new(dir);
        let forms = (config.compress.cache_max > 0)
            .then(|| forms(config))
            .transpose()?;
        let invoker = Invoker::new(
            engine.clone(),
            config.root.clone(),
            dir.clone(),
            Bounds {
                timeout: config.handler_timeout,
                memory: config.handler_memory,
                reuse: config.reuse_instances,
                descriptors: config.handler_descriptors,
                instance_wait: config.instance_wait,
                output: config.handler_output,
            },
        )
        .with_forms(forms);
        Ok(Shared {
            decider: Decider::new(invoker, dir, config.policy()),
            mounts: Mounts::new(default, mounted),
            swapper: Swapper::new(engine, config.max_handler_size, config.swap_check_timeout),
            recorder,
            limits: Limits {
                header_timeout: config.header_timeout,
                keepalive_timeout: config.keepalive_timeout,
                send_timeout: config.send_timeout,
                max_connections: config.max_connections,
                max_requests: config.max_requests,
                max_discarded_body: config.max_discarded_body,
                shutdown_grace: config.shutdown_grace,
                instance_wait: config.instance_wait,
            },
            h2: config.h2.clone(),
            access_log: RwLock::new(AccessLog::open(
                config.access_log,
                config.access_log_file.as_deref(),
            )?),
            metrics: Metrics::new(),
            tls: match &config.tls {
                Some((cert, key)) => Some(Tls::new(
                    tls::load(cert, key)?,
                    config.tls_handshake_timeout,
                )?),
                None => None,
            },
            accepting: std::sync::atomic::AtomicBool::new(true),
            handler_origin,
        })
    }

    /// The checked response to one request head (that `request::check` passed), decided
    /// wholly by the version live in its slot when it began: the guest's answer, or a
    /// 500 when the guest trapped, ran out of time or memory, or answered something we
    /// will not send.
    pub async fn respond(&self, head: &[u8], client: Client, head_request: bool) -> Checked {
        let peer = client.peer;
        let (slot, seen) = match self.mounts.route(head) {
            Route::To(slot, seen) => (slot, seen),
            Route::AddSlash(location) => return mount::add_slash(&location),
        };
        if let Some(recorder) = &self.recorder {
            recorder.record(&seen, slot.prefix.as_deref());
        }
        let version = slot.live.current();
        slot.live.remember(&seen, client, head_request);
        let called = Instant::now();
        let decided = self
            .decider
            .decide(
                &version.handler,
                &slot.live.quota,
                &seen,
                client,
                head_request,
            )
            .await;
        let took = called.elapsed();
        let line = || request::request_line(head);
        let (mut checked, trapped, deadline) = match decided {
            Ok(checked) => {
                self.metrics.call(took.as_secs_f64(), false, false);
                (checked, false, false)
            }
            // The server's own state, not the handler's answer: neither counted as a
            // call nor held against the version.
            Err(failure) if failure.busy => {
                self.metrics.busy();
                // Counted, not logged each: under overload a line per 503 would flood.
                tracing::debug!("{peer} \"{}\": 503: {:#}", line(), failure.error);
                return response::busy_response(head_request);
            }
            Err(failure) => {
                let seconds = took.as_secs_f64();
                self.metrics
                    .call(seconds, failure.trapped, failure.timed_out);
                tracing::warn!("{peer} \"{}\": 500: {:#}", line(), failure.error);
                let page = response::error_response(500, Some(&self.decider.root), head_request);
                (page, failure.trapped, failure.timed_out)
            }
        };
        if let Some(why) = slot.live.record(&version, checked.status, trapped) {
            self.metrics.rollback();
            tracing::warn!("automatic rollback of {}: {why}", slot.name());
        }
        if let Some(prefix) = &slot.prefix {
            mount::outward(prefix, &mut checked.head);
        }
        checked.decided_by = Some(Decided {
            version: version.short().to_owned(),
            micros: took.as_micros(),
            deadline,
        });
        checked
    }

    /// Checks the component in `path` against the recent traffic of the slot of
    /// `mount` (`None`: `--handler`'s) and makes it live there if it passes (or
    /// `force`); logs the outcome. `wait`: queue behind a check under way.
    pub async fn swap(&self, mount: Option<&str>, path: &Path, force: bool, wait: bool) -> Report {
        let Some(slot) = self.mounts.slot(mount) else {
            return Report::refusal(path, format!("no --mount {}", mount.unwrap_or_default()));
        };
        let report = self
            .swapper
            .swap(
                &slot.live,
                slot.prefix.as_deref(),
                &self.decider,
                path,
                force,
                wait,
            )
            .await;
        self.metrics.swap(report.outcome);
        let sha = report.sha256.as_deref().unwrap_or("-");
        tracing::info!(
            "swap {} {}: {} {} ({} replayed, {} differ){}",
            slot.name(),
            report.source,
            report.outcome,
            swap::short(sha),
            report.replayed,
            report.differing,
            report
                .reason
                .as_ref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        );
        report
    }

    /// The last swap's report of `slot`.
    pub fn last_swap(&self, slot: &Slot) -> Option<Report> {
        self.swapper.last(slot.prefix.as_deref())
    }

    /// Makes the previous version of `mount`'s slot (`None`: `--handler`'s) live
    /// again, if there is one; logs it.
    pub fn rollback(&self, mount: Option<&str>) -> Result<Arc<Version>, String> {
        let slot = self
            .mounts
            .slot(mount)
            .ok_or_else(|| format!("no --mount {}", mount.unwrap_or_default()))?;
        let back = slot
            .live
            .rollback()
            .ok_or_else(|| "no previous version is kept".to_owned())?;
        self.metrics.rollback();
        tracing::info!(
            "rollback of {} to {} ({})",
            slot.name(),
            back.short(),
            back.source
        );
        Ok(back)
    }

    /// The `/metrics` text: the counters, and each slot's live version.
    pub fn metrics_text(&self) -> String {
        let live: Vec<(String, String)> = self
            .mounts
            .all()
            .iter()
            .map(|slot| {
                let name = slot.prefix.clone().unwrap_or_else(|| "/".to_owned());
                (name, slot.live.current().sha256.clone())
            })
            .collect();
        self.metrics.encode(&live)
    }

    pub fn access_log(&self) -> RwLockReadGuard<'_, AccessLog> {
        self.access_log.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Puts `log` in the old one's place once every line queued to the old one is out.
    pub fn replace_access_log(&self, log: AccessLog) {
        let old = std::mem::replace(
            &mut *self.access_log.write().unwrap_or_else(|e| e.into_inner()),
            log,
        );
        old.flush();
    }

    /// The site policy new requests get: replaced whole (SIGHUP, `reload`).
    pub fn set_policy(&self, policy: crate::sandbox::bindings::wit::Policy) {
        self.decider.set_policy(policy);
    }

    /// Writes out the heads recorded and the access-log lines so far (at shutdown).
    pub fn finish(&self) {
        if let Some(recorder) = &self.recorder {
            recorder.flush();
        }
        self.access_log().flush();
    }

    /// One response sent (`bytes` of it, the head included, taken by the socket):
    /// counted for `/metrics` (`http2`: it answered an HTTP/2 stream), and its
    /// access-log line.
    pub fn log(
        &self,
        peer: SocketAddr,
        head: &[u8],
        reply: &Checked,
        bytes: u64,
        started: Instant,
        http2: bool,
    ) {
        let method = head.split(|&b| b == b' ').next().unwrap_or_default();
        self.metrics.response(method, reply.status, bytes, http2);
        self.access_log().write(&access::Entry {
            peer,
            head,
            status: reply.status,
            bytes,
            micros: started.elapsed().as_micros(),
            handler: reply
                .decided_by
                .as_ref()
                .map(|d| (d.version.as_str(), d.micros)),
            deadline: reply.decided_by.as_ref().is_some_and(|d| d.deadline),
            at: std::time::SystemTime::now(),
            http2,
        });
    }
}
