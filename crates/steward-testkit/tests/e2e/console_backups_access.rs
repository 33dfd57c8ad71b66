//! Who may do what with backups in the console: a viewer sees a device's backups and
//! snapshots without the buttons and may post none of the forms; the repository password is
//! for administrators, after a recent step-up, and each showing is audited.

use steward_core::Role;
use steward_testkit::TestServer;

use crate::console_backups::{device_with_snapshots, signed_in, submit};
use crate::support::{PASSWORD, between, browser, get};

#[tokio::test]
async fn a_viewer_looks_and_the_password_needs_an_administrator_and_a_step_up() {
    let server = TestServer::sqlite_manual_clock().await;
    let dir = tempfile::tempdir().unwrap();
    let (device, _, [_, newer]) = device_with_snapshots(&server, dir.path()).await;
    let http = browser();

    // A viewer sees the backups, not the buttons, and may post no form.
    let (viewer, viewer_csrf) = signed_in(&server, "viewer", Role::Viewer).await;
    let (status, html) = get(&http, &server, &viewer, &format!("/devices/{device}")).await;
    assert_eq!(status, 200);
    let section = between(
        &html,
        r#"<section class="card" id="backups">"#,
        "</section>",
    );
    assert!(section.contains("Last backup"), "{section}");
    assert!(
        !section.contains("Back up now") && !section.contains("Show repository password"),
        "{section}"
    );
    let page = format!("/devices/{device}/backups/{newer}");
    let (status, html) = get(&http, &server, &viewer, &page).await;
    assert_eq!(status, 200);
    assert!(
        !html.contains("restore-form") && !html.contains(r#"type="checkbox""#),
        "{html}"
    );
    for (path, fields) in [
        (
            format!("/devices/{device}/backups"),
            vec![("paths", "/etc")],
        ),
        (
            format!("{page}/restore"),
            vec![("paths", "/etc"), ("target_path", "/tmp/r")],
        ),
        (format!("/devices/{device}/backup-password"), vec![]),
    ] {
        let mut form = vec![("csrf", viewer_csrf.as_str())];
        form.extend(fields);
        let (status, _) = submit(&server, &viewer, &path, &form).await;
        assert_eq!(status, 403, "{path}");
    }
    let (status, _) = get(
        &http,
        &server,
        &viewer,
        &format!("/devices/{device}/backup-password"),
    )
    .await;
    assert_eq!(status, 403);

    // An administrator just signed in sees the password at once, with the restic command.
    let (admin, admin_csrf) = signed_in(&server, "boss", Role::Admin).await;
    let (_, html) = get(&http, &server, &admin, &format!("/devices/{device}")).await;
    assert!(html.contains("Show repository password"));
    let reveal = format!("/devices/{device}/backup-password");
    let (status, html) = submit(&server, &admin, &reveal, &[("csrf", &admin_csrf)]).await;
    assert_eq!(status, 200, "{html}");
    let password = between(&html, r#"<p class="secret-box" id="password">"#, "</p>");
    assert!(password.len() >= 20, "{password}");
    let command = between(
        &html,
        r#"<p class="secret-box" id="restic-command">"#,
        "</p>",
    );
    assert_eq!(
        command,
        format!(
            "restic -r {} snapshots",
            server.backups_dir().join(&device).display()
        )
    );
    // Without the token: refused.
    let (status, _) = submit(&server, &admin, &reveal, &[]).await;
    assert_eq!(status, 403);

    // Ten minutes on, the same session confirms its password first, then comes back here.
    server.clock().advance(std::time::Duration::from_secs(600));
    let (status, location) = submit(&server, &admin, &reveal, &[("csrf", &admin_csrf)]).await;
    assert_eq!(
        (status, location.as_str()),
        (
            303,
            format!("/reauth?next=/devices/{device}/backup-password").as_str()
        )
    );
    let (status, location) = get(&http, &server, &admin, &reveal).await;
    assert_eq!(status, 303);
    assert!(location.starts_with("/reauth"), "{location}");
    let (status, location) = submit(
        &server,
        &admin,
        "/reauth",
        &[
            ("csrf", &admin_csrf),
            ("password", PASSWORD),
            ("next", &reveal),
        ],
    )
    .await;
    assert_eq!((status, location.as_str()), (303, reveal.as_str()));
    let (status, html) = get(&http, &server, &admin, &reveal).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("Show repository password") && !html.contains(r#"id="password""#),
        "{html}"
    );

    // Each showing is audited (the API's, and the console's first).
    let token = server.api_token().await;
    let (_, audit) = server.api_get(&token, "/api/v1/audit").await;
    let shown = audit
        .to_string()
        .matches("backup_password_revealed")
        .count();
    assert!(shown >= 2, "{audit}");
    server.cleanup().await;
}
