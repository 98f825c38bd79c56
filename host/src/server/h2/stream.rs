//! One HTTP/2 stream: its request made an HTTP/1.1 head and checked like any other,
//! decided by the live handler (at most `--h2-max-calls` at once per connection), and
//! the checked answer written as HEADERS and DATA frames — a file read a chunk at a time,
//! only as fast as the peer's flow-control window opens — while the request body, which
//! no handler sees, is read and thrown away with its window credit returned.

use std::future::poll_fn;
use std::net::SocketAddr;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use h2::server::SendResponse;
use h2::{Reason, RecvStream, SendStream};
use http::Request;
use tokio::sync::Semaphore;
use tokio::time::timeout;
use tokio_util::task::AbortOnDropHandle;

use crate::http::request;
use crate::sandbox::bindings::wit::Protocol;
use crate::sandbox::decide::Client;
use crate::sandbox::plan::Piece;
use crate::sandbox::response::{self, Checked};
use crate::server::h2::head;
use crate::server::shared::Shared;

/// Most bytes one DATA frame's read takes from a file (and so the memory a stream holds
/// for its body): the peer's window and frame size may make it less.
const CHUNK: usize = 16 << 10;

/// What the connection learns from a stream that has ended.
pub struct Ended {
    /// The answer asked to close: the connection ends after its streams in flight.
    pub close: bool,
    /// The peer reset the stream before its response was complete.
    pub reset: bool,
}

/// Serves one stream to its end.
pub async fn serve(
    request: Request<RecvStream>,
    mut respond: SendResponse<Bytes>,
    shared: Arc<Shared>,
    peer: SocketAddr,
    index: u32,
    calls: Arc<Semaphore>,
) -> Ended {
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let request = Request::from_parts(parts, ());
    // The body is read and dropped beside the rest, so that the peer's window for it
    // reopens; `--max-discarded-body` bounds it, as on HTTP/1.1.
    // (Most requests have none: their HEADERS ended the stream, and no task is spent.)
    // The task ends with the stream, however the stream ends.
    let limit = shared.limits.max_discarded_body;
    let _discard =
        (!body.is_end_stream()).then(|| AbortOnDropHandle::new(tokio::spawn(discard(body, limit))));
    let head = match head::request_head(&request) {
        Ok(head) => head,
        Err(head::Malformed(why)) => {
            tracing::debug!("{peer}: HTTP/2 stream refused: {why}");
            respond.send_reset(Reason::PROTOCOL_ERROR);
            return Ended {
                close: false,
                reset: false,
            };
        }
    };
    let is_head = request.method() == http::Method::HEAD;
    let client = Client {
        peer,
        index,
        protocol: Protocol::Http2,
    };
    // One connection takes at most its share of the handler calls, and holds it until
    // the answer is sent: a stream being sent keeps its file open and its buffer.
    let wait = shared.limits.instance_wait;
    let decide = async {
        let Ok(Ok(call)) = timeout(wait, calls.acquire()).await else {
            return (response::busy_response(is_head), None);
        };
        let reply = match request::check(&head) {
            Err(refusal) => response::error_response(refusal.status, None, is_head),
            Ok(checked) => shared.respond(&head, client, checked.head_method).await,
        };
        (reply, Some(call))
    };
    // A stream the peer resets while it is decided drops the call (instance and slot
    // freed at once) instead of finishing it for nobody.
    let (reply, _call) = tokio::select! {
        decided = decide => decided,
        _ = poll_fn(|cx| respond.poll_reset(cx)) => {
            return Ended { close: false, reset: true };
        }
    };
    let mut sent = 0;
    let result = send(
        &mut respond,
        &reply,
        is_head,
        shared.limits.send_timeout,
        &mut sent,
    )
    .await;
    shared.log(peer, &head, &reply, sent, started, true);
    Ended {
        // A handler's `close` ends the connection after its streams in flight. The
        // host's own refusals close an HTTP/1.1 connection because its framing can no
        // longer be trusted; HTTP/2's framing is the `h2` crate's, so they do not.
        close: reply.close && reply.decided_by.is_some(),
        // Only the peer's resets count towards `--h2-max-resets`, not the server's own
        // (a window left shut, a file that shrank).
        reset: result.is_err_and(|e| e.is_reset() && e.is_remote()),
    }
}

