//! The command line, and the validated configuration the server runs with.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Parser;

/// A static-file HTTP/1.1 server whose every request is decided inside a WebAssembly
/// sandbox.
#[derive(Debug, Parser)]
#[command(name = "sandserve", version)]
pub struct Args {
    /// Directory to serve.
    #[arg(long, default_value = "./static", value_name = "DIR")]
    pub root: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    pub listen: String,
    /// Request handler component (any component of the `sandserve` world); the built-in
    /// handler when absent.
    #[arg(long, value_name = "FILE.wasm")]
    pub handler: Option<PathBuf>,
    /// Worker threads [default: the number of cores].
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// Refuse (403) requests whose User-Agent is missing or shorter than N characters;
    /// 0 turns the rule off (the seed server used 60).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub min_user_agent_len: u32,
    /// Serve files and directories whose name starts with `.` (refused by default).
    #[arg(long)]
    pub serve_dotfiles: bool,
    /// Longest time one handler call may run before it is stopped (a 500), in ms.
    #[arg(long, default_value_t = 1000, value_name = "MS")]
    pub handler_timeout_ms: u64,
    /// Memory one handler instance may use, in MiB.
    #[arg(long, default_value_t = 64, value_name = "MIB")]
    pub handler_memory_mib: usize,
    /// Let one handler instance serve up to N requests, one after the other (opt-in; 1,
    /// the default, is a fresh instance per request). Faster, but state in the
    /// instance's memory then survives from one request to the next: see BENCHMARKS.md.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub reuse_instances: u32,
    /// Time a client has to send a complete request head: from connecting for the first
    /// request, from its first byte for later ones, in s.
    #[arg(long, default_value_t = 10, value_name = "S")]
    pub header_timeout: u64,
    /// Time an idle keep-alive connection is kept open, in s.
    #[arg(long, default_value_t = 60, value_name = "S")]
    pub keepalive_timeout: u64,
    /// Time in-flight responses get to finish after SIGINT/SIGTERM, in s.
    #[arg(long, default_value_t = 10, value_name = "S")]
    pub shutdown_grace: u64,
    /// Connections served at once; further ones wait in the listen backlog.
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    pub max_connections: usize,
    /// Where compiled handlers are cached between starts
    /// [default: $XDG_CACHE_HOME/sandserve or ~/.cache/sandserve].
    #[arg(long, value_name = "DIR", conflicts_with = "no_cache")]
    pub cache_dir: Option<PathBuf>,
    /// Compile the handler at every start instead of caching it.
    #[arg(long)]
    pub no_cache: bool,
    /// Do not log a line per request.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Where the handler component comes from.
#[derive(Debug, Clone)]
pub enum HandlerSource {
    /// The handler built from `guest/` and embedded in this binary.
    BuiltIn,
    File(PathBuf),
}

/// Everything the server needs, checked.
#[derive(Debug, Clone)]
pub struct Config {
    /// Canonical path of the served directory.
    pub root: PathBuf,
    pub listen: SocketAddr,
    pub handler: HandlerSource,
    pub workers: usize,
    pub min_user_agent_len: u32,
    pub serve_dotfiles: bool,
    pub handler_timeout: Duration,
    /// Bytes of linear memory one instance may use.
    pub handler_memory: usize,
    /// Requests one instance may serve (1: a fresh instance per request).
    pub reuse_instances: u32,
    pub header_timeout: Duration,
    pub keepalive_timeout: Duration,
    pub shutdown_grace: Duration,
    pub max_connections: usize,
    /// Compiled-handler cache; `None` compiles at every start.
    pub cache_dir: Option<PathBuf>,
    pub access_log: bool,
}

impl Config {
    /// Checks the arguments; each error names the flag and the value at fault.
    pub fn from_args(args: Args) -> Result<Config> {
        let root = std::fs::canonicalize(&args.root)
            .with_context(|| format!("--root {}: cannot open", args.root.display()))?;
        if !root.is_dir() {
            bail!("--root {}: not a directory", args.root.display());
        }
        let listen = args
            .listen
            .parse()
            .with_context(|| format!("--listen {}: not an IP:port address", args.listen))?;
        let handler = match args.handler {
            None => HandlerSource::BuiltIn,
            Some(path) => {
                if !path.is_file() {
                    bail!("--handler {}: no such file", path.display());
                }
                HandlerSource::File(path)
            }
        };
        let workers = args
            .workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        if workers == 0 {
            bail!("--workers 0: need at least one worker");
        }
        if args.max_connections == 0 {
            bail!("--max-connections 0: need at least one connection");
        }
        if args.handler_memory_mib == 0 || args.handler_memory_mib > 4096 {
            bail!(
                "--handler-memory-mib {}: must be 1 to 4096",
                args.handler_memory_mib
            );
        }
        if args.reuse_instances == 0 {
            bail!("--reuse-instances 0: must be at least 1 (1 = a fresh instance per request)");
        }
        if args.handler_timeout_ms == 0 {
            bail!("--handler-timeout-ms 0: must be at least 1 ms");
        }
        Ok(Config {
            root,
            listen,
            handler,
            workers,
            min_user_agent_len: args.min_user_agent_len,
            serve_dotfiles: args.serve_dotfiles,
            handler_timeout: Duration::from_millis(args.handler_timeout_ms),
            handler_memory: args.handler_memory_mib << 20,
            reuse_instances: args.reuse_instances,
            header_timeout: Duration::from_secs(args.header_timeout),
            keepalive_timeout: Duration::from_secs(args.keepalive_timeout),
            shutdown_grace: Duration::from_secs(args.shutdown_grace),
            max_connections: args.max_connections,
            cache_dir: if args.no_cache {
                None
            } else {
                args.cache_dir.or_else(crate::cache::default_dir)
            },
            access_log: !args.quiet,
        })
    }
}
