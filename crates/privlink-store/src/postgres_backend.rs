//! PostgreSQL backend: a bounded pool of connections; reads run concurrently in repeatable-read
//! snapshots; write transactions take one transaction-scoped advisory lock before anything else,
//! so writers run one at a time (the model SQLite has too) and every write sees all earlier
//! commits. The primary keys (e.g. one owner per IP address) still guard correctness in the
//! database itself, and a transaction that conflicts anyway (a deadlock, a unique violation,
//! another process on the same database) is retried.
//!
//! The URL may carry a privlink-specific `schema=NAME` query parameter: the schema is created if
//! missing and used as the search path, so several servers (or tests) can share one database.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use postgres::error::SqlState;
use postgres::types::{IsNull, ToSql, Type};
use postgres::{Client, NoTls, Statement};
use tokio::sync::broadcast;

use crate::migrations::{CREATE_VERSION_TABLE, MIGRATIONS};
use crate::sql::{Param, Row, Sql, Val};
use crate::tx::SqlTx;
use crate::{Change, Result, Store, StoreError, Tx};

const MAX_ATTEMPTS: u32 = 64;
/// Connections open at once; callers beyond that wait for one to come back. Keeps privlink well
/// under PostgreSQL's `max_connections` (100 by default) however many requests arrive together.
const MAX_CONNECTIONS: usize = 24;

pub struct PostgresStore {
    config: postgres::Config,
    schema: Option<String>,
    pool: Mutex<Pool>,
    returned: parking_lot::Condvar,
    changes: broadcast::Sender<Change>,
    publish: crate::PublishGate,
}

#[derive(Default)]
struct Pool {
    idle: Vec<PgConn>,
    /// Connections open, idle or in use.
    open: usize,
}

struct PgConn {
    client: std::mem::ManuallyDrop<Client>,
    statements: HashMap<usize, Statement>,
}

impl Drop for PgConn {
    fn drop(&mut self) {
        // SAFETY: `client` is never used again after this point.
        let client = unsafe { std::mem::ManuallyDrop::take(&mut self.client) };
        // The synchronous client closes its connection with `block_on`, which panics inside a
        // tokio runtime (the store is often dropped there at shutdown): close it off-runtime.
        if tokio::runtime::Handle::try_current().is_ok() {
            let _ = std::thread::Builder::new().name("pg-close".into()).spawn(move || drop(client));
        } else {
            drop(client);
        }
    }
}

fn backend_err(e: postgres::Error) -> StoreError {
    if let Some(code) = e.code() {
        // Writers hold one advisory lock, so only these (e.g. from another program using the
        // same database) mean "try again"; a unique violation would be a bug, not a race.
        if *code == SqlState::T_R_SERIALIZATION_FAILURE || *code == SqlState::T_R_DEADLOCK_DETECTED {
            return StoreError::Retry;
        }
    }
    // `Display` of a database error hides its SQLSTATE and detail; keep them for the log.
    match e.as_db_error() {
        Some(db) => StoreError::Backend(format!("postgres: {} (SQLSTATE {})", db.message(), db.code().code())),
        None => StoreError::Backend(format!("postgres: {e}")),
    }
}

/// Split the privlink-only `schema=` parameter off the URL.
fn split_schema(url: &str) -> Result<(String, Option<String>)> {
    let Some((base, query)) = url.split_once('?') else { return Ok((url.to_string(), None)) };
    let mut schema = None;
    let mut rest = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.strip_prefix("schema=") {
            Some(name) => schema = Some(name.to_string()),
            None => rest.push(pair),
        }
    }
    if let Some(name) = &schema {
        let valid = !name.is_empty()
            && name.len() <= 63
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit());
        if !valid {
            return Err(StoreError::Backend(format!(
                "invalid schema name '{name}': use letters, digits and '_' (at most 63), not starting with a digit"
            )));
        }
    }
    let url = if rest.is_empty() { base.to_string() } else { format!("{base}?{}", rest.join("&")) };
    Ok((url, schema))
}

impl PostgresStore {
    pub fn open(url: &str) -> Result<Self> {
        let (url, schema) = split_schema(url)?;
        let mut config: postgres::Config =
            url.parse().map_err(|e| StoreError::Backend(format!("invalid postgres url: {e}")))?;
        config.connect_timeout(Duration::from_secs(10));
        let (changes, _) = broadcast::channel(8192);
        if let Some(schema) = &schema {
            // Validated in split_schema: letters, digits and underscores only.
            let mut client = config.connect(NoTls).map_err(backend_err)?;
            client
                .batch_execute(&format!("SET client_min_messages TO error; CREATE SCHEMA IF NOT EXISTS {schema}"))
                .map_err(backend_err)?;
        }
        let store = PostgresStore {
            config,
            schema,
            pool: Mutex::new(Pool::default()),
            returned: parking_lot::Condvar::new(),
            changes,
            publish: Default::default(),
        };
        let mut conn = store.connect()?;
        store.migrate(&mut conn)?;
        let mut pool = store.pool.lock();
        pool.idle.push(conn);
        pool.open = 1;
        drop(pool);
        Ok(store)
    }

