//! Helpers for driving the console and API over HTTP as a browser or a script would.

use reqwest::Method;
use reqwest::redirect::Policy;
use serde_json::Value;
use steward_testkit::TestServer;

/// The password the tests give their users.
pub const PASSWORD: &str = "correct horse battery staple";

/// A client that does not follow redirects, so a test sees where it is sent.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// `name=value` of each Set-Cookie header.
pub fn cookies(resp: &reqwest::Response) -> Vec<String> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
        .collect()
}

/// The text between `start` and the next `end` in a page.
pub fn between<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let from = html
        .find(start)
        .unwrap_or_else(|| panic!("{start:?} not in page"))
        + start.len();
    let rest = &html[from..];
    &rest[..rest.find(end).unwrap()]
}

/// GETs a console page with a session; returns the status and the body, or the
/// redirect target.
pub async fn get(
    http: &reqwest::Client,
    server: &TestServer,
    cookie: &str,
    path: &str,
) -> (u16, String) {
    let resp = http
        .get(format!("{}{path}", server.url))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let location = resp
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_string());
    let body = resp.text().await.unwrap();
    (status, location.unwrap_or(body))
}

/// POSTs a console form with a session.
pub async fn post(
    http: &reqwest::Client,
    server: &TestServer,
    cookie: &str,
    path: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    http.post(format!("{}{path}", server.url))
        .header("cookie", cookie)
        .form(form)
        .send()
        .await
        .unwrap()
}

/// Who calls the API: a bearer token, or a console session (its cookie and CSRF token).
#[derive(Clone, Copy)]
pub enum Caller<'a> {
    Token(&'a str),
    Session { cookie: &'a str, csrf: &'a str },
}

/// One API request; returns the status and the JSON answer (`null` when there is none).
pub async fn api(
    server: &TestServer,
    method: Method,
    path: &str,
    caller: Caller<'_>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = server.http.request(method, format!("{}{path}", server.url));
    req = match caller {
        Caller::Token(token) => req.bearer_auth(token),
        Caller::Session { cookie, csrf } => {
            req.header("cookie", cookie).header("x-csrf-token", csrf)
        }
    };
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// A server over SQLite whose configuration declares one webhook channel, `ops`, to `hook`.
pub async fn server_alerting_to(hook: String) -> steward_testkit::TestServer {
    steward_testkit::TestServer::sqlite_configured(|c| {
        c.declared_channels = vec![steward_server::monitoring::DeclaredChannel {
            name: "ops".into(),
            channel: steward_notify::Channel::Webhook(steward_notify::Webhook {
                url: hook,
                secret: None,
            }),
        }];
    })
    .await
}
