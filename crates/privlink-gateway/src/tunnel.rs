//! Connections from admission to close: the registry every connection task is entered in, the
//! decide-connect-register step ([`establish`]), the splice ([`splice`]) and [`reauthorize`].
//!
//! A connection is admitted by its accept loop ([`admit`]): beyond `max_connections` it is reset
//! at once; otherwise it gets an entry in the registry, then a task of its own. The entry holds the
//! task's stop signal and the instance id of the listener or proxy that accepted it (so
//! `stop_proxy` can end that proxy's handshakes); a stopped task drops whatever it was doing, and
//! its sockets with it. The task owns a [`Connection`] guard whose drop removes the entry, so the
//! registry never outlives its tasks, however they end.
//!
//! Once a backend is connected the entry also holds the [`Tunnel`]: the request and the decision
//! it was opened under. [`reauthorize`] decides every tunnel's request again and signals those
//! whose decision no longer [keeps](crate::Decision::keeps) them; the tunnel task then drops its
//! copy loop and resets both sockets, so the client sees the cut at once and cannot mistake it for
//! the end of a response.
//!
//! A connection decided just before a policy change but registered just after `reauthorize`
//! looked would escape it, so every `reauthorize` bumps a generation first, and [`establish`]
//! decides again after registering when the generation moved meanwhile.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::timeout;
use tracing::debug;

use crate::gateway::Shared;
use crate::policy::{ConnectRequest, Decision, RefusalKind, RouteId};
use crate::pump::{self, Count};
use crate::stats::RouteCounters;

/// How often [`establish`] starts again when the policy changes under it before it gives up.
const MAX_ESTABLISH_ATTEMPTS: usize = 4;

/// Every admitted connection, by id.
#[derive(Default)]
pub(crate) struct Registry {
    entries: Mutex<HashMap<u64, Entry>>,
    next_id: AtomicU64,
    /// Bumped by every `reauthorize` before it looks at the tunnels.
    generation: AtomicU64,
    /// Notified when the last connection closes.
    idle: Notify,
}

struct Entry {
    /// Signalled (one permit, so a signal before the task first runs is not lost) to end the task.
    stop: Arc<Notify>,
    /// The listener or proxy instance that accepted the connection.
    owner: u64,
    tunnel: Option<Arc<Tunnel>>,
}

/// An open tunnel as `reauthorize` sees it.
pub(crate) struct Tunnel {
    request: ConnectRequest,
    decision: Decision,
    route: Option<Arc<RouteCounters>>,
    /// Signalled (one permit, so a signal before the splice waits is not lost) to cut the tunnel.
    cut: Notify,
}

impl Registry {
    /// Stops the tasks of the connections `select` picks.
    fn stop_where(&self, select: impl Fn(&Entry) -> bool) {
        for entry in self.entries.lock().values().filter(|entry| select(entry)) {
            entry.stop.notify_one();
        }
    }

    /// Ends the handshakes (and decisions, and backend connects) in progress of one proxy instance.
    pub fn stop_handshakes(&self, owner: u64) {
        self.stop_where(|entry| entry.owner == owner && entry.tunnel.is_none());
    }

    /// Ends every connection.
    pub fn stop_all(&self) {
        self.stop_where(|_| true);
    }
}

/// Admits a connection `accept` returned: counted, then reset at once beyond `max_connections`,
/// or served by `serve` in a task of its own, entered in the registry under `owner`.
pub(crate) fn admit<F, Fut>(shared: &Arc<Shared>, owner: u64, stream: TcpStream, serve: F)
where
    F: FnOnce(Connection, TcpStream) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let counters = &shared.counters;
    counters.connections_accepted.fetch_add(1, Relaxed);
    let open = counters.connections_open.fetch_add(1, SeqCst);
    if open >= shared.config.max_connections as u64 {
        counters.connections_open.fetch_sub(1, SeqCst);
        counters.over_limit_closed.fetch_add(1, Relaxed);
        reset(stream);
        return;
    }
    let registry = &shared.registry;
    let id = registry.next_id.fetch_add(1, Relaxed);
    let stop = Arc::new(Notify::new());
    // The entry exists before the task, which removes it when it ends (even when the runtime,
    // shutting down, drops the task inside `spawn`).
    registry.entries.lock().insert(id, Entry { stop: stop.clone(), owner, tunnel: None });
    let serve = serve(Connection { shared: shared.clone(), id }, stream);
    tokio::spawn(async move {
        tokio::select! {
            biased;
            () = stop.notified() => {}
            () = serve => {}
        }
    });
}

