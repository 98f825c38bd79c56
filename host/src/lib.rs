//! sandserve's host: the native shim that owns the sockets and runs each request's
//! decision in a fresh WebAssembly sandbox. A request travels:
//!
//! - `server`     — accepts the connection (capped), spawns a task for it;
//! - `connection` — frames the raw request head (keep-alive, pipelining, timeouts);
//! - `request`    — checks its message syntax and learns its body length and whether
//!   the connection may stay open (a refused head gets the host's own 4xx, no handler);
//! - `convert`    — wraps the head and peer into the WIT request;
//! - `invoke`     — a fresh store and instance of the handler, one `handle` call;
//!   (`engine` compiled — or `cache` loaded — and linked that handler once, at start)
//! - `convert`    — checks the guest's response head and body against the request;
//! - `body`       — opens the named files confined to the root and streams them;
//!
//! and back out through `connection`, which says `Connection: close` where the protocol
//! requires it, skips the request's body (or closes) and loops for the next request.
//! `config` turns the command line into a checked `Config`; `shutdown` waits for
//! SIGINT/SIGTERM; `syntax` holds the token and whitespace rules the others share.

pub mod body;
pub mod cache;
pub mod config;
pub mod connection;
pub mod convert;
pub mod engine;
pub mod invoke;
pub mod request;
pub mod server;
pub mod shutdown;
pub mod syntax;

pub use config::{Args, Config};
pub use server::{Shared, run};
