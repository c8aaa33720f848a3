//! The [`Tx`] implementation shared by both backends, written against [`Sql`].

use serde_json::Value;

use crate::sql::{Row, Sql, Val};
use crate::{
    prefix_end, Change, ChangeKind, Claim, ListQuery, OperationRow, ResourceRow, Result, Scope, StoreError, Tx,
    WorkItem,
};

pub struct SqlTx<S: Sql> {
    pub sql: S,
    pub changes: Vec<Change>,
}

impl<S: Sql> SqlTx<S> {
    pub fn new(sql: S) -> Self {
        SqlTx { sql, changes: Vec::new() }
    }
}

const RESOURCE_COLUMNS: &str =
    "key, id, type_key, subscription, resource_group, parent_key, body, etag, created_at, updated_at";

fn resource_from(row: Row) -> Result<ResourceRow> {
    let mut it = row.into_iter();
    let mut next = || it.next().ok_or_else(|| StoreError::Corrupt("short resource row".into()));
    let key = next()?.text()?;
    let id = next()?.text()?;
    let type_key = next()?.text()?;
    let subscription = next()?.text()?;
    let resource_group = next()?.text()?;
    let parent_key = next()?.text()?;
    let body_text = next()?.text()?;
    let etag = next()?.text()?;
    let created_at = next()?.int()?;
    let updated_at = next()?.int()?;
    let body = serde_json::from_str(&body_text).map_err(|e| StoreError::Corrupt(format!("body of {key}: {e}")))?;
    Ok(ResourceRow { key, id, type_key, subscription, resource_group, parent_key, body, etag, created_at, updated_at })
}

fn work_from(row: Row) -> Result<WorkItem> {
    let mut it = row.into_iter();
    let mut next = || it.next().ok_or_else(|| StoreError::Corrupt("short work row".into()));
    let id = next()?.text()?;
    let kind = next()?.text()?;
    let resource_key = next()?.text()?;
    let operation_id = next()?.text()?;
    let payload_text = next()?.text()?;
    let not_before = next()?.int()?;
    let attempts = next()?.int()?;
    let payload =
        serde_json::from_str(&payload_text).map_err(|e| StoreError::Corrupt(format!("payload of work {id}: {e}")))?;
    Ok(WorkItem { id, kind, resource_key, operation_id, payload, not_before, attempts })
}

fn operation_from(row: Row) -> Result<OperationRow> {
    let mut it = row.into_iter();
    let mut next = || it.next().ok_or_else(|| StoreError::Corrupt("short operation row".into()));
    let id = next()?.text()?;
    let subscription = next()?.text()?;
    let resource_key = next()?.text()?;
    let kind = next()?.text()?;
    let status = next()?.text()?;
    let error = match next()?.opt_text()? {
        Some(text) => Some(
            serde_json::from_str::<Value>(&text)
                .map_err(|e| StoreError::Corrupt(format!("error of operation {id}: {e}")))?,
        ),
        None => None,
    };
    let created_at = next()?.int()?;
    let updated_at = next()?.int()?;
    Ok(OperationRow { id, subscription, resource_key, kind, status, error, created_at, updated_at })
}

fn first_int(rows: Vec<Row>) -> Result<Option<i64>> {
    match rows.into_iter().next().and_then(|r| r.into_iter().next()) {
        Some(Val::Null) | None => Ok(None),
        Some(v) => v.int().map(Some),
    }
}

