//! The shutdown signal: the first SIGINT or SIGTERM.

use anyhow::Result;
use tokio::signal::unix::{SignalKind, signal};

/// A future that completes on SIGINT or SIGTERM. Listening starts when this is called,
/// so a signal that arrives while the server starts is not lost.
pub fn signal_received() -> Result<impl std::future::Future<Output = ()>> {
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}