/// Closes `stream` with a reset (SO_LINGER 0), releasing its descriptor at once.
pub(crate) fn reset(stream: TcpStream) {
    let _ = stream.set_zero_linger();
    drop(stream);
}

/// A connection task's membership in the registry: dropping it (the task ending, or being
/// stopped) removes the entry and counts the connection closed.
pub(crate) struct Connection {
    shared: Arc<Shared>,
    id: u64,
}

impl Drop for Connection {
    fn drop(&mut self) {
        let registry = &self.shared.registry;
        registry.entries.lock().remove(&self.id);
        if self.shared.counters.connections_open.fetch_sub(1, SeqCst) == 1 {
            registry.idle.notify_waiters();
        }
    }
}

impl Connection {
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    fn set_tunnel(&self, tunnel: Option<Arc<Tunnel>>) {
        if let Some(entry) = self.shared.registry.entries.lock().get_mut(&self.id) {
            entry.tunnel = tunnel;
        }
    }
}

/// Why a connection does not get its tunnel.
#[derive(Debug)]
pub(crate) struct Refusal {
    pub route: Option<RouteId>,
    pub kind: RefusalKind,
    pub reason: String,
}

/// A connected, registered, counted tunnel; dropping it counts it closed.
pub(crate) struct OpenTunnel {
    shared: Arc<Shared>,
    tunnel: Arc<Tunnel>,
}

impl Drop for OpenTunnel {
    fn drop(&mut self) {
        self.shared.counters.tunnels_open.fetch_sub(1, Relaxed);
        if let Some(route) = &self.tunnel.route {
            route.connections_open.fetch_sub(1, Relaxed);
        }
    }
}

/// Decides `request`, connects to where the decision points (within `backend_connect_timeout`)
/// and registers the tunnel. A backend that cannot be reached is a refusal of kind `Refused`.
pub(crate) async fn establish(
    connection: &Connection,
    request: &ConnectRequest,
) -> Result<(TcpStream, OpenTunnel), Refusal> {
    let shared = &connection.shared;
    let registry = &shared.registry;
    let mut pinned = request.clone();
    if pinned.pinned.is_none() {
        pinned.pinned = shared.policy.pin(request);
    }
    let request = &pinned;
    for _ in 0..MAX_ESTABLISH_ATTEMPTS {
        let generation = registry.generation.load(SeqCst);
        let decision = shared.policy.decide(request);
        let (route, target) = match &decision {
            Decision::Refuse { route, kind, reason } => {
                return Err(Refusal { route: route.clone(), kind: *kind, reason: reason.clone() })
            }
            Decision::Forward { route, backend } => (Some(route.clone()), *backend),
            Decision::Passthrough { addr } => (None, *addr),
        };
        let limit = shared.config.backend_connect_timeout;
        let backend = match timeout(limit, TcpStream::connect(target)).await {
            Ok(Ok(backend)) => backend,
            Ok(Err(error)) => {
                let reason = format!("backend {target} unreachable: {error}");
                return Err(Refusal { route, kind: RefusalKind::Refused, reason });
            }
            Err(_) => {
                let reason = format!("backend {target} unreachable: no answer within {}", seconds(limit));
                return Err(Refusal { route, kind: RefusalKind::Refused, reason });
            }
        };
        let route = route.map(|route| shared.counters.route(&route));
        let tunnel = Arc::new(Tunnel { request: request.clone(), decision, route, cut: Notify::new() });
        connection.set_tunnel(Some(tunnel.clone()));
        let unchanged = registry.generation.load(SeqCst) == generation;
        if unchanged || tunnel.decision.keeps(&shared.policy.decide(request)) {
            let counters = &shared.counters;
            counters.tunnels_open.fetch_add(1, Relaxed);
            match &tunnel.route {
                Some(route) => {
                    route.connections_total.fetch_add(1, Relaxed);
                    route.connections_open.fetch_add(1, Relaxed);
                }
                None => {
                    counters.passthrough_total.fetch_add(1, Relaxed);
                }
            }
            let _ = backend.set_nodelay(true);
            return Ok((backend, OpenTunnel { shared: shared.clone(), tunnel }));
        }
        // The policy changed while the backend was being connected: start again with it.
        connection.set_tunnel(None);
    }
    let reason = "the policy kept changing while the backend was being connected".to_string();
    Err(Refusal { route: None, kind: RefusalKind::Refused, reason })
}

