//! Contract: detections recorded once per (device, agent's id) with later response steps
//! added, listed open first, decided only from the status read; detection policies; drills
//! queued with their job and finished once.

use super::*;
use steward_core::detection::record::Status;
use steward_core::detection::{
    Detected, DetectionKind, FileOp, FileTouch, ProcessFacts, ResponseAction, ResponseStep,
    SignalValue,
};
use steward_store::{DetectionFilter, DetectionWrite, DrillFinishWrite};

fn step(action: ResponseAction, at: i64, job: Option<&str>) -> ResponseStep {
    ResponseStep {
        action,
        at: ts(at),
        ok: true,
        message: format!("{} done", action.as_str()),
        job: job.map(str::to_owned),
    }
}

fn detected(local_id: &str, at: i64, responses: Vec<ResponseStep>) -> Detected {
    Detected {
        local_id: local_id.into(),
        kind: DetectionKind::Ransomware,
        detected_at: ts(at),
        summary: "python3 (pid 4242) changed 2 files' content in 1 s".into(),
        process: Some(ProcessFacts {
            pid: 4242,
            exe: "/usr/bin/python3".into(),
            exe_sha256: "ab".repeat(32),
            cmdline: "python3 enc.py".into(),
            user: "anna".into(),
        }),
        ancestors: vec![ProcessFacts {
            pid: 4000,
            exe: "/bin/bash".into(),
            exe_sha256: String::new(),
            cmdline: "bash".into(),
            user: "anna".into(),
        }],
        signals: vec![SignalValue {
            name: "canary".into(),
            value: 1.0,
            detail: "~$aaa.docx rewritten".into(),
        }],
        files: vec![
            FileTouch {
                at: ts(at),
                op: FileOp::Write,
                path: "/srv/share/b.docx".into(),
                to: None,
                damaged: true,
            },
            FileTouch {
                at: ts(at + 1),
                op: FileOp::Rename,
                path: "/srv/share/b.docx".into(),
                to: Some("/srv/share/b.docx.locked".into()),
                damaged: false,
            },
            FileTouch {
                at: ts(at + 2),
                op: FileOp::Write,
                path: "/srv/share/a.docx".into(),
                to: None,
                damaged: true,
            },
        ],
        responses,
        drill: None,
    }
}

fn write(d: Detected, stopped: bool) -> DetectionWrite {
    DetectionWrite {
        detected: d,
        stopped,
        isolated: false,
    }
}

contract_test!(
    a_detection_is_recorded_once_and_gains_only_new_steps,
    |db: TestDb| async move {
        enroll(&db, "d1", "pc-1").await;
        enroll(&db, "d2", "pc-2").await;
        let first = detected("a1", 5_000, vec![step(ResponseAction::Stop, 5_001, None)]);
        let new = db
            .record_detections("d1", &[write(first.clone(), true)], ts(6_000))
            .await
            .unwrap();
        assert_eq!(new.len(), 1);
        // The same report delivered again: nothing new.
        let again = db
            .record_detections("d1", &[write(first.clone(), true)], ts(6_500))
            .await
            .unwrap();
        assert!(again.is_empty());
        // A later report: the steps so far, one of them new.
        let later = detected(
            "a1",
            5_000,
            vec![
                step(ResponseAction::Stop, 5_001, None),
                step(ResponseAction::Kill, 7_000, Some("job-9")),
            ],
        );
        db.record_detections("d1", &[write(later, false)], ts(7_100))
            .await
            .unwrap();
        let full = db.detection(&new[0]).await.unwrap().unwrap();
        assert_eq!(full.record.device_name, "pc-1");
        assert_eq!(full.record.status, Status::Open);
        assert_eq!(full.record.recorded_at, ts(6_000));
        assert!(!full.record.stopped);
        assert_eq!(full.record.process, first.process);
        assert_eq!(full.record.ancestors, first.ancestors);
        assert_eq!(full.record.signals, first.signals);
        // Files in the order the agent saw them.
        assert_eq!(full.files, first.files);
        assert_eq!(
            full.responses,
            vec![
                step(ResponseAction::Stop, 5_001, None),
                step(ResponseAction::Kill, 7_000, Some("job-9"))
            ]
        );
        // The same local id on another device is another detection; a detection without a
        // process (the server's own) stores none.
        let mut server_side = detected("a1", 8_000, Vec::new());
        server_side.process = None;
        server_side.kind = DetectionKind::NewAdministrator;
        db.record_detections("d2", &[write(server_side, false)], ts(8_000))
            .await
            .unwrap();
        let all = db.detections(&DetectionFilter::default()).await.unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].device_id, "d2");
        assert_eq!(all[0].process, None);
        // An unknown device is NotFound.
        let err = db
            .record_detections("nobody", &[write(first, false)], ts(1))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::NotFound), "{err:?}");
    }
);

