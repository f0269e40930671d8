//! The audit outbox as a store: a record is written with the change or not at all, sequences
//! are gap-free and visible in order even while writers overlap, and what the log has copied
//! is deleted when it asks for what follows.

use std::time::Duration;

use latch_flow::store::{FlowStore, MIGRATIONS, StoredFlow};
use latch_runtime::audit::AuditRecord;
use latch_runtime::audit::outbox;
use sea_orm::{DatabaseConnection, TransactionTrait};

use crate::harness::{epoch, fresh_postgres};

const FLOW: &str = r#"
name: outbox test
kind: self_serve
requestors: { rows: [ { attribute: department, operator: is, values: [Engineering] } ] }
targets:
  - integration: { integration: demo, resource_type: table, permissions: [read] }
grant_for: { custom: 2h }
"#;

/// The flow context's schema, on PostgreSQL when the suite runs there.
async fn flow_database(dir: &tempfile::TempDir) -> DatabaseConnection {
    let url = match fresh_postgres().await {
        Some(url) => url,
        None => format!("sqlite://{}/flow.db?mode=rwc", dir.path().display()),
    };
    let db = sea_orm::Database::connect(url.as_str()).await.expect("connect");
    latch_runtime::database::migrate(&db, MIGRATIONS)
        .await
        .expect("migrate");
    db
}

fn record(action: &str) -> AuditRecord {
    AuditRecord {
        actor: "users/u1".into(),
        action: action.into(),
        subject: "flows/f1".into(),
        source: "test".into(),
        ..AuditRecord::default()
    }
}

fn stored_flow() -> StoredFlow {
    StoredFlow {
        id: uuid::Uuid::now_v7().to_string(),
        spec: latch_flow::service::parse_definition(FLOW).expect("flow parses"),
        created_at: epoch(),
        updated_at: epoch(),
        version: 1,
    }
}

#[tokio::test]
async fn a_rolled_back_change_leaves_no_audit_record_and_a_committed_one_is_served_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = flow_database(&dir).await;
    let store = FlowStore::new(db.clone());

    // A write that never commits: neither the flow nor its record stays.
    let mut tx = store.begin(epoch()).await.unwrap();
    tx.put(&stored_flow()).await.unwrap();
    tx.audit(record("flow.created"));
    drop(tx);
    assert_eq!(outbox::count(&db).await.unwrap(), 0);
    assert!(store.all().await.unwrap().is_empty());

    // Committed writes: their records, numbered from 1 without gaps.
    let flow = stored_flow();
    for action in ["flow.created", "flow.updated"] {
        let mut tx = store.begin(epoch()).await.unwrap();
        tx.put(&flow).await.unwrap();
        tx.audit(record(action));
        tx.commit().await.unwrap();
    }
    let page = store.audit_outbox(0, 10).await.unwrap();
    let sequences: Vec<i64> = page.iter().map(|e| e.sequence).collect();
    assert_eq!(sequences, [1, 2]);
    assert_eq!(page[0].record, record("flow.created"));
    assert_eq!(page[0].at, epoch());

    // Asking after 1 says the log holds 1: it is deleted, 2 is served again until asked past.
    let page = store.audit_outbox(1, 10).await.unwrap();
    assert_eq!(page.iter().map(|e| e.sequence).collect::<Vec<_>>(), [2]);
    assert_eq!(outbox::count(&db).await.unwrap(), 1);
    assert!(store.audit_outbox(2, 10).await.unwrap().is_empty());
    assert_eq!(outbox::count(&db).await.unwrap(), 0);

    // Numbering goes on after deletion.
    let mut tx = store.begin(epoch()).await.unwrap();
    tx.audit(record("flow.deleted"));
    tx.commit().await.unwrap();
    let page = store.audit_outbox(2, 10).await.unwrap();
    assert_eq!(page.iter().map(|e| e.sequence).collect::<Vec<_>>(), [3]);
}

/// On PostgreSQL a transaction that takes numbers later may not commit first: a second writer
/// waits for the first, so a reader never sees number 2 while number 1 may still appear.
#[tokio::test]
async fn overlapping_writers_become_visible_in_the_order_of_their_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let db = flow_database(&dir).await;
    if db.get_database_backend() != sea_orm::DbBackend::Postgres {
        return; // SQLite has one writer per file: writes cannot overlap.
    }
    let first = db.begin().await.unwrap();
    outbox::append(&first, epoch(), &[record("first")]).await.unwrap();
    let second = tokio::spawn({
        let db = db.clone();
        async move {
            let tx = db.begin().await.unwrap();
            outbox::append(&tx, epoch(), &[record("second")]).await.unwrap();
            tx.commit().await.unwrap();
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!second.is_finished(), "the second writer waits for the first");
    assert!(outbox::take_after(&db, 0, 10).await.unwrap().is_empty());
    first.commit().await.unwrap();
    second.await.unwrap();
    let page = outbox::take_after(&db, 0, 10).await.unwrap();
    let seen: Vec<(i64, &str)> = page.iter().map(|e| (e.sequence, e.record.action.as_str())).collect();
    assert_eq!(seen, [(1, "first"), (2, "second")]);
}
