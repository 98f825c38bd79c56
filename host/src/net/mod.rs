//! The bytes on the wire, below HTTP: a connection's stream (plain TCP or TLS), the TLS
//! handshake and certificate, the socket systemd passes, the shutdown signal, and the
//! process's file descriptors as a budget. Uses nothing else of the crate.

pub mod activate;
pub mod descriptors;
pub mod shutdown;
pub mod stream;
pub mod tls;
