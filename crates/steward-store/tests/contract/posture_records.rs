//! Contract: posture's daily score history, checklist answers with their attachments, and
//! accepted-risk exceptions.

use super::*;
use steward_store::{
    AttachmentChange, NewPostureException, PostureAnswerWrite, PostureAttachment,
    PostureAttachmentInfo, PostureScoreRecord, PostureScoreWrite, SCORE_DAYS_KEPT,
};

fn score(scope: &str, pass: i64, fail: i64) -> PostureScoreWrite {
    PostureScoreWrite {
        scope: scope.into(),
        pass,
        fail,
        excepted: 1,
        unknown: 2,
        not_applicable: 3,
    }
}

async fn history(db: &Store, scope: &str, since_day: i64) -> Vec<(i64, i64, i64)> {
    db.posture_score_history(scope, since_day)
        .await
        .unwrap()
        .into_iter()
        .map(|s| (s.day, s.pass, s.fail))
        .collect()
}

contract_test!(
    scores_are_upserted_by_day_and_scope_and_trimmed,
    |db: TestDb| async move {
        let day = 20_000;
        // Written newest first: the history still comes back oldest first.
        db.record_posture_scores(day + 2, &[score("organisation", 9, 1)])
            .await
            .unwrap();
        db.record_posture_scores(
            day,
            &[score("organisation", 5, 5), score("device:d1", 1, 0)],
        )
        .await
        .unwrap();
        db.record_posture_scores(day + 1, &[score("organisation", 6, 4)])
            .await
            .unwrap();
        // The day's score worked out again replaces it; the day's other scopes stay.
        db.record_posture_scores(day, &[score("organisation", 7, 3)])
            .await
            .unwrap();
        assert_eq!(
            history(&db, "organisation", 0).await,
            vec![(day, 7, 3), (day + 1, 6, 4), (day + 2, 9, 1)]
        );
        assert_eq!(
            history(&db, "organisation", day + 1).await,
            vec![(day + 1, 6, 4), (day + 2, 9, 1)]
        );
        assert_eq!(
            db.posture_score_history("device:d1", day).await.unwrap(),
            vec![PostureScoreRecord {
                scope: "device:d1".into(),
                day,
                pass: 1,
                fail: 0,
                excepted: 1,
                unknown: 2,
                not_applicable: 3,
            }]
        );
        assert!(history(&db, "section:network", 0).await.is_empty());
        // A scope given twice counts once, its last occurrence.
        db.record_posture_scores(
            day + 3,
            &[
                score("section:network", 1, 1),
                score("section:network", 2, 2),
            ],
        )
        .await
        .unwrap();
        assert_eq!(
            history(&db, "section:network", 0).await,
            vec![(day + 3, 2, 2)]
        );

        // Recording a day deletes every row older than that day minus SCORE_DAYS_KEPT.
        let later = day + 1 + SCORE_DAYS_KEPT;
        db.record_posture_scores(later, &[score("organisation", 10, 0)])
            .await
            .unwrap();
        assert_eq!(
            history(&db, "organisation", 0).await,
            vec![(day + 1, 6, 4), (day + 2, 9, 1), (later, 10, 0)]
        );
        assert!(history(&db, "device:d1", 0).await.is_empty());
    }
);

contract_test!(
    a_large_fleets_scores_are_all_written,
    |db: TestDb| async move {
        let scopes: Vec<_> = (0..2_500)
            .map(|i| score(&format!("device:d{i:04}"), i, 0))
            .collect();
        db.record_posture_scores(100, &scopes).await.unwrap();
        for i in [0, 999, 1_000, 2_499] {
            assert_eq!(
                history(&db, &format!("device:d{i:04}"), 0).await,
                vec![(100, i, 0)]
            );
        }
    }
);

fn answer(item_id: &str, text: &str, attachment: AttachmentChange) -> PostureAnswerWrite {
    PostureAnswerWrite {
        item_id: item_id.into(),
        owner: "ops@example.org".into(),
        answer: text.into(),
        note: format!("note on {item_id}"),
        review_by: ts(90_000),
        answered_at: ts(1_000),
        answered_by: "alice".into(),
        attachment,
    }
}

fn file(name: &str, bytes: Vec<u8>) -> AttachmentChange {
    AttachmentChange::Replace {
        name: name.into(),
        media_type: "application/pdf".into(),
        bytes,
    }
}

fn info(name: &str, size: i64) -> Option<PostureAttachmentInfo> {
    Some(PostureAttachmentInfo {
        name: name.into(),
        media_type: "application/pdf".into(),
        size,
    })
}

