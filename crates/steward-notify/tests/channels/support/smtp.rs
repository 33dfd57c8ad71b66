//! A small SMTP server on loopback that receives mail, for the mail channel's tests: EHLO,
//! STARTTLS (tokio-rustls), implicit TLS, AUTH PLAIN and LOGIN, MAIL, RCPT, DATA, QUIT.
//!
//! Written here rather than taken from a crate: the Rust SMTP servers that exist are either
//! unmaintained (samotop) or synchronous with their own TLS stack and no implicit TLS
//! (mailin-embedded), and an external server (Postfix, a Python one) would need installing by
//! `.ci/run`. This one speaks the protocol as RFC 5321 and RFC 4954 write it, over the same
//! rustls the product uses, with a certificate from a CA the test makes.

use std::sync::Arc;

use base64::Engine as _;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;

/// How the server behaves.
#[derive(Clone)]
pub struct Options {
    /// TLS from the first byte (port 465 style); else plain with STARTTLS offered.
    pub implicit_tls: bool,
    /// The account mail must be authenticated as (after TLS), if any.
    pub account: Option<(String, String)>,
    /// A reply to DATA instead of accepting the mail ("554 5.7.1 rejected as spam").
    pub refuse_data_with: Option<String>,
}

/// A mail the server accepted.
#[derive(Debug)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    /// The message (headers and body) as sent, dot-stuffing undone.
    pub data: String,
    /// Whether MAIL FROM came over TLS.
    pub over_tls: bool,
    /// The account it was authenticated as.
    pub user: Option<String>,
}

pub struct SmtpServer {
    pub port: u16,
    /// The PEM certificate of the CA that signed the server's certificate.
    pub ca_pem: String,
    pub mails: mpsc::UnboundedReceiver<Received>,
}

type Stream = Box<dyn Io>;
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

pub async fn start(options: Options) -> SmtpServer {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (ca_pem, config) = tls_config();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, mails) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            let (options, acceptor, tx) = (options.clone(), acceptor.clone(), tx.clone());
            tokio::spawn(async move {
                let _ = session(conn, &options, &acceptor, &tx).await;
            });
        }
    });
    SmtpServer {
        port,
        ca_pem,
        mails,
    }
}

/// A CA, and a server configuration with a certificate for 127.0.0.1 and localhost it
/// signed.
fn tls_config() -> (String, rustls::ServerConfig) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "Test relay CA");
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let mut leaf =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    leaf.distinguished_name.push(DnType::CommonName, "relay");
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::try_from(leaf_key.serialize_der()).unwrap();
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![leaf_cert.der().clone()], key)
        .unwrap();
    (ca_cert.pem(), config)
}

struct Conn {
    io: BufReader<Stream>,
    tls: bool,
}

impl Conn {
    async fn reply(&mut self, line: &str) -> std::io::Result<()> {
        self.io
            .get_mut()
            .write_all(format!("{line}\r\n").as_bytes())
            .await?;
        self.io.get_mut().flush().await
    }

    /// One line without its CRLF; `None` at the end of the connection.
    async fn line(&mut self) -> std::io::Result<Option<String>> {
        let mut line = String::new();
        let n = (&mut self.io).take(64 * 1024).read_line(&mut line).await?;
        if n == 0 {
            return Ok(None);
        }
        Ok(Some(line.trim_end_matches(['\r', '\n']).to_string()))
    }
}

use tokio::io::AsyncReadExt as _;

