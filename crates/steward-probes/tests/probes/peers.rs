//! Real peers on loopback for the probes to look at: HTTP and HTTPS servers with fixed
//! answers, certificates from a test CA with chosen expiry dates, and a DNS server answering
//! from a table.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hickory_resolver::proto::op::{Message, ResponseCode};
use hickory_resolver::proto::rr::{Name, RData, Record};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinHandle;

pub const DAY: Duration = Duration::from_secs(86_400);

/// The shared client, with the process's crypto provider chosen first.
pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    steward_probes::client().unwrap()
}

/// What an HTTP peer answers to every request.
#[derive(Clone)]
pub struct Answer {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
    /// Wait this long before answering (a slow endpoint).
    pub delay: Duration,
}

impl Answer {
    pub fn text(status: u16, body: &str) -> Self {
        Self {
            status,
            content_type: "text/plain",
            body: body.to_string(),
            delay: Duration::ZERO,
        }
    }
    pub fn json(body: &str) -> Self {
        Self {
            content_type: "application/json",
            ..Self::text(200, body)
        }
    }
    pub fn after(self, delay: Duration) -> Self {
        Self { delay, ..self }
    }
}

/// A server task that ends with the test, and its port.
pub struct Peer {
    pub port: u16,
    task: JoinHandle<()>,
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn respond<S: AsyncRead + AsyncWrite + Unpin>(mut conn: S, answer: &Answer) {
    let mut buf = [0u8; 4096];
    let _ = conn.read(&mut buf).await;
    tokio::time::sleep(answer.delay).await;
    let head = format!(
        "HTTP/1.1 {} X\r\ncontent-type: {}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        answer.status,
        answer.content_type,
        answer.body.len()
    );
    let _ = conn.write_all(head.as_bytes()).await;
    let _ = conn.write_all(answer.body.as_bytes()).await;
    let _ = conn.shutdown().await;
}

/// A plain HTTP server on 127.0.0.1.
pub async fn http(answer: Answer) -> Peer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move { respond(conn, &answer).await });
        }
    });
    Peer { port, task }
}

/// An HTTPS server on 127.0.0.1 presenting `cert`.
pub async fn https(cert: &Leaf, answer: Answer) -> Peer {
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der.clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.key.clone())),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            let (acceptor, answer) = (acceptor.clone(), answer.clone());
            tokio::spawn(async move {
                // A probe that only inspects the certificate hangs up after the handshake.
                if let Ok(tls) = acceptor.accept(conn).await {
                    respond(tls, &answer).await;
                }
            });
        }
    });
    Peer { port, task }
}

/// A test CA that signs server certificates.
pub struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A server certificate and its key.
pub struct Leaf {
    pub der: CertificateDer<'static>,
    pub key: Vec<u8>,
}

impl Ca {
    pub fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        Self { issuer }
    }

    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A certificate for `names` (DNS names or IP addresses), valid for 90 days before it
    /// expires, which is `expires` (and an hour) from now.
    pub fn leaf(&self, names: &[&str], expires: Offset) -> Leaf {
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        let now = rcgen::date_time_ymd(1970, 1, 1)
            + SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        // An hour more either way, so that the whole days counted are the days given
        // however long the test takes.
        let hour = Duration::from_secs(3600);
        let (not_before, not_after) = match expires {
            Offset::In(d) => (now - 90 * DAY, now + d + hour),
            Offset::Ago(d) => (now - d - hour - 90 * DAY, now - d - hour),
        };
        params.not_before = not_before;
        params.not_after = not_after;
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            der: cert.der().clone(),
            key: key.serialize_der(),
        }
    }
}

/// When a certificate expires, from now.
#[derive(Clone, Copy)]
pub enum Offset {
    In(Duration),
    Ago(Duration),
}

/// A DNS server on 127.0.0.1 (UDP) answering from `zone`: name → records of any type.
/// A name not in the zone is NXDOMAIN; a type it has no record of, an empty answer.
pub async fn dns(zone: Vec<(&str, RData)>) -> (SocketAddr, JoinHandle<()>) {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let mut table: HashMap<Name, Vec<RData>> = HashMap::new();
    for (name, data) in zone {
        table
            .entry(Name::from_ascii(name).unwrap())
            .or_default()
            .push(data);
    }
    let task = tokio::spawn(async move {
        let mut buf = [0u8; 4096];
        while let Ok((n, from)) = socket.recv_from(&mut buf).await {
            let Ok(query) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let Some(question) = query.queries.first().cloned() else {
                continue;
            };
            let mut answer = Message::response(query.metadata.id, query.metadata.op_code);
            answer.metadata.recursion_desired = query.metadata.recursion_desired;
            answer.metadata.recursion_available = true;
            answer.queries.push(question.clone());
            let asked = question.name().clone();
            match table.get(&asked) {
                None => answer.metadata.response_code = ResponseCode::NXDomain,
                Some(records) => {
                    for data in records
                        .iter()
                        .filter(|d| d.record_type() == question.query_type())
                    {
                        answer.add_answer(Record::from_rdata(asked.clone(), 60, data.clone()));
                    }
                }
            }
            let _ = socket.send_to(&answer.to_vec().unwrap(), from).await;
        }
    });
    (addr, task)
}

/// What the `steward-probe` binary printed.
#[derive(serde::Deserialize, Debug)]
pub struct Seen {
    pub status: steward_core::alerting::CheckStatus,
    pub summary: String,
}

/// Runs `probe` (as the `steward-probe` binary, with a 3 s timeout) in new namespaces of
/// the kinds `unshare` is given (`--net`, `--mount`), after `setup` (shell commands run
/// there as root); `unprivileged` runs the probe as `nobody` without capabilities. The
/// host's own settings are not touched. Needs root, as CI and these machines have.
pub fn isolated(
    unshare: &str,
    setup: &str,
    unprivileged: bool,
    probe: &steward_probes::Probe,
) -> Seen {
    let drop_privileges = if unprivileged {
        "setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all"
    } else {
        ""
    };
    let script = format!("{setup} && exec {drop_privileges} \"$0\" \"$1\" 3000");
    let output = std::process::Command::new("unshare")
        .args([unshare, "sh", "-c", &script])
        .arg(env!("CARGO_BIN_EXE_steward-probe"))
        .arg(serde_json::to_string(probe).unwrap())
        .output()
        .expect("unshare (util-linux) runs");
    assert!(
        output.status.success(),
        "the probe in a namespace failed (needs root): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stdout)))
}
