//! Groundwork for a development compiler (issue 27): how long Cranelift takes to
//! compile each shipped handler at `OptLevel::Speed` (today) and `OptLevel::None`, on
//! all cores and on one, and how much code it makes. Winch is out: wasmtime 48's
//! baseline compiler does not support epoch interruption, so it would lose the deadline.
//!
//! `cargo bench -p sandserve --bench compile_levels -- FILE.wasm...` (default: the
//! built-in handler and target/handlers' C, QuickJS, SpiderMonkey and Python handlers, as
//! `guest/build-handlers` makes them). Prints one row per handler and compiler: wall
//! and CPU seconds of `Engine::precompile_component`, and the machine code's size.

use std::path::PathBuf;
use std::time::Instant;

use wasmtime::{Config, Engine, OptLevel};

/// This process's CPU time so far, from /proc (user + system, in clock ticks of 10 ms).
fn cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rsplit(')').next().unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (tick(11) + tick(12)) / 100.0
}

fn main() {
    let mut files: Vec<PathBuf> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .map(PathBuf::from)
        .collect();
    if files.is_empty() {
        let handlers = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/handlers");
        files.push(PathBuf::from(env!("SANDSERVE_GUEST_WASM")));
        for name in ["seed-c", "js-quickjs", "js", "seed-python"] {
            files.push(handlers.join(format!("{name}.wasm")));
        }
    }
    println!("| handler | MB | compiler | wall s | CPU s | code MB |");
    println!("|---|---:|---|---:|---:|---:|");
    for file in files {
        let Ok(bytes) = std::fs::read(&file) else {
            eprintln!("{}: missing (run guest/build-handlers)", file.display());
            continue;
        };
        let name = file.file_name().unwrap_or_default().to_string_lossy();
        for (compiler, level, parallel) in [
            ("Speed, all cores (today)", OptLevel::Speed, true),
            ("Speed, 1 thread", OptLevel::Speed, false),
            ("None, all cores", OptLevel::None, true),
            ("None, 1 thread", OptLevel::None, false),
        ] {
            let mut config = Config::new();
            config
                .cranelift_opt_level(level)
                .parallel_compilation(parallel)
                .epoch_interruption(true);
            let engine = Engine::new(&config).expect("engine");
            let (start, used) = (Instant::now(), cpu());
            let code = engine.precompile_component(&bytes).expect("compile");
            println!(
                "| {name} | {:.1} | {compiler} | {:.2} | {:.2} | {:.1} |",
                bytes.len() as f64 / 1e6,
                start.elapsed().as_secs_f64(),
                cpu() - used,
                code.len() as f64 / 1e6
            );
        }
    }
}
