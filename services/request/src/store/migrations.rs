//! The request schema: requests with their items, approvals and history; the shared connector
//! grants (holds) that items reference; the durable job queue.

use latch_runtime::database::Migration;

const SCHEMA_V1: &str = r#"
    CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        subject TEXT NOT NULL,
        payload TEXT NOT NULL,
        due_at TEXT NOT NULL,
        lease_owner TEXT,
        lease_until TEXT,
        attempts INTEGER NOT NULL,
        last_error TEXT NOT NULL,
        done_at TEXT,
        created_at TEXT NOT NULL
    );
    CREATE INDEX jobs_due ON jobs (done_at, due_at)
"#;

const SCHEMA_V2: &str = r#"
    CREATE TABLE requests (
        id TEXT PRIMARY KEY,
        requester_id TEXT NOT NULL,
        grantee_id TEXT NOT NULL,
        client_request_id TEXT NOT NULL,
        flow_id TEXT NOT NULL,
        flow_name TEXT NOT NULL,
        state TEXT NOT NULL,
        justification TEXT NOT NULL,
        duration_secs BIGINT,
        starts_at TEXT,
        approval_deadline TEXT,
        granted_at TEXT,
        ends_at TEXT,
        extensions_used INTEGER NOT NULL,
        ends_by TEXT NOT NULL,
        outcome TEXT NOT NULL,
        policy TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        version BIGINT NOT NULL
    );
    CREATE UNIQUE INDEX requests_client_id ON requests (requester_id, client_request_id) WHERE client_request_id <> '';
    CREATE INDEX requests_state ON requests (state, created_at);
    CREATE INDEX requests_requester ON requests (requester_id, created_at);
    CREATE INDEX requests_grantee ON requests (grantee_id, created_at);

    CREATE TABLE request_items (
        request_id TEXT NOT NULL,
        position INTEGER NOT NULL,
        integration_id TEXT NOT NULL,
        integration_name TEXT NOT NULL,
        resource_id TEXT NOT NULL,
        resource_type TEXT NOT NULL,
        resource_name TEXT NOT NULL,
        permission TEXT NOT NULL,
        owners TEXT NOT NULL,
        state TEXT NOT NULL,
        hold_id TEXT,
        PRIMARY KEY (request_id, position)
    );
    CREATE INDEX request_items_hold ON request_items (hold_id, state);

    CREATE TABLE approvals (
        request_id TEXT NOT NULL,
        approver_id TEXT NOT NULL,
        approver_name TEXT NOT NULL,
        decision TEXT NOT NULL,
        reason TEXT NOT NULL,
        groups_json TEXT NOT NULL,
        decided_at TEXT NOT NULL,
        PRIMARY KEY (request_id, approver_id)
    );

    CREATE TABLE request_events (
        request_id TEXT NOT NULL,
        seq BIGINT NOT NULL,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        kind TEXT NOT NULL,
        state TEXT NOT NULL,
        detail TEXT NOT NULL,
        PRIMARY KEY (request_id, seq)
    );

    CREATE TABLE holds (
        id TEXT PRIMARY KEY,
        grantee_id TEXT NOT NULL,
        integration_id TEXT NOT NULL,
        resource_id TEXT NOT NULL,
        resource_type TEXT NOT NULL,
        permission TEXT NOT NULL,
        state TEXT NOT NULL,
        account TEXT NOT NULL,
        credentials TEXT NOT NULL,
        ends_at TEXT,
        told_until TEXT,
        error TEXT NOT NULL,
        created_at TEXT NOT NULL,
        granted_at TEXT,
        revoked_at TEXT
    );
    CREATE UNIQUE INDEX holds_open ON holds (grantee_id, integration_id, resource_id, permission)
        WHERE state IN ('granting', 'granted')
"#;

/// Extend calls on one shared grant are numbered, so a call that raced another is followed by
/// one more with the latest end.
const SCHEMA_V3: &str = "ALTER TABLE holds ADD COLUMN extend_seq BIGINT NOT NULL DEFAULT 0";

