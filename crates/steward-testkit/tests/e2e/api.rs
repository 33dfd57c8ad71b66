//! The REST API: authentication, errors, filters, the OpenAPI document.

use serde_json::Value;
use steward_testkit::TestServer;

#[tokio::test]
async fn health_is_public_and_everything_else_needs_a_principal() {
    let server = TestServer::sqlite().await;
    let resp = server
        .http
        .get(format!("{}/api/v1/health", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"], "sqlite");

    let spec: Value = server
        .http
        .get(format!("{}/api/openapi.json", server.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths = spec["paths"].as_object().unwrap();
    for p in [
        "/api/v1/health",
        "/api/v1/devices",
        "/api/v1/devices/{id}",
        "/api/v1/devices/{id}/software",
        "/api/v1/devices/{id}/changes",
        "/agent/v1/reports",
    ] {
        assert!(
            paths.contains_key(p),
            "{p} missing from the OpenAPI document"
        );
    }
    // Every documented API route other than health refuses an anonymous caller with JSON.
    for (path, item) in paths {
        if path == "/api/v1/health" || path == "/agent/v1/enroll" {
            continue;
        }
        let concrete = path.replace("{id}", "00000000-0000-0000-0000-000000000000");
        for method in item.as_object().unwrap().keys() {
            let url = format!("{}{concrete}", server.url);
            let req = match method.as_str() {
                "get" => server.http.get(url),
                "post" => server.http.post(url).json(&serde_json::json!({})),
                "put" => server.http.put(url).json(&serde_json::json!({})),
                "patch" => server.http.patch(url).json(&serde_json::json!({})),
                "delete" => server.http.delete(url),
                other => panic!("unexpected method {other}"),
            };
            let resp = req.send().await.unwrap();
            assert_eq!(resp.status().as_u16(), 401, "{method} {path}");
            let err: Value = resp.json().await.unwrap();
            assert_eq!(err["error"], "unauthorized", "{method} {path}");
        }
    }
    // A wrong or revoked API token is refused.
    let (status, _) = server.api_get("stw_api_wrong", "/api/v1/devices").await;
    assert_eq!(status, 401);
    server.cleanup().await;
}

#[tokio::test]
async fn device_list_filters_sorts_and_paginates() {
    let server = TestServer::sqlite().await;
    let api = server.api_token().await;
    for name in ["delta", "alpha", "charlie", "bravo", "Echo"] {
        server.enroll_raw(name).await;
    }
    let (_, ids) = server.api_get(&api, "/api/v1/devices?name=alpha").await;
    let alpha = ids["items"][0]["id"].as_str().unwrap().to_string();
    server
        .store
        .set_device_tags(&alpha, &["office".into()])
        .await
        .unwrap();

    let names = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["name"].as_str().unwrap().to_string())
            .collect()
    };
    let (status, page) = server
        .api_get(&api, "/api/v1/devices?per_page=2&page=2")
        .await;
    assert_eq!(status, 200);
    assert_eq!(page["total"], 5);
    assert_eq!(names(&page), ["charlie", "delta"]);
    let (_, page) = server
        .api_get(&api, "/api/v1/devices?sort=name&desc=true&per_page=1")
        .await;
    assert_eq!(names(&page), ["Echo"]);
    let (_, page) = server.api_get(&api, "/api/v1/devices?name=ECH").await;
    assert_eq!(names(&page), ["Echo"]);
    let (_, page) = server.api_get(&api, "/api/v1/devices?tag=office").await;
    assert_eq!(names(&page), ["alpha"]);
    assert_eq!(page["items"][0]["tags"][0], "office");
    assert_eq!(page["items"][0]["status"], "pending");

    // Bad input: clear JSON errors, never a 500.
    for (path, want) in [
        ("/api/v1/devices?per_page=abc", 400),
        ("/api/v1/devices?sort=sideways", 400),
        ("/api/v1/devices/nope", 404),
        ("/api/v1/devices/nope/software", 404),
        (
            &format!("/api/v1/devices/{alpha}/changes?kind=explosion"),
            400,
        ),
        ("/api/v1/nothing-here", 404),
    ] {
        let (status, body) = server.api_get(&api, path).await;
        assert_eq!(status, want, "{path}: {body}");
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{path}: {body}"
        );
    }
    let (status, body) = server
        .api_post(
            &api,
            &format!("/api/v1/devices/{alpha}/jobs"),
            serde_json::json!({"kind": "format_disk"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    server.cleanup().await;
}
