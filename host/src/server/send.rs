//! The bytes going out: a checked head and its planned body written to the client —
//! the head and every leading in-memory piece in one `send(2)`, files with `sendfile(2)`
//! from the page cache — waiting, bounded, when the client's socket is full. Over TLS
//! the bytes must pass through the session to be encrypted, so files are copied in
//! chunks instead (`copy`): the same bound on memory and on waiting.

use std::fs::File;
use std::io;
use std::time::Duration;

use std::iter::Peekable;
use std::os::unix::fs::FileExt;

use tokio::io::{AsyncWrite, AsyncWriteExt, Interest};
use tokio::net::TcpStream;

use crate::net::stream::Stream;
use crate::sandbox::plan::{COALESCE_LIMIT, Piece, Plan};

/// A TLS copy's chunk: 16 KiB is one full TLS record.
const CHUNK: usize = 16 << 10;

/// Writes the head and the body, adding to `sent` every byte the socket (or the TLS
/// session) took — what the access log reports, also when the client reset or
/// `patience` cut the response short. Fails with `TimedOut` when the client takes no
/// bytes for `patience` (it stopped reading).
pub async fn send(
    stream: &mut Stream,
    head: &[u8],
    plan: &Plan,
    patience: Duration,
    sent: &mut u64,
) -> io::Result<()> {
    match stream {
        Stream::Plain(tcp) => send_plain(tcp, head, plan, patience, sent).await,
        Stream::Tls(tls) => copy(tls.as_mut(), head, plan, patience, sent).await,
    }
}

async fn send_plain(
    stream: &mut TcpStream,
    head: &[u8],
    plan: &Plan,
    patience: Duration,
    sent: &mut u64,
) -> io::Result<()> {
    let (first, mut rest) = leading(head, plan);
    // When more follows, MSG_MORE lets the kernel put the head in the same segment as
    // the start of the file instead of sending a small packet of its own (nginx's
    // tcp_nopush does the same with TCP_CORK).
    write(stream, &first, rest.peek().is_some(), patience, sent).await?;
    while let Some(piece) = rest.next() {
        match piece {
            Piece::Bytes(bytes) => {
                write(stream, bytes, rest.peek().is_some(), patience, sent).await?
            }
            Piece::File {
                file,
                offset,
                length,
            } => sendfile_all(stream, file, *offset, *length, patience, sent).await?,
        }
    }
    Ok(())
}

/// The head and every leading in-memory piece in one buffer, to go out in one write;
/// and the pieces after them.
fn leading<'p>(head: &[u8], plan: &'p Plan) -> (Vec<u8>, Peekable<std::slice::Iter<'p, Piece>>) {
    let mut first = Vec::with_capacity(head.len() + plan.len().min(COALESCE_LIMIT) as usize);
    first.extend_from_slice(head);
    let mut rest = plan.pieces.iter().peekable();
    while let Some(Piece::Bytes(bytes)) = rest.peek() {
        first.extend_from_slice(bytes);
        rest.next();
    }
    (first, rest)
}

/// The head and body through `out` (a TLS session): in-memory pieces as they are,
/// files read in `CHUNK`s at their offsets (from the page cache, as sendfile would).
async fn copy(
    out: &mut (impl AsyncWrite + Unpin),
    head: &[u8],
    plan: &Plan,
    patience: Duration,
    sent: &mut u64,
) -> io::Result<()> {
    // One record for a small answer; every write of at most a CHUNK must make progress
    // within `patience`, as on the plain path, however long the whole body takes.
    let (first, rest) = leading(head, plan);
    for part in first.chunks(CHUNK) {
        bounded(patience, out.write_all(part)).await?;
        *sent += part.len() as u64;
    }
    let mut chunk = vec![0u8; CHUNK];
    for piece in rest {
        match piece {
            Piece::Bytes(bytes) => {
                for part in bytes.chunks(CHUNK) {
                    bounded(patience, out.write_all(part)).await?;
                    *sent += part.len() as u64;
                }
            }
            Piece::File {
                file,
                offset,
                length,
            } => {
                let (mut at, end) = (*offset, offset + length);
                while at < end {
                    let want = ((end - at) as usize).min(CHUNK);
                    let n = file.read_at(&mut chunk[..want], at)?;
                    if n == 0 {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "file shrank while being sent",
                        ));
                    }
                    bounded(patience, out.write_all(&chunk[..n])).await?;
                    *sent += n as u64;
                    at += n as u64;
                }
            }
        }
    }
    bounded(patience, out.flush()).await
}

/// One write that must make progress within `patience`.
async fn bounded(
    patience: Duration,
    write: impl std::future::Future<Output = io::Result<()>>,
) -> io::Result<()> {
    tokio::time::timeout(patience, write)
        .await
        .unwrap_or_else(|_| {
            Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("the client took no bytes for {patience:?}"),
            ))
        })
}

/// Waits until the socket takes bytes again, for at most `patience`.
async fn writable(stream: &TcpStream, patience: Duration) -> io::Result<()> {
    match tokio::time::timeout(patience, stream.writable()).await {
        Ok(ready) => ready,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("the client took no bytes for {patience:?}"),
        )),
    }
}

/// `send(2)` until all of `bytes` is out, with MSG_MORE when `more` follows.
async fn write(
    stream: &TcpStream,
    mut bytes: &[u8],
    more: bool,
    patience: Duration,
    sent: &mut u64,
) -> io::Result<()> {
    let flags = if more {
        rustix::net::SendFlags::MORE
    } else {
        rustix::net::SendFlags::empty()
    };
    while !bytes.is_empty() {
        // Try first: a socket with room (the usual case) needs no readiness wait.
        let done = stream.try_io(Interest::WRITABLE, || {
            rustix::net::send(stream, bytes, flags).map_err(io::Error::from)
        });
        match done {
            Ok(n) => {
                bytes = &bytes[n..];
                *sent += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => writable(stream, patience).await?,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// `sendfile(2)` until `length` bytes are out, waiting for the socket when it is full.
async fn sendfile_all(
    stream: &TcpStream,
    file: &File,
    offset: u64,
    length: u64,
    patience: Duration,
    sent: &mut u64,
) -> io::Result<()> {
    let (mut offset, end) = (offset, offset + length);
    while offset < end {
        let count = (end - offset).min(1 << 30) as usize;
        let done = stream.try_io(Interest::WRITABLE, || {
            let mut at = offset;
            rustix::fs::sendfile(stream, file, Some(&mut at), count).map_err(io::Error::from)
        });
        match done {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "file shrank while being sent",
                ));
            }
            Ok(n) => {
                offset += n as u64;
                *sent += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => writable(stream, patience).await?,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
