//! TLS certificates: a handshake with the server, then its certificate judged — an
//! untrusted chain or a wrong name is critical with the reason, and the leaf's expiry is
//! judged against warning and critical thresholds in days.
//!
//! The handshake itself accepts any certificate ([`AcceptForInspection`]) and the chain is
//! verified afterwards with rustls's own verifier: that way an expired or untrusted
//! certificate can still be read (its expiry date goes into the summary) and the reason is
//! rustls's precise error rather than a failed handshake. Nothing is sent over such a
//! connection: it is closed once the certificate is read.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use serde::{Deserialize, Serialize};

use crate::cert::{self, Expiry};
use crate::judged::Judged;
use crate::roots;
use crate::tcp::check_host;

fn default_port() -> u16 {
    443
}
fn default_warn_days() -> u32 {
    14
}
fn default_critical_days() -> u32 {
    3
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tls {
    pub host: String,
    #[serde(default = "default_port")]
    pub port: u16,
    /// The name the certificate must be for, when not `host` (a probe by address).
    #[serde(default)]
    pub server_name: Option<String>,
    #[serde(default = "default_warn_days")]
    pub warn_days: u32,
    #[serde(default = "default_critical_days")]
    pub critical_days: u32,
    /// An extra CA to trust (PEM), for an internal CA.
    #[serde(default)]
    pub ca_pem: Option<String>,
}

impl Default for Tls {
    fn default() -> Self {
        Self {
            host: String::new(),
            port: default_port(),
            server_name: None,
            warn_days: default_warn_days(),
            critical_days: default_critical_days(),
            ca_pem: None,
        }
    }
}

impl Tls {
    pub(crate) fn check(&self) -> Result<(), String> {
        check_host("host", &self.host)?;
        if self.port == 0 {
            return Err("port is 1 to 65535".into());
        }
        if let Some(name) = &self.server_name {
            server_name("server_name", name)?;
        } else {
            server_name("host", &self.host)?;
        }
        check_days(Some(self.warn_days), Some(self.critical_days), "")?;
        if let Some(pem) = &self.ca_pem {
            roots::parse_pem(pem)?;
        }
        Ok(())
    }

    fn name(&self) -> &str {
        self.server_name.as_deref().unwrap_or(&self.host)
    }
}

/// Thresholds in days: at most ten years, and the warning earlier than the critical one.
/// `prefix` is "" for a TLS probe (`warn_days`) and "cert_" for HTTP (`cert_warn_days`).
pub(crate) fn check_days(
    warn: Option<u32>,
    critical: Option<u32>,
    prefix: &str,
) -> Result<(), String> {
    for (field, days) in [("warn_days", warn), ("critical_days", critical)] {
        if days.is_some_and(|d| d > 3650) {
            return Err(format!("{prefix}{field} is 0 to 3650"));
        }
    }
    if let (Some(w), Some(c)) = (warn, critical)
        && w < c
    {
        return Err(format!(
            "{prefix}warn_days ({w}) must be at least {prefix}critical_days ({c})"
        ));
    }
    Ok(())
}

/// The name a certificate is checked against: a DNS name or an IP address.
pub(crate) fn server_name(field: &str, name: &str) -> Result<ServerName<'static>, String> {
    ServerName::try_from(name.to_string())
        .map_err(|_| format!("{field} must be a DNS name or an IP address, not {name:?}"))
}

pub(crate) async fn look(p: &Tls) -> Judged {
    let name = p.name();
    match inspect(&p.host, p.port, name, p.ca_pem.as_deref()).await {
        Ok(seen) => match judge(name, seen, Some(p.warn_days), Some(p.critical_days)) {
            Ok(judged) | Err(judged) => judged,
        },
        Err(judged) => judged,
    }
}

/// The certificate's verdict: `Err` when it is not trusted (expired, wrong name, unknown
/// issuer: critical), otherwise its expiry against the thresholds in days.
pub(crate) fn judge(
    name: &str,
    seen: Seen,
    warn_days: Option<u32>,
    critical_days: Option<u32>,
) -> Result<Judged, Judged> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    match (seen.problem, seen.expiry) {
        // Expired: say since when, whatever else is wrong.
        (Some(_), Some(expiry)) if expiry.not_after < now => {
            Err(cert::judge_expiry(name, &expiry, now, None, None))
        }
        (Some(problem), _) => Err(Judged::critical(problem)),
        (None, Some(expiry)) => Ok(cert::judge_expiry(
            name,
            &expiry,
            now,
            warn_days,
            critical_days,
        )),
        (None, None) => Ok(Judged::unknown(format!(
            "certificate for {name} has no readable expiry"
        ))),
    }
}

/// What a handshake showed of the server's certificate.
#[derive(Debug)]
pub(crate) struct Seen {
    /// Why the chain is not trusted for the name; `None` when it is.
    pub problem: Option<String>,
    /// The leaf's expiry, when it parses.
    pub expiry: Option<Expiry>,
}

/// Connects to `host:port`, shakes hands naming `name`, and judges the certificate the
/// server sent against the trusted roots (and `ca_pem`) at the current time. Fails (with
/// the verdict to report) when no handshake could be made.
pub(crate) async fn inspect(
    host: &str,
    port: u16,
    name: &str,
    ca_pem: Option<&str>,
) -> Result<Seen, Judged> {
    let Some(provider) = CryptoProvider::get_default().cloned() else {
        return Err(Judged::unknown(
            "no TLS crypto provider is installed in this process",
        ));
    };
    let server_name = server_name("server_name", name).map_err(Judged::unknown)?;
    let trusted = roots::trusted(ca_pem).map_err(Judged::unknown)?;
    let verifier = WebPkiServerVerifier::builder_with_provider(trusted, provider.clone())
        .build()
        .map_err(|e| Judged::unknown(format!("cannot build a certificate verifier: {e}")))?;
    let config = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Judged::unknown(format!("cannot configure TLS: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptForInspection { provider }))
        .with_no_client_auth();

    let tcp = tokio::net::TcpStream::connect((host, port))
        .await
        .map_err(|e| Judged::critical(format!("cannot connect to {host}:{port}: {e}")))?;
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(server_name.clone(), tcp)
        .await
        .map_err(|e| Judged::critical(format!("TLS handshake with {host}:{port} failed: {e}")))?;
    let (_, connection) = tls.get_ref();
    let Some((leaf, intermediates)) = connection
        .peer_certificates()
        .and_then(<[CertificateDer<'_>]>::split_first)
    else {
        return Err(Judged::critical(format!(
            "{host}:{port} sent no certificate"
        )));
    };
    let problem = verifier
        .verify_server_cert(leaf, intermediates, &server_name, &[], UnixTime::now())
        .err()
        .map(|e| cert::problem(&e, name));
    Ok(Seen {
        problem,
        expiry: Expiry::of(leaf).ok(),
    })
}

/// Accepts any certificate during the handshake so that it can be judged afterwards (see
/// the module's comment). The handshake's signatures are still verified, so the server
/// holds the key of the certificate it sent.
#[derive(Debug)]
struct AcceptForInspection {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AcceptForInspection {
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
            &self.provider.signature_verification_algorithms,
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
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
