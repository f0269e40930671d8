//! Shared connector grants ("holds"): one per (grantee, integration, resource, permission)
//! while granting or granted — a partial unique index makes a second one impossible, so two
//! replicas can never both grant the same access. Items reference the hold they share.

use chrono::{DateTime, Utc};
use latch_runtime::database::{format_time, optional_time, optional_time_value, parse_time, statement};
use sea_orm::{ConnectionTrait, DbErr, QueryResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldState {
    /// The grant job has not succeeded yet.
    Granting,
    Granted,
    /// The last holder left; the revoke job runs until the connector confirms.
    Revoking,
    Revoked,
    /// The connector refused the grant for good.
    Failed,
}

impl HoldState {
    pub fn as_str(self) -> &'static str {
        match self {
            HoldState::Granting => "granting",
            HoldState::Granted => "granted",
            HoldState::Revoking => "revoking",
            HoldState::Revoked => "revoked",
            HoldState::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Result<Self, DbErr> {
        Ok(match text {
            "granting" => HoldState::Granting,
            "granted" => HoldState::Granted,
            "revoking" => HoldState::Revoking,
            "revoked" => HoldState::Revoked,
            "failed" => HoldState::Failed,
            other => return Err(DbErr::Type(format!("unknown hold state {other:?}"))),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldRow {
    /// Also the connector's grant id, so a retried grant is the same grant.
    pub id: String,
    pub grantee_id: String,
    pub integration_id: String,
    pub resource_id: String,
    pub resource_type: String,
    pub permission: String,
    pub state: HoldState,
    pub account: String,
    /// Sealed (bound to the hold id); empty once the access ends.
    pub credentials: String,
    /// The latest end among its holders (`None`: indefinite).
    pub ends_at: Option<DateTime<Utc>>,
    /// What the connector was last told as the expiry (its own safety net).
    pub told_until: Option<DateTime<Utc>>,
    /// The last connector error while it keeps failing.
    pub error: String,
    pub created_at: DateTime<Utc>,
    pub granted_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// Bumped by every recorded extend call.
    pub extend_seq: i64,
}

const COLUMNS: &str = "id, grantee_id, integration_id, resource_id, resource_type, permission, state, account, \
    credentials, ends_at, told_until, error, created_at, granted_at, revoked_at, extend_seq";

fn hold(row: &QueryResult) -> Result<HoldRow, DbErr> {
    Ok(HoldRow {
        id: row.try_get("", "id")?,
        grantee_id: row.try_get("", "grantee_id")?,
        integration_id: row.try_get("", "integration_id")?,
        resource_id: row.try_get("", "resource_id")?,
        resource_type: row.try_get("", "resource_type")?,
        permission: row.try_get("", "permission")?,
        state: HoldState::parse(&row.try_get::<String>("", "state")?)?,
        account: row.try_get("", "account")?,
        credentials: row.try_get("", "credentials")?,
        ends_at: optional_time(row, "ends_at")?,
        told_until: optional_time(row, "told_until")?,
        error: row.try_get("", "error")?,
        created_at: parse_time(&row.try_get::<String>("", "created_at")?)?,
        granted_at: optional_time(row, "granted_at")?,
        revoked_at: optional_time(row, "revoked_at")?,
        extend_seq: row.try_get("", "extend_seq")?,
    })
}

pub async fn insert(connection: &impl ConnectionTrait, h: &HoldRow) -> Result<(), DbErr> {
    connection
        .execute_raw(statement(
            connection.get_database_backend(),
            &format!("INSERT INTO holds ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
            vec![
                h.id.clone().into(),
                h.grantee_id.clone().into(),
                h.integration_id.clone().into(),
                h.resource_id.clone().into(),
                h.resource_type.clone().into(),
                h.permission.clone().into(),
                h.state.as_str().into(),
                h.account.clone().into(),
                h.credentials.clone().into(),
                optional_time_value(h.ends_at),
                optional_time_value(h.told_until),
                h.error.clone().into(),
                format_time(h.created_at).into(),
                optional_time_value(h.granted_at),
                optional_time_value(h.revoked_at),
                h.extend_seq.into(),
            ],
        ))
        .await?;
    Ok(())
}

pub async fn update(connection: &impl ConnectionTrait, h: &HoldRow) -> Result<(), DbErr> {
    connection
        .execute_raw(statement(
            connection.get_database_backend(),
            "UPDATE holds SET state = ?, account = ?, credentials = ?, ends_at = ?, told_until = ?, error = ?,
                 granted_at = ?, revoked_at = ?, extend_seq = ? WHERE id = ?",
            vec![
                h.state.as_str().into(),
                h.account.clone().into(),
                h.credentials.clone().into(),
                optional_time_value(h.ends_at),
                optional_time_value(h.told_until),
                h.error.clone().into(),
                optional_time_value(h.granted_at),
                optional_time_value(h.revoked_at),
                h.extend_seq.into(),
                h.id.clone().into(),
            ],
        ))
        .await?;
    Ok(())
}

/// Records the latest connector error without touching anything else.
pub async fn set_error(connection: &impl ConnectionTrait, id: &str, error: &str) -> Result<(), DbErr> {
    connection
        .execute_raw(statement(
            connection.get_database_backend(),
            "UPDATE holds SET error = ? WHERE id = ?",
            vec![error.into(), id.into()],
        ))
        .await?;
    Ok(())
}

pub async fn get(connection: &impl ConnectionTrait, id: &str) -> Result<Option<HoldRow>, DbErr> {
    let sql = format!("SELECT {COLUMNS} FROM holds WHERE id = ?");
    connection
        .query_one_raw(statement(connection.get_database_backend(), &sql, vec![id.into()]))
        .await?
        .as_ref()
        .map(hold)
        .transpose()
}

/// The holds with these ids (one query), by id.
pub async fn get_many(
    connection: &impl ConnectionTrait,
    ids: &[&str],
) -> Result<std::collections::HashMap<String, HoldRow>, DbErr> {
    if ids.is_empty() {
        return Ok(Default::default());
    }
    let sql = format!(
        "SELECT {COLUMNS} FROM holds WHERE id IN ({})",
        vec!["?"; ids.len()].join(", ")
    );
    let values = ids.iter().map(|id| sea_orm::Value::from(id.to_string())).collect();
    let rows = connection
        .query_all_raw(statement(connection.get_database_backend(), &sql, values))
        .await?;
    rows.iter().map(|row| hold(row).map(|h| (h.id.clone(), h))).collect()
}

/// The open (granting or granted) hold for this access, if any.
pub async fn open_for(
    connection: &impl ConnectionTrait,
    grantee_id: &str,
    integration_id: &str,
    resource_id: &str,
    permission: &str,
) -> Result<Option<HoldRow>, DbErr> {
    let sql = format!(
        "SELECT {COLUMNS} FROM holds WHERE grantee_id = ? AND integration_id = ? AND resource_id = ? AND permission = ?
         AND state IN ('granting', 'granted')"
    );
    connection
        .query_one_raw(statement(
            connection.get_database_backend(),
            &sql,
            vec![
                grantee_id.into(),
                integration_id.into(),
                resource_id.into(),
                permission.into(),
            ],
        ))
        .await?
        .as_ref()
        .map(hold)
        .transpose()
}

/// Holds in a state, oldest first (for operators and tests).
pub async fn in_state(connection: &impl ConnectionTrait, state: HoldState) -> Result<Vec<HoldRow>, DbErr> {
    let sql = format!("SELECT {COLUMNS} FROM holds WHERE state = ? ORDER BY created_at, id");
    let rows = connection
        .query_all_raw(statement(
            connection.get_database_backend(),
            &sql,
            vec![state.as_str().into()],
        ))
        .await?;
    rows.iter().map(hold).collect()
}

/// An integration's holds being made, given or revoked (the ones that may exist at the system).
pub async fn open_in_integration(
    connection: &impl ConnectionTrait,
    integration_id: &str,
) -> Result<Vec<HoldRow>, DbErr> {
    let sql = format!(
        "SELECT {COLUMNS} FROM holds WHERE integration_id = ? AND state IN ('granting', 'granted', 'revoking') ORDER BY created_at, id"
    );
    let rows = connection
        .query_all_raw(statement(
            connection.get_database_backend(),
            &sql,
            vec![integration_id.into()],
        ))
        .await?;
    rows.iter().map(hold).collect()
}

/// Integrations with any hold that may exist at the system.
pub async fn integrations_in_use(connection: &impl ConnectionTrait) -> Result<Vec<String>, DbErr> {
    let rows = connection
        .query_all_raw(statement(
            connection.get_database_backend(),
            "SELECT DISTINCT integration_id FROM holds WHERE state IN ('granting', 'granted', 'revoking')",
            vec![],
        ))
        .await?;
    rows.iter().map(|r| r.try_get("", "integration_id")).collect()
}
