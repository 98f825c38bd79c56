//! The validated configuration the server runs with, made from the command line
//! (`cli`): each flag checked, with an error that names it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use sandserve_core::policy;

use crate::sandbox::bindings::wit;
pub use crate::settings::cli::{Args, Cli, Command};

/// Most of what one request's handler output may keep (host memory, per instance).
const MAX_HANDLER_OUTPUT: usize = 1 << 20;

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
    /// WASI resources one instance may hold at once.
    pub handler_descriptors: usize,
    /// Longest wait for a free instance before a 503.
    pub instance_wait: Duration,
    /// `--max-instances`.
    pub max_instances: u32,
    /// Instances one slot may have in flight.
    pub slot_instances: u32,
    /// Bound on a swap's handler runs (first instance and replay).
    pub swap_check_timeout: Duration,
    /// Bytes of linear memory one instance may use.
    pub handler_memory: usize,
    /// `--handler-keep-resident`.
    pub handler_keep_resident: usize,
    /// Requests one instance may serve (1: a fresh instance per request).
    pub reuse_instances: u32,
    /// `--compile`.
    pub compiler: crate::sandbox::engine::Compiler,
    /// `--handler-output`: bytes logged of what one request's handler prints.
    pub handler_output: usize,
    pub header_timeout: Duration,
    pub keepalive_timeout: Duration,
    pub send_timeout: Duration,
    pub shutdown_grace: Duration,
    pub max_connections: usize,
    pub max_requests: u32,
    pub max_discarded_body: u64,
    pub admin: Option<PathBuf>,
    pub metrics: Option<SocketAddr>,
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
    /// Bytes the compiled-handler cache may keep.
    pub cache_max: u64,
    pub access_log: crate::observe::access::Format,
    pub access_log_file: Option<PathBuf>,
    /// The `--h2-*` limits.
    pub h2: crate::settings::http2::Http2,
    /// The `--compress-*` settings.
    pub compress: crate::settings::compress::Compress,
    /// `--tls-cert` and `--tls-key`: HTTPS when set.
    pub tls: Option<(PathBuf, PathBuf)>,
    pub tls_handshake_timeout: Duration,
    /// The `--config` file, re-read at SIGHUP.
    pub file: Option<PathBuf>,
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
            // No forms made: the handler is told to ask for none.
            compress: if self.compress.cache_max > 0 {
                self.compress.types.clone()
            } else {
                Vec::new()
            },
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
        let access_log = if args.quiet {
            crate::observe::access::Format::Off
        } else {
            crate::observe::access::Format::parse(&args.access_log)?
        };
        let metrics = args
            .metrics
            .as_deref()
            .map(|addr| {
                addr.parse()
                    .with_context(|| format!("--metrics {addr}: not an IP:port address"))
            })
            .transpose()?;
        // Checked after --max-instances, which --h2-max-calls is measured against.
        if !(1..=10_000).contains(&args.max_instances) {
            bail!("--max-instances {}: must be 1 to 10000", args.max_instances);
        }
        let h2 = crate::settings::http2::Http2::from_args(&args)?;
        let compress = crate::settings::compress::Compress::from_args(&args)?;
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
            let (prefix, file) = mount(text)?;
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
        if args.rollback_requests < crate::versions::live::MIN_WATCHED {
            bail!(
                "--rollback-requests {}: must be at least {} (the watch judges a version only after that many requests)",
                args.rollback_requests,
                crate::versions::live::MIN_WATCHED
            );
        }
        if args.handler_output > MAX_HANDLER_OUTPUT {
            bail!(
                "--handler-output {}: at most 1MiB (host memory per instance in flight)",
                args.handler_output
            );
        }
        if args.reuse_instances == 0 {
            bail!("--reuse-instances 0: must be at least 1 (1 = a fresh instance per request)");
        }
        // Pairs are checked here, once every layer is merged: the file may give one
        // half and a flag the other.
        match (&args.tls_cert, &args.tls_key) {
            (Some(cert), None) => bail!("--tls-cert {}: needs --tls-key too", cert.display()),
            (None, Some(key)) => bail!("--tls-key {}: needs --tls-cert too", key.display()),
            _ => {}
        }
        if let (true, Some(dir)) = (args.no_cache, &args.cache_dir) {
            bail!(
                "--cache-dir {}: cannot be used with --no-cache",
                dir.display()
            );
        }
        if let (Some(name), None) = (args.record_keep.first(), &args.record) {
            bail!("--record-keep {name}: needs --record");
        }
        if args.tls_handshake_timeout.is_zero() {
            bail!("--tls-handshake-timeout 0: must be more than 0");
        }
        if args.handler_timeout < Duration::from_millis(1) {
            bail!("--handler-timeout: must be at least 1ms");
        }
        if args.handler_descriptors == 0 {
            bail!("--handler-descriptors 0: must be at least 1");
        }
        if let Some(size) = args.handler_keep_resident
            && size > args.handler_memory
        {
            bail!(
                "--handler-keep-resident {size}: must be at most --handler-memory ({} bytes)",
                args.handler_memory
            );
        }
        let instances = args.max_instances;
        // Unset: a share of the pool, so that one slot cannot take it all.
        let slot_instances = args.slot_instances.unwrap_or((instances * 3 / 4).max(1));
        if !(1..=instances).contains(&slot_instances) {
            bail!(
                "--slot-instances {slot_instances}: must be 1 to {instances} (the instances the server has)"
            );
        }
        if args.swap_check_timeout.is_zero() {
            bail!("--swap-check-timeout 0: must be more than 0");
        }
        // The syntax is the core's, shared with the wasi:http adapter's environment.
        let mut cache_rules = Vec::new();
        for rule in &args.cache_rules {
            cache_rules.push(policy::cache_rule(rule).map_err(|e| anyhow!("--cache-rule {e}"))?);
        }
        if let Some(value) = &args.cache_control {
            let value = policy::field_value(value).map_err(|e| anyhow!("--cache-control: {e}"))?;
            cache_rules.push(("**".to_owned(), value));
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
        // Unset: by the size of the components the server starts with.
        let handler_keep_resident = args.handler_keep_resident.unwrap_or_else(|| {
            let mut sizes: Vec<u64> = mounts.iter().map(|(_, file)| file_size(file)).collect();
            if let HandlerSource::File(file) = &handler {
                sizes.push(file_size(file));
            }
            crate::sandbox::engine::keep_resident_for(sizes)
        });
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
            handler_descriptors: args.handler_descriptors,
            instance_wait: args.instance_wait,
            max_instances: args.max_instances,
            slot_instances,
            swap_check_timeout: args.swap_check_timeout,
            handler_memory: args.handler_memory,
            handler_keep_resident,
            reuse_instances: args.reuse_instances,
            compiler: crate::sandbox::engine::Compiler::parse(&args.compile)
                .map_err(|e| anyhow::anyhow!("--compile {e}"))?,
            handler_output: args.handler_output,
            header_timeout: args.header_timeout,
            keepalive_timeout: args.keepalive_timeout,
            send_timeout: args.send_timeout,
            shutdown_grace: args.shutdown_grace,
            max_connections: args.max_connections,
            max_requests: args.max_requests,
            max_discarded_body: args.max_discarded_body as u64,
            h2,
            compress,
            admin: args.admin,
            metrics,
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
                args.cache_dir.or_else(crate::sandbox::cache::default_dir)
            },
            cache_max: args.cache_max as u64,
            access_log,
            access_log_file: args.access_log_file,
            tls: args.tls_cert.zip(args.tls_key),
            tls_handshake_timeout: args.tls_handshake_timeout,
            file: args.config,
        })
    }
}

