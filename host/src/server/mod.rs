//! The running server: what every connection shares (`shared::Shared`), the accept
//! loop (`accept`), each connection's loop of frame, decide and answer
//! (`connection`, `send`), and the signals and file watches that reload or swap
//! (`triggers`, `reload`). May use everything below it: settings, versions, sandbox,
//! observe, http, net.

pub mod accept;
pub mod connection;
pub mod reload;
pub mod send;
pub mod shared;
pub mod triggers;
