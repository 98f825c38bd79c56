//! The invoker's own tests: WASI only for handlers that import it, a synchronous start
//! that the epoch still stops, and a retired version's reuse pool.

use super::*;
use crate::sandbox::engine::{BUILT_IN_HANDLER, Pool};

/// An engine of 8 instance slots, and an invoker on it that serves `root`.
fn invoker(root: &std::path::Path, bounds: Bounds) -> (Arc<Engine>, Invoker) {
    let pool = Pool {
        instances: 8,
        ..Pool::new(64 << 20)
    };
    let engine = Arc::new(Engine::new(pool, None, Default::default()).unwrap());
    let dir = Dir::open_ambient_dir(root, cap_std::ambient_authority()).unwrap();
    let invoker = Invoker::new(engine.clone(), root.into(), Arc::new(dir), bounds);
    (engine, invoker)
}

fn bounds(seconds: u64) -> Bounds {
    Bounds::new(Duration::from_secs(seconds), 64 << 20)
}

fn built_in(engine: &Engine) -> Handler {
    Handler::new(engine.prepare(BUILT_IN_HANDLER).unwrap().0)
}

/// A handler without WASI imports gets a store without a WASI context; one with
/// them gets one.
#[test]
fn wasi_only_for_handlers_that_import_it() {
    let (engine, invoker) = invoker(&std::env::temp_dir(), bounds(1));
    let bare = built_in(&engine);
    assert!(invoker.store(&bare).unwrap().data().wasi.is_none());
    let naive = include_bytes!(env!("SANDSERVE_NAIVE_WASM"));
    let wasi = Handler::new(engine.prepare(naive).unwrap().0);
    assert!(invoker.store(&wasi).unwrap().data().wasi.is_some());
}

/// A version that stops serving keeps no instance for reuse, not even one its
/// requests in flight finish with (before, they pushed theirs back after the swap
/// had cleared the pool, up to 64 per kept version); live again, it keeps them.
#[test]
fn a_retired_version_keeps_no_instances() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("index.html"), "hi\n").unwrap();
    let (engine, invoker) = invoker(
        root.path(),
        Bounds {
            reuse: 10,
            ..bounds(1)
        },
    );
    let handler = built_in(&engine);
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
    let head = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    let request = crate::sandbox::decide::to_request(
        head,
        crate::sandbox::decide::Client::http1("127.0.0.1:1".parse().unwrap(), 0),
        &policy,
    );
    let quota = Semaphore::new(4);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let call = || {
        runtime
            .block_on(invoker.call(&handler, &quota, &request))
            .unwrap()
    };
    call();
    assert_eq!(handler.idle_count(), 1);
    handler.retire();
    assert_eq!(handler.idle_count(), 0);
    call();
    assert_eq!(handler.idle_count(), 0);
    handler.revive();
    call();
    assert_eq!(handler.idle_count(), 1);
}

/// A handler without WASI is instantiated synchronously, so the wall-clock deadline
/// cannot reach its start functions: the epoch must. A start function that never ends
/// traps at the second tick instead of yielding (which a synchronous call cannot) or
/// holding the worker until `--handler-timeout` (here 5 s).
#[test]
fn a_synchronous_start_that_never_ends_traps_at_the_second_tick() {
    let (engine, invoker) = invoker(&std::env::temp_dir(), bounds(5));
    let bare = built_in(&engine);
    // The built-in handler's store (its deadline callback), a component whose start
    // loops.
    let mut store = invoker.store(&bare).unwrap();
    let looping = wasmtime::component::Component::new(
        &engine.engine,
        wat::parse_str(
            r#"(component
                (core module $m (func $spin (loop $l (br $l))) (start $spin))
                (core instance (instantiate $m)))"#,
        )
        .unwrap(),
    )
    .unwrap();
    let pre = wasmtime::component::Linker::<Sandbox>::new(&engine.engine)
        .instantiate_pre(&looping)
        .unwrap();
    store.data_mut().starting = true;
    let started = Instant::now();
    let Err(error) = pre.instantiate(&mut store) else {
        panic!("the start must trap");
    };
    let took = started.elapsed();
    assert_eq!(
        error.downcast_ref::<wasmtime::Trap>(),
        Some(&wasmtime::Trap::Interrupt),
        "{error:?}"
    );
    assert!(took < Duration::from_secs(1), "{took:?}");
}