/// `Name: value` for --header (the core's syntax).
fn header(text: &str) -> Result<(String, String)> {
    policy::extra_header(text).map_err(|e| anyhow!("--header {e}"))
}

/// `PREFIX=FILE.wasm` of `--mount`: the prefix a path of whole segments (visible ASCII
/// without `?`, `#`, `%`, empty, `.` or `..` segments, and not `/` alone, which is
/// `--handler`'s), given its final `/`; the file one that exists.
fn mount(text: &str) -> Result<(String, PathBuf)> {
    let Some((prefix, file)) = text.split_once('=') else {
        bail!("--mount {text}: expected PREFIX=FILE.wasm, e.g. /py/=handler.wasm");
    };
    let segments: Vec<&str> = prefix
        .strip_suffix('/')
        .unwrap_or(prefix)
        .split('/')
        .skip(1)
        .collect();
    let fine = prefix.starts_with('/')
        && !segments.is_empty()
        && segments
            .iter()
            .all(|s| !s.is_empty() && *s != "." && *s != "..")
        && prefix
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"?#%".contains(&b));
    if !fine {
        bail!(
            "--mount {text}: the prefix must be a path of whole segments like /py/ \
             (not /, no ., .., empty segments, ?, # or %)"
        );
    }
    let file = PathBuf::from(file);
    if !file.is_file() {
        bail!("--mount {text}: {} is not a file", file.display());
    }
    Ok((format!("/{}/", segments.join("/")), file))
}

/// A component file's size in bytes (unreadable: taken as large; its load fails later
/// with its own message).
fn file_size(file: &Path) -> u64 {
    std::fs::metadata(file).map_or(u64::MAX, |m| m.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The handlers' sizes pick the default: the built-in handler and small components
    /// get the small budget, any big runtime the large one.
    #[test]
    fn keep_resident_by_component_size() {
        use crate::sandbox::engine::{KEEP_RESIDENT_MEMORY, keep_resident_for};
        assert_eq!(keep_resident_for([]), KEEP_RESIDENT_MEMORY);
        assert_eq!(keep_resident_for([250_000, 222_000]), KEEP_RESIDENT_MEMORY);
        assert_eq!(keep_resident_for([250_000, 1_700_000]), 2 << 20);
    }

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

    #[test]
    fn mounts() {
        let file = tempfile::NamedTempFile::new().unwrap();
        let path = file.path().display().to_string();
        assert_eq!(mount(&format!("/py={path}")).unwrap().0, "/py/");
        assert_eq!(mount(&format!("/a/b/={path}")).unwrap().0, "/a/b/");
        for bad in [
            "/", "py/", "/a//b/", "/py//", "/a/../b/", "/%70y/", "/a?b/", "/./",
        ] {
            assert!(mount(&format!("{bad}={path}")).is_err(), "{bad}");
        }
        assert!(mount("/py/").is_err());
        assert!(mount("/py/=/no/such/file.wasm").is_err());
    }
}
