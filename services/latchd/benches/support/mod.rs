//! What the benches share: a data directory and, with `LATCH_BENCH_DATABASE_URL`, a fresh
//! PostgreSQL database dropped afterwards; Latch's configuration on them, serving it in the
//! background, the admin's caller, latency reports and a SCIM client ([`scim`]).

// Each bench uses only part of what is here.
#![allow(dead_code)]

pub mod scim;
pub mod split;
pub mod watched;

use std::time::Duration;

use latch_proto::common::v1::Role;
use latch_runtime::{Caller, LatchConfig, TokenScope};
use latchd::App;
use sea_orm::ConnectionTrait;

pub const ADMIN: &str = "latch_bench_admin_token_0123456789abcdef";

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

/// Latch on `setup`'s data directory and database, on free ports, bootstrapped with [`ADMIN`].
pub fn config(setup: &Setup) -> LatchConfig {
    LatchConfig {
        data_dir: setup.dir.path().to_path_buf(),
        database_url: setup.database_url.clone(),
        grpc_addr: "127.0.0.1:0".parse().unwrap(),
        http_addr: "127.0.0.1:0".parse().unwrap(),
        bootstrap_token: ADMIN.into(),
        encryption_key: "bGF0Y2gtYmVuY2gta2V5LTAxMjM0NTY3ODkwMTIzNDU=".into(),
        ..LatchConfig::default()
    }
}

/// The audit settings of the benches that sign their audit log.
pub fn signed_audit() -> latch_runtime::config::AuditSettings {
    latch_runtime::config::AuditSettings {
        signing_key: "bGF0Y2gtYmVuY2gtYXVkaXQtc2lnbmluZy1rZXktMDE=".into(),
        ..Default::default()
    }
}

/// Serves `app` in the background; the returned sender stops it, aborting the task kills it.
pub fn serve(app: App) -> (tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = app
            .run_until_stopped(async move {
                let _ = stopped.await;
            })
            .await;
    });
    (stop, task)
}

/// The bootstrapped admin, as a caller of the services.
pub fn admin_caller(app: &App) -> Caller {
    let admin = app
        .identity()
        .expect("identity runs here")
        .directory()
        .find_user("admin")
        .cloned()
        .expect("admin");
    Caller {
        user_id: admin.id.clone(),
        user_name: admin.user_name.clone(),
        token_id: String::new(),
        roles: vec![Role::User, Role::Admin],
        scope: TokenScope::Api,
        source: "bench".into(),
    }
}

/// The `p`th percentile (0 to 100) of `sorted`, which is not empty.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

/// Prints `label` with the count, p50, p99 and max of `latencies`.
pub fn report(label: &str, mut latencies: Vec<Duration>) {
    latencies.sort();
    println!(
        "{label}: n={} p50={:.1} ms p99={:.1} ms max={:.1} ms",
        latencies.len(),
        percentile(&latencies, 50.0).as_secs_f64() * 1e3,
        percentile(&latencies, 99.0).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
}
