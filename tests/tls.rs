//! HTTPS over the real binary, with certificates made for each test (rcgen: a CA, an
//! intermediate, a leaf): a real client (curl) checks the chain against the CA, over
//! TLS 1.2 and 1.3 with ALPN h2 and http/1.1 (each when the client asks); a rustls client keeps a connection open while
//! SIGHUP swaps the certificate; bad certificate and key files are refused at start
//! and leave the old certificate in place on reload; plain HTTP to the port gets a
//! plain 400; a silent client is dropped after the handshake timeout; a large body
//! (copied through the session, not sendfile) arrives whole.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Server, site};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType, IsCa, KeyPair,
};

/// A CA and the files of a leaf it issued (through an intermediate), in `dir`.
struct Pki {
    ca_pem: String,
    /// The leaf then the intermediate, as servers send the chain.
    chain_pem: String,
    key_pem: String,
}

/// Parameters named `name` (rcgen gives every certificate the same name otherwise, and
/// a leaf named as its issuer looks self-signed to OpenSSL).
fn named(name: &str, alt_names: Vec<String>) -> CertificateParams {
    let mut params = CertificateParams::new(alt_names).unwrap();
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, name);
    params
}

fn pki() -> Pki {
    // Each CA its own name: a client trusting another CA of the same name would report a
    // bad signature rather than an unknown issuer.
    static MADE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut ca_params = named(&format!("sandserve test CA {n}"), Vec::new());
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let mut mid_params = named(&format!("sandserve test intermediate {n}"), Vec::new());
    mid_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    let mid = CertifiedIssuer::signed_by(mid_params, KeyPair::generate().unwrap(), &ca).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf_params = named(
        "localhost",
        vec!["localhost".to_owned(), "127.0.0.1".to_owned()],
    );
    let leaf = leaf_params.signed_by(&leaf_key, &mid).unwrap();
    Pki {
        ca_pem: ca.pem(),
        chain_pem: format!("{}{}", leaf.pem(), mid.pem()),
        key_pem: leaf_key.serialize_pem(),
    }
}

/// Writes `pki`'s files into `dir`: (ca.pem, cert.pem, key.pem).
fn install(pki: &Pki, dir: &Path, ca_name: &str) -> (PathBuf, PathBuf, PathBuf) {
    let (ca, cert, key) = (dir.join(ca_name), dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    std::fs::write(&cert, &pki.chain_pem).unwrap();
    std::fs::write(&key, &pki.key_pem).unwrap();
    (ca, cert, key)
}

fn https(site: &common::Site, cert: &Path, key: &Path, args: &[&str]) -> Server {
    let mut all = vec![
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    Server::start(&site.root, &all)
}

/// curl against the server, trusting only `ca`: (exit status, stdout).
fn curl(server: &Server, ca: &Path, path: &str, args: &[&str]) -> (i32, String) {
    let url = format!("https://localhost:{}{path}", server.addr.port());
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "--cacert"])
        .arg(ca)
        .args([
            "--resolve",
            &format!("localhost:{}:127.0.0.1", server.addr.port()),
        ])
        .args(args)
        .arg(url)
        .output()
        .expect("curl is installed (.ci/run installs it)");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn a_real_client_checks_the_chain_over_tls_1_2_and_1_3() {
    let site = site();
    let pki = pki();
    let (ca, cert, key) = install(&pki, site.parent.path(), "ca.pem");
    let s = https(&site, &cert, &key, &[]);
    assert!(
        s.log().contains(&format!("https://{}/", s.addr)),
        "{}",
        s.log()
    );
    let format = ["-w", "\n%{http_code} %{http_version} %{ssl_verify_result}"];
    let (code, out) = curl(&s, &ca, "/a.txt", &format);
    assert_eq!((code, out.as_str()), (0, "hello from a\n\n200 2 0"));
    for versions in [
        ["--tlsv1.3", "--tls-max", "1.3"],
        ["--tlsv1.2", "--tls-max", "1.2"],
    ] {
        let (code, out) = curl(&s, &ca, "/b.txt", &versions);
        assert_eq!((code, out.as_str()), (0, "hello from b\n"), "{versions:?}");
    }
    // ALPN: a client that offers h2 gets it; one that offers only http/1.1, that.
    for (flag, version) in [("--http2", "2"), ("--http1.1", "1.1")] {
        let args = [flag, "-o", "/dev/null", "-w", "%{http_version}"];
        let (code, out) = curl(&s, &ca, "/a.txt", &args);
        assert_eq!((code, out.as_str()), (0, version), "{flag}");
    }
    // Trusting another CA, the same client refuses the server.
    let other = site.parent.path().join("other-ca.pem");
    std::fs::write(&other, pki_ca_only()).unwrap();
    let (code, _) = curl(&s, &other, "/a.txt", &[]);
    assert_eq!(code, 60, "curl: peer certificate cannot be authenticated");
    // The same paths are refused over TLS as over plain HTTP.
    let (_, out) = curl(
        &s,
        &ca,
        "/../secret.txt",
        &["--path-as-is", "-w", "%{http_code}"],
    );
    assert!(!out.contains(common::SECRET), "{out}");
}

fn pki_ca_only() -> String {
    pki().ca_pem
}

/// A rustls client connection to `server`, trusting `ca_pem`, kept open by the caller.
fn client(
    server: &Server,
    ca_pem: &str,
) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = "localhost".try_into().unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let tcp = TcpStream::connect(server.addr).unwrap();
    tcp.set_read_timeout(Some(common::READ_TIMEOUT)).unwrap();
    rustls::StreamOwned::new(conn, tcp)
}

