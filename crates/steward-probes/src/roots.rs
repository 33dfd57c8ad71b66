//! Whom a probe trusts: the system's roots (where an administrator adds an internal CA) and
//! Mozilla's (for a system without a CA bundle), read once per process, plus a probe's own
//! extra CA given as PEM.

use std::sync::{Arc, OnceLock};

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// At most this much PEM text for a probe's extra CA: a handful of certificates.
pub(crate) const MAX_CA_PEM_BYTES: usize = 64 * 1024;
/// At most this many certificates in it.
const MAX_CA_CERTS: usize = 16;

/// The roots every probe trusts, loaded at first use.
fn base() -> &'static Arc<RootCertStore> {
    static BASE: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    BASE.get_or_init(|| {
        let mut store = RootCertStore::empty();
        store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        // A system bundle that cannot be read (or holds a certificate rustls refuses) leaves
        // Mozilla's roots, which is what a system without a bundle trusts anyway.
        let system = rustls_native_certs::load_native_certs();
        store.add_parsable_certificates(system.certs);
        Arc::new(store)
    })
}

/// The certificates of a PEM text, or why there are none.
pub(crate) fn parse_pem(pem: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    if pem.len() > MAX_CA_PEM_BYTES {
        return Err(format!("ca_pem is at most {} KiB", MAX_CA_PEM_BYTES / 1024));
    }
    let mut certs = Vec::new();
    for item in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        let cert = item.map_err(|e| format!("ca_pem is not PEM: {e}"))?;
        certs.push(cert);
        if certs.len() > MAX_CA_CERTS {
            return Err(format!("ca_pem holds at most {MAX_CA_CERTS} certificates"));
        }
    }
    if certs.is_empty() {
        return Err("ca_pem holds no certificate (-----BEGIN CERTIFICATE-----)".into());
    }
    Ok(certs)
}

/// The roots a probe trusts: the base, and its own CA when it has one.
pub(crate) fn trusted(ca_pem: Option<&str>) -> Result<Arc<RootCertStore>, String> {
    let Some(pem) = ca_pem else {
        return Ok(base().clone());
    };
    let mut store = RootCertStore::clone(base());
    for cert in parse_pem(pem)? {
        store
            .add(cert)
            .map_err(|e| format!("ca_pem is not a CA certificate rustls accepts: {e}"))?;
    }
    Ok(Arc::new(store))
}
