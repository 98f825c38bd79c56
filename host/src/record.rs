//! `--record FILE`: every request head a handler is asked to decide, as that handler
//! saw it, appended to FILE as a JSON line (`{"at": SECONDS, "mount": null, "head":
//! "GET / HTTP/1.1\r\n…"}`; `mount` names the `--mount` prefix whose handler decided
//! it) for `sandserve diff --requests FILE` to replay. Credentials are left out — the
//! `Cookie`, `Authorization` and `Proxy-Authorization` lines — unless `--record-keep
//! NAME` says otherwise; the file is made mode 0600 all the same, new or not (targets
//! carry tokens too).
//!
//! Serving never waits on the disk: heads go through a bounded queue to a thread of
//! their own, which writes in batches and flushes whenever the queue runs dry; when the
//! queue is full a head is dropped and counted, and the count logged.
//!
//! A head is bytes, not text (a field value may hold obs-text): `head` holds them as
//! ISO-8859-1 characters, one character per byte, so that any head survives the trip.

use std::fs::OpenOptions;
use std::io::{BufWriter, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};

/// Fields left out of a recorded head unless kept by name.
pub const LEFT_OUT: &[&str] = &["authorization", "cookie", "proxy-authorization"];

/// Heads waiting for the writer; beyond this they are dropped.
const QUEUE: usize = 4096;

enum Message {
    Line(Vec<u8>),
    /// Flush, then say so.
    Flush(SyncSender<()>),
}

pub struct Recorder {
    queue: SyncSender<Message>,
    /// Field names (lower case) left out of every head.
    left_out: Vec<String>,
    dropped: AtomicU64,
    path: PathBuf,
}

impl Recorder {
    /// Opens `path` for appending (made 0600 if new) and starts the writer. `keep`:
    /// names of `LEFT_OUT` fields to record all the same.
    pub fn open(path: &Path, keep: &[String]) -> Result<Recorder> {
        for name in keep {
            if !LEFT_OUT.contains(&name.to_ascii_lowercase().as_str()) {
                bail!(
                    "--record-keep {name}: only the fields left out can be kept: {}",
                    LEFT_OUT.join(", ")
                );
            }
        }
        let left_out = LEFT_OUT
            .iter()
            .filter(|name| !keep.iter().any(|k| k.eq_ignore_ascii_case(name)))
            .map(|name| name.to_string())
            .collect();
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("--record {}: cannot open", path.display()))?;
        // An existing file keeps its mode on open: make it ours alone too.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("--record {}: cannot make it private", path.display()))?;
        let (queue, incoming) = sync_channel(QUEUE);
        std::thread::Builder::new()
            .name("sandserve-record".into())
            .spawn(move || write_all(BufWriter::new(file), incoming))
            .context("cannot start the recording thread")?;
        Ok(Recorder {
            queue,
            left_out,
            dropped: AtomicU64::new(0),
            path: path.to_owned(),
        })
    }

    /// Queues one head as the handler of `mount` (`None`: `--handler`'s) saw it, less
    /// the left-out fields.
    pub fn record(&self, head: &[u8], mount: Option<&str>) {
        let line = line(&without(head, &self.left_out), mount, SystemTime::now());
        if let Err(TrySendError::Full(_)) = self.queue.try_send(Message::Line(line)) {
            let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if dropped.is_power_of_two() {
                eprintln!(
                    "sandserve: --record {}: the disk is behind; {dropped} heads not recorded",
                    self.path.display()
                );
            }
        }
    }

    /// Waits, a second at most whatever the disk does, until every head queued so far
    /// is written out; says how many were dropped in all.
    pub fn flush(&self) {
        let deadline = Instant::now() + Duration::from_secs(1);
        let (done, wait) = sync_channel(1);
        let mut message = Message::Flush(done);
        loop {
            match self.queue.try_send(message) {
                Ok(()) => {
                    let _ = wait.recv_timeout(deadline.saturating_duration_since(Instant::now()));
                    break;
                }
                Err(TrySendError::Full(back)) if Instant::now() < deadline => {
                    message = back;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(_) => break,
            }
        }
        let dropped = self.dropped.load(Ordering::Relaxed);
        if dropped > 0 {
            eprintln!(
                "sandserve: --record {}: {dropped} heads were not recorded (the disk was behind)",
                self.path.display()
            );
        }
    }
}

fn write_all(mut out: BufWriter<std::fs::File>, incoming: Receiver<Message>) {
    let mut failed = false;
    let mut report = |e: std::io::Error| {
        if !std::mem::replace(&mut failed, true) {
            eprintln!("sandserve: --record: cannot write: {e}");
        }
    };
    while let Ok(message) = incoming.recv() {
        let mut next = Some(message);
        while let Some(message) = next {
            match message {
                Message::Line(line) => {
                    if let Err(e) = out.write_all(&line) {
                        report(e);
                    }
                }
                Message::Flush(done) => {
                    if let Err(e) = out.flush() {
                        report(e);
                    }
                    let _ = done.send(());
                }
            }
            next = incoming.try_recv().ok();
        }
        if let Err(e) = out.flush() {
            report(e);
        }
    }
}

/// The head less the field lines named in `left_out`.
fn without(head: &[u8], left_out: &[String]) -> Vec<u8> {
    head.split_inclusive(|&b| b == b'\n')
        .filter(|line| {
            let name = line.split(|&b| b == b':').next().unwrap_or_default();
            !line.contains(&b':')
                || !left_out
                    .iter()
                    .any(|n| name.eq_ignore_ascii_case(n.as_bytes()))
        })
        .flatten()
        .copied()
        .collect()
}

/// One JSON line for `head`, decided by `mount`'s handler, received `at`.
fn line(head: &[u8], mount: Option<&str>, at: SystemTime) -> Vec<u8> {
    let text: String = head.iter().map(|&b| char::from(b)).collect();
    let seconds = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let value = serde_json::json!({"at": seconds, "mount": mount, "head": text});
    let mut line = serde_json::to_vec(&value).expect("a string always serialises");
    line.push(b'\n');
    line
}

/// The bytes of a recorded `head` (one character per byte); `None` if it has a
/// character past U+00FF, which no recorded head has.
pub fn head_bytes(text: &str) -> Option<Vec<u8>> {
    text.chars().map(|c| u8::try_from(c).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_left_out_and_bytes_survive() {
        let head = b"GET /a?t=1 HTTP/1.1\r\nHost: x\r\nCookie: s=1\r\nauthorization: Basic eA==\r\nX-Note: caf\xe9\r\n\r\n";
        let left_out: Vec<String> = LEFT_OUT.iter().map(|s| s.to_string()).collect();
        let kept = without(head, &left_out);
        assert_eq!(
            kept,
            b"GET /a?t=1 HTTP/1.1\r\nHost: x\r\nX-Note: caf\xe9\r\n\r\n"
        );
        let line = line(&kept, Some("/py/"), UNIX_EPOCH + Duration::from_secs(7));
        let value: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(value["at"], 7);
        assert_eq!(value["mount"], "/py/");
        assert_eq!(head_bytes(value["head"].as_str().unwrap()).unwrap(), kept);
        assert_eq!(head_bytes("\u{100}"), None);
    }
}
