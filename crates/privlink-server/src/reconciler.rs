//! The reconciler: moves resources from the state an API write left them in (`Updating`,
//! `Deleting`) to their terminal state, driven by the durable work queue.
//!
//! Every work item is written in the same transaction as the API write that needs it, and is
//! executed in a transaction that also removes it and completes its operation. So a server
//! killed at any point finishes (exactly once) after restart what it had acknowledged.

use std::sync::Arc;
use std::time::Duration;

use privlink_store::{Store, WorkItem};
use serde_json::{json, Value};
use tokio::sync::{watch, Notify};

use crate::arm::{ArmError, ArmResult};
use crate::config::{Settings, Timing};
use crate::providers::{now_millis, Registry, Write};

pub const WORK_PROVISION: &str = "provision";
pub const WORK_DELETE: &str = "delete";

/// Attempts before an operation whose work keeps failing is marked Failed.
const MAX_ATTEMPTS: i64 = 5;

pub struct Reconciler {
    store: Arc<dyn Store>,
    registry: Arc<Registry>,
    settings: Arc<Settings>,
    wake: Notify,
}

impl Reconciler {
    pub fn new(store: Arc<dyn Store>, registry: Arc<Registry>, settings: Arc<Settings>) -> Self {
        Reconciler { store, registry, settings, wake: Notify::new() }
    }

    /// When work accepted at `now` becomes due.
    pub fn due_time(&self, now: i64) -> i64 {
        match self.settings.timing {
            Timing::Immediate => now,
            Timing::Delay(d) => now.saturating_add(d.as_millis() as i64),
            Timing::Manual => i64::MAX,
        }
    }

    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// The background loop: run what is due, then sleep until the next item is due, new work
    /// arrives, or shutdown.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let this = self.clone();
        match tokio::task::spawn_blocking(move || this.adopt_unscheduled()).await {
            Ok(Ok(n)) if n > 0 => tracing::info!(operations = n, "scheduled operations accepted under manual timing"),
            Ok(Err(e)) => tracing::warn!(error = %e, "could not schedule waiting operations"),
            _ => {}
        }
        loop {
            let this = self.clone();
            let (failed, next_due) = tokio::task::spawn_blocking(move || {
                let failed = match this.run_due(now_millis()) {
                    Ok(_) => false,
                    Err(e) => {
                        tracing::warn!(error = %e, "reconciler pass failed");
                        true
                    }
                };
                (failed, privlink_store::read(&*this.store, |tx| tx.work_next_due()).ok().flatten())
            })
            .await
            .unwrap_or((true, None));
            let sleep = match next_due {
                // After a failed pass (e.g. the disk is full) wait a little instead of spinning.
                _ if failed => Duration::from_secs(1),
                Some(due) if due != i64::MAX => Duration::from_millis((due - now_millis()).clamp(0, 60_000) as u64),
                _ => Duration::from_secs(60),
            };
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(sleep) => {}
                _ = shutdown.changed() => return,
            }
            if *shutdown.borrow() {
                return;
            }
        }
    }

    /// Work accepted under `manual` timing waits forever; a server started with another timing
    /// schedules it as if it had just been accepted. Blocking; run once at start.
    pub fn adopt_unscheduled(&self) -> ArmResult<usize> {
        if self.settings.timing == Timing::Manual {
            return Ok(0);
        }
        let due = self.due_time(now_millis());
        privlink_store::write(&*self.store, |tx| {
            let waiting: Vec<WorkItem> =
                tx.work_all(1_000_000)?.into_iter().filter(|w| w.not_before == i64::MAX).collect();
            for item in &waiting {
                tx.work_reschedule(&item.id, due, item.attempts)?;
            }
            Ok::<_, ArmError>(waiting.len())
        })
    }

    /// Execute every item due at `now`. Blocking.
    pub fn run_due(&self, now: i64) -> ArmResult<usize> {
        let mut done = 0;
        loop {
            let due = privlink_store::read(&*self.store, |tx| tx.work_due(now, 64))?;
            if due.is_empty() {
                return Ok(done);
            }
            let batch = due.len();
            for item in due {
                if self.execute(&item.id)? {
                    done += 1;
                }
            }
            if batch < 64 {
                return Ok(done);
            }
        }
    }

    /// Execute up to `limit` pending items whatever their due time (manual timing). Blocking.
    pub fn step(&self, limit: usize) -> ArmResult<usize> {
        let pending = privlink_store::read(&*self.store, |tx| tx.work_all(limit))?;
        let mut done = 0;
        for item in pending {
            if self.execute(&item.id)? {
                done += 1;
            }
        }
        Ok(done)
    }

    /// Finish the operation now if its work is due, so that with immediate timing the first
    /// poll already sees the terminal state. Blocking.
    pub fn drive_operation(&self, operation_id: &str) -> ArmResult<()> {
        let item = privlink_store::read(&*self.store, |tx| tx.work_for_operation(operation_id))?;
        if let Some(item) = item {
            if item.not_before <= now_millis() {
                self.execute(&item.id)?;
            }
        }
        Ok(())
    }

    /// Execute one item in its own transaction; `false` if another worker already did.
    fn execute(&self, item_id: &str) -> ArmResult<bool> {
        // The attempt commits only if it succeeds: a failure leaves nothing half done.
        let outcome = privlink_store::write(&*self.store, |tx| {
            let Some(item) = tx.work_get(item_id)? else { return Ok(None) };
            let mut w = Write::new(tx, &self.registry, &self.settings, false);
            let status = apply(&mut w, &item)?;
            finish(&mut w, &item, status, None)?;
            Ok(Some(()))
        });
        match outcome {
            Ok(Some(())) => Ok(true),
            Ok(None) => Ok(false),
            // A domain error is the operation's outcome, not a reason to retry.
            Err(e @ (ArmError::InvalidProperty { .. } | ArmError::InUse { .. } | ArmError::Conflict { .. })) => {
                self.fail(item_id, e.body())?;
                Ok(true)
            }
            Err(e) => {
                tracing::warn!(item = item_id, error = %e, "work item failed; will retry");
                self.record_failure(item_id)?;
                Ok(false)
            }
        }
    }

    fn record_failure(&self, item_id: &str) -> ArmResult<()> {
        let exhausted = privlink_store::write(&*self.store, |tx| {
            let Some(item) = tx.work_get(item_id)? else { return Ok(false) };
            let attempts = item.attempts + 1;
            if attempts >= MAX_ATTEMPTS {
                return Ok(true);
            }
            tx.work_reschedule(item_id, now_millis() + 200 * (1 << attempts), attempts)?;
            Ok::<_, ArmError>(false)
        })?;
        if exhausted {
            tracing::error!(item = item_id, "work item failed {MAX_ATTEMPTS} times; its operation is marked Failed");
            self.fail(item_id, ArmError::Internal.body())?;
        }
        Ok(())
    }

    /// End an item's operation as Failed, in a transaction of its own, leaving every row the
    /// operation touched in a terminal state so that clients can act on them again.
    fn fail(&self, item_id: &str, error: Value) -> ArmResult<()> {
        privlink_store::write(&*self.store, |tx| {
            let Some(item) = tx.work_get(item_id)? else { return Ok(()) };
            let mut w = Write::new(tx, &self.registry, &self.settings, false);
            finish(&mut w, &item, "Failed", Some(error.clone()))
        })
    }
}

