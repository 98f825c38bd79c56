//! One request in the sandbox: a fresh store with a read-only preopen of the root, a
//! memory cap and a deadline; an instance of the given pre-linked handler; one `handle`
//! call. Which handler version that is, is `live`'s business.
//!
//! By default every request gets its own instance. `--reuse-instances N` (opt-in) lets
//! an instance serve up to N requests one after the other; what can then leak from one
//! request to the next is spelled out on `Invoker::call`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use wasmtime::component::ResourceTable;
use wasmtime::{Store, StoreLimitsBuilder, UpdateDeadline};
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use crate::bindings::{Sandserve, SandservePre, wit};
use crate::engine::{EPOCH_TICK, Engine, Sandbox};

/// An instance kept for further requests (`--reuse-instances` above 1).
struct Warm {
    store: Store<Sandbox>,
    instance: Sandserve,
    uses: u32,
}

/// Most idle instances kept for reuse; more are dropped.
const MAX_IDLE: usize = 64;

/// One pre-linked handler component, and (with reuse) its idle instances.
pub struct Handler {
    pre: SandservePre<Sandbox>,
    idle: Mutex<Vec<Warm>>,
}

impl Handler {
    pub fn new(pre: SandservePre<Sandbox>) -> Handler {
        Handler {
            pre,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Drops the idle instances (a version that stops serving holds none).
    pub fn clear_idle(&self) {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

/// Runs requests through instances of handlers, all on one engine.
pub struct Invoker {
    engine: Arc<Engine>,
    root: PathBuf,
    deadline_ticks: u64,
    memory_limit: usize,
    /// Requests one instance may serve: 1 is a fresh instance for every request.
    reuse: u32,
}

impl Invoker {
    pub fn new(
        engine: Arc<Engine>,
        root: PathBuf,
        timeout: Duration,
        memory_limit: usize,
        reuse: u32,
    ) -> Invoker {
        let deadline_ticks = timeout.as_nanos().div_ceil(EPOCH_TICK.as_nanos()).max(1) as u64;
        Invoker {
            engine,
            root,
            deadline_ticks,
            memory_limit,
            reuse: reuse.max(1),
        }
    }

    /// Calls the handler once. By default in an instance nobody else has seen or will
    /// see. With reuse, the instance may have served earlier requests and may serve
    /// later ones, so these can leak between requests: everything in the instance's
    /// linear memory (its heap, including freed buffers that held earlier request
    /// heads; its globals and statics), WASI resources the guest left open, and the
    /// position in WASI's random streams. Never shared: instances themselves (one
    /// request at a time), the deadline (per call) and the memory cap (per instance).
    /// An instance whose call failed or trapped is dropped, never reused.
    pub async fn call(&self, handler: &Handler, request: &wit::Request) -> Result<wit::Response> {
        let warm = if self.reuse > 1 {
            handler.idle.lock().unwrap_or_else(|e| e.into_inner()).pop()
        } else {
            None
        };
        let mut warm = match warm {
            Some(warm) => warm,
            None => {
                let mut store = self.store()?;
                let instance = self.instantiate(handler, &mut store).await?;
                Warm {
                    store,
                    instance,
                    uses: 0,
                }
            }
        };
        warm.store.data_mut().ticks = 0;
        warm.store.set_epoch_deadline(1);
        let response = warm
            .instance
            .sandserve_server_handler()
            .call_handle(&mut warm.store, request)
            .await
            .map_err(one_line)?;
        warm.uses += 1;
        if warm.uses < self.reuse {
            let mut idle = handler.idle.lock().unwrap_or_else(|e| e.into_inner());
            if idle.len() < MAX_IDLE {
                idle.push(warm);
            }
        }
        Ok(response)
    }

    /// A fresh instance of the handler in `store` (public for the benchmarks).
    pub async fn instantiate(
        &self,
        handler: &Handler,
        store: &mut Store<Sandbox>,
    ) -> Result<Sandserve> {
        handler
            .pre
            .instantiate_async(store)
            .await
            .map_err(anyhow::Error::from)
            .context("cannot instantiate the handler")
    }

    /// The engine the handler runs on (public for the benchmarks).
    pub fn engine(&self) -> &wasmtime::Engine {
        &self.engine.engine
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
            &self.engine.engine,
            Sandbox {
                wasi,
                table: ResourceTable::new(),
                limits,
                ticks: 0,
            },
        );
        store.limiter(|sandbox| &mut sandbox.limits);
        // At every epoch tick the guest is still running, it yields to the executor, so
        // a guest that loops does not hold its worker thread; once its time is up, it
        // is interrupted (a trap, so a 500).
        let budget = self.deadline_ticks;
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |mut store| {
            let ticks = &mut store.data_mut().ticks;
            *ticks += 1;
            Ok(if *ticks >= budget {
                UpdateDeadline::Interrupt
            } else {
                UpdateDeadline::Yield(1)
            })
        });
        Ok(store)
    }
}

/// A failed call as one log line: what went wrong (`interrupt` for a deadline,
/// `unreachable` for a panic, the refused memory growth) without the wasm backtrace
/// that wasmtime puts in front of it over several lines.
fn one_line(error: wasmtime::Error) -> anyhow::Error {
    match error.downcast_ref::<wasmtime::Trap>() {
        Some(trap) => anyhow::anyhow!("the handler failed: {trap}"),
        None => anyhow::anyhow!("the handler failed: {}", error.root_cause()),
    }
}
