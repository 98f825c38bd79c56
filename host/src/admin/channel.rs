//! The admin channel: plain HTTP/1.1 on a Unix socket that only the server's own user
//! can open (mode 0600, and the peer's uid checked), so `curl --unix-socket` works too.
//!
//! Routes (JSON answers, one request per connection):
//! - `GET /status` — the live version, those kept for rollback, the last swap, and
//!   the same for each mount under `mounts`;
//! - `POST /swap` — body: the component's absolute path; `?force=1` skips the verdict
//!   of the shadow check; 200 with the report when swapped or unchanged, 409 refused;
//! - `POST /rollback` — 200 with the version now live, 409 when there is none;
//! - `GET /metrics` — Prometheus text (`metrics`); `GET /healthz` — 200 while the
//!   process serves; `GET /readyz` — 200 while it accepts connections with its handlers
//!   loaded, 503 once shutdown began.
//!
//! The last three are also what `--metrics ADDR` serves over TCP (`serve_metrics`), for
//! scrapers and probes that cannot reach a Unix socket; swaps never are.
//!
//! `?mount=PREFIX` (percent-encoded) makes a swap or rollback the mount's instead of
//! `--handler`'s.
//!
//! An admin client is bounded like any client: a head of at most 16 KiB, a body of
//! at most 4 KiB, 10 s to send them, 10 s to take the answer, eight connections at once. Past eight, a client
//! still gets in, with 1 s to send its request (up to 64 such at once; more are closed
//! at once): a probe sends its request as it connects, so idle clients holding the
//! eight cannot keep `/healthz` from answering.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::Semaphore;

use crate::server::shared::Shared;
use crate::versions::live::Version;

const MAX_HEAD: usize = 16 * 1024;
const MAX_BODY: usize = 4 * 1024;
const READ_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_CLIENTS: usize = 8;
/// Clients let in past `MAX_CLIENTS`, each with `SPARE_TIMEOUT` to send its request.
const MAX_SPARE: usize = 64;
const SPARE_TIMEOUT: Duration = Duration::from_secs(1);

/// Binds the admin socket at `path`, mode 0600 from the start. A path that is taken is
/// refused unless it is a socket of ours that nobody answers on (left by a server that
/// died); anyone else's socket is never removed.
pub fn bind(path: &Path) -> Result<UnixListener> {
    let name = path.display();
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            bail!("--admin {name}: the path exists and is not a socket");
        }
        if meta.uid() != rustix::process::geteuid().as_raw() {
            bail!("--admin {name}: a socket of another user is there");
        }
        match std::os::unix::net::UnixStream::connect(path) {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {}
            Ok(_) => bail!("--admin {name}: another server is listening on it"),
            Err(e) => bail!("--admin {name}: cannot tell whether it is in use: {e}"),
        }
        std::fs::remove_file(path)
            .with_context(|| format!("--admin {name}: cannot remove the stale socket"))?;
    }
    // The umask makes the socket 0600 as it is created, with no window in which another
    // user could connect; nothing else creates files while the server starts.
    let old = rustix::process::umask(rustix::fs::Mode::from_bits_truncate(0o177));
    let bound = UnixListener::bind(path);
    rustix::process::umask(old);
    bound.with_context(|| format!("--admin {name}: cannot bind"))
}

/// Serves admin clients until the listener is dropped.
pub async fn serve(listener: UnixListener, shared: Arc<Shared>) {
    let uid = rustix::process::geteuid().as_raw();
    each_client(listener, |stream, patience| {
        let shared = shared.clone();
        async move {
            let allowed = stream.peer_cred().is_ok_and(|cred| cred.uid() == uid);
            let _ = if allowed {
                answer(stream, &shared, patience).await
            } else {
                // Read what it sent (bounded) first, so that the refusal reaches it.
                let mut stream = stream;
                let _ = tokio::time::timeout(patience, read_request(&mut stream)).await;
                reply(stream, 403, &json!({"error": "not the server's user"})).await
            };
        }
    })
    .await
}

/// A listening socket of either kind, for `each_client`.
trait Listener {
    type Stream: Send + 'static;
    fn next(&self) -> impl Future<Output = std::io::Result<Self::Stream>> + Send;
}

impl Listener for UnixListener {
    type Stream = UnixStream;
    async fn next(&self) -> std::io::Result<UnixStream> {
        Ok(self.accept().await?.0)
    }
}

