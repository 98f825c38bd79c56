//! One request in the sandbox: a fresh store with the root lent to it (and, for a
//! handler that imports WASI, a read-only preopen of it), a memory cap and a deadline;
//! an instance of the given pre-linked handler; one `handle` call. Which handler
//! version that is, is `live`'s business.
//!
//! By default every request gets its own instance. `--reuse-instances N` (opt-in) lets
//! an instance serve up to N requests one after the other; what can then leak from one
//! request to the next is spelled out on `Invoker::call`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use cap_std::fs::Dir;
use wasmtime::component::ResourceTable;
use wasmtime::{Store, StoreLimitsBuilder, UpdateDeadline};
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use crate::bindings::wit;
use crate::contract::{Instance, Pre};
use crate::engine::{EPOCH_TICK, Engine};
use crate::root::{Lent, Opened};
use crate::sandbox::Sandbox;

/// An instance kept for further requests (`--reuse-instances` above 1).
struct Warm {
    store: Store<Sandbox>,
    instance: Instance,
    uses: u32,
}

/// Most idle instances kept for reuse; more are dropped.
const MAX_IDLE: usize = 64;

/// One pre-linked handler component, and (with reuse) its idle instances.
pub struct Handler {
    pre: Pre,
    idle: Mutex<Vec<Warm>>,
}