contract_test!(
    detections_arrive_with_an_ingest_commit_and_list_open_first,
    |db: TestDb| async move {
        enroll(&db, "d1", "pc-1").await;
        let commit = IngestCommit {
            detections: vec![
                write(detected("old", 1_000, Vec::new()), false),
                write(detected("new", 2_000, Vec::new()), false),
            ],
            agent_stopping: Some(true),
            ..bare_commit("d1", 0, 1, 3_000)
        };
        db.commit_ingest(&commit).await.unwrap();
        let listed = db.detections(&DetectionFilter::default()).await.unwrap();
        let order: Vec<&str> = listed.iter().map(|d| d.local_id.as_str()).collect();
        assert_eq!(order, ["new", "old"]);
        // A decision moves the newest out of the open ones, and only from its status read.
        let newest = listed[0].id.clone();
        db.decide_detection(
            &newest,
            Status::Open,
            Status::FalseAlarm,
            "anna",
            ts(4_000),
            None,
        )
        .await
        .unwrap();
        // A decision that lost the race queues no job: the two are one transaction.
        let late_job = job("kill-late", "d1", 4_100);
        let err = db
            .decide_detection(
                &newest,
                Status::Open,
                Status::Confirmed,
                "bob",
                ts(4_100),
                Some(&late_job),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
        assert!(db.job("kill-late").await.unwrap().is_none());
        let err = db
            .decide_detection(
                "none",
                Status::Open,
                Status::Confirmed,
                "bob",
                ts(4_100),
                None,
            )
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::NotFound), "{err:?}");
        let listed = db.detections(&DetectionFilter::default()).await.unwrap();
        let order: Vec<&str> = listed.iter().map(|d| d.local_id.as_str()).collect();
        assert_eq!(order, ["old", "new"]);
        assert_eq!(listed[1].decided_by.as_deref(), Some("anna"));
        assert_eq!(listed[1].decided_at, Some(ts(4_000)));
        let open = db
            .detections(&DetectionFilter {
                status: Some(Status::Open),
                device_id: Some("d1".into()),
                limit: 10,
            })
            .await
            .unwrap();
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].local_id, "old");
        // A decision that keeps the status (an isolation) still queues its job, once the
        // status is what was read.
        let isolate = job("isolate-1", "d1", 4_200);
        let old_id = open[0].id.clone();
        db.decide_detection(
            &old_id,
            Status::Open,
            Status::Open,
            "anna",
            ts(4_200),
            Some(&isolate),
        )
        .await
        .unwrap();
        assert!(db.job("isolate-1").await.unwrap().is_some());
        let stale = job("isolate-2", "d1", 4_300);
        let err = db
            .decide_detection(
                &old_id,
                Status::Confirmed,
                Status::Confirmed,
                "anna",
                ts(4_300),
                Some(&stale),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
        assert!(db.job("isolate-2").await.unwrap().is_none());
        let elsewhere = db
            .detections(&DetectionFilter {
                device_id: Some("d2".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(elsewhere.is_empty());
        assert_eq!(
            db.agents_stopping().await.unwrap(),
            vec![("d1".to_string(), Some(ts(3_000)), 60)]
        );
        // A later report that does not say it is stopping clears it.
        let commit = IngestCommit {
            agent_stopping: Some(false),
            ..bare_commit("d1", 1, 2, 5_000)
        };
        db.commit_ingest(&commit).await.unwrap();
        assert!(db.agents_stopping().await.unwrap().is_empty());
    }
);

contract_test!(
    detection_policies_are_one_per_target,
    |db: TestDb| async move {
        db.set_detection_policy("all", r#"{"folders":["/srv"]}"#, ts(1), "anna")
            .await
            .unwrap();
        db.set_detection_policy("group:g1", r#"{"folders":["/home"]}"#, ts(2), "anna")
            .await
            .unwrap();
        let replaced = db
            .set_detection_policy("all", r#"{"folders":["/var/www"]}"#, ts(3), "bob")
            .await
            .unwrap();
        assert_eq!(replaced.updated_by, "bob");
        let all = db.detection_policies().await.unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].target, "all");
        assert_eq!(all[0].policy, r#"{"folders":["/var/www"]}"#);
        db.delete_detection_policy("group:g1").await.unwrap();
        let err = db.delete_detection_policy("group:g1").await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound), "{err:?}");
        assert_eq!(db.detection_policies().await.unwrap().len(), 1);
    }
);

contract_test!(
    a_drill_is_queued_with_its_job_and_finished_once,
    |db: TestDb| async move {
        enroll(&db, "d1", "pc-1").await;
        let job = JobRecord {
            kind: JobKind::RansomwareDrill,
            params: serde_json::json!({"files": 200}),
            requested_by: "anna".into(),
            ..job("drill-1", "d1", 10_000)
        };
        db.queue_drill(&job).await.unwrap();
        assert_eq!(
            db.job("drill-1").await.unwrap().unwrap().kind,
            JobKind::RansomwareDrill
        );
        let queued = db.drill("drill-1").await.unwrap().unwrap();
        assert_eq!(queued.finished_at, None);
        assert_eq!(queued.requested_by, "anna");
        let result = DrillFinishWrite {
            files_total: 200,
            files_lost: 3,
            time_to_detect_ms: Some(150),
            detection_id: Some("det-1".into()),
            channels: vec![("mail".into(), true)],
            passed: true,
            failures: Vec::new(),
        };
        db.finish_drill("drill-1", &result, ts(11_000))
            .await
            .unwrap();
        let err = db
            .finish_drill("drill-1", &result, ts(12_000))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::NotFound), "{err:?}");
        let done = db.drills(Some("d1"), 10).await.unwrap();
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].finished_at, Some(ts(11_000)));
        assert_eq!(done[0].files_lost, Some(3));
        assert_eq!(done[0].time_to_detect_ms, Some(150));
        assert_eq!(done[0].channels, Some(vec![("mail".to_string(), true)]));
        assert_eq!(done[0].passed, Some(true));
        assert!(db.drills(Some("d2"), 10).await.unwrap().is_empty());
    }
);
