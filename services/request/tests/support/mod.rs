//! What the request crate's integration tests share.

use latch_runtime::LatchConfig;
use sea_orm::{ConnectionTrait, DatabaseConnection};

/// A fresh database with the request context's migrations: a SQLite file in a temp dir, or,
/// when `LATCH_TEST_DATABASE_URL` is set, a new PostgreSQL database named `{prefix}_…`.
pub async fn fresh(prefix: &str) -> (DatabaseConnection, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = LatchConfig {
        data_dir: dir.path().to_path_buf(),
        ..LatchConfig::default()
    };
    if let Ok(base) = std::env::var("LATCH_TEST_DATABASE_URL").map(|u| u.trim().to_string())
        && !base.is_empty()
    {
        let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
        let admin = sea_orm::Database::connect(base.as_str()).await.unwrap();
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        let (prefix, _) = base.rsplit_once('/').unwrap();
        config.database_url = format!("{prefix}/{name}");
    }
    let db = latch_runtime::database::connect_context(&config, "request", latch_request::store::MIGRATIONS)
        .await
        .unwrap();
    (db, dir)
}
