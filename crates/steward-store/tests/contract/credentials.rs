//! Contract: credential rotation (pending credential, promotion).

use super::*;

contract_test!(
    rotation_keeps_both_until_the_new_one_is_used,
    |db: TestDb| async move {
        enroll(&db, "d1", "laptop").await;
        enroll(&db, "d2", "other").await;
        let state = db.device_ingest_state("d1").await.unwrap().unwrap();
        assert_eq!(state.pending_credential_hash, None);

        // Issued: both hashes are known; the other device is untouched.
        db.set_pending_credential("d1", "new-1", "job-1")
            .await
            .unwrap();
        let state = db.device_ingest_state("d1").await.unwrap().unwrap();
        assert_eq!(state.credential_hash, "cred-d1");
        assert_eq!(state.pending_credential_hash.as_deref(), Some("new-1"));
        let other = db.device_ingest_state("d2").await.unwrap().unwrap();
        assert_eq!(other.pending_credential_hash, None);

        // One credential per rotation job.
        assert!(matches!(
            db.set_pending_credential("d1", "again", "job-1").await,
            Err(StoreError::NotFound)
        ));
        // A second rotation before use replaces the pending one; the first is never promoted.
        db.set_pending_credential("d1", "new-2", "job-2")
            .await
            .unwrap();
        assert!(!db.promote_pending_credential("d1", "new-1").await.unwrap());
        // Promotion happens once, and only on the right device.
        assert!(!db.promote_pending_credential("d2", "new-2").await.unwrap());
        assert!(db.promote_pending_credential("d1", "new-2").await.unwrap());
        assert!(!db.promote_pending_credential("d1", "new-2").await.unwrap());
        let state = db.device_ingest_state("d1").await.unwrap().unwrap();
        assert_eq!(state.credential_hash, "new-2");
        assert_eq!(state.pending_credential_hash, None);
        assert_eq!(
            db.device_ingest_state("d2")
                .await
                .unwrap()
                .unwrap()
                .credential_hash,
            "cred-d2"
        );
    }
);

contract_test!(
    revoked_or_unknown_devices_get_no_credential,
    |db: TestDb| async move {
        enroll(&db, "d1", "laptop").await;
        assert!(matches!(
            db.set_pending_credential("nope", "h", "j1").await,
            Err(StoreError::NotFound)
        ));
        db.set_pending_credential("d1", "h", "j1").await.unwrap();
        db.revoke_device("d1", ts(5_000)).await.unwrap();
        assert!(!db.promote_pending_credential("d1", "h").await.unwrap());
        assert!(matches!(
            db.set_pending_credential("d1", "h2", "j2").await,
            Err(StoreError::NotFound)
        ));
        assert_eq!(
            db.device_ingest_state("d1")
                .await
                .unwrap()
                .unwrap()
                .credential_hash,
            "cred-d1"
        );
    }
);
