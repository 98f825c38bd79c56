//! The built-in handler: `sandserve-core`'s logic as a component of the `sandserve`
//! world. Built for `wasm32-unknown-unknown` (whose std makes no system calls) and made
//! a component by `host/build.rs`, which embeds it in the binary; it imports only the
//! host's `root`.
//!
//! - `component` — the only module that sees the generated WIT bindings; converts.
//! - `arena`     — the allocator: the instance's initial memory, then dlmalloc.

// Only where std's allocator grows the memory itself (dlmalloc on unknown-unknown);
// under wasi-libc, malloc already owns the initial memory.
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
mod arena;
#[cfg(target_arch = "wasm32")]
mod component;
