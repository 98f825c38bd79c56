//! The accept loop and what every connection shares: a cap on open connections, a task
//! per connection, the live handler and the swaps that change it, the access log, and
//! graceful shutdown (stop accepting, let in-flight responses finish, bounded).

use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use cap_std::fs::Dir;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::cache::Origin;
use crate::config::{Config, HandlerSource};
use crate::decide::Decider;
use crate::engine::{BUILT_IN_HANDLER, Engine};
use crate::invoke::{Handler, Invoker};
use crate::live::{Live, RollbackRule, Version};
use crate::request;
use crate::response::{self, Checked};
use crate::swap::{self, Report, Swapper};

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
}

/// What every connection task uses.
pub struct Shared {
    decider: Decider,
    /// The handler version new requests use, and those kept for rollback.
    pub live: Live,
    swapper: Swapper,
    pub limits: Limits,
    access_log: bool,
    /// The `--handler` file, which SIGHUP and `--watch` re-read.
    pub handler_file: Option<PathBuf>,
    /// How the handler was obtained and how long it took, for the start-up line.
    pub handler_origin: String,
}

impl Shared {
    /// Builds the engine, the first handler version and everything around them.
    pub fn new(config: &Config) -> Result<Shared> {
        let started = Instant::now();
        let engine = Arc::new(Engine::new(
            config.handler_memory,
            config.cache_dir.as_deref(),
        )?);
        let (bytes, source, handler_file) = match &config.handler {
            HandlerSource::BuiltIn => (BUILT_IN_HANDLER.to_vec(), "built-in".to_owned(), None),
            HandlerSource::File(path) => {
                let bytes = std::fs::read(path)
                    .with_context(|| format!("--handler {}: cannot read", path.display()))?;
                (bytes, path.display().to_string(), Some(path.clone()))
            }
        };
        let (pre, origin) = engine
            .prepare(&bytes)
            .with_context(|| match &handler_file {
                None => "the built-in handler".to_owned(),
                Some(path) => format!("--handler {}", path.display()),
            })?;
        let handler_origin = format!(
            "handler {} in {} ms (sandserve:server@{}, {})",
            match origin {
                Origin::Compiled => "compiled",
                Origin::Cached => "loaded from the cache",
            },
            started.elapsed().as_millis(),
            pre.version(),
            if pre.wasi { "imports WASI" } else { "no WASI" },
        );
        let first = Version::new(Handler::new(pre), swap::sha256(&bytes), source);
        let dir = Dir::open_ambient_dir(&config.root, cap_std::ambient_authority())
            .with_context(|| format!("cannot open the root {}", config.root.display()))?;
        let dir = Arc::new(dir);
        let invoker = Invoker::new(
            engine.clone(),
            config.root.clone(),
            dir.clone(),
            config.handler_timeout,
            config.handler_memory,
            config.reuse_instances,
        );
        Ok(Shared {
            decider: Decider::new(invoker, dir, config.policy()),
            live: Live::new(
                first,
                config.keep_versions,
                config.shadow_requests,
                RollbackRule {
                    window: config.rollback_window,
                    requests: config.rollback_requests,
                    threshold: config.rollback_threshold,
                },
            ),
            swapper: Swapper::new(engine, config.max_handler_size),
            limits: Limits {
                header_timeout: config.header_timeout,
                keepalive_timeout: config.keepalive_timeout,
                send_timeout: config.send_timeout,
                max_connections: config.max_connections,
                max_requests: config.max_requests,
                max_discarded_body: config.max_discarded_body,
                shutdown_grace: config.shutdown_grace,
            },
            access_log: config.access_log,
            handler_file,
            handler_origin,
        })
    }

    /// The checked response to one request head (that `request::check` passed), decided
    /// wholly by the version live when it began: the guest's answer, or a 500 when the
    /// guest trapped, ran out of time or memory, or answered something we will not send.
    pub async fn respond(
        &self,
        head: &[u8],
        peer: SocketAddr,
        index: u32,
        head_request: bool,
    ) -> Checked {
        let version = self.live.current();
        self.live.remember(head, peer, index, head_request);
        let decided = self
            .decider
            .decide(&version.handler, head, peer, index, head_request)
            .await;
        let (checked, trapped) = match decided {
            Ok(checked) => (checked, false),
            Err(failure) => {
                eprintln!(
                    "sandserve: {peer} \"{}\": 500: {:#}",
                    request::request_line(head),
                    failure.error
                );
                let page = response::error_response(500, Some(&self.decider.root), head_request);
                (page, failure.trapped)
            }
        };
        if let Some(why) = self.live.record(&version, checked.status, trapped) {
            eprintln!("sandserve: automatic rollback: {why}");
        }
        checked
    }

    /// Checks the component in `path` against live traffic and makes it live if it
    /// passes (or `force`); logs the outcome. `wait`: queue behind a check under way.
    pub async fn swap(&self, path: &Path, force: bool, wait: bool) -> Report {
        let report = self
            .swapper
            .swap(&self.live, &self.decider, path, force, wait)
            .await;
        let sha = report.sha256.as_deref().unwrap_or("-");
        eprintln!(
            "sandserve: swap {}: {} {} ({} replayed, {} differ){}",
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

    /// The last swap's report.
    pub fn last_swap(&self) -> Option<Report> {
        self.swapper.last()
    }

    /// Makes the previous version live again, if there is one; logs it.
    pub fn rollback(&self) -> Option<Arc<Version>> {
        let back = self.live.rollback()?;
        eprintln!("sandserve: rollback to {} ({})", back.short(), back.source);
        Some(back)
    }

    /// One access-log line: peer, request line, status, bytes, microseconds.
    pub fn log(&self, peer: SocketAddr, head: &[u8], reply: &Checked, started: Instant) {
        if !self.access_log {
            return;
        }
        let bytes = reply.head.len() as u64 + reply.body.len();
        let micros = started.elapsed().as_micros();
        let line = format!(
            "{peer} \"{}\" {} {bytes} {micros}us\n",
            request::request_line(head),
            reply.status
        );
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }
}

/// Serves `listener` until `shutdown` completes, then stops accepting, lets each
/// connection finish the response it is writing, and returns when all are done or
/// the grace period is over.
pub async fn run(listener: TcpListener, shared: Arc<Shared>, shutdown: impl Future) -> Result<()> {
    let stop = CancellationToken::new();
    let tasks = TaskTracker::new();
    let slots = Arc::new(Semaphore::new(shared.limits.max_connections));
    tokio::pin!(shutdown);
    loop {
        // Over the cap, connections wait in the kernel's backlog rather than get refused.
        let permit = tokio::select! {
            permit = slots.clone().acquire_owned() => permit.expect("semaphore is never closed"),
            _ = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    eprintln!("sandserve: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let (shared, stop) = (shared.clone(), stop.clone());
        tasks.spawn(async move {
            crate::connection::serve(stream, peer, &shared, stop).await;
            drop(permit);
        });
    }
    drop(listener);
    stop.cancel();
    tasks.close();
    let grace = shared.limits.shutdown_grace;
    if tokio::time::timeout(grace, tasks.wait()).await.is_err() {
        eprintln!(
            "sandserve: {} connections still busy after {grace:?}; closing them",
            tasks.len()
        );
    }
    Ok(())
}
