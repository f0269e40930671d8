//! API tokens (stored as SHA-256 hashes) and MFA enrolments (secrets sealed with AES-256-GCM).

use chrono::{DateTime, Utc};
use sea_orm::{DbErr, QueryResult};

use super::{IdentityStore, format_time, get, optional_time, parse_time};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub id: String,
    pub user_id: String,
    pub description: String,
    /// "api" or "scim".
    pub scope: String,
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

#[derive(Clone, PartialEq, Eq)]
pub struct MfaRecord {
    pub user_id: String,
    pub secret_sealed: String,
    pub confirmed: bool,
    pub last_used_step: Option<i64>,
    pub failures_in_a_row: i32,
    pub locked_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for MfaRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaRecord")
            .field("user_id", &self.user_id)
            .field("confirmed", &self.confirmed)
            .field("failures_in_a_row", &self.failures_in_a_row)
            .finish_non_exhaustive()
    }
}

fn token(row: &QueryResult) -> Result<TokenRecord, DbErr> {
    Ok(TokenRecord {
        id: get(row, "id")?,
        user_id: get(row, "user_id")?,
        description: get(row, "description")?,
        scope: get(row, "scope")?,
        prefix: get(row, "prefix")?,
        created_at: parse_time(&get::<String>(row, "created_at")?)?,
        expires_at: optional_time(row, "expires_at")?,
        revoked_at: optional_time(row, "revoked_at")?,
        last_used_at: optional_time(row, "last_used_at")?,
    })
}

const TOKEN_COLUMNS: &str = "id, user_id, description, scope, prefix, created_at, expires_at, revoked_at, last_used_at";

impl IdentityStore {
    pub async fn token_by_hash(&self, secret_hash: &str) -> Result<Option<TokenRecord>, DbErr> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE secret_hash = ?");
        let rows = self.query_all(&sql, vec![secret_hash.into()]).await?;
        rows.first().map(token).transpose()
    }

    pub async fn token_by_id(&self, id: &str) -> Result<Option<TokenRecord>, DbErr> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE id = ?");
        let rows = self.query_all(&sql, vec![id.into()]).await?;
        rows.first().map(token).transpose()
    }

    /// Tokens of one user, or of everyone; newest first.
    pub async fn list_tokens(&self, user_id: Option<&str>) -> Result<Vec<TokenRecord>, DbErr> {
        let rows = match user_id {
            Some(user_id) => {
                let sql =
                    format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE user_id = ? ORDER BY created_at DESC, id");
                self.query_all(&sql, vec![user_id.into()]).await?
            }
            None => {
                let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens ORDER BY created_at DESC, id");
                self.query_all(&sql, vec![]).await?
            }
        };
        rows.iter().map(token).collect()
    }

    pub async fn touch_token(&self, id: &str, now: DateTime<Utc>) -> Result<(), DbErr> {
        self.execute(
            "UPDATE api_tokens SET last_used_at = ? WHERE id = ?",
            vec![format_time(now).into(), id.into()],
        )
        .await?;
        Ok(())
    }

    pub async fn mfa(&self, user_id: &str) -> Result<Option<MfaRecord>, DbErr> {
        let rows = self
            .query_all(
                "SELECT user_id, secret_sealed, confirmed, last_used_step, failures_in_a_row, locked_until, created_at
                 FROM mfa_enrollments WHERE user_id = ?",
                vec![user_id.into()],
            )
            .await?;
        rows.first()
            .map(|row| {
                Ok(MfaRecord {
                    user_id: get(row, "user_id")?,
                    secret_sealed: get(row, "secret_sealed")?,
                    confirmed: get(row, "confirmed")?,
                    last_used_step: get(row, "last_used_step")?,
                    failures_in_a_row: get(row, "failures_in_a_row")?,
                    locked_until: optional_time(row, "locked_until")?,
                    created_at: parse_time(&get::<String>(row, "created_at")?)?,
                })
            })
            .transpose()
    }

    /// Replaces the user's enrolment with a new, unconfirmed one.
    pub async fn put_mfa(&self, record: &MfaRecord) -> Result<(), DbErr> {
        self.execute(
            "INSERT INTO mfa_enrollments (user_id, secret_sealed, confirmed, last_used_step, failures_in_a_row, locked_until, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (user_id) DO UPDATE SET secret_sealed = excluded.secret_sealed, confirmed = excluded.confirmed,
               last_used_step = excluded.last_used_step, failures_in_a_row = excluded.failures_in_a_row,
               locked_until = excluded.locked_until, created_at = excluded.created_at",
            vec![
                record.user_id.clone().into(),
                record.secret_sealed.clone().into(),
                record.confirmed.into(),
                record.last_used_step.into(),
                record.failures_in_a_row.into(),
                record.locked_until.map(format_time).into(),
                format_time(record.created_at).into(),
            ],
        )
        .await?;
        Ok(())
    }

    /// Records an accepted code. Succeeds only if no verification with this or a later step
    /// won first and no lock-out started meanwhile, so one code is never accepted twice, even by
    /// concurrent calls.
    pub async fn accept_mfa_step(&self, user_id: &str, step: i64, now: DateTime<Utc>) -> Result<bool, DbErr> {
        let updated = self
            .execute(
                "UPDATE mfa_enrollments SET last_used_step = ?, confirmed = ?, failures_in_a_row = 0, locked_until = NULL
                 WHERE user_id = ? AND (last_used_step IS NULL OR last_used_step < ?)
                   AND (locked_until IS NULL OR locked_until <= ?)",
                vec![step.into(), true.into(), user_id.into(), step.into(), format_time(now).into()],
            )
            .await?;
        Ok(updated == 1)
    }

    /// Counts one failure in a single statement (so concurrent guesses cannot overwrite each
    /// other's count); the `max_failures`-th in a row locks verification until `lock_until`.
    pub async fn record_mfa_failure(
        &self,
        user_id: &str,
        max_failures: i32,
        lock_until: DateTime<Utc>,
    ) -> Result<(), DbErr> {
        self.execute(
            "UPDATE mfa_enrollments SET
               failures_in_a_row = CASE WHEN failures_in_a_row + 1 >= ? THEN 0 ELSE failures_in_a_row + 1 END,
               locked_until = CASE WHEN failures_in_a_row + 1 >= ? THEN ? ELSE locked_until END
             WHERE user_id = ?",
            vec![
                max_failures.into(),
                max_failures.into(),
                format_time(lock_until).into(),
                user_id.into(),
            ],
        )
        .await?;
        Ok(())
    }

    /// Forgets a user's enrolment (an admin reset, or user deletion).
    pub async fn delete_mfa(&self, user_id: &str) -> Result<bool, DbErr> {
        Ok(self
            .execute("DELETE FROM mfa_enrollments WHERE user_id = ?", vec![user_id.into()])
            .await?
            > 0)
    }
}
