//! The Rust types wasmtime generates from `wit/`: the `sandserve` world of the current
//! contract (0.5.0: `root` imported or looked at, `handler` exported) and of the frozen
//! 0.4.0, 0.3.0 and 0.2.0 ones that older handlers were built against. Every other module
//! imports them from here, so the bindings sit at the bottom of the host's imports.

/// `sandserve:server@0.5.0`, the contract the host speaks natively.
pub mod v5 {
    wasmtime::component::bindgen!({
        path: "../wit/sandserve.wit",
        world: "sandserve",
        exports: { default: async },
        // To find a look among those already made.
        additional_derives: [PartialEq],
    });
}

/// `sandserve:server@0.4.0`: looks, but no compressed forms.
pub mod v4 {
    wasmtime::component::bindgen!({
        path: "../wit/compat/sandserve@0.4.0.wit",
        world: "sandserve",
        exports: { default: async },
    });
}

/// `sandserve:server@0.3.0`: `root` imported, `handle` answers a response in one call.
pub mod v3 {
    wasmtime::component::bindgen!({
        path: "../wit/compat/sandserve@0.3.0.wit",
        world: "sandserve",
        exports: { default: async },
    });
}

/// `sandserve:server@0.2.0`: no imports of ours, the handler's types in `handler`.
pub mod v2 {
    wasmtime::component::bindgen!({
        path: "../wit/compat/sandserve@0.2.0.wit",
        world: "sandserve",
        exports: { default: async },
    });
}

/// The generated types of the current contract's `types` interface.
pub use v5::sandserve::server::types as wit;

/// The generated `root` import of the current contract.
pub use v5::sandserve::server::root as wit_root;

/// The generated `handler` export of the current contract (`answer`).
pub use v5::exports::sandserve::server::handler as wit_handler;
