//! The cost of one request at the guest boundary, by phase: a fresh store (the root
//! lent; a WASI context with the root preopened only for a handler that imports WASI),
//! instantiation from the pre-linked component, the `handle` call, and the whole round
//! trip including dropping the store; plus the host's own steps around it (checking the
//! response, planning its body from the files the call opened), and the floor: the
//! least a fresh instance of any component costs on the same engine. The `wasi_` lines
//! are the same request through a 0.2.0 handler that reads the root through WASI (the
//! naive test fixture), for the price of WASI beside our own import.
//!
//! `cargo bench -p sandserve --bench guest_boundary`

use std::net::SocketAddr;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, criterion_group, criterion_main};
use std::sync::Arc;

use sandserve::sandbox::bindings::{wit, wit_root};
use sandserve::sandbox::engine::{BUILT_IN_HANDLER, Engine, Pool};
use sandserve::sandbox::invoke::{Bounds, Handler, Invoker};
use sandserve::sandbox::response;
use sandserve::sandbox::root::Lent;

fn boundary(c: &mut Criterion) {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("small.html"), vec![b'x'; 1024]).unwrap();
    let engine = Arc::new(Engine::new(Pool::new(64 << 20), None, Default::default()).unwrap());
    let handler = Handler::new(engine.prepare(BUILT_IN_HANDLER).unwrap().0);
    let dir =
        cap_std::fs::Dir::open_ambient_dir(root.path(), cap_std::ambient_authority()).unwrap();
    let dir = Arc::new(dir);
    let invoker = Invoker::new(
        engine.clone(),
        root.path().to_owned(),
        dir.clone(),
        Bounds::new(Duration::from_secs(1), 64 << 20),
    );
    let policy = wit::Policy {
        min_user_agent_len: 0,
        serve_dotfiles: false,
        server_name: "sandserve".into(),
        cache_control: Vec::new(),
        extra_headers: Vec::new(),
        list_dirs: false,
        fallback: None,
        compress: Vec::new(),
    };
    let peer: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let quota = tokio::sync::Semaphore::new(1000);
    let head = b"GET /small.html HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: bench\r\n\r\n";
    let client = sandserve::sandbox::decide::Client::http1(peer, 0);
    let request = sandserve::sandbox::decide::to_request(head, client, &policy);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    let mut group = c.benchmark_group("guest_boundary");
    let wasi = Handler::new(
        engine
            .prepare(include_bytes!(env!("SANDSERVE_NAIVE_WASM")))
            .unwrap()
            .0,
    );
    group.bench_function("store_new_and_drop", |b| {
        b.iter(|| drop(invoker.store(&handler).unwrap()))
    });
    group.bench_function("wasi_store_new_and_drop", |b| {
        b.iter(|| drop(invoker.store(&wasi).unwrap()))
    });
    bench_invoker(&mut group, &rt, "", &invoker, &handler, &request);
    bench_invoker(&mut group, &rt, "wasi_", &invoker, &wasi, &request);
    let (answer, _) = rt
        .block_on(invoker.call(&handler, &quota, &request))
        .unwrap();
    group.bench_function("host_check_and_open", |b| {
        b.iter(|| response::check(answer.clone(), false, &dir, Vec::new()).unwrap())
    });
    group.bench_function("host_check_opened", |b| {
        b.iter_batched(
            || {
                rt.block_on(invoker.call(&handler, &quota, &request))
                    .unwrap()
            },
            |(answer, opened)| response::check(answer, false, &dir, opened).unwrap(),
            criterion::BatchSize::SmallInput,
        )
    });
    // The host's side of one `root.stat` import: open beneath the root, fstat, and the
    // close when the request's files are dropped.
    group.bench_function("root_stat_host", |b| {
        b.iter(|| {
            let mut lent = Lent::new(dir.clone(), None);
            wit_root::Host::stat(&mut lent, "small.html".into()).unwrap()
        })
    });
    floor(&mut group, &rt, &invoker);
    if let Ok(path) = std::env::var("BENCH_OTHER_HANDLER") {
        let bytes = std::fs::read(path).unwrap();
        let other = Handler::new(engine.prepare(&bytes).unwrap().0);
        bench_invoker(&mut group, &rt, "other_", &invoker, &other, &request);
    }
    group.finish();
}

/// Instantiate-and-drop, and a whole request, for one handler.
fn bench_invoker(
    group: &mut BenchmarkGroup<'_, WallTime>,
    rt: &tokio::runtime::Runtime,
    prefix: &str,
    invoker: &Invoker,
    handler: &Handler,
    request: &wit::Request,
) {
    let quota = tokio::sync::Semaphore::new(1000);
    group.bench_function(format!("{prefix}instantiate_and_drop"), |b| {
        b.iter(|| {
            rt.block_on(async {
                let mut store = invoker.store(handler).unwrap();
                invoker.instantiate(handler, &mut store).await.unwrap();
            })
        })
    });
    group.bench_function(format!("{prefix}full_request"), |b| {
        b.iter(|| rt.block_on(invoker.call(handler, &quota, request)).unwrap())
    });
}

/// The least a fresh instance can cost on this engine: a component of one core module
/// with no imports whose export returns its argument, in a store with no WASI context.
/// What the real handler costs above this is what our contract and guest add.
fn floor(
    group: &mut BenchmarkGroup<'_, WallTime>,
    rt: &tokio::runtime::Runtime,
    invoker: &Invoker,
) {
    const WAT: &str = r#"(component
        (core module $m
            (memory (export "memory") 1)
            (func (export "echo") (param i32) (result i32) local.get 0))
        (core instance $i (instantiate $m))
        (func (export "echo") (param "x" u32) (result u32) (canon lift (core func $i "echo"))))"#;
    let engine = invoker.engine();
    let component =
        wasmtime::component::Component::new(engine, wat::parse_str(WAT).unwrap()).unwrap();
    let pre = wasmtime::component::Linker::<()>::new(engine)
        .instantiate_pre(&component)
        .unwrap();
    group.bench_function("floor_empty_component", |b| {
        b.iter(|| {
            rt.block_on(async {
                let mut store = wasmtime::Store::new(engine, ());
                store.set_epoch_deadline(1_000_000);
                let instance = pre.instantiate_async(&mut store).await.unwrap();
                let echo = instance
                    .get_typed_func::<(u32,), (u32,)>(&mut store, "echo")
                    .unwrap();
                echo.call_async(&mut store, (7,)).await.unwrap()
            })
        })
    });
}

criterion_group!(benches, boundary);
criterion_main!(benches);
