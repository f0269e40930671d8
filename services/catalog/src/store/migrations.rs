//! The catalog schema: records as JSON documents beside the key columns that carry uniqueness.

use latch_runtime::audit::outbox::OUTBOX_SCHEMA;
use latch_runtime::database::Migration;

const SCHEMA_V1: &str = r#"
    CREATE TABLE spaces (
        id TEXT PRIMARY KEY,
        name_key TEXT NOT NULL UNIQUE,
        doc TEXT NOT NULL
    );
    CREATE TABLE integrations (
        id TEXT PRIMARY KEY,
        name_key TEXT NOT NULL UNIQUE,
        doc TEXT NOT NULL,
        secrets_sealed TEXT NOT NULL
    );
    CREATE TABLE resources (
        integration_id TEXT NOT NULL,
        resource_id TEXT NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (integration_id, resource_id)
    );
    CREATE TABLE bundles (
        id TEXT PRIMARY KEY,
        name_key TEXT NOT NULL UNIQUE,
        doc TEXT NOT NULL
    );
    CREATE TABLE access_scopes (
        id TEXT PRIMARY KEY,
        name_key TEXT NOT NULL UNIQUE,
        doc TEXT NOT NULL
    );
    CREATE TABLE catalog_version (
        id INTEGER PRIMARY KEY,
        value BIGINT NOT NULL
    );
    INSERT INTO catalog_version (id, value) VALUES (1, 0);
    CREATE TABLE idempotency_keys (
        request_id TEXT PRIMARY KEY,
        resource TEXT NOT NULL
    )
"#;

/// The change feed: one row per change, numbered by the transaction that holds the version
/// row's lock, so numbers commit in order and without gaps.
const CHANGE_FEED_V2: &str = r#"
    ALTER TABLE catalog_version ADD COLUMN last_change BIGINT NOT NULL DEFAULT 0;
    CREATE TABLE catalog_changes (
        sequence BIGINT PRIMARY KEY,
        at TEXT NOT NULL,
        kind TEXT NOT NULL,
        resource TEXT NOT NULL,
        actor TEXT NOT NULL
    )
"#;

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "catalog initial schema",
        sqlite: SCHEMA_V1,
        postgres: SCHEMA_V1,
    },
    Migration {
        version: 2,
        name: "catalog change feed",
        sqlite: CHANGE_FEED_V2,
        postgres: CHANGE_FEED_V2,
    },
    Migration {
        version: 3,
        name: "catalog audit outbox",
        sqlite: OUTBOX_SCHEMA,
        postgres: OUTBOX_SCHEMA,
    },
];
