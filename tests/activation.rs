//! Socket activation over the real binary: a listening socket passed as fd 3 with
//! `LISTEN_PID`/`LISTEN_FDS` (as systemd passes it) is served instead of `--listen`;
//! variables meant for another pid are ignored; more than one socket, or fd 3 not a
//! listening socket, is a one-line refusal.

mod common;

use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::process::Command;

use common::{BIN, Server, site};

/// `sandserve ARGS` run as systemd would run it: fd `fd` of ours as its fd 3, and
/// `LISTEN_PID` its own pid (set by the shell that then becomes it), `LISTEN_FDS`
/// `count`.
fn activated(fd: i32, count: &str, args: &[&str]) -> Command {
    let mut command = Command::new("bash");
    command
        .arg("-c")
        .arg(format!(
            "exec 3<&{fd}; LISTEN_PID=$$ LISTEN_FDS={count} exec \"$0\" \"$@\""
        ))
        .arg(BIN)
        .args(args);
    command
}

/// A listening socket whose fd a child inherits.
fn inheritable_listener() -> TcpListener {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    rustix::io::fcntl_setfd(&listener, rustix::io::FdFlags::empty()).unwrap();
    listener
}

#[test]
fn the_socket_systemd_passes_is_served() {
    let site = site();
    let listener = inheritable_listener();
    let addr = listener.local_addr().unwrap();
    let root = site.root.to_str().unwrap();
    // --listen names another port: the passed socket wins.
    let args = ["--root", root, "--listen", "127.0.0.1:1", "--quiet"];
    let command = activated(listener.as_raw_fd(), "1", &args);
    let server = Server::spawn(command, &site.root);
    assert_eq!(server.addr, addr, "serves the socket it was given");
    drop(listener);
    assert_eq!(server.get("/a.txt").body, b"hello from a\n");
}

#[test]
fn variables_for_another_process_are_ignored() {
    let site = site();
    let mut command = Command::new(BIN);
    command
        .args([
            "--root",
            site.root.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ])
        .env("LISTEN_PID", "1")
        .env("LISTEN_FDS", "1");
    let server = Server::spawn(command, &site.root);
    assert_eq!(server.get("/a.txt").status, 200);
}

#[test]
fn what_cannot_be_served_is_refused_in_one_line() {
    let site = site();
    let root = site.root.to_str().unwrap();
    let listener = inheritable_listener();
    let two = activated(listener.as_raw_fd(), "2", &["--root", root])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&two.stderr);
    assert_eq!(two.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("LISTEN_FDS=2: sandserve serves one socket"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    // fd 3 a bound but not listening UDP socket.
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    rustix::io::fcntl_setfd(&udp, rustix::io::FdFlags::empty()).unwrap();
    let out = activated(udp.as_raw_fd(), "1", &["--root", root])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("is not a listening socket"), "{stderr}");
}
