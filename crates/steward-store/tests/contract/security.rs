//! Contract: two-factor state, recovery codes, pending sign-ins, settings, user management,
//! device groups and scoped device queries.

use super::*;
use steward_store::PendingSignIn;

contract_test!(
    totp_enrolment_replay_and_recovery_codes,
    |db: TestDb| async move {
        db.create_user(&new_user("u1", "alice"), ts(1))
            .await
            .unwrap();
        db.begin_totp_enrolment("u1", "v1:sealed").await.unwrap();
        let u = db.user_by_id("u1").await.unwrap().unwrap();
        assert_eq!(u.totp_secret.as_deref(), Some("v1:sealed"));
        assert_eq!(u.totp_enabled_at, None);
        // Confirmation stores the first step and the codes in one go.
        db.enable_totp("u1", 100, &["h1".into(), "h2".into()], ts(5))
            .await
            .unwrap();
        let u = db.user_by_id("u1").await.unwrap().unwrap();
        assert_eq!((u.totp_enabled_at, u.totp_last_step), (Some(ts(5)), 100));
        assert!(matches!(
            db.enable_totp("u1", 101, &[], ts(6)).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            db.begin_totp_enrolment("u1", "v1:other").await,
            Err(StoreError::Conflict(_))
        ));
        // A step is accepted once, and never an older one.
        assert!(!db.accept_totp_step("u1", 100).await.unwrap());
        assert!(db.accept_totp_step("u1", 101).await.unwrap());
        assert!(!db.accept_totp_step("u1", 101).await.unwrap());
        assert!(!db.accept_totp_step("u1", 99).await.unwrap());
        // Recovery codes work once each.
        assert_eq!(db.recovery_codes_left("u1").await.unwrap(), 2);
        assert!(db.use_recovery_code("u1", "h1", ts(7)).await.unwrap());
        assert!(!db.use_recovery_code("u1", "h1", ts(8)).await.unwrap());
        assert!(!db.use_recovery_code("u1", "nope", ts(8)).await.unwrap());
        assert_eq!(db.recovery_codes_left("u1").await.unwrap(), 1);
        db.replace_recovery_codes("u1", &["h3".into()])
            .await
            .unwrap();
        assert!(!db.use_recovery_code("u1", "h2", ts(9)).await.unwrap());
        assert_eq!(db.recovery_codes_left("u1").await.unwrap(), 1);
        // Turning it off forgets the secret and the codes.
        db.disable_totp("u1").await.unwrap();
        let u = db.user_by_id("u1").await.unwrap().unwrap();
        assert_eq!(
            (u.totp_secret, u.totp_enabled_at, u.totp_last_step),
            (None, None, 0)
        );
        assert_eq!(db.recovery_codes_left("u1").await.unwrap(), 0);
    }
);

contract_test!(pending_sign_ins_and_settings, |db: TestDb| async move {
    db.create_user(&new_user("u1", "alice"), ts(1))
        .await
        .unwrap();
    let p = PendingSignIn {
        token_hash: "p1".into(),
        user_id: "u1".into(),
        created_at: ts(10),
        expires_at: ts(100),
        source: "127.0.0.1".into(),
        next: "/devices".into(),
        failures: 0,
    };
    db.create_pending_sign_in(&p).await.unwrap();
    assert_eq!(db.pending_sign_in("p1").await.unwrap(), Some(p.clone()));
    assert_eq!(db.reserve_pending_attempt("p1", 2).await.unwrap(), Some(1));
    assert_eq!(db.reserve_pending_attempt("p1", 2).await.unwrap(), Some(2));
    assert_eq!(
        db.reserve_pending_attempt("p1", 2).await.unwrap(),
        None,
        "tries used up"
    );
    assert_eq!(db.reserve_pending_attempt("nope", 2).await.unwrap(), None);
    assert_eq!(db.delete_pending_sign_ins_before(ts(50)).await.unwrap(), 0);
    assert!(db.delete_pending_sign_in("p1").await.unwrap());
    assert!(
        !db.delete_pending_sign_in("p1").await.unwrap(),
        "spent once"
    );
    db.create_pending_sign_in(&p).await.unwrap();
    assert_eq!(db.delete_pending_sign_ins_before(ts(100)).await.unwrap(), 1);

    assert_eq!(db.setting("require_two_factor").await.unwrap(), None);
    db.set_setting("require_two_factor", "admin", ts(1))
        .await
        .unwrap();
    db.set_setting("require_two_factor", "admin,viewer", ts(2))
        .await
        .unwrap();
    assert_eq!(
        db.setting("require_two_factor").await.unwrap().as_deref(),
        Some("admin,viewer")
    );
    // The first value stored wins; a later one is not written over it.
    assert_eq!(
        db.setting_or_insert("signing", "first", ts(3))
            .await
            .unwrap(),
        "first"
    );
    assert_eq!(
        db.setting_or_insert("signing", "second", ts(4))
            .await
            .unwrap(),
        "first"
    );
});

