//! The accept loop: a cap on open connections (over it, clients wait in the kernel's
//! backlog), a task per connection (its TLS handshake first, with `tls`), accepting
//! paused while the process is out of descriptors, and graceful shutdown (stop
//! accepting, let in-flight responses finish, bounded). What the connections share is
//! `server::Shared`.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::net::stream::Stream;
use crate::server::shared::Shared;

/// Serves `listener` until `shutdown` completes, then stops accepting, lets each
/// connection finish the response it is writing, and returns when all are done or
/// the grace period is over.
pub async fn run(listener: TcpListener, shared: Arc<Shared>, shutdown: impl Future) -> Result<()> {
    let stop = CancellationToken::new();
    let tasks = TaskTracker::new();
    let slots = Arc::new(Semaphore::new(shared.limits.max_connections));
    // Out of descriptors, accepting waits until connections close (said at most once a
    // minute: near the limit it pauses and resumes many times a second).
    let mut paused = false;
    let mut said: Option<Instant> = None;
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
                Err(e) if crate::net::descriptors::exhausted(&e) => {
                    if !paused {
                        paused = true;
                        shared.metrics.accept_paused();
                        if said.is_none_or(|at| at.elapsed() > Duration::from_secs(60)) {
                            said = Some(Instant::now());
                            tracing::warn!(
                                "accept paused: {e}; new connections wait until some close"
                            );
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
                Err(e) => {
                    tracing::error!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        paused = false;
        let _ = stream.set_nodelay(true);
        let (shared, stop) = (shared.clone(), stop.clone());
        tasks.spawn(async move {
            shared.metrics.connection_opened();
            let stream = match &shared.tls {
                None => Some(Stream::Plain(stream)),
                Some(tls) => tls.accept(stream).await,
            };
            if let Some(stream) = stream {
                let speaks = match (stream.agreed_h2(), shared.h2.h2c) {
                    (true, _) => Speaks::Http2,
                    (false, true) => h2c_preface(&stream, &shared).await,
                    (false, false) => Speaks::Http1,
                };
                match speaks {
                    Speaks::Http2 => {
                        crate::server::h2::serve(stream, peer, shared.clone(), stop).await
                    }
                    Speaks::Http1 => {
                        crate::server::connection::serve(stream, peer, &shared, stop).await
                    }
                    Speaks::Nothing => {}
                }
            }
            shared.metrics.connection_closed();
            drop(permit);
        });
    }
    shared
        .accepting
        .store(false, std::sync::atomic::Ordering::Relaxed);
    drop(listener);
    stop.cancel();
    tasks.close();
    let grace = shared.limits.shutdown_grace;
    if tokio::time::timeout(grace, tasks.wait()).await.is_err() {
        tracing::warn!(
            "{} connections still busy after {grace:?}; closing them",
            tasks.len()
        );
    }
    Ok(())
}

/// What a connection speaks.
enum Speaks {
    Http1,
    Http2,
    /// It sent part of the HTTP/2 preface and no more within the header timeout.
    Nothing,
}

/// Whether a plain connection opens with the HTTP/2 preface (`--h2c`, prior knowledge),
/// looked at without taking a byte: anything else is HTTP/1.1, served as without the
/// flag. Bounded by the header timeout, as a first request head is; a client that stops
/// partway through the preface is dropped at it (it does not get a second timeout as
/// HTTP/1.1).
async fn h2c_preface(stream: &Stream, shared: &Shared) -> Speaks {
    let Stream::Plain(tcp) = stream else {
        return Speaks::Http1;
    };
    let preface = crate::server::h2::PREFACE;
    let deadline = tokio::time::Instant::now() + shared.limits.header_timeout;
    let mut buf = [0u8; 24];
    // A preface split across packets (rare) is looked at again, less and less often:
    // a client that sends one byte and waits costs a few wake-ups a second, not 1000.
    let mut pause = Duration::from_millis(1);
    loop {
        let peeked = tokio::time::timeout_at(deadline, tcp.peek(&mut buf)).await;
        let n = match peeked {
            Ok(Ok(n)) if n > 0 => n,
            Ok(_) => return Speaks::Http1,
            Err(_) => return Speaks::Nothing,
        };
        if buf[..n] != preface[..n] {
            return Speaks::Http1;
        }
        if n == preface.len() {
            return Speaks::Http2;
        }
        if tokio::time::Instant::now() + pause >= deadline {
            return Speaks::Nothing;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(200));
    }
}
