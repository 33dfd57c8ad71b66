//! Contract: maintenance windows, routes, acknowledgements, device checks' states written
//! from reports, and alerts as a scope sees them.

use super::*;
use steward_store::{
    AckWrite, ChannelRecord, CheckRecord, CheckResultWrite, NoticeWrite, RouteRecord, WindowRecord,
};

fn device_check(id: &str, name: &str) -> CheckRecord {
    CheckRecord {
        id: id.into(),
        name: name.into(),
        kind: "disk".into(),
        target: "all".into(),
        spec: r#"{"kind":"disk","warn_percent":90,"critical_percent":95}"#.into(),
        interval_ms: 60_000,
        rules: "{}".into(),
        runner: "server".into(),
        parent_id: None,
        runbook: "Free some space.".into(),
        source: "console".into(),
        enabled: true,
        created_at: ts(1),
        updated_at: ts(1),
    }
}

fn judged(
    check: &str,
    subject: &str,
    status: &str,
    at: i64,
    notices: Vec<NoticeWrite>,
) -> CheckResultWrite {
    CheckResultWrite {
        due_at: ts(0),
        decided_at: ts(at),
        check_id: check.into(),
        subject: subject.into(),
        state: format!("{{\"status\":\"{status}\"}}"),
        status: status.into(),
        since: ts(at),
        summary: format!("{status} at {at}"),
        next_run_at: ts(i64::MAX),
        transition: Some(("ok".into(), status.into(), ts(at))),
        notices,
    }
}

fn channel(id: &str) -> ChannelRecord {
    ChannelRecord {
        id: id.into(),
        name: format!("channel {id}"),
        kind: "webhook".into(),
        settings: "sealed".into(),
        source: "console".into(),
        created_at: ts(1),
    }
}

contract_test!(
    windows_and_routes_are_saved_listed_and_deleted,
    |db: TestDb| async move {
        let w = WindowRecord {
            id: "w1".into(),
            name: "patch night".into(),
            target: "group:g1".into(),
            schedule: r#"{"kind":"weekly","days":[2],"start_minute":120,"minutes":60}"#.into(),
            comment: "updates".into(),
            source: "console".into(),
            created_by: "alice".into(),
            created_at: ts(5),
        };
        db.save_window(&w).await.unwrap();
        let mut clash = w.clone();
        clash.id = "w2".into();
        assert!(matches!(
            db.save_window(&clash).await,
            Err(StoreError::Conflict(_))
        ));
        let mut changed = w.clone();
        changed.target = "all".into();
        db.save_window(&changed).await.unwrap();
        assert_eq!(db.windows().await.unwrap(), vec![changed]);
        db.delete_window("w1").await.unwrap();
        assert!(db.windows().await.unwrap().is_empty());
        assert!(matches!(
            db.delete_window("w1").await,
            Err(StoreError::NotFound)
        ));

        db.save_channel(&channel("ch1")).await.unwrap();
        let r = RouteRecord {
            id: "r1".into(),
            channel_id: "ch1".into(),
            min_status: "critical".into(),
            devices: "tag:web".into(),
            source: "console".into(),
            created_at: ts(5),
        };
        db.save_route(&r).await.unwrap();
        let mut orphan = r.clone();
        orphan.id = "r2".into();
        orphan.channel_id = "missing".into();
        assert!(matches!(
            db.save_route(&orphan).await,
            Err(StoreError::NotFound)
        ));
        assert_eq!(db.routes().await.unwrap(), vec![r]);
        // A channel's routes go with it.
        db.delete_channel("ch1").await.unwrap();
        assert!(db.routes().await.unwrap().is_empty());
        assert!(matches!(
            db.delete_channel("ch1").await,
            Err(StoreError::NotFound)
        ));
    }
);

