//! Counters: gateway-wide totals, one entry per route (created on first use) and one per proxy
//! view and per listener id. Everything on a connection's path is an atomic add; only a refusal
//! takes its route's small mutex (reasons and the last refusal).
//!
//! Entries are never removed, so counts survive a listener or proxy being stopped and started
//! again. Route ids come from the caller's policy, never from clients, so the maps stay as small
//! as the caller's world; the reasons kept per route are capped at [`MAX_REASONS_PER_ROUTE`].

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::{Mutex, RwLock};
use serde::Serialize;

use crate::policy::RouteId;

/// Distinct refusal reasons counted per route; later new reasons are counted under
/// [`OTHER_REASONS`].
pub const MAX_REASONS_PER_ROUTE: usize = 64;
/// The key counting refusals whose reason arrived after [`MAX_REASONS_PER_ROUTE`] others.
pub const OTHER_REASONS: &str = "(other reasons)";

/// A snapshot of the gateway's counters since it was created.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GatewayStats {
    pub totals: Totals,
    pub routes: BTreeMap<RouteId, RouteStats>,
    /// Per proxy view.
    pub proxies: BTreeMap<String, EntryStats>,
    /// Per route listener id.
    pub listeners: BTreeMap<String, EntryStats>,
}

/// Gateway-wide counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Connections held now: handshakes and decisions in progress plus open tunnels (what
    /// `max_connections` bounds).
    pub connections_open: u64,
    /// Tunnels open now (forwarded and passthrough).
    pub tunnels_open: u64,
    /// Every connection a listener or proxy accepted, over-limit ones included.
    pub connections_accepted: u64,
    /// Connections refused by the policy or because their backend could not be reached.
    pub refusals: u64,
    /// Connections closed at once because `max_connections` were open.
    pub over_limit_closed: u64,
    /// Proxy handshakes that did not finish within `handshake_timeout`.
    pub handshake_timeouts: u64,
    /// Proxy handshakes that were not SOCKS5 or HTTP the gateway understands (or ended midway).
    pub malformed_handshakes: u64,
    /// Tunnels closed by `reauthorize` because their decision changed.
    pub tunnels_cut: u64,
    /// Tunnels opened with a passthrough decision.
    pub passthrough_total: u64,
    /// Bytes written to backends and to clients by all tunnels (passthrough included).
    pub bytes_from_client: u64,
    pub bytes_to_client: u64,
}

/// One route's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RouteStats {
    /// Tunnels opened through the route.
    pub connections_total: u64,
    pub connections_open: u64,
    /// Bytes written to the backend (counted as they are written, so a cut tunnel keeps them).
    pub bytes_from_client: u64,
    /// Bytes written to the client.
    pub bytes_to_client: u64,
    /// Tunnels closed by `reauthorize`.
    pub connections_cut: u64,
    pub refusals_total: u64,
    pub refusals_by_reason: BTreeMap<String, u64>,
    pub last_refusal: Option<LastRefusal>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastRefusal {
    pub at_unix_ms: u64,
    pub reason: String,
}

/// A proxy view's or a listener's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct EntryStats {
    pub connections_accepted: u64,
    pub refusals: u64,
}

#[derive(Default)]
pub(crate) struct Counters {
    pub connections_open: AtomicU64,
    pub tunnels_open: AtomicU64,
    pub connections_accepted: AtomicU64,
    pub refusals: AtomicU64,
    pub over_limit_closed: AtomicU64,
    pub handshake_timeouts: AtomicU64,
    pub malformed_handshakes: AtomicU64,
    pub tunnels_cut: AtomicU64,
    pub passthrough_total: AtomicU64,
    pub bytes_from_client: AtomicU64,
    pub bytes_to_client: AtomicU64,
    routes: RwLock<HashMap<RouteId, Arc<RouteCounters>>>,
    proxies: RwLock<HashMap<String, Arc<EntryCounters>>>,
    listeners: RwLock<HashMap<String, Arc<EntryCounters>>>,
}

#[derive(Default)]
pub(crate) struct RouteCounters {
    pub connections_total: AtomicU64,
    pub connections_open: AtomicU64,
    pub bytes_from_client: AtomicU64,
    pub bytes_to_client: AtomicU64,
    pub connections_cut: AtomicU64,
    refusals: Mutex<Refusals>,
}

#[derive(Default)]
struct Refusals {
    total: u64,
    by_reason: BTreeMap<String, u64>,
    last: Option<LastRefusal>,
}

#[derive(Default)]
pub(crate) struct EntryCounters {
    pub connections_accepted: AtomicU64,
    pub refusals: AtomicU64,
}

/// The entry for `key`, created on first use (a read lock on the fast path).
fn entry<T: Default>(map: &RwLock<HashMap<String, Arc<T>>>, key: &str) -> Arc<T> {
    if let Some(found) = map.read().get(key) {
        return found.clone();
    }
    map.write().entry(key.to_string()).or_default().clone()
}

