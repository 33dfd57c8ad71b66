//! A server's certificate as a probe judges it: why a chain is not trusted, in words a
//! person understands, and how soon the leaf expires. Pure: the time comes in.

use rustls::{CertificateError, Error as TlsError};
use steward_core::alerting::CheckStatus;

use crate::judged::Judged;

const DAY_SECS: i64 = 86_400;

/// When the leaf certificate stops being valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Expiry {
    /// notAfter, Unix seconds.
    pub not_after: i64,
    /// notAfter's date, "2026-12-09" (UTC).
    pub date: String,
}

impl Expiry {
    /// Reads notAfter from a DER certificate.
    pub fn of(der: &[u8]) -> Result<Self, String> {
        let (_, cert) = x509_parser::parse_x509_certificate(der)
            .map_err(|e| format!("the certificate does not parse: {e}"))?;
        let not_after = &cert.validity().not_after;
        Ok(Self {
            not_after: not_after.timestamp(),
            date: not_after.to_datetime().date().to_string(),
        })
    }
}

/// Why the certificate for `name` is not trusted, as a person reads it.
pub(crate) fn problem(error: &TlsError, name: &str) -> String {
    let TlsError::InvalidCertificate(e) = error else {
        return format!("certificate for {name} not accepted: {error}");
    };
    match e {
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            format!("certificate for {name} expired")
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            format!("certificate for {name} not valid yet")
        }
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            format!("name mismatch: the certificate is not for {name}")
        }
        CertificateError::UnknownIssuer => {
            format!("unknown issuer: the certificate for {name} is not signed by a trusted CA")
        }
        CertificateError::Revoked => format!("certificate for {name} revoked"),
        CertificateError::BadSignature => format!("certificate for {name} has a bad signature"),
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            format!("certificate for {name} is not for TLS servers")
        }
        CertificateError::BadEncoding => format!("certificate for {name} does not parse"),
        other => format!("certificate for {name} not accepted: {other:?}"),
    }
}

/// How soon the certificate for `name` expires, judged against the thresholds (in days;
/// `None` is no threshold): expired or within `critical_days` is critical, within
/// `warn_days` is a warning.
pub(crate) fn judge_expiry(
    name: &str,
    expiry: &Expiry,
    now_secs: i64,
    warn_days: Option<u32>,
    critical_days: Option<u32>,
) -> Judged {
    let left = expiry.not_after.saturating_sub(now_secs);
    if left < 0 {
        let ago = left.saturating_neg() / DAY_SECS;
        return Judged::critical(format!(
            "certificate for {name} expired {} ({})",
            if ago == 0 {
                "today".to_string()
            } else {
                format!("{} ago", days(ago))
            },
            expiry.date
        ));
    }
    let within = |threshold: Option<u32>| {
        threshold.is_some_and(|d| left <= i64::from(d).saturating_mul(DAY_SECS))
    };
    let status = if within(critical_days) {
        CheckStatus::Critical
    } else if within(warn_days) {
        CheckStatus::Warning
    } else {
        CheckStatus::Ok
    };
    // Whole days left, as certbot counts: a certificate valid for 47 more hours "expires in
    // 1 day".
    Judged::new(
        status,
        format!(
            "certificate for {name} expires in {} ({})",
            days(left / DAY_SECS),
            expiry.date
        ),
    )
}

fn days(n: i64) -> String {
    if n == 1 {
        "1 day".into()
    } else {
        format!("{n} days")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn expiring_in(secs: i64) -> Expiry {
        Expiry {
            not_after: NOW + secs,
            date: "2027-01-15".into(),
        }
    }

    fn judge(secs: i64) -> Judged {
        judge_expiry("shop.test", &expiring_in(secs), NOW, Some(14), Some(3))
    }

    #[test]
    fn expiry_is_judged_against_the_thresholds_at_the_given_time() {
        assert_eq!(judge(90 * DAY_SECS).status, CheckStatus::Ok);
        assert_eq!(
            judge(90 * DAY_SECS).summary,
            "certificate for shop.test expires in 90 days (2027-01-15)"
        );
        assert_eq!(judge(14 * DAY_SECS + 1).status, CheckStatus::Ok);
        assert_eq!(judge(14 * DAY_SECS).status, CheckStatus::Warning);
        assert_eq!(judge(10 * DAY_SECS).status, CheckStatus::Warning);
        assert_eq!(judge(3 * DAY_SECS + 1).status, CheckStatus::Warning);
        assert_eq!(judge(3 * DAY_SECS).status, CheckStatus::Critical);
        assert_eq!(
            judge(2 * DAY_SECS - 60).summary,
            "certificate for shop.test expires in 1 day (2027-01-15)"
        );
        assert_eq!(judge(0).status, CheckStatus::Critical);
        let expired = judge(-3 * DAY_SECS);
        assert_eq!(expired.status, CheckStatus::Critical);
        assert_eq!(
            expired.summary,
            "certificate for shop.test expired 3 days ago (2027-01-15)"
        );
        assert!(judge(-60).summary.contains("expired today"));
    }

    #[test]
    fn without_thresholds_only_an_expired_certificate_is_a_problem() {
        let near = judge_expiry("x", &expiring_in(60), NOW, None, None);
        assert_eq!(near.status, CheckStatus::Ok);
        let gone = judge_expiry("x", &expiring_in(-60), NOW, None, None);
        assert_eq!(gone.status, CheckStatus::Critical);
    }

    #[test]
    fn rustls_errors_become_reasons_a_person_reads() {
        let said = |e: CertificateError| problem(&TlsError::InvalidCertificate(e), "shop.test");
        assert_eq!(
            said(CertificateError::Expired),
            "certificate for shop.test expired"
        );
        assert_eq!(
            said(CertificateError::NotValidForName),
            "name mismatch: the certificate is not for shop.test"
        );
        assert!(said(CertificateError::UnknownIssuer).starts_with("unknown issuer"));
    }
}
