//! Rows to domain values.

use sea_orm::{DbErr, QueryResult};
use serde::de::DeserializeOwned;

use super::{get, parse_time};
use crate::domain::change::{Change, ChangeKind};
use crate::domain::group::{Member, MemberKind};

pub fn json_doc<T: DeserializeOwned>(row: &QueryResult) -> Result<T, DbErr> {
    let doc: String = get(row, "doc")?;
    serde_json::from_str(&doc).map_err(|e| DbErr::Json(e.to_string()))
}

pub fn membership(row: &QueryResult) -> Result<(String, Member), DbErr> {
    let kind: String = get(row, "member_kind")?;
    let kind = MemberKind::parse(&kind).ok_or_else(|| DbErr::Type(format!("unknown member kind {kind:?}")))?;
    Ok((
        get(row, "group_id")?,
        Member {
            kind,
            id: get(row, "member_id")?,
        },
    ))
}

pub fn change(row: &QueryResult) -> Result<Change, DbErr> {
    let kind: String = get(row, "kind")?;
    let payload: String = get(row, "payload")?;
    Ok(Change {
        sequence: get(row, "sequence")?,
        at: parse_time(&get::<String>(row, "at")?)?,
        kind: ChangeKind::parse(&kind).ok_or_else(|| DbErr::Type(format!("unknown change kind {kind:?}")))?,
        resource: get(row, "resource")?,
        actor: get(row, "actor")?,
        payload: serde_json::from_str(&payload).map_err(|e| DbErr::Json(e.to_string()))?,
    })
}
