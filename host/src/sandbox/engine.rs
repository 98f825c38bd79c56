//! The one place wasmtime is configured: engine settings, the pooling allocator and its
//! limits, epoch interruption and the linker (our `root`, and WASI for handlers that
//! import it) — built once per server and shared by every handler version it runs.
//! `Engine::prepare` turns a component's bytes into a pre-linked handler
//! (`InstancePre`), so that a request only instantiates; `prepare_beside_serving` does
//! it on one core, for a compile while the server serves (a swap, `dev`).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result};
use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Enabled, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig};

use crate::sandbox::bindings::{v3, v4, v5};
use crate::sandbox::cache::{self, Origin};
use crate::sandbox::contract::Pre;
use crate::sandbox::root::Lent;
use crate::sandbox::store::Sandbox;

/// The handler built from `guest/` by `build.rs`.
pub const BUILT_IN_HANDLER: &[u8] = include_bytes!(env!("SANDSERVE_GUEST_WASM"));

/// How often the epoch advances; handler deadlines are counted in these ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Instances that may exist at once, over all handler versions, unless
/// `--max-instances` says otherwise. Each lives for one request (or one replayed
/// request of a swap's check), so this bounds the requests being handled at the same
/// moment, not connections.
pub const MAX_INSTANCES: u32 = 1000;

/// Bytes of each table and stack slot kept mapped between instances.
const KEEP_RESIDENT: usize = 2 << 20;

/// The pooling allocator's sizes, from the command line.
#[derive(Debug, Clone, Copy)]
pub struct Pool {
    /// `--handler-memory`: the most linear memory one instance may have.
    pub memory: usize,
    /// `--max-instances`: the pool's instance slots.
    pub instances: u32,
    /// `--handler-keep-resident`: the bytes of an instance's dirtied linear memory
    /// reset in place when it ends; past them the rest is handed back to the kernel.
    pub keep_resident: usize,
}

impl Pool {
    /// The defaults of the flags, for the tools, tests and benchmarks.
    pub fn new(memory: usize) -> Pool {
        Pool {
            memory,
            instances: MAX_INSTANCES,
            keep_resident: KEEP_RESIDENT_MEMORY,
        }
    }
}

/// `--handler-keep-resident` for small components: what a request of the built-in
/// handler dirties, and no more. Pages are reset in place up to it, in address order;
/// the rest are released. Larger, the pages one big request (a directory listing)
/// dirtied stay in the slot and every later request there pays to copy them back
/// (BENCHMARKS.md).
pub const KEEP_RESIDENT_MEMORY: usize = 128 << 10;

/// `--handler-keep-resident` for big runtimes (QuickJS, CPython), whose every request
/// dirties megabytes: released, they would fault back in at the next request.
const KEEP_RESIDENT_RUNTIME: usize = 2 << 20;

/// Components up to this size are taken for small handlers (the built-in one is about
/// 250 KB, a C handler 222 KB, QuickJS 1.7 MB, CPython 18.8 MB).
const SMALL_COMPONENT: u64 = 1 << 20;

/// `--handler-keep-resident` when it is not given, from the sizes of the component
/// files the server starts with (none: the built-in handler alone).
pub fn keep_resident_for(sizes: impl IntoIterator<Item = u64>) -> usize {
    match sizes.into_iter().all(|size| size <= SMALL_COMPONENT) {
        true => KEEP_RESIDENT_MEMORY,
        false => KEEP_RESIDENT_RUNTIME,
    }
}

/// How handlers are compiled (`--compile`): both with Cranelift, whose code checks the
/// epoch, so the deadline holds either way (wasmtime 48's Winch does not support epoch
/// interruption, so it is not offered).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compiler {
    /// Cranelift's `OptLevel::Speed`: the fastest code.
    #[default]
    Optimized,
    /// Cranelift's `OptLevel::None`: 16-30% less CPU to compile, code a few percent
    /// larger and slower (BENCHMARKS.md), for the edit-to-live loop.
    Fast,
}

impl Compiler {
    pub fn parse(text: &str) -> Result<Compiler, String> {
        match text {
            "optimized" => Ok(Compiler::Optimized),
            "fast" => Ok(Compiler::Fast),
            other => Err(format!("{other:?}: the compilers are optimized and fast")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Compiler::Optimized => "optimized",
            Compiler::Fast => "fast",
        }
    }
}

/// The engine, its linker and its epoch ticker, for the server's whole life.
pub struct Engine {
    pub engine: wasmtime::Engine,
    /// The pool's instance slots (`--max-instances`).
    pub instances: u32,
    linker: Linker<Sandbox>,
    /// Where compiled handlers are kept between starts (`None`: always compile), and
    /// the bytes it may hold.
    cache: Option<(Arc<Path>, u64)>,
    _ticker: EpochTicker,
}

impl Engine {
    pub fn new(pool: Pool, cache: Option<(&Path, u64)>, compiler: Compiler) -> Result<Engine> {
        let engine = engine(pool, compiler)?;
        // Both the root and WASI are in the one linker: a component is pre-linked only
        // to what it imports, so a handler without WASI imports pays nothing for it.
        let mut linker = Linker::<Sandbox>::new(&engine);
        v5::Sandserve::add_to_linker::<_, HasSelf<Lent>>(&mut linker, |s: &mut Sandbox| {
            &mut s.root
        })
        .map_err(anyhow::Error::from)?;
        v4::Sandserve::add_to_linker::<_, HasSelf<Lent>>(&mut linker, |s: &mut Sandbox| {
            &mut s.root
        })
        .map_err(anyhow::Error::from)?;
        v3::Sandserve::add_to_linker::<_, HasSelf<Lent>>(&mut linker, |s: &mut Sandbox| {
            &mut s.root
        })
        .map_err(anyhow::Error::from)?;
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(anyhow::Error::from)?;
        Ok(Engine {
            _ticker: EpochTicker::start(engine.clone()),
            engine,
            instances: pool.instances,
            linker,
            cache: cache.map(|(dir, max)| (Arc::from(dir), max)),
        })
    }

