//! Data planes: the servers that act on what the store holds (the per-VNet DNS resolvers
//! today), fed by the store's change stream and answering from memory.
//!
//! One feed task owns the flow: it subscribes to the change stream before loading everything
//! once, then takes committed changes in batches, re-reads the rows they name (level-triggered:
//! the row as it is now, or its absence) and applies them to the [`topology::Topology`] and the
//! DNS catalog. Nothing on a query's path reads the store.
//!
//! [`DataPlanes::sync`] is a barrier: it returns once every change committed before the call
//! is applied. API writes pass it before they answer, so a client that sees its PUT succeed
//! gets answers that reflect it.

pub mod descriptors;
pub mod dns;
pub mod gateway;
pub mod nsg;
pub mod topology;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;
use privlink_store::{ListQuery, ResourceRow, Scope, Store};
use tokio::sync::{broadcast, mpsc, oneshot};

use self::dns::{DnsPlane, DnsSettings};
use self::gateway::{GatewayPlane, GatewaySettings};
use self::topology::{row_kind, Topology, Touched};

pub struct DataPlanes {
    pub topology: Arc<RwLock<Topology>>,
    pub dns: Arc<DnsPlane>,
    pub gateway: Arc<GatewayPlane>,
    store: Arc<dyn Store>,
    barrier: mpsc::Sender<oneshot::Sender<()>>,
}

/// How long a write waits for the planes before answering anyway.
const SYNC_TIMEOUT: Duration = Duration::from_secs(2);

impl DataPlanes {
    /// Load the store's current state and start following its changes.
    pub async fn start(
        store: Arc<dyn Store>,
        dns_settings: DnsSettings,
        gateway_settings: GatewaySettings,
        descriptor_budget: Option<usize>,
    ) -> anyhow::Result<Arc<DataPlanes>> {
        let changes = store.subscribe();
        let topology = Arc::new(RwLock::new(Topology::default()));
        let descriptors = descriptors::Budget::for_this_process(descriptor_budget);
        let dns = DnsPlane::new(dns_settings.clone(), descriptors.clone());
        let gateway =
            GatewayPlane::new(gateway_settings, &dns_settings, topology.clone(), dns.catalog.clone(), descriptors);
        let planes = DataPlanesInner { topology, dns, gateway, store };
        let (barrier, barriers) = mpsc::channel(1024);
        let public = Arc::new(DataPlanes {
            store: planes.store.clone(),
            topology: planes.topology.clone(),
            dns: planes.dns.clone(),
            gateway: planes.gateway.clone(),
            barrier,
        });
        planes.gateway.start().await;
        planes.full_reload().await?;
        tokio::spawn(planes.run(changes, barriers));
        Ok(public)
    }

    /// Wait until every change committed before this call is applied (bounded: a stalled
    /// store or feed delays an answer by at most `SYNC_TIMEOUT`, never blocks it).
    pub async fn sync(&self) {
        let wait = async {
            // First until every commit so far is on the change stream (a commit is visible a
            // moment before it is sent), then until the planes have taken the stream in up to here.
            let store = self.store.clone();
            let _ = tokio::task::spawn_blocking(move || store.published()).await;
            let (tx, rx) = oneshot::channel();
            if self.barrier.send(tx).await.is_ok() {
                let _ = rx.await;
            }
        };
        if tokio::time::timeout(SYNC_TIMEOUT, wait).await.is_err() {
            tracing::warn!("data planes did not catch up within {SYNC_TIMEOUT:?}; answering anyway");
        }
    }

    pub async fn shutdown(&self) {
        self.gateway.shutdown().await;
        self.dns.server.shutdown().await;
    }
}

struct DataPlanesInner {
    topology: Arc<RwLock<Topology>>,
    dns: Arc<DnsPlane>,
    gateway: Arc<GatewayPlane>,
    store: Arc<dyn Store>,
}

/// Which rows the planes read.
fn relevant(type_key: &str) -> bool {
    row_kind(type_key).is_some() || DnsPlane::reads(type_key)
}

