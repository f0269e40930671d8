//! Request rows, their items, approvals and history. Every function takes the caller's
//! transaction, so a state change, its history event and its jobs commit together.

use chrono::{DateTime, Utc};
use latch_runtime::database::{format_time, optional_time, optional_time_value, parse_time, statement};
use sea_orm::{ConnectionTrait, DbErr, QueryResult, Value};

use crate::domain::lifecycle::State;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRow {
    pub id: String,
    pub requester_id: String,
    pub grantee_id: String,
    pub client_request_id: String,
    pub flow_id: String,
    pub flow_name: String,
    pub state: State,
    pub justification: String,
    /// `None`: indefinite.
    pub duration_secs: Option<i64>,
    pub starts_at: Option<DateTime<Utc>>,
    pub approval_deadline: Option<DateTime<Utc>>,
    pub granted_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub extensions_used: i32,
    /// While revoking: "expiry" or "revoke".
    pub ends_by: String,
    /// Why it ended (rejection, failure, who revoked), in words.
    pub outcome: String,
    /// The flow's approval policy and settings as they were when the request was made (JSON).
    pub policy: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemRow {
    pub request_id: String,
    pub position: i32,
    pub integration_id: String,
    pub integration_name: String,
    pub resource_id: String,
    pub resource_type: String,
    pub resource_name: String,
    pub permission: String,
    /// Owner user and group ids, comma-separated.
    pub owners: String,
    pub state: ItemState,
    pub hold_id: Option<String>,
}

/// Where one item of a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemState {
    /// Not started (waiting for approval or the start time).
    Pending,
    /// Waiting for its shared grant to be made.
    Granting,
    Granted,
    /// Released; waiting for the connector to confirm the revoke.
    Releasing,
    Released,
    /// Never granted (the request ended first or the grant failed).
    Skipped,
}

impl ItemState {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemState::Pending => "pending",
            ItemState::Granting => "granting",
            ItemState::Granted => "granted",
            ItemState::Releasing => "releasing",
            ItemState::Released => "released",
            ItemState::Skipped => "skipped",
        }
    }

    pub fn parse(text: &str) -> Result<Self, DbErr> {
        Ok(match text {
            "pending" => ItemState::Pending,
            "granting" => ItemState::Granting,
            "granted" => ItemState::Granted,
            "releasing" => ItemState::Releasing,
            "released" => ItemState::Released,
            "skipped" => ItemState::Skipped,
            other => return Err(DbErr::Type(format!("unknown item state {other:?}"))),
        })
    }

    /// Whether the item still holds (or is about to hold) its shared grant.
    pub fn holds(self) -> bool {
        matches!(self, ItemState::Granting | ItemState::Granted)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalRow {
    pub request_id: String,
    pub approver_id: String,
    pub approver_name: String,
    /// "approved" or "rejected".
    pub decision: String,
    pub reason: String,
    /// The approver groups (by index) they were eligible for when they acted.
    pub groups: Vec<usize>,
    pub decided_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    pub request_id: String,
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub kind: String,
    pub state: String,
    pub detail: String,
    /// The state before this event (for the audit log; not kept in the history table).
    pub from_state: String,
}

pub fn state_name(state: State) -> &'static str {
    match state {
        State::Submitted => "submitted",
        State::AwaitingMfa => "awaiting_mfa",
        State::PendingApproval => "pending_approval",
        State::Approved => "approved",
        State::Granting => "granting",
        State::Active => "active",
        State::Revoking => "revoking",
        State::Expired => "expired",
        State::Revoked => "revoked",
        State::Rejected => "rejected",
        State::Cancelled => "cancelled",
        State::ApprovalTimedOut => "approval_timed_out",
        State::Failed => "failed",
    }
}

pub fn parse_state(text: &str) -> Option<State> {
    Some(match text {
        "submitted" => State::Submitted,
        "awaiting_mfa" => State::AwaitingMfa,
        "pending_approval" => State::PendingApproval,
        "approved" => State::Approved,
        "granting" => State::Granting,
        "active" => State::Active,
        "revoking" => State::Revoking,
        "expired" => State::Expired,
        "revoked" => State::Revoked,
        "rejected" => State::Rejected,
        "cancelled" => State::Cancelled,
        "approval_timed_out" => State::ApprovalTimedOut,
        "failed" => State::Failed,
        _ => return None,
    })
}

