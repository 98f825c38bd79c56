//! The command line as clap reads it: the subcommands and the server's flags, with
//! their help texts and defaults. `config` checks what they say.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::settings::units::{duration, percent, size};

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
    Admin(AdminCommand),
    /// Run FILE.wasm through a conformance suite in-process (fresh instances, a
    /// temporary root) and print a table of rules with the level reached (seed, http,
    /// static). Given a project folder, its built component, at its manifest's level,
    /// and its own requests too. Exit status 1 when below --require.
    Check {
        #[arg(value_name = "FILE.wasm|DIR")]
        file: PathBuf,
        /// The level the handler must reach (default: seed, or the project's level).
        #[arg(long, value_name = "LEVEL")]
        require: Option<String>,
    },
    /// Build the handler project in DIR (default: .) with its language's toolchain,
    /// installed into the tools cache the first time ($SANDSERVE_TOOLS, else
    /// $XDG_CACHE_HOME/sandserve-tools or
    /// ~/.cache/sandserve-tools), into the component its sandserve.toml names. Each
    /// toolchain step is stopped after 15 minutes.
    Build {
        #[arg(value_name = "DIR", default_value = ".")]
        dir: PathBuf,
    },
    /// Serve the project in DIR (default: .) and, on each change of its sources,
    /// build, check, replay the recent requests through old and new, and swap it live
    /// or say why not; one line a step with its time. Flags after `--` go to the
    /// server it starts (waited for up to 5 minutes to serve the first build).
    Dev {
        #[arg(value_name = "DIR", default_value = ".")]
        dir: PathBuf,
        /// Serve this folder with a server of dev's own.
        #[arg(long, value_name = "SITE", required_unless_present = "admin")]
        root: Option<PathBuf>,
        /// Its address (default 127.0.0.1:8080); with --admin, where the running
        /// server listens, for the first answer of each new version.
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
        /// Swap into the server already running with this admin socket instead.
        #[arg(long, value_name = "SOCK", conflicts_with = "root")]
        admin: Option<PathBuf>,
        #[arg(last = true, value_name = "SERVER FLAGS")]
        server_args: Vec<std::ffi::OsString>,
    },
    /// Send the same requests through A.wasm and B.wasm in-process and print what
    /// differs (status, fields but Date, body kind and length), as the swap check
    /// compares. Exit status 1 when any request differs.
    Diff {
        #[arg(value_name = "A.wasm")]
        a: PathBuf,
        #[arg(value_name = "B.wasm")]
        b: PathBuf,
        /// Request heads as JSON lines, {"head": "GET / HTTP/1.1\r\n…"} (as
        /// --record writes them), instead of the built-in corpus.
        #[arg(long, value_name = "FILE")]
        requests: Option<PathBuf>,
        /// Only the recorded heads that this --mount prefix's handler decided.
        #[arg(long, value_name = "PREFIX", requires = "requests")]
        mount: Option<String>,
        /// Serve this directory to both, instead of the built-in corpus's root.
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
    },
    /// Write a handler project into DIR: its source, the contract, a sandserve.toml
    /// (how `sandserve build` builds it, its check level, its own test) and a README.
    New {
        /// rust, python, js or c.
        #[arg(long, value_name = "LANG")]
        lang: String,
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
    /// Print the WIT contract handlers are built against (sandserve:server@0.5.0), or
    /// write it to DIR/sandserve.wit.
    Wit {
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// A frozen older contract instead, still served: 0.4.0, 0.3.0 or 0.2.0.
        #[arg(long, value_name = "VERSION", value_parser = ["0.4.0", "0.3.0", "0.2.0"])]
        compat: Option<String>,
    },
}

