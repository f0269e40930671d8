//! The flow service: flows stored, validated against the catalog, compiled into an in-memory
//! index, and evaluated from memory.

mod code;
mod queries;

use std::collections::BTreeSet;
use std::sync::{Arc, RwLock};

use latch_runtime::audit::AuditRecord;
use latch_runtime::audit::outbox::OutboxEntry;
use latch_runtime::document::{self, Limits};
use latch_runtime::{Caller, FieldViolation, ServiceError, ServiceResult, SharedClock};

use crate::domain::compiled::FlowIndex;
use crate::domain::evaluate::CompiledFlow;
use crate::domain::model::FlowSpec;
use crate::domain::templates;
use crate::domain::validate::{parse_when, validate};
use crate::ports::{Catalog, People};
use crate::store::{FlowStore, StoredFlow, name_key};

pub use code::ApplyReport;
pub use queries::{AutomaticFlow, EvaluationAnswer, ExplainedFlow, RequestableFlow, RequestablePage};

/// Types of the read queries the adapters build.
pub mod queries_public {
    pub use super::queries::Asked;
}

/// The compiled state every read uses, swapped whole.
#[derive(Default)]
pub struct FlowState {
    pub flows: Vec<StoredFlow>,
    pub index: FlowIndex,
    pub store_version: i64,
    pub catalog_version: i64,
}

#[derive(Clone)]
pub struct FlowService {
    inner: Arc<Inner>,
}

struct Inner {
    store: FlowStore,
    state: RwLock<Arc<FlowState>>,
    people: Arc<dyn People>,
    catalog: Arc<dyn Catalog>,
    clock: SharedClock,
    compile: tokio::sync::Mutex<()>,
    /// The flows compiled against the catalog at least once (the catalog may be down at start).
    compiled: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for FlowService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowService").finish_non_exhaustive()
    }
}

/// Parses YAML (or JSON) into `T`, strictly and within `limits` (see
/// [`latch_runtime::document`]). The text goes through a JSON value so that choices are written
/// as one-key maps (`bundle: analysts`, `custom: 2h`) rather than YAML tags.
pub fn from_yaml<T: serde::de::DeserializeOwned>(field: &str, text: &str, limits: Limits) -> ServiceResult<T> {
    document::parse(field, text, limits)
}

/// Parses a YAML or JSON flow document.
pub fn parse_definition(text: &str) -> ServiceResult<FlowSpec> {
    from_yaml("definition", text, Limits::FLOW)
}

/// [`parse_definition`] off the async runtime.
pub async fn parse_definition_blocking(text: &str) -> ServiceResult<FlowSpec> {
    document::parse_blocking("definition", text.to_string(), Limits::FLOW).await
}

/// Writes YAML in the same shape [`from_yaml`] reads.
pub fn to_yaml<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| serde_yaml::to_string(&v).ok())
        .unwrap_or_default()
}

impl FlowService {
    pub async fn open(
        store: FlowStore,
        people: Arc<dyn People>,
        catalog: Arc<dyn Catalog>,
        clock: SharedClock,
    ) -> ServiceResult<Self> {
        let service = Self {
            inner: Arc::new(Inner {
                store,
                state: RwLock::new(Arc::new(FlowState::default())),
                people,
                catalog,
                clock,
                compile: tokio::sync::Mutex::new(()),
                compiled: std::sync::atomic::AtomicBool::new(false),
            }),
        };
        match service.recompile().await {
            Ok(()) => {}
            // The catalog may start later: flow waits (refusing calls, not ready) and compiles
            // as soon as it can.
            Err(ServiceError::Unavailable(why)) => {
                tracing::warn!(%why, "flows not compiled yet: the catalog is unavailable; retrying")
            }
            Err(error) => return Err(error),
        }
        Ok(service)
    }

    /// Whether the flows have been compiled against the catalog (until then nothing is
    /// evaluated: an empty view would refuse every request and revoke every automatic grant).
    pub fn is_compiled(&self) -> bool {
        self.inner.compiled.load(std::sync::atomic::Ordering::Acquire)
    }

