//! HTTP/2 connections (ALPN `h2` over TLS; `--h2c`: prior knowledge on the plain
//! listener): the `h2` crate frames, compresses headers and keeps flow control; this
//! room sets its limits from the flags, adds what it has no setting for — peer resets
//! per second before GOAWAY (Rapid Reset), handler calls in flight per connection, the
//! idle timeout — and runs each stream through the same request path as HTTP/1.1
//! (`stream`), with the handler given an HTTP/1.1 head (`head`).
//!
//! - `head`   — a stream's request as an HTTP/1.1 head, a checked answer as HEADERS.
//! - `stream` — one stream: check, decide, HEADERS and DATA under flow control.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use h2::Reason;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::Semaphore;
use tokio::time::{sleep_until, timeout};
use tokio_util::sync::CancellationToken;

use crate::server::shared::Shared;

pub mod head;
mod stream;

/// The client connection preface (RFC 9113 §3.4): how a plain connection with
/// `--h2c` says it speaks HTTP/2.
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Serves one HTTP/2 connection until the peer closes it, it idles past the keep-alive
/// timeout, a limit ends it, or the server shuts down (GOAWAY, then the streams in
/// flight finish within `--shutdown-grace`).
pub async fn serve<T>(io: T, peer: SocketAddr, shared: Arc<Shared>, shutdown: CancellationToken)
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    let limits = shared.h2.clone();
    let mut builder = h2::server::Builder::new();
    builder
        .max_concurrent_streams(limits.max_streams)
        .max_header_list_size(limits.max_header_list)
        .max_frame_size(limits.max_frame_size)
        .initial_window_size(limits.window)
        .max_send_buffer_size(limits.max_send_buffer)
        .max_pending_accept_reset_streams(limits.max_pending_resets)
        .max_local_error_reset_streams(Some(limits.max_error_resets));
    let handshake = builder.handshake::<_, Bytes>(io);
    let mut connection = match timeout(shared.limits.header_timeout, handshake).await {
        Ok(Ok(connection)) => connection,
        Ok(Err(e)) => return debug(peer, "handshake", &e),
        Err(_) => return,
    };
    let calls = Arc::new(Semaphore::new(limits.max_calls));
    // The streams run in this task, as an HTTP/1.1 connection's requests do: spawned,
    // each would wake the connection across worker threads (measured: a quarter of
    // the CPU in the kernel's wake-ups).
    let mut streams = FuturesUnordered::new();
    let mut index = 0u32;
    let mut resets = Resets::new(limits.max_resets_per_second);
    let mut idle_since = Instant::now();
    let grace = shared.limits.shutdown_grace;
    // GOAWAY sent (the last stream, a handler's close, idle): the streams in flight
    // finish under their own timeouts, and an idle connection ends `grace` later even
    // if the client never acknowledges.
    let mut graceful: Option<Instant> = None;
    // Shutdown or a misbehaving client: the connection ends by then, whatever its
    // streams are doing.
    let mut deadline: Option<Instant> = None;
    loop {
        let wake = match (deadline, graceful) {
            (Some(by), _) => by,
            (None, Some(at)) => at + grace,
            (None, None) => idle_since + shared.limits.keepalive_timeout,
        };
        tokio::select! {
            accepted = connection.accept() => match accepted {
                Some(Ok((request, respond))) => {
                    let task = stream::serve(
                        request, respond, shared.clone(), peer, index, calls.clone(),
                    );
                    streams.push(task);
                    index = index.saturating_add(1);
                    // The last stream a connection may start: GOAWAY now, so the
                    // client opens a new connection for the next.
                    if index >= shared.limits.max_requests {
                        goaway(&mut connection, &mut graceful);
                    }
                }
                Some(Err(e)) => return debug(peer, "connection", &e),
                None => break,
            },
            Some(ended) = streams.next(), if !streams.is_empty() => {
                if streams.is_empty() {
                    idle_since = Instant::now();
                }
                if ended.reset && resets.one_more() && deadline.is_none() {
                    tracing::warn!(
                        "{peer}: HTTP/2 peer reset over {} streams a second: GOAWAY",
                        limits.max_resets_per_second
                    );
                    connection.abrupt_shutdown(Reason::ENHANCE_YOUR_CALM);
                    deadline = Some(Instant::now() + Duration::from_secs(1));
                }
                if ended.close {
                    goaway(&mut connection, &mut graceful);
                }
            }
            _ = shutdown.cancelled(), if deadline.is_none() => {
                goaway(&mut connection, &mut graceful);
                deadline = Some(Instant::now() + grace);
            }
            _ = sleep_until(wake.into()), if deadline.is_some() || streams.is_empty() => {
                if deadline.is_some() || graceful.is_some() {
                    break;
                }
                goaway(&mut connection, &mut graceful);
            }
        }
    }
    // Streams still in flight are dropped with the connection.
    drop(streams);
}

/// Sends GOAWAY once (`graceful` remembers when).
fn goaway<T, B>(connection: &mut h2::server::Connection<T, B>, graceful: &mut Option<Instant>)
where
    T: AsyncRead + AsyncWrite + Unpin,
    B: bytes::Buf,
{
    if graceful.is_none() {
        connection.graceful_shutdown();
        *graceful = Some(Instant::now());
    }
}

fn debug(peer: SocketAddr, what: &str, e: &h2::Error) {
    if !e.is_io() {
        tracing::debug!("{peer}: HTTP/2 {what}: {e}");
    }
}

/// Peer resets counted per second (fixed one-second windows, so up to twice the limit
/// can pass across a window's edge).
struct Resets {
    max: u32,
    window: Instant,
    count: u32,
}

impl Resets {
    fn new(max: u32) -> Resets {
        Resets {
            max,
            window: Instant::now(),
            count: 0,
        }
    }

    /// Counts a reset; `true` when the second's count goes over the limit.
    fn one_more(&mut self) -> bool {
        if self.window.elapsed() > Duration::from_secs(1) {
            self.window = Instant::now();
            self.count = 0;
        }
        self.count += 1;
        self.count > self.max
    }
}
