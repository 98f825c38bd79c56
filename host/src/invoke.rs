//! One request in the sandbox: a fresh store with a read-only preopen of the root, a
//! memory cap and a deadline; an instance from the pre-linked handler; one `handle` call.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use wasmtime::component::ResourceTable;
use wasmtime::{Store, StoreLimits, StoreLimitsBuilder, UpdateDeadline};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::engine::{EPOCH_TICK, Handler, Sandserve, wit};

/// What one instance's store holds: its WASI context and its limits.
pub struct Sandbox {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: StoreLimits,
}

impl WasiView for Sandbox {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Runs requests through fresh instances of one handler.
pub struct Invoker {
    handler: Handler,
    root: PathBuf,
    deadline_ticks: u64,
    memory_limit: usize,
}

impl Invoker {
    pub fn new(handler: Handler, root: PathBuf, timeout: Duration, memory_limit: usize) -> Invoker {
        let deadline_ticks = timeout.as_nanos().div_ceil(EPOCH_TICK.as_nanos()).max(1) as u64;
        Invoker {
            handler,
            root,
            deadline_ticks,
            memory_limit,
        }
    }

    /// Calls the handler once, in an instance nobody else has seen or will see.
    pub async fn call(&self, request: &wit::Request) -> Result<wit::Response> {
        let mut store = self.store()?;
        let instance = self.instantiate(&mut store).await?;
        let response = instance
            .sandserve_server_handler()
            .call_handle(&mut store, request)
            .await
            .map_err(anyhow::Error::from)
            .context("the handler failed")?;
        Ok(response)
    }

    /// A fresh instance of the handler in `store` (public for the benchmarks).
    pub async fn instantiate(&self, store: &mut Store<Sandbox>) -> Result<Sandserve> {
        self.handler
            .pre
            .instantiate_async(store)
            .await
            .map_err(anyhow::Error::from)
            .context("cannot instantiate the handler")
    }

    /// A fresh store: WASI with only the root, read-only; limits; a deadline.
    pub fn store(&self) -> Result<Store<Sandbox>> {
        // Guest file calls are metadata lookups of files that are almost always cached:
        // running them inline is several times faster than a trip through spawn_blocking.
        // It must be set before the preopen, which captures it.
        let wasi = WasiCtxBuilder::new()
            .allow_blocking_current_thread(true)
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .preopened_dir(&self.root, "/", FsPerms::ReadOnly)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("cannot open the root {}", self.root.display()))?
            .build();
        let limits = StoreLimitsBuilder::new()
            .memory_size(self.memory_limit)
            .trap_on_grow_failure(true)
            .build();
        let mut store = Store::new(
            &self.handler.engine,
            Sandbox {
                wasi,
                table: ResourceTable::new(),
                limits,
            },
        );
        store.limiter(|sandbox| &mut sandbox.limits);
        // At every epoch tick the guest is still running, it yields to the executor, so
        // a guest that loops does not hold its worker thread; once its time is up, it
        // is interrupted (a trap, so a 500).
        let budget = self.deadline_ticks;
        let mut ticks = 0;
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            ticks += 1;
            Ok(if ticks >= budget {
                UpdateDeadline::Interrupt
            } else {
                UpdateDeadline::Yield(1)
            })
        });
        Ok(store)
    }
}
