//! Shared server state and the bridge from async handlers to the blocking store.

use std::sync::Arc;

use privlink_store::{Store, Tx};

use crate::arm::{ArmError, ArmResult};
use crate::config::Settings;
use crate::providers::{Registry, Write};
use crate::reconciler::Reconciler;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub registry: Arc<Registry>,
    pub settings: Arc<Settings>,
    pub reconciler: Arc<Reconciler>,
    pub defaults: Arc<crate::bootstrap::Defaults>,
    pub identity: Arc<crate::identity::IdentityService>,
    /// DNS (and later the gateway): fed by the change stream, synced after every write.
    pub planes: Arc<crate::dataplane::DataPlanes>,
    /// Which tenant each subscription belongs to, for the per-request tenant check (filled
    /// from the store on first use; the admin surface updates it when it writes one).
    pub subscription_tenants: Arc<parking_lot::RwLock<std::collections::HashMap<String, String>>>,
}

impl AppState {
    /// The tenant of `subscription` (lower-cased), None when it does not exist.
    pub async fn tenant_of(&self, subscription: &str) -> ArmResult<Option<String>> {
        let sub = subscription.to_ascii_lowercase();
        if let Some(t) = self.subscription_tenants.read().get(&sub) {
            return Ok(Some(t.clone()));
        }
        let s = sub.clone();
        let tenant = self.read(move |tx| crate::providers::resources::subscriptions::tenant_of(tx, &s)).await?;
        if let Some(t) = &tenant {
            self.subscription_tenants.write().insert(sub, t.clone());
        }
        Ok(tenant)
    }

    /// Run `f` in a read transaction on the blocking pool.
    pub async fn read<R: Send + 'static>(
        &self,
        mut f: impl FnMut(&mut dyn Tx) -> ArmResult<R> + Send + 'static,
    ) -> ArmResult<R> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || privlink_store::read(&*store, &mut f))
            .await
            .map_err(|_| ArmError::Internal)?
    }

    /// Run `f` in a write transaction on the blocking pool. Work the transaction queued wakes
    /// the reconciler once it is committed.
    pub async fn write<R: Send + 'static>(
        &self,
        lro: bool,
        mut f: impl FnMut(&mut Write<'_>) -> ArmResult<R> + Send + 'static,
    ) -> ArmResult<R> {
        let store = self.store.clone();
        let registry = self.registry.clone();
        let settings = self.settings.clone();
        let result = tokio::task::spawn_blocking(move || {
            privlink_store::write(&*store, |tx| {
                let mut w = Write::new(tx, &registry, &settings, lro);
                f(&mut w)
            })
        })
        .await
        .map_err(|_| ArmError::Internal)?;
        if result.is_ok() {
            if lro {
                self.reconciler.wake();
            }
            // Read-your-writes for the data planes: a client that sees this write succeed
            // gets DNS answers that reflect it.
            self.planes.sync().await;
        }
        result
    }
}
