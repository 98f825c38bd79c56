//! The command line, and the validated configuration the server runs with.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Parser;

use crate::bindings::wit;
use crate::control;
use crate::units::{duration, percent, size};

/// A static-file HTTP/1.1 server whose every request is decided inside a WebAssembly
/// sandbox. Without a subcommand, serves; `swap`, `rollback` and `status` talk to a
/// running server over its `--admin` socket; `wit` prints the handlers' contract,
/// `check` tries a handler against a conformance suite, `diff` compares two, `new` starts one.
#[derive(Debug, Parser)]
#[command(name = "sandserve", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub serve: Args,
}

/// What `sandserve` can do besides serving.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    #[command(flatten)]
    Admin(control::Command),
    /// Run FILE.wasm through a conformance suite in-process (fresh instances, a
    /// temporary root) and print a table of rules with the level reached (seed, http,
    /// static). Exit status 1 when below --require.
    Check {
        #[arg(value_name = "FILE.wasm")]
        file: PathBuf,
        /// The level the handler must reach.
        #[arg(long, default_value = "seed", value_name = "LEVEL")]
        require: String,
    },
    /// Send the same requests through A.wasm and B.wasm in-process and print what
    /// differs (status, fields but Date, body kind and length), as the swap check
    /// compares. Exit status 1 when any request differs.
    Diff {
        #[arg(value_name = "A.wasm")]
        a: PathBuf,
        #[arg(value_name = "B.wasm")]
        b: PathBuf,
        /// Request heads as JSON lines, {"head": "GET / HTTP/1.1\r\n…"}, instead of
        /// the built-in corpus.
        #[arg(long, value_name = "FILE")]
        requests: Option<PathBuf>,
        /// Serve this directory to both, instead of the built-in corpus's root.
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
    },
    /// Write a minimal working handler project into DIR (its build command is at the
    /// top of its source).
    New {
        /// rust, python or js.
        #[arg(long, value_name = "LANG")]
        lang: String,
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
    /// Print the WIT contract handlers are built against (sandserve:server@0.3.0), or
    /// write it to DIR/sandserve.wit.
    Wit {
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// The frozen 0.2.0 contract instead (still served).
        #[arg(long)]
        compat: bool,
    },
}

