//! The server's TLS identity: a certificate chain and key from PEM files named in the
//! config, or a self-signed certificate made on first start and kept in the data directory
//! (so its fingerprint, which agents pin, stays the same across restarts).
//!
//! A damaged or mismatched file is an error naming the file, never silently replaced: a new
//! certificate would cut off every agent that pinned the old one.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use steward_core::CertFingerprint;

pub const CERT_FILE: &str = "cert.pem";
pub const KEY_FILE: &str = "key.pem";

/// A certificate chain (leaf first) and its private key, ready to serve.
pub struct TlsIdentity {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    /// Where the certificate came from, for messages.
    pub cert_path: PathBuf,
    /// SHA-256 of the leaf certificate: what agents pin.
    pub fingerprint: CertFingerprint,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("cert_path", &self.cert_path)
            .field("fingerprint", &self.fingerprint)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl TlsIdentity {
    /// Reads a PEM certificate chain (leaf first) and a PEM private key (PKCS#8, PKCS#1 or
    /// SEC1), and checks that they belong together.
    pub fn from_pem_files(cert_path: &Path, key_path: &Path) -> anyhow::Result<TlsIdentity> {
        let cert_pem = fs::read(cert_path)
            .with_context(|| format!("reading the TLS certificate {}", cert_path.display()))?;
        let key_pem = fs::read(key_path)
            .with_context(|| format!("reading the TLS key {}", key_path.display()))?;
        Self::from_pem(&cert_pem, cert_path, &key_pem, key_path)
    }

    fn from_pem(
        cert_pem: &[u8],
        cert_path: &Path,
        key_pem: &[u8],
        key_path: &Path,
    ) -> anyhow::Result<TlsIdentity> {
        let chain = CertificateDer::pem_slice_iter(cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| {
                anyhow::anyhow!(
                    "the TLS certificate {} is not valid PEM: {e}",
                    cert_path.display()
                )
            })?;
        let Some(leaf) = chain.first() else {
            bail!(
                "the TLS certificate {} holds no certificate (expected -----BEGIN CERTIFICATE-----)",
                cert_path.display()
            );
        };
        // The key file's content never appears in an error, only its name.
        let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|_| {
            anyhow::anyhow!(
                "the TLS key {} holds no readable private key (expected PEM: -----BEGIN PRIVATE KEY-----, RSA or EC)",
                key_path.display()
            )
        })?;
        let identity = TlsIdentity {
            fingerprint: CertFingerprint::of_der(leaf),
            chain,
            key,
            cert_path: cert_path.to_owned(),
        };
        identity.server_config().with_context(|| {
            format!(
                "the TLS certificate {} and key {} cannot be used together",
                cert_path.display(),
                key_path.display()
            )
        })?;
        Ok(identity)
    }

    /// The self-signed identity kept in `dir` (`cert.pem`, `key.pem`), made on first use
    /// for `names` (host names and IP addresses). Returns it and whether it was just made.
    pub fn self_signed_in(dir: &Path, names: &[String]) -> anyhow::Result<(TlsIdentity, bool)> {
        let cert_path = dir.join(CERT_FILE);
        let key_path = dir.join(KEY_FILE);
        // The certificate is written last: its presence means both files are complete.
        if cert_path.exists() {
            return Ok((Self::from_pem_files(&cert_path, &key_path)?, false));
        }
        let (cert_pem, key_pem) = generate_self_signed(names)?;
        create_private_dir(dir)?;
        write_atomic(&key_path, key_pem.as_bytes(), 0o600)?;
        write_atomic(&cert_path, cert_pem.as_bytes(), 0o644)?;
        Ok((
            Self::from_pem(
                cert_pem.as_bytes(),
                &cert_path,
                key_pem.as_bytes(),
                &key_path,
            )?,
            true,
        ))
    }

    /// The leaf certificate (DER).
    pub fn leaf(&self) -> &CertificateDer<'static> {
        // `from_pem` refuses an empty chain, so there is always a first one.
        &self.chain[0]
    }

    /// The DNS names the leaf certificate is for (its subject alternative names): names
    /// browsers may use to reach the server, so the `Host` check accepts them.
    pub fn dns_names(&self) -> Vec<String> {
        webpki::EndEntityCert::try_from(self.leaf())
            .map(|cert| cert.valid_dns_names().map(str::to_string).collect())
            .unwrap_or_default()
    }

    /// A rustls server configuration serving this identity over HTTP/1.1.
    pub fn server_config(&self) -> anyhow::Result<Arc<rustls::ServerConfig>> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), self.key.clone_key())?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// A new ECDSA P-256 certificate for `names`, self-signed; returns (certificate, key) PEM.