pub(crate) const REQUEST_COLUMNS: &str = "id, requester_id, grantee_id, client_request_id, flow_id, flow_name, state, \
    justification, duration_secs, starts_at, approval_deadline, granted_at, ends_at, extensions_used, ends_by, \
    outcome, policy, created_at, updated_at, version";

pub(crate) fn request(row: &QueryResult) -> Result<RequestRow, DbErr> {
    let state: String = row.try_get("", "state")?;
    Ok(RequestRow {
        id: row.try_get("", "id")?,
        requester_id: row.try_get("", "requester_id")?,
        grantee_id: row.try_get("", "grantee_id")?,
        client_request_id: row.try_get("", "client_request_id")?,
        flow_id: row.try_get("", "flow_id")?,
        flow_name: row.try_get("", "flow_name")?,
        state: parse_state(&state).ok_or_else(|| DbErr::Type(format!("unknown request state {state:?}")))?,
        justification: row.try_get("", "justification")?,
        duration_secs: row.try_get("", "duration_secs")?,
        starts_at: optional_time(row, "starts_at")?,
        approval_deadline: optional_time(row, "approval_deadline")?,
        granted_at: optional_time(row, "granted_at")?,
        ends_at: optional_time(row, "ends_at")?,
        extensions_used: row.try_get("", "extensions_used")?,
        ends_by: row.try_get("", "ends_by")?,
        outcome: row.try_get("", "outcome")?,
        policy: row.try_get("", "policy")?,
        created_at: parse_time(&row.try_get::<String>("", "created_at")?)?,
        updated_at: parse_time(&row.try_get::<String>("", "updated_at")?)?,
        version: row.try_get("", "version")?,
    })
}