/// The server's flags.
#[derive(Debug, clap::Args)]
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
    /// Requests under PREFIX go to this handler instead, which sees them as if PREFIX
    /// were `/` (`/py/a.txt` as `/a.txt`); repeatable, the longest prefix wins; each
    /// mount is swapped on its own (`sandserve swap --mount PREFIX`).
    #[arg(long = "mount", value_name = "PREFIX=FILE.wasm")]
    pub mounts: Vec<String>,
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
    /// List directories that have no index.html (HTML, or JSON for `Accept:
    /// application/json`) instead of refusing them with 403.
    #[arg(long)]
    pub list_dirs: bool,
    /// For single-page apps: serve FILE (relative to the root) with 200 for missing
    /// paths that look like routes (no `.` in the last segment); missing assets stay 404.
    #[arg(long, value_name = "FILE")]
    pub fallback: Option<String>,
    /// `Cache-Control` for every file not matched by a --cache-rule (none by default).
    #[arg(long, value_name = "VALUE")]
    pub cache_control: Option<String>,
    /// `Cache-Control` for files matching a glob, checked in order before
    /// --cache-control: `'assets/**=max-age=31536000, immutable'`. A glob without `/`
    /// matches the file name in any directory (`*.css`).
    #[arg(long = "cache-rule", value_name = "GLOB=VALUE")]
    pub cache_rules: Vec<String>,
    /// A field added to every response: `--header 'Permissions-Policy: camera=()'`.
    #[arg(long = "header", value_name = "'NAME: VALUE'")]
    pub headers: Vec<String>,
    /// Longest time one handler call may run before it is stopped (a 500 that closes
    /// the connection): `1s`, `250ms`.
    #[arg(long, default_value = "1s", value_name = "TIME", value_parser = duration)]
    pub handler_timeout: Duration,
    /// Linear memory one handler instance may use (beyond it, a 500): `64MiB`, `512KiB`.
    #[arg(long, default_value = "64MiB", value_name = "SIZE", value_parser = size)]
    pub handler_memory: usize,
    /// Let one handler instance serve up to N requests, one after the other (opt-in; 1,
    /// the default, is a fresh instance per request). Faster, but state in the
    /// instance's memory then survives from one request to the next: see BENCHMARKS.md.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub reuse_instances: u32,
    /// Time a client has to send a complete request head: from connecting for the first
    /// request, from its first byte for later ones (`10s`, `500ms`; a bare number is s).
    #[arg(long, default_value = "10s", value_name = "TIME", value_parser = duration)]
    pub header_timeout: Duration,
    /// Time an idle keep-alive connection is kept open.
    #[arg(long, default_value = "60s", value_name = "TIME", value_parser = duration)]
    pub keepalive_timeout: Duration,
    /// Time a response may wait for the client to take more bytes (a client that stops
    /// reading is dropped after it).
    #[arg(long, default_value = "60s", value_name = "TIME", value_parser = duration)]
    pub send_timeout: Duration,
    /// Time in-flight responses get to finish after SIGINT/SIGTERM.
    #[arg(long, default_value = "10s", value_name = "TIME", value_parser = duration)]
    pub shutdown_grace: Duration,
    /// Connections served at once; further ones wait in the listen backlog.
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    pub max_connections: usize,
    /// Requests served on one connection; the last one is answered with
    /// `Connection: close`.
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub max_requests: u32,
    /// Longest request body (by its Content-Length) read and thrown away so that the
    /// connection stays open; a longer or chunked body is left unread and the
    /// connection closes after the response. Handlers never see request bodies.
    #[arg(long, default_value = "1MiB", value_name = "SIZE", value_parser = size)]
    pub max_discarded_body: usize,
    /// Admin socket (a Unix socket, mode 0600, only this user): `sandserve swap`,
    /// `rollback` and `status` use it [default: none, no admin channel]. Refused at
    /// start if the path is taken by anything but a stale socket.
    #[arg(long, value_name = "PATH")]
    pub admin: Option<PathBuf>,
    /// Swap in the --handler and --mount files whenever they change (checked like any
    /// swap; atomic renames included; polled every 250 ms).
    #[arg(long)]
    pub watch: bool,
    /// Append every request head a handler decides to FILE as JSON lines, for
    /// `sandserve diff --requests FILE`; Cookie, Authorization and Proxy-Authorization
    /// are left out.
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
    /// Record this field too, although it is left out by default (repeatable).
    #[arg(long = "record-keep", value_name = "NAME", requires = "record")]
    pub record_keep: Vec<String>,
    /// Recent request heads kept in memory (never on disk) for a swap to replay.
    #[arg(long, default_value_t = 256, value_name = "N")]
    pub shadow_requests: usize,
    /// Previous handler versions kept compiled for rollback.
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub keep_versions: usize,
    /// After a swap, watch the new version for this long ...
    #[arg(long, default_value = "30s", value_name = "TIME", value_parser = duration)]
    pub rollback_window: Duration,
    /// ... or this many of its requests, whichever ends first ...
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub rollback_requests: u64,
    /// ... and swap back on its own when more than this share of its answers are
    /// failures (5xx, traps) while the previous version's were not: `10%`.
    #[arg(long, default_value = "10%", value_name = "PERCENT", value_parser = percent)]
    pub rollback_threshold: f64,
    /// Largest handler component a swap reads.
    #[arg(long, default_value = "256MiB", value_name = "SIZE", value_parser = size)]
    pub max_handler_size: usize,
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
    /// (prefix ending in `/`, file) of each --mount.
    pub mounts: Vec<(String, PathBuf)>,
    pub workers: usize,
    pub min_user_agent_len: u32,
    pub serve_dotfiles: bool,
    pub list_dirs: bool,
    pub fallback: Option<String>,
    /// (glob, value), in the order they are tried.
    pub cache_rules: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub handler_timeout: Duration,
    /// Bytes of linear memory one instance may use.
    pub handler_memory: usize,
    /// Requests one instance may serve (1: a fresh instance per request).
    pub reuse_instances: u32,
    pub header_timeout: Duration,
    pub keepalive_timeout: Duration,
    pub send_timeout: Duration,
    pub shutdown_grace: Duration,
    pub max_connections: usize,
    pub max_requests: u32,
    pub max_discarded_body: u64,
    pub admin: Option<PathBuf>,
    pub watch: bool,
    pub record: Option<PathBuf>,
    pub record_keep: Vec<String>,
    pub shadow_requests: usize,
    pub keep_versions: usize,
    pub rollback_window: Duration,
    pub rollback_requests: u64,
    pub rollback_threshold: f64,
    pub max_handler_size: u64,
    /// Compiled-handler cache; `None` compiles at every start.
    pub cache_dir: Option<PathBuf>,
    pub access_log: bool,
}

