//! What the benches share: a data directory and, with `LATCH_BENCH_DATABASE_URL`, a fresh
//! PostgreSQL database dropped afterwards.

use sea_orm::ConnectionTrait;

pub struct Setup {
    pub database_url: String,
    /// The PostgreSQL server's own database and the bench database's name, to drop it after.
    drop: Option<(String, String)>,
    pub dir: tempfile::TempDir,
}

impl Setup {
    pub async fn teardown(self) {
        if let Some((base, name)) = self.drop
            && let Ok(admin) = sea_orm::Database::connect(base.as_str()).await
        {
            let _ = admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await;
        }
    }
}

pub async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let (database_url, drop) = match std::env::var("LATCH_BENCH_DATABASE_URL").ok().filter(|u| !u.is_empty()) {
        Some(base) => {
            let name = format!("latch_bench_{}", uuid::Uuid::new_v4().simple());
            let admin = sea_orm::Database::connect(base.as_str()).await.unwrap();
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .unwrap();
            let (prefix, _) = base.rsplit_once('/').unwrap();
            (format!("{prefix}/{name}"), Some((base.clone(), name)))
        }
        None => (String::new(), None),
    };
    Setup {
        database_url,
        drop,
        dir,
    }
}
