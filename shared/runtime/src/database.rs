//! Database connection and migrations. Embedded default: one SQLite file per context in the data
//! directory. At scale: PostgreSQL, one schema per context.

use std::time::Duration;

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement, TransactionTrait};

use crate::config::LatchConfig;

/// One migration, written once per backend because their DDL differs (types, autoincrement).
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

/// Writes `?` placeholders as the backend wants them (`$1, $2…` on PostgreSQL), so one SQL text
/// serves both backends.
pub fn statement(backend: DbBackend, sql: &str, values: Vec<sea_orm::Value>) -> Statement {
    debug_assert_eq!(
        sql.matches('?').count(),
        values.len(),
        "placeholders and values differ: {sql}"
    );
    let sql = match backend {
        DbBackend::Postgres => {
            let mut out = String::with_capacity(sql.len() + 8);
            let mut index = 0;
            for c in sql.chars() {
                if c == '?' {
                    index += 1;
                    out.push('$');
                    out.push_str(&index.to_string());
                } else {
                    out.push(c);
                }
            }
            out
        }
        _ => sql.to_string(),
    };
    Statement::from_sql_and_values(backend, sql, values)
}

/// Timestamps are stored as RFC 3339 text with microseconds, which sorts as time does.
pub fn format_time(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

pub fn parse_time(text: &str) -> Result<chrono::DateTime<chrono::Utc>, sea_orm::DbErr> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| sea_orm::DbErr::Type(format!("bad timestamp {text:?}: {e}")))
}

/// A nullable timestamp column as stored (`NULL` when absent).
pub fn optional_time_value(at: Option<chrono::DateTime<chrono::Utc>>) -> sea_orm::Value {
    at.map(format_time).into()
}

/// Reads a nullable timestamp column.
pub fn optional_time(
    row: &sea_orm::QueryResult,
    column: &str,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, sea_orm::DbErr> {
    row.try_get::<Option<String>>("", column)?
        .as_deref()
        .map(parse_time)
        .transpose()
}

/// The URL with `sslmode=disable` added when it names no `sslmode`: TLS to the database is
/// asked for in the URL (`sslmode=require`, or `verify-full` with `sslrootcert`), never
/// negotiated on a guess (libpq's `prefer` gives no protection: anyone in the path can decline).
fn plain_unless_asked(url: &str) -> String {
    let query = url.split_once('?').map(|(_, query)| query).unwrap_or_default();
    if query.split('&').any(|pair| pair.starts_with("sslmode=")) {
        return url.to_string();
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}sslmode=disable")
}

/// Connects a context to its database and applies its migrations.
pub async fn connect_context(
    config: &LatchConfig,
    context: &str,
    migrations: &[Migration],
) -> anyhow::Result<DatabaseConnection> {
    debug_assert!(context.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
    let connection = if config.is_postgres() {
        let mut options = ConnectOptions::new(plain_unless_asked(&config.database_url));
        options
            .max_connections(16)
            .min_connections(1)
            .connect_timeout(Duration::from_secs(10))
            .sqlx_logging(false)
            .set_schema_search_path(context.to_string());
        let connection = Database::connect(options).await?;
        // Replicas starting together would race on the catalog; one at a time.
        let transaction = connection.begin().await?;
        transaction
            .execute_unprepared("SELECT pg_advisory_xact_lock(7070)")
            .await?;
        transaction
            .execute_unprepared(&format!("CREATE SCHEMA IF NOT EXISTS {context}"))
            .await?;
        transaction
            .execute_unprepared(&format!(
                "CREATE TABLE IF NOT EXISTS {context}.latch_migrations (
                    version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            ))
            .await?;
        transaction.commit().await?;
        connection
    } else {
        std::fs::create_dir_all(&config.data_dir)?;
        let path = config.data_dir.join(format!("{context}.db"));
        let mut options = ConnectOptions::new(format!("sqlite://{}?mode=rwc", path.display()));
        options
            .max_connections(8)
            .min_connections(1)
            .sqlx_logging(false)
            .map_sqlx_sqlite_opts(|opts| {
                opts.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true)
            });
        Database::connect(options).await?
    };
    migrate(&connection, migrations).await?;
    Ok(connection)
}

/// Applies the migrations not yet recorded, each in its own transaction with its record. On
/// PostgreSQL an advisory lock keeps replicas that start together from racing.
pub async fn migrate(connection: &DatabaseConnection, migrations: &[Migration]) -> anyhow::Result<()> {
    let backend = connection.get_database_backend();
    connection
        .execute_unprepared(
            "CREATE TABLE IF NOT EXISTS latch_migrations (
                version BIGINT PRIMARY KEY,
                name TEXT NOT NULL,
                applied_at TEXT NOT NULL
            )",
        )
        .await?;
    for migration in migrations {
        let transaction = connection.begin().await?;
        if backend == DbBackend::Postgres {
            transaction
                .execute_unprepared("SELECT pg_advisory_xact_lock(7070)")
                .await?;
        }
        let applied = transaction
            .query_one_raw(Statement::from_sql_and_values(
                backend,
                match backend {
                    DbBackend::Postgres => "SELECT version FROM latch_migrations WHERE version = $1",
                    _ => "SELECT version FROM latch_migrations WHERE version = ?",
                },
                [migration.version.into()],
            ))
            .await?
            .is_some();
        if applied {
            transaction.commit().await?;
            continue;
        }
        let script = match backend {
            DbBackend::Postgres => migration.postgres,
            _ => migration.sqlite,
        };
        for statement in statements(script) {
            transaction.execute_unprepared(statement).await?;
        }
        transaction
            .execute_raw(Statement::from_sql_and_values(
                backend,
                match backend {
                    DbBackend::Postgres => {
                        "INSERT INTO latch_migrations (version, name, applied_at) VALUES ($1, $2, $3)"
                    }
                    _ => "INSERT INTO latch_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                },
                [
                    migration.version.into(),
                    migration.name.into(),
                    chrono::Utc::now().to_rfc3339().into(),
                ],
            ))
            .await?;
        transaction.commit().await?;
        tracing::info!(version = migration.version, name = migration.name, "applied migration");
    }
    Ok(())
}

/// Held while a process serves from a SQLite data directory: a second `latchd` on the same
/// directory would share the database files and take over the first one's job leases.
#[derive(Debug)]
pub struct DataDirLock {
    _file: std::fs::File,
}

/// Takes the data directory for this process, or says which process holds it.
pub fn lock_data_dir(dir: &std::path::Path) -> anyhow::Result<DataDirLock> {
    use std::io::{Read, Seek, Write};
    std::fs::create_dir_all(dir)?;
    let path = dir.join("latchd.lock");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            anyhow::bail!(
                "the data directory {} is in use by another latchd ({}); stop it first, or give this one its own --data-dir",
                dir.display(),
                match holder.trim() {
                    "" => "process unknown".to_string(),
                    pid => format!("process {}", crate::text::prefix(pid, 20)),
                }
            );
        }
        Err(std::fs::TryLockError::Error(error)) => return Err(error.into()),
    }
    file.set_len(0)?;
    file.rewind()?;
    write!(file, "{}", std::process::id())?;
    Ok(DataDirLock { _file: file })
}