impl Config {
    /// The handler's settings, from the command line.
    pub fn policy(&self) -> wit::Policy {
        wit::Policy {
            min_user_agent_len: self.min_user_agent_len,
            serve_dotfiles: self.serve_dotfiles,
            server_name: "sandserve".to_owned(),
            cache_control: self
                .cache_rules
                .iter()
                .map(|(pattern, value)| wit::CacheRule {
                    pattern: pattern.clone(),
                    value: value.clone(),
                })
                .collect(),
            extra_headers: self.headers.clone(),
            list_dirs: self.list_dirs,
            fallback: self.fallback.clone(),
        }
    }

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
        let mut mounts: Vec<(String, PathBuf)> = Vec::new();
        for text in &args.mounts {
            let (prefix, file) = crate::mount::parse_flag(text)?;
            if mounts.iter().any(|(taken, _)| *taken == prefix) {
                bail!("--mount {text}: {prefix} is mounted twice");
            }
            mounts.push((prefix, file));
        }
        if args.watch && matches!(handler, HandlerSource::BuiltIn) && mounts.is_empty() {
            bail!("--watch: there is no --handler or --mount file to watch");
        }
        let workers = args
            .workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        if workers == 0 {
            bail!("--workers 0: need at least one worker");
        }
        if args.max_connections == 0 {
            bail!("--max-connections 0: need at least one connection");
        }
        if !(64 << 10..=4 << 30).contains(&args.handler_memory) {
            bail!("--handler-memory: must be 64KiB to 4GiB");
        }
        if args.max_requests == 0 {
            bail!("--max-requests 0: must be at least 1");
        }
        for (flag, value) in [
            ("--header-timeout", args.header_timeout),
            ("--keepalive-timeout", args.keepalive_timeout),
            ("--send-timeout", args.send_timeout),
        ] {
            if value.is_zero() {
                bail!("{flag} 0: must be more than 0");
            }
        }
        if args.rollback_requests < crate::live::MIN_WATCHED {
            bail!(
                "--rollback-requests {}: must be at least {} (the watch judges a version only after that many requests)",
                args.rollback_requests,
                crate::live::MIN_WATCHED
            );
        }
        if args.reuse_instances == 0 {
            bail!("--reuse-instances 0: must be at least 1 (1 = a fresh instance per request)");
        }
        if args.handler_timeout < Duration::from_millis(1) {
            bail!("--handler-timeout: must be at least 1ms");
        }
        let mut cache_rules = Vec::new();
        for rule in &args.cache_rules {
            let Some((glob, value)) = rule.split_once('=') else {
                bail!("--cache-rule {rule:?}: expected GLOB=VALUE");
            };
            cache_rules.push((glob.trim().to_owned(), field_value("--cache-rule", value)?));
        }
        if let Some(value) = &args.cache_control {
            cache_rules.push(("**".to_owned(), field_value("--cache-control", value)?));
        }
        let headers = args
            .headers
            .iter()
            .map(|h| header(h))
            .collect::<Result<Vec<_>>>()?;
        if let Some(file) = &args.fallback {
            let inside = !file.starts_with('/') && !file.split('/').any(|s| s == "..");
            if !inside || !root.join(file).is_file() {
                bail!("--fallback {file}: not a file below the root");
            }
        }
        Ok(Config {
            root,
            listen,
            handler,
            mounts,
            workers,
            min_user_agent_len: args.min_user_agent_len,
            serve_dotfiles: args.serve_dotfiles,
            list_dirs: args.list_dirs,
            fallback: args.fallback,
            cache_rules,
            headers,
            handler_timeout: args.handler_timeout,
            handler_memory: args.handler_memory,
            reuse_instances: args.reuse_instances,
            header_timeout: args.header_timeout,
            keepalive_timeout: args.keepalive_timeout,
            send_timeout: args.send_timeout,
            shutdown_grace: args.shutdown_grace,
            max_connections: args.max_connections,
            max_requests: args.max_requests,
            max_discarded_body: args.max_discarded_body as u64,
            admin: args.admin,
            watch: args.watch,
            record: args.record,
            record_keep: args.record_keep,
            shadow_requests: args.shadow_requests,
            keep_versions: args.keep_versions,
            rollback_window: args.rollback_window,
            rollback_requests: args.rollback_requests,
            rollback_threshold: args.rollback_threshold,
            max_handler_size: args.max_handler_size as u64,
            cache_dir: if args.no_cache {
                None
            } else {
                args.cache_dir.or_else(crate::cache::default_dir)
            },
            access_log: !args.quiet,
        })
    }
}

