//! The running server: what every connection shares (`shared::Shared`), the accept
//! loop (`accept`), each connection's loop of frame, decide and answer
//! (`connection`, `send`) — or, for HTTP/2, each connection's streams (`h2`) — and the
//! signals and file watches that reload or swap
//! (`triggers`, `reload`). May use everything below it: settings, versions, sandbox,
//! observe, http, net.

pub mod accept;
pub mod connection;
pub mod h2;
pub mod reload;
pub mod send;
pub mod shared;
pub mod triggers;
