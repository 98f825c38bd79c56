//! One request in the sandbox: a free instance slot (bounded wait, a quota per handler
//! slot), a fresh store with the root lent to it (and, for a handler that imports WASI,
//! a read-only preopen of it), a memory cap, a cap on WASI resources and two deadlines;
//! an instance of the given pre-linked handler; one `handle` call. Which handler
//! version that is, is `live`'s business.
//!
//! The deadlines: the epoch interrupts wasm that is *running* past `--handler-timeout`
//! (a trap); a wall-clock timeout two epoch ticks later drops the whole call — store,
//! instance, slot — whatever it is awaiting (a sleep, a clock pollable, a read on a
//! blocking thread), which the epoch cannot see.
//!
//! By default every request gets its own instance. `--reuse-instances N` (opt-in) lets
//! an instance serve up to N requests one after the other; what can then leak from one
//! request to the next is spelled out on `Invoker::call`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use cap_std::fs::Dir;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use wasmtime::component::ResourceTable;
use wasmtime::{Store, StoreLimitsBuilder, UpdateDeadline};
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use crate::compress::Forms;
use crate::sandbox::bindings::wit;
use crate::sandbox::contract::{Instance, Pre};
use crate::sandbox::engine::{EPOCH_TICK, Engine};
use crate::sandbox::output::{Captured, Logged};
use crate::sandbox::root::{Lent, Opened};
use crate::sandbox::store::Sandbox;

/// An instance kept for further requests (`--reuse-instances` above 1).
struct Warm {
    store: Store<Sandbox>,
    instance: Instance,
    uses: u32,
    /// Its pooled slot, held while it exists, idle or not.
    _slot: OwnedSemaphorePermit,
}

/// Most idle instances one handler keeps for reuse, and at most an eighth of the pool
/// (each holds a pooled slot that other handlers may be waiting for); more are dropped.
const MAX_IDLE: usize = 64;

/// One pre-linked handler component, and (with reuse) its idle instances.
pub struct Handler {
    pre: Pre,
    idle: Mutex<Vec<Warm>>,
    /// Set while the version is not live: its calls still in flight drop their
    /// instances instead of keeping them idle.
    retired: AtomicBool,
}

impl Handler {
    pub fn new(pre: Pre) -> Handler {
        Handler {
            pre,
            idle: Mutex::new(Vec::new()),
            retired: AtomicBool::new(false),
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

    /// A version that stops serving: its idle instances are dropped, and so are those
    /// its calls in flight finish with (a kept version holds no slots).
    pub fn retire(&self) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        self.retired.store(true, Ordering::Relaxed);
        idle.clear();
    }

    /// A version live again (a rollback): its instances may be kept once more.
    pub fn revive(&self) {
        self.retired.store(false, Ordering::Relaxed);
    }

    /// Instances kept idle (for the tests of `retire`).
    #[cfg(test)]
    pub fn idle_count(&self) -> usize {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Keeps `warm` for the next call, unless the version retired or enough are kept.
    fn keep(&self, warm: Warm, most: usize) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if !self.retired.load(Ordering::Relaxed) && idle.len() < most {
            idle.push(warm);
        }
    }
}

/// What bounds each call, from the command line.
#[derive(Debug, Clone)]
pub struct Bounds {
    /// `--handler-timeout`.
    pub timeout: Duration,
    /// `--handler-memory`: bytes of linear memory per instance.
    pub memory: usize,
    /// `--reuse-instances`: requests one instance may serve (1: always fresh).
    pub reuse: u32,
    /// `--handler-descriptors`: WASI resources one instance may hold at once.
    pub descriptors: usize,
    /// `--instance-wait`: longest wait for a free instance.
    pub instance_wait: Duration,
    /// `--handler-output`: bytes of what one request's handler prints that are logged
    /// (0: none, and WASI's stdout and stderr lead nowhere).
    pub output: usize,
}

impl Bounds {
    /// The defaults of the flags, for the tools and the benchmarks.
    pub fn new(timeout: Duration, memory: usize) -> Bounds {
        Bounds {
            timeout,
            memory,
            reuse: 1,
            descriptors: 128,
            instance_wait: Duration::from_secs(1),
            output: 0,
        }
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
    /// The wall-clock bound of a whole call: the timeout and two ticks, so that code
    /// that is running meets the epoch's trap first.
    wall: Duration,
    bounds: Bounds,
    /// One permit per pooled instance: a call waits here (bounded) instead of failing
    /// to instantiate when every slot of the pool is taken.
    pool: Arc<Semaphore>,
    /// Idle instances one handler may keep (`MAX_IDLE`, or an eighth of the pool).
    idle_most: usize,
    /// The server's compressed forms, lent with the root (`None`: none are made).
    forms: Option<Arc<Forms>>,
}

impl Invoker {
    pub fn new(engine: Arc<Engine>, root: PathBuf, dir: Arc<Dir>, bounds: Bounds) -> Invoker {
        let timeout = bounds.timeout;
        let instances = engine.instances as usize;
        let deadline_ticks = timeout.as_nanos().div_ceil(EPOCH_TICK.as_nanos()).max(1) as u64;
        Invoker {
            engine,
            root,
            dir,
            deadline_ticks,
            wall: timeout + 2 * EPOCH_TICK,
            bounds: Bounds {
                reuse: bounds.reuse.max(1),
                ..bounds
            },
            pool: Arc::new(Semaphore::new(instances)),
            idle_most: MAX_IDLE.min((instances / 8).max(1)),
            forms: None,
        }
    }

