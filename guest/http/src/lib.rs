//! The built-in handler's logic as a `wasi:http/proxy` component: the same decisions
//! as under sandserve (ETag, ranges, precompressed siblings, listings, error pages) on
//! any engine that runs the standard world (`wasmtime serve`, Spin, wasmCloud).
//! Built for `wasm32-wasip2` by `guest/build-handlers` into
//! `target/handlers/sandserve-http.wasm`.
//!
//! - `settings`  — the policy, from the engine's environment variables (`SANDSERVE_*`).
//! - `head`      — the engine's request as the raw head the core reads, and the core's
//!   response head as a status and the fields the engine may carry.
//! - `root`      — the root the engine preopened at `/`, each file opened once (read-only)
//!   for both its metadata and its body.
//! - `component` — the glue: calls the core with that root, and streams file bodies by
//!   splicing.

pub mod head;
pub mod settings;

#[cfg(target_arch = "wasm32")]
mod component;
#[cfg(target_arch = "wasm32")]
mod root;
