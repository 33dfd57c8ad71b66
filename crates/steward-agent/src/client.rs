//! HTTP client for the agent protocol ([`steward_proto::agent`]).
//!
//! A thin wrapper over reqwest (rustls with the ring provider) that turns every failure into
//! one of a few [`ClientError`]s the runner can act on: the server is unreachable (queue and
//! retry), it rejected the request (show its message), or it rejected the credential (the
//! device was revoked), or it is not the server this agent pinned. The credential is sent
//! only as a bearer header marked sensitive; it never appears in errors, logs or `Debug`
//! output. Outside loopback only HTTPS is spoken, trusting the server by its pinned
//! certificate ([`crate::tls`]). [`Backoff`] and [`Health`] are the retry
//! policy around it: jittered exponential delays, and an outage logged once, not per retry.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use rand::Rng;

use reqwest::header::{AUTHORIZATION, HeaderValue};
use reqwest::{RequestBuilder, StatusCode, Url};
use serde::de::DeserializeOwned;
use steward_core::CertFingerprint;
use steward_proto::agent::{
    CredentialResponse, EnrollRequest, EnrollResponse, JobAssignment, JobUpdate, ReportAck,
    ReportBatch,
};

use crate::tls::{MISMATCH_MARKER, PinMismatch, PinVerifier};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// For ordinary requests; a report batch is at most a few MiB.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Added to the long-poll wait before the client gives up on the server.
const LONG_POLL_GRACE: Duration = Duration::from_secs(10);
/// How much of a non-JSON error body ends up in a message.
const MAX_ERROR_TEXT: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No answer: connection refused or reset, DNS failure, TLS failure, timeout. The agent
    /// keeps its reports queued and retries later.
    #[error("server unreachable: {0}")]
    Unreachable(String),
    /// The server presented another certificate than the pinned one: a different server, or
    /// someone in between. Nothing was sent.
    #[error("{0}")]
    CertificateMismatch(PinMismatch),
    /// The server answered with an error; `message` is its explanation.
    #[error("{message} (HTTP {status})")]
    Rejected { status: u16, message: String },
    /// HTTP 401: the credential (or, when enrolling, the token) was refused.
    #[error("{0} (HTTP 401)")]
    Unauthorized(String),
    /// The server answered success with a body the agent cannot read (wrong server or
    /// incompatible version).
    #[error("unexpected answer from the server: {0}")]
    Protocol(String),
}

impl ClientError {
    /// Short name of the kind of failure, to log an outage once rather than every retry.
    pub fn kind(&self) -> &'static str {
        match self {
            ClientError::Unreachable(_) => "unreachable",
            ClientError::CertificateMismatch(_) => "certificate_mismatch",
            ClientError::Rejected { .. } => "rejected",
            ClientError::Unauthorized(_) => "unauthorized",
            ClientError::Protocol(_) => "protocol",
        }
    }
}

/// The error body the server sends: `{"error": "...", "message": "..."}`.
#[derive(serde::Deserialize)]
struct ErrorBody {
    #[serde(default)]
    error: String,
    #[serde(default)]
    message: String,
}

#[derive(Clone)]
pub struct Client {
    pub(crate) http: reqwest::Client,
    /// Server base URL without a trailing slash.
    base: String,
    /// `Bearer <credential>`, marked sensitive; replaced when the credential is rotated
    /// (shared by every clone, so both agent loops switch at once).
    auth: Arc<RwLock<Option<HeaderValue>>>,
    /// Over HTTPS with a pin: the verifier holding it.
    pin: Option<Arc<PinVerifier>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("server", &self.base)
            .field("has_credential", &self.auth_header().is_some())
            .field("pin", &self.server_pin())
            .finish()
    }
}

/// Whom to trust over HTTPS.
enum Trust {
    /// Exactly the pinned certificate (or, at enrollment, the first one seen).
    Pin(Arc<PinVerifier>),
    /// The system's certificate authorities: agents enrolled before pinning existed.
    SystemRoots,
}

impl Client {
    /// A client for an enrolled agent at `server_url` (`https://host[:port][/prefix]`),
    /// sending `credential` as a bearer token when given. Over HTTPS the server must present
    /// the certificate `pin`; an agent enrolled before pinning existed (no pin) trusts the
    /// system's certificate authorities instead.
    pub fn new(
        server_url: &str,
        credential: Option<String>,
        pin: Option<CertFingerprint>,
    ) -> anyhow::Result<Client> {
        let trust = match pin {
            Some(pin) => Trust::Pin(PinVerifier::pinned(pin)),
            None => Trust::SystemRoots,
        };
        Self::build(server_url, credential, trust)
    }

