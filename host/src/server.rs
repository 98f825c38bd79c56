//! The accept loop and what every connection shares: a cap on open connections, a task
//! per connection, the request → sandbox → checked response step, the access log, and
//! graceful shutdown (stop accepting, let in-flight responses finish, bounded).

use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use cap_std::fs::Dir;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::cache::Origin;
use crate::config::Config;
use crate::convert::{self, Checked};
use crate::engine::{Handler, wit};
use crate::invoke::Invoker;

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
    invoker: Invoker,
    /// The root as a capability: files the host opens for bodies cannot leave it.
    root: Dir,
    policy: wit::Policy,
    pub limits: Limits,
    access_log: bool,
    /// How the handler was obtained and how long it took, for the start-up line.
    pub handler_origin: String,
}

impl Shared {
    /// Builds the sandboxed handler and everything around it from the configuration.
    pub fn new(config: &Config) -> Result<Shared> {
        let started = Instant::now();
        let (handler, origin) = Handler::load(
            &config.handler,
            config.handler_memory,
            config.cache_dir.as_deref(),
        )?;
        let handler_origin = format!(
            "handler {} in {} ms",
            match origin {
                Origin::Compiled => "compiled",
                Origin::Cached => "loaded from the cache",
            },
            started.elapsed().as_millis()
        );
        let root = Dir::open_ambient_dir(&config.root, cap_std::ambient_authority())
            .with_context(|| format!("cannot open the root {}", config.root.display()))?;
        Ok(Shared {
            invoker: Invoker::new(
                handler,
                config.root.clone(),
                config.handler_timeout,
                config.handler_memory,
                config.reuse_instances,
            ),
            root,
            policy: wit::Policy {
                min_user_agent_len: config.min_user_agent_len,
                serve_dotfiles: config.serve_dotfiles,
                server_name: "sandserve".to_owned(),
                cache_control: config
                    .cache_rules
                    .iter()
                    .map(|(pattern, value)| wit::CacheRule {
                        pattern: pattern.clone(),
                        value: value.clone(),
                    })
                    .collect(),
                extra_headers: config.headers.clone(),
                list_dirs: config.list_dirs,
                fallback: config.fallback.clone(),
            },
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
            handler_origin,
        })
    }

    /// The checked response to one request head (that `request::check` passed): the
    /// guest's, or a 500 when the guest trapped, ran out of time or memory, or answered
    /// something we will not send.
    pub async fn respond(
        &self,
        head: &[u8],
        peer: SocketAddr,
        index: u32,
        head_request: bool,
    ) -> Checked {
        let request = convert::to_request(head, peer, index, &self.policy);
        let checked = self.invoker.call(&request).await;
        let checked =
            checked.and_then(|response| convert::check(response, head_request, &self.root));
        checked.unwrap_or_else(|e| {
            eprintln!("sandserve: {peer} \"{}\": 500: {e:#}", request_line(head));
            convert::error_response(500, Some(&self.root), head_request)
        })
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
            request_line(head),
            reply.status
        );
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }
}

/// The request line for logs: at most 200 characters, control bytes escaped.
fn request_line(head: &[u8]) -> String {
    let line = head
        .split(|&b| b == b'\r' || b == b'\n')
        .next()
        .unwrap_or_default();
    String::from_utf8_lossy(&line[..line.len().min(200)])
        .chars()
        .flat_map(char::escape_debug)
        .collect()
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
