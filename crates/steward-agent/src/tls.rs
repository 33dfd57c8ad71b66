//! How the agent trusts the server over HTTPS: by the SHA-256 of its certificate, pinned at
//! enrollment (given with `--pin`, or recorded from the first connection), the way SSH trusts
//! a host key. Certificate authorities, host names and expiry play no part: a self-signed
//! certificate made by `steward server` is the normal case, and the pin says exactly which
//! certificate is the server's. The handshake signature is still verified with the pinned
//! certificate's key, so only the holder of that key can answer.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, SignatureScheme};
use steward_core::CertFingerprint;

/// What a refusal by [`PinVerifier`] looks like in the text of the connection error
/// (rustls prints the type's `Debug`).
pub(crate) const MISMATCH_MARKER: &str = "PinMismatch";

/// A server certificate that is not the pinned one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "the server's certificate {presented} does not match the pinned {pinned}; if the server's \
     certificate was replaced on purpose, enroll this agent again"
)]
pub struct PinMismatch {
    pub presented: CertFingerprint,
    pub pinned: CertFingerprint,
}

/// Accepts exactly one certificate: the pinned one, or (trust on first use, at enrollment)
/// the first one presented, which then becomes the pin.
#[derive(Debug)]
pub struct PinVerifier {
    pin: Mutex<Option<CertFingerprint>>,
    /// The last refusal, so the client can say why a connection failed (rustls reports it
    /// only as text).
    last_mismatch: Mutex<Option<PinMismatch>>,
    algorithms: WebPkiSupportedAlgorithms,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl PinVerifier {
    /// Accepts only the certificate with this fingerprint.
    pub fn pinned(pin: CertFingerprint) -> Arc<PinVerifier> {
        Self::with(Some(pin))
    }

    /// Accepts the first certificate presented and pins it.
    pub fn first_use() -> Arc<PinVerifier> {
        Self::with(None)
    }

    fn with(pin: Option<CertFingerprint>) -> Arc<PinVerifier> {
        Arc::new(PinVerifier {
            pin: Mutex::new(pin),
            last_mismatch: Mutex::new(None),
            algorithms: rustls::crypto::ring::default_provider().signature_verification_algorithms,
        })
    }

    /// The pinned fingerprint, once there is one.
    pub fn pin(&self) -> Option<CertFingerprint> {
        *lock(&self.pin)
    }

    /// The latest certificate refused, if the latest check refused one.
    pub fn last_mismatch(&self) -> Option<PinMismatch> {
        *lock(&self.last_mismatch)
    }

    /// A rustls client configuration (ring, HTTP/1.1) trusting only through this verifier.
    pub fn client_config(self: &Arc<Self>) -> anyhow::Result<rustls::ClientConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier: Arc<dyn ServerCertVerifier> = self.clone();
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| anyhow::anyhow!("TLS protocol versions: {e}"))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }
}

impl ServerCertVerifier for PinVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let presented = CertFingerprint::of_der(end_entity);
        let mut pin = lock(&self.pin);
        let pinned = *pin.get_or_insert(presented);
        if pinned.matches(&presented) {
            *lock(&self.last_mismatch) = None;
            return Ok(ServerCertVerified::assertion());
        }
        let mismatch = PinMismatch { presented, pinned };
        *lock(&self.last_mismatch) = Some(mismatch);
        Err(rustls::Error::InvalidCertificate(CertificateError::Other(
            OtherError(Arc::new(mismatch)),
        )))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(v: &PinVerifier, der: &[u8]) -> Result<ServerCertVerified, rustls::Error> {
        let name = ServerName::try_from("steward.example").unwrap();
        v.verify_server_cert(
            &CertificateDer::from(der.to_vec()),
            &[],
            &name,
            &[],
            UnixTime::now(),
        )
    }

    #[test]
    fn first_use_pins_the_first_certificate() {
        let v = PinVerifier::first_use();
        assert_eq!(v.pin(), None);
        check(&v, b"cert-a").unwrap();
        assert_eq!(v.pin(), Some(CertFingerprint::of_der(b"cert-a")));
        check(&v, b"cert-a").unwrap();
        assert!(check(&v, b"cert-b").is_err());
    }

    #[test]
    fn a_pinned_verifier_refuses_others_and_says_which() {
        let v = PinVerifier::pinned(CertFingerprint::of_der(b"cert-a"));
        let err = check(&v, b"cert-b").unwrap_err().to_string();
        let mismatch = v.last_mismatch().unwrap();
        assert_eq!(mismatch.presented, CertFingerprint::of_der(b"cert-b"));
        assert_eq!(mismatch.pinned, CertFingerprint::of_der(b"cert-a"));
        assert!(err.contains(MISMATCH_MARKER), "{err}");
        check(&v, b"cert-a").unwrap();
        assert_eq!(v.last_mismatch(), None);
    }
}
