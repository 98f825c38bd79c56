//! The `sandserve` binary: parse the command line, build the sandboxed handler, bind,
//! serve until SIGINT/SIGTERM. Any start-up failure is one line on stderr and exit 1.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Parser;
use sandserve::{Args, Config, Shared};

fn main() -> ExitCode {
    match start(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line, whatever the cause's own formatting (wasmtime's span several).
            let message = format!("{e:#}");
            let message: Vec<&str> = message.split_whitespace().collect();
            eprintln!("sandserve: {}", message.join(" "));
            ExitCode::FAILURE
        }
    }
}

fn start(args: Args) -> Result<()> {
    let config = Config::from_args(args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.workers)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let shutdown = sandserve::shutdown::signal_received()?;
        // Bind first: an address in use should fail before the handler is compiled.
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("--listen {}: cannot bind", config.listen))?;
        let shared = Arc::new(Shared::new(&config)?);
        let addr = listener.local_addr()?;
        eprintln!(
            "sandserve: serving {} on http://{addr}/ with {} workers ({})",
            config.root.display(),
            config.workers,
            shared.handler_origin
        );
        sandserve::run(listener, shared, shutdown).await
    })
}
