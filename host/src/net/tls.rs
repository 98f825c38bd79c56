//! HTTPS (`--tls-cert`, `--tls-key`): rustls, TLS 1.2 and 1.3, ALPN `h2` and `http/1.1`
//! (HTTP/2 for a client that offers it, as browsers do). Each
//! accepted connection's handshake runs in its own task, bounded by
//! `--tls-handshake-timeout`; a plain-HTTP request sent to the port gets a plain 400
//! saying so and the connection closes (as nginx does), instead of a handshake error.
//! The certificate is swapped whole (SIGHUP): connections already open keep theirs,
//! new handshakes get the new one; one that does not load leaves the old in place.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::TlsAcceptor;

use crate::net::stream::Stream;

/// The first byte of a TLS record carrying a handshake (the ClientHello).
const HANDSHAKE_RECORD: u8 = 0x16;

const PLAIN_REFUSAL: &[u8] = b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 46\r\nConnection: close\r\n\r\nThis port speaks HTTPS: use an https:// URL.\r\n";

/// The certificate and key files, read and checked against each other.
pub struct Loaded {
    key: Arc<CertifiedKey>,
    files: (PathBuf, PathBuf),
}

/// Reads a PEM certificate chain (leaf first) and its PEM private key (PKCS#8, PKCS#1
/// or SEC1); errors name the flag and the file.
pub fn load(cert: &Path, key: &Path) -> Result<Loaded> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect())
        .map_err(|e| {
            anyhow!(
                "--tls-cert {}: cannot read a PEM certificate: {e}",
                cert.display()
            )
        })?;
    if chain.is_empty() {
        bail!("--tls-cert {}: no certificate in the file", cert.display());
    }
    let private = PrivateKeyDer::from_pem_file(key).map_err(|e| {
        anyhow!(
            "--tls-key {}: cannot read a PEM private key: {e}",
            key.display()
        )
    })?;
    let certified = CertifiedKey::from_der(chain, private, &provider()).map_err(|e| {
        let why = match e {
            rustls::Error::InconsistentKeys(_) => "is not the key of the certificate".to_owned(),
            e => e.to_string(),
        };
        anyhow!(
            "--tls-key {}: {why} in --tls-cert {}",
            key.display(),
            cert.display()
        )
    })?;
    Ok(Loaded {
        key: Arc::new(certified),
        files: (cert.to_owned(), key.to_owned()),
    })
}

fn provider() -> CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// What rustls asks for the certificate at each handshake: the one in force now.
struct Current(RwLock<Loaded>);

impl fmt::Debug for Current {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the current certificate")
    }
}

impl ResolvesServerCert for Current {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.read().unwrap_or_else(|e| e.into_inner()).key.clone())
    }
}

pub struct Tls {
    acceptor: TlsAcceptor,
    current: Arc<Current>,
    handshake_timeout: Duration,
}

impl Tls {
    pub fn new(loaded: Loaded, handshake_timeout: Duration) -> Result<Tls> {
        let current = Arc::new(Current(RwLock::new(loaded)));
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(provider()))
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .context("TLS: the protocol versions")?
            .with_no_client_auth()
            .with_cert_resolver(current.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Tls {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            current,
            handshake_timeout,
        })
    }

    /// The files the certificate in force came from.
    pub fn files(&self) -> (PathBuf, PathBuf) {
        self.current
            .0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .files
            .clone()
    }

    /// Re-reads the files in force (SIGHUP); on an error the old certificate stays.
    pub fn reload(&self) -> Result<()> {
        let (cert, key) = self.files();
        self.install(load(&cert, &key)?);
        Ok(())
    }

    /// New handshakes get `loaded` from now on.
    pub fn install(&self, loaded: Loaded) {
        *self.current.0.write().unwrap_or_else(|e| e.into_inner()) = loaded;
    }

    /// The handshake on an accepted connection; `None` when it failed, timed out, or
    /// the client spoke plain HTTP (answered, then closed).
    pub async fn accept(&self, tcp: TcpStream) -> Option<Stream> {
        // One deadline for the first byte and the whole handshake.
        let deadline = tokio::time::Instant::now() + self.handshake_timeout;
        let mut first = [0u8; 1];
        match tokio::time::timeout_at(deadline, tcp.peek(&mut first)).await {
            Ok(Ok(1)) => {}
            _ => return None,
        }
        if first[0] != HANDSHAKE_RECORD {
            refuse_plain(tcp).await;
            return None;
        }
        match tokio::time::timeout_at(deadline, self.acceptor.accept(tcp)).await {
            Ok(Ok(tls)) => Some(Stream::Tls(Box::new(tls))),
            _ => None,
        }
    }
}

/// The plain 400, then a half-close and a short drain, so that the client reads the
/// answer instead of a reset from the bytes it sent and we did not read.
async fn refuse_plain(mut tcp: TcpStream) {
    if tcp.write_all(PLAIN_REFUSAL).await.is_err() || tcp.shutdown().await.is_err() {
        return;
    }
    let mut sink = [0u8; 4096];
    let _ = timeout(Duration::from_secs(1), async {
        while matches!(tcp.read(&mut sink).await, Ok(n) if n > 0) {}
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plain_refusal_says_its_length() {
        let text = std::str::from_utf8(PLAIN_REFUSAL).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.contains(&format!("Content-Length: {}", body.len())));
    }
}
