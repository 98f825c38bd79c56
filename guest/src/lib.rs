//! The sandserve request handler: one raw request head in, one response decision out.
//!
//! This crate is compiled to a WebAssembly component (`wasm32-unknown-unknown`, made a
//! component by `host/build.rs`; it imports only the host's `root`) that the host
//! instantiates afresh for every request. Everything here except `component` is plain
//! Rust that `cargo test -p sandserve-guest` runs natively. A request moves through:
//!
//! - `component` — the only module that sees the generated WIT bindings; converts.
//! - `handler`   — the pipeline: parse → method → target → policy → resolve → respond.
//! - `request`   — the request line and header section (RFC 9112).
//! - `target`    — the request-target: its forms, the query, percent-decoding once.
//! - `policy`    — the server operator's rules: User-Agent length, dotfiles.
//! - `resolve`   — a decoded path to a file of the root: index files, redirects.
//! - `conditional` — ETag and Last-Modified; If-Match, If-None-Match and the dates.
//! - `range`     — `Range: bytes=…`: the parts of a file to send, coalesced and capped.
//! - `encoding`  — Accept-Encoding: which precompressed sibling (`.br`, `.zst`, `.gz`).
//! - `listing`   — directory listings, HTML or JSON (`--list-dirs`).
//! - `root`      — the handler's read-only view of the served root (the host's `root`).
//! - `arena`     — (in wasm) the allocator: the instance's initial memory, then dlmalloc.
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

// Only where std's allocator grows the memory itself (dlmalloc on unknown-unknown);
// under wasi-libc, malloc already owns the initial memory.
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
mod arena;
#[cfg(target_arch = "wasm32")]
mod component;

pub use handler::handle;
pub use policy::Policy;
pub use respond::{Body, Chunk, FileRange, Response};
pub use root::{DirRoot, Root};
