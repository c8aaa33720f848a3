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
}

impl AppState {
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
        if result.is_ok() && lro {
            self.reconciler.wake();
        }
        result
    }
}