impl DataPlanesInner {
    async fn run(
        self,
        mut changes: broadcast::Receiver<privlink_store::Change>,
        mut barriers: mpsc::Receiver<oneshot::Sender<()>>,
    ) {
        loop {
            let mut pending: BTreeMap<String, String> = BTreeMap::new();
            let mut waiting: Vec<oneshot::Sender<()>> = Vec::new();
            let mut reload = false;
            tokio::select! {
                change = changes.recv() => match change {
                    Ok(c) => { if relevant(&c.type_key) { pending.insert(c.key, c.type_key); } }
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "data planes fell behind the change stream; reloading");
                        reload = true;
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                barrier = barriers.recv() => match barrier {
                    Some(b) => waiting.push(b),
                    None => return,
                },
            }
            // Barriers first, then everything already committed: a barrier is sent only once
            // the changes before it are on the stream, so this batch holds them all (taking
            // barriers after the changes could answer one whose change arrived in between).
            while let Ok(b) = barriers.try_recv() {
                waiting.push(b);
            }
            loop {
                match changes.try_recv() {
                    Ok(c) => {
                        if relevant(&c.type_key) {
                            pending.insert(c.key, c.type_key);
                        }
                    }
                    Err(broadcast::error::TryRecvError::Lagged(_)) => reload = true,
                    Err(_) => break,
                }
            }
            let outcome = if reload { self.full_reload().await } else { self.apply(pending).await };
            if let Err(e) = outcome {
                tracing::error!(error = %e, "data planes could not read the store; retrying with a full reload");
                tokio::time::sleep(Duration::from_millis(200)).await;
                if let Err(e) = self.full_reload().await {
                    tracing::error!(error = %e, "data planes reload failed");
                }
            }
            for b in waiting {
                let _ = b.send(());
            }
        }
    }

    /// Re-read the rows `pending` names and apply them.
    async fn apply(&self, pending: BTreeMap<String, String>) -> anyhow::Result<()> {
        if pending.is_empty() {
            return Ok(());
        }
        let store = self.store.clone();
        let rows = tokio::task::spawn_blocking(move || {
            privlink_store::read(&*store, |tx| {
                let mut rows = Vec::with_capacity(pending.len());
                for (key, type_key) in &pending {
                    rows.push((key.clone(), type_key.clone(), tx.get(key)?));
                }
                Ok::<_, privlink_store::StoreError>(rows)
            })
        })
        .await??;
        self.apply_rows(rows).await;
        Ok(())
    }

    /// Forget everything and load the store's current rows.
    async fn full_reload(&self) -> anyhow::Result<()> {
        let store = self.store.clone();
        let rows = tokio::task::spawn_blocking(move || {
            privlink_store::read(&*store, |tx| {
                let mut rows = Vec::new();
                let mut types = topology::type_keys();
                types.extend(DnsPlane::type_keys());
                for type_key in &types {
                    let query =
                        ListQuery { scope: Scope::All, type_key: Some(type_key), after: None, limit: usize::MAX >> 1 };
                    for row in tx.list(&query)? {
                        rows.push((row.key.clone(), type_key.clone(), Some(row)));
                    }
                }
                Ok::<_, privlink_store::StoreError>(rows)
            })
        })
        .await??;
        *self.dns.catalog.write() = dns::fresh_catalog();
        let old_vnets: Vec<String> = self.topology.read().vnets.keys().cloned().collect();
        *self.topology.write() = Topology::default();
        let mut rows = rows;
        // Resolvers of VNets that are gone stop; the rest are reconciled with the rows.
        for key in old_vnets {
            if !rows.iter().any(|(k, _, _)| *k == key) {
                rows.push((key, crate::providers::network::virtual_networks::TYPE_KEY.to_string(), None));
            }
        }
        self.apply_rows(rows).await;
        Ok(())
    }

    async fn apply_rows(&self, rows: Vec<(String, String, Option<ResourceRow>)>) {
        let mut touched = Touched::default();
        {
            let mut topology = self.topology.write();
            let mut catalog = self.dns.catalog.write();
            for (key, type_key, row) in &rows {
                match (row_kind(type_key), row) {
                    (Some(kind), Some(row)) => topology.upsert(kind, row, &mut touched),
                    (Some(kind), None) => topology.remove(kind, key, &mut touched),
                    (None, row) => self.dns.apply_private_dns(&mut catalog, type_key, key, row.as_ref()),
                }
            }
            for list in [&mut touched.targets, &mut touched.routes, &mut touched.vnets] {
                list.sort();
                list.dedup();
            }
            for target in &touched.targets {
                self.dns.refresh_target(&mut catalog, &topology, target);
            }
            for vnet in &touched.vnets {
                self.dns.apply_vnet(&mut catalog, &topology, vnet);
            }
        }
        let mut vnets = touched.vnets.clone();
        if vnets.iter().any(|v| !self.topology.read().vnets.contains_key(v)) {
            // A VNet went away with its descriptors: those that found the budget spent try again.
            vnets.extend(self.dns.waiting_for_descriptors());
            vnets.extend(self.gateway.waiting_for_descriptors());
            vnets.sort();
            vnets.dedup();
        }
        for vnet in &vnets {
            let found = self.topology.read().vnets.get(vnet).map(|v| (v.id.clone(), v.name.clone(), v.resolver_slot));
            self.dns.reconcile_resolver(found.as_ref().map(|(id, _, slot)| (id.clone(), *slot)), vnet).await;
            self.gateway.reconcile_proxy(vnet, found.map(|(_, name, slot)| (name, slot))).await;
        }
        self.gateway.reconcile_routes(&touched.routes).await;
        if !rows.is_empty() {
            // Whatever changed may change what open tunnels are allowed.
            self.gateway.reauthorize();
        }
    }
}
