//! A file of lines written off the request path, for `record` and `access`: lines go
//! through a bounded queue to a thread of their own, which writes them in batches and
//! flushes whenever the queue runs dry; when the queue is full a line is dropped and
//! counted (the count logged at powers of two). The file can be reopened by path in
//! the queue's order (log rotation: every line queued before the reopen goes to the
//! old file, every line after to the new one), and flushed at shutdown, bounded.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// Lines waiting for the writer; beyond this they are dropped.
const QUEUE: usize = 16 * 1024;

/// Where lines go: a file that `open` (re)opens, or standard error.
pub enum Sink {
    File(Box<dyn Fn() -> std::io::Result<File> + Send>),
    Stderr,
}

enum Message {
    Line(Vec<u8>),
    /// Flush, then say so.
    Flush(SyncSender<()>),
    /// Flush and open the file again.
    Reopen,
}

pub struct Lines {
    queue: SyncSender<Message>,
    dropped: AtomicU64,
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
        let (queue, incoming) = sync_channel(QUEUE);
        let thread_name = name.clone();
        std::thread::Builder::new()
            .name("sandserve-lines".into())
            .spawn(move || write_all(thread_name, sink, BufWriter::new(out), incoming))
            .context("cannot start a writer thread")?;
        Ok(Lines {
            queue,
            dropped: AtomicU64::new(0),
            name,
        })
    }

    /// Queues one line (with its newline); never waits.
    pub fn push(&self, line: Vec<u8>) {
        if let Err(TrySendError::Full(_)) = self.queue.try_send(Message::Line(line)) {
            let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if dropped.is_power_of_two() {
                eprintln!(
                    "sandserve: {}: the disk is behind; {dropped} lines not written",
                    self.name
                );
            }
        }
    }

    /// Reopens the file after the lines queued so far (for rotation).
    pub fn reopen(&self) {
        // Waits for room: a reopen must not be dropped like a line.
        let _ = self.queue.send(Message::Reopen);
    }

    /// Waits, a second at most whatever the disk does, until every line queued so far
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
                "sandserve: {}: {dropped} lines were not written (the disk was behind)",
                self.name
            );
        }
    }
}

fn write_all(
    name: String,
    sink: Sink,
    mut out: BufWriter<Box<dyn Write + Send>>,
    incoming: Receiver<Message>,
) {
    let mut failed = false;
    let mut report = |e: std::io::Error| {
        if !std::mem::replace(&mut failed, true) {
            eprintln!("sandserve: {name}: cannot write: {e}");
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
                Message::Reopen => {
                    if let Err(e) = out.flush() {
                        report(e);
                    }
                    if let Sink::File(open) = &sink {
                        match open() {
                            Ok(file) => out = BufWriter::new(Box::new(file)),
                            // The old file stays: lines keep going somewhere.
                            Err(e) => eprintln!("sandserve: {name}: cannot reopen: {e}"),
                        }
                    }
                }
            }
            next = incoming.try_recv().ok();
        }
        if let Err(e) = out.flush() {
            report(e);
        }
    }
}