/// Automatic flows: the request each (flow, grantee) holds its access through, and where the
/// reconciler stopped in the directory change feed.
const SCHEMA_V4: &str = r#"
    CREATE TABLE automatic_grants (
        flow_id TEXT NOT NULL,
        grantee_id TEXT NOT NULL,
        request_id TEXT NOT NULL,
        items_key TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (flow_id, grantee_id)
    );
    CREATE INDEX automatic_grants_grantee ON automatic_grants (grantee_id);
    CREATE TABLE feed_cursors (
        name TEXT PRIMARY KEY,
        sequence BIGINT NOT NULL,
        updated_at TEXT NOT NULL
    )
"#;

/// The audit log: appended with each change, sealed into a hash chain (`sequence`, hashes) by
/// one sealer at a time; never updated otherwise and never deleted.
const SCHEMA_V5: &str = r#"
    CREATE TABLE audit_events (
        id TEXT PRIMARY KEY,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        subject TEXT NOT NULL,
        source TEXT NOT NULL,
        grantee TEXT NOT NULL,
        flow TEXT NOT NULL,
        resources TEXT NOT NULL,
        before_state TEXT NOT NULL,
        after_state TEXT NOT NULL,
        detail TEXT NOT NULL,
        sequence BIGINT,
        previous_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    );
    CREATE UNIQUE INDEX audit_events_sequence ON audit_events (sequence);
    CREATE INDEX audit_events_at ON audit_events (at, id);
    CREATE INDEX audit_events_unsealed ON audit_events (at, id) WHERE sequence IS NULL;
    CREATE INDEX audit_events_actor ON audit_events (actor, at);
    CREATE INDEX audit_events_grantee ON audit_events (grantee, at);
    CREATE INDEX audit_events_subject ON audit_events (subject, at);
    CREATE INDEX request_items_resource ON request_items (resource_id);
    CREATE INDEX request_items_resource_name ON request_items (resource_name)
"#;

/// Every webhook delivery attempt.
const SCHEMA_V6: &str = r#"
    CREATE TABLE webhook_deliveries (
        id TEXT PRIMARY KEY,
        job_id TEXT NOT NULL,
        sink TEXT NOT NULL,
        event TEXT NOT NULL,
        request_id TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        status INTEGER NOT NULL,
        error TEXT NOT NULL,
        at TEXT NOT NULL,
        millis BIGINT NOT NULL
    );
    CREATE INDEX webhook_deliveries_at ON webhook_deliveries (at)
"#;

/// Post-use reviews of break-glass access.
const SCHEMA_V7: &str = r#"
    CREATE TABLE reviews (
        request_id TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        reviewer_id TEXT NOT NULL,
        note TEXT NOT NULL,
        created_at TEXT NOT NULL,
        decided_at TEXT,
        reminders INTEGER NOT NULL
    );
    CREATE INDEX reviews_state ON reviews (state, created_at)
"#;

/// Signed checkpoints of the audit chain's head, and both audit tables append-only: a sealed
/// event is never updated or deleted, an unsealed one only sealed (its sequence and hashes set,
/// nothing else changed), a checkpoint never changed. Triggers rather than grants, because the
/// service's role may own the tables.
const SCHEMA_V8_POSTGRES: &str = r#"
    CREATE TABLE audit_checkpoints (
        sequence BIGINT NOT NULL,
        head_hash TEXT NOT NULL,
        at TEXT NOT NULL,
        key_id TEXT NOT NULL,
        signature TEXT NOT NULL,
        PRIMARY KEY (sequence, key_id)
    );
    CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'UPDATE' AND TG_TABLE_NAME = 'audit_events' THEN
            IF OLD.sequence IS NULL AND NEW.sequence IS NOT NULL
               AND (NEW.id, NEW.at, NEW.actor, NEW.action, NEW.subject, NEW.source, NEW.grantee,
                    NEW.flow, NEW.resources, NEW.before_state, NEW.after_state, NEW.detail)
                   IS NOT DISTINCT FROM
                   (OLD.id, OLD.at, OLD.actor, OLD.action, OLD.subject, OLD.source, OLD.grantee,
                    OLD.flow, OLD.resources, OLD.before_state, OLD.after_state, OLD.detail) THEN
                RETURN NEW;
            END IF;
        END IF;
        RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END
    $$;
    CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
        FOR EACH ROW EXECUTE FUNCTION audit_append_only();
    CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
        FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
    CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
        FOR EACH ROW EXECUTE FUNCTION audit_append_only();
    CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
        FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()