contract_test!(
    answers_are_upserted_with_their_attachments,
    |db: TestDb| async move {
        // Every byte value, 0x00 and 0xFF included, over 1 MiB.
        let big: Vec<u8> = (0..(1usize << 20)).map(|i| (i % 256) as u8).collect();
        db.save_posture_answer(&answer(
            "backup-policy",
            "yes",
            file("policy.pdf", big.clone()),
        ))
        .await
        .unwrap();
        db.save_posture_answer(&answer("incident-plan", "no", AttachmentChange::Keep))
            .await
            .unwrap();
        let answers = db.posture_answers().await.unwrap();
        assert_eq!(answers.len(), 2);
        assert_eq!(
            (answers[0].item_id.as_str(), answers[0].answer.as_str()),
            ("backup-policy", "yes")
        );
        assert_eq!(answers[0].attachment, info("policy.pdf", 1 << 20));
        assert_eq!(answers[1].attachment, None);
        assert_eq!(
            (
                answers[1].note.as_str(),
                answers[1].review_by,
                answers[1].answered_by.as_str()
            ),
            ("note on incident-plan", ts(90_000), "alice")
        );
        assert_eq!(
            db.posture_attachment("backup-policy").await.unwrap(),
            Some(PostureAttachment {
                name: "policy.pdf".into(),
                media_type: "application/pdf".into(),
                bytes: big.clone(),
            })
        );
        assert_eq!(db.posture_attachment("incident-plan").await.unwrap(), None);
        assert_eq!(db.posture_attachment("unknown").await.unwrap(), None);

        // Answered again, keeping the attachment.
        let mut again = answer("backup-policy", "partly", AttachmentChange::Keep);
        again.answered_at = ts(2_000);
        again.answered_by = "bob".into();
        db.save_posture_answer(&again).await.unwrap();
        let now = &db.posture_answers().await.unwrap()[0];
        assert_eq!(
            (
                now.answer.as_str(),
                now.answered_at,
                now.answered_by.as_str()
            ),
            ("partly", ts(2_000), "bob")
        );
        assert_eq!(now.attachment, info("policy.pdf", 1 << 20));
        assert_eq!(
            db.posture_attachment("backup-policy")
                .await
                .unwrap()
                .unwrap()
                .bytes,
            big
        );

        // Replaced by a small file that starts and ends with 0x00 and 0xFF.
        let small = vec![0x00, 0xFF, 0x00, 0x7F, 0x80, 0xFF];
        db.save_posture_answer(&answer(
            "backup-policy",
            "yes",
            file("v2.pdf", small.clone()),
        ))
        .await
        .unwrap();
        assert_eq!(
            db.posture_answers().await.unwrap()[0].attachment,
            info("v2.pdf", 6)
        );
        assert_eq!(
            db.posture_attachment("backup-policy")
                .await
                .unwrap()
                .unwrap()
                .bytes,
            small
        );

        // Removed.
        db.save_posture_answer(&answer("backup-policy", "yes", AttachmentChange::Remove))
            .await
            .unwrap();
        assert_eq!(db.posture_answers().await.unwrap()[0].attachment, None);
        assert_eq!(db.posture_attachment("backup-policy").await.unwrap(), None);

        // An empty file is still a file.
        db.save_posture_answer(&answer(
            "incident-plan",
            "no",
            file("empty.pdf", Vec::new()),
        ))
        .await
        .unwrap();
        assert_eq!(
            db.posture_answers().await.unwrap()[1].attachment,
            info("empty.pdf", 0)
        );
        assert_eq!(
            db.posture_attachment("incident-plan")
                .await
                .unwrap()
                .unwrap()
                .bytes,
            Vec::<u8>::new()
        );
    }
);

fn exception(check_id: &str, created_at: i64) -> NewPostureException {
    NewPostureException {
        check_id: check_id.into(),
        target: "group:g1".into(),
        reason: "the legacy till cannot run a firewall".into(),
        owner: "ops@example.org".into(),
        expires_at: ts(created_at + 90_000),
        created_at: ts(created_at),
        created_by: "alice".into(),
    }
}

contract_test!(
    exceptions_are_added_listed_and_revoked_once,
    |db: TestDb| async move {
        let older = db
            .add_posture_exception(&exception("firewall-enabled", 1_000))
            .await
            .unwrap();
        let newer = db
            .add_posture_exception(&exception("auto-updates", 2_000))
            .await
            .unwrap();
        assert_ne!(older.id, newer.id);
        assert_eq!(
            (
                older.check_id.as_str(),
                older.target.as_str(),
                older.owner.as_str(),
                older.expires_at,
                older.created_by.as_str(),
                older.revoked_at,
                older.revoked_by.as_deref()
            ),
            (
                "firewall-enabled",
                "group:g1",
                "ops@example.org",
                ts(91_000),
                "alice",
                None,
                None
            )
        );
        assert_eq!(
            db.posture_exceptions().await.unwrap(),
            vec![newer.clone(), older.clone()]
        );

        assert!(
            db.revoke_posture_exception(&older.id, "bob", ts(3_000))
                .await
                .unwrap()
        );
        // The second revocation changes nothing: the first stays on record.
        assert!(
            !db.revoke_posture_exception(&older.id, "carol", ts(4_000))
                .await
                .unwrap()
        );
        assert!(
            !db.revoke_posture_exception("unknown", "bob", ts(3_000))
                .await
                .unwrap()
        );
        let listed = db.posture_exceptions().await.unwrap();
        assert_eq!(listed[0], newer);
        assert_eq!(
            (listed[1].revoked_at, listed[1].revoked_by.as_deref()),
            (Some(ts(3_000)), Some("bob"))
        );
    }
);
