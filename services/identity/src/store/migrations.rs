//! The identity schema. Users, groups and schedules are stored as JSON documents beside the key
//! columns that carry uniqueness and lookups; the change feed is the ordered log of every write.

use latch_runtime::audit::outbox::OUTBOX_SCHEMA;
use latch_runtime::database::Migration;

/// The same DDL serves both backends: only portable types are used.
const SCHEMA_V1: &str = r#"
        CREATE TABLE users (
            id TEXT PRIMARY KEY,
            user_name_key TEXT NOT NULL UNIQUE,
            external_id TEXT,
            manager_id TEXT,
            doc TEXT NOT NULL
        );
        CREATE INDEX users_manager ON users (manager_id);
        CREATE TABLE groups (
            id TEXT PRIMARY KEY,
            display_name_key TEXT NOT NULL UNIQUE,
            doc TEXT NOT NULL
        );
        CREATE TABLE group_members (
            group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
            member_kind TEXT NOT NULL,
            member_id TEXT NOT NULL,
            PRIMARY KEY (group_id, member_kind, member_id)
        );
        CREATE INDEX group_members_member ON group_members (member_kind, member_id);
        CREATE TABLE schedules (
            id TEXT PRIMARY KEY,
            display_name_key TEXT NOT NULL UNIQUE,
            doc TEXT NOT NULL
        );
        CREATE TABLE change_counter (
            id INTEGER PRIMARY KEY,
            value BIGINT NOT NULL
        );
        INSERT INTO change_counter (id, value) VALUES (1, 0);
        CREATE TABLE changes (
            sequence BIGINT PRIMARY KEY,
            at TEXT NOT NULL,
            kind TEXT NOT NULL,
            resource TEXT NOT NULL,
            actor TEXT NOT NULL,
            payload TEXT NOT NULL
        );
        CREATE TABLE api_tokens (
            id TEXT PRIMARY KEY,
            user_id TEXT NOT NULL,
            description TEXT NOT NULL,
            scope TEXT NOT NULL,
            secret_hash TEXT NOT NULL UNIQUE,
            prefix TEXT NOT NULL,
            created_at TEXT NOT NULL,
            expires_at TEXT,
            revoked_at TEXT,
            last_used_at TEXT
        );
        CREATE INDEX api_tokens_user ON api_tokens (user_id);
        CREATE TABLE mfa_enrollments (
            user_id TEXT PRIMARY KEY,
            secret_sealed TEXT NOT NULL,
            confirmed BOOLEAN NOT NULL,
            last_used_step BIGINT,
            failures_in_a_row INTEGER NOT NULL,
            locked_until TEXT,
            created_at TEXT NOT NULL
        );
        CREATE TABLE idempotency_keys (
            request_id TEXT PRIMARY KEY,
            resource TEXT NOT NULL,
            created_at TEXT NOT NULL
        )
    "#;

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "identity initial schema",
        sqlite: SCHEMA_V1,
        postgres: SCHEMA_V1,
    },
    Migration {
        version: 2,
        name: "identity audit outbox",
        sqlite: OUTBOX_SCHEMA,
        postgres: OUTBOX_SCHEMA,
    },
];