impl Listener for tokio::net::TcpListener {
    type Stream = tokio::net::TcpStream;
    async fn next(&self) -> std::io::Result<Self::Stream> {
        Ok(self.accept().await?.0)
    }
}

/// Accepts clients until the listener is gone, each answered by `handle` in a task of
/// its own with the time it has to send its request: `READ_TIMEOUT` for the first
/// `MAX_CLIENTS` at once, `SPARE_TIMEOUT` for up to `MAX_SPARE` more, and any further
/// one closed at once. A failed accept (out of descriptors) waits a moment instead of
/// spinning.
async fn each_client<L: Listener, Fut>(listener: L, handle: impl Fn(L::Stream, Duration) -> Fut)
where
    Fut: Future<Output = ()> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(MAX_CLIENTS));
    let spare = Arc::new(Semaphore::new(MAX_SPARE));
    loop {
        let Ok(stream) = listener.next().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let (permit, patience) = match slots.clone().try_acquire_owned() {
            Ok(permit) => (permit, READ_TIMEOUT),
            Err(_) => match spare.clone().try_acquire_owned() {
                Ok(permit) => (permit, SPARE_TIMEOUT),
                Err(_) => continue,
            },
        };
        let work = handle(stream, patience);
        tokio::spawn(async move {
            let _permit = permit;
            work.await;
        });
    }
}

/// One admin request: read (within `patience`), route, reply.
async fn answer(
    mut stream: UnixStream,
    shared: &Shared,
    patience: Duration,
) -> std::io::Result<()> {
    let request = tokio::time::timeout(patience, read_request(&mut stream)).await;
    let Ok(Ok((method, target, body))) = request else {
        let error = json!({"error": format!("expected one HTTP/1.1 request (head ≤ 16 KiB, body ≤ 4 KiB) within {patience:?}")});
        return reply(stream, 400, &error).await;
    };
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let Ok(mount) = mount_of(query) else {
        let error = json!({"error": "?mount= needs a --mount prefix, percent-encoded"});
        return reply(stream, 400, &error).await;
    };
    let mount = mount.as_deref();
    if let Some((status, kind, body)) = probe(&method, path, shared) {
        return send(stream, status, kind, body.as_bytes()).await;
    }
    let (status, value) = match (method.as_str(), path) {
        ("GET", "/status") => (200, status(shared)),
        ("POST", "/swap") => {
            // The path's bytes as they are: a file name need not be UTF-8.
            let file = PathBuf::from(OsStr::from_bytes(body.trim_ascii()));
            if !file.is_absolute() {
                (
                    400,
                    json!({"error": "the body must be the component's absolute path"}),
                )
            } else {
                let force = query.split('&').any(|p| p == "force=1" || p == "force");
                let report = shared.swap(mount, &file, force, false).await;
                let code = if report.outcome == "refused" {
                    409
                } else {
                    200
                };
                (code, serde_json::to_value(report).unwrap_or_default())
            }
        }
        ("POST", "/rollback") => match shared.rollback(mount) {
            Ok(version) => (200, json!({"live": describe(&version)})),
            Err(why) => (409, json!({"error": why})),
        },
        (_, "/status" | "/swap" | "/rollback") => (405, json!({"error": "wrong method"})),
        _ => (
            404,
            json!({"error": "routes: GET /status, POST /swap, POST /rollback, GET /metrics, GET /healthz, GET /readyz"}),
        ),
    };
    reply(stream, status, &value).await
}

/// `/metrics`, `/healthz` and `/readyz`: status, content type and body; `None` for
/// any other route.
fn probe(method: &str, path: &str, shared: &Shared) -> Option<(u16, &'static str, String)> {
    let text = "text/plain; charset=utf-8";
    let answer = match path {
        "/metrics" | "/healthz" | "/readyz" if method != "GET" => {
            (405, text, "GET only\n".to_owned())
        }
        "/metrics" => (
            200,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            shared.metrics_text(),
        ),
        "/healthz" => (200, text, "alive\n".to_owned()),
        "/readyz" if shared.accepting.load(Ordering::Relaxed) => (200, text, "ready\n".to_owned()),
        "/readyz" => (503, text, "shutting down\n".to_owned()),
        _ => return None,
    };
    Some(answer)
}

