//! Framing and closing, tested without a server: where a head ends, blank lines, and a
//! TLS close that cannot be written.

use super::*;

#[test]
fn finds_the_end_of_a_head() {
    let mut s = 0;
    assert_eq!(
        head_end(b"GET / HTTP/1.1\r\nHost: a\r\n\r\nNEXT", &mut s),
        Some(27)
    );
    let mut s = 0;
    assert_eq!(head_end(b"GET / HTTP/1.1\nHost: a\n\n", &mut s), Some(24));
    let mut s = 0;
    assert_eq!(head_end(b"GET / HTTP/1.1\r\nHost: a\r\n", &mut s), None);
    assert_eq!(s, 25);
    // Scanning resumes where it stopped, but still sees a CRLF split across reads.
    assert_eq!(
        head_end(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", &mut s),
        Some(27)
    );
}

#[test]
fn skips_blank_lines() {
    assert_eq!(leading_blank_lines(b"\r\n\n\r\nGET"), 5);
    assert_eq!(leading_blank_lines(b"\r"), 0);
    assert_eq!(leading_blank_lines(b"GET"), 0);
}

/// A TLS close whose `close_notify` cannot be written — the client stopped reading
/// and every buffer between us is full — ends within `LINGER` instead of holding
/// the task and its connection slot (before, the shutdown waited for ever).
#[tokio::test]
async fn a_tls_close_is_bounded_when_the_client_stops_reading() {
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    let cert = params.self_signed(&key).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    let loaded = crate::net::tls::load(&cert_path, &key_path).unwrap();
    let tls = crate::net::tls::Tls::new(loaded, Duration::from_secs(5)).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();

    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.der().clone()).unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let client = async {
        let tcp = socket.connect(addr).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        connector.connect(name, tcp).await.unwrap()
    };
    let server = async {
        let (tcp, _) = listener.accept().await.unwrap();
        tls.accept(tcp).await.expect("the handshake")
    };
    // The client is kept, and never reads.
    let (_client, mut stream) = tokio::join!(client, server);
    let chunk = vec![0u8; 16 << 10];
    let filled = Instant::now();
    while timeout(Duration::from_millis(200), stream.write_all(&chunk))
        .await
        .is_ok_and(|written| written.is_ok())
    {
        assert!(filled.elapsed() < Duration::from_secs(20), "never filled");
    }
    let started = Instant::now();
    let closed = timeout(3 * LINGER, shutdown_bounded(&mut stream)).await;
    assert!(
        closed.is_ok(),
        "the TLS close was still waiting after {:?}",
        3 * LINGER
    );
    assert!(started.elapsed() < LINGER + Duration::from_secs(1));
}