    /// Lends every request the server's compressed forms with the root.
    pub fn with_forms(mut self, forms: Option<Arc<Forms>>) -> Invoker {
        self.forms = forms;
        self
    }

    /// Calls the handler once. By default in an instance nobody else has seen or will
    /// see. With reuse, the instance may have served earlier requests and may serve
    /// later ones, so these can leak between requests: everything in the instance's
    /// linear memory (its heap, including freed buffers that held earlier request
    /// heads; its globals and statics), WASI resources the guest left open, and the
    /// position in WASI's random streams. Never shared: instances themselves (one
    /// request at a time), the deadline (per call) and the memory cap (per instance).
    /// An instance whose call failed, trapped or ran out of time is dropped, never
    /// reused. Files the call opened through `root` are never kept past it: they come
    /// back with the answer, for its body.
    /// `quota`: the calling slot's instances in flight (`--slot-instances`).
    pub async fn call(
        &self,
        handler: &Handler,
        quota: &Semaphore,
        request: &wit::Request,
    ) -> Result<(wit::Response, Vec<Opened>)> {
        let waited = Instant::now();
        // Without a wait, no timer: the common case takes its permits at once.
        let _in_flight = match quota.try_acquire() {
            Ok(permit) => permit,
            Err(_) => {
                match tokio::time::timeout(self.bounds.instance_wait, quota.acquire()).await {
                    Ok(Ok(permit)) => permit,
                    _ => {
                        let why = "no handler instance free for this slot".into();
                        return Err(failed(Cause::Busy, why));
                    }
                }
            }
        };
        let warm = if self.bounds.reuse > 1 {
            handler.idle.lock().unwrap_or_else(|e| e.into_inner()).pop()
        } else {
            None
        };
        let slot = match warm {
            Some(_) => None,
            None => Some(self.slot(waited).await?),
        };
        // Taken out before the call, so that what a handler printed is logged however
        // its call ends (a trap's traceback most of all).
        let output = match &warm {
            Some(warm) => warm.store.data().output.clone(),
            None => self.output(handler),
        };
        let _logged = Logged(output.as_ref(), &request.head);
        // Everything the handler can wait on happens in here: dropping it at the wall
        // deadline drops the store, the instance and the slot with it.
        let run = async {
            let mut warm = match (warm, slot) {
                (Some(warm), _) => warm,
                (None, Some(slot)) => {
                    let mut store = self.store_with(handler, output.clone())?;
                    let instance = self.instantiate(handler, &mut store).await?;
                    Warm {
                        store,
                        instance,
                        uses: 0,
                        _slot: slot,
                    }
                }
                (None, None) => unreachable!("a slot is taken whenever no instance is idle"),
            };
            warm.store.data_mut().ticks = 0;
            warm.store.set_epoch_deadline(1);
            let response = warm
                .instance
                .handle(&mut warm.store, request)
                .await
                .map_err(one_line)?;
            anyhow::Ok((warm, response))
        };
        let (mut warm, response) = match tokio::time::timeout(self.wall, run).await {
            Ok(done) => done?,
            Err(_) => {
                let text = format!(
                    "the handler failed: no answer within its deadline ({:?})",
                    self.bounds.timeout
                );
                return Err(failed(Cause::Deadline, text));
            }
        };
        if std::mem::take(&mut warm.store.data_mut().root.starved) {
            return Err(failed(Cause::Busy, "out of file descriptors".into()));
        }
        let opened = warm.store.data_mut().root.take();
        warm.uses += 1;
        if warm.uses < self.bounds.reuse {
            handler.keep(warm, self.idle_most);
        }
        Ok((response, opened))
    }

    /// One of the pool's instance slots, waiting for one until `--instance-wait` after
    /// `since`.
    async fn slot(&self, since: Instant) -> Result<OwnedSemaphorePermit> {
        if let Ok(permit) = self.pool.clone().try_acquire_owned() {
            return Ok(permit);
        }
        let left = self.bounds.instance_wait.saturating_sub(since.elapsed());
        match tokio::time::timeout(left, self.pool.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(failed(Cause::Busy, "no handler instance free".into())),
        }
    }

    /// Instantiates `handler` once in a fresh store and slot, as a request would, and
    /// drops it, all within the call's deadline: a component whose imports or start-up
    /// fail is caught before it goes live.
    pub async fn try_instantiate(&self, handler: &Handler) -> Result<()> {
        let _slot = self.slot(Instant::now()).await?;
        let run = async {
            let mut store = self.store(handler)?;
            self.instantiate(handler, &mut store).await.map(drop)
        };
        match tokio::time::timeout(self.wall, run).await {
            Ok(done) => done,
            Err(_) => Err(failed(
                Cause::Deadline,
                format!("its start-up took over {:?}", self.bounds.timeout),
            )),
        }
    }