/// Writes the answer: HEADERS, then the body as DATA (none for HEAD, 204 and 304, whose
/// planned bodies are already empty). Fails when the peer reset the stream or left its
/// window shut for `patience`.
async fn send(
    respond: &mut SendResponse<Bytes>,
    reply: &Checked,
    is_head: bool,
    patience: Duration,
    sent: &mut u64,
) -> Result<(), h2::Error> {
    let Some(headers) = head::response(&reply.head) else {
        respond.send_reset(Reason::INTERNAL_ERROR);
        return Ok(());
    };
    let empty = is_head || reply.body.is_empty();
    let mut stream = respond.send_response(headers, empty)?;
    *sent += reply.head.len() as u64;
    if empty {
        return Ok(());
    }
    let pieces = &reply.body.pieces;
    let last = pieces.len() - 1;
    let mut ended = false;
    for (i, piece) in pieces.iter().enumerate() {
        let (len, offset) = match piece {
            Piece::Bytes(bytes) => (bytes.len() as u64, 0),
            Piece::File { offset, length, .. } => (*length, *offset),
        };
        let mut done = 0u64;
        while done < len {
            let want = ((len - done) as usize).min(CHUNK);
            let n = capacity(&mut stream, want, patience).await?;
            let chunk = match piece {
                Piece::Bytes(bytes) => {
                    Bytes::copy_from_slice(&bytes[done as usize..done as usize + n])
                }
                Piece::File { file, .. } => read(file, offset + done, n)?,
            };
            done += n as u64;
            *sent += n as u64;
            ended = i == last && done == len;
            stream.send_data(chunk, ended)?;
        }
    }
    // A body whose last piece is empty: the stream still ends with END_STREAM.
    if !ended {
        stream.send_data(Bytes::new(), true)?;
    }
    Ok(())
}

/// Waits until the peer's window lets `want` bytes (or fewer) go; gives up, resetting
/// the stream, after `patience` with the window shut.
async fn capacity(
    stream: &mut SendStream<Bytes>,
    want: usize,
    patience: Duration,
) -> Result<usize, h2::Error> {
    stream.reserve_capacity(want);
    loop {
        if stream.capacity() > 0 {
            return Ok(stream.capacity().min(want));
        }
        match timeout(patience, poll_fn(|cx| stream.poll_capacity(cx))).await {
            Ok(Some(Ok(n))) if n > 0 => return Ok(n.min(want)),
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(e))) => return Err(e),
            Ok(None) | Err(_) => {
                stream.send_reset(Reason::CANCEL);
                return Err(h2::Error::from(Reason::CANCEL));
            }
        }
    }
}

/// `n` bytes of `file` at `offset`, read in place as HTTP/1.1's TLS copy reads (from
/// the page cache, in the common case).
fn read(file: &std::fs::File, offset: u64, n: usize) -> Result<Bytes, h2::Error> {
    let mut buf = vec![0; n];
    file.read_exact_at(&mut buf, offset)
        .map(|()| Bytes::from(buf))
        .map_err(|_| h2::Error::from(Reason::INTERNAL_ERROR))
}

/// Reads and drops a request body, returning its window credit as it goes; past
/// `limit` bytes the rest is refused (`RST_STREAM` NO_ERROR once the answer is sent,
/// as RFC 9113 §8.1 lets a server that needs no more of it).
async fn discard(mut body: RecvStream, limit: u64) {
    let mut seen = 0u64;
    while let Some(Ok(data)) = body.data().await {
        seen += data.len() as u64;
        let _ = body.flow_control().release_capacity(data.len());
        if seen > limit {
            return;
        }
    }
}