contract_test!(
    declared_routes_are_replaced_at_once_and_others_left_alone,
    |db: TestDb| async move {
        db.save_channel(&channel("ch1")).await.unwrap();
        db.save_channel(&channel("ch2")).await.unwrap();
        let route = |id: &str, channel: &str, source: &str| RouteRecord {
            id: id.into(),
            channel_id: channel.into(),
            min_status: "critical".into(),
            devices: "all".into(),
            source: source.into(),
            created_at: ts(5),
        };
        let mine = route("console-1", "ch1", "console");
        db.save_route(&mine).await.unwrap();
        let first = [
            route("config:0", "ch1", "config"),
            route("config:1", "ch2", "config"),
        ];
        db.replace_routes("config", &first).await.unwrap();
        assert_eq!(db.routes().await.unwrap().len(), 3);
        // The file changed: one route now, for ch2 and a tag.
        let mut second = route("config:0", "ch2", "config");
        second.devices = "tag:web".into();
        second.min_status = "warning".into();
        db.replace_routes("config", std::slice::from_ref(&second))
            .await
            .unwrap();
        let mut routes = db.routes().await.unwrap();
        routes.sort_by(|a, b| a.id.cmp(&b.id));
        assert_eq!(routes, vec![second.clone(), mine.clone()]);
        // A route to a channel that does not exist: refused, and nothing replaced.
        let bad = [
            route("config:0", "ch1", "config"),
            route("config:1", "gone", "config"),
        ];
        assert!(matches!(
            db.replace_routes("config", &bad).await,
            Err(StoreError::NotFound)
        ));
        let mut after = db.routes().await.unwrap();
        after.sort_by(|a, b| a.id.cmp(&b.id));
        assert_eq!(after, routes);
        // No routes declared any more: the file's are gone, the console's stay.
        db.replace_routes("config", &[]).await.unwrap();
        assert_eq!(db.routes().await.unwrap(), vec![mine]);
    }
);

contract_test!(
    device_results_create_states_write_history_and_queue_once,
    |db: TestDb| async move {
        enroll(&db, "d1", "web-1").await;
        enroll(&db, "d2", "web-2").await;
        db.save_check(&device_check("disk", "Disk space"))
            .await
            .unwrap();
        db.save_channel(&channel("ch1")).await.unwrap();
        let notice = |key: &str| NoticeWrite {
            key: key.into(),
            channel_id: "ch1".into(),
            payload: "{}".into(),
        };
        let first = |subject: &str, status: &str| {
            (
                None,
                judged(
                    "disk",
                    subject,
                    status,
                    10,
                    vec![notice("transition:{history}")],
                ),
            )
        };
        let written = db
            .record_device_results(&[first("d1", "critical"), first("d2", "warning")])
            .await
            .unwrap();
        assert_eq!(written, 2);
        let states = db.states_of_check("disk").await.unwrap();
        assert_eq!(
            states
                .iter()
                .map(|s| (s.subject.as_str(), s.status.as_str()))
                .collect::<Vec<_>>(),
            [("d1", "critical"), ("d2", "warning")]
        );
        assert_eq!(db.states_of_subject("d1").await.unwrap().len(), 1);
        assert_eq!(db.notifications(10).await.unwrap().len(), 2);
        // Another server judged the same report: its write finds the state moved on and
        // leaves no second history line nor a second notice.
        assert_eq!(
            db.record_device_results(&[first("d1", "critical")])
                .await
                .unwrap(),
            0
        );
        let mut recovered = judged("disk", "d1", "ok", 20, vec![notice("transition:{history}")]);
        recovered.transition = Some(("critical".into(), "ok".into(), ts(20)));
        let wrong = (Some("{}".to_string()), recovered.clone());
        assert_eq!(db.record_device_results(&[wrong]).await.unwrap(), 0);
        // Judged on the stored state: one more history line, one more notice.
        let stored = db.states_of_subject("d1").await.unwrap().remove(0).state;
        assert_eq!(
            db.record_device_results(&[(Some(stored), recovered)])
                .await
                .unwrap(),
            1
        );
        assert_eq!(db.check_history("disk", "d1", 10).await.unwrap().len(), 2);
        assert_eq!(db.states_of_subject("d1").await.unwrap()[0].status, "ok");
        assert_eq!(db.notifications(10).await.unwrap().len(), 3);
        // A result for a check deleted meanwhile is refused, and nothing of the batch lands.
        let d2 = db.states_of_subject("d2").await.unwrap().remove(0).state;
        let r = db
            .record_device_results(&[
                (Some(d2), judged("disk", "d2", "critical", 30, Vec::new())),
                (None, judged("gone", "d1", "critical", 30, Vec::new())),
            ])
            .await;
        assert!(matches!(r, Err(StoreError::NotFound)), "{r:?}");
        assert_eq!(
            db.states_of_subject("d2").await.unwrap()[0].status,
            "warning"
        );
        assert_eq!(db.record_device_results(&[]).await.unwrap(), 0);
    }
);

