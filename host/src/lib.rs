//! sandserve's host: the native shim that owns the sockets and HTTP/1.1 framing, and
//! runs each request's decision in a fresh WebAssembly sandbox. A request travels:
//!
//! - `accept`     — accepts the connection (capped; paused while `descriptors` are
//!   out), spawns a task for it, where `tls` makes the handshake when serving HTTPS
//!   (`stream`: plain or TLS bytes);
//! - `connection` — frames the raw request head (keep-alive, pipelining, timeouts);
//! - `request`    — checks its message syntax and learns its body length and whether
//!   the connection may stay open (a refused head gets the host's own 4xx, no handler),
//!   and builds the WIT request;
//! - `mount`      — the slot whose prefix is longest takes it (`--mount`; the rest go
//!   to `--handler`'s), and `record` writes its head down (`--record`);
//! - `server`     — `Shared`, what every connection uses: the slot's handler version
//!   live when the request began (`live`) decides it;
//! - `decide`     — that version called (`invoke`: a fresh store (`sandbox`) and
//!   instance of the pre-linked component, of either contract (`contract`), under two
//!   deadlines, the epoch's and the wall clock's, lent the
//!   root (`root`: every file opened confined, and kept for the body)) and its answer
//!   checked (`response`) and its body planned from the files it opened (`plan`);
//! - `send`       — the head and body written out (one write, or sendfile);
//!
//! and back through `connection`, which says `Connection: close` where the protocol
//! requires it, skips the request's body (or closes) and loops for the next request.
//!
//! Beside the path: `engine` configures wasmtime once and prepares components
//! (`cache` keeps them compiled between starts; `bindings` are the WIT's types);
//! `swap` checks a new component against recent traffic (`compare`) before `live`
//! flips to it; `admin` is the Unix-socket channel that asks for swaps, `control` its
//! client (`sandserve swap|rollback|status`), `triggers` SIGHUP and `--watch` (`reload`
//! re-reads the configuration at SIGHUP).
//! `access` writes the access log (through `lines`, as `record` does); `metrics` counts what `admin` serves at `/metrics` (and `--metrics ADDR`).
//! `config` turns the settings into a checked `Config` (`units` reads its values): `layers`
//! merges the command line (`cli`), `SANDSERVE_*` variables and the `--config` file (`file`,
//! whose keys `keys` names);
//! `activate` takes the listening socket from systemd (`LISTEN_FDS`);
//! `logging` writes the server's own messages (tracing, `RUST_LOG`);
//! `shutdown` waits for SIGINT/SIGTERM; `wit` prints the contract for handler authors and
//! `check` runs a handler through a conformance suite, `diff` compares two (`lab`
//! runs handlers outside a server for both), `new` writes a handler project;
//! `syntax` holds the token and whitespace rules the others share.

pub mod accept;
pub mod access;
pub mod activate;
pub mod admin;
pub mod bindings;
pub mod cache;
pub mod check;
pub mod cli;
pub mod compare;
pub mod config;
pub mod connection;
pub mod contract;
pub mod control;
pub mod decide;
pub mod descriptors;
pub mod diff;
pub mod engine;
pub mod file;
pub mod invoke;
pub mod keys;
pub mod lab;
pub mod layers;
pub mod lines;
pub mod live;
pub mod logging;
pub mod metrics;
pub mod mount;
pub mod new;
pub mod plan;
pub mod record;
pub mod reload;
pub mod request;
pub mod response;
pub mod root;
pub mod sandbox;
pub mod send;
pub mod server;
pub mod shutdown;
pub mod stream;
pub mod swap;
pub mod syntax;
pub mod tls;
pub mod triggers;
pub mod units;
pub mod wit;

pub use accept::run;
pub use config::{Args, Cli, Command, Config};
pub use server::Shared;
