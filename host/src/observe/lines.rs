//! A file of lines written off the request path, for `record` and `access`: lines go
//! into a bounded buffer that a thread of its own writes out in batches, every 50 ms or
//! as soon as 64 KiB wait; a line that finds the buffer full (4 MiB) is dropped and
//! counted (the count logged at powers of two). The file can be reopened by path in
//! the lines' order (log rotation: every line pushed before the reopen goes to the old
//! file, every line after to the new one), and flushed at shutdown, bounded.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// Bytes waiting for the writer; a line that would pass this is dropped.
const CAP: usize = 4 << 20;
/// The writer is woken early once this much waits, else every `PERIOD`.
const BATCH: usize = 64 << 10;
const PERIOD: Duration = Duration::from_millis(50);

/// Where lines go: a file that `open` (re)opens, or standard error.
pub enum Sink {
    File(Box<dyn Fn() -> std::io::Result<File> + Send>),
    Stderr,
}

/// What the request path leaves for the writer. A line costs a lock and a copy, no
/// system call and no wake-up: the writer takes the whole buffer each period (or when
/// a batch is full), so that logging at full load costs one write per batch and no
/// context switch per line on a busy core.
#[derive(Default)]
struct Pending {
    buf: Vec<u8>,
    reopen: bool,
    /// Flushes asked for, each told when every byte before it is written.
    flushed: Vec<std::sync::mpsc::SyncSender<()>>,
    dropped: u64,
}

struct Shared {
    pending: Mutex<Pending>,
    wake: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub struct Lines {
    shared: Arc<Shared>,
    /// What the lines are, for messages: `--record FILE`, `--access-log-file FILE`.
    name: String,
}

impl Lines {
    /// Opens the sink (a failure is the caller's start-up error) and starts the writer.
    pub fn start(name: String, sink: Sink) -> Result<Lines> {
        let out: Box<dyn Write + Send> = match &sink {
            Sink::File(open) => Box::new(open().with_context(|| format!("{name}: cannot open"))?),
            Sink::Stderr => Box::new(std::io::stderr()),
        };
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending::default()),
            wake: Condvar::new(),
        });
        let (writer, thread_name) = (shared.clone(), name.clone());
        std::thread::Builder::new()
            .name("sandserve-lines".into())
            .spawn(move || write_all(thread_name, sink, out, writer))
            .context("cannot start a writer thread")?;
        Ok(Lines { shared, name })
    }

    /// Queues one line (with its newline); never waits on the disk.
    pub fn push(&self, line: Vec<u8>) {
        let mut pending = self.shared.lock();
        if pending.buf.len() + line.len() > CAP {
            pending.dropped += 1;
            let dropped = pending.dropped;
            drop(pending);
            if dropped.is_power_of_two() {
                tracing::warn!(
                    "{}: the disk is behind; {dropped} lines not written",
                    self.name
                );
            }
            return;
        }
        pending.buf.extend_from_slice(&line);
        if pending.buf.len() >= BATCH {
            self.shared.wake.notify_one();
        }
    }

    /// Reopens the file after the lines queued so far (for rotation).
    pub fn reopen(&self) {
        self.shared.lock().reopen = true;
        self.shared.wake.notify_one();
    }

    /// Waits, a second at most whatever the disk does, until every line queued so far
    /// is written out; says how many were dropped in all.
    pub fn flush(&self) {
        let (done, wait) = std::sync::mpsc::sync_channel(1);
        let dropped = {
            let mut pending = self.shared.lock();
            pending.flushed.push(done);
            pending.dropped
        };
        self.shared.wake.notify_one();
        let _ = wait.recv_timeout(Duration::from_secs(1));
        if dropped > 0 {
            tracing::warn!(
                "{}: {dropped} lines were not written (the disk was behind)",
                self.name
            );
        }
    }
}

/// Until the `Lines` is dropped and all it holds is written.
fn write_all(name: String, sink: Sink, out: Box<dyn Write + Send>, shared: Arc<Shared>) {
    let mut out = BufWriter::with_capacity(BATCH, out);
    let mut failed = false;
    let mut report = |e: std::io::Error| {
        if !std::mem::replace(&mut failed, true) {
            tracing::error!("{name}: cannot write: {e}");
        }
    };
    loop {
        let (buf, reopen, flushed) = {
            let mut pending = shared.lock();
            let deadline = Instant::now() + PERIOD;
            while pending.buf.len() < BATCH && !pending.reopen && pending.flushed.is_empty() {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                pending = shared
                    .wake
                    .wait_timeout(pending, left)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
            (
                std::mem::take(&mut pending.buf),
                std::mem::take(&mut pending.reopen),
                std::mem::take(&mut pending.flushed),
            )
        };
        if !buf.is_empty()
            && let Err(e) = out.write_all(&buf).and_then(|()| out.flush())
        {
            report(e);
        }
        if reopen && let Sink::File(open) = &sink {
            match open() {
                Ok(file) => out = BufWriter::with_capacity(BATCH, Box::new(file)),
                // The old file stays: lines keep going somewhere.
                Err(e) => tracing::error!("{name}: cannot reopen: {e}"),
            }
        }
        for done in flushed {
            let _ = done.send(());
        }
        if Arc::strong_count(&shared) == 1 && shared.lock().buf.is_empty() {
            return;
        }
    }
}
