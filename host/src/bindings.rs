//! The Rust types wasmtime generates from `wit/`: the `sandserve` world and the values
//! of its `handler` interface. Every other module imports them from here, so the
//! bindings sit at the bottom of the host's imports.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "sandserve",
    exports: { default: async },
});

/// The generated types of the `handler` interface.
pub use exports::sandserve::server::handler as wit;