/// One keep-alive GET on `tls`; the response's status line and body.
fn get(tls: &mut rustls::StreamOwned<rustls::ClientConnection, TcpStream>, path: &str) -> String {
    write!(tls, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = tls.read(&mut chunk).expect("a response");
        assert!(n > 0, "closed early: {:?}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&got);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .unwrap()
                .parse()
                .unwrap();
            if body.len() >= length {
                return format!("{} {body}", head.lines().next().unwrap());
            }
        }
    }
}

#[test]
fn sighup_swaps_the_certificate_while_a_connection_stays_open() {
    let site = site();
    let dir = site.parent.path();
    let first = pki();
    let (ca1, cert, key) = install(&first, dir, "ca1.pem");
    let s = https(&site, &cert, &key, &[]);
    let mut open = client(&s, &first.ca_pem);
    assert_eq!(get(&mut open, "/a.txt"), "HTTP/1.1 200 OK hello from a\n");

    let second = pki();
    let (ca2, _, _) = install(&second, dir, "ca2.pem");
    s.signal("HUP");
    let log = s.wait_for_log("TLS certificate re-read");
    assert!(log.contains("TLS certificate re-read from"), "{log}");
    // The connection made before goes on with its session; new ones get the new chain.
    assert_eq!(get(&mut open, "/b.txt"), "HTTP/1.1 200 OK hello from b\n");
    assert_eq!(
        curl(&s, &ca2, "/a.txt", &[]),
        (0, "hello from a\n".to_owned())
    );
    assert_eq!(curl(&s, &ca1, "/a.txt", &[]).0, 60, "the old chain is gone");

    // A key that does not load on reload: the old certificate stays.
    std::fs::write(
        &key,
        "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    s.signal("HUP");
    let log = s.wait_for_log("the old certificate stays");
    assert!(log.contains("--tls-key"), "{log}");
    assert_eq!(
        curl(&s, &ca2, "/a.txt", &[]),
        (0, "hello from a\n".to_owned())
    );
    assert_eq!(get(&mut open, "/a.txt"), "HTTP/1.1 200 OK hello from a\n");
}

#[test]
fn bad_certificate_and_key_files_are_refused_at_start() {
    let site = site();
    let dir = site.parent.path();
    let (_, cert, key) = install(&pki(), dir, "ca.pem");
    let other_key = dir.join("other-key.pem");
    std::fs::write(&other_key, KeyPair::generate().unwrap().serialize_pem()).unwrap();
    let garbage = dir.join("garbage.pem");
    std::fs::write(&garbage, "not PEM at all\n").unwrap();
    let root = site.root.to_str().unwrap();
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    for (args, expected) in [
        (
            vec!["--tls-cert", cert, "--tls-key", other_key.to_str().unwrap()],
            "is not the key of the certificate",
        ),
        (
            vec!["--tls-cert", cert, "--tls-key", garbage.to_str().unwrap()],
            "cannot read a PEM private key",
        ),
        (
            vec!["--tls-cert", garbage.to_str().unwrap(), "--tls-key", key],
            "no certificate in the file",
        ),
        (
            vec!["--tls-cert", "/no/such/cert.pem", "--tls-key", key],
            "--tls-cert /no/such/cert.pem",
        ),
        (
            vec!["--tls-cert", key, "--tls-key", key],
            "no certificate in the file",
        ),
    ] {
        let mut all = vec!["--root", root, "--listen", "127.0.0.1:0"];
        all.extend(args);
        let stderr = common::refuses(&all);
        assert!(stderr.contains(expected), "{all:?}: {stderr}");
    }
}

#[test]
fn plain_http_to_the_tls_port_gets_a_plain_400_and_a_close() {
    let site = site();
    let (_, cert, key) = install(&pki(), site.parent.path(), "ca.pem");
    let s = https(&site, &cert, &key, &[]);
    let answer = String::from_utf8(s.exchange(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")).unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{answer}"
    );
    assert!(
        answer.contains("Connection: close") && answer.ends_with("use an https:// URL.\r\n"),
        "{answer}"
    );
    assert!(!answer.contains("hello from a"));
}

#[test]
fn a_client_that_never_finishes_the_handshake_is_dropped() {
    let site = site();
    let (_, cert, key) = install(&pki(), site.parent.path(), "ca.pem");
    let s = https(&site, &cert, &key, &["--tls-handshake-timeout", "300ms"]);
    for opening in [&b""[..], &[0x16, 0x03, 0x01][..]] {
        let mut tcp = TcpStream::connect(s.addr).unwrap();
        tcp.set_read_timeout(Some(common::READ_TIMEOUT)).unwrap();
        tcp.write_all(opening).unwrap();
        let started = Instant::now();
        let mut buf = [0u8; 64];
        match tcp.read(&mut buf) {
            Ok(0) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            other => panic!("expected a close without an answer, got {other:?}"),
        }
        // Well before the default 10 s: the flag's 300 ms was applied.
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }
}

#[test]
fn large_bodies_and_ranges_arrive_whole_through_the_session() {
    let site = site();
    let pki = pki();
    let (ca, cert, key) = install(&pki, site.parent.path(), "ca.pem");
    let body = common::pattern(3 << 20 | 12345);
    common::write(&site.root, "big.bin", &body);
    let s = https(&site, &cert, &key, &[]);
    let out = site.parent.path().join("got.bin");
    let (code, _) = curl(&s, &ca, "/big.bin", &["-o", out.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(std::fs::read(&out).unwrap() == body, "the body differs");
    let (code, _) = curl(
        &s,
        &ca,
        "/big.bin",
        &["-r", "1000000-1000099", "-o", out.to_str().unwrap()],
    );
    assert_eq!(code, 0);
    assert_eq!(std::fs::read(&out).unwrap(), &body[1_000_000..1_000_100]);
}

#[test]
fn a_config_file_sets_tls_relative_to_itself() {
    let site = site();
    let dir = site.parent.path();
    let pki = pki();
    let (ca, _, _) = install(&pki, dir, "ca.pem");
    let config = dir.join("sandserve.toml");
    std::fs::write(
        &config,
        "root = \"root\"\nlisten = \"127.0.0.1:0\"\n[tls]\ncert = \"cert.pem\"\nkey = \"key.pem\"\nhandshake_timeout = \"5s\"\n",
    )
    .unwrap();
    let mut command = Command::new(common::BIN);
    command.arg("--config").arg(&config);
    let s = Server::spawn(command, dir);
    assert_eq!(
        curl(&s, &ca, "/a.txt", &[]),
        (0, "hello from a\n".to_owned())
    );
    // The key from a flag completes the file's certificate (pairs are checked merged).
    std::fs::write(
        &config,
        "root = \"root\"\nlisten = \"127.0.0.1:0\"\n[tls]\ncert = \"cert.pem\"\n",
    )
    .unwrap();
    let mut command = Command::new(common::BIN);
    command
        .arg("--config")
        .arg(&config)
        .arg("--tls-key")
        .arg(dir.join("key.pem"));
    let s = Server::spawn(command, dir);
    assert_eq!(
        curl(&s, &ca, "/b.txt", &[]),
        (0, "hello from b\n".to_owned())
    );
    // Without it, the file's line is named.
    let stderr = common::refuses(&["--config", config.to_str().unwrap()]);
    assert!(
        stderr.contains(&format!("{}:4: tls.cert: --tls-cert", config.display()))
            && stderr.contains("needs --tls-key too"),
        "{stderr}"
    );
}
