//! Mail over SMTP, through lettre: the title as the subject, the plain text as the body.
//!
//! Security is one of `starttls` (port 587 by default: plain, then upgraded, and the upgrade
//! is required), `tls` (implicit TLS, port 465) or `none` (port 25), which sends everything
//! in the clear and is therefore only accepted for a relay on this machine (localhost). The
//! server's certificate is checked against the usual public roots plus, when set, `ca_cert`:
//! a PEM certificate for a relay with an internal CA.

use std::net::IpAddr;
use std::time::Duration;

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde::{Deserialize, Serialize};

use crate::settings::{InvalidSetting, Shown, invalid, shown, shown_secret};
use crate::{Message, Secret, SendError};

/// More recipients than this is a mailing list's job.
const MAX_RECIPIENTS: usize = 50;
const MAX_CA_BYTES: usize = 64 * 1024;

/// How the connection to the mail server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Security {
    /// Plain, then STARTTLS (required: a server that does not offer it is refused).
    #[default]
    Starttls,
    /// TLS from the first byte ("SMTPS").
    Tls,
    /// No TLS at all: only to a relay on this machine.
    None,
}

impl Security {
    pub fn default_port(self) -> u16 {
        match self {
            Security::Starttls => 587,
            Security::Tls => 465,
            Security::None => 25,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Email {
    /// The mail server (relay or submission server).
    pub host: String,
    /// Default by `security`: 587, 465 or 25.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default)]
    pub security: Security,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// The sender: `Steward <steward@example.com>` or a bare address.
    pub from: String,
    /// The recipients.
    pub to: Vec<String>,
    /// An extra CA certificate (PEM) to trust for this server, besides the public roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<String>,
}

impl Email {
    pub fn port(&self) -> u16 {
        self.port.unwrap_or_else(|| self.security.default_port())
    }

    pub(crate) fn check(&self) -> Result<(), InvalidSetting> {
        let host = self.host.trim();
        if host.is_empty()
            || host.len() > 253
            || host.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(invalid(
                "host",
                "is a host name or address, 1 to 253 characters, without spaces",
            ));
        }
        if self.port == Some(0) {
            return Err(invalid("port", "is 1 to 65535, not 0"));
        }
        if self.security == Security::None && !is_local(host) {
            return Err(invalid(
                "security",
                "\"none\" sends mail and password in the clear: only for a relay on this machine \
                 (localhost, 127.0.0.1, ::1); use \"starttls\" or \"tls\"",
            ));
        }
        match (&self.username, &self.password) {
            (Some(u), Some(p)) if !u.is_empty() && !p.is_empty() => {}
            (None, None) => {}
            (Some(_), None) | (Some(_), Some(_)) => {
                return Err(invalid(
                    "password",
                    "is needed with username (and neither may be empty)",
                ));
            }
            (None, Some(_)) => return Err(invalid("username", "is needed with password")),
        }
        self.from
            .parse::<Mailbox>()
            .map_err(|e| invalid("from", format!("not a mail address ({e})")))?;
        if self.to.is_empty() {
            return Err(invalid("to", "lists no recipient"));
        }
        if self.to.len() > MAX_RECIPIENTS {
            return Err(invalid(
                "to",
                format!("lists more than {MAX_RECIPIENTS} recipients"),
            ));
        }
        for (i, to) in self.to.iter().enumerate() {
            to.parse::<Mailbox>().map_err(|e| {
                invalid(
                    "to",
                    format!("recipient {} is not a mail address ({e})", i + 1),
                )
            })?;
        }
        if let Some(pem) = &self.ca_cert {
            self.extra_root(pem)?;
        }
        Ok(())
    }

    fn extra_root(&self, pem: &str) -> Result<Certificate, InvalidSetting> {
        if pem.len() > MAX_CA_BYTES {
            return Err(invalid("ca_cert", "is longer than 64 KiB"));
        }
        if !pem.contains("-----BEGIN CERTIFICATE-----") {
            return Err(invalid(
                "ca_cert",
                "is not a PEM certificate (-----BEGIN CERTIFICATE-----)",
            ));
        }
        Certificate::from_pem(pem.as_bytes())
            .map_err(|e| invalid("ca_cert", format!("is not a usable certificate ({e})")))
    }

    pub(crate) fn redacted(&self) -> Vec<Shown> {
        let mut out = vec![
            shown("host", self.host.clone()),
            shown("port", self.port().to_string()),
            shown(
                "security",
                match self.security {
                    Security::Starttls => "starttls",
                    Security::Tls => "tls",
                    Security::None => "none",
                },
            ),
        ];
        if let Some(u) = &self.username {
            out.push(shown("username", u.clone()));
        }
        shown_secret("password", self.password.is_some(), &mut out);
        out.push(shown("from", self.from.clone()));
        out.push(shown("to", self.to.join(", ")));
        if self.ca_cert.is_some() {
            out.push(shown("ca_cert", "(set)"));
        }
        out
    }

    pub(crate) fn secrets(&self) -> Vec<String> {
        self.password
            .iter()
            .map(|s| s.expose().to_string())
            .collect()
    }

    pub(crate) async fn send(&self, message: &Message, timeout: Duration) -> Result<(), SendError> {
        let mail = self.mail(message)?;
        let transport = self.transport(timeout)?;
        // lettre's timeout is per command; this bounds the whole exchange.
        match tokio::time::timeout(timeout * 3, transport.send(mail)).await {
            Ok(Ok(_accepted)) => Ok(()),
            Ok(Err(e)) => Err(smtp_error(&e)),
            Err(_) => Err(SendError::Unreachable(format!(
                "the mail server did not finish within {} s",
                (timeout * 3).as_secs()
            ))),
        }
    }

    fn mail(&self, message: &Message) -> Result<lettre::Message, SendError> {
        let mut builder = lettre::Message::builder()
            .from(
                self.from
                    .parse::<Mailbox>()
                    .map_err(|e| invalid("from", e.to_string()))?,
            )
            .subject(message.title());
        for to in &self.to {
            builder = builder.to(to
                .parse::<Mailbox>()
                .map_err(|e| invalid("to", e.to_string()))?);
        }
        builder
            .header(ContentType::TEXT_PLAIN)
            .body(message.text())
            .map_err(|e| SendError::Unreachable(format!("cannot build the mail: {e}")))
    }

    fn transport(
        &self,
        timeout: Duration,
    ) -> Result<AsyncSmtpTransport<Tokio1Executor>, SendError> {
        let host = self.host.trim();
        let tls = match self.security {
            Security::None => Tls::None,
            Security::Starttls => Tls::Required(self.tls_parameters(host)?),
            Security::Tls => Tls::Wrapper(self.tls_parameters(host)?),
        };
        // `builder_dangerous` only means "TLS as given here": `tls` is always set below.
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(self.port())
            .tls(tls)
            .timeout(Some(timeout));
        if let (Some(user), Some(password)) = (&self.username, &self.password) {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.expose().to_string(),
            ));
        }
        Ok(builder.build())
    }

    fn tls_parameters(&self, host: &str) -> Result<TlsParameters, SendError> {
        let mut params = TlsParameters::builder(host.to_string());
        if let Some(pem) = &self.ca_cert {
            params = params.add_root_certificate(self.extra_root(pem)?);
        }
        params
            .build_rustls()
            .map_err(|e| SendError::Unreachable(format!("cannot set up TLS: {e}")))
    }
}

/// Whether `host` is this machine.
fn is_local(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// What went wrong, from lettre's error: a refusal carries the server's reply code and
/// text; anything else (no connection, TLS, timeout) is unreachable.
fn smtp_error(e: &lettre::transport::smtp::Error) -> SendError {
    let text = crate::message::one_line(&e.to_string(), 300);
    if e.is_permanent() || e.is_transient() {
        SendError::Refused(format!("the mail server refused: {text}"))
    } else {
        SendError::Unreachable(format!("cannot deliver to the mail server: {text}"))
    }
}