/// Fields the server writes itself; adding them with --header would contradict it.
const MANAGED: &[&str] = &[
    "accept-ranges",
    "allow",
    "cache-control",
    "connection",
    "content-encoding",
    "content-length",
    "content-range",
    "content-type",
    "date",
    "etag",
    "keep-alive",
    "last-modified",
    "location",
    "server",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "vary",
    "x-content-type-options",
];

/// `Name: value` for --header: a token, a value without control characters, and not a
/// field the server manages itself.
fn header(text: &str) -> Result<(String, String)> {
    let Some((name, value)) = text.split_once(':') else {
        bail!("--header {text:?}: expected 'Name: value'");
    };
    if name.is_empty() || !name.bytes().all(crate::syntax::is_tchar) {
        bail!("--header {text:?}: {name:?} is not a field name");
    }
    if MANAGED.contains(&name.to_ascii_lowercase().as_str()) {
        bail!(
            "--header {text:?}: sandserve sets {name} itself (for Cache-Control, use --cache-control or --cache-rule)"
        );
    }
    Ok((name.to_owned(), field_value("--header", value)?))
}

/// A field value: trimmed, not empty, no control characters (CR and LF would start a
/// field of their own).
fn field_value(flag: &str, value: &str) -> Result<String> {
    let value = value.trim_matches([' ', '\t']);
    if value.is_empty() || value.chars().any(|c| c.is_control() && c != '\t') {
        bail!("{flag}: {value:?} is not a valid field value");
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_and_values() {
        assert_eq!(
            header("Permissions-Policy: camera=()").unwrap(),
            ("Permissions-Policy".to_owned(), "camera=()".to_owned())
        );
        for bad in [
            "NoColon",
            "Bad Name: x",
            ": x",
            "X: ",
            "X: a\r\nSet-Cookie: y",
            "Content-Length: 5",
            "cache-control: x",
        ] {
            assert!(header(bad).is_err(), "{bad:?}");
        }
    }
}
