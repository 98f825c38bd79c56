//! One client connection (TCP, or TLS over it): frames each request — finds the end of its head, has `request`
//! check its syntax, skips its body — hands the head to the sandbox, writes the answer,
//! and loops for keep-alive and pipelining until either side closes, the protocol or a
//! limit says to close, or the server shuts down. Whatever the handler answers, this
//! loop alone decides where the next request starts.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

use crate::http::request::{self, BodyLength};
use crate::net::stream::Stream;
use crate::sandbox::decide::Client;
use crate::sandbox::response::{self, Checked};
use crate::server::send;
use crate::server::shared::Shared;

/// Longest request head accepted; a longer one gets 431 (RFC 6585) and the connection closes.
pub const MAX_HEAD: usize = 16 * 1024;

/// After a response that closes the connection, unread request bytes (a body we do not
/// read) are drained for at most this long, so that closing with data still in the
/// receive queue does not reset the connection and destroy the response in flight.
const LINGER: Duration = Duration::from_secs(2);

/// How a wait for the next request head ended.
enum Framed {
    /// A complete head of this many bytes starts the buffer.
    Head(usize),
    /// The client closed, went idle too long, or the server is shutting down.
    Closed,
    /// The head grew past `MAX_HEAD`.
    TooLarge,
}

pub async fn serve(
    mut stream: Stream,
    peer: SocketAddr,
    shared: &Shared,
    shutdown: CancellationToken,
) {
    if let Err(e) = serve_requests(&mut stream, peer, shared, &shutdown).await {
        // A client that stopped reading (or closing) is reset, not closed, as nginx's
        // reset_timedout_connection: a plain close would leave the kernel holding the
        // unsent response (up to the send buffer, MiBs) in FIN-WAIT-1 for as long as
        // the client keeps its window barely open.
        if e.kind() == std::io::ErrorKind::TimedOut {
            let _ = stream.tcp().set_zero_linger();
        }
        // A client that goes away mid-response is routine, not worth a log line each.
        if !matches!(
            e.kind(),
            std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
        ) {
            tracing::warn!("{peer}: connection error: {e}");
        }
    }
}

async fn serve_requests(
    stream: &mut Stream,
    peer: SocketAddr,
    shared: &Shared,
    shutdown: &CancellationToken,
) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(4096);
    let mut index = 0u32;
    loop {
        // The first head must be whole within the header timeout of connecting; a later
        // one may idle for the keep-alive timeout, then has the header timeout from its
        // first byte (a blank line counts: it cannot be used to hold the connection).
        let wait = if index == 0 {
            Wait::Head(Instant::now() + shared.limits.header_timeout)
        } else {
            Wait::Idle(shared.limits.keepalive_timeout)
        };
        let head_len = match read_head(
            stream,
            &mut buf,
            wait,
            shared.limits.header_timeout,
            shutdown,
        )
        .await?
        {
            Framed::Head(len) => len,
            Framed::Closed => return Ok(()),
            Framed::TooLarge => return refuse(stream, shared, peer, &buf, 431).await,
        };
        let started = Instant::now();
        let request = match request::check(&buf[..head_len]) {
            Ok(request) => request,
            Err(refusal) => {
                return refuse(stream, shared, peer, &buf[..head_len], refusal.status).await;
            }
        };
        let mut reply = shared
            .respond(
                &buf[..head_len],
                Client::http1(peer, index),
                request.head_method,
            )
            .await;
        index = index.saturating_add(1);
        // The protocol, the body and the limits may require a close whatever the handler
        // chose; the handler can add a close, never remove one.
        let skip_body = match request.body {
            BodyLength::None => Some(0),
            BodyLength::Length(length)
                if length <= shared.limits.max_discarded_body && !request.expects_continue =>
            {
                Some(length)
            }
            BodyLength::Length(_) | BodyLength::Chunked => None,
        };
        let must_close = !request.persistent
            || skip_body.is_none()
            || index >= shared.limits.max_requests
            || shutdown.is_cancelled();
        announce(&mut reply, must_close, request.minor_version);
        let mut sent = 0;
        let patience = shared.limits.send_timeout;
        let result = send::send(stream, &reply.head, &reply.body, patience, &mut sent).await;
        shared.log(peer, &buf[..head_len], &reply, sent, started, false);
        result?;
        buf.drain(..head_len);
        if reply.close {
            let unread = !buf.is_empty() || request.body != BodyLength::None;
            return close(stream, unread).await;
        }
        let skip = skip_body.unwrap_or_default();
        if !discard_body(stream, &mut buf, skip, shared.limits.header_timeout).await? {
            return Ok(());
        }
    }
}

