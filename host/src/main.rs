//! The `sandserve` binary: parse the command line; with a subcommand, talk to a running
//! server's admin socket or print the contract; else build the sandboxed handler, bind, serve until
//! SIGINT/SIGTERM. Any failure is one line on stderr and exit 1.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::FromArgMatches;
use sandserve::{Cli, Command, Config, Shared};

fn main() -> ExitCode {
    sandserve::observe::logging::init();
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let matches = sandserve::settings::layers::command().get_matches_from(&argv);
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let outcome = match cli.command {
        Some(Command::Admin(command)) => sandserve::admin::control::run(command),
        Some(Command::New { lang, dir }) => sandserve::tools::new::run(&lang, &dir),
        Some(Command::Wit { out, compat }) => {
            sandserve::tools::wit::run(out.as_deref(), compat.as_deref())
        }
        Some(Command::Check { file, require }) => check(&file, require.as_deref()),
        Some(Command::Build { dir }) => sandserve::dev::build::run(&dir),
        Some(Command::Dev {
            dir,
            root,
            listen,
            admin,
            server_args,
        }) => sandserve::dev::session::run(sandserve::dev::session::Options {
            dir,
            root,
            listen,
            admin,
            server_args,
        }),
        Some(Command::Diff {
            a,
            b,
            requests,
            mount,
            root,
        }) => {
            let requests = requests.as_deref().map(|file| (file, mount.as_deref()));
            sandserve::tools::diff::run(&a, &b, requests, root.as_deref())
        }
        None => start(&argv).map(|()| ExitCode::SUCCESS),
    };
    outcome.unwrap_or_else(|e| {
        // One line, whatever the cause's own formatting (wasmtime's span several).
        eprintln!("sandserve: {}", sandserve::versions::compare::one_line(&e));
        ExitCode::FAILURE
    })
}

/// `sandserve check FILE.wasm`, or `sandserve check DIR` of a project: its component,
/// at its level unless `--require` says otherwise, and its own requests.
fn check(file: &std::path::Path, require: Option<&str>) -> Result<ExitCode> {
    if !file.is_dir() {
        return sandserve::tools::check::run(file, require.unwrap_or("seed"));
    }
    let project = sandserve::dev::project::Project::open(file)?;
    sandserve::tools::check::run_with(
        &project.out,
        require.unwrap_or(project.level),
        &project.cases,
        Default::default(),
    )
}

fn start(argv: &[std::ffi::OsString]) -> Result<()> {
    let resolved = sandserve::settings::layers::resolve(argv)?;
    let mut config = Config::from_args(resolved.args.clone()).map_err(|e| resolved.locate(e))?;
    // Checked first, as nginx -t: what it prints is a configuration that starts.
    if resolved.args.print_config {
        if let Some((cert, key)) = &config.tls {
            sandserve::net::tls::load(cert, key)?;
        }
        print!("{}", resolved.print());
        return Ok(());
    }
    // Said once the server starts, after the checks that refuse a start in one line.
    let (nofile, raised) = sandserve::net::descriptors::raise();
    let (connections, lowered) = sandserve::net::descriptors::clamp(config.max_connections, nofile);
    config.max_connections = connections;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.workers)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let shutdown = sandserve::net::shutdown::signal_received()?;
        // Bind first: an address or admin socket in use should fail before the handler
        // is compiled.
        // systemd's socket when it passed one (socket activation), else --listen's.
        let listener = match sandserve::net::activate::listener()? {
            Some(passed) => tokio::net::TcpListener::from_std(passed)
                .context("LISTEN_FDS=1: cannot serve on fd 3")?,
            None => tokio::net::TcpListener::bind(config.listen)
                .await
                .with_context(|| format!("--listen {}: cannot bind", config.listen))?,
        };
        let admin = config
            .admin
            .as_deref()
            .map(sandserve::admin::channel::bind)
            .transpose()?;
        let metrics = match config.metrics {
            Some(addr) => Some(
                tokio::net::TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("--metrics {addr}: cannot bind"))?,
            ),
            None => None,
        };
        // Each watched file's stamp before the server first reads it.
        let mut watched = Vec::new();
        if config.watch {
            if let sandserve::settings::config::HandlerSource::File(path) = &config.handler {
                watched.push((None, path.clone()));
            }
            for (prefix, path) in &config.mounts {
                watched.push((Some(prefix.clone()), path.clone()));
            }
        }
        let watched: Vec<_> = watched
            .into_iter()
            .map(|(mount, path)| {
                let seen = sandserve::server::triggers::stamp(&path);
                (mount, path, seen)
            })
            .collect();
        let shared = Arc::new(Shared::new(&config)?);
        for said in [raised, lowered].into_iter().flatten() {
            tracing::info!("{said}");
        }
        let hangups = sandserve::server::triggers::hangups().context("cannot listen for SIGHUP")?;
        let user1 = sandserve::server::triggers::user1().context("cannot listen for SIGUSR1")?;
        let addr = listener.local_addr()?;
        tracing::info!(
            "serving {} on {}://{addr}/ with {} workers ({})",
            config.root.display(),
            if config.tls.is_some() {
                "https"
            } else {
                "http"
            },
            config.workers,
            shared.handler_origin
        );
        if let Some(admin) = admin {
            tokio::spawn(sandserve::admin::channel::serve(admin, shared.clone()));
        }
        if let Some(metrics) = metrics {
            // Not an http:// URL: the serving line above is the one to connect to.
            tracing::info!(
                "metrics on {} (GET /metrics, /healthz, /readyz)",
                metrics.local_addr()?
            );
            tokio::spawn(sandserve::admin::channel::serve_metrics(
                metrics,
                shared.clone(),
            ));
        }
        let reloader = config
            .file
            .as_ref()
            .map(|_| sandserve::server::reload::Reloader::new(argv.to_vec(), &resolved));
        tokio::spawn(sandserve::server::triggers::on_sighup(
            shared.clone(),
            hangups,
            reloader,
        ));
        tokio::spawn(sandserve::server::triggers::on_sigusr1(
            shared.clone(),
            user1,
        ));
        for (mount, path, seen) in watched {
            let shared = shared.clone();
            tokio::spawn(sandserve::server::triggers::watch(
                shared, mount, path, seen,
            ));
        }
        let served = sandserve::run(listener, shared.clone(), shutdown).await;
        shared.finish();
        if let Some(path) = &config.admin {
            let _ = std::fs::remove_file(path);
        }
        served
    })
}
