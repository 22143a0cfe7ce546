//! The client side, for `reverb client` and `reverb bench` against `tls://` servers: a
//! [`ClientTls`] config (trusting a CA file, the system's roots, or — with `--insecure` —
//! any certificate), and a [`ClientSession`]: one TLS client session as bytes in and bytes
//! out, driven from memory like the server's layer, so any event loop can drive it.

use std::io::{self, BufRead, Write};
use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

use crate::certs::CertError;

/// Records queued to write before [`ClientSession::send`] takes no more plaintext: a
/// few records' worth, as on the server side.
pub const QUEUE_LIMIT: usize = 64 * 1024;

/// A client's TLS settings, shared by all its connections.
#[derive(Debug, Clone)]
pub struct ClientTls {
    config: Arc<ClientConfig>,
}

impl ClientTls {
    /// Trusting the certificates in a PEM file (a server's own, or a CA's).
    pub fn trusting(ca: &Path) -> Result<Self, CertError> {
        let pem_error = |e: &dyn std::fmt::Display| CertError::Pem {
            what: "certificate",
            path: ca.display().to_string(),
            reason: e.to_string(),
        };
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(ca).map_err(|e| pem_error(&e))? {
            roots
                .add(cert.map_err(|e| pem_error(&e))?)
                .map_err(|e| pem_error(&e))?;
        }
        if roots.is_empty() {
            return Err(CertError::NoCertificate(ca.display().to_string()));
        }
        Ok(Self::with_roots(roots))
    }

    /// Accepting any certificate, as `curl --insecure` does: for a server's self-signed
    /// certificate on a test bench. The handshake's signatures are still checked, so the
    /// session is encrypted; only who the server is goes unverified.
    pub fn insecure() -> Self {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = Arc::new(AnyCertificate(Arc::clone(&provider)));
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("invariant: the ring provider supports the default versions")
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        ClientTls {
            config: Arc::new(config),
        }
    }

    fn with_roots(roots: RootCertStore) -> Self {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("invariant: the ring provider supports the default versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        ClientTls {
            config: Arc::new(config),
        }
    }

    /// A new session with the server named `host` (a DNS name or an IP address, checked
    /// against its certificate).
    pub fn session(&self, host: &str) -> Result<ClientSession, CertError> {
        let name = ServerName::try_from(host.to_owned())
            .map_err(|e| CertError::Rejected(format!("{host:?}: {e}")))?;
        let conn = ClientConnection::new(Arc::clone(&self.config), name)
            .map_err(|e| CertError::Rejected(e.to_string()))?;
        let mut session = ClientSession {
            conn,
            out: Vec::new(),
            head: 0,
            closed: false,
        };
        // The ClientHello is ready at once.
        session.flush();
        Ok(session)
    }
}

/// One TLS client session, bytes in and bytes out.
///
/// Feed what the socket read to [`receive`](Self::receive) and take the plaintext from
/// [`plaintext`](Self::plaintext) / [`consume`](Self::consume); hand plaintext to
/// [`send`](Self::send), and write [`transmit`](Self::transmit) to the socket, reporting
/// what went with [`transmitted`](Self::transmitted).
#[derive(Debug)]
pub struct ClientSession {
    conn: ClientConnection,
    out: Vec<u8>,
    head: usize,
    closed: bool,
}

impl ClientSession {
    /// Ciphertext read from the socket. Returns how much was taken (rustls stops taking
    /// while its plaintext buffer is full: read the plaintext first). An error is the
    /// server's TLS failing (a bad certificate, an alert).
    pub fn receive(&mut self, mut bytes: &[u8]) -> Result<usize, String> {
        let total = bytes.len();
        while !bytes.is_empty() {
            match self.conn.read_tls(&mut bytes) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            self.conn.process_new_packets().map_err(|e| e.to_string())?;
        }
        self.flush();
        Ok(total - bytes.len())
    }

    /// The socket reached its end.
    pub fn receive_end(&mut self) {
        let _ = self.conn.read_tls(&mut &[][..]);
    }

    /// Plaintext received and not yet consumed; empty when there is none. `None` once
    /// the server closed the session (close_notify, or the socket's end after it).
    pub fn plaintext(&mut self) -> Option<&[u8]> {
        match self.conn.reader().into_first_chunk() {
            Ok(chunk) => Some(chunk),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Some(&[]),
            Err(_) => None,
        }
    }

    /// Marks `n` bytes of [`plaintext`](Self::plaintext) as read.
    pub fn consume(&mut self, n: usize) {
        self.conn.reader().consume(n);
    }