/// Answers a head the host will not pass to the handler with its own error, then
/// closes: nothing after a head we could not read can be trusted to be the start of the
/// next request.
async fn refuse(
    stream: &mut Stream,
    shared: &Shared,
    peer: SocketAddr,
    head: &[u8],
    status: u16,
) -> std::io::Result<()> {
    let reply = response::error_response(status, None, head.starts_with(b"HEAD "));
    let mut sent = 0;
    let patience = shared.limits.send_timeout;
    let result = send::send(stream, &reply.head, &reply.body, patience, &mut sent).await;
    shared.log(peer, head, &reply, sent, Instant::now(), false);
    result?;
    linger_close(stream).await
}

/// Makes the reply's head say what will happen to the connection: `Connection: close`
/// when it closes, `Connection: keep-alive` for an HTTP/1.0 client when it stays open
/// (such a client assumes a close otherwise).
fn announce(reply: &mut Checked, must_close: bool, minor_version: u8) {
    if reply.close || must_close {
        if !reply.says_close {
            response::set_connection(reply, "close");
        }
        reply.close = true;
    } else if minor_version == 0 {
        response::set_connection(reply, "keep-alive");
    }
}

/// Drops the `length` body bytes that follow a head, from `buf` first, then from the
/// socket, within `patience` for the whole body; `false` when the client closed or
/// took too long (the connection is then done).
async fn discard_body(
    stream: &mut Stream,
    buf: &mut Vec<u8>,
    length: u64,
    patience: Duration,
) -> std::io::Result<bool> {
    let buffered = (buf.len() as u64).min(length);
    buf.drain(..buffered as usize);
    let mut left = length - buffered;
    let deadline = Instant::now() + patience;
    let mut sink = [0u8; 16 * 1024];
    while left > 0 {
        let wait = deadline.saturating_duration_since(Instant::now());
        let want = (left as usize).min(sink.len());
        match timeout(wait, stream.read(&mut sink[..want])).await {
            Ok(Ok(0)) | Err(_) => return Ok(false),
            Ok(Ok(n)) => left -= n as u64,
            Ok(Err(e)) => return Err(e),
        }
    }
    Ok(true)
}

/// How long `read_head` may wait.
enum Wait {
    /// The whole head by this instant (the first request: counted from connecting).
    Head(Instant),
    /// Up to this long for a first byte, then the header timeout for the rest.
    Idle(Duration),
}

