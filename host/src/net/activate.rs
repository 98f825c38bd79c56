//! Socket activation: the listening socket systemd passes (`sd_listen_fds(3)`), taken
//! instead of binding `--listen`. systemd sets `LISTEN_PID` to our pid and
//! `LISTEN_FDS` to how many sockets follow fd 3; variables meant for another process
//! (a different pid: inherited through a shell) are ignored.

use std::net::TcpListener;
use std::os::fd::{FromRawFd, RawFd};

use anyhow::{Context, Result, bail};

/// The first fd systemd passes.
const START: RawFd = 3;

/// The socket systemd passed us, if it passed one; an error if it passed what we cannot
/// serve on (more than one socket, or not a listening TCP socket).
pub fn listener() -> Result<Option<TcpListener>> {
    let ours = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|pid| pid.trim().parse::<u32>().ok())
        == Some(std::process::id());
    if !ours {
        return Ok(None);
    }
    let count = std::env::var("LISTEN_FDS").unwrap_or_default();
    match count.trim() {
        "" | "0" => return Ok(None),
        "1" => {}
        n => bail!("LISTEN_FDS={n}: sandserve serves one socket (one ListenStream=)"),
    }
    // SAFETY: systemd hands fd 3 to this process to own; nothing else in it uses fd 3
    // (the process has opened nothing yet but its standard streams).
    let listener = unsafe { TcpListener::from_raw_fd(START) };
    let addr = listener
        .local_addr()
        .context("LISTEN_FDS=1: fd 3 is not a TCP socket (ListenStream= an address:port)")?;
    // Not a listening socket, or not a stream one: accept would fail at each request.
    let listening = rustix::net::sockopt::socket_acceptconn(&listener).unwrap_or(false);
    if !listening {
        bail!("LISTEN_FDS=1: fd 3 ({addr}) is not a listening socket");
    }
    // Not inherited by anything we might start, and tokio wants it non-blocking.
    rustix::io::fcntl_setfd(&listener, rustix::io::FdFlags::CLOEXEC)
        .context("LISTEN_FDS=1: cannot set close-on-exec on fd 3")?;
    listener
        .set_nonblocking(true)
        .context("LISTEN_FDS=1: cannot make fd 3 non-blocking")?;
    Ok(Some(listener))
}