/// Serves `/metrics`, `/healthz` and `/readyz` on `--metrics ADDR`, one request per
/// connection, bounded like the admin socket; everything else is 404.
pub async fn serve_metrics(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    each_client(listener, |mut stream, patience| {
        let shared = shared.clone();
        async move {
            let request = tokio::time::timeout(patience, read_request(&mut stream)).await;
            let (status, kind, body) = match request {
                Ok(Ok((method, target, _))) => {
                    let path = target.split('?').next().unwrap_or_default();
                    probe(&method, path, &shared).unwrap_or((
                        404,
                        "text/plain; charset=utf-8",
                        "routes: GET /metrics, /healthz, /readyz\n".to_owned(),
                    ))
                }
                _ => (400, "text/plain; charset=utf-8", "bad request\n".to_owned()),
            };
            let _ = send(stream, status, kind, body.as_bytes()).await;
        }
    })
    .await
}

/// The method, target and body of one request.
async fn read_request(
    stream: &mut (impl AsyncReadExt + Unpin),
) -> Result<(String, String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let mut fields = [httparse::EMPTY_HEADER; 32];
        let mut request = httparse::Request::new(&mut fields);
        if let httparse::Status::Complete(head_len) = request.parse(&buf)? {
            let length = match request
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("content-length"))
            {
                Some(field) => crate::http::request::parse_content_length(field.value)
                    .map_err(|refusal| anyhow::anyhow!(refusal.reason))?,
                None => 0,
            };
            if length > MAX_BODY as u64 {
                bail!("body too large");
            }
            let length = length as usize;
            let method = request.method.unwrap_or_default().to_owned();
            let target = request.path.unwrap_or_default().to_owned();
            while buf.len() < head_len + length {
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    bail!("closed mid-body");
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            return Ok((method, target, buf[head_len..head_len + length].to_vec()));
        }
        if buf.len() > MAX_HEAD {
            bail!("head too large");
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            bail!("closed mid-head");
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

async fn reply(stream: UnixStream, status: u16, value: &Value) -> std::io::Result<()> {
    let body = format!("{value}\n");
    send(stream, status, "application/json", body.as_bytes()).await
}

async fn send(
    mut stream: impl AsyncWriteExt + Unpin,
    status: u16,
    kind: &str,
    body: &[u8],
) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        503 => "Service Unavailable",
        _ => "Conflict",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {kind}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    // A client that does not read (a `/metrics` body can outgrow the socket's buffer)
    // holds its permit no longer than it had to send its request.
    let write = async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body).await?;
        stream.shutdown().await
    };
    tokio::time::timeout(READ_TIMEOUT, write)
        .await
        .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()))
}

fn describe(version: &Version) -> Value {
    let since = *version.live_since.lock().unwrap_or_else(|e| e.into_inner());
    json!({
        "sha256": version.sha256,
        "source": version.source,
        "contract": version.handler.contract(),
        "wasi": version.handler.imports_wasi(),
        "live_since": since.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        "requests": version.requests.load(Ordering::Relaxed),
        "failures": version.failures.load(Ordering::Relaxed),
        "traps": version.traps.load(Ordering::Relaxed),
    })
}

/// The `mount=PREFIX` of a query, percent-decoded: the slot a swap or rollback is for
/// (`None`: `--handler`'s). A `mount` without a prefix is an error, not `--handler`.
fn mount_of(query: &str) -> Result<Option<String>, ()> {
    let Some(pair) = query
        .split('&')
        .find(|pair| *pair == "mount" || pair.starts_with("mount="))
    else {
        return Ok(None);
    };
    match pair.strip_prefix("mount=").filter(|v| !v.is_empty()) {
        Some(value) => Ok(Some(
            percent_encoding::percent_decode_str(value)
                .decode_utf8_lossy()
                .into_owned(),
        )),
        None => Err(()),
    }
}

/// The `--handler` slot at the top level (as before mounts), each mount under `mounts`.
fn status(shared: &Shared) -> Value {
    let slot = |slot: &crate::versions::mount::Slot| {
        json!({
            "live": describe(&slot.live.current()),
            "kept": slot.live.previous().iter().map(|v| describe(v)).collect::<Vec<_>>(),
            "last_swap": shared.last_swap(slot),
        })
    };
    let mut answer = slot(shared.mounts.default_slot());
    answer["mounts"] = shared
        .mounts
        .all()
        .iter()
        .filter_map(|s| {
            let mut one = slot(s);
            one["prefix"] = json!(s.prefix.as_ref()?);
            Some(one)
        })
        .collect();
    answer
}
