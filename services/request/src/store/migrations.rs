//! The request schema (so far: the durable job queue).

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

pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "request job queue",
    sqlite: SCHEMA_V1,
    postgres: SCHEMA_V1,
}];