    fn connect(&self) -> Result<PgConn> {
        let mut client = self.config.connect(NoTls).map_err(backend_err)?;
        if let Some(schema) = &self.schema {
            // The name was validated in split_schema: letters, digits and underscores only.
            client.batch_execute(&format!("SET search_path TO {schema}")).map_err(backend_err)?;
        }
        client.batch_execute("SET client_min_messages TO error").map_err(backend_err)?;
        Ok(PgConn { client: std::mem::ManuallyDrop::new(client), statements: HashMap::new() })
    }

    fn migrate(&self, conn: &mut PgConn) -> Result<()> {
        let client = &mut conn.client;
        client.batch_execute(CREATE_VERSION_TABLE).map_err(backend_err)?;
        // Serialise concurrent migrators on the same database.
        client.batch_execute("BEGIN; SELECT pg_advisory_xact_lock(7171)").map_err(backend_err)?;
        for m in MIGRATIONS {
            let applied: i64 = client
                .query_one("SELECT COUNT(*) FROM schema_migrations WHERE version = $1", &[&m.version])
                .map_err(backend_err)?
                .get(0);
            if applied > 0 {
                continue;
            }
            let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
            let result = client.batch_execute(m.sql).and_then(|_| {
                client.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                    &[&m.version, &m.name, &now],
                )
            });
            if let Err(e) = result {
                let _ = client.batch_execute("ROLLBACK");
                return Err(StoreError::Backend(format!("migration {} failed: {e}", m.version)));
            }
            tracing::info!(version = m.version, name = m.name, "applied postgres migration");
        }
        client.batch_execute("COMMIT").map_err(backend_err)?;
        Ok(())
    }

    fn take(&self) -> Result<PgConn> {
        let mut pool = self.pool.lock();
        loop {
            if let Some(conn) = pool.idle.pop() {
                if !conn.client.is_closed() {
                    return Ok(conn);
                }
                pool.open -= 1;
                continue;
            }
            if pool.open < MAX_CONNECTIONS {
                pool.open += 1;
                drop(pool);
                return self.connect().inspect_err(|_| {
                    self.pool.lock().open -= 1;
                    self.returned.notify_one();
                });
            }
            if self.returned.wait_for(&mut pool, Duration::from_secs(30)).timed_out() {
                return Err(StoreError::Backend(format!(
                    "no PostgreSQL connection free after 30 s ({MAX_CONNECTIONS} in use)"
                )));
            }
        }
    }

    fn give_back(&self, conn: PgConn) {
        let mut pool = self.pool.lock();
        if conn.client.is_closed() {
            pool.open -= 1;
        } else {
            pool.idle.push(conn);
        }
        drop(pool);
        self.returned.notify_one();
    }

    /// Runs `f` in a transaction opened with `begin`. For a write (`publish`), the returned guard
    /// is taken before COMMIT: the caller sends the changes, then drops it.
    fn run(
        &self,
        begin: &str,
        publish: bool,
        f: &mut dyn FnMut(&mut dyn Tx) -> Result<()>,
    ) -> Result<(Vec<Change>, Option<parking_lot::RwLockReadGuard<'_, ()>>)> {
        let mut conn = self.take()?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            if let Err(e) = conn.client.batch_execute(begin) {
                // A failure after BEGIN (e.g. a lock timeout) leaves the transaction aborted.
                let _ = conn.client.batch_execute("ROLLBACK");
                self.give_back(conn);
                return Err(backend_err(e));
            }
            let mut tx = SqlTx::new(PgSql { conn: &mut conn, retry: false });
            let result = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&mut tx))) {
                Ok(result) => result,
                Err(panic) => {
                    drop(tx);
                    let _ = conn.client.batch_execute("ROLLBACK");
                    self.give_back(conn);
                    std::panic::resume_unwind(panic);
                }
            };
            let retry = tx.sql.retry;
            let changes = std::mem::take(&mut tx.changes);
            drop(tx);
            let outcome = match result {
                Ok(()) => match (publish.then(|| self.publish.publishing()), conn.client.batch_execute("COMMIT")) {
                    (publishing, Ok(())) => {
                        self.give_back(conn);
                        return Ok((changes, publishing));
                    }
                    (publishing, Err(e)) => {
                        // The outcome is unknown (the server may have committed before the
                        // connection failed): tell subscribers, who re-read the rows anyway.
                        if publishing.is_some() {
                            for change in changes {
                                let _ = self.changes.send(change);
                            }
                        }
                        backend_err(e)
                    }
                },
                Err(e) => {
                    let _ = conn.client.batch_execute("ROLLBACK");
                    if retry {
                        StoreError::Retry
                    } else {
                        self.give_back(conn);
                        return Err(e);
                    }
                }
            };
            if !matches!(outcome, StoreError::Retry) || attempt >= MAX_ATTEMPTS {
                let _ = conn.client.batch_execute("ROLLBACK");
                self.give_back(conn);
                return Err(outcome);
            }
            // Back off a little, more with each attempt, so the winner can finish.
            let jitter =
                (SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0) % 1000) as u64;
            std::thread::sleep(Duration::from_micros(200 * u64::from(attempt.min(20)) + jitter));
        }
    }
}