pub fn generate_self_signed(names: &[String]) -> anyhow::Result<(String, String)> {
    let mut params = rcgen::CertificateParams::new(names.to_vec())
        .context("making a self-signed certificate")?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    let common_name = names.first().map_or("steward", String::as_str);
    params.distinguished_name.push(
        rcgen::DnType::CommonName,
        format!("Steward server {common_name}"),
    );
    let key = rcgen::KeyPair::generate().context("generating a TLS key")?;
    let cert = params
        .self_signed(&key)
        .context("signing the self-signed certificate")?;
    Ok((cert.pem(), key.serialize_pem()))
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))
}

/// Replaces `path` atomically: temp file with `mode` in the same directory, fsync, rename,
/// fsync of the directory.
fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .with_context(|| format!("{} has no parent directory", path.display()))?;
    let tmp = path.with_extension("pem.tmp");
    let result = (|| {
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
        #[cfg(not(unix))]
        let _ = mode;
        let mut file = options
            .open(&tmp)
            .with_context(|| format!("creating {}", tmp.display()))?;
        file.write_all(bytes)
            .and_then(|()| file.sync_all())
            .with_context(|| format!("writing {}", tmp.display()))?;
        fs::rename(&tmp, path)
            .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    #[cfg(unix)]
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing directory {}", dir.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        vec!["steward.lan".into(), "localhost".into(), "192.0.2.7".into()]
    }

    #[test]
    fn self_signed_is_made_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let tls = dir.path().join("tls");
        let (first, created) = TlsIdentity::self_signed_in(&tls, &names()).unwrap();
        assert!(created);
        let (again, created) = TlsIdentity::self_signed_in(&tls, &names()).unwrap();
        assert!(!created);
        assert_eq!(first.fingerprint, again.fingerprint);
        assert_eq!(CertFingerprint::of_der(again.leaf()), again.fingerprint);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: PathBuf| fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(tls.join(KEY_FILE)), 0o600);
            assert_eq!(mode(tls.clone()), 0o700);
        }
        let leftovers: Vec<_> = fs::read_dir(&tls)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn dns_names_are_read_from_the_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let names = vec!["steward.example".to_string(), "192.0.2.1".to_string()];
        let (identity, _) = TlsIdentity::self_signed_in(&dir.path().join("tls"), &names).unwrap();
        assert_eq!(identity.dns_names(), vec!["steward.example".to_string()]);
    }

    #[test]
    fn generated_certificates_differ() {
        let dir = tempfile::tempdir().unwrap();
        let (a, _) = TlsIdentity::self_signed_in(&dir.path().join("a"), &names()).unwrap();
        let (b, _) = TlsIdentity::self_signed_in(&dir.path().join("b"), &names()).unwrap();
        assert_ne!(a.fingerprint, b.fingerprint);
    }

    #[test]
    fn bad_files_are_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let (cert_pem, key_pem) = generate_self_signed(&names()).unwrap();
        let (other_cert, _) = generate_self_signed(&names()).unwrap();
        let write = |name: &str, text: &str| {
            let p = dir.path().join(name);
            fs::write(&p, text).unwrap();
            p
        };
        let cert = write("cert.pem", &cert_pem);
        let key = write("key.pem", &key_pem);
        TlsIdentity::from_pem_files(&cert, &key).unwrap();

        let err =
            |c: &Path, k: &Path| format!("{:#}", TlsIdentity::from_pem_files(c, k).unwrap_err());
        let missing = dir.path().join("missing.pem");
        assert!(err(&missing, &key).contains("missing.pem"));
        let garbage = write("garbage.pem", "not a certificate");
        let e = err(&garbage, &key);
        assert!(
            e.contains("garbage.pem") && e.contains("no certificate"),
            "{e}"
        );
        let e = err(&cert, &garbage);
        assert!(
            e.contains("garbage.pem") && e.contains("private key"),
            "{e}"
        );
        // A key that belongs to another certificate.
        let other = write("other.pem", &other_cert);
        let e = err(&other, &key);
        assert!(
            e.contains("other.pem") && e.contains("cannot be used together"),
            "{e}"
        );
        // The key's text never shows up in an error.
        assert!(!e.contains(key_pem.lines().nth(1).unwrap()));
        // A self-signed directory whose certificate was damaged is refused, not replaced.
        let tls = dir.path().join("tls");
        TlsIdentity::self_signed_in(&tls, &names()).unwrap();
        fs::write(tls.join(CERT_FILE), "damaged").unwrap();
        let e = format!(
            "{:#}",
            TlsIdentity::self_signed_in(&tls, &names()).unwrap_err()
        );
        assert!(e.contains("cert.pem"), "{e}");
    }
}
