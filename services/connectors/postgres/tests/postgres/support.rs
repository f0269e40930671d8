//! What the tests share: the scratch cluster's superuser, a database per test, sessions as a
//! granted role.

use chrono::{DateTime, TimeDelta, Utc};
use latch_connector_sdk::{Config, GrantOutcome, GrantRequest, Grantee};
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};

use crate::scratch_cluster::{SUPERUSER, cluster};

pub const MAINTENANCE_DATABASE: &str = "postgres";
pub const INSUFFICIENT_PRIVILEGE: &str = "42501";
pub const INVALID_PASSWORD: &str = "28P01";

/// The scratch cluster's superuser, over TCP with its password.
pub fn admin_options() -> PgConnectOptions {
    let cluster = cluster();
    PgConnectOptions::new_without_pgpass()
        .host("127.0.0.1")
        .port(cluster.port)
        .username(SUPERUSER)
        .password(&cluster.password)
        .database(MAINTENANCE_DATABASE)
}

pub async fn admin_connection(database: &str) -> PgConnection {
    PgConnection::connect_with(&admin_options().database(database))
        .await
        .expect("connect as the scratch cluster's superuser")
}

pub async fn execute(connection: &mut PgConnection, sql: &str) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(connection)
        .await
        .map(|_| ())
}

/// A fresh database with `public.orders` (serial id, one row), `public.customers` and
/// `sales.invoices` (identity id).
pub struct TestDatabase {
    pub name: String,
}

impl TestDatabase {
    pub async fn create() -> Self {
        let name = format!("latch_conn_{}", uuid::Uuid::new_v4().simple());
        let mut admin = admin_connection(MAINTENANCE_DATABASE).await;
        execute(&mut admin, &format!("CREATE DATABASE \"{name}\""))
            .await
            .expect("create database");
        admin.close().await.ok();

        let mut connection = admin_connection(&name).await;
        execute(
            &mut connection,
            "CREATE TABLE public.orders (id serial PRIMARY KEY, item text NOT NULL); \
             INSERT INTO public.orders (item) VALUES ('apple'); \
             CREATE TABLE public.customers (id int PRIMARY KEY, name text); \
             CREATE SCHEMA sales; \
             CREATE TABLE sales.invoices (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, total numeric)",
        )
        .await
        .expect("create tables");
        connection.close().await.ok();
        Self { name }
    }

    /// The connector's config: the scratch cluster's superuser, limited to this database.
    pub fn config(&self) -> Config {
        Config::from([
            ("host".to_string(), "127.0.0.1".to_string()),
            ("port".to_string(), cluster().port.to_string()),
            ("user".to_string(), SUPERUSER.to_string()),
            ("password".to_string(), cluster().password.clone()),
            ("database".to_string(), MAINTENANCE_DATABASE.to_string()),
            ("databases".to_string(), self.name.clone()),
        ])
    }

    pub fn grant_request(
        &self,
        grant_id: &str,
        resource_type: &str,
        resource_id: &str,
        permission: &str,
    ) -> GrantRequest {
        GrantRequest {
            grant_id: grant_id.to_string(),
            grantee: Grantee {
                user_id: "u-1".into(),
                user_name: "ada".into(),
                email: "ada@example.com".into(),
                attributes: Default::default(),
            },
            resource_type: resource_type.to_string(),
            resource_id: resource_id.to_string(),
            permission: permission.to_string(),
            expires_at: Some(Utc::now() + TimeDelta::hours(1)),
            context: Default::default(),
        }
    }

    pub fn table_id(&self, schema: &str, table: &str) -> String {
        format!("table:{}/{schema}/{table}", self.name)
    }
}

impl Drop for TestDatabase {
    /// Drops the database and every role granted on it, on a thread of its own because Drop
    /// cannot await; failures are ignored (the cluster goes with the process anyway).
    fn drop(&mut self) {
        let name = self.name.clone();
        let cleanup = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                return;
            };
            runtime.block_on(async move {
                let Ok(mut admin) = PgConnection::connect_with(&admin_options()).await else {
                    return;
                };
                let _ = execute(&mut admin, &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await;
                let roles: Vec<String> = sqlx::query_scalar(
                    "SELECT rolname FROM pg_roles WHERE rolname LIKE 'latch\\_%' \
                     AND shobj_description(oid, 'pg_authid') LIKE '%' || $1 || '%'",
                )
                .bind(format!("\"database\":\"{name}\""))
                .fetch_all(&mut admin)
                .await
                .unwrap_or_default();
                for role in roles {
                    let _ = execute(&mut admin, &format!("DROP ROLE IF EXISTS \"{role}\"")).await;
                }
                admin.close().await.ok();
            });
        });
        let _ = cleanup.join();
    }
}

/// A session as the granted role, over TCP with the credentials the grant returned: the
/// cluster checks the password.
pub async fn connect_as(outcome: &GrantOutcome) -> Result<PgConnection, sqlx::Error> {
    let credentials = &outcome.credentials;
    let options = PgConnectOptions::new_without_pgpass()
        .host(&credentials["host"])
        .port(credentials["port"].parse().expect("port is a number"))
        .username(&credentials["user"])
        .password(&credentials["password"])
        .database(&credentials["database"]);
    PgConnection::connect_with(&options).await
}

/// A session as the granted role with `password` instead of the one the grant returned.
pub async fn connect_with_password(outcome: &GrantOutcome, password: &str) -> Result<PgConnection, sqlx::Error> {
    let mut wrong = outcome.clone();
    wrong.credentials.insert("password".into(), password.into());
    connect_as(&wrong).await
}

/// What a refused login must look like: the server refused the password (not, say, a refused
/// connection, which would prove nothing about the password).
pub fn assert_login_refused(result: Result<PgConnection, sqlx::Error>, what: &str) {
    match result {
        Ok(_) => panic!("{what}: the login must be refused, but it succeeded"),
        Err(error) => assert_eq!(sqlstate(&error).as_deref(), Some(INVALID_PASSWORD), "{what}: {error}"),
    }
}

pub fn sqlstate(error: &sqlx::Error) -> Option<String> {
    match error {
        sqlx::Error::Database(error) => error.code().map(|code| code.into_owned()),
        _ => None,
    }
}

pub async fn valid_until_epoch(role: &str) -> Option<f64> {
    let mut admin = admin_connection(MAINTENANCE_DATABASE).await;
    let epoch = sqlx::query_scalar("SELECT extract(epoch FROM rolvaliduntil)::float8 FROM pg_roles WHERE rolname = $1")
        .bind(role)
        .fetch_optional(&mut admin)
        .await
        .expect("read rolvaliduntil");
    admin.close().await.ok();
    epoch.flatten()
}

pub fn epoch(instant: DateTime<Utc>) -> f64 {
    instant.timestamp_micros() as f64 / 1e6
}
