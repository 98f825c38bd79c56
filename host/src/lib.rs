//! sandserve's host: the native shim that owns the sockets and HTTP/1.1 framing, and
//! runs each request's decision in a fresh WebAssembly sandbox. Its folders, from the
//! top down — each may use only the folders after it (`tests/layout.rs` checks it):
//!
//! - `dev`      — `build` and `dev`: the handler author's loop, edit to live;
//! - `tools`    — `check`, `diff`, `lab`, `new`, `wit`: for handler authors;
//! - `admin`    — the admin channel and its client;
//! - `server`   — a request's trip: `accept` (capped, one task per connection) →
//!   `connection` (frames the head, loops for keep-alive) → `shared::Shared::respond`
//!   (the slot's live version decides) → `send` (head and body out); and `triggers`
//!   and `reload` (SIGHUP, `--watch`);
//! - `settings` — flags, environment and the `--config` file into one `Config`;
//! - `versions` — the live version of each slot, swaps with their shadow check, mounts;
//! - `sandbox`  — `decide`: the WIT request built, a fresh instance called under its
//!   deadlines (`invoke`), its answer checked (`response`) and its body planned (`plan`)
//!   from the root it was lent (`root`);
//! - `compress` — compressed forms of root files, made once, kept within a budget;
//! - `observe`  — access log, recorded heads, metrics, the server's own messages;
//! - `http`     — the request head's syntax (RFC 9112);
//! - `net`      — streams, TLS, socket activation, shutdown, descriptors.

pub mod admin;
pub mod compress;
pub mod dev;
pub mod http;
pub mod net;
pub mod observe;
pub mod sandbox;
pub mod server;
pub mod settings;
pub mod tools;
pub mod versions;

pub use server::accept::run;
pub use server::shared::Shared;
pub use settings::config::{Args, Cli, Command, Config};