contract_test!(user_management_and_step_up, |db: TestDb| async move {
    db.create_user(&new_user("u1", "alice"), ts(1))
        .await
        .unwrap();
    db.create_user(&new_user("u2", "bob"), ts(2)).await.unwrap();
    db.create_session(&session("s1", "u2", 10_000))
        .await
        .unwrap();
    assert_eq!(db.count_enabled_admins().await.unwrap(), 2);
    db.set_user_role("u2", "viewer").await.unwrap();
    assert_eq!(db.count_enabled_admins().await.unwrap(), 1);
    assert!(matches!(
        db.set_user_role("zz", "viewer").await,
        Err(StoreError::NotFound)
    ));
    // Step-up time is kept per session.
    db.set_session_reauth("s1", ts(5_000)).await.unwrap();
    assert_eq!(
        db.session("s1").await.unwrap().unwrap().0.reauth_at,
        ts(5_000)
    );
    // Disabling ends the sessions at once and revokes the API tokens the user made.
    let mut made = api_token("t-bob", 1);
    made.created_by = Some("u2".into());
    db.create_api_token(&made).await.unwrap();
    db.create_api_token(&api_token("t-cli", 1)).await.unwrap();
    db.set_user_disabled("u2", Some(ts(3))).await.unwrap();
    let tokens = db.list_api_tokens().await.unwrap();
    let revoked = |id: &str| tokens.iter().find(|t| t.id == id).unwrap().revoked_at;
    assert_eq!(revoked("t-bob"), Some(ts(3)));
    assert_eq!(revoked("t-cli"), None);
    assert_eq!(
        db.user_by_id("u2").await.unwrap().unwrap().disabled_at,
        Some(ts(3))
    );
    assert!(db.session("s1").await.unwrap().is_none());
    db.set_user_disabled("u2", None).await.unwrap();
    assert_eq!(
        db.user_by_id("u2").await.unwrap().unwrap().disabled_at,
        None
    );
    let names: Vec<String> = db
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(names, ["alice", "bob"]);
    db.delete_user("u2", ts(20)).await.unwrap();
    assert!(matches!(
        db.delete_user("u2", ts(20)).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(db.count_users().await.unwrap(), 1);
});

contract_test!(groups_scope_devices, |db: TestDb| async move {
    enroll(&db, "d1", "shop-pc").await;
    enroll(&db, "d2", "office-pc").await;
    enroll(&db, "d3", "loose-pc").await;
    let shop = db.create_group("g1", "Shop", ts(1)).await.unwrap();
    db.create_group("g2", "Office", ts(1)).await.unwrap();
    assert!(matches!(
        db.create_group("g3", "Shop", ts(1)).await,
        Err(StoreError::Conflict(_))
    ));
    db.set_device_group("d1", Some("g1")).await.unwrap();
    db.set_device_group("d2", Some("g2")).await.unwrap();
    assert!(matches!(
        db.set_device_group("d3", Some("nope")).await,
        Err(StoreError::NotFound)
    ));
    let d1 = db.all().device("d1").await.unwrap().unwrap();
    assert_eq!(
        (d1.group_id.as_deref(), d1.group_name.as_deref()),
        (Some("g1"), Some("Shop"))
    );
    let groups = db.list_groups().await.unwrap();
    assert_eq!(
        groups
            .iter()
            .map(|g| (g.name.as_str(), g.devices))
            .collect::<Vec<_>>(),
        [("Office", 1), ("Shop", 1)]
    );
    assert_eq!(shop.devices, 0);

    let scoped = |groups: &[&str]| Scope::Groups(groups.iter().map(|g| g.to_string()).collect());
    let list = |scope: Scope| {
        let db = db.clone();
        async move {
            let (devices, total) = db
                .scoped(&scope)
                .list_devices(&DeviceFilter {
                    limit: 100,
                    ..Default::default()
                })
                .await
                .unwrap();
            assert_eq!(devices.len() as u64, total);
            devices.into_iter().map(|d| d.id).collect::<Vec<_>>()
        }
    };
    assert_eq!(list(Scope::AllDevices).await.len(), 3);
    assert_eq!(list(scoped(&["g1"])).await, ["d1"]);
    assert_eq!(list(scoped(&["g1", "g2"])).await.len(), 2);
    assert!(list(scoped(&[])).await.is_empty());
    let filtered = db
        .all()
        .list_devices(&DeviceFilter {
            limit: 100,
            group: Some("g2".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(ids(&filtered.0), ["d2"]);
    assert_eq!(
        db.scoped(&scoped(&["g1"]))
            .fleet_stats(ts(0))
            .await
            .unwrap()
            .total,
        1
    );
    assert_eq!(
        db.scoped(&Scope::AllDevices)
            .fleet_stats(ts(0))
            .await
            .unwrap()
            .total,
        3
    );

    // A user is created with their groups or not at all.
    assert!(matches!(
        db.create_user_with_scope(&new_user("u9", "ghost"), &scoped(&["nope"]), ts(1))
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(db.user_by_username("ghost").await.unwrap().is_none());
    let shopper = db
        .create_user_with_scope(&new_user("u8", "shopper"), &scoped(&["g2"]), ts(1))
        .await
        .unwrap();
    assert!(!shopper.all_devices);
    assert_eq!(db.user_groups("u8").await.unwrap(), ["g2"]);
    // Users limited to groups; a group someone is limited to cannot be deleted.
    db.create_user(&new_user("u1", "tech"), ts(1))
        .await
        .unwrap();
    assert!(db.user_by_id("u1").await.unwrap().unwrap().all_devices);
    db.set_user_scope("u1", &scoped(&["g1", "g1"]))
        .await
        .unwrap();
    assert_eq!(db.user_groups("u1").await.unwrap(), ["g1"]);
    assert!(!db.user_by_id("u1").await.unwrap().unwrap().all_devices);
    assert!(matches!(
        db.set_user_scope("u1", &scoped(&["nope"])).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        db.user_groups("u1").await.unwrap(),
        ["g1"],
        "a failed change keeps the old groups"
    );
    assert!(matches!(
        db.delete_group("g1").await,
        Err(StoreError::Conflict(_))
    ));
    // Removing the last group leaves the user with no device, not every device.
    db.set_user_scope("u1", &scoped(&[])).await.unwrap();
    let u1 = db.user_by_id("u1").await.unwrap().unwrap();
    assert!(!u1.all_devices);
    assert!(db.user_groups("u1").await.unwrap().is_empty());
    // "Every device" is its own grant, and drops the groups.
    db.set_user_scope("u8", &Scope::AllDevices).await.unwrap();
    assert!(db.user_by_id("u8").await.unwrap().unwrap().all_devices);
    assert!(db.user_groups("u8").await.unwrap().is_empty());
    assert!(matches!(
        db.set_user_scope("nobody", &Scope::AllDevices).await,
        Err(StoreError::NotFound)
    ));
    db.delete_group("g1").await.unwrap();
    assert_eq!(db.all().device("d1").await.unwrap().unwrap().group_id, None);
    assert!(matches!(
        db.delete_group("g1").await,
        Err(StoreError::NotFound)
    ));
});

// Every read of a device or its data through a scoped view reaches only the devices in the
// scope's groups: the others are absent (not found, empty, not counted), never partly there.
contract_test!(
    scoped_views_reach_nothing_outside_the_scope,
    |db: TestDb| async move {
        for (id, group) in [("d1", Some("g1")), ("d2", Some("g2")), ("d3", None)] {
            enroll(&db, id, &format!("pc-{id}")).await;
            let commit = IngestCommit {
                inventory: Some(InventoryWrite::new(
                    inventory("Debian GNU/Linux", "12", vec![deb("bash", "5.2")]),
                    SoftwareWrite::Replace,
                )),
                metrics: Some((ts(900), metrics(10.0, 1))),
                history: Default::default(),
                changes: vec![(ts(950), event(ChangeKind::Rebooted, "boot", None, None))],
                ..bare_commit(id, 0, 1, 1_000)
            };
            db.commit_ingest(&commit).await.unwrap();
            db.create_job(&job(&format!("job-{id}"), id, 1_100))
                .await
                .unwrap();
            if let Some(g) = group {
                db.create_group(g, g, ts(1)).await.unwrap();
                db.set_device_group(id, Some(g)).await.unwrap();
            }
        }
        let only_g1 = Scope::Groups(vec!["g1".into()]);
        let nothing = Scope::Groups(Vec::new());
        for (scope, visible) in [
            (&only_g1, vec!["d1"]),
            (&nothing, vec![]),
            (&Scope::AllDevices, vec!["d1", "d2", "d3"]),
        ] {
            let view = db.scoped(scope);
            let (listed, total) = view
                .list_devices(&DeviceFilter {
                    limit: 100,
                    ..Default::default()
                })
                .await
                .unwrap();
            let mut listed = ids(&listed)
                .into_iter()
                .map(String::from)
                .collect::<Vec<_>>();
            listed.sort();
            assert_eq!(listed, visible, "{scope:?}: list");
            assert_eq!(total, visible.len() as u64, "{scope:?}: count");
            let stats = view.fleet_stats(ts(1_000)).await.unwrap();
            assert_eq!(stats.total, visible.len() as u64, "{scope:?}: stats");
            let mut changed: Vec<String> = view
                .recent_changes(100)
                .await
                .unwrap()
                .into_iter()
                .map(|c| c.device_id)
                .collect();
            changed.sort();
            changed.dedup();
            assert_eq!(changed, visible, "{scope:?}: recent changes");
            for id in ["d1", "d2", "d3"] {
                let seen = visible.contains(&id);
                let name = format!("pc-{id}");
                assert_eq!(view.device(id).await.unwrap().is_some(), seen, "{id}");
                assert_eq!(
                    view.devices_named(&name).await.unwrap().len(),
                    usize::from(seen),
                    "{id}: by name"
                );
                assert_eq!(view.inventory(id).await.unwrap().is_some(), seen, "{id}");
                assert_eq!(view.metrics(id).await.unwrap().is_some(), seen, "{id}");
                let (software, software_total) = view.software(id, None, 0, 100).await.unwrap();
                assert_eq!(
                    (software.len(), software_total),
                    if seen { (1, 1) } else { (0, 0) }
                );
                let (changes, changes_total) = view.changes(id, None, 0, 100).await.unwrap();
                assert_eq!(changes.is_empty(), !seen, "{id}: changes");
                assert_eq!(changes_total == 0, !seen, "{id}: changes counted");
                let (_, searched) = view.software(id, Some("bash"), 0, 100).await.unwrap();
                assert_eq!(searched, u64::from(seen), "{id}: software search");
                let (_, kinds) = view.changes(id, Some("rebooted"), 0, 100).await.unwrap();
                assert_eq!(kinds, u64::from(seen), "{id}: changes of a kind");
                assert_eq!(
                    view.jobs(id, 10).await.unwrap().len(),
                    usize::from(seen),
                    "{id}: jobs"
                );
            }
        }
    }
);
