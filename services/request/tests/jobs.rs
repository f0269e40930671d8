//! The job queue's contract, on SQLite and (when `LATCH_TEST_DATABASE_URL` is set) on a fresh
//! PostgreSQL database: leases, take-over after a lost lease, overdue work after a restart, and
//! concurrent claimers never taking the same job.

mod support;

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use latch_request::store::jobs::{self, NewJob};
use sea_orm::DatabaseConnection;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap()
}

/// A fresh database: a SQLite file in a temp dir, or a new PostgreSQL database.
async fn fresh() -> (DatabaseConnection, tempfile::TempDir) {
    support::fresh("latch_jobs").await
}

fn job(id: &str, due: DateTime<Utc>) -> NewJob {
    NewJob {
        id: id.into(),
        kind: "revoke".into(),
        subject: format!("item-{id}"),
        payload: "{}".into(),
        due_at: due,
    }
}

#[tokio::test]
async fn due_jobs_are_claimed_once_completed_once_and_failures_stay_visible() {
    let (db, _dir) = fresh().await;
    let lease = TimeDelta::seconds(30);
    jobs::enqueue(&db, &job("a", t0()), t0()).await.unwrap();
    jobs::enqueue(&db, &job("a", t0()), t0()).await.unwrap(); // idempotent
    jobs::enqueue(&db, &job("later", t0() + TimeDelta::hours(1)), t0())
        .await
        .unwrap();

    let claimed = jobs::claim(&db, "w1", t0(), lease, 10).await.unwrap();
    assert_eq!(
        claimed.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(),
        ["a"],
        "only what is due"
    );
    assert!(
        jobs::claim(&db, "w2", t0(), lease, 10).await.unwrap().is_empty(),
        "leased jobs are not claimed twice"
    );

    // A failure is recorded with its error and retried later.
    assert!(
        jobs::fail(&db, "a", "w1", "connector unavailable", t0() + TimeDelta::seconds(5))
            .await
            .unwrap()
    );
    let pending = jobs::pending(&db).await.unwrap();
    let a = pending.iter().find(|j| j.id == "a").unwrap();
    assert_eq!((a.attempts, a.last_error.as_str()), (1, "connector unavailable"));
    assert!(
        jobs::claim(&db, "w1", t0(), lease, 10).await.unwrap().is_empty(),
        "not before its retry time"
    );
    let retried = jobs::claim(&db, "w2", t0() + TimeDelta::seconds(5), lease, 10)
        .await
        .unwrap();
    assert_eq!(retried.len(), 1);
    assert!(
        !jobs::complete(&db, "a", "w1", t0()).await.unwrap(),
        "w1 lost the job; it cannot complete it"
    );
    assert!(jobs::complete(&db, "a", "w2", t0()).await.unwrap());
    assert!(!jobs::complete(&db, "a", "w2", t0()).await.unwrap(), "done once");
    assert_eq!(jobs::pending(&db).await.unwrap().len(), 1, "only the later job is left");
}

#[tokio::test]
async fn a_dead_workers_lease_runs_out_and_overdue_work_runs_at_once() {
    let (db, _dir) = fresh().await;
    let lease = TimeDelta::seconds(30);
    jobs::enqueue(&db, &job("revoke-1", t0()), t0()).await.unwrap();
    assert_eq!(jobs::claim(&db, "dead", t0(), lease, 10).await.unwrap().len(), 1);
    // The worker dies without completing; until the lease ends nobody else takes the job…
    assert!(
        jobs::claim(&db, "alive", t0() + TimeDelta::seconds(29), lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // …then it is taken over.
    let taken = jobs::claim(&db, "alive", t0() + TimeDelta::seconds(30), lease, 10)
        .await
        .unwrap();
    assert_eq!(taken[0].lease_owner.as_deref(), Some("alive"));
    // Work that fell due hours ago while nothing ran is claimed on the first look.
    jobs::enqueue(&db, &job("overdue", t0() - TimeDelta::hours(3)), t0())
        .await
        .unwrap();
    let first = jobs::claim(&db, "restarted", t0() + TimeDelta::minutes(1), lease, 1)
        .await
        .unwrap();
    assert_eq!(first[0].id, "overdue", "most overdue first");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claimers_never_take_the_same_job() {
    let (db, _dir) = fresh().await;
    for i in 0..200 {
        jobs::enqueue(&db, &job(&format!("j{i:03}"), t0()), t0()).await.unwrap();
    }
    let db = Arc::new(db);
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let db = db.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let claimed = jobs::claim(&db, &format!("w{w}"), t0(), TimeDelta::seconds(60), 7)
                        .await
                        .unwrap();
                    if claimed.is_empty() {
                        return mine;
                    }
                    for job in claimed {
                        assert!(jobs::complete(&*db, &job.id, &format!("w{w}"), t0()).await.unwrap());
                        mine.push(job.id);
                    }
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for worker in workers {
        all.extend(worker.await.unwrap());
    }
    let distinct: HashSet<_> = all.iter().collect();
    assert_eq!(all.len(), 200, "every job done");
    assert_eq!(distinct.len(), 200, "none twice");
    assert!(jobs::pending(&db).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_restarted_worker_takes_its_own_leases_back_at_once_and_no_one_elses() {
    let (db, _dir) = fresh().await;
    let lease = TimeDelta::seconds(30);
    jobs::enqueue(&db, &job("mine", t0()), t0()).await.unwrap();
    jobs::enqueue(&db, &job("theirs", t0()), t0()).await.unwrap();
    assert_eq!(jobs::claim(&db, "embedded", t0(), lease, 1).await.unwrap().len(), 1);
    assert_eq!(jobs::claim(&db, "other", t0(), lease, 1).await.unwrap().len(), 1);
    // The process dies and starts again under the same name.
    assert_eq!(jobs::release_leases(&db, "embedded").await.unwrap(), 1);
    let again = jobs::claim(&db, "embedded", t0(), lease, 10).await.unwrap();
    assert_eq!(again.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(), ["mine"]);
}
