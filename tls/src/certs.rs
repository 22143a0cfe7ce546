//! What a `tls://` listener holds once: its certificate and the shared rustls config.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;

/// How long a client has to complete the TLS handshake. A client that connects and says
/// nothing must not hold a connection; ten seconds is far beyond any real handshake,
/// even across the world.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A certificate or key that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// A PEM file could not be read or parsed.
    #[error("cannot read {what} from {path}: {reason}")]
    Pem {
        /// `certificate` or `private key`.
        what: &'static str,
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The certificate file held no certificate.
    #[error("{0} holds no certificate")]
    NoCertificate(String),
    /// The certificate and key do not go together, or rustls refused them.
    #[error("the certificate and key cannot be used: {0}")]
    Rejected(String),
    /// A self-signed certificate could not be generated.
    #[error("cannot generate a certificate: {0}")]
    Generate(String),
}

/// A listener's TLS: the rustls config its connections share, and the certificate it
/// presents (for the fingerprint and `--tls-write-cert`).
#[derive(Debug, Clone)]
pub struct ServerTls {
    config: Arc<ServerConfig>,
    certificate: CertificateDer<'static>,
    /// The certificate as PEM, to write for clients that must trust it.
    pem: String,
    /// Whether it was generated at start (and so is self-signed).
    generated: bool,
}

impl ServerTls {
    /// From a PEM certificate chain and a PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Self, CertError> {
        let pem_error = |what, path: &Path, e: &dyn std::fmt::Display| CertError::Pem {
            what,
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
            .map_err(|e| pem_error("certificate", cert, &e))?
            .collect::<Result<_, _>>()
            .map_err(|e| pem_error("certificate", cert, &e))?;
        let first = chain
            .first()
            .cloned()
            .ok_or_else(|| CertError::NoCertificate(cert.display().to_string()))?;
        let key =
            PrivateKeyDer::from_pem_file(key).map_err(|e| pem_error("private key", key, &e))?;
        let pem = std::fs::read_to_string(cert).map_err(|e| pem_error("certificate", cert, &e))?;
        Ok(ServerTls {
            config: server_config(chain, key)?,
            certificate: first,
            pem,
            generated: false,
        })
    }

    /// A certificate generated now for `names` (DNS names and IP addresses), self-signed,
    /// with a fresh key that lives only in memory.
    pub fn self_signed(names: &[String]) -> Result<Self, CertError> {
        let generated = rcgen::generate_simple_self_signed(names.to_vec())
            .map_err(|e| CertError::Generate(e.to_string()))?;
        let certificate = generated.cert.der().clone();
        let key = PrivateKeyDer::Pkcs8(generated.key_pair.serialize_der().into());
        Ok(ServerTls {
            config: server_config(vec![certificate.clone()], key)?,
            certificate,
            pem: generated.cert.pem(),
            generated: true,
        })
    }

    /// The rustls config, for [`Tls::new`](crate::Tls::new).
    pub(crate) fn config(&self) -> Arc<ServerConfig> {
        Arc::clone(&self.config)
    }

    /// The SHA-256 fingerprint of the certificate presented, as `AB:CD:…`.
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.certificate)
    }

    /// The certificate presented, as PEM (never the key).
    pub fn certificate_pem(&self) -> &str {
        &self.pem
    }

    /// Whether the certificate was generated at start, self-signed.
    pub fn is_generated(&self) -> bool {
        self.generated
    }
}

/// The SHA-256 fingerprint of a DER certificate, as uppercase hex pairs joined by `:`, the
/// form `openssl x509 -fingerprint -sha256` prints.
pub fn fingerprint(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    let hex: Vec<String> = digest.as_ref().iter().map(|b| format!("{b:02X}")).collect();
    hex.join(":")
}

fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<ServerConfig>, CertError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| CertError::Rejected(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| CertError::Rejected(e.to_string()))?;
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_certificate_has_a_sha256_fingerprint_and_no_key_in_its_pem() {
        let tls = ServerTls::self_signed(&["localhost".into(), "127.0.0.1".into()]).unwrap();
        let fp = tls.fingerprint();
        assert_eq!(fp.len(), 32 * 3 - 1, "{fp}");
        assert!(fp.split(':').all(|pair| pair.len() == 2));
        assert!(tls
            .certificate_pem()
            .starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(!tls.certificate_pem().contains("PRIVATE KEY"));
        assert!(tls.is_generated());
    }

    #[test]
    fn missing_files_are_named_in_the_error() {
        let error = ServerTls::from_pem_files(
            Path::new("/nonexistent/cert.pem"),
            Path::new("/nonexistent/key.pem"),
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("/nonexistent/cert.pem"),
            "{error}"
        );
    }
}
