//! The audit tables' storage contract, on SQLite and (when `LATCH_TEST_DATABASE_URL` is set) on
//! a fresh PostgreSQL database: an appended event may be sealed once and then never changed or
//! deleted; an unsealed event's content cannot be changed either; checkpoints are append-only.

mod support;

use chrono::{TimeZone, Utc};
use latch_request::domain::audit::{AuditEvent, GENESIS, seal};
use latch_request::domain::checkpoint::AuditSigningKey;
use latch_request::store::{audit, checkpoints};
use sea_orm::{ConnectionTrait, DatabaseConnection};

/// A fresh database: a SQLite file in a temp dir, or a new PostgreSQL database.
async fn fresh() -> (DatabaseConnection, tempfile::TempDir) {
    support::fresh("latch_audit").await
}

fn event(id: &str) -> AuditEvent {
    AuditEvent {
        id: id.into(),
        at: Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap(),
        actor: "users/ann".into(),
        action: "request.approved".into(),
        subject: "requests/r1".into(),
        source: "grpc 127.0.0.1:5000".into(),
        grantee: "ben".into(),
        flow: "prod".into(),
        resources: String::new(),
        before: "null".into(),
        after: "null".into(),
        detail: "ok".into(),
        sequence: None,
        previous_hash: String::new(),
        hash: String::new(),
    }
}

async fn refused(db: &DatabaseConnection, sql: &str) {
    let error = db.execute_unprepared(sql).await.expect_err(sql).to_string();
    assert!(error.contains("append-only"), "{sql}: {error}");
}

#[tokio::test]
async fn events_are_sealed_once_and_never_changed_and_checkpoints_never_change() {
    let (db, _dir) = fresh().await;
    audit::insert(&db, &[event("e1")]).await.unwrap();
    // Unsealed: its content cannot be changed, only sealed.
    refused(&db, "UPDATE audit_events SET detail = 'forged' WHERE id = 'e1'").await;
    refused(&db, "DELETE FROM audit_events WHERE id = 'e1'").await;
    let mut sealed = event("e1");
    seal(&mut sealed, 0, GENESIS);
    audit::seal(&db, &sealed).await.unwrap();
    assert_eq!(audit::head(&db).await.unwrap(), Some((1, sealed.hash.clone())));
    // Sealed: nothing changes it, not even sealing it again.
    refused(&db, "UPDATE audit_events SET detail = 'forged' WHERE id = 'e1'").await;
    refused(&db, "UPDATE audit_events SET sequence = NULL WHERE id = 'e1'").await;
    refused(&db, "UPDATE audit_events SET sequence = 7, hash = 'x' WHERE id = 'e1'").await;
    refused(&db, "DELETE FROM audit_events").await;
    let events = audit::sealed_after(&db, 0, 10).await.unwrap();
    assert_eq!(events, vec![sealed.clone()]);

    let key = AuditSigningKey::from_seed(&[5; 32]);
    let checkpoint = key.sign(1, &sealed.hash, sealed.at);
    checkpoints::insert(&db, &checkpoint).await.unwrap();
    // A second checkpoint at the same sequence by the same key is dropped, not an error.
    checkpoints::insert(&db, &key.sign(1, "other", sealed.at))
        .await
        .unwrap();
    assert_eq!(checkpoints::all(&db).await.unwrap(), vec![checkpoint.clone()]);
    assert_eq!(checkpoints::latest(&db, &key.key_id()).await.unwrap(), Some(checkpoint));
    refused(&db, "UPDATE audit_checkpoints SET head_hash = 'x'").await;
    refused(&db, "DELETE FROM audit_checkpoints").await;
}