    /// A client for enrolling: over HTTPS it trusts the certificate `pin`, or without one,
    /// the first certificate the server presents; [`Client::server_pin`] then says which.
    pub fn for_enrollment(
        server_url: &str,
        pin: Option<CertFingerprint>,
    ) -> anyhow::Result<Client> {
        let verifier = match pin {
            Some(pin) => PinVerifier::pinned(pin),
            None => PinVerifier::first_use(),
        };
        Self::build(server_url, None, Trust::Pin(verifier))
    }

    fn build(server_url: &str, credential: Option<String>, trust: Trust) -> anyhow::Result<Client> {
        // Fails only when a provider is already installed, which is what we want anyway.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let base = server_url.trim().trim_end_matches('/').to_owned();
        let url = check_server_url(&base)?;
        let auth = credential.as_deref().map(bearer_header).transpose()?;
        let mut builder = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            // The agent talks to one server; a redirect elsewhere is never followed (it
            // would carry the credential off, or lead off the pinned server).
            .redirect(reqwest::redirect::Policy::none())
            // Straight to the server: reqwest would otherwise send every request, credential
            // included, through whatever HTTP_PROXY/HTTPS_PROXY/ALL_PROXY the environment names.
            .no_proxy()
            .user_agent(concat!("steward-agent/", env!("CARGO_PKG_VERSION")));
        let pin = match (url.scheme(), trust) {
            ("https", Trust::Pin(verifier)) => {
                builder = builder.tls_backend_preconfigured(verifier.client_config()?);
                Some(verifier)
            }
            ("http", Trust::Pin(verifier)) if verifier.pin().is_some() => {
                anyhow::bail!("a certificate pin needs an https:// server URL, not {base:?}")
            }
            _ => None,
        };
        let http = builder
            .build()
            .map_err(|e| anyhow::anyhow!("setting up the HTTP client: {e}"))?;
        Ok(Client {
            http,
            base,
            auth: Arc::new(RwLock::new(auth)),
            pin,
        })
    }

    /// The fingerprint of the server's certificate this client trusts: the pin it was given,
    /// or the one it recorded on its first HTTPS connection. `None` over plain HTTP.
    pub fn server_pin(&self) -> Option<CertFingerprint> {
        self.pin.as_ref().and_then(|v| v.pin())
    }

    /// Sends `credential` from now on (after a rotation), from every clone of this client.
    pub fn set_credential(&self, credential: &str) -> anyhow::Result<()> {
        let value = bearer_header(credential)?;
        *self.auth.write().unwrap_or_else(PoisonError::into_inner) = Some(value);
        Ok(())
    }

