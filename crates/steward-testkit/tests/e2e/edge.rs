//! The network edge against real sockets: what an anonymous client can hold (connections,
//! time, memory) is bounded, and requests are judged by who really sent them and which name
//! they were sent to.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use steward_testkit::{ScriptedCollector, TestAgent, TestServer, eventually, sample_inventory};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const WAIT: Duration = Duration::from_secs(20);

/// A TCP connection to `server` from the loopback address `from` (all of 127.0.0.0/8 is
/// loopback on Linux, so 127.0.0.2 is "another client").
async fn connect_from(server: SocketAddr, from: &str) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::new(from.parse().unwrap(), 0))
        .unwrap();
    socket.connect(server).await.unwrap()
}

/// What came back on a connection within `within`.
#[derive(Debug, PartialEq)]
enum Answer {
    /// A response: status and everything read (head and whatever body arrived).
    Response(u16, String),
    /// The server closed the connection without answering.
    Closed,
    /// Nothing yet.
    Silent,
}

/// Reads until the response head and `Content-Length` bytes of body are in, the connection
/// closes, or `within` passes.
async fn answer(stream: &mut TcpStream, within: Duration) -> Answer {
    let deadline = tokio::time::Instant::now() + within;
    let mut buf = Vec::new();
    loop {
        if let Some(done) = complete_response(&buf) {
            return done;
        }
        let mut chunk = [0u8; 16 * 1024];
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Err(_) => return Answer::Silent,
            Ok(Ok(0)) | Ok(Err(_)) => {
                return if buf.is_empty() {
                    Answer::Closed
                } else {
                    response_of(&buf)
                };
            }
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn response_of(buf: &[u8]) -> Answer {
    let text = String::from_utf8_lossy(buf).to_string();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {text:?}"));
    Answer::Response(status, text)
}

fn complete_response(buf: &[u8]) -> Option<Answer> {
    let text = String::from_utf8_lossy(buf);
    let head_end = text.find("\r\n\r\n")?;
    let length: usize = text[..head_end]
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    (buf.len() >= head_end + 4 + length).then(|| response_of(buf))
}

/// Sends `request` on a new connection from 127.0.0.1 and returns the answer.
async fn exchange(server: &TestServer, request: &str) -> Answer {
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    answer(&mut stream, Duration::from_secs(10)).await
}

fn get_request(path: &str, host: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
}

fn status(answer: &Answer) -> u16 {
    match answer {
        Answer::Response(status, _) => *status,
        other => panic!("expected a response, got {other:?}"),
    }
}

fn header<'a>(answer: &'a Answer, name: &str) -> Option<&'a str> {
    let Answer::Response(_, text) = answer else {
        return None;
    };
    text.split("\r\n\r\n").next()?.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[tokio::test]
async fn half_open_and_idle_connections_are_closed_after_the_header_timeout() {
    let server = TestServer::sqlite_configured(|c| {
        c.net.header_timeout = Duration::from_secs(1);
    })
    .await;

    // Headers begun and never finished.
    let mut half_open = TcpStream::connect(server.addr).await.unwrap();
    half_open
        .write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    // Nothing at all sent.
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    for stream in [&mut half_open, &mut silent] {
        let got = answer(stream, Duration::from_secs(5)).await;
        assert!(
            matches!(got, Answer::Closed | Answer::Response(408, _)),
            "{got:?}"
        );
    }
    assert!(started.elapsed() >= Duration::from_millis(900));

    // A kept-alive connection that goes idle after a request is closed too.
    let mut idle = TcpStream::connect(server.addr).await.unwrap();
    idle.write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(
        status(&answer(&mut idle, Duration::from_secs(5)).await),
        200
    );
    let got = answer(&mut idle, Duration::from_secs(5)).await;
    assert!(
        matches!(got, Answer::Closed | Answer::Response(408, _)),
        "{got:?}"
    );
    server.cleanup().await;
}

#[tokio::test]
async fn a_body_that_trickles_in_is_cut_off() {
    let server = TestServer::sqlite_configured(|c| {
        c.net.body_timeout = Duration::from_secs(1);
    })
    .await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(
            b"POST /agent/v1/enroll HTTP/1.1\r\nHost: 127.0.0.1\r\n\
              Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{\"token\":",
        )
        .await
        .unwrap();
    let started = Instant::now();
    // One byte every 300 ms: the connection is never idle, but the body never ends.
    let trickle = async {
        for _ in 0..30 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            if stream.write_all(b" ").await.is_err() {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_millis(1500), trickle).await;
    let got = answer(&mut stream, Duration::from_secs(5)).await;
    assert!(
        matches!(got, Answer::Closed | Answer::Response(408, _)),
        "{got:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    server.cleanup().await;
}

#[tokio::test]
async fn a_tls_handshake_that_never_comes_is_cut_off() {
    let server = TestServer::start_tls_configured(steward_testkit::TestDb::sqlite(), |c| {
        c.net.tls_handshake_timeout = Duration::from_secs(1);
    })
    .await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let started = Instant::now();
    assert_eq!(
        answer(&mut stream, Duration::from_secs(5)).await,
        Answer::Closed
    );
    assert!(started.elapsed() >= Duration::from_millis(900));
    // And the server still speaks HTTPS to everyone else.
    let resp = server
        .http
        .get(format!("{}/api/v1/health", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    server.cleanup().await;
}

/// Opens `n` connections from `from`, each with a request head begun and not finished.
async fn hold(server: SocketAddr, from: &str, n: usize) -> Vec<TcpStream> {
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        let mut stream = connect_from(server, from).await;
        let _ = stream
            .write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            .await;
        held.push(stream);
    }
    held
}

/// How many of `streams` the server has closed (an open one stays silent).
async fn closed_among(streams: &mut [TcpStream]) -> usize {
    let mut closed = 0;
    for s in streams.iter_mut() {
        if answer(s, Duration::from_millis(20)).await == Answer::Closed {
            closed += 1;
        }
    }
    closed
}

async fn health_from(server: SocketAddr, from: &str) -> Answer {
    let mut stream = connect_from(server, from).await;
    stream
        .write_all(get_request("/api/v1/health", "127.0.0.1").as_bytes())
        .await
        .unwrap();
    answer(&mut stream, Duration::from_secs(5)).await
}

#[tokio::test]
async fn connections_are_limited_per_address_and_in_total() {
    let server = TestServer::sqlite_configured(|c| {
        c.net.max_connections_per_address = 5;
        c.net.max_connections = 8;
    })
    .await;
    let addr = server.addr;
    let mut first = hold(addr, "127.0.0.1", 5).await;
    // Wait until the server has admitted all five (accepting is asynchronous).
    eventually(WAIT, "five connections admitted", || async {
        (server_open(&server) == 5).then_some(())
    })
    .await;
    // A sixth from the same address is closed at once, without an answer.
    let mut sixth = hold(addr, "127.0.0.1", 1).await;
    assert_eq!(
        answer(&mut sixth[0], Duration::from_secs(5)).await,
        Answer::Closed
    );
    assert_eq!(closed_among(&mut first).await, 0);
    // Another address is served meanwhile.
    assert_eq!(status(&health_from(addr, "127.0.0.2").await), 200);

    // The total: three more from 127.0.0.2 fill the server; 127.0.0.3 is turned away.
    let _second = hold(addr, "127.0.0.2", 3).await;
    eventually(WAIT, "eight connections admitted", || async {
        (server_open(&server) == 8).then_some(())
    })
    .await;
    assert_eq!(health_from(addr, "127.0.0.3").await, Answer::Closed);
    // A place freed is a place taken.
    drop(first.pop());
    eventually(WAIT, "a freed place", || async {
        match health_from(addr, "127.0.0.3").await {
            Answer::Response(200, _) => Some(()),
            _ => None,
        }
    })
    .await;
    server.cleanup().await;
}

/// Connections the server holds now: one health request's worth of guessing is avoided
/// by counting what the kernel shows for the server's port.
fn server_open(server: &TestServer) -> usize {
    // Established TCP connections whose local port is the server's (the server side).
    let port = format!(":{:04X}", server.addr.port());
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    table
        .lines()
        .skip(1)
        .filter(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            cols.len() > 3 && cols[1].ends_with(&port) && cols[3] == "01"
        })
        .count()
}

#[tokio::test]
async fn health_answers_while_one_address_holds_a_thousand_half_open_connections() {
    let server = TestServer::sqlite_configured(|c| {
        c.net.header_timeout = Duration::from_secs(60);
        c.net.max_connections_per_address = 256;
    })
    .await;
    let mut attacker = hold(server.addr, "127.0.0.1", 1100).await;
    // The server keeps at most its per-address limit of them; the rest it closed.
    let deadline = Instant::now() + WAIT;
    let closed = loop {
        let closed = closed_among(&mut attacker).await;
        if closed >= 1100 - 256 || Instant::now() > deadline {
            break closed;
        }
    };
    assert!(closed >= 1100 - 256, "closed {closed}");
    assert!(closed <= 1100 - 256 + 5, "closed {closed}");
    let started = Instant::now();
    for from in ["127.0.0.2", "127.0.0.3"] {
        assert_eq!(status(&health_from(server.addr, from).await), 200);
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    drop(attacker);
    server.cleanup().await;
}

#[tokio::test]
async fn oversized_bodies_are_refused_before_they_are_read() {
    let server = TestServer::sqlite().await;
    for (path, content_type) in [
        ("/login", "application/x-www-form-urlencoded"),
        ("/agent/v1/enroll", "application/json"),
        ("/api/v1/users", "application/json"),
    ] {
        // 30 MB announced, a few bytes sent: the refusal comes without waiting for more.
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream
            .write_all(
                format!(
                    "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n\
                     Content-Length: 30000000\r\n\r\nusername=x"
                )
                .as_bytes(),
            )
            .await
            .unwrap();
        let started = Instant::now();
        let got = answer(&mut stream, Duration::from_secs(5)).await;
        assert_eq!(status(&got), 413, "{path}: {got:?}");
        assert!(started.elapsed() < Duration::from_secs(2), "{path}");
        if path.starts_with("/login") {
            assert!(
                header(&got, "content-type")
                    .unwrap()
                    .starts_with("text/html")
            );
        } else {
            assert!(
                matches!(&got, Answer::Response(_, t) if t.contains("\"error\":\"payload_too_large\"")),
                "{got:?}"
            );
        }
    }
    // The agent upload route takes large bodies, but only from an agent: a stranger's is
    // refused on its credential, before the body is read.
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(
            b"POST /agent/v1/reports HTTP/1.1\r\nHost: 127.0.0.1\r\n\
              Authorization: Bearer nobody.nothing\r\nContent-Type: application/json\r\n\
              Content-Length: 3000000\r\n\r\n{\"reports\":",
        )
        .await
        .unwrap();
    let started = Instant::now();
    assert_eq!(
        status(&answer(&mut stream, Duration::from_secs(5)).await),
        401
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    // A request head may not grow without end either (hyper by default buffers up to 400 KiB
    // of one; a few hundred KiB of head on every connection would add up to gigabytes).
    let huge_head = format!(
        "GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {}\r\n\r\n",
        "c".repeat(300 * 1024)
    );
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let _ = stream.write_all(huge_head.as_bytes()).await;
    let got = answer(&mut stream, Duration::from_secs(5)).await;
    assert!(
        matches!(got, Answer::Closed | Answer::Response(431, _)),
        "{got:?}"
    );
    // Without a length (chunked), a body is cut off at the limit as it streams in.
    let body = format!(
        "{{\"token\":\"{}\",\"hostname\":\"h\"}}",
        "x".repeat(100 * 1024)
    );
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let head = "POST /agent/v1/enroll HTTP/1.1\r\nHost: 127.0.0.1\r\n\
                Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    stream.write_all(head.as_bytes()).await.unwrap();
    let _ = stream
        .write_all(format!("{:x}\r\n{body}\r\n0\r\n\r\n", body.len()).as_bytes())
        .await;
    assert_eq!(
        status(&answer(&mut stream, Duration::from_secs(5)).await),
        413
    );
    server.cleanup().await;
}

#[tokio::test]
async fn authenticated_agent_uploads_keep_the_large_limit() {
    let server = TestServer::sqlite().await;
    let api = server.api_token().await;
    // An inventory well over the small limit (64 KiB) arrives whole.
    let inventory = sample_inventory("big", 3000);
    assert!(serde_json::to_vec(&inventory).unwrap().len() > 128 * 1024);
    let token = server.enroll_token(1).await;
    let mut agent = TestAgent::enroll(&server.url, &token, ScriptedCollector::new(inventory))
        .await
        .unwrap();
    agent.start(Duration::from_secs(1));
    let device = agent.device_id.clone();
    eventually(WAIT, "the large inventory stored", || async {
        let (_, body) = server
            .api_get(
                &api,
                &format!("/api/v1/devices/{device}/software?per_page=1"),
            )
            .await;
        (body["total"] == 3000).then_some(())
    })
    .await;
    agent.stop().await;
    server.cleanup().await;
}

#[tokio::test]
async fn the_long_poll_outlives_the_header_and_body_timeouts() {
    let server = TestServer::sqlite_configured(|c| {
        c.net.header_timeout = Duration::from_secs(1);
        c.net.body_timeout = Duration::from_secs(1);
    })
    .await;
    let (_, credential) = server.enroll_raw("poller").await;
    let started = Instant::now();
    let resp = reqwest::Client::new()
        .get(format!("{}/agent/v1/jobs/next?wait=3", server.url))
        .bearer_auth(&credential)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 204);
    assert!(started.elapsed() >= Duration::from_millis(2900));
    server.cleanup().await;
}

#[tokio::test]
async fn requests_for_names_that_are_not_ours_are_refused() {
    let server = TestServer::sqlite_configured(|c| {
        c.host_names = vec!["localhost".into(), "steward.example".into()];
    })
    .await;
    let port = server.addr.port();
    // DNS rebinding: a page at evil.example whose name now points at us.
    let got = exchange(
        &server,
        &get_request("/login", &format!("evil.example:{port}")),
    )
    .await;
    assert_eq!(status(&got), 421);
    assert!(
        header(&got, "content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(matches!(&got, Answer::Response(_, t) if t.contains("public_names")));
    let got = exchange(
        &server,
        &get_request("/api/v1/devices", &format!("evil.example:{port}")),
    )
    .await;
    assert_eq!(status(&got), 421);
    assert!(matches!(&got, Answer::Response(_, t) if t.contains("misdirected_request")));
    let got = exchange(
        &server,
        "POST /agent/v1/enroll HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
    )
    .await;
    assert_eq!(status(&got), 421);
    // Health answers to any name (monitors probe by address or alias).
    assert_eq!(
        status(&exchange(&server, &get_request("/api/v1/health", "evil.example")).await),
        200
    );
    // Our names and addresses are served.
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        "STEWARD.example".to_string(),
        format!("[::1]:{port}"),
    ] {
        assert_eq!(
            status(&exchange(&server, &get_request("/login", &host)).await),
            200,
            "{host}"
        );
    }
    server.cleanup().await;
}

/// Signs in (wrongly or rightly) through a raw connection with extra headers; returns the
/// answer.
async fn sign_in_with_headers(server: &TestServer, password: &str, extra: &str) -> Answer {
    let body = format!("username=alice&password={}", password.replace(' ', "+"));
    exchange(
        server,
        &format!(
            "POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{extra}\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    )
    .await
}

async fn last_failure_source(server: &TestServer) -> String {
    server
        .store
        .audit_after(0, 1000)
        .await
        .unwrap()
        .iter()
        .rev()
        .find(|e| e.facts.action == "sign_in_failed")
        .expect("a sign_in_failed audit entry")
        .facts
        .source
        .clone()
}

const PASSWORD: &str = "correct horse battery";

#[tokio::test]
async fn forwarding_headers_count_only_from_a_trusted_proxy() {
    let forged = "X-Forwarded-For: 203.0.113.9\r\nX-Forwarded-Proto: https\r\n";

    // No trusted proxies: the header is the client's own claim and is ignored.
    let direct = TestServer::sqlite().await;
    direct
        .create_user("alice", steward_core::Role::Admin, PASSWORD)
        .await;
    sign_in_with_headers(&direct, "wrong password!", forged).await;
    assert_eq!(last_failure_source(&direct).await, "127.0.0.1");
    let got = sign_in_with_headers(&direct, PASSWORD, forged).await;
    assert_eq!(status(&got), 303);
    let cookie = header(&got, "set-cookie").unwrap();
    assert!(!cookie.contains("Secure"), "{cookie}");
    direct.cleanup().await;

    // Behind a trusted TLS-terminating proxy on loopback: the client is who the proxy says,
    // and the browser is on HTTPS, so the session cookie is Secure.
    let proxied = TestServer::sqlite_configured(|c| {
        c.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
    })
    .await;
    proxied
        .create_user("alice", steward_core::Role::Admin, PASSWORD)
        .await;
    sign_in_with_headers(&proxied, "wrong password!", forged).await;
    assert_eq!(last_failure_source(&proxied).await, "203.0.113.9");
    let got = sign_in_with_headers(
        &proxied,
        PASSWORD,
        "Forwarded: for=198.51.100.4;proto=https\r\n",
    )
    .await;
    assert_eq!(status(&got), 303);
    let cookie = header(&got, "set-cookie").unwrap();
    assert!(cookie.ends_with("; Secure"), "{cookie}");
    let sign_in = proxied
        .store
        .audit_after(0, 1000)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.facts.action == "sign_in")
        .unwrap();
    assert_eq!(sign_in.facts.source, "198.51.100.4");
    // Plain HTTP through the proxy: no Secure.
    let got = sign_in_with_headers(&proxied, PASSWORD, "X-Forwarded-Proto: http\r\n").await;
    assert!(!header(&got, "set-cookie").unwrap().contains("Secure"));
    proxied.cleanup().await;
}

#[tokio::test]
async fn api_answers_carry_nosniff() {
    let server = TestServer::sqlite().await;
    let token = server.api_token().await;
    let resp = server
        .http
        .get(format!("{}/api/v1/devices", server.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
    for path in ["/api/v1/devices", "/agent/v1/jobs/next", "/api/v1/nothing"] {
        let resp = server
            .http
            .get(format!("{}{path}", server.url))
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_client_error(), "{path}");
        assert_eq!(
            resp.headers()["x-content-type-options"],
            "nosniff",
            "{path}"
        );
    }
    server.cleanup().await;
}