async fn session(
    conn: TcpStream,
    options: &Options,
    acceptor: &TlsAcceptor,
    mails: &mpsc::UnboundedSender<Received>,
) -> std::io::Result<()> {
    let stream: Stream = if options.implicit_tls {
        Box::new(acceptor.accept(conn).await?)
    } else {
        Box::new(conn)
    };
    let mut c = Conn {
        io: BufReader::new(stream),
        tls: options.implicit_tls,
    };
    c.reply("220 relay.test ESMTP ready").await?;
    let mut user: Option<String> = None;
    let mut envelope: Option<(String, Vec<String>)> = None;
    while let Some(line) = c.line().await? {
        let upper = line.to_ascii_uppercase();
        let verb = upper.split(' ').next().unwrap_or("");
        match verb {
            "EHLO" => {
                c.reply("250-relay.test").await?;
                if !c.tls {
                    c.reply("250-STARTTLS").await?;
                } else {
                    c.reply("250-AUTH PLAIN LOGIN").await?;
                }
                c.reply("250 8BITMIME").await?;
            }
            "HELO" => c.reply("250 relay.test").await?,
            "STARTTLS" if !c.tls => {
                c.reply("220 2.0.0 ready for TLS").await?;
                let plain = c.io.into_inner();
                let tls = acceptor.accept(plain).await?;
                c = Conn {
                    io: BufReader::new(Box::new(tls)),
                    tls: true,
                };
                // RFC 3207: everything known before TLS is forgotten.
                user = None;
                envelope = None;
            }
            "AUTH" if c.tls => {
                let mut words = line.split(' ').skip(1);
                let mechanism = words.next().unwrap_or("").to_ascii_uppercase();
                let (name, password) = match mechanism.as_str() {
                    "PLAIN" => {
                        let initial = match words.next() {
                            Some(i) => i.to_string(),
                            None => {
                                c.reply("334 ").await?;
                                c.line().await?.unwrap_or_default()
                            }
                        };
                        let decoded = decode(&initial);
                        let mut parts = decoded.split('\0').skip(1);
                        (
                            parts.next().unwrap_or("").to_string(),
                            parts.next().unwrap_or("").to_string(),
                        )
                    }
                    "LOGIN" => {
                        c.reply("334 VXNlcm5hbWU6").await?;
                        let name = decode(&c.line().await?.unwrap_or_default());
                        c.reply("334 UGFzc3dvcmQ6").await?;
                        let password = decode(&c.line().await?.unwrap_or_default());
                        (name, password)
                    }
                    _ => {
                        c.reply("504 5.5.4 unrecognised authentication type")
                            .await?;
                        continue;
                    }
                };
                if options.account.as_ref() == Some(&(name.clone(), password)) {
                    user = Some(name);
                    c.reply("235 2.7.0 authentication successful").await?;
                } else {
                    c.reply("535 5.7.8 authentication credentials invalid")
                        .await?;
                }
            }
            "MAIL" => {
                if options.account.is_some() && user.is_none() {
                    c.reply("530 5.7.0 authentication required").await?;
                    continue;
                }
                envelope = Some((address(&line), Vec::new()));
                c.reply("250 2.1.0 ok").await?;
            }
            "RCPT" => match &mut envelope {
                Some((_, to)) => {
                    to.push(address(&line));
                    c.reply("250 2.1.5 ok").await?;
                }
                None => c.reply("503 5.5.1 MAIL first").await?,
            },
            "DATA" => {
                let Some((from, to)) = envelope.take().filter(|(_, to)| !to.is_empty()) else {
                    c.reply("503 5.5.1 RCPT first").await?;
                    continue;
                };
                if let Some(refusal) = &options.refuse_data_with {
                    c.reply(refusal).await?;
                    continue;
                }
                c.reply("354 end data with <CR><LF>.<CR><LF>").await?;
                let mut data = String::new();
                while let Some(l) = c.line().await? {
                    if l == "." {
                        break;
                    }
                    data.push_str(l.strip_prefix('.').unwrap_or(&l));
                    data.push('\n');
                }
                let _ = mails.send(Received {
                    from,
                    to,
                    data,
                    over_tls: c.tls,
                    user: user.clone(),
                });
                c.reply("250 2.0.0 queued").await?;
            }
            "RSET" => {
                envelope = None;
                c.reply("250 2.0.0 ok").await?;
            }
            "NOOP" => c.reply("250 2.0.0 ok").await?,
            "QUIT" => {
                c.reply("221 2.0.0 bye").await?;
                break;
            }
            _ => c.reply("502 5.5.2 command not recognised").await?,
        }
    }
    Ok(())
}

/// The address in `MAIL FROM:<a@b> …` or `RCPT TO:<a@b>`.
fn address(line: &str) -> String {
    line.split_once('<')
        .and_then(|(_, rest)| rest.split_once('>'))
        .map(|(a, _)| a.to_string())
        .unwrap_or_default()
}

fn decode(b64: &str) -> String {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}