/// The statements of a migration script, split at `;` except inside a dollar-quoted body
/// (PostgreSQL functions) or a `CREATE TRIGGER … BEGIN … END` (SQLite triggers).
pub fn statements(script: &str) -> Vec<&str> {
    let mut statements = Vec::new();
    let mut start = 0;
    let mut in_dollar_quote = false;
    let mut rest = script.char_indices().peekable();
    while let Some((index, c)) = rest.next() {
        if c == '$' && rest.peek().is_some_and(|(_, next)| *next == '$') {
            rest.next();
            in_dollar_quote = !in_dollar_quote;
            continue;
        }
        if c != ';' || in_dollar_quote {
            continue;
        }
        let statement = script[start..index].trim();
        let upper = statement.to_ascii_uppercase();
        let open_trigger_body = upper.starts_with("CREATE TRIGGER")
            && upper.split_whitespace().any(|word| word == "BEGIN")
            && !upper.ends_with("END");
        if open_trigger_body {
            continue;
        }
        if !statement.is_empty() {
            statements.push(statement);
        }
        start = index + 1;
    }
    let last = script[start..].trim();
    if !last.is_empty() {
        statements.push(last);
    }
    statements
}

#[cfg(test)]
mod statement_tests {
    use super::statements;

    #[test]
    fn scripts_split_at_semicolons_but_not_inside_function_or_trigger_bodies() {
        let script = "CREATE TABLE a (x TEXT);
            CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'no'; END $$;
            CREATE TRIGGER t BEFORE DELETE ON a BEGIN SELECT RAISE(ABORT, 'no'); END;
            CREATE TRIGGER u BEFORE DELETE ON a FOR EACH ROW EXECUTE FUNCTION f();
            CREATE INDEX a_x ON a (x)";
        let split = statements(script);
        assert_eq!(split.len(), 5, "{split:#?}");
        assert!(split[1].ends_with("END $$"));
        assert!(split[2].ends_with("SELECT RAISE(ABORT, 'no'); END"));
        assert_eq!(split[4], "CREATE INDEX a_x ON a (x)");
    }
}

#[cfg(test)]
mod tests {
    use super::plain_unless_asked;

    #[test]
    fn tls_to_the_database_is_what_the_url_asks_for() {
        assert_eq!(plain_unless_asked("postgres://h/db"), "postgres://h/db?sslmode=disable");
        assert_eq!(
            plain_unless_asked("postgres://h/db?application_name=x"),
            "postgres://h/db?application_name=x&sslmode=disable"
        );
        for asked in [
            "postgres://h/db?sslmode=require",
            "postgres://h/db?a=b&sslmode=verify-full&sslrootcert=/ca.pem",
        ] {
            assert_eq!(plain_unless_asked(asked), asked);
        }
    }
}
