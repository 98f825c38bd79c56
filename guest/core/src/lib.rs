//! The sandserve request logic: one raw request head in, one response decision out.
//!
//! Plain Rust with no WIT and no wasm-only dependency, tested natively (`cargo test -p
//! sandserve-core`). Two thin crates beside it make it a component: `guest/world` (the
//! built-in handler, of the `sandserve` world, reading the root through the host's
//! `root` import) and `guest/http` (a `wasi:http` proxy, for other engines). A request
//! moves through:
//!
//! - `handler`   — the pipeline: parse → method → target → policy → resolve → respond.
//! - `request`   — the request line and header section (RFC 9112).
//! - `target`    — the request-target: its forms, the query, percent-decoding once.
//! - `policy`    — the server operator's rules: User-Agent length, dotfiles.
//! - `resolve`   — a decoded path to a file of the root: index files, redirects.
//! - `conditional` — ETag and Last-Modified; If-Match, If-None-Match and the dates.
//! - `range`     — `Range: bytes=…`: the parts of a file to send, coalesced and capped.
//! - `encoding`  — Accept-Encoding: which precompressed sibling (`.br`, `.zst`, `.gz`).
//! - `listing`   — directory listings, HTML or JSON (`--list-dirs`).
//! - `root`      — the handler's read-only view of the served root (a trait; a
//!   directory natively and under WASI).
//! - `mime`      — file name → Content-Type.
//! - `respond`   — a decision to response head bytes and a body.
//! - `error`     — every way a request fails, each with one status.

pub mod conditional;
pub mod encoding;
pub mod error;
pub mod handler;
pub mod listing;
pub mod mime;
pub mod policy;
pub mod range;
pub mod request;
pub mod resolve;
pub mod respond;
pub mod root;
pub mod target;

pub use handler::handle;
pub use policy::Policy;
pub use respond::{Body, Chunk, FileRange, Response};
pub use root::{DirRoot, Root};