contract_test!(
    an_acknowledgement_is_kept_in_history_and_refused_on_a_changed_state,
    |db: TestDb| async move {
        enroll(&db, "d1", "web-1").await;
        db.save_check(&device_check("disk", "Disk space"))
            .await
            .unwrap();
        db.record_device_results(&[(None, judged("disk", "d1", "critical", 10, Vec::new()))])
            .await
            .unwrap();
        let current = db.states_of_subject("d1").await.unwrap().remove(0);
        let ack = AckWrite {
            check_id: "disk".into(),
            subject: "d1".into(),
            expected_state: current.state.clone(),
            state: "{\"acknowledged\":true}".into(),
            status: "critical".into(),
            actor: "alice".into(),
            comment: "cleaning /var/log".into(),
            at: ts(15),
        };
        db.acknowledge_check(&ack).await.unwrap();
        let history = db.check_history("disk", "d1", 10).await.unwrap();
        assert_eq!(
            (
                history[0].event.as_str(),
                history[0].actor.as_str(),
                history[0].summary.as_str()
            ),
            ("acknowledged", "alice", "cleaning /var/log")
        );
        assert_eq!(history[1].event, "change");
        // The same acknowledgement again: the state is no longer what it was read as.
        assert!(matches!(
            db.acknowledge_check(&ack).await,
            Err(StoreError::Conflict(_))
        ));
        let mut missing = ack.clone();
        missing.subject = "d9".into();
        assert!(matches!(
            db.acknowledge_check(&missing).await,
            Err(StoreError::NotFound)
        ));
    }
);

contract_test!(alerts_are_read_within_the_scope, |db: TestDb| async move {
    enroll(&db, "d1", "web-1").await;
    enroll(&db, "d2", "db-1").await;
    db.create_group("g1", "factory", ts(1)).await.unwrap();
    db.set_device_group("d1", Some("g1")).await.unwrap();
    db.set_device_tags("d1", &["web".to_string()])
        .await
        .unwrap();
    db.save_check(&device_check("disk", "Disk space"))
        .await
        .unwrap();
    let mut monitor = device_check("site", "shop-website");
    monitor.kind = "http".into();
    monitor.target = String::new();
    db.save_check(&monitor).await.unwrap();
    db.record_device_results(&[
        (None, judged("disk", "d1", "critical", 10, Vec::new())),
        (None, judged("disk", "d2", "warning", 11, Vec::new())),
    ])
    .await
    .unwrap();
    db.track_check("site", "", "{}", ts(0), ts(0))
        .await
        .unwrap();
    db.record_check_result(&judged("site", "", "critical", 12, Vec::new()))
        .await
        .unwrap();

    let everything = db.all().open_alerts(100).await.unwrap();
    assert_eq!(
        everything
            .iter()
            .map(|a| (a.check_name.as_str(), a.device_name.as_deref()))
            .collect::<Vec<_>>(),
        [
            ("shop-website", None),
            ("Disk space", Some("db-1")),
            ("Disk space", Some("web-1"))
        ],
        "newest problem first"
    );
    let factory = Scope::Groups(vec!["g1".into()]);
    let seen = db.scoped(&factory).open_alerts(100).await.unwrap();
    assert_eq!(
        seen.iter().map(|a| a.subject.as_str()).collect::<Vec<_>>(),
        ["", "d1"],
        "network monitors and the group's devices"
    );
    assert!(
        db.scoped(&factory)
            .device_alerts("d2")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        db.scoped(&factory)
            .alert("disk", "d2")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        db.scoped(&factory)
            .alert_history("disk", "d2", 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        db.all()
            .alert_history("disk", "d2", 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        db.all().device_alerts("d1").await.unwrap()[0].status,
        "critical"
    );

    let mut recovered = judged("disk", "d2", "ok", 20, Vec::new());
    recovered.transition = Some(("warning".into(), "ok".into(), ts(20)));
    let d2 = db.states_of_subject("d2").await.unwrap().remove(0).state;
    db.record_device_results(&[(Some(d2), recovered)])
        .await
        .unwrap();
    let resolved = db.all().resolved_alerts(ts(15), 10).await.unwrap();
    assert_eq!(
        resolved
            .iter()
            .map(|r| (r.device_name.as_deref(), r.from_status.as_str()))
            .collect::<Vec<_>>(),
        [(Some("db-1"), "warning")]
    );
    assert!(
        db.scoped(&factory)
            .resolved_alerts(ts(15), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        db.all()
            .resolved_alerts(ts(21), 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Memberships for matching targets.
    let d1 = db.device_membership("d1").await.unwrap().unwrap();
    assert_eq!(
        (d1.group_id.as_deref(), d1.tags.clone()),
        (Some("g1"), vec!["web".to_string()])
    );
    assert!(db.device_membership("nope").await.unwrap().is_none());
    let all = db.device_memberships().await.unwrap();
    assert_eq!(
        all.iter()
            .map(|m| (m.device_id.as_str(), m.tags.len()))
            .collect::<Vec<_>>(),
        [("d1", 1), ("d2", 0)]
    );
});