fn limit_param(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

impl<S: Sql> Tx for SqlTx<S> {
    fn get(&mut self, key: &str) -> Result<Option<ResourceRow>> {
        const Q: &str = "SELECT key, id, type_key, subscription, resource_group, parent_key, body, etag, created_at, updated_at FROM resources WHERE key = $1";
        debug_assert!(Q.contains(RESOURCE_COLUMNS));
        self.sql.query(Q, &[key.into()])?.into_iter().next().map(resource_from).transpose()
    }

    fn put(&mut self, row: &ResourceRow) -> Result<()> {
        const Q: &str = "INSERT INTO resources (key, id, type_key, subscription, resource_group, parent_key, body, etag, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (key) DO UPDATE SET id = excluded.id, type_key = excluded.type_key, body = excluded.body, \
             etag = excluded.etag, updated_at = excluded.updated_at";
        let body = row.body.to_string();
        self.sql.exec(
            Q,
            &[
                (&row.key).into(),
                (&row.id).into(),
                (&row.type_key).into(),
                (&row.subscription).into(),
                (&row.resource_group).into(),
                (&row.parent_key).into(),
                (&body).into(),
                (&row.etag).into(),
                row.created_at.into(),
                row.updated_at.into(),
            ],
        )?;
        self.changes.push(Change { key: row.key.clone(), type_key: row.type_key.clone(), kind: ChangeKind::Upsert });
        Ok(())
    }

    fn delete(&mut self, key: &str) -> Result<bool> {
        const Q: &str = "DELETE FROM resources WHERE key = $1 RETURNING type_key";
        let rows = self.sql.query(Q, &[key.into()])?;
        match rows.into_iter().next().and_then(|r| r.into_iter().next()) {
            Some(type_key) => {
                self.changes.push(Change {
                    key: key.to_string(),
                    type_key: type_key.text()?,
                    kind: ChangeKind::Delete,
                });
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn list(&mut self, q: &ListQuery<'_>) -> Result<Vec<ResourceRow>> {
        // One statement per scope and per typed/untyped form, so every list is a range scan of
        // an index whose prefix is fully bound (an `OR` on the type would defeat the index).
        const CHILDREN_TYPED: &str = "SELECT key, id, type_key, subscription, resource_group, parent_key, body, etag, created_at, updated_at FROM resources \
             WHERE parent_key = $1 AND type_key = $2 AND key > $3 ORDER BY key LIMIT $4";
        const CHILDREN_ANY: &str = "SELECT key, id, type_key, subscription, resource_group, parent_key, body, etag, created_at, updated_at FROM resources \
             WHERE parent_key = $1 AND key > $2 ORDER BY key LIMIT $3";
        const GROUP_TYPED: &str = "SELECT key, id, type_key, subscription, resource_group, parent_key, body, etag, created_at, updated_at FROM resources \
             WHERE subscription = $1 AND resource_group = $2 AND type_key = $3 AND key > $4 ORDER BY key LIMIT $5";
        const GROUP_ANY: &str = "SELECT key, id, type_key, subscription, resource_group, parent_key, body, etag, created_at, updated_at FROM resources \
             WHERE subscription = $1 AND resource_group = $2 AND key > $3 ORDER BY key LIMIT $4";
        const SUBSCRIPTION_TYPED: &str = "SELECT key, id, type_key, subscription, resource_group, parent_key, body, etag, created_at, updated_at FROM resources \
             WHERE subscription = $1 AND type_key = $2 AND key > $3 ORDER BY key LIMIT $4";
        const SUBSCRIPTION_ANY: &str = "SELECT key, id, type_key, subscription, resource_group, parent_key, body, etag, created_at, updated_at FROM resources \
             WHERE subscription = $1 AND key > $2 ORDER BY key LIMIT $3";
        const ALL_TYPED: &str = "SELECT key, id, type_key, subscription, resource_group, parent_key, body, etag, created_at, updated_at FROM resources \
             WHERE type_key = $1 AND key > $2 ORDER BY key LIMIT $3";
        const ALL_ANY: &str = "SELECT key, id, type_key, subscription, resource_group, parent_key, body, etag, created_at, updated_at FROM resources \
             WHERE key > $1 ORDER BY key LIMIT $2";
        let after = q.after.unwrap_or("");
        let limit = limit_param(q.limit);
        let rows = match (q.scope, q.type_key) {
            (Scope::Children { parent_key }, Some(t)) => {
                self.sql.query(CHILDREN_TYPED, &[parent_key.into(), t.into(), after.into(), limit.into()])?
            }
            (Scope::Children { parent_key }, None) => {
                self.sql.query(CHILDREN_ANY, &[parent_key.into(), after.into(), limit.into()])?
            }
            (Scope::ResourceGroup { subscription, resource_group }, Some(t)) => self.sql.query(
                GROUP_TYPED,
                &[subscription.into(), resource_group.into(), t.into(), after.into(), limit.into()],
            )?,
            (Scope::ResourceGroup { subscription, resource_group }, None) => {
                self.sql.query(GROUP_ANY, &[subscription.into(), resource_group.into(), after.into(), limit.into()])?
            }
            (Scope::Subscription { subscription }, Some(t)) => {
                self.sql.query(SUBSCRIPTION_TYPED, &[subscription.into(), t.into(), after.into(), limit.into()])?
            }
            (Scope::Subscription { subscription }, None) => {
                self.sql.query(SUBSCRIPTION_ANY, &[subscription.into(), after.into(), limit.into()])?
            }
            (Scope::All, Some(t)) => self.sql.query(ALL_TYPED, &[t.into(), after.into(), limit.into()])?,
            (Scope::All, None) => self.sql.query(ALL_ANY, &[after.into(), limit.into()])?,
        };
        rows.into_iter().map(resource_from).collect()
    }

    fn count(&mut self, scope: Scope<'_>, type_key: Option<&str>) -> Result<u64> {
        const CHILDREN: &str = "SELECT COUNT(*) FROM resources WHERE parent_key = $1 AND ($2 = '' OR type_key = $2)";
        const GROUP: &str = "SELECT COUNT(*) FROM resources WHERE subscription = $1 AND resource_group = $3 AND ($2 = '' OR type_key = $2)";
        const SUBSCRIPTION: &str =
            "SELECT COUNT(*) FROM resources WHERE subscription = $1 AND ($2 = '' OR type_key = $2)";
        const ALL: &str = "SELECT COUNT(*) FROM resources WHERE $1 = '' AND ($2 = '' OR type_key = $2)";
        let t = type_key.unwrap_or("");
        let rows = match scope {
            Scope::Children { parent_key } => self.sql.query(CHILDREN, &[parent_key.into(), t.into()])?,
            Scope::ResourceGroup { subscription, resource_group } => {
                self.sql.query(GROUP, &[subscription.into(), t.into(), resource_group.into()])?
            }
            Scope::Subscription { subscription } => self.sql.query(SUBSCRIPTION, &[subscription.into(), t.into()])?,
            Scope::All => self.sql.query(ALL, &["".into(), t.into()])?,
        };
        Ok(first_int(rows)?.unwrap_or(0).max(0) as u64)
    }

    fn list_prefix(&mut self, prefix: &str) -> Result<Vec<ResourceRow>> {
        const Q: &str = "SELECT key, id, type_key, subscription, resource_group, parent_key, body, etag, created_at, updated_at FROM resources \
             WHERE key >= $1 AND key < $2 ORDER BY key";
        let end = prefix_end(prefix);
        self.sql.query(Q, &[prefix.into(), (&end).into()])?.into_iter().map(resource_from).collect()
    }

    fn ip_pool_create(&mut self, pool: &str, first: i64, last: i64) -> Result<()> {
        self.ip_pool_delete(pool)?;
        if first <= last {
            self.sql.exec(
                "INSERT INTO ip_free (pool, range_from, range_to) VALUES ($1, $2, $3)",
                &[pool.into(), first.into(), last.into()],
            )?;
        }
        Ok(())
    }

    fn ip_pool_delete(&mut self, pool: &str) -> Result<()> {
        self.sql.exec("DELETE FROM ip_free WHERE pool = $1", &[pool.into()])?;
        self.sql.exec("DELETE FROM ip_allocations WHERE pool = $1", &[pool.into()])?;
        Ok(())
    }

    fn ip_allocate(&mut self, pool: &str, owner: &str) -> Result<Option<i64>> {
        let rows = self.sql.query(
            "SELECT range_from, range_to FROM ip_free WHERE pool = $1 ORDER BY range_from LIMIT 1",
            &[pool.into()],
        )?;
        let Some(row) = rows.into_iter().next() else { return Ok(None) };
        let (from, to) = (row[0].int()?, row[1].int()?);
        self.take_from_range(pool, from, to, from)?;
        self.insert_allocation(pool, from, owner)?;
        Ok(Some(from))
    }

    fn ip_claim(&mut self, pool: &str, offset: i64, owner: &str) -> Result<Claim> {
        let rows = self.sql.query(
            "SELECT range_from, range_to FROM ip_free WHERE pool = $1 AND range_from <= $2 ORDER BY range_from DESC LIMIT 1",
            &[pool.into(), offset.into()],
        )?;
        if let Some(row) = rows.into_iter().next() {
            let (from, to) = (row[0].int()?, row[1].int()?);
            if offset <= to {
                self.take_from_range(pool, from, to, offset)?;
                self.insert_allocation(pool, offset, owner)?;
                return Ok(Claim::Claimed);
            }
        }
        let held = self.sql.query(
            "SELECT owner FROM ip_allocations WHERE pool = $1 AND ip_offset = $2",
            &[pool.into(), offset.into()],
        )?;
        match held.into_iter().next().and_then(|r| r.into_iter().next()) {
            Some(owner) => Ok(Claim::Taken { owner: owner.text()? }),
            None => Ok(Claim::Unavailable),
        }
    }

    fn ip_release_owner(&mut self, owner: &str) -> Result<u64> {
        let held = self.ip_owned(owner)?;
        for (pool, offset) in &held {
            self.ip_release(pool, *offset)?;
        }
        Ok(held.len() as u64)
    }

    fn ip_release_prefix(&mut self, owner_prefix: &str) -> Result<u64> {
        let end = prefix_end(owner_prefix);
        let rows = self.sql.query(
            "SELECT pool, ip_offset FROM ip_allocations WHERE owner >= $1 AND owner < $2",
            &[owner_prefix.into(), (&end).into()],
        )?;
        let mut released = 0;
        for row in rows {
            let mut it = row.into_iter();
            let pool = it.next().ok_or_else(|| StoreError::Corrupt("pool".into()))?.text()?;
            let offset = it.next().ok_or_else(|| StoreError::Corrupt("offset".into()))?.int()?;
            if self.ip_release(&pool, offset)? {
                released += 1;
            }
        }
        Ok(released)
    }

    fn ip_release(&mut self, pool: &str, offset: i64) -> Result<bool> {
        let n = self
            .sql
            .exec("DELETE FROM ip_allocations WHERE pool = $1 AND ip_offset = $2", &[pool.into(), offset.into()])?;
        if n > 0 {
            self.free_offset(pool, offset)?;
        }
        Ok(n > 0)
    }

    fn ip_owned(&mut self, owner: &str) -> Result<Vec<(String, i64)>> {
        let rows = self.sql.query(
            "SELECT pool, ip_offset FROM ip_allocations WHERE owner = $1 ORDER BY pool, ip_offset",
            &[owner.into()],
        )?;
        rows.into_iter()
            .map(|r| {
                let mut it = r.into_iter();
                let pool = it.next().ok_or_else(|| StoreError::Corrupt("pool".into()))?.text()?;
                let offset = it.next().ok_or_else(|| StoreError::Corrupt("offset".into()))?.int()?;
                Ok((pool, offset))
            })
            .collect()
    }

    fn ip_count_foreign(&mut self, pool_prefix: &str, owner_prefix: &str) -> Result<u64> {
        let (pool_end, owner_end) = (prefix_end(pool_prefix), prefix_end(owner_prefix));
        let rows = self.sql.query(
            "SELECT COUNT(*) FROM ip_allocations WHERE pool >= $1 AND pool < $2 AND NOT (owner >= $3 AND owner < $4)",
            &[pool_prefix.into(), (&pool_end).into(), owner_prefix.into(), (&owner_end).into()],
        )?;
        Ok(first_int(rows)?.unwrap_or(0).max(0) as u64)
    }

    fn ip_count(&mut self, pool_prefix: &str) -> Result<u64> {
        let end = prefix_end(pool_prefix);
        let rows = self.sql.query(
            "SELECT COUNT(*) FROM ip_allocations WHERE pool >= $1 AND pool < $2",
            &[pool_prefix.into(), (&end).into()],
        )?;
        Ok(first_int(rows)?.unwrap_or(0).max(0) as u64)
    }

    fn ip_allocations_in(&mut self, pool_prefix: &str, limit: usize) -> Result<Vec<(String, i64, String)>> {
        let end = prefix_end(pool_prefix);
        let rows = self.sql.query(
            "SELECT pool, ip_offset, owner FROM ip_allocations WHERE pool >= $1 AND pool < $2 ORDER BY pool, ip_offset LIMIT $3",
            &[pool_prefix.into(), (&end).into(), limit_param(limit).into()],
        )?;
        rows.into_iter()
            .map(|r| {
                let mut it = r.into_iter();
                let mut next = || it.next().ok_or_else(|| StoreError::Corrupt("allocation row".into()));
                Ok((next()?.text()?, next()?.int()?, next()?.text()?))
            })
            .collect()
    }

    fn work_enqueue(&mut self, item: &WorkItem) -> Result<()> {
        let payload = item.payload.to_string();
        self.sql.exec(
            "INSERT INTO work_queue (id, kind, resource_key, operation_id, payload, not_before, attempts) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                (&item.id).into(),
                (&item.kind).into(),
                (&item.resource_key).into(),
                (&item.operation_id).into(),
                (&payload).into(),
                item.not_before.into(),
                item.attempts.into(),
            ],
        )?;
        Ok(())
    }

    fn work_due(&mut self, now: i64, limit: usize) -> Result<Vec<WorkItem>> {
        let rows = self.sql.query(
            "SELECT id, kind, resource_key, operation_id, payload, not_before, attempts FROM work_queue WHERE not_before <= $1 ORDER BY not_before, id LIMIT $2",
            &[now.into(), limit_param(limit).into()],
        )?;
        rows.into_iter().map(work_from).collect()
    }

    fn work_get(&mut self, id: &str) -> Result<Option<WorkItem>> {
        let rows = self.sql.query(
            "SELECT id, kind, resource_key, operation_id, payload, not_before, attempts FROM work_queue WHERE id = $1",
            &[id.into()],
        )?;
        rows.into_iter().next().map(work_from).transpose()
    }

    fn work_for_operation(&mut self, operation_id: &str) -> Result<Option<WorkItem>> {
        let rows = self.sql.query(
            "SELECT id, kind, resource_key, operation_id, payload, not_before, attempts FROM work_queue WHERE operation_id = $1 ORDER BY id LIMIT 1",
            &[operation_id.into()],
        )?;
        rows.into_iter().next().map(work_from).transpose()
    }

    fn work_for_resource(&mut self, resource_key: &str) -> Result<Vec<WorkItem>> {
        let rows = self.sql.query(
            "SELECT id, kind, resource_key, operation_id, payload, not_before, attempts FROM work_queue WHERE resource_key = $1 ORDER BY not_before, id",
            &[resource_key.into()],
        )?;
        rows.into_iter().map(work_from).collect()
    }

    fn work_all(&mut self, limit: usize) -> Result<Vec<WorkItem>> {
        let rows = self.sql.query(
            "SELECT id, kind, resource_key, operation_id, payload, not_before, attempts FROM work_queue ORDER BY not_before, id LIMIT $1",
            &[limit_param(limit).into()],
        )?;
        rows.into_iter().map(work_from).collect()
    }

    fn work_next_due(&mut self) -> Result<Option<i64>> {
        first_int(self.sql.query("SELECT MIN(not_before) FROM work_queue", &[])?)
    }

    fn work_complete(&mut self, id: &str) -> Result<()> {
        self.sql.exec("DELETE FROM work_queue WHERE id = $1", &[id.into()])?;
        Ok(())
    }

    fn work_reschedule(&mut self, id: &str, not_before: i64, attempts: i64) -> Result<()> {
        self.sql.exec(
            "UPDATE work_queue SET not_before = $2, attempts = $3 WHERE id = $1",
            &[id.into(), not_before.into(), attempts.into()],
        )?;
        Ok(())
    }

    fn operation_put(&mut self, op: &OperationRow) -> Result<()> {
        let error = op.error.as_ref().map(|e| e.to_string());
        self.sql.exec(
            "INSERT INTO operations (id, subscription, resource_key, kind, status, error, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (id) DO UPDATE SET status = excluded.status, error = excluded.error, updated_at = excluded.updated_at",
            &[
                (&op.id).into(),
                (&op.subscription).into(),
                (&op.resource_key).into(),
                (&op.kind).into(),
                (&op.status).into(),
                error.as_deref().into(),
                op.created_at.into(),
                op.updated_at.into(),
            ],
        )?;
        Ok(())
    }

    fn operation_get(&mut self, id: &str) -> Result<Option<OperationRow>> {
        let rows = self.sql.query(
            "SELECT id, subscription, resource_key, kind, status, error, created_at, updated_at FROM operations WHERE id = $1",
            &[id.into()],
        )?;
        rows.into_iter().next().map(operation_from).transpose()
    }

    fn meta_get(&mut self, key: &str) -> Result<Option<String>> {
        let rows = self.sql.query("SELECT value FROM meta WHERE key = $1", &[key.into()])?;
        rows.into_iter().next().and_then(|r| r.into_iter().next()).map(Val::text).transpose()
    }

    fn meta_put(&mut self, key: &str, value: &str) -> Result<()> {
        self.sql.exec(
            "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            &[key.into(), value.into()],
        )?;
        Ok(())
    }
}

impl<S: Sql> SqlTx<S> {
    /// Remove `offset` from the free range `[from, to]` that contains it.
    fn take_from_range(&mut self, pool: &str, from: i64, to: i64, offset: i64) -> Result<()> {
        self.sql.exec("DELETE FROM ip_free WHERE pool = $1 AND range_from = $2", &[pool.into(), from.into()])?;
        if from < offset {
            self.insert_free(pool, from, offset - 1)?;
        }
        if offset < to {
            self.insert_free(pool, offset + 1, to)?;
        }
        Ok(())
    }

    fn insert_free(&mut self, pool: &str, from: i64, to: i64) -> Result<()> {
        self.sql.exec(
            "INSERT INTO ip_free (pool, range_from, range_to) VALUES ($1, $2, $3)",
            &[pool.into(), from.into(), to.into()],
        )?;
        Ok(())
    }

    fn insert_allocation(&mut self, pool: &str, offset: i64, owner: &str) -> Result<()> {
        self.sql.exec(
            "INSERT INTO ip_allocations (pool, ip_offset, owner) VALUES ($1, $2, $3)",
            &[pool.into(), offset.into(), owner.into()],
        )?;
        Ok(())
    }

    /// Return `offset` to the pool's free space, merging with the neighbouring ranges.
    fn free_offset(&mut self, pool: &str, offset: i64) -> Result<()> {
        let mut from = offset;
        let mut to = offset;
        let below = self.sql.query(
            "SELECT range_from, range_to FROM ip_free WHERE pool = $1 AND range_from < $2 ORDER BY range_from DESC LIMIT 1",
            &[pool.into(), offset.into()],
        )?;
        if let Some(row) = below.into_iter().next() {
            let (b_from, b_to) = (row[0].int()?, row[1].int()?);
            if b_to >= offset {
                return Ok(()); // already free
            }
            if b_to == offset - 1 {
                from = b_from;
                self.sql
                    .exec("DELETE FROM ip_free WHERE pool = $1 AND range_from = $2", &[pool.into(), b_from.into()])?;
            }
        }
        if let Some(next) = offset.checked_add(1) {
            let above = self.sql.query(
                "SELECT range_from, range_to FROM ip_free WHERE pool = $1 AND range_from = $2",
                &[pool.into(), next.into()],
            )?;
            if let Some(row) = above.into_iter().next() {
                to = row[1].int()?;
                self.sql
                    .exec("DELETE FROM ip_free WHERE pool = $1 AND range_from = $2", &[pool.into(), next.into()])?;
            }
        }
        self.insert_free(pool, from, to)
    }
}
