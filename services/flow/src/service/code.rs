//! Flows as code: export every flow as one YAML document; apply a document atomically with a
//! plan of what is created, changed and (with prune) deleted.

use latch_runtime::document::Limits;
use latch_runtime::{Caller, ServiceError, ServiceResult};

use super::{FlowService, audit_record, to_yaml};
use crate::domain::model::FlowSpec;
use crate::store::{StoredFlow, name_key};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyReport {
    pub created: Vec<String>,
    pub changed: Vec<String>,
    pub deleted: Vec<String>,
    pub unchanged: usize,
    pub applied: bool,
}

impl FlowService {
    /// Every flow (of a space, or all), in name order, spaces named by id.
    pub fn export(&self, space: Option<&str>) -> String {
        let mut specs: Vec<FlowSpec> = self
            .state()
            .flows
            .iter()
            .filter(|f| space.is_none() || f.spec.space.as_deref() == space)
            .map(|f| f.spec.clone())
            .collect();
        specs.sort_by(|a, b| (&a.space, &a.name).cmp(&(&b.space, &b.name)));
        to_yaml(&specs)
    }

    /// Makes the stored flows equal the document (flows matched by space and name). Everything
    /// is validated first; then all writes happen in one transaction, or none.
    /// With `space`, prune removes only that space's flows (pair it with `export(Some(space))`);
    /// without, it removes every stored flow the document does not name.
    pub async fn apply(
        &self,
        caller: &Caller,
        document: &str,
        space: Option<&str>,
        prune: bool,
        dry_run: bool,
    ) -> ServiceResult<ApplyReport> {
        caller.require_admin()?;
        let specs: Vec<FlowSpec> =
            latch_runtime::document::parse_blocking("document", document.to_string(), Limits::BULK).await?;
        let mut checked = Vec::new();
        let mut violations = Vec::new();
        for (i, spec) in specs.into_iter().enumerate() {
            match self.check_spec(spec).await {
                Ok(spec) => checked.push(spec),
                Err(ServiceError::InvalidArgument(found)) => violations.extend(
                    found
                        .into_iter()
                        .map(|v| latch_runtime::FieldViolation::new(format!("flows[{i}].{}", v.field), v.rule)),
                ),
                Err(other) => return Err(other),
            }
        }
        let mut keys = std::collections::HashSet::new();
        for (i, spec) in checked.iter().enumerate() {
            if !keys.insert(name_key(spec)) {
                violations.push(latch_runtime::FieldViolation::new(
                    format!("flows[{i}].name"),
                    "appears twice in the document",
                ));
            }
        }
        if !violations.is_empty() {
            return Err(ServiceError::InvalidArgument(violations));
        }
        let mut tx = self.inner.store.begin(self.now()).await?;
        // Plan against the stored flows, not this replica's snapshot.
        let stored = self.inner.store.all().await?;
        let mut report = ApplyReport::default();
        let now = self.now();
        let mut writes = Vec::new();
        for spec in &checked {
            match stored.iter().find(|f| name_key(&f.spec) == name_key(spec)) {
                Some(existing) if existing.spec == *spec => report.unchanged += 1,
                Some(existing) => {
                    report.changed.push(spec.name.clone());
                    writes.push(StoredFlow {
                        spec: spec.clone(),
                        updated_at: now,
                        version: existing.version + 1,
                        ..existing.clone()
                    });
                }
                None => {
                    report.created.push(spec.name.clone());
                    writes.push(StoredFlow {
                        id: uuid::Uuid::now_v7().to_string(),
                        spec: spec.clone(),
                        created_at: now,
                        updated_at: now,
                        version: 1,
                    });
                }
            }
        }
        let doomed: Vec<&StoredFlow> = if prune {
            stored
                .iter()
                .filter(|f| space.is_none() || f.spec.space.as_deref() == space)
                .filter(|f| !keys.contains(&name_key(&f.spec)))
                .collect()
        } else {
            Vec::new()
        };
        report.deleted = doomed.iter().map(|f| f.spec.name.clone()).collect();
        if dry_run {
            return Ok(report);
        }
        for flow in &doomed {
            tx.delete(&flow.id).await?;
            tx.audit(audit_record(caller, "flow.deleted", &flow.id, Some(&flow.spec), None));
        }
        for flow in &writes {
            tx.put(flow).await?;
            let before = stored.iter().find(|f| f.id == flow.id).map(|f| &f.spec);
            let action = if before.is_some() {
                "flow.updated"
            } else {
                "flow.created"
            };
            tx.audit(audit_record(caller, action, &flow.id, before, Some(&flow.spec)));
        }
        tx.commit().await?;
        report.applied = true;
        self.recompile_after_write().await?;
        Ok(report)
    }
}
