//! privlink's durable store.
//!
//! Everything privlink keeps lives here: resource documents (keyed by their lower-cased ARM id),
//! IP allocations, the reconciler's work queue and long-running-operation records. The rest of
//! privlink sees only the [`Store`] and [`Tx`] traits; this crate is the only one that knows SQL.
//!
//! Two backends implement the same [`sql::Sql`] executor and share all logic in [`tx::SqlTx`]:
//! SQLite (embedded default, WAL, one writer connection) and PostgreSQL (read-committed write
//! transactions serialised by one advisory lock, retried on deadlocks).
//!
//! Invariants kept here rather than by callers:
//! - an IP offset is allocated at most once per pool: `ip_allocations` has the primary key
//!   `(pool, offset)`, so two transactions can never both commit the same address;
//! - allocation cost does not depend on how many addresses are in use: free space is kept as
//!   ranges (`ip_free`), and the lowest free address is one index lookup away;
//! - a write transaction commits all or nothing; the change stream is published only after commit.

mod migrations;
mod postgres_backend;
mod sql;
mod sqlite_backend;
mod tx;

use std::sync::Arc;

use serde_json::Value;

pub use postgres_backend::PostgresStore;
pub use sqlite_backend::SqliteStore;

/// One resource document as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceRow {
    /// The lower-cased resource id: the identity used for every lookup.
    pub key: String,
    /// The resource id with the casing last written by a client.
    pub id: String,
    /// The lower-cased full type, e.g. `microsoft.network/virtualnetworks/subnets`.
    pub type_key: String,
    /// Lower-cased subscription id, empty for tenant-level resources.
    pub subscription: String,
    /// Lower-cased resource group name, empty outside resource groups.
    pub resource_group: String,
    /// Lower-cased key of the parent resource for child resources, else empty.
    pub parent_key: String,
    /// The stored document (what the resource provider wants to keep).
    pub body: Value,
    pub etag: String,
    /// Unix milliseconds.
    pub created_at: i64,
    pub updated_at: i64,
}

/// Which rows a list looks at.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// Direct children of one resource.
    Children { parent_key: &'a str },
    /// Rows in one resource group.
    ResourceGroup { subscription: &'a str, resource_group: &'a str },
    /// Rows in one subscription.
    Subscription { subscription: &'a str },
    /// Every row (tenant-level listings such as subscriptions).
    All,
}

#[derive(Debug, Clone, Copy)]
pub struct ListQuery<'a> {
    pub scope: Scope<'a>,
    /// Lower-cased type to restrict to.
    pub type_key: Option<&'a str>,
    /// Keyset paging: only keys strictly greater than this.
    pub after: Option<&'a str>,
    pub limit: usize,
}

/// Outcome of claiming one specific IP offset.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    Claimed,
    /// Already allocated, to this owner.
    Taken {
        owner: String,
    },
    /// Not part of the pool's free space and not allocated: reserved or outside the pool.
    Unavailable,
}

/// A durable unit of reconciler work, written in the same transaction as the API write.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkItem {
    pub id: String,
    pub kind: String,
    pub resource_key: String,
    pub operation_id: String,
    pub payload: Value,
    /// Unix milliseconds before which the item is not due; `i64::MAX` means "only when stepped".
    pub not_before: i64,
    pub attempts: i64,
}

/// A long-running operation as clients poll it.
#[derive(Debug, Clone, PartialEq)]
pub struct OperationRow {
    pub id: String,
    pub subscription: String,
    pub resource_key: String,
    pub kind: String,
    /// `InProgress`, `Succeeded`, `Failed` or `Canceled`.
    pub status: String,
    pub error: Option<Value>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Upsert,
    Delete,
}