/// The rows an item completes: the resource, and for a provision the other rows its write saved.
fn touched_keys(item: &WorkItem) -> Vec<String> {
    let mut keys: Vec<String> = item
        .payload
        .get("keys")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default();
    if !keys.contains(&item.resource_key) {
        keys.push(item.resource_key.clone());
    }
    keys
}

/// Carry out one item; returns the operation's terminal status.
fn apply(w: &mut Write<'_>, item: &WorkItem) -> ArmResult<&'static str> {
    match item.kind.as_str() {
        WORK_PROVISION => {
            if w.get(&item.resource_key)?.is_none() {
                return Ok("Canceled");
            }
            for key in touched_keys(item) {
                let Some(mut row) = w.get(&key)? else { continue };
                let Some(Value::Object(props)) = row.body.get_mut("properties") else { continue };
                if props.get("provisioningState").and_then(Value::as_str) == Some("Updating") {
                    props.insert("provisioningState".into(), json!("Succeeded"));
                    w.tx.put(&row)?;
                }
            }
            Ok("Succeeded")
        }
        WORK_DELETE => {
            let Some(root) = w.get(&item.resource_key)? else { return Ok("Succeeded") };
            // Something may have started using the resource since the delete was accepted.
            w.check_tree_deletable(&root)?;
            w.remove_tree(&item.resource_key)?;
            Ok("Succeeded")
        }
        other => {
            tracing::error!(kind = other, "unknown work kind");
            Err(ArmError::Internal)
        }
    }
}

fn finish(w: &mut Write<'_>, item: &WorkItem, status: &str, error: Option<Value>) -> ArmResult<()> {
    w.tx.work_complete(&item.id)?;
    if status == "Failed" {
        // A failed provisioning shows on every row it touched; a failed delete leaves the
        // resource as it was (intact, Succeeded).
        let resource_state = if item.kind == WORK_DELETE { "Succeeded" } else { "Failed" };
        for key in touched_keys(item) {
            let Some(mut row) = w.get(&key)? else { continue };
            if let Some(Value::Object(props)) = row.body.get_mut("properties") {
                if matches!(props.get("provisioningState").and_then(Value::as_str), Some("Updating" | "Deleting")) {
                    props.insert("provisioningState".into(), json!(resource_state));
                    w.tx.put(&row)?;
                }
            }
        }
    }
    if let Some(mut op) = w.tx.operation_get(&item.operation_id)? {
        op.status = status.to_string();
        op.error = match (status, error) {
            (_, Some(e)) => Some(e),
            ("Canceled", None) => Some(
                json!({"code": "OperationCanceled", "message": "The operation was canceled because the resource was deleted.", "details": []}),
            ),
            _ => None,
        };
        op.updated_at = w.now;
        w.tx.operation_put(&op)?;
    }
    Ok(())
}
