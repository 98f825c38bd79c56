//! The one place wasmtime is configured: engine settings, the pooling allocator and its
//! limits, epoch interruption, the WASI linker, and the handler component compiled and
//! pre-linked once (`InstancePre`) so that each request only instantiates.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result};
use wasmtime::component::Linker;
use wasmtime::{Config, Enabled, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::cache::{self, Origin};
use crate::config::HandlerSource;
use crate::invoke::Sandbox;

wasmtime::component::bindgen!({
    path: "../wit",
    world: "sandserve",
    exports: { default: async },
});

/// The generated types of the `handler` interface.
pub use exports::sandserve::server::handler as wit;

/// The handler built from `guest/` by `build.rs`.
pub const BUILT_IN_HANDLER: &[u8] = include_bytes!(env!("SANDSERVE_GUEST_WASM"));

/// How often the epoch advances; handler deadlines are counted in these ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Instances that may exist at once. Each lives for one request, so this bounds the
/// requests being handled at the same moment, not connections.
const MAX_INSTANCES: u32 = 1000;

/// Bytes of each memory, table and stack slot kept mapped between instances.
const KEEP_RESIDENT: usize = 2 << 20;

/// A compiled, linked handler ready to be instantiated, and the engine it belongs to.
pub struct Handler {
    pub engine: wasmtime::Engine,
    pub pre: SandservePre<Sandbox>,
    _ticker: EpochTicker,
}

impl Handler {
    /// Compiles and links the handler; fails (with the file named) when the component is
    /// not a component, or is not of the `sandserve` world.
    /// `cache`: where compiled handlers are kept between starts (`None`: compile).
    pub fn load(
        source: &HandlerSource,
        memory_limit: usize,
        cache: Option<&Path>,
    ) -> Result<(Handler, Origin)> {
        let engine = engine(memory_limit)?;
        let (component, origin) = match source {
            HandlerSource::BuiltIn => cache::component(&engine, BUILT_IN_HANDLER, cache)
                .context("the built-in handler")?,
            HandlerSource::File(path) => {
                let bytes = std::fs::read(path)
                    .with_context(|| format!("--handler {}: cannot read", path.display()))?;
                cache::component(&engine, &bytes, cache)
                    .with_context(|| format!("--handler {}", path.display()))?
            }
        };
        let mut linker = Linker::<Sandbox>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(anyhow::Error::from)?;
        let name = match source {
            HandlerSource::BuiltIn => "the built-in handler".to_owned(),
            HandlerSource::File(path) => path.display().to_string(),
        };
        let pre = linker
            .instantiate_pre(&component)
            .and_then(SandservePre::new)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("{name} is not a handler of the sandserve world"))?;
        let ticker = EpochTicker::start(engine.clone());
        let handler = Handler {
            engine,
            pre,
            _ticker: ticker,
        };
        Ok((handler, origin))
    }
}

fn engine(memory_limit: usize) -> Result<wasmtime::Engine> {
    let mut pooling = PoolingAllocationConfig::default();
    pooling
        .total_component_instances(MAX_INSTANCES)
        .total_core_instances(MAX_INSTANCES * 4)
        .total_memories(MAX_INSTANCES)
        .total_tables(MAX_INSTANCES * 4)
        .total_stacks(MAX_INSTANCES)
        .max_memory_size(memory_limit)
        // Reset only the pages an instance dirtied, in place, instead of handing them
        // back to the kernel: a fresh instance then starts without page faults. (Needs
        // Linux 6.7's PAGEMAP_SCAN; elsewhere wasmtime falls back to madvise.)
        .pagemap_scan(Enabled::Auto)
        .linear_memory_keep_resident(KEEP_RESIDENT)
        .table_keep_resident(KEEP_RESIDENT)
        .async_stack_keep_resident(KEEP_RESIDENT);
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .epoch_interruption(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));
    wasmtime::Engine::new(&config)
        .map_err(anyhow::Error::from)
        .context("cannot configure the WebAssembly engine")
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