    /// Hands plaintext to the session; returns how much it took: nothing while
    /// [`QUEUE_LIMIT`] bytes of records wait to be written, so a server that stops
    /// reading stops the sender too (backpressure), as over plain TCP.
    pub fn send(&mut self, plaintext: &[u8]) -> usize {
        if self.out.len() - self.head >= QUEUE_LIMIT {
            return 0;
        }
        let n = self.conn.writer().write(plaintext).unwrap_or(0);
        self.flush();
        n
    }

    /// Sends close_notify after everything sent so far: the TLS half-close.
    pub fn close(&mut self) {
        if !self.closed {
            self.closed = true;
            self.conn.send_close_notify();
            self.flush();
        }
    }

    /// Ciphertext to write to the socket.
    pub fn transmit(&self) -> &[u8] {
        &self.out[self.head..]
    }

    /// `n` bytes of [`transmit`](Self::transmit) were written.
    pub fn transmitted(&mut self, n: usize) {
        self.head = (self.head + n).min(self.out.len());
        self.flush();
    }

    /// Whether the handshake is still under way.
    pub fn is_handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    fn flush(&mut self) {
        if self.head == self.out.len() {
            self.out.clear();
            self.head = 0;
        }
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut self.out) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    }
}

/// `--insecure`: any certificate is accepted; the handshake's signatures are still
/// verified with the provider's algorithms.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ServerTls, Tls};
    use reverb_core::{Config, Echo, Instant, Layer};

    /// Moves bytes between a client session and a server stack until both are quiet.
    fn exchange(client: &mut ClientSession, server: &mut Tls<Echo>, received: &mut Vec<u8>) {
        for _ in 0..1000 {
            let mut moved = false;
            let up = client.transmit().to_vec();
            if !up.is_empty() {
                let n = server.receive(Instant::ZERO, &up);
                client.transmitted(n);
                moved |= n > 0;
            }
            let down = server.transmit().to_vec();
            if !down.is_empty() {
                let n = client.receive(&down).expect("the server speaks TLS");
                server.transmitted(Instant::ZERO, n);
                moved |= n > 0;
            }
            while let Some(text) = client.plaintext().filter(|t| !t.is_empty()) {
                let n = text.len();
                received.extend_from_slice(text);
                client.consume(n);
                moved = true;
            }
            if !moved {
                return;
            }
        }
        panic!("never settled");
    }

    #[test]
    fn a_client_session_trusting_the_servers_certificate_gets_its_echo() {
        let server_tls = ServerTls::self_signed(&["localhost".into()]).unwrap();
        let pem = std::env::temp_dir().join(format!("reverb-tls-{}.pem", std::process::id()));
        std::fs::write(&pem, server_tls.certificate_pem()).unwrap();
        let config = Config::default().validate().unwrap();
        for client_tls in [ClientTls::trusting(&pem).unwrap(), ClientTls::insecure()] {
            let mut server = Tls::new(
                &server_tls,
                Instant::ZERO,
                Echo::new(config.clone(), Instant::ZERO),
            );
            let mut client = client_tls.session("localhost").unwrap();
            assert_eq!(client.send(b"ping\n"), 5);
            let mut received = Vec::new();
            exchange(&mut client, &mut server, &mut received);
            assert!(!client.is_handshaking());
            assert_eq!(received, b"ping\n");
        }
        let _ = std::fs::remove_file(pem);
    }

    #[test]
    fn a_client_that_trusts_another_certificate_refuses_the_server() {
        let server_tls = ServerTls::self_signed(&["localhost".into()]).unwrap();
        let other = ServerTls::self_signed(&["localhost".into()]).unwrap();
        let pem = std::env::temp_dir().join(format!("reverb-tls-other-{}.pem", std::process::id()));
        std::fs::write(&pem, other.certificate_pem()).unwrap();
        let config = Config::default().validate().unwrap();
        let mut server = Tls::new(&server_tls, Instant::ZERO, Echo::new(config, Instant::ZERO));
        let mut client = ClientTls::trusting(&pem)
            .unwrap()
            .session("localhost")
            .unwrap();
        let hello = client.transmit().to_vec();
        let n = server.receive(Instant::ZERO, &hello);
        client.transmitted(n);
        let reply = server.transmit().to_vec();
        let error = client.receive(&reply).unwrap_err();
        assert!(error.contains("certificate"), "{error}");
        let _ = std::fs::remove_file(pem);
    }
}