impl Handler {
    pub fn new(pre: Pre) -> Handler {
        Handler {
            pre,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// The contract it was built against (`0.3.0`, `0.2.0`).
    pub fn contract(&self) -> &'static str {
        self.pre.version()
    }

    /// Whether it imports WASI.
    pub fn imports_wasi(&self) -> bool {
        self.pre.wasi
    }

    /// Drops the idle instances (a version that stops serving holds none).
    pub fn clear_idle(&self) {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

/// Runs requests through instances of handlers, all on one engine.
pub struct Invoker {
    engine: Arc<Engine>,
    /// For the WASI preopen, which opens it anew for every store that has one.
    root: PathBuf,
    /// The root every request's `root` import resolves below.
    dir: Arc<Dir>,
    deadline_ticks: u64,
    memory_limit: usize,
    /// Requests one instance may serve: 1 is a fresh instance for every request.
    reuse: u32,
}

impl Invoker {
    pub fn new(
        engine: Arc<Engine>,
        root: PathBuf,
        dir: Arc<Dir>,
        timeout: Duration,
        memory_limit: usize,
        reuse: u32,
    ) -> Invoker {
        let deadline_ticks = timeout.as_nanos().div_ceil(EPOCH_TICK.as_nanos()).max(1) as u64;
        Invoker {
            engine,
            root,
            dir,
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
    /// An instance whose call failed or trapped is dropped, never reused. Files the
    /// call opened through `root` are never kept past it: they come back with the
    /// answer, for its body.
    pub async fn call(
        &self,
        handler: &Handler,
        request: &wit::Request,
    ) -> Result<(wit::Response, Vec<Opened>)> {
        let warm = if self.reuse > 1 {
            handler.idle.lock().unwrap_or_else(|e| e.into_inner()).pop()
        } else {
            None
        };
        let mut warm = match warm {
            Some(warm) => warm,
            None => {
                let mut store = self.store(handler)?;
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
            .handle(&mut warm.store, request)
            .await
            .map_err(one_line)?;
        let opened = warm.store.data_mut().root.take();
        warm.uses += 1;
        if warm.uses < self.reuse {
            let mut idle = handler.idle.lock().unwrap_or_else(|e| e.into_inner());
            if idle.len() < MAX_IDLE {
                idle.push(warm);
            }
        }
        Ok((response, opened))
    }

    /// A fresh instance of the handler in `store` (public for the benchmarks).
    pub async fn instantiate(
        &self,
        handler: &Handler,
        store: &mut Store<Sandbox>,
    ) -> Result<Instance> {
        handler
            .pre
            .instantiate(store)
            .await
            .map_err(anyhow::Error::from)
            .context("cannot instantiate the handler")
    }

    /// The engine the handler runs on (public for the benchmarks).
    pub fn engine(&self) -> &wasmtime::Engine {
        &self.engine.engine
    }

    /// A fresh store for `handler`: the root lent; WASI with only the root, read-only,
    /// if it imports WASI; limits; a deadline.
    pub fn store(&self, handler: &Handler) -> Result<Store<Sandbox>> {
        let wasi = if handler.pre.wasi {
            Some(self.wasi()?)
        } else {
            None
        };
        let limits = StoreLimitsBuilder::new()
            .memory_size(self.memory_limit)
            .trap_on_grow_failure(true)
            .build();
        let mut store = Store::new(
            &self.engine.engine,
            Sandbox {
                root: Lent::new(self.dir.clone()),
                wasi,
                table: ResourceTable::new(),
                limits,
                ticks: 0,
            },
        );
        store.limiter(|sandbox| &mut sandbox.limits);
        // From the second epoch tick the guest is still running, it yields to the
        // executor at every tick, so a guest that loops holds its worker thread for at
        // most two ticks at a time; once its time is up, it is interrupted (a trap, so a
        // 500). Not at the first: a call that merely straddles a tick (a Python
        // handler's 3 ms do, one in three) would yield too, and the worker would start
        // the next request's instance meanwhile — in-flight instances, each with its
        // own dirtied memory, would pile up to the number of connections.
        let budget = self.deadline_ticks;
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |mut store| {
            let ticks = &mut store.data_mut().ticks;
            *ticks += 1;
            Ok(if *ticks >= budget {
                UpdateDeadline::Interrupt
            } else if *ticks == 1 {
                UpdateDeadline::Continue(1)
            } else {
                UpdateDeadline::Yield(1)
            })
        });
        Ok(store)
    }
}

impl Invoker {
    /// A WASI context that grants the root read-only and nothing else.
    fn wasi(&self) -> Result<wasmtime_wasi::WasiCtx> {
        // Guest file calls are metadata lookups of files that are almost always cached:
        // running them inline is several times faster than a trip through spawn_blocking.
        // It must be set before the preopen, which captures it.
        Ok(WasiCtxBuilder::new()
            .allow_blocking_current_thread(true)
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .preopened_dir(&self.root, "/", FsPerms::ReadOnly)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("cannot open the root {}", self.root.display()))?
            .build())
    }
}

/// A failed call as one log line: what went wrong (`interrupt` for a deadline,
/// `unreachable` for a panic, the refused memory growth) without the wasm backtrace
/// that wasmtime puts in front of it over several lines; the trap kept for the metrics.
fn one_line(error: wasmtime::Error) -> anyhow::Error {
    let trap = error.downcast_ref::<wasmtime::Trap>().copied();
    let text = match trap {
        Some(trap) => format!("the handler failed: {trap}"),
        None => format!("the handler failed: {}", error.root_cause()),
    };
    anyhow::Error::new(CallFailed { trap, text })
}

/// A handler call that failed: its one-line account, and the trap if it was one
/// (`Trap::Interrupt`: stopped at its deadline).
#[derive(Debug)]
pub struct CallFailed {
    pub trap: Option<wasmtime::Trap>,
    text: String,
}

impl std::fmt::Display for CallFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::error::Error for CallFailed {}

#[cfg(test)]
mod tests {
    use super::*;

    /// A handler without WASI imports gets a store without a WASI context; one with
    /// them gets one.
    #[test]
    fn wasi_only_for_handlers_that_import_it() {
        let engine = Arc::new(Engine::new(64 << 20, None).unwrap());
        let root = std::env::temp_dir();
        let dir = Dir::open_ambient_dir(&root, cap_std::ambient_authority()).unwrap();
        let invoker = Invoker::new(
            engine.clone(),
            root,
            Arc::new(dir),
            Duration::from_secs(1),
            64 << 20,
            1,
        );
        let bare = Handler::new(engine.prepare(crate::engine::BUILT_IN_HANDLER).unwrap().0);
        assert!(invoker.store(&bare).unwrap().data().wasi.is_none());
        let naive = include_bytes!(env!("SANDSERVE_NAIVE_WASM"));
        let wasi = Handler::new(engine.prepare(naive).unwrap().0);
        assert!(invoker.store(&wasi).unwrap().data().wasi.is_some());
    }
}