    /// The audit outbox after `upto`, once the entries up to it are deleted (the audit log,
    /// which asks, holds them).
    pub async fn audit_outbox(&self, upto: i64, limit: u32) -> ServiceResult<Vec<OutboxEntry>> {
        Ok(self.inner.store.audit_outbox(upto, limit).await?)
    }

    pub fn state(&self) -> Arc<FlowState> {
        self.inner.state.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.inner.clock.now()
    }

    pub(crate) fn people(&self) -> &Arc<dyn People> {
        &self.inner.people
    }

    pub(crate) fn catalog(&self) -> &Arc<dyn Catalog> {
        &self.inner.catalog
    }

    /// Reads every flow and resolves its targets into the index. A flow whose targets no longer
    /// resolve (an integration deleted) compiles to no items and a warning, never a failure.
    pub async fn recompile(&self) -> ServiceResult<()> {
        let _one_at_a_time = self.inner.compile.lock().await;
        let catalog_version = self.inner.catalog.version();
        let store_version = self.inner.store.version().await?;
        let flows = self.inner.store.all().await?;
        let mut compiled = Vec::with_capacity(flows.len());
        for flow in &flows {
            let items = match self
                .inner
                .catalog
                .resolve(&flow.spec.targets, flow.spec.space.as_deref())
                .await
            {
                Ok(items) => items.into_iter().collect(),
                // A catalog that cannot be reached says nothing about the flow: keep what was
                // compiled before rather than make it cover nothing.
                Err(error @ ServiceError::Unavailable(_)) => return Err(error),
                Err(error) => {
                    tracing::warn!(flow = %flow.spec.name, %error, "flow targets do not resolve; it covers nothing until fixed");
                    BTreeSet::new()
                }
            };
            match parse_when(&flow.spec.when) {
                Ok(when) => compiled.push(CompiledFlow {
                    id: flow.id.clone(),
                    spec: flow.spec.clone(),
                    when,
                    items,
                }),
                Err(_) => tracing::warn!(flow = %flow.spec.name, "stored flow has an invalid window; skipped"),
            }
        }
        let state = FlowState {
            flows,
            index: FlowIndex::build(compiled),
            store_version,
            catalog_version,
        };
        *self.inner.state.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(state);
        self.inner.compiled.store(true, std::sync::atomic::Ordering::Release);
        Ok(())
    }

    /// Recompiles when flows changed on another replica or the catalog moved.
    pub async fn catch_up(&self) -> ServiceResult<()> {
        let state = self.state();
        if !self.is_compiled()
            || state.store_version != self.inner.store.version().await?
            || state.catalog_version != self.inner.catalog.version()
        {
            self.recompile().await?;
        }
        Ok(())
    }

