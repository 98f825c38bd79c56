//! Signals besides shutdown: SIGUSR1 reopens `--access-log-file` (rotation). SIGHUP
//! re-reads the `--config` file (`reload`). And the other ways a swap starts, on the
//! same checked path: SIGHUP re-reads the `--handler` and `--mount` files, and `--watch` swaps when one of them changes (each
//! into its own slot). A watched file is
//! polled by its metadata (device, inode, size, modification time), so an editor's or
//! a build's atomic rename is seen like a write; a change is acted on once the file has
//! stood still for one more poll, so a half-written file is not taken.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::server::reload::Reloader;
use crate::server::shared::Shared;

const POLL: Duration = Duration::from_millis(250);

/// Starts listening for SIGHUP; from then on it no longer ends the process. Call it
/// before the server says it is serving, so that no early signal is lost or fatal.
pub fn hangups() -> std::io::Result<Signal> {
    signal(SignalKind::hangup())
}

/// Starts listening for SIGUSR1 (before serving, as `hangups`).
pub fn user1() -> std::io::Result<Signal> {
    signal(SignalKind::user_defined1())
}

/// Reopens the access-log file at every SIGUSR1: lines logged before the signal are in
/// the old file (renamed by the rotator), those after in the new one; none is lost.
pub async fn on_sigusr1(shared: Arc<Shared>, mut user1: Signal) {
    while user1.recv().await.is_some() {
        shared.access_log().reopen();
    }
}

/// At every SIGHUP, until the server ends: with `--config`, re-reads the settings and
/// applies what can change live (`reload`); then swaps in each slot's file (a file that
/// did not change is reported `unchanged`). A configuration that does not check stops
/// there: nothing of it is applied, no handler swapped.
pub async fn on_sighup(shared: Arc<Shared>, mut hangups: Signal, reloader: Option<Reloader>) {
    while hangups.recv().await.is_some() {
        let mut handler = None;
        if let Some(reloader) = &reloader {
            // Files are read and an old access log flushed (a second at most): off the
            // runtime's workers' async duty while it lasts.
            match tokio::task::block_in_place(|| reloader.reload(&shared)) {
                Ok(done) => {
                    let list = |names: &[String]| match names {
                        [] => "nothing".to_owned(),
                        names => names.join(", "),
                    };
                    tracing::info!(
                        "SIGHUP: configuration re-read; applied: {}; needs a restart: {}",
                        list(&done.applied),
                        list(&done.restart)
                    );
                    if let Some(cert) = &done.certificate {
                        tracing::info!("SIGHUP: TLS certificate re-read from {}", cert.display());
                    }
                    handler = done.handler;
                }
                Err(e) => {
                    tracing::warn!(
                        "SIGHUP: {}; nothing changed",
                        crate::versions::compare::one_line(&e)
                    );
                    continue;
                }
            }
        }
        if let (None, Some(tls)) = (&reloader, &shared.tls) {
            match tls.reload() {
                Ok(()) => tracing::info!(
                    "SIGHUP: TLS certificate re-read from {}",
                    tls.files().0.display()
                ),
                Err(e) => tracing::warn!(
                    "SIGHUP: {}; the old certificate stays",
                    crate::versions::compare::one_line(&e)
                ),
            }
        }
        let mut any = false;
        for slot in shared.mounts.all() {
            if let (None, Some(path)) = (&slot.prefix, &handler) {
                // From now on this is the slot's file, for `--watch` too.
                slot.set_file(path.clone());
            }
            if let Some(path) = slot.file() {
                any = true;
                shared
                    .swap(slot.prefix.as_deref(), &path, false, true)
                    .await;
            }
        }
        if !any && reloader.is_none() && shared.tls.is_none() {
            tracing::warn!("SIGHUP: the built-in handler has no file to re-read");
        }
    }
}

/// Swaps the file of the slot of `mount` (`None`: `--handler`'s) into it whenever the
/// file changes and then stands still — the file the configuration names now: after a
/// SIGHUP that named another, the old one is no longer watched. `seen`: the stamp of
/// `path`, the slot's file at start, taken before the server first read it, so that a
/// change in between is not missed.
pub async fn watch(
    shared: Arc<Shared>,
    mount: Option<String>,
    mut path: PathBuf,
    mut seen: Option<Stamp>,
) {
    let mut pending = None;
    loop {
        tokio::time::sleep(POLL).await;
        let Some(slot) = shared.mounts.slot(mount.as_deref()) else {
            return;
        };
        match slot.file() {
            Some(now) if now != path => {
                // SIGHUP swapped the new file in as it named it: watch it from here.
                seen = stamp(&now);
                path = now;
                pending = None;
                continue;
            }
            Some(_) => {}
            None => return,
        }
        let now = stamp(&path);
        if now == seen {
            if pending.take().is_some() && now.is_some() {
                shared.swap(mount.as_deref(), &path, false, true).await;
            }
            continue;
        }
        seen = now;
        pending = Some(());
    }
}

/// What tells one version of the file from another without reading it: device,
/// inode, size and modification time.
pub type Stamp = (u64, u64, u64, i64, i64);

pub fn stamp(path: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    Some((
        meta.dev(),
        meta.ino(),
        meta.size(),
        meta.mtime(),
        meta.mtime_nsec(),
    ))
}