/// Reads until `buf` starts with a complete head. Empty lines before a request line are
/// dropped (RFC 9112 §2.2) but start the header timeout like any byte, so a trickle of
/// them cannot hold the connection open. `header` bounds the time from the first byte
/// (or from `Wait::Head`'s start) to the end of the head; shutdown ends only a wait in
/// which no byte has come.
async fn read_head(
    stream: &mut Stream,
    buf: &mut Vec<u8>,
    wait: Wait,
    header: Duration,
    shutdown: &CancellationToken,
) -> std::io::Result<Framed> {
    let (mut deadline, idle) = match wait {
        Wait::Head(by) => (Some(by), header),
        Wait::Idle(idle) => (None, idle),
    };
    // Bytes pipelined behind the last request have already arrived.
    let mut started = !buf.is_empty();
    if started {
        deadline.get_or_insert_with(|| Instant::now() + header);
    }
    let mut scanned = 0;
    loop {
        let blank = leading_blank_lines(buf);
        if blank > 0 {
            buf.drain(..blank);
            scanned = 0;
        }
        if !buf.is_empty() {
            if let Some(end) = head_end(buf, &mut scanned) {
                return Ok(if end > MAX_HEAD {
                    Framed::TooLarge
                } else {
                    Framed::Head(end)
                });
            }
            if buf.len() > MAX_HEAD {
                return Ok(Framed::TooLarge);
            }
        }
        let wait = match deadline {
            Some(deadline) => deadline.saturating_duration_since(Instant::now()),
            None => idle,
        };
        buf.reserve(4096);
        let read = tokio::select! {
            read = timeout(wait, stream.read_buf(buf)) => read,
            _ = shutdown.cancelled(), if !started => return Ok(Framed::Closed),
        };
        match read {
            Ok(Ok(0)) | Err(_) => return Ok(Framed::Closed),
            Ok(Ok(_)) => {
                started = true;
                deadline.get_or_insert_with(|| Instant::now() + header);
            }
            Ok(Err(e)) => return Err(e),
        }
    }
}

/// Bytes of CRLF or LF lines at the start of `buf`.
pub fn leading_blank_lines(buf: &[u8]) -> usize {
    let mut at = 0;
    loop {
        match &buf[at..] {
            [b'\r', b'\n', ..] => at += 2,
            [b'\n', ..] => at += 1,
            _ => return at,
        }
    }
}

/// Length of the head through its empty line (`\n\r\n` or `\n\n`), if it is complete.
/// `scanned` carries the search position between reads, so a head that trickles in a
/// byte at a time is scanned once, not once per byte. (Public for the fuzz target.)
pub fn head_end(buf: &[u8], scanned: &mut usize) -> Option<usize> {
    let from = scanned.saturating_sub(2);
    for i in from..buf.len() {
        if buf[i] == b'\n' {
            match &buf[i + 1..] {
                [b'\n', ..] => return Some(i + 2),
                [b'\r', b'\n', ..] => return Some(i + 3),
                _ => {}
            }
        }
    }
    *scanned = buf.len();
    None
}

/// Closes after a response. When the client sent more than we read (`unread`, or bytes
/// already waiting in the socket), lingers: closing with unread data would reset the
/// connection and could destroy the response before the client reads it. Otherwise
/// (a plain request that asked to close) the close is immediate, as nginx does.
async fn close(stream: &mut Stream, unread: bool) -> std::io::Result<()> {
    // Under TLS the socket's bytes are the session's: a probe would take one from
    // rustls, so a TLS connection always lingers.
    let pending = match stream {
        Stream::Plain(tcp) => matches!(tcp.try_read(&mut [0u8; 1]), Ok(n) if n > 0),
        Stream::Tls(_) => true,
    };
    if unread || pending {
        return linger_close(stream).await;
    }
    shutdown_bounded(stream).await
}

/// Half-closes within `LINGER`: under TLS the shutdown writes `close_notify`, which a
/// client that stopped reading would otherwise hold forever (and the connection's slot
/// with it).
async fn shutdown_bounded(stream: &mut Stream) -> std::io::Result<()> {
    // A plain TCP shutdown is one system call that never waits: no timer for it.
    if let Stream::Plain(tcp) = stream {
        return tcp.shutdown().await;
    }
    match timeout(LINGER, stream.shutdown()).await {
        Ok(done) => done,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("the client took no close for {LINGER:?}"),
        )),
    }
}

/// Half-closes, then drains what the client still sends (bounded in time), then closes.
async fn linger_close(stream: &mut Stream) -> std::io::Result<()> {
    shutdown_bounded(stream).await?;
    let mut sink = [0u8; 4096];
    let deadline = Instant::now() + LINGER;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match timeout(left, stream.read(&mut sink)).await {
            Ok(Ok(n)) if n > 0 => continue,
            _ => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests;