    pub fn spawn_follower(&self, every: std::time::Duration) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(every);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                let Some(inner) = weak.upgrade() else { return };
                if let Err(error) = (FlowService { inner }).catch_up().await {
                    tracing::warn!(%error, "flow recompile failed, will retry");
                }
            }
        })
    }

    async fn require_manager(&self, caller: &Caller, space: Option<&str>) -> ServiceResult<()> {
        if caller.is_admin() {
            return Ok(());
        }
        if let Some(space) = space
            && self.inner.catalog.is_space_admin(&caller.user_id, space).await?
        {
            return Ok(());
        }
        Err(self.may_not_manage(caller))
    }

    fn may_not_manage(&self, caller: &Caller) -> ServiceError {
        ServiceError::PermissionDenied(format!("{} may not manage flows here", caller.user_name))
    }

    /// Validates a flow completely: on its own, against the catalog, and for a unique name.
    /// Returns it with its space named by id.
    pub(crate) async fn check(&self, spec: FlowSpec, except_id: Option<&str>) -> ServiceResult<FlowSpec> {
        let spec = self.check_spec(spec).await?;
        let key = name_key(&spec);
        if self
            .state()
            .flows
            .iter()
            .any(|f| name_key(&f.spec) == key && Some(f.id.as_str()) != except_id)
        {
            return Err(ServiceError::AlreadyExists(format!(
                "flow {:?} in this space",
                spec.name
            )));
        }
        Ok(spec)
    }

    /// Validates a flow on its own and against the catalog (not its name's uniqueness).
    pub(crate) async fn check_spec(&self, spec: FlowSpec) -> ServiceResult<FlowSpec> {
        let mut spec = spec.normalized();
        let mut violations = validate(&spec);
        if let Some(space) = spec.space.clone().filter(|s| !s.trim().is_empty()) {
            match self.inner.catalog.space_id(&space).await? {
                Some(id) => spec.space = Some(id),
                None => violations.push(FieldViolation::new("space", format!("no space {space:?}"))),
            }
        } else {
            spec.space = None;
        }
        if let crate::domain::model::Approval::ApprovalOf { groups, .. } = &spec.approval {
            for (g, group) in groups.iter().enumerate() {
                for (r, row) in group.rows.iter().enumerate() {
                    if let crate::domain::model::ApproverRow::OnCall { schedules } = row {
                        for (s, schedule) in schedules.iter().enumerate() {
                            if !self.inner.people.schedule_exists(schedule).await? {
                                violations.push(FieldViolation::new(
                                    format!("approval.approval_of.groups[{g}].rows[{r}].on_call.schedules[{s}]"),
                                    format!("no on-call schedule {schedule:?}"),
                                ));
                            }
                        }
                    }
                }
            }
        }
        if violations.is_empty()
            && let Err(error) = self.inner.catalog.resolve(&spec.targets, spec.space.as_deref()).await
        {
            match error {
                ServiceError::InvalidArgument(found) => violations.extend(found),
                other => return Err(other),
            }
        }
        if violations.is_empty() {
            Ok(spec)
        } else {
            Err(ServiceError::InvalidArgument(violations))
        }
    }

    pub fn flow(&self, id_or_name: &str) -> ServiceResult<StoredFlow> {
        let state = self.state();
        state
            .flows
            .iter()
            .find(|f| f.id == id_or_name)
            .or_else(|| {
                state
                    .flows
                    .iter()
                    .find(|f| f.spec.name.eq_ignore_ascii_case(id_or_name.trim()))
            })
            .cloned()
            .ok_or_else(|| ServiceError::NotFound(format!("flow {id_or_name:?}")))
    }

    pub async fn create(&self, caller: &Caller, definition: &str, template: &str) -> ServiceResult<StoredFlow> {
        // Who may create flows at all is known before the document is read: admins and the
        // admins of some space. Which space is checked once the document names it.
        if !caller.is_admin() && !self.inner.catalog.administers_any_space(&caller.user_id).await? {
            return Err(self.may_not_manage(caller));
        }
        let mut spec = parse_definition_blocking(definition).await?;
        if !template.trim().is_empty() {
            spec = templates::apply(template.trim(), spec).map_err(|e| ServiceError::invalid("template", e))?;
        }
        let space = match spec.space.as_deref().filter(|s| !s.trim().is_empty()) {
            Some(space) => self.inner.catalog.space_id(space).await?,
            None => None,
        };
        self.require_manager(caller, space.as_deref()).await?;
        let mut tx = self.inner.store.begin(self.now()).await?;
        let spec = self.check(spec, None).await?;
        let now = self.now();
        let flow = StoredFlow {
            id: uuid::Uuid::now_v7().to_string(),
            spec,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        tx.put(&flow).await.map_err(|e| unique_or(e, &flow.spec.name))?;
        tx.audit(audit_record(caller, "flow.created", &flow.id, None, Some(&flow.spec)));
        tx.commit().await?;
        tracing::info!(flow = %flow.spec.name, "flow created");
        self.recompile_after_write().await?;
        Ok(flow)
    }

    pub async fn update(
        &self,
        caller: &Caller,
        id: &str,
        definition: &str,
        expected_version: Option<i64>,
    ) -> ServiceResult<StoredFlow> {
        let current = self.flow(id)?;
        self.require_manager(caller, current.spec.space.as_deref()).await?;
        let spec = parse_definition_blocking(definition).await?;
        let mut tx = self.inner.store.begin(self.now()).await?;
        // The stored flow, not this replica's snapshot, decides the etag check.
        let current = self
            .inner
            .store
            .all()
            .await?
            .into_iter()
            .find(|f| f.id == current.id)
            .ok_or_else(|| ServiceError::NotFound(format!("flow {id:?}")))?;
        if let Some(expected) = expected_version
            && expected != current.version
        {
            return Err(ServiceError::Aborted(format!(
                "etag: the flow changed since it was read (version {})",
                current.version
            )));
        }
        let spec = self.check(spec, Some(&current.id)).await?;
        if spec.space != current.spec.space {
            self.require_manager(caller, spec.space.as_deref()).await?;
        }
        let before = current.spec.clone();
        let flow = StoredFlow {
            spec,
            updated_at: self.now(),
            version: current.version + 1,
            ..current
        };
        tx.put(&flow).await.map_err(|e| unique_or(e, &flow.spec.name))?;
        tx.audit(audit_record(
            caller,
            "flow.updated",
            &flow.id,
            Some(&before),
            Some(&flow.spec),
        ));
        tx.commit().await?;
        self.recompile_after_write().await?;
        Ok(flow)
    }

    pub async fn delete(&self, caller: &Caller, id: &str) -> ServiceResult<()> {
        let flow = self.flow(id)?;
        self.require_manager(caller, flow.spec.space.as_deref()).await?;
        let mut tx = self.inner.store.begin(self.now()).await?;
        tx.delete(&flow.id).await?;
        tx.audit(audit_record(caller, "flow.deleted", &flow.id, Some(&flow.spec), None));
        tx.commit().await?;
        self.recompile_after_write().await
    }

    /// Recompiles after a committed write. The write stands even when the catalog has just
    /// become unreachable: the follower compiles it as soon as the catalog is back.
    pub(crate) async fn recompile_after_write(&self) -> ServiceResult<()> {
        match self.recompile().await {
            Err(ServiceError::Unavailable(why)) => {
                tracing::warn!(%why, "flow change saved; it takes effect once the catalog is reachable");
                Ok(())
            }
            other => other,
        }
    }
}

