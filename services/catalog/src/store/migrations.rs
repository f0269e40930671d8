//! The catalog schema: records as JSON documents beside the key columns that carry uniqueness.

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

pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "catalog initial schema",
    sqlite: SCHEMA_V1,
    postgres: SCHEMA_V1,
}];
