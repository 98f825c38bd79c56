//! What a handler prints (WASI stdout and stderr), kept for `--handler-output`: the
//! first bytes up to the bound per request, the rest counted and dropped — never an
//! error the guest sees (a full pipe that failed writes would make a Python `print`
//! raise, and the answer change) — and logged after the call, each line prefixed with
//! the request it came from (cut short: a request line may be 16 KiB), at most
//! `MAX_LINES` lines a call, and marked when the call was a swap's replay. Never part of
//! the response.

use std::pin::Pin;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// Lines of one call's output logged; the rest are counted.
const MAX_LINES: usize = 100;
/// Bytes of the request line each logged line starts with.
const PREFIX: usize = 100;

tokio::task_local! {
    /// Set around a swap's replayed calls: their output is a replay's, not a client's
    /// (`replay, live` or `replay, candidate`).
    pub static REPLAY: &'static str;
}

/// One request's output, shared by its stdout and stderr (and, with instance reuse,
/// by the calls of one instance, each taking what it printed).
#[derive(Clone)]
pub struct Captured {
    kept: Arc<Mutex<Kept>>,
}

struct Kept {
    bytes: Vec<u8>,
    dropped: u64,
    limit: usize,
}

impl Captured {
    pub fn new(limit: usize) -> Captured {
        Captured {
            kept: Arc::new(Mutex::new(Kept {
                bytes: Vec::new(),
                dropped: 0,
                limit,
            })),
        }
    }

    fn keep(&self, bytes: &[u8]) {
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        let room = kept.limit.saturating_sub(kept.bytes.len());
        let taken = bytes.len().min(room);
        kept.bytes.extend_from_slice(&bytes[..taken]);
        kept.dropped += (bytes.len() - taken) as u64;
    }

    /// Logs what was printed since the last call, line by line, as
    /// `handler: GET /a HTTP/1.1: the line` (control characters escaped: the guest's
    /// bytes must not forge log lines or terminal sequences).
    pub fn log(&self, head: &[u8]) {
        let (bytes, dropped) = {
            let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
            (
                std::mem::take(&mut kept.bytes),
                std::mem::take(&mut kept.dropped),
            )
        };
        if bytes.is_empty() && dropped == 0 {
            return;
        }
        let line = head
            .split(|b| *b == b'\r' || *b == b'\n')
            .next()
            .unwrap_or(b"");
        let mut request = escaped(&line[..line.len().min(PREFIX)]);
        if line.len() > PREFIX {
            request.push('…');
        }
        let who = REPLAY
            .try_with(|replay| format!("handler ({replay})"))
            .unwrap_or_else(|_| "handler".to_owned());
        let lines: Vec<&[u8]> = bytes
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        for printed in lines.iter().take(MAX_LINES) {
            tracing::info!("{who}: {request}: {}", escaped(printed));
        }
        let more_lines = lines.len().saturating_sub(MAX_LINES);
        if more_lines > 0 || dropped > 0 {
            tracing::info!(
                "{who}: {request}: ({more_lines} more lines and {dropped} more bytes not shown: --handler-output)"
            );
        }
    }
}

/// Printable ASCII as is, everything else as `\xNN`.
fn escaped(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}

impl IsTerminal for Captured {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for Captured {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl OutputStream for Captured {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.keep(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        // Always room: past the bound, bytes are counted, not refused.
        Ok(64 << 10)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for Captured {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for Captured {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.keep(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// Logs a call's output when the call ends, whichever way (dropped included).
pub struct Logged<'a>(pub Option<&'a Captured>, pub &'a [u8]);

impl Drop for Logged<'_> {
    fn drop(&mut self) {
        if let Some(output) = self.0 {
            output.log(self.1);
        }
    }
}