    /// A fresh instance of the handler in `store` (public for the benchmarks).
    pub async fn instantiate(
        &self,
        handler: &Handler,
        store: &mut Store<Sandbox>,
    ) -> Result<Instance> {
        let instance = match handler.pre.instantiate(store).await {
            // A synchronous start that met the epoch's second tick — a slow start, or
            // a thread the kernel preempted for 10 ms — is tried once more on a fiber,
            // in a fresh store, where it yields at every tick and the deadlines apply
            // as to any call. A start that never ends costs one worker 20 ms this way.
            Err(e)
                if handler.pre.starts_synchronously()
                    && e.downcast_ref::<wasmtime::Trap>() == Some(&wasmtime::Trap::Interrupt) =>
            {
                // Let the worker's other tasks run first, and make the new store's
                // first tick a yield (its count starts at one): the worker is never
                // held for more than two ticks in a row.
                tokio::task::yield_now().await;
                *store = self.store(handler)?;
                store.data_mut().ticks = 1;
                handler.pre.instantiate_async(store).await
            }
            other => other,
        };
        instance.map_err(|e| {
            // One of the pool's own limits (core instances, memories, tables, stacks)
            // is full: the server's state, like no free slot, not the handler's failure.
            if e.downcast_ref::<wasmtime::PoolConcurrencyLimitError>()
                .is_some()
            {
                failed(Cause::Busy, format!("no handler instance free: {e}"))
            } else {
                anyhow::Error::from(e).context("cannot instantiate the handler")
            }
        })
    }

    /// The engine the handler runs on (public for the benchmarks).
    pub fn engine(&self) -> &wasmtime::Engine {
        &self.engine.engine
    }

    /// A fresh store for `handler`: the root lent; WASI with only the root, read-only,
    /// if it imports WASI; limits; a deadline.
    pub fn store(&self, handler: &Handler) -> Result<Store<Sandbox>> {
        self.store_with(handler, None)
    }

    /// Where `handler`'s output goes for one call: kept, if it can print and
    /// `--handler-output` is on.
    fn output(&self, handler: &Handler) -> Option<Captured> {
        (handler.pre.wasi && self.bounds.output > 0).then(|| Captured::new(self.bounds.output))
    }

    fn store_with(&self, handler: &Handler, output: Option<Captured>) -> Result<Store<Sandbox>> {
        let wasi = if handler.pre.wasi {
            Some(self.wasi(output.as_ref())?)
        } else {
            None
        };
        let limits = StoreLimitsBuilder::new()
            .memory_size(self.bounds.memory)
            .trap_on_grow_failure(true)
            .build();
        // Every open file, directory, stream and pollable of WASI is an entry here: the
        // cap bounds the descriptors one instance holds (an open past it fails in the
        // guest).
        let mut table = ResourceTable::new();
        table.set_max_capacity(self.bounds.descriptors);
        let mut store = Store::new(
            &self.engine.engine,
            Sandbox {
                root: Lent::new(self.dir.clone(), self.forms.clone()),
                wasi,
                output,
                table,
                limits,
                ticks: 0,
                starting: false,
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
        // A synchronous instantiation (a handler without WASI, see `Pre::instantiate`)
        // cannot yield: its start functions trap at the second tick instead, so they
        // hold the worker for 20 ms at most.
        store.epoch_deadline_callback(move |mut store| {
            let sandbox = store.data_mut();
            sandbox.ticks += 1;
            Ok(
                if sandbox.ticks >= budget || (sandbox.ticks > 1 && sandbox.starting) {
                    UpdateDeadline::Interrupt
                } else if sandbox.ticks == 1 {
                    UpdateDeadline::Continue(1)
                } else {
                    UpdateDeadline::Yield(1)
                },
            )
        });
        Ok(store)
    }
}

impl Invoker {
    /// A WASI context that grants the root read-only and nothing else.
    fn wasi(&self, output: Option<&Captured>) -> Result<wasmtime_wasi::WasiCtx> {
        let mut builder = WasiCtxBuilder::new();
        if let Some(output) = output {
            builder.stdout(output.clone()).stderr(output.clone());
        }
        // Guest file calls run on the blocking pool, not inline on a worker: an open or
        // read of a FIFO in the root blocks until a writer comes, and inline it would
        // stall the worker and every connection on it, beyond any deadline's reach. (It
        // must be set before the preopen, which captures it.)
        Ok(builder
            .allow_blocking_current_thread(false)
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .preopened_dir(&self.root, "/", FsPerms::ReadOnly)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("cannot open the root {}", self.root.display()))?
            .build())
    }
}

mod failed;
#[cfg(test)]
mod tests;

pub use failed::{CallFailed, Cause, cause};
use failed::{failed, one_line};
