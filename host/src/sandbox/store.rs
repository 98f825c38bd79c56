//! What one instance's store holds: the root lent to its request, its limits, the
//! ticks its call has run, and WASI — only for handlers that import it.

use wasmtime::StoreLimits;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::sandbox::output::Captured;
use crate::sandbox::root::Lent;

pub struct Sandbox {
    /// The `root` import's state for this request.
    pub root: Lent,
    /// `None` for a handler that imports no WASI: it is never asked for (see `ctx`).
    pub wasi: Option<WasiCtx>,
    /// Where its stdout and stderr go with `--handler-output` (else nowhere).
    pub output: Option<Captured>,
    pub table: ResourceTable,
    pub limits: StoreLimits,
    /// Epoch ticks the current call has run for.
    pub ticks: u64,
    /// A synchronous instantiation is running (it cannot yield at a tick).
    pub starting: bool,
}

impl WasiView for Sandbox {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        // Only a component with WASI imports calls WASI, and its store was given a
        // context; should that ever not hold, an empty context (no files, no network,
        // no environment) grants nothing.
        let ctx = self
            .wasi
            .get_or_insert_with(|| WasiCtxBuilder::new().build());
        WasiCtxView {
            ctx,
            table: &mut self.table,
        }
    }
}
