//! SQLite backend: one file, WAL journal, one writer connection (SQLite serialises writers
//! anyway; holding the writer in-process avoids BUSY retries) and a small pool of readers.

use std::path::Path;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, ToSql};
use tokio::sync::broadcast;

use crate::migrations::{CREATE_VERSION_TABLE, MIGRATIONS};
use crate::sql::{Param, Row, Sql, Val};
use crate::tx::SqlTx;
use crate::{Change, Result, Store, StoreError, Tx};

pub struct SqliteStore {
    path: std::path::PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    changes: broadcast::Sender<Change>,
    publish: crate::PublishGate,
    // Held for its Drop, which stops the thread.
    _checkpointer: Checkpointer,
}

/// WAL frames (pages of 4 KiB) after which the log is reset: 16,384 frames = 64 MiB.
const RESTART_AFTER_FRAMES: i64 = 16_384;

/// Moves the write-ahead log into the database file from a thread of its own, so the fsync a
/// checkpoint needs never runs inside a client's COMMIT (SQLite's automatic checkpoints would).
struct Checkpointer {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Checkpointer {
    fn start(path: &Path) -> Result<Checkpointer> {
        use std::sync::atomic::{AtomicBool, Ordering};
        let conn = SqliteStore::connect(path)?;
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(std::time::Duration::from_millis(200));
                    // A passive checkpoint never waits, but under constant reads the log is
                    // never reset and grows without bound (gigabytes in long runs, every append
                    // slower than the last). Past a size, a RESTART checkpoint waits for the
                    // readers so the next write starts the log from its beginning again.
                    let frames = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1));
                    match frames {
                        Ok(frames) if frames > RESTART_AFTER_FRAMES => {
                            if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(())) {
                                tracing::warn!(error = %e, "sqlite restart checkpoint failed");
                            }
                        }
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "sqlite checkpoint failed"),
                    }
                }
                // A last, complete checkpoint leaves a small WAL behind at shutdown.
                let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
            })
            .map_err(|e| StoreError::Backend(format!("starting the checkpoint thread: {e}")))?;
        Ok(Checkpointer { stop, thread: Some(thread) })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn backend_err(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(format!("sqlite: {e}"))
}

impl SqliteStore {
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| StoreError::Backend(format!("creating {}: {e}", dir.display())))?;
            }
        }
        let writer = Self::connect(path)?;
        migrate(&writer)?;
        // Checkpoints run on their own thread (below); a reset log is truncated back to 64 MiB.
        writer
            .execute_batch("PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = 67108864")
            .map_err(backend_err)?;
        let checkpointer = Checkpointer::start(path)?;
        let (changes, _) = broadcast::channel(8192);
        Ok(SqliteStore {
            path: path.to_path_buf(),
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
            changes,
            publish: Default::default(),
            _checkpointer: checkpointer,
        })
    }

    fn connect(path: &Path) -> Result<Connection> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(backend_err)?;
        // WAL: readers never block the writer. synchronous=NORMAL keeps every committed
        // transaction across a process crash (kill -9); only an OS crash can lose the tail.
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000; \
             PRAGMA foreign_keys = ON; PRAGMA cache_size = -65536;",
        )
        .map_err(backend_err)?;
        conn.set_prepared_statement_cache_capacity(128);
        Ok(conn)
    }

    fn take_reader(&self) -> Result<Connection> {
        if let Some(conn) = self.readers.lock().pop() {
            return Ok(conn);
        }
        let conn = Self::connect(&self.path)?;
        // Every commit invalidates a reader's page cache, and dropping a large cache is costly
        // (it showed in profiles): readers keep a small one.
        conn.execute_batch("PRAGMA cache_size = -2048").map_err(backend_err)?;
        Ok(conn)
    }

    fn return_reader(&self, conn: Connection) {
        let mut readers = self.readers.lock();
        if readers.len() < 16 {
            readers.push(conn);
        }
    }
}