"#;

const SCHEMA_V8_SQLITE: &str = r#"
    CREATE TABLE audit_checkpoints (
        sequence BIGINT NOT NULL,
        head_hash TEXT NOT NULL,
        at TEXT NOT NULL,
        key_id TEXT NOT NULL,
        signature TEXT NOT NULL,
        PRIMARY KEY (sequence, key_id)
    );
    CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
    BEGIN
        SELECT RAISE(ABORT, 'audit_events is append-only: DELETE refused');
    END;
    CREATE TRIGGER audit_events_seal_only BEFORE UPDATE ON audit_events
    WHEN OLD.sequence IS NOT NULL OR NEW.sequence IS NULL
        OR NEW.id IS NOT OLD.id OR NEW.at IS NOT OLD.at OR NEW.actor IS NOT OLD.actor
        OR NEW.action IS NOT OLD.action OR NEW.subject IS NOT OLD.subject
        OR NEW.source IS NOT OLD.source OR NEW.grantee IS NOT OLD.grantee
        OR NEW.flow IS NOT OLD.flow OR NEW.resources IS NOT OLD.resources
        OR NEW.before_state IS NOT OLD.before_state OR NEW.after_state IS NOT OLD.after_state
        OR NEW.detail IS NOT OLD.detail
    BEGIN
        SELECT RAISE(ABORT, 'audit_events is append-only: UPDATE refused');
    END;
    CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
    BEGIN
        SELECT RAISE(ABORT, 'audit_checkpoints is append-only: UPDATE refused');
    END;
    CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
    BEGIN
        SELECT RAISE(ABORT, 'audit_checkpoints is append-only: DELETE refused');
    END
"#;

/// The approver index: the keys a pending request waits under (see
/// `domain::approver_keys`), so `ListApprovals` reads only the caller's candidates.
const SCHEMA_V9: &str = r#"
    CREATE TABLE approval_keys (
        approver_key TEXT NOT NULL,
        request_id TEXT NOT NULL,
        -- The schedule of an on-call key, empty otherwise: who is on call is asked per schedule.
        schedule TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (approver_key, request_id)
    );
    CREATE INDEX approval_keys_request ON approval_keys (request_id);
    CREATE INDEX approval_keys_schedule ON approval_keys (schedule) WHERE schedule <> '';
    CREATE INDEX requests_flow_id ON requests (flow_id, created_at);
    CREATE INDEX requests_flow_name ON requests (flow_name, created_at)
"#;

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "request job queue",
        sqlite: SCHEMA_V1,
        postgres: SCHEMA_V1,
    },
    Migration {
        version: 2,
        name: "requests, items, approvals, history and shared grants",
        sqlite: SCHEMA_V2,
        postgres: SCHEMA_V2,
    },
    Migration {
        version: 3,
        name: "numbered extend calls",
        sqlite: SCHEMA_V3,
        postgres: SCHEMA_V3,
    },
    Migration {
        version: 4,
        name: "automatic flow grants and feed cursors",
        sqlite: SCHEMA_V4,
        postgres: SCHEMA_V4,
    },
    Migration {
        version: 5,
        name: "hash-chained audit log",
        sqlite: SCHEMA_V5,
        postgres: SCHEMA_V5,
    },
    Migration {
        version: 6,
        name: "webhook delivery log",
        sqlite: SCHEMA_V6,
        postgres: SCHEMA_V6,
    },
    Migration {
        version: 7,
        name: "post-use reviews",
        sqlite: SCHEMA_V7,
        postgres: SCHEMA_V7,
    },
    Migration {
        version: 8,
        name: "signed audit checkpoints; audit tables append-only",
        sqlite: SCHEMA_V8_SQLITE,
        postgres: SCHEMA_V8_POSTGRES,
    },
    Migration {
        version: 9,
        name: "approver index of pending requests; requests by flow",
        sqlite: SCHEMA_V9,
        postgres: SCHEMA_V9,
    },
];