impl Counters {
    pub fn route(&self, route: &str) -> Arc<RouteCounters> {
        entry(&self.routes, route)
    }

    pub fn proxy(&self, view: &str) -> Arc<EntryCounters> {
        entry(&self.proxies, view)
    }

    pub fn listener(&self, id: &str) -> Arc<EntryCounters> {
        entry(&self.listeners, id)
    }

    /// Counts one refusal gateway-wide, for the entry it arrived through and, when it names one,
    /// for its route.
    pub fn refusal(&self, entry: &EntryCounters, route: Option<&str>, reason: &str) {
        self.refusals.fetch_add(1, Relaxed);
        entry.refusals.fetch_add(1, Relaxed);
        if let Some(route) = route {
            self.route(route).refused(reason);
        }
    }

    pub fn snapshot(&self) -> GatewayStats {
        let load = |counter: &AtomicU64| counter.load(Relaxed);
        let entries = |map: &RwLock<HashMap<String, Arc<EntryCounters>>>| {
            map.read()
                .iter()
                .map(|(key, entry)| {
                    let stats = EntryStats {
                        connections_accepted: load(&entry.connections_accepted),
                        refusals: load(&entry.refusals),
                    };
                    (key.clone(), stats)
                })
                .collect()
        };
        let routes: Vec<(RouteId, Arc<RouteCounters>)> =
            self.routes.read().iter().map(|(route, counters)| (route.clone(), counters.clone())).collect();
        GatewayStats {
            totals: Totals {
                connections_open: load(&self.connections_open),
                tunnels_open: load(&self.tunnels_open),
                connections_accepted: load(&self.connections_accepted),
                refusals: load(&self.refusals),
                over_limit_closed: load(&self.over_limit_closed),
                handshake_timeouts: load(&self.handshake_timeouts),
                malformed_handshakes: load(&self.malformed_handshakes),
                tunnels_cut: load(&self.tunnels_cut),
                passthrough_total: load(&self.passthrough_total),
                bytes_from_client: load(&self.bytes_from_client),
                bytes_to_client: load(&self.bytes_to_client),
            },
            routes: routes.into_iter().map(|(route, counters)| (route, counters.snapshot())).collect(),
            proxies: entries(&self.proxies),
            listeners: entries(&self.listeners),
        }
    }
}

impl RouteCounters {
    fn refused(&self, reason: &str) {
        let mut refusals = self.refusals.lock();
        refusals.total += 1;
        let known = refusals.by_reason.contains_key(reason);
        let key = if known || refusals.by_reason.len() < MAX_REASONS_PER_ROUTE { reason } else { OTHER_REASONS };
        *refusals.by_reason.entry(key.to_string()).or_default() += 1;
        refusals.last = Some(LastRefusal { at_unix_ms: unix_ms(), reason: reason.to_string() });
    }

    fn snapshot(&self) -> RouteStats {
        let load = |counter: &AtomicU64| counter.load(Relaxed);
        let refusals = self.refusals.lock();
        RouteStats {
            connections_total: load(&self.connections_total),
            connections_open: load(&self.connections_open),
            bytes_from_client: load(&self.bytes_from_client),
            bytes_to_client: load(&self.bytes_to_client),
            connections_cut: load(&self.connections_cut),
            refusals_total: refusals.total,
            refusals_by_reason: refusals.by_reason.clone(),
            last_refusal: refusals.last.clone(),
        }
    }
}

fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_capped_per_route_and_the_last_refusal_kept() {
        let counters = Counters::default();
        let entry = counters.proxy("v");
        for i in 0..MAX_REASONS_PER_ROUTE + 10 {
            counters.refusal(&entry, Some("r"), &format!("reason {i}"));
        }
        counters.refusal(&entry, Some("r"), "reason 0");
        counters.refusal(&entry, None, "no route");
        let stats = counters.snapshot();
        let route = &stats.routes["r"];
        assert_eq!(route.refusals_total, MAX_REASONS_PER_ROUTE as u64 + 11);
        assert_eq!(route.refusals_by_reason.len(), MAX_REASONS_PER_ROUTE + 1);
        assert_eq!(route.refusals_by_reason[OTHER_REASONS], 10);
        assert_eq!(route.refusals_by_reason["reason 0"], 2);
        assert_eq!(route.last_refusal.as_ref().unwrap().reason, "reason 0");
        assert!(route.last_refusal.as_ref().unwrap().at_unix_ms > 0);
        assert_eq!(stats.totals.refusals, MAX_REASONS_PER_ROUTE as u64 + 12);
        assert_eq!(stats.proxies["v"].refusals, MAX_REASONS_PER_ROUTE as u64 + 12);
        assert_eq!(stats.routes.len(), 1);
    }
}