impl ToSql for Param<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Param::Int(i) => i.to_sql(ty, out),
            Param::Text(s) => s.to_sql(ty, out),
            Param::Null => Ok(IsNull::Yes),
        }
    }

    fn accepts(ty: &Type) -> bool {
        matches!(*ty, Type::INT8 | Type::TEXT | Type::VARCHAR)
    }

    postgres::types::to_sql_checked!();
}

struct PgSql<'c> {
    conn: &'c mut PgConn,
    /// Set when a statement failed because a concurrent transaction won.
    retry: bool,
}

impl PgSql<'_> {
    fn statement(&mut self, sql: &'static str) -> Result<Statement> {
        let key = sql.as_ptr() as usize;
        if let Some(stmt) = self.conn.statements.get(&key) {
            return Ok(stmt.clone());
        }
        let stmt = self.conn.client.prepare(sql).map_err(backend_err)?;
        self.conn.statements.insert(key, stmt.clone());
        Ok(stmt)
    }

    fn note(&mut self, e: StoreError) -> StoreError {
        if matches!(e, StoreError::Retry) {
            self.retry = true;
        }
        e
    }
}

fn as_params<'a>(params: &'a [Param<'a>]) -> Vec<&'a (dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

impl Sql for PgSql<'_> {
    fn exec(&mut self, sql: &'static str, params: &[Param<'_>]) -> Result<u64> {
        let stmt = self.statement(sql).map_err(|e| self.note(e))?;
        let result = self.conn.client.execute(&stmt, &as_params(params)).map_err(backend_err);
        result.map_err(|e| self.note(e))
    }

    fn query(&mut self, sql: &'static str, params: &[Param<'_>]) -> Result<Vec<Row>> {
        let stmt = self.statement(sql).map_err(|e| self.note(e))?;
        let rows = self.conn.client.query(&stmt, &as_params(params)).map_err(backend_err);
        let rows = rows.map_err(|e| self.note(e))?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let mut values = Vec::with_capacity(row.len());
            for (i, column) in row.columns().iter().enumerate() {
                let value = match *column.type_() {
                    Type::INT8 => row.try_get::<_, Option<i64>>(i).map(|v| v.map_or(Val::Null, Val::Int)),
                    Type::INT4 => row.try_get::<_, Option<i32>>(i).map(|v| v.map_or(Val::Null, |v| Val::Int(v.into()))),
                    _ => row.try_get::<_, Option<String>>(i).map(|v| v.map_or(Val::Null, Val::Text)),
                }
                .map_err(|e| StoreError::Corrupt(format!("column {}: {e}", column.name())))?;
                values.push(value);
            }
            out.push(values);
        }
        Ok(out)
    }
}

impl Store for PostgresStore {
    fn read_tx(&self, f: &mut dyn FnMut(&mut dyn Tx) -> Result<()>) -> Result<()> {
        self.run("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", false, f).map(|_| ())
    }

    fn write_tx(&self, f: &mut dyn FnMut(&mut dyn Tx) -> Result<()>) -> Result<()> {
        let (changes, _publishing) =
            self.run("BEGIN ISOLATION LEVEL READ COMMITTED; SELECT pg_advisory_xact_lock(7173)", true, f)?;
        for change in changes {
            let _ = self.changes.send(change);
        }
        Ok(())
    }

    fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }

    fn published(&self) {
        self.publish.wait();
    }

    fn backend(&self) -> &'static str {
        "postgres"
    }
}

#[cfg(test)]
mod tests {
    use super::split_schema;

    #[test]
    fn schema_parameter_is_split_off_and_validated() {
        let (url, schema) = split_schema("postgres://u@h/db?schema=t1&sslmode=disable").unwrap();
        assert_eq!(url, "postgres://u@h/db?sslmode=disable");
        assert_eq!(schema.as_deref(), Some("t1"));
        let (url, schema) = split_schema("postgres://u@h/db").unwrap();
        assert_eq!((url.as_str(), schema), ("postgres://u@h/db", None));
        assert!(split_schema("postgres://u@h/db?schema=x;drop").is_err());
    }
}