    fn auth_header(&self) -> Option<HeaderValue> {
        self.auth
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The server's base URL, as used for requests.
    pub fn server_url(&self) -> &str {
        &self.base
    }

    /// `POST /agent/v1/enroll`: exchanges an enrollment token for an identity.
    pub async fn enroll(&self, req: &EnrollRequest) -> Result<EnrollResponse, ClientError> {
        let request = self
            .http
            .post(self.url("/agent/v1/enroll"))
            .timeout(REQUEST_TIMEOUT)
            .json(req);
        json(self.send(request).await?).await
    }

    /// `POST /agent/v1/credential`: a new credential for this device. The current one keeps
    /// working until the first request made with the new one.
    pub async fn rotate_credential(&self, job_id: &str) -> Result<CredentialResponse, ClientError> {
        let request = self
            .authed(self.http.post(self.url("/agent/v1/credential")))
            .timeout(REQUEST_TIMEOUT)
            .json(&steward_proto::agent::CredentialRequest {
                job_id: job_id.to_string(),
            });
        json(self.send(request).await?).await
    }

    /// `POST /agent/v1/reports`: delivers a batch, oldest first.
    pub async fn send_reports(&self, batch: &ReportBatch) -> Result<ReportAck, ClientError> {
        let request = self
            .authed(self.http.post(self.url("/agent/v1/reports")))
            .timeout(REQUEST_TIMEOUT)
            .json(batch);
        json(self.send(request).await?).await
    }

    /// `GET /agent/v1/jobs/next?wait=SECS`: waits up to `wait_secs` for a job.
    pub async fn next_job(&self, wait_secs: u64) -> Result<Option<JobAssignment>, ClientError> {
        let request = self
            .authed(
                self.http
                    .get(self.url(&format!("/agent/v1/jobs/next?wait={wait_secs}"))),
            )
            .timeout(Duration::from_secs(wait_secs) + LONG_POLL_GRACE);
        let response = self.send(request).await?;
        if response.status() == StatusCode::NO_CONTENT {
            return Ok(None);
        }
        json(response).await.map(Some)
    }

    /// `POST /agent/v1/jobs/{id}`: reports a job's progress or result.
    pub async fn update_job(&self, id: &str, update: &JobUpdate) -> Result<(), ClientError> {
        let mut url = Url::parse(&self.url("/agent/v1/jobs"))
            .map_err(|e| ClientError::Protocol(format!("building the job URL: {e}")))?;
        url.path_segments_mut()
            .map_err(|()| ClientError::Protocol("the server URL cannot have a path".into()))?
            .push(id);
        let request = self
            .authed(self.http.post(url))
            .timeout(REQUEST_TIMEOUT)
            .json(update);
        self.send(request).await.map(drop)
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(crate) fn authed(&self, request: RequestBuilder) -> RequestBuilder {
        match self.auth_header() {
            Some(value) => request.header(AUTHORIZATION, value),
            None => request,
        }
    }

    /// Sends the request; any non-success status becomes an error carrying the server's
    /// message, and a refused certificate says which one.
    pub(crate) async fn send(
        &self,
        request: RequestBuilder,
    ) -> Result<reqwest::Response, ClientError> {
        match request.send().await {
            Ok(response) => check_status(response).await,
            Err(err) => {
                let error = transport_error(err);
                // rustls passes the refusal on as text only; the verifier kept the details.
                // The text check makes sure a stale refusal does not explain a later outage.
                match (&error, self.pin.as_ref().and_then(|v| v.last_mismatch())) {
                    (ClientError::Unreachable(text), Some(mismatch))
                        if text.contains(MISMATCH_MARKER) =>
                    {
                        Err(ClientError::CertificateMismatch(mismatch))
                    }
                    _ => Err(error),
                }
            }
        }
    }
}

/// `Bearer <credential>`, marked sensitive so it is never logged.
fn bearer_header(credential: &str) -> anyhow::Result<HeaderValue> {
    let mut value = HeaderValue::try_from(format!("Bearer {credential}"))
        .map_err(|_| anyhow::anyhow!("the stored credential has invalid characters"))?;
    value.set_sensitive(true);
    Ok(value)
}

/// Parses the server URL and enforces the transport rule: plain HTTP only to this machine
/// (loopback); anywhere else agent traffic must be HTTPS.
pub fn check_server_url(base: &str) -> anyhow::Result<Url> {
    let url = Url::parse(base).map_err(|e| anyhow::anyhow!("invalid server URL {base:?}: {e}"))?;
    anyhow::ensure!(
        matches!(url.scheme(), "http" | "https") && url.host().is_some(),
        "invalid server URL {base:?}: expected https://host[:port]"
    );
    let host = url.host_str().unwrap_or_default();
    let loopback = match host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::IpAddr>()
    {
        Ok(ip) => ip.is_loopback(),
        // Only the name itself: `*.localhost` is loopback by RFC 6761, but resolvers do not
        // all enforce it, and a name that resolves elsewhere would carry the credential in
        // clear text.
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    };
    if url.scheme() == "http" && !loopback {
        anyhow::bail!(
            "agent traffic outside loopback must use https: use --server https://{}{} \
             (`steward server` serves HTTPS and prints its certificate fingerprint)",
            host,
            url.port().map(|p| format!(":{p}")).unwrap_or_default()
        );
    }
    Ok(url)
}

async fn check_status(response: reqwest::Response) -> Result<reqwest::Response, ClientError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body = response.bytes().await.unwrap_or_default();
    let message = match serde_json::from_slice::<ErrorBody>(&body) {
        Ok(err) if !err.message.is_empty() => err.message,
        Ok(err) if !err.error.is_empty() => err.error,
        _ => {
            let text = String::from_utf8_lossy(&body);
            let text = text.trim();
            let reason = status.canonical_reason().unwrap_or("error");
            if text.is_empty() {
                reason.to_owned()
            } else {
                let cut: String = text.chars().take(MAX_ERROR_TEXT).collect();
                format!("{reason}: {cut}")
            }
        }
    };
    Err(if status == StatusCode::UNAUTHORIZED {
        ClientError::Unauthorized(message)
    } else {
        ClientError::Rejected {
            status: status.as_u16(),
            message,
        }
    })
}

async fn json<T: DeserializeOwned>(response: reqwest::Response) -> Result<T, ClientError> {
    let body = response.bytes().await.map_err(transport_error)?;
    serde_json::from_slice(&body).map_err(|e| ClientError::Protocol(e.to_string()))
}

/// Describes a transport failure. reqwest's message names the URL (never the headers); the
/// source chain says why (refused, timed out, certificate).
fn transport_error(err: reqwest::Error) -> ClientError {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    ClientError::Unreachable(text)
}

/// Logs a loop's trouble with the server once when it starts (or changes kind) and once when
/// it ends, instead of at every retry. `what` names the loop in the log.
pub struct Health {
    what: &'static str,
    failing: Option<&'static str>,
}

impl Health {
    pub fn new(what: &'static str) -> Health {
        Health {
            what,
            failing: None,
        }
    }