fn migrate(conn: &Connection) -> Result<()> {
    conn.execute_batch(CREATE_VERSION_TABLE).map_err(backend_err)?;
    for m in MIGRATIONS.iter().filter(|m| !m.postgres_only) {
        let applied: i64 = conn
            .query_row("SELECT COUNT(*) FROM schema_migrations WHERE version = ?1", [m.version], |r| r.get(0))
            .map_err(backend_err)?;
        if applied > 0 {
            continue;
        }
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
        conn.execute_batch("BEGIN IMMEDIATE").map_err(backend_err)?;
        let result = conn.execute_batch(m.sql).and_then(|_| {
            conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
                rusqlite::params![m.version, m.name, now],
            )
        });
        match result {
            Ok(_) => conn.execute_batch("COMMIT").map_err(backend_err)?,
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                return Err(StoreError::Backend(format!("migration {} failed: {e}", m.version)));
            }
        }
        tracing::info!(version = m.version, name = m.name, "applied sqlite migration");
    }
    Ok(())
}

/// `$N` → `?N`, computed once per distinct statement.
fn translate(sql: &'static str) -> &'static str {
    static CACHE: OnceLock<Mutex<std::collections::HashMap<usize, &'static str>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = sql.as_ptr() as usize;
    if let Some(t) = cache.lock().get(&key) {
        return t;
    }
    let translated: &'static str = Box::leak(sql.replace('$', "?").into_boxed_str());
    cache.lock().insert(key, translated);
    translated
}

impl ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Param::Int(i) => ToSqlOutput::Borrowed(ValueRef::Integer(*i)),
            Param::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Param::Null => ToSqlOutput::Borrowed(ValueRef::Null),
        })
    }
}

struct SqliteSql<'c> {
    conn: &'c Connection,
}

impl Sql for SqliteSql<'_> {
    fn exec(&mut self, sql: &'static str, params: &[Param<'_>]) -> Result<u64> {
        let mut stmt = self.conn.prepare_cached(translate(sql)).map_err(backend_err)?;
        let n = stmt.execute(rusqlite::params_from_iter(params.iter())).map_err(backend_err)?;
        Ok(n as u64)
    }

    fn query(&mut self, sql: &'static str, params: &[Param<'_>]) -> Result<Vec<Row>> {
        let mut stmt = self.conn.prepare_cached(translate(sql)).map_err(backend_err)?;
        let columns = stmt.column_count();
        let mut rows = stmt.query(rusqlite::params_from_iter(params.iter())).map_err(backend_err)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(backend_err)? {
            let mut values = Vec::with_capacity(columns);
            for i in 0..columns {
                values.push(match row.get_ref(i).map_err(backend_err)? {
                    ValueRef::Integer(v) => Val::Int(v),
                    ValueRef::Text(t) => Val::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Null => Val::Null,
                    ValueRef::Real(r) => Val::Int(r as i64),
                    ValueRef::Blob(b) => Val::Text(String::from_utf8_lossy(b).into_owned()),
                });
            }
            out.push(values);
        }
        Ok(out)
    }
}

impl Store for SqliteStore {
    fn read_tx(&self, f: &mut dyn FnMut(&mut dyn Tx) -> Result<()>) -> Result<()> {
        let conn = self.take_reader()?;
        conn.execute_batch("BEGIN").map_err(backend_err)?;
        let result = {
            let mut tx = SqlTx::new(SqliteSql { conn: &conn });
            f(&mut tx)
        };
        let _ = conn.execute_batch("COMMIT");
        self.return_reader(conn);
        result
    }

    fn write_tx(&self, f: &mut dyn FnMut(&mut dyn Tx) -> Result<()>) -> Result<()> {
        let conn = self.writer.lock();
        conn.execute_batch("BEGIN IMMEDIATE").map_err(backend_err)?;
        let mut tx = SqlTx::new(SqliteSql { conn: &conn });
        // A panic in the body must not leave the writer inside an open transaction.
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&mut tx)));
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(panic) => {
                drop(tx);
                let _ = conn.execute_batch("ROLLBACK");
                std::panic::resume_unwind(panic);
            }
        };
        match outcome {
            Ok(()) => {
                let changes = std::mem::take(&mut tx.changes);
                drop(tx);
                let _publishing = self.publish.publishing();
                if let Err(e) = conn.execute_batch("COMMIT") {
                    let _ = conn.execute_batch("ROLLBACK");
                    return Err(backend_err(e));
                }
                // Published under the writer lock, so the stream is in commit order.
                for change in changes {
                    let _ = self.changes.send(change);
                }
                Ok(())
            }
            Err(e) => {
                drop(tx);
                let _ = conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }

    fn published(&self) {
        self.publish.wait();
    }

    fn backend(&self) -> &'static str {
        "sqlite"
    }
}