    /// Compiles (or loads from the cache) and links a handler; fails with a one-line
    /// reason when the bytes are not a component, or not one of a `sandserve` world
    /// (0.5.0, 0.4.0, 0.3.0 or 0.2.0). Compiling a large component takes seconds of CPU: call it off
    /// the serving path.
    pub fn prepare(&self, bytes: &[u8]) -> Result<(Pre, Origin)> {
        let cache = self.cache.as_ref().map(|(dir, max)| (&**dir, *max));
        let (component, origin) = cache::component(&self.engine, bytes, cache)?;
        let pre = self
            .linker
            .instantiate_pre(&component)
            .and_then(|pre| Pre::new(&component, pre))
            .map_err(|e| anyhow::anyhow!("{}", e.root_cause()))
            .context("not a handler of the sandserve world")?;
        Ok((pre, origin))
    }

    /// `prepare` on one core (`on_one_core`), for a compile while the server serves.
    pub fn prepare_beside_serving(&self, bytes: &[u8]) -> Result<(Pre, Origin)> {
        on_one_core(|| self.prepare(bytes))
    }
}

/// Runs `f`, a compile, with Cranelift's parallel compile confined to one thread of its
/// own, the process's one compile thread (made the first time): a cold compile of a
/// large runtime (CPython: ~8-10 s of CPU) beside a serving server leaves every other
/// core to the requests, and two such compiles take turns. (wasmtime's parallel compile
/// runs on the rayon pool it is called from.)
pub fn on_one_core<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    static POOL: std::sync::OnceLock<rayon::ThreadPool> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .thread_name(|_| "sandserve-compile".into())
            .build()
            .expect("cannot start the compile thread")
    })
    .install(f)
}

fn engine(pool: Pool, compiler: Compiler) -> Result<wasmtime::Engine> {
    let instances = pool.instances;
    let mut pooling = PoolingAllocationConfig::default();
    pooling
        .total_component_instances(instances)
        .total_core_instances(instances * 4)
        .total_memories(instances)
        .total_tables(instances * 4)
        .total_stacks(instances)
        .max_memory_size(pool.memory)
        // Reset only the pages an instance dirtied, in place, instead of handing them
        // back to the kernel: a fresh instance then starts without page faults. (Needs
        // Linux 6.7's PAGEMAP_SCAN; elsewhere wasmtime falls back to madvise.) Not with
        // swap: see `pagemap_scan`.
        .pagemap_scan(pagemap_scan())
        .linear_memory_keep_resident(pool.keep_resident)
        .table_keep_resident(KEEP_RESIDENT)
        .async_stack_keep_resident(KEEP_RESIDENT);
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .epoch_interruption(true)
        .cranelift_opt_level(match compiler {
            Compiler::Optimized => OptLevel::Speed,
            Compiler::Fast => OptLevel::None,
        })
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));
    wasmtime::Engine::new(&config)
        .map_err(anyhow::Error::from)
        .context("cannot configure the WebAssembly engine")
}

/// Whether the pooling allocator may find dirty pages with PAGEMAP_SCAN. wasmtime
/// 48.0.10's scan asks for pages that are written *and present*: a dirty page the
/// kernel swapped out is neither reset nor released, so the next instance in that slot
/// would read the last one's data (48.0.11 fixes the scan, but its crates are not all
/// published). With any swap active at start, the scan is off and every slot is reset
/// by copying and `madvise` — slower, never stale. Swap turned on after start is not
/// seen: SECURITY.md says to restart.
fn pagemap_scan() -> Enabled {
    match swap_active() {
        false => Enabled::Auto,
        true => {
            tracing::warn!(
                "swap is active: handler memory is reset without PAGEMAP_SCAN (slower per request)"
            );
            Enabled::No
        }
    }
}

/// Whether `/proc/swaps` lists a swap area (or cannot be read: then assume it does).
fn swap_active() -> bool {
    std::fs::read_to_string("/proc/swaps").map_or(true, |text| text.lines().count() > 1)
}

/// One thread per engine that advances the epoch, so that a guest that runs past its
/// deadline traps instead of holding a worker. Stopped and joined on drop.
struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: wasmtime::Engine) -> EpochTicker {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("sandserve-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .expect("cannot start the epoch thread");
        EpochTicker {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