    pub fn record<T>(&mut self, result: Result<T, ClientError>) -> Result<T, ClientError> {
        match &result {
            Ok(_) => {
                if self.failing.take().is_some() {
                    tracing::info!(task = self.what, "server reachable again");
                }
            }
            Err(e) if self.failing != Some(e.kind()) => {
                self.failing = Some(e.kind());
                match e {
                    ClientError::Unauthorized(_) => tracing::error!(task = self.what, error = %e,
                        "the server rejected this agent's credential (device revoked?); retrying"),
                    ClientError::CertificateMismatch(_) => {
                        tracing::error!(task = self.what, error = %e,
                        "refusing to talk to this server: nothing is sent until it presents the pinned certificate; retrying")
                    }
                    _ => tracing::warn!(task = self.what, error = %e,
                        "server unavailable; reports stay queued and are retried"),
                }
            }
            Err(_) => {}
        }
        result
    }
}

/// Retry delays: 1 s doubling to 60 s, each drawn between half and all of the current step.
pub struct Backoff {
    step: Duration,
}

impl Backoff {
    pub const MIN: Duration = Duration::from_secs(1);
    pub const MAX: Duration = Duration::from_secs(60);

    pub fn reset(&mut self) {
        self.step = Self::MIN;
    }

    pub fn next_delay(&mut self) -> Duration {
        let step = self.step;
        self.step = (step * 2).min(Self::MAX);
        step.mul_f64(rand::rng().random_range(0.5..=1.0))
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { step: Self::MIN }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_credential() {
        let client =
            Client::new("https://steward.example/", Some("dev.s3cret".into()), None).unwrap();
        let shown = format!("{client:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert_eq!(client.server_url(), "https://steward.example");
    }

    #[test]
    fn rejects_bad_urls() {
        assert!(Client::new("steward.example", None, None).is_err());
        assert!(Client::new("ftp://steward.example", None, None).is_err());
    }

    #[test]
    fn plain_http_only_over_loopback() {
        for url in [
            "http://127.0.0.1:8080",
            "http://127.0.0.2:8080/",
            "http://[::1]:8080",
            "http://localhost:8080",
            "https://steward.example:8080",
            "https://192.0.2.7",
        ] {
            check_server_url(url).unwrap();
        }
        for url in [
            "http://steward.example:8080",
            "http://192.0.2.7:8080",
            "http://[2001:db8::1]",
            "http://localhost.example.com",
            "http://evil.localhost:8080",
        ] {
            let err = check_server_url(url).unwrap_err().to_string();
            assert!(
                err.contains("outside loopback must use https"),
                "{url}: {err}"
            );
            assert!(Client::for_enrollment(url, None).is_err());
        }
        let pin = CertFingerprint::of_der(b"cert");
        let err = Client::for_enrollment("http://127.0.0.1:8080", Some(pin))
            .unwrap_err()
            .to_string();
        assert!(err.contains("needs an https"), "{err}");
    }

    #[tokio::test]
    async fn refused_connection_is_unreachable() {
        // Port 1 on loopback: nothing listens there.
        let client = Client::new("http://127.0.0.1:1", Some("dev.s3cret".into()), None).unwrap();
        let err = client.next_job(1).await.unwrap_err();
        assert!(matches!(err, ClientError::Unreachable(_)), "{err:?}");
        assert!(!err.to_string().contains("s3cret"));
    }

    #[test]
    fn backoff_grows_to_a_minute_with_jitter() {
        let mut backoff = Backoff::default();
        let delays: Vec<_> = (0..10).map(|_| backoff.next_delay()).collect();
        assert!(delays[0] >= Duration::from_millis(500) && delays[0] <= Duration::from_secs(1));
        assert!(delays.iter().all(|d| *d <= Backoff::MAX));
        assert!(delays[9] >= Backoff::MAX / 2);
        backoff.reset();
        assert!(backoff.next_delay() <= Backoff::MIN);
    }
}