pub async fn insert_request(connection: &impl ConnectionTrait, r: &RequestRow) -> Result<(), DbErr> {
    connection
        .execute_raw(statement(
            connection.get_database_backend(),
            &format!(
                "INSERT INTO requests ({REQUEST_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            ),
            vec![
                r.id.clone().into(),
                r.requester_id.clone().into(),
                r.grantee_id.clone().into(),
                r.client_request_id.clone().into(),
                r.flow_id.clone().into(),
                r.flow_name.clone().into(),
                state_name(r.state).into(),
                r.justification.clone().into(),
                r.duration_secs.into(),
                optional_time_value(r.starts_at),
                optional_time_value(r.approval_deadline),
                optional_time_value(r.granted_at),
                optional_time_value(r.ends_at),
                r.extensions_used.into(),
                r.ends_by.clone().into(),
                r.outcome.clone().into(),
                r.policy.clone().into(),
                format_time(r.created_at).into(),
                format_time(r.updated_at).into(),
                r.version.into(),
            ],
        ))
        .await?;
    Ok(())
}

/// Writes every mutable column of a request.
pub async fn update_request(connection: &impl ConnectionTrait, r: &RequestRow) -> Result<(), DbErr> {
    connection
        .execute_raw(statement(
            connection.get_database_backend(),
            "UPDATE requests SET state = ?, approval_deadline = ?, granted_at = ?, ends_at = ?, extensions_used = ?,
                 ends_by = ?, outcome = ?, updated_at = ?, version = ? WHERE id = ?",
            vec![
                state_name(r.state).into(),
                optional_time_value(r.approval_deadline),
                optional_time_value(r.granted_at),
                optional_time_value(r.ends_at),
                r.extensions_used.into(),
                r.ends_by.clone().into(),
                r.outcome.clone().into(),
                format_time(r.updated_at).into(),
                r.version.into(),
                r.id.clone().into(),
            ],
        ))
        .await?;
    Ok(())
}

pub async fn get_request(connection: &impl ConnectionTrait, id: &str) -> Result<Option<RequestRow>, DbErr> {
    let sql = format!("SELECT {REQUEST_COLUMNS} FROM requests WHERE id = ?");
    connection
        .query_one_raw(statement(connection.get_database_backend(), &sql, vec![id.into()]))
        .await?
        .as_ref()
        .map(request)
        .transpose()
}

pub async fn find_by_client_id(
    connection: &impl ConnectionTrait,
    requester_id: &str,
    client_request_id: &str,
) -> Result<Option<RequestRow>, DbErr> {
    let sql = format!("SELECT {REQUEST_COLUMNS} FROM requests WHERE requester_id = ? AND client_request_id = ?");
    connection
        .query_one_raw(statement(
            connection.get_database_backend(),
            &sql,
            vec![requester_id.into(), client_request_id.into()],
        ))
        .await?
        .as_ref()
        .map(request)
        .transpose()
}

/// Which requests a listing covers.
#[derive(Debug, Clone, Default)]
pub struct RequestFilter {
    /// Requests this user asked for or receives (empty: everyone's; admins only).
    pub involving: String,
    pub states: Vec<State>,
    /// Requests created before this (id, time) position, newest first.
    pub before: Option<(DateTime<Utc>, String)>,
    pub limit: u32,
    /// Made under this flow (its id or its name then).
    pub flow: Option<String>,
    pub requester_id: Option<String>,
    pub grantee_id: Option<String>,
    /// Created at or after.
    pub created_from: Option<DateTime<Utc>>,
    /// Created before.
    pub created_until: Option<DateTime<Utc>>,
}

pub async fn list_requests(
    connection: &impl ConnectionTrait,
    filter: &RequestFilter,
) -> Result<Vec<RequestRow>, DbErr> {
    let mut sql = format!("SELECT {REQUEST_COLUMNS} FROM requests WHERE 1 = 1");
    let mut values: Vec<Value> = Vec::new();
    if !filter.involving.is_empty() {
        sql.push_str(" AND (requester_id = ? OR grantee_id = ?)");
        values.push(filter.involving.clone().into());
        values.push(filter.involving.clone().into());
    }
    if !filter.states.is_empty() {
        sql.push_str(" AND state IN (");
        sql.push_str(&vec!["?"; filter.states.len()].join(", "));
        sql.push(')');
        values.extend(filter.states.iter().map(|s| Value::from(state_name(*s))));
    }
    if let Some(flow) = &filter.flow {
        sql.push_str(" AND (flow_id = ? OR flow_name = ?)");
        values.push(flow.clone().into());
        values.push(flow.clone().into());
    }
    for (column, value) in [
        ("requester_id", &filter.requester_id),
        ("grantee_id", &filter.grantee_id),
    ] {
        if let Some(value) = value {
            sql.push_str(&format!(" AND {column} = ?"));
            values.push(value.clone().into());
        }
    }
    if let Some(from) = filter.created_from {
        sql.push_str(" AND created_at >= ?");
        values.push(format_time(from).into());
    }
    if let Some(until) = filter.created_until {
        sql.push_str(" AND created_at < ?");
        values.push(format_time(until).into());
    }
    if let Some((at, id)) = &filter.before {
        sql.push_str(" AND (created_at < ? OR (created_at = ? AND id < ?))");
        values.push(format_time(*at).into());
        values.push(format_time(*at).into());
        values.push(id.clone().into());
    }
    sql.push_str(" ORDER BY created_at DESC, id DESC LIMIT ?");
    values.push(i64::from(filter.limit.max(1)).into());
    let rows = connection
        .query_all_raw(statement(connection.get_database_backend(), &sql, values))
        .await?;
    rows.iter().map(request).collect()
}

/// A grantee's requests that are not over yet (not in a final state), oldest first.
pub async fn unfinished_for_grantee(
    connection: &impl ConnectionTrait,
    grantee_id: &str,
) -> Result<Vec<RequestRow>, DbErr> {
    let sql = format!(
        "SELECT {REQUEST_COLUMNS} FROM requests WHERE grantee_id = ?
         AND state NOT IN ('expired', 'revoked', 'rejected', 'cancelled', 'approval_timed_out', 'failed')
         ORDER BY created_at, id"
    );
    let rows = connection
        .query_all_raw(statement(
            connection.get_database_backend(),
            &sql,
            vec![grantee_id.into()],
        ))
        .await?;
    rows.iter().map(request).collect()
}

const ITEM_COLUMNS: &str = "request_id, position, integration_id, integration_name, resource_id, resource_type, \
    resource_name, permission, owners, state, hold_id";

fn item(row: &QueryResult) -> Result<ItemRow, DbErr> {
    Ok(ItemRow {
        request_id: row.try_get("", "request_id")?,
        position: row.try_get("", "position")?,
        integration_id: row.try_get("", "integration_id")?,
        integration_name: row.try_get("", "integration_name")?,
        resource_id: row.try_get("", "resource_id")?,
        resource_type: row.try_get("", "resource_type")?,
        resource_name: row.try_get("", "resource_name")?,
        permission: row.try_get("", "permission")?,
        owners: row.try_get("", "owners")?,
        state: ItemState::parse(&row.try_get::<String>("", "state")?)?,
        hold_id: row.try_get("", "hold_id")?,
    })
}

/// Inserts items in one statement.
pub async fn insert_items(connection: &impl ConnectionTrait, items: &[ItemRow]) -> Result<(), DbErr> {
    if items.is_empty() {
        return Ok(());
    }
    let mut values: Vec<Value> = Vec::with_capacity(items.len() * 11);
    for i in items {
        values.extend([
            i.request_id.clone().into(),
            i.position.into(),
            i.integration_id.clone().into(),
            i.integration_name.clone().into(),
            i.resource_id.clone().into(),
            i.resource_type.clone().into(),
            i.resource_name.clone().into(),
            i.permission.clone().into(),
            i.owners.clone().into(),
            i.state.as_str().into(),
            i.hold_id.clone().into(),
        ]);
    }
    let rows = vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"; items.len()].join(", ");
    connection
        .execute_raw(statement(
            connection.get_database_backend(),
            &format!("INSERT INTO request_items ({ITEM_COLUMNS}) VALUES {rows}"),
            values,
        ))
        .await?;
    Ok(())
}

pub async fn set_item(
    connection: &impl ConnectionTrait,
    request_id: &str,
    position: i32,
    state: ItemState,
    hold_id: Option<&str>,
) -> Result<(), DbErr> {
    connection
        .execute_raw(statement(
            connection.get_database_backend(),
            "UPDATE request_items SET state = ?, hold_id = ? WHERE request_id = ? AND position = ?",
            vec![
                state.as_str().into(),
                hold_id.map(str::to_string).into(),
                request_id.into(),
                position.into(),
            ],
        ))
        .await?;
    Ok(())
}

/// Moves every item on a shared grant from one state to another; returns their (request id,
/// position), so the requests can be settled.
pub async fn move_items_on_hold(
    connection: &impl ConnectionTrait,
    hold_id: &str,
    from: ItemState,
    to: ItemState,
) -> Result<Vec<String>, DbErr> {
    let rows = connection
        .query_all_raw(statement(
            connection.get_database_backend(),
            "UPDATE request_items SET state = ? WHERE hold_id = ? AND state = ? RETURNING request_id",
            vec![to.as_str().into(), hold_id.into(), from.as_str().into()],
        ))
        .await?;
    let mut ids = rows
        .iter()
        .map(|row| row.try_get::<String>("", "request_id"))
        .collect::<Result<Vec<_>, _>>()?;
    ids.sort();
    ids.dedup();
    Ok(ids)
}

pub async fn items(connection: &impl ConnectionTrait, request_id: &str) -> Result<Vec<ItemRow>, DbErr> {
    let sql = format!("SELECT {ITEM_COLUMNS} FROM request_items WHERE request_id = ? ORDER BY position");
    let rows = connection
        .query_all_raw(statement(
            connection.get_database_backend(),
            &sql,
            vec![request_id.into()],
        ))
        .await?;
    rows.iter().map(item).collect()
}

/// Items that reference a shared grant, in one of `states`.
pub async fn items_on_hold(
    connection: &impl ConnectionTrait,
    hold_id: &str,
    states: &[ItemState],
) -> Result<Vec<ItemRow>, DbErr> {
    let mut sql = format!("SELECT {ITEM_COLUMNS} FROM request_items WHERE hold_id = ? AND state IN (");
    sql.push_str(&vec!["?"; states.len()].join(", "));
    sql.push_str(") ORDER BY request_id, position");
    let mut values: Vec<Value> = vec![hold_id.into()];
    values.extend(states.iter().map(|s| Value::from(s.as_str())));
    let rows = connection
        .query_all_raw(statement(connection.get_database_backend(), &sql, values))
        .await?;
    rows.iter().map(item).collect()
}

fn approval(row: &QueryResult) -> Result<ApprovalRow, DbErr> {
    let groups: String = row.try_get("", "groups_json")?;
    Ok(ApprovalRow {
        request_id: row.try_get("", "request_id")?,
        approver_id: row.try_get("", "approver_id")?,
        approver_name: row.try_get("", "approver_name")?,
        decision: row.try_get("", "decision")?,
        reason: row.try_get("", "reason")?,
        groups: serde_json::from_str(&groups).map_err(|e| DbErr::Type(format!("approval groups: {e}")))?,
        decided_at: parse_time(&row.try_get::<String>("", "decided_at")?)?,
    })
}

pub async fn insert_approval(connection: &impl ConnectionTrait, a: &ApprovalRow) -> Result<(), DbErr> {
    let groups = serde_json::to_string(&a.groups).map_err(|e| DbErr::Custom(e.to_string()))?;
    connection
        .execute_raw(statement(
            connection.get_database_backend(),
            "INSERT INTO approvals (request_id, approver_id, approver_name, decision, reason, groups_json, decided_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
            vec![
                a.request_id.clone().into(),
                a.approver_id.clone().into(),
                a.approver_name.clone().into(),
                a.decision.clone().into(),
                a.reason.clone().into(),
                groups.into(),
                format_time(a.decided_at).into(),
            ],
        ))
        .await?;
    Ok(())
}

pub async fn approvals(connection: &impl ConnectionTrait, request_id: &str) -> Result<Vec<ApprovalRow>, DbErr> {
    let rows = connection
        .query_all_raw(statement(
            connection.get_database_backend(),
            "SELECT request_id, approver_id, approver_name, decision, reason, groups_json, decided_at
             FROM approvals WHERE request_id = ? ORDER BY decided_at, approver_id",
            vec![request_id.into()],
        ))
        .await?;
    rows.iter().map(approval).collect()
}

/// Appends history events in one statement.
pub async fn insert_events(connection: &impl ConnectionTrait, events: &[EventRow]) -> Result<(), DbErr> {
    if events.is_empty() {
        return Ok(());
    }
    let mut values: Vec<Value> = Vec::with_capacity(events.len() * 7);
    for e in events {
        values.extend([
            e.request_id.clone().into(),
            e.seq.into(),
            format_time(e.at).into(),
            e.actor.clone().into(),
            e.kind.clone().into(),
            e.state.clone().into(),
            e.detail.clone().into(),
        ]);
    }
    let rows = vec!["(?, ?, ?, ?, ?, ?, ?)"; events.len()].join(", ");
    connection
        .execute_raw(statement(
            connection.get_database_backend(),
            &format!("INSERT INTO request_events (request_id, seq, at, actor, kind, state, detail) VALUES {rows}"),
            values,
        ))
        .await?;
    Ok(())
}

pub async fn events(connection: &impl ConnectionTrait, request_id: &str) -> Result<Vec<EventRow>, DbErr> {
    let rows = connection
        .query_all_raw(statement(
            connection.get_database_backend(),
            "SELECT request_id, seq, at, actor, kind, state, detail FROM request_events WHERE request_id = ? ORDER BY seq",
            vec![request_id.into()],
        ))
        .await?;
    rows.iter()
        .map(|row| {
            Ok(EventRow {
                request_id: row.try_get("", "request_id")?,
                seq: row.try_get("", "seq")?,
                at: parse_time(&row.try_get::<String>("", "at")?)?,
                actor: row.try_get("", "actor")?,
                kind: row.try_get("", "kind")?,
                state: row.try_get("", "state")?,
                detail: row.try_get("", "detail")?,
                from_state: String::new(),
            })
        })
        .collect()
}

/// Requests under a flow in some states, oldest first.
pub async fn of_flow(
    connection: &impl ConnectionTrait,
    flow_id: &str,
    states: &[State],
) -> Result<Vec<RequestRow>, DbErr> {
    let marks = vec!["?"; states.len().max(1)].join(", ");
    let sql = format!(
        "SELECT {REQUEST_COLUMNS} FROM requests WHERE flow_id = ? AND state IN ({marks}) ORDER BY created_at, id"
    );
    let mut values: Vec<Value> = vec![flow_id.into()];
    values.extend(states.iter().map(|s| Value::from(state_name(*s))));
    if states.is_empty() {
        values.push("".into());
    }
    let rows = connection
        .query_all_raw(statement(connection.get_database_backend(), &sql, values))
        .await?;
    rows.iter().map(request).collect()
}
