//! Text from agents is shown safely in the console: a bidirectional override in a device
//! name cannot reorder the page around it.

use steward_testkit::TestServer;

#[tokio::test]
async fn a_device_name_with_a_bidi_override_is_shown_escaped() {
    let server = TestServer::sqlite().await;
    let (device, _) = server.enroll_raw("plain").await;
    // Stored as an agent could have sent it (before or despite any ingest rule).
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&server.db.as_ref().unwrap().url)
        .await
        .unwrap();
    sqlx::query("UPDATE devices SET name = $1, os_name = $2 WHERE id = $3")
        .bind("invoice\u{202E}fdp.exe")
        .bind("Linux\u{2066}\x1b[31m")
        .bind(&device)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    server
        .create_user(
            "viewer",
            steward_core::Role::Viewer,
            "a long enough password",
        )
        .await;
    let session = server.sign_in("viewer", "a long enough password").await;
    for path in ["/devices".to_string(), format!("/devices/{device}")] {
        let html =
            steward_testkit::page_with(&server.http, format!("{}{path}", server.url), &session)
                .await;
        assert!(html.contains("invoice\\u{202e}fdp.exe"), "{path}: {html}");
        assert!(
            !html.contains('\u{202E}') && !html.contains('\u{2066}') && !html.contains('\x1b'),
            "{path}"
        );
    }
    server.cleanup().await;
}
