//! The durable job queue: every grant, revoke and notification is a row, written in the same
//! transaction as the state change that needs it, claimed by a worker under a lease, and retried
//! until done. A worker that dies loses its lease when it runs out, and another worker takes the
//! job; a job that fell due while nothing ran is claimed at once after a restart. On PostgreSQL
//! claims use `FOR UPDATE SKIP LOCKED`, so any number of replicas work one queue without taking
//! the same job twice.

use chrono::{DateTime, TimeDelta, Utc};
use latch_runtime::database::{format_time, optional_time, parse_time, statement};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, QueryResult};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: String,
    /// "grant", "revoke", "extend", "notify"…
    pub kind: String,
    /// What the job acts on (a grant item id, a request id).
    pub subject: String,
    pub payload: String,
    pub due_at: DateTime<Utc>,
    pub attempts: i32,
    pub last_error: String,
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    pub id: String,
    pub kind: String,
    pub subject: String,
    pub payload: String,
    pub due_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, kind, subject, payload, due_at, attempts, last_error, lease_owner, lease_until";

fn job(row: &QueryResult) -> Result<Job, DbErr> {
    Ok(Job {
        id: row.try_get("", "id")?,
        kind: row.try_get("", "kind")?,
        subject: row.try_get("", "subject")?,
        payload: row.try_get("", "payload")?,
        due_at: parse_time(&row.try_get::<String>("", "due_at")?)?,
        attempts: row.try_get("", "attempts")?,
        last_error: row.try_get("", "last_error")?,
        lease_owner: row.try_get("", "lease_owner")?,
        lease_until: optional_time(row, "lease_until")?,
    })
}

/// Adds a job inside the caller's transaction (or connection); idempotent on the job id.
pub async fn enqueue(connection: &impl ConnectionTrait, job: &NewJob, now: DateTime<Utc>) -> Result<(), DbErr> {
    connection
        .execute_raw(statement(
            connection.get_database_backend(),
            "INSERT INTO jobs (id, kind, subject, payload, due_at, attempts, last_error, created_at)
             VALUES (?, ?, ?, ?, ?, 0, '', ?) ON CONFLICT (id) DO NOTHING",
            vec![
                job.id.clone().into(),
                job.kind.clone().into(),
                job.subject.clone().into(),
                job.payload.clone().into(),
                format_time(job.due_at).into(),
                format_time(now).into(),
            ],
        ))
        .await?;
    Ok(())
}

/// Claims up to `limit` due jobs until `now + lease`, most overdue first, in the name of
/// `claim` (unique per claim, so a stale run can never complete a job claimed again since).
/// Jobs whose lease ran out (their worker died) are due again.
pub async fn claim(
    db: &DatabaseConnection,
    worker: &str,
    now: DateTime<Utc>,
    lease: TimeDelta,
    limit: u32,
) -> Result<Vec<Job>, DbErr> {
    let backend = db.get_database_backend();
    let lock = match backend {
        DbBackend::Postgres => "FOR UPDATE SKIP LOCKED",
        // SQLite has one writer per file: the UPDATE itself serialises claimers.
        _ => "",
    };
    let sql = format!(
        "UPDATE jobs SET lease_owner = ?, lease_until = ?
         WHERE id IN (
             SELECT id FROM jobs
             WHERE done_at IS NULL AND due_at <= ? AND (lease_until IS NULL OR lease_until <= ?)
             ORDER BY due_at, id LIMIT ? {lock}
         )
         RETURNING {COLUMNS}"
    );
    let now_text = format_time(now);
    let rows = db
        .query_all_raw(statement(
            backend,
            &sql,
            vec![
                worker.into(),
                format_time(now + lease).into(),
                now_text.clone().into(),
                now_text.into(),
                i64::from(limit).into(),
            ],
        ))
        .await?;
    let mut jobs = rows.iter().map(job).collect::<Result<Vec<_>, _>>()?;
    jobs.sort_by(|a, b| (a.due_at, &a.id).cmp(&(b.due_at, &b.id)));
    Ok(jobs)
}

/// Marks a job done, in the caller's transaction with the state change it completes. `false`
/// when `worker` (the claim) no longer holds the lease (another worker took the job over).
pub async fn complete(
    connection: &impl ConnectionTrait,
    id: &str,
    worker: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let result = connection
        .execute_raw(statement(
            connection.get_database_backend(),
            "UPDATE jobs SET done_at = ?, lease_owner = NULL, lease_until = NULL
             WHERE id = ? AND lease_owner = ? AND done_at IS NULL",
            vec![format_time(now).into(), id.into(), worker.into()],
        ))
        .await?;
    Ok(result.rows_affected() == 1)
}

/// Records a failed attempt and when to try again; the error stays visible until it succeeds.
pub async fn fail(
    connection: &impl ConnectionTrait,
    id: &str,
    worker: &str,
    error: &str,
    retry_at: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let result = connection
        .execute_raw(statement(
            connection.get_database_backend(),
            "UPDATE jobs SET attempts = attempts + 1, last_error = ?, due_at = ?, lease_owner = NULL, lease_until = NULL
             WHERE id = ? AND lease_owner = ? AND done_at IS NULL",
            vec![error.into(), format_time(retry_at).into(), id.into(), worker.into()],
        ))
        .await?;
    Ok(result.rows_affected() == 1)
}

/// Jobs not done yet, with their attempts and last errors (what an operator looks at).
pub async fn pending(db: &DatabaseConnection) -> Result<Vec<Job>, DbErr> {
    let sql = format!("SELECT {COLUMNS} FROM jobs WHERE done_at IS NULL ORDER BY due_at, id");
    let rows = db
        .query_all_raw(statement(db.get_database_backend(), &sql, vec![]))
        .await?;
    rows.iter().map(job).collect()
}

/// Frees the leases of every claim `worker` made (claims are named `worker:claim`): a
/// restarted process with the same worker name takes its jobs back at once instead of waiting
/// for the leases to run out.
pub async fn release_leases(db: &DatabaseConnection, worker: &str) -> Result<u64, DbErr> {
    let result = db
        .execute_raw(statement(
            db.get_database_backend(),
            "UPDATE jobs SET lease_owner = NULL, lease_until = NULL
             WHERE (lease_owner = ? OR lease_owner LIKE ?) AND done_at IS NULL",
            vec![worker.into(), format!("{worker}:%").into()],
        ))
        .await?;
    Ok(result.rows_affected())
}

/// Extends a running job's lease; `false` when the claim no longer holds it.
pub async fn renew(
    connection: &impl ConnectionTrait,
    id: &str,
    claim: &str,
    until: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let result = connection
        .execute_raw(statement(
            connection.get_database_backend(),
            "UPDATE jobs SET lease_until = ? WHERE id = ? AND lease_owner = ? AND done_at IS NULL",
            vec![format_time(until).into(), id.into(), claim.into()],
        ))
        .await?;
    Ok(result.rows_affected() == 1)
}