/// A committed change to a resource row, published on the change stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub key: String,
    pub type_key: String,
    pub kind: ChangeKind,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store backend error: {0}")]
    Backend(String),
    /// A concurrent transaction won; the whole transaction is retried by the store.
    #[error("transaction conflicted with a concurrent one")]
    Retry,
    /// The caller's closure decided to roll back (its own error is kept by the caller).
    #[error("transaction aborted by caller")]
    Aborted,
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Operations available inside one transaction.
pub trait Tx {
    fn get(&mut self, key: &str) -> Result<Option<ResourceRow>>;
    /// Insert or replace the row with `row.key`.
    fn put(&mut self, row: &ResourceRow) -> Result<()>;
    fn delete(&mut self, key: &str) -> Result<bool>;
    fn list(&mut self, query: &ListQuery<'_>) -> Result<Vec<ResourceRow>>;
    fn count(&mut self, scope: Scope<'_>, type_key: Option<&str>) -> Result<u64>;
    /// Rows whose key starts with `prefix` (descendants when `prefix` ends with `/`), by key.
    fn list_prefix(&mut self, prefix: &str) -> Result<Vec<ResourceRow>>;

    /// Create (or reset) a pool whose free space is `[first, last]`.
    fn ip_pool_create(&mut self, pool: &str, first: i64, last: i64) -> Result<()>;
    /// Remove a pool's free space and allocations.
    fn ip_pool_delete(&mut self, pool: &str) -> Result<()>;
    /// Allocate the lowest free offset of `pool` to `owner`; `None` when the pool is exhausted.
    fn ip_allocate(&mut self, pool: &str, owner: &str) -> Result<Option<i64>>;
    /// Allocate exactly `offset` to `owner`.
    fn ip_claim(&mut self, pool: &str, offset: i64, owner: &str) -> Result<Claim>;
    /// Release every allocation held by `owner`; returns how many were released.
    fn ip_release_owner(&mut self, owner: &str) -> Result<u64>;
    /// Release every allocation whose owner starts with `owner_prefix`.
    fn ip_release_prefix(&mut self, owner_prefix: &str) -> Result<u64>;
    /// Release one allocation.
    fn ip_release(&mut self, pool: &str, offset: i64) -> Result<bool>;
    /// Allocations `(pool, offset)` held by `owner`.
    fn ip_owned(&mut self, owner: &str) -> Result<Vec<(String, i64)>>;
    /// Allocations in pools starting with `pool_prefix` held by owners not starting with `owner_prefix`.
    fn ip_count_foreign(&mut self, pool_prefix: &str, owner_prefix: &str) -> Result<u64>;
    fn ip_count(&mut self, pool_prefix: &str) -> Result<u64>;
    /// Allocations `(pool, offset, owner)` in pools starting with `pool_prefix`, by pool and offset.
    fn ip_allocations_in(&mut self, pool_prefix: &str, limit: usize) -> Result<Vec<(String, i64, String)>>;

    fn work_enqueue(&mut self, item: &WorkItem) -> Result<()>;
    fn work_due(&mut self, now: i64, limit: usize) -> Result<Vec<WorkItem>>;
    fn work_get(&mut self, id: &str) -> Result<Option<WorkItem>>;
    fn work_for_operation(&mut self, operation_id: &str) -> Result<Option<WorkItem>>;
    /// Pending work on one resource (at most a few items).
    fn work_for_resource(&mut self, resource_key: &str) -> Result<Vec<WorkItem>>;
    fn work_all(&mut self, limit: usize) -> Result<Vec<WorkItem>>;
    fn work_next_due(&mut self) -> Result<Option<i64>>;
    fn work_complete(&mut self, id: &str) -> Result<()>;
    fn work_reschedule(&mut self, id: &str, not_before: i64, attempts: i64) -> Result<()>;

    fn operation_put(&mut self, op: &OperationRow) -> Result<()>;
    fn operation_get(&mut self, id: &str) -> Result<Option<OperationRow>>;

    /// Small key/value metadata (defaults, settings written on first start).
    fn meta_get(&mut self, key: &str) -> Result<Option<String>>;
    fn meta_put(&mut self, key: &str, value: &str) -> Result<()>;
}

/// Held (shared) by a writer from its COMMIT until its changes are sent; taken exclusively by
/// [`Store::published`] to wait for writes between the two.
#[derive(Default)]
pub(crate) struct PublishGate(parking_lot::RwLock<()>);

impl PublishGate {
    pub(crate) fn publishing(&self) -> parking_lot::RwLockReadGuard<'_, ()> {
        self.0.read()
    }

    pub(crate) fn wait(&self) {
        drop(self.0.write());
    }
}

/// A transactional store. Implementations are blocking: call them from `spawn_blocking`.
pub trait Store: Send + Sync + 'static {
    /// Run `f` in a read-only transaction.
    fn read_tx(&self, f: &mut dyn FnMut(&mut dyn Tx) -> Result<()>) -> Result<()>;
    /// Run `f` in a write transaction; committed only if `f` returns `Ok`. `f` may run more than
    /// once when the backend detects a conflict with a concurrent transaction.
    fn write_tx(&self, f: &mut dyn FnMut(&mut dyn Tx) -> Result<()>) -> Result<()>;
    /// The change stream: every committed resource write, in commit order per writer.
    fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Change>;
    /// Returns once every write committed before the call is on the change stream. A commit is
    /// visible to readers a moment before its changes are sent: a reader that must not see a
    /// write its subscribers have not heard of reads first, then calls this.
    fn published(&self);
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
}

