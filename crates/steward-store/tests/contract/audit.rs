//! Contract: audit log.

use super::*;

fn audit_facts(n: i64) -> steward_core::audit::AuditFacts {
    steward_core::audit::AuditFacts {
        at: ts(n),
        actor: "user:john".into(),
        action: "job_queued".into(),
        target: format!("device-{n}"),
        detail: String::new(),
        source: "192.0.2.1".into(),
    }
}

async fn verify_chain(db: &TestDb) -> Result<i64, steward_core::audit::ChainBreak> {
    let mut v = steward_core::audit::ChainVerifier::default();
    for r in db.audit_after(0, 10_000).await.unwrap() {
        v.check(r.seq, &r.prev_hash, &r.hash, &r.facts)?;
    }
    Ok(v.verified())
}

contract_test!(
    audit_log_chains_and_tampering_is_detected,
    |db: TestDb| async move {
        // Concurrent appends still form one line.
        let mut tasks = Vec::new();
        for n in 1..=8 {
            let store = db.store.clone();
            tasks.push(tokio::spawn(async move {
                store.append_audit(&audit_facts(n)).await.unwrap()
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(verify_chain(&db).await, Ok(8));
        let (page, total) = db.audit_page(Some("job_queued"), None, 0, 3).await.unwrap();
        assert_eq!(page.iter().map(|r| r.seq).collect::<Vec<_>>(), [8, 7, 6]);
        assert_eq!(total, 8);
        let (page, total) = db
            .audit_page(Some("sign_in"), Some("user:john"), 0, 3)
            .await
            .unwrap();
        assert!(page.is_empty());
        assert_eq!(total, 0);

        // Someone with database access edits an entry: verification names it.
        let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
        sqlx::query("UPDATE audit_log SET actor = 'user:nobody' WHERE seq = 5")
            .execute(&pool)
            .await
            .unwrap();
        assert_eq!(
            verify_chain(&db).await,
            Err(steward_core::audit::ChainBreak::Content { seq: 5 })
        );
        // …or deletes one.
        sqlx::query("DELETE FROM audit_log WHERE seq = 3")
            .execute(&pool)
            .await
            .unwrap();
        assert_eq!(
            verify_chain(&db).await,
            Err(steward_core::audit::ChainBreak::Gap {
                seq: 4,
                expected: 3
            })
        );
        pool.close().await;
    }
);