/// The server's flags. Each is also `SANDSERVE_<FLAG>` in the environment and a key of
/// the `--config` file (`layers`, `file`).
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Read settings from this TOML file (a flag or environment variable outranks it;
    /// SIGHUP re-reads it). See docs/configuration.md.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print the effective configuration, each value with where it came from (flag,
    /// environment, file:line, default), as a file --config reads back; then exit.
    #[arg(long)]
    pub print_config: bool,
    /// Directory to serve.
    #[arg(long, default_value = "./static", value_name = "DIR")]
    pub root: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    pub listen: String,
    /// Serve HTTPS with this PEM certificate chain (leaf first); needs --tls-key.
    /// SIGHUP re-reads both files (a pair that does not load leaves the old one).
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert (PKCS#8, PKCS#1 or SEC1).
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// Time a client has to complete the TLS handshake.
    #[arg(long, default_value = "10s", value_name = "TIME", value_parser = duration)]
    pub tls_handshake_timeout: Duration,
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
    /// Longest time one handler call may take, running or waiting (a sleep, a read),
    /// before it is stopped (a 500 that closes the connection): `1s`, `250ms`.
    #[arg(long, default_value = "1s", value_name = "TIME", value_parser = duration)]
    pub handler_timeout: Duration,
    /// WASI resources (open files and directories, streams, pollables) one handler
    /// instance may hold at once; an open past it fails inside the handler.
    #[arg(long, default_value_t = 128, value_name = "N")]
    pub handler_descriptors: usize,
    /// Longest a request waits for a free handler instance (all are in use, or its
    /// slot has used its --slot-instances) before it gets 503 with `Retry-After`.
    #[arg(long, default_value = "1s", value_name = "TIME", value_parser = duration)]
    pub instance_wait: Duration,
    /// Handler instances the server may have at once, over every handler and mount; each
    /// reserves address space for --handler-memory. Past them a request waits
    /// (--instance-wait). 1 to 10000.
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub max_instances: u32,
    /// Handler instances one slot (--handler's, or one --mount's) may have in flight at
    /// once, of the --max-instances the server has, so that one slot cannot take them all.
    /// Unset: three quarters of --max-instances (750).
    #[arg(long, value_name = "N")]
    pub slot_instances: Option<u32>,
    /// Linear memory one handler instance may use (beyond it, a 500): `64MiB`, `512KiB`.
    #[arg(long, default_value = "64MiB", value_name = "SIZE", value_parser = size)]
    pub handler_memory: usize,
    /// Dirtied handler memory reset in place when an instance ends (beyond it, pages are
    /// handed back to the kernel and fault in again when touched). Unset: 128KiB when every
    /// handler the server starts with is a component under 1 MiB (the built-in one, Rust
    /// or C), else 2MiB (QuickJS, CPython and other big runtimes): see BENCHMARKS.md.
    #[arg(long, value_name = "SIZE", value_parser = size)]
    pub handler_keep_resident: Option<usize>,
    /// Let one handler instance serve up to N requests, one after the other (opt-in; 1,
    /// the default, is a fresh instance per request). Faster, but state in the
    /// instance's memory then survives from one request to the next: see BENCHMARKS.md.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub reuse_instances: u32,
    /// How handlers are compiled, both by Cranelift and keeping every deadline:
    /// optimized, or fast (no optimisation: less CPU to compile, slower code; what
    /// `sandserve dev` serves with).
    #[arg(long, default_value = "optimized", value_name = "COMPILER", value_parser = ["optimized", "fast"])]
    pub compile: String,
    /// Log what handlers print (WASI stdout and stderr), up to SIZE a request (at most
    /// 1MiB), each line prefixed with the request it came from; never sent to the
    /// client. 0: discarded.
    #[arg(long, default_value = "0", value_name = "SIZE", value_parser = size)]
    pub handler_output: usize,
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
    /// Also speak HTTP/2 on the plain listener to a client that opens with its preface
    /// (prior knowledge, as a proxy in front does); other connections stay HTTP/1.1.
    /// (Over TLS, HTTP/2 is always offered: ALPN `h2`, then `http/1.1`.)
    #[arg(long)]
    pub h2c: bool,
    /// HTTP/2 streams one connection may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS).
    #[arg(long, default_value_t = 128, value_name = "N")]
    pub h2_max_streams: u32,
    /// Largest HTTP/2 request header list, decoded, across all its HEADERS and
    /// CONTINUATION frames (SETTINGS_MAX_HEADER_LIST_SIZE); past it, the stream is refused.
    #[arg(long, default_value = "16KiB", value_name = "SIZE", value_parser = size)]
    pub h2_max_header_list: usize,
    /// Largest HTTP/2 frame the server accepts (SETTINGS_MAX_FRAME_SIZE, 16KiB to 16MiB).
    #[arg(long, default_value = "16KiB", value_name = "SIZE", value_parser = size)]
    pub h2_max_frame_size: usize,
    /// Request-body bytes an HTTP/2 stream may send ahead of the server
    /// (SETTINGS_INITIAL_WINDOW_SIZE); bodies are read and thrown away.
    #[arg(long, default_value = "64KiB", value_name = "SIZE", value_parser = size)]
    pub h2_window: usize,
    /// Response bytes one HTTP/2 stream may have buffered before the client's window
    /// takes them.
    #[arg(long, default_value = "64KiB", value_name = "SIZE", value_parser = size)]
    pub h2_max_send_buffer: usize,
    /// HTTP/2 streams a client may open and reset before the server accepts them;
    /// past it, GOAWAY.
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub h2_max_pending_resets: usize,
    /// HTTP/2 streams the server may reset for a client's protocol errors; past it,
    /// GOAWAY.
    #[arg(long, default_value_t = 1024, value_name = "N")]
    pub h2_max_error_resets: usize,
    /// HTTP/2 streams a client may reset in one second after the server accepted them
    /// (Rapid Reset); past it, GOAWAY.
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub h2_max_resets: u32,
    /// Streams one HTTP/2 connection may have being decided or sent at once (each holds
    /// a handler call, then its file and buffer); its further streams wait
    /// (--instance-wait, then 503). Unset: 32, or --max-instances if that is fewer.
    #[arg(long, value_name = "N")]
    pub h2_max_calls: Option<usize>,
    /// Most bytes the compressed forms of files may hold together (on disk in the
    /// cache directory's forms/, or in memory with --no-cache); the least recently
    /// used leave first. 0: no forms are made (precompressed siblings still are sent).
    #[arg(long, default_value = "64MiB", value_name = "SIZE", value_parser = size)]
    pub compress_cache_max: usize,
    /// Smallest file a compressed form is made of.
    #[arg(long, default_value = "256B", value_name = "SIZE", value_parser = size)]
    pub compress_min: usize,
    /// Largest file a compressed form is made of (files over 128KiB are made in the
    /// background, sent as they are until their form is ready).
    #[arg(long, default_value = "16MiB", value_name = "SIZE", value_parser = size)]
    pub compress_max: usize,
    /// Compressed forms made at once, each on one core of the blocking pool; a request
    /// waits at most 100ms for one to be free, then its file goes as it is.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub compress_jobs: usize,
    /// A media type whose files are sent in a compressed form (`type/*` for every
    /// subtype; repeatable; given, it replaces the default list) [default: text/*,
    /// application/javascript, application/json, application/xml, image/svg+xml,
    /// application/wasm, application/manifest+json].
    #[arg(long = "compress-type", value_name = "TYPE")]
    pub compress_types: Vec<String>,
    /// Admin socket (a Unix socket, mode 0600, only this user): `sandserve swap`,
    /// `rollback` and `status` use it [default: none, no admin channel]. Refused at
    /// start if the path is taken by anything but a stale socket.
    #[arg(long, value_name = "PATH")]
    pub admin: Option<PathBuf>,
    /// Also serve `GET /metrics` (Prometheus text), `/healthz` and `/readyz` on this
    /// TCP address, plain HTTP and nothing else (they are on `--admin` too).
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<String>,
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
    #[arg(long = "record-keep", value_name = "NAME")]
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
    /// Longest a swap's check may run its handlers (the candidate's first instance and
    /// the replay of recent requests through both versions); past it, the swap is
    /// refused and the next one may start.
    #[arg(long, default_value = "30s", value_name = "TIME", value_parser = duration)]
    pub swap_check_timeout: Duration,
    /// Largest handler component a swap reads.
    #[arg(long, default_value = "256MiB", value_name = "SIZE", value_parser = size)]
    pub max_handler_size: usize,
    /// Where compiled handlers are cached between starts
    /// [default: $XDG_CACHE_HOME/sandserve or ~/.cache/sandserve].
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Most bytes the compiled-handler cache keeps on disk; the least recently used
    /// entries are removed past it.
    #[arg(long, default_value = "1GiB", value_name = "SIZE", value_parser = size)]
    pub cache_max: usize,
    /// Compile the handler at every start instead of caching it.
    #[arg(long)]
    pub no_cache: bool,
    /// Do not log a line per request (the same as `--access-log off`).
    #[arg(long, short)]
    pub quiet: bool,
    /// Access-log format: `sandserve` (peer, request line, status, bytes, time, handler
    /// version and time), `common`, `combined` (nginx's, then handler time and
    /// version), `json` or `off`.
    #[arg(long, default_value = "sandserve", value_name = "FORMAT")]
    pub access_log: String,
    /// Write the access log to this file (appended; reopened on SIGUSR1, for rotation)
    /// instead of standard error.
    #[arg(long, value_name = "PATH")]
    pub access_log_file: Option<PathBuf>,
}

/// A clap error on one line, without its `error: `, usage and hints.
pub fn clap_line(error: &clap::Error) -> String {
    // The message is the lines up to the usage ("required arguments: --tls-key <FILE>").
    let text = error.to_string();
    let lines: Vec<&str> = text
        .lines()
        .take_while(|l| !l.is_empty())
        .map(str::trim)
        .collect();
    let line = lines.join(" ");
    line.strip_prefix("error: ").unwrap_or(&line).to_owned()
}

/// What the admin subcommands ask of a running server.
#[derive(Debug, clap::Subcommand)]
pub enum AdminCommand {
    /// Check FILE.wasm against the server's recent requests and make it the live
    /// handler if it passes; prints the check's report. Exit status 1 when refused.
    Swap {
        /// The server's admin socket (its --admin).
        #[arg(long, value_name = "PATH")]
        admin: PathBuf,
        /// Swap even when the candidate fails requests the live handler answers.
        #[arg(long)]
        force: bool,
        /// Swap the handler of this --mount prefix instead of --handler's.
        #[arg(long, value_name = "PREFIX")]
        mount: Option<String>,
        /// The component; the server reads it, so a relative path is made absolute.
        #[arg(value_name = "FILE.wasm")]
        file: PathBuf,
    },
    /// Make the previous handler version live again.
    Rollback {
        #[arg(long, value_name = "PATH")]
        admin: PathBuf,
        /// Roll back the handler of this --mount prefix instead of --handler's.
        #[arg(long, value_name = "PREFIX")]
        mount: Option<String>,
    },
    /// The live handler, the versions kept for rollback and the last swap.
    Status {
        #[arg(long, value_name = "PATH")]
        admin: PathBuf,
        /// Print the server's JSON as it is.
        #[arg(long)]
        json: bool,
    },
}