fn seconds(duration: Duration) -> String {
    format!("{:.1}s", duration.as_secs_f64())
}

/// Moves bytes between `client` and `backend` (after sending `first` to the backend: a
/// rewritten request head and bytes the client sent ahead) until both sides are done or an
/// error, or until `reauthorize` cuts the tunnel, which resets both sockets. Bytes are counted
/// as they are written, so a cut tunnel keeps its counts. How they move, and the bound on what a
/// tunnel holds (one buffer of at most `buffer_size` bytes or one pipe per direction), is
/// [`pump`]'s.
pub(crate) async fn splice(open: &OpenTunnel, mut client: TcpStream, mut backend: TcpStream, first: Vec<u8>) {
    let shared = &open.shared;
    let counters = &shared.counters;
    let route = open.tunnel.route.as_deref();
    let cut = {
        let to_client = Count { route: route.map(|route| &route.bytes_to_client), total: &counters.bytes_to_client };
        let to_backend =
            Count { route: route.map(|route| &route.bytes_from_client), total: &counters.bytes_from_client };
        let settings = pump::Settings { buffer_size: shared.config.buffer_size.max(1), pipes: &shared.pipes };
        let copy = async {
            if !first.is_empty() {
                pump::write_all(&mut backend, &first, &to_backend).await?;
            }
            // The handshake's buffer is not kept for the tunnel's life.
            drop(first);
            pump::both_ways(&mut client, &mut backend, to_client, to_backend, &settings).await
        };
        tokio::select! {
            biased;
            () = open.tunnel.cut.notified() => true,
            result = copy => {
                if let Err(error) = result {
                    debug!(%error, "tunnel ended with an error");
                }
                false
            }
        }
    };
    if cut {
        counters.tunnels_cut.fetch_add(1, Relaxed);
        if let Some(route) = route {
            route.connections_cut.fetch_add(1, Relaxed);
        }
        reset(client);
        reset(backend);
    }
}

/// Decides every open tunnel's request again and cuts those whose decision changed. See the
/// module documentation for how connections being established are covered.
pub(crate) fn reauthorize(shared: &Shared) {
    let registry = &shared.registry;
    registry.generation.fetch_add(1, SeqCst);
    let tunnels: Vec<Arc<Tunnel>> = registry.entries.lock().values().filter_map(|entry| entry.tunnel.clone()).collect();
    for tunnel in tunnels {
        let now = shared.policy.decide(&tunnel.request);
        if !tunnel.decision.keeps(&now) {
            debug!(request = ?tunnel.request, was = ?tunnel.decision, now = ?now, "cutting a tunnel");
            tunnel.cut.notify_one();
        }
    }
}

/// Waits until no connection is left, for at most `limit`.
pub(crate) async fn wait_idle(shared: &Shared, limit: Duration) {
    let wait = async {
        loop {
            let idle = shared.registry.idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            if shared.counters.connections_open.load(SeqCst) == 0 {
                return;
            }
            idle.await;
        }
    };
    let _ = timeout(limit, wait).await;
}