/// The audit record of a change of a flow (written in the transaction of the change).
pub(crate) fn audit_record(
    caller: &Caller,
    action: &str,
    id: &str,
    before: Option<&FlowSpec>,
    after: Option<&FlowSpec>,
) -> AuditRecord {
    let name = after.or(before).map(|s| s.name.clone()).unwrap_or_default();
    let mut record = AuditRecord::by(caller, action, format!("flows/{id}")).states(before, after);
    record.flow = name;
    record
}

fn unique_or(error: sea_orm::DbErr, name: &str) -> ServiceError {
    let text = error.to_string().to_lowercase();
    if text.contains("unique") || text.contains("duplicate key") {
        ServiceError::AlreadyExists(format!("flow {name:?} in this space"))
    } else {
        error.into()
    }
}

#[cfg(test)]
mod parse_tests {
    #[test]
    fn a_bad_value_is_reported_at_its_path() {
        let text = "name: x\nkind: self_serve\nrequestors:\n  rows:\n    - { attribute: department, operator: equals, values: [a] }\ntargets: [ { bundle: b } ]\n";
        let error = super::parse_definition(text).unwrap_err();
        let latch_runtime::ServiceError::InvalidArgument(violations) = error else {
            panic!("{error:?}")
        };
        assert_eq!(violations[0].field, "requestors.rows[0].operator");
        assert!(violations[0].rule.contains("unknown variant `equals`"));
    }
}