/// Run `f` in a read transaction, returning its value or its own error type.
pub fn read<R, E: From<StoreError>>(
    store: &dyn Store,
    mut f: impl FnMut(&mut dyn Tx) -> std::result::Result<R, E>,
) -> std::result::Result<R, E> {
    run(store, false, &mut f)
}

/// Run `f` in a write transaction, returning its value or its own error type. An `Err` from `f`
/// rolls the transaction back.
pub fn write<R, E: From<StoreError>>(
    store: &dyn Store,
    mut f: impl FnMut(&mut dyn Tx) -> std::result::Result<R, E>,
) -> std::result::Result<R, E> {
    run(store, true, &mut f)
}

fn run<R, E: From<StoreError>>(
    store: &dyn Store,
    writing: bool,
    f: &mut dyn FnMut(&mut dyn Tx) -> std::result::Result<R, E>,
) -> std::result::Result<R, E> {
    let mut outcome: Option<std::result::Result<R, E>> = None;
    let mut body = |tx: &mut dyn Tx| match f(tx) {
        Ok(value) => {
            outcome = Some(Ok(value));
            Ok(())
        }
        Err(err) => {
            outcome = Some(Err(err));
            Err(StoreError::Aborted)
        }
    };
    let result = if writing { store.write_tx(&mut body) } else { store.read_tx(&mut body) };
    match (result, outcome) {
        (Ok(()), Some(out)) => out,
        (Err(StoreError::Aborted), Some(out)) => out,
        (Err(err), _) => Err(err.into()),
        (Ok(()), None) => Err(StoreError::Backend("transaction body did not run".into()).into()),
    }
}

/// Open the store named by `spec`: a `postgres://` / `postgresql://` URL, or a SQLite file path
/// (optionally prefixed with `sqlite:`).
pub fn open(spec: &str) -> Result<Arc<dyn Store>> {
    if spec.starts_with("postgres://") || spec.starts_with("postgresql://") {
        Ok(Arc::new(PostgresStore::open(spec)?))
    } else {
        let path = spec.strip_prefix("sqlite://").or_else(|| spec.strip_prefix("sqlite:")).unwrap_or(spec);
        Ok(Arc::new(SqliteStore::open(std::path::Path::new(path))?))
    }
}

/// The exclusive upper bound of all strings that start with `prefix`.
pub(crate) fn prefix_end(prefix: &str) -> String {
    let mut bytes = prefix.as_bytes().to_vec();
    while let Some(last) = bytes.pop() {
        if last < 0x7f {
            bytes.push(last + 1);
            return String::from_utf8(bytes).unwrap_or_else(|_| "\u{10ffff}".to_string());
        }
    }
    "\u{10ffff}".to_string()
}

#[cfg(test)]
mod tests;
