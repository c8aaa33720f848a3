//! The [`Gateway`] handle: its configuration, its listeners and proxies (one accept task each),
//! and what every task shares.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tracing::{debug, info};

use crate::policy::Policy;
use crate::stats::{Counters, EntryCounters, GatewayStats};
use crate::tunnel::{self, Connection, Registry};
use crate::{listener, proxy};

/// Limits and timeouts. Everything a client controls is bounded by one of these.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// A proxy handshake (SOCKS5 negotiation, or the HTTP request head) must finish within this.
    pub handshake_timeout: Duration,
    /// Connecting to a backend must succeed within this, or the connection is refused.
    pub backend_connect_timeout: Duration,
    /// Open tunnels plus connections not yet tunnels, whole gateway; beyond it new connections
    /// are reset at once and counted (`over_limit_closed`).
    pub max_connections: usize,
    /// The largest HTTP request head (and SOCKS5 handshake) read from a proxy client.
    pub max_http_head: usize,
    /// The copy buffer per direction per tunnel: a tunnel holds two of these and nothing more.
    pub buffer_size: usize,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            handshake_timeout: Duration::from_secs(10),
            backend_connect_timeout: Duration::from_secs(5),
            max_connections: 20_000,
            max_http_head: 16 * 1024,
            buffer_size: 64 * 1024,
        }
    }
}

/// How long `shutdown` waits for connection tasks to end once stopped.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(5);

/// What every task shares. Tasks never hold the [`Gateway`] itself, so dropping it is what ends
/// them.
pub(crate) struct Shared {
    pub policy: Arc<dyn Policy>,
    pub config: GatewayConfig,
    pub counters: Counters,
    pub registry: Registry,
}

/// The data plane: route listeners and per-view proxies whose connections reach a backend only
/// where the [`Policy`] says. See the crate documentation.
pub struct Gateway {
    shared: Arc<Shared>,
    listeners: Mutex<HashMap<String, Acceptor>>,
    proxies: Mutex<HashMap<String, Acceptor>>,
    next_instance: AtomicU64,
}

/// One listening socket's accept task; dropping it aborts the task (closing the socket).
struct Acceptor {
    addr: SocketAddr,
    /// Tells this listener's or proxy's connections apart from those of an earlier one with the
    /// same id.
    instance: u64,
    task: Option<JoinHandle<()>>,
}

impl Acceptor {
    fn new(addr: SocketAddr, instance: u64, task: JoinHandle<()>) -> Acceptor {
        Acceptor { addr, instance, task: Some(task) }
    }

    /// Aborts the task and waits until it is gone, so the socket is closed on return.
    async fn stop(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for Acceptor {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// Whether an acceptor at `bound` already serves a request for `wanted` (port 0 matches any port
/// on the same IP).
fn same_address(bound: SocketAddr, wanted: SocketAddr) -> bool {
    bound == wanted || (wanted.port() == 0 && bound.ip() == wanted.ip())
}

/// Accepts connections on `listener` for ever, admitting each (see [`tunnel::admit`]) to be
/// served by `serve`.
pub(crate) async fn accept_loop<F, Fut>(
    shared: Arc<Shared>,
    listener: TcpListener,
    instance: u64,
    entry: Arc<EntryCounters>,
    serve: F,
) where
    F: Fn(Connection, TcpStream, SocketAddr) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Typically out of file descriptors: back off instead of spinning.
                debug!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        entry.connections_accepted.fetch_add(1, Relaxed);
        tunnel::admit(&shared, instance, stream, |connection, stream| serve(connection, stream, peer));
    }
}

impl Gateway {
    pub fn new(policy: Arc<dyn Policy>, config: GatewayConfig) -> Arc<Gateway> {
        let shared = Shared { policy, config, counters: Counters::default(), registry: Registry::default() };
        Arc::new(Gateway {
            shared: Arc::new(shared),
            listeners: Mutex::new(HashMap::new()),
            proxies: Mutex::new(HashMap::new()),
            next_instance: AtomicU64::new(1),
        })
    }

    /// A route listener at `addr` (port 0: a free one); returns the bound address. Every
    /// connection is decided with `Origin::Direct { listener: id }`; refused ones are reset
    /// (SO_LINGER 0) at once and counted. Replaces an earlier listener with the same id when the
    /// address differs (its open tunnels stay); a no-op when it is the same.
    pub async fn listen(self: &Arc<Self>, id: &str, addr: SocketAddr) -> io::Result<SocketAddr> {
        let previous = match take_unless_same(&self.listeners, id, addr) {
            Ok(bound) => return Ok(bound),
            Err(previous) => previous,
        };
        if let Some(previous) = previous {
            previous.stop().await;
        }
        let socket = TcpListener::bind(addr).await?;
        let bound = socket.local_addr()?;
        let instance = self.next_instance.fetch_add(1, Relaxed);
        let task = tokio::spawn(listener::accept(self.shared.clone(), id.into(), socket, bound, instance));
        info!(listener = id, %bound, "route listener open");
        // A concurrent `listen` with the same id may have won the race; dropping the loser aborts it.
        self.listeners.lock().insert(id.to_string(), Acceptor::new(bound, instance, task));
        Ok(bound)
    }

    /// Stops accepting on listener `id`; its open tunnels stay until `reauthorize` says otherwise.
    pub fn close_listener(&self, id: &str) {
        if self.listeners.lock().remove(id).is_some() {
            info!(listener = id, "route listener closed");
        }
    }

    /// The proxy of `view` at `addr` (port 0: a free one); returns the bound address. HTTP
    /// (CONNECT, and absolute-form requests) and SOCKS5 on the same port, told apart by the first
    /// byte. Replaces an earlier proxy of the same view when the address differs (its handshakes in
    /// progress are closed, its open tunnels stay); a no-op when it is the same.
    pub async fn serve_proxy(self: &Arc<Self>, view: &str, addr: SocketAddr) -> io::Result<SocketAddr> {
        let previous = match take_unless_same(&self.proxies, view, addr) {
            Ok(bound) => return Ok(bound),
            Err(previous) => previous,
        };
        if let Some(previous) = previous {
            let instance = previous.instance;
            previous.stop().await;
            self.shared.registry.stop_handshakes(instance);
        }
        let socket = TcpListener::bind(addr).await?;
        let bound = socket.local_addr()?;
        let instance = self.next_instance.fetch_add(1, Relaxed);
        let task = tokio::spawn(proxy::accept(self.shared.clone(), view.into(), socket, instance));
        info!(view, %bound, "proxy open");
        let replaced = self.proxies.lock().insert(view.to_string(), Acceptor::new(bound, instance, task));
        if let Some(replaced) = replaced {
            self.shared.registry.stop_handshakes(replaced.instance);
        }
        Ok(bound)
    }

    /// Closes the proxy of `view` and its handshakes in progress; its open tunnels stay until
    /// `reauthorize` says otherwise.
    pub fn stop_proxy(&self, view: &str) {
        let removed = self.proxies.lock().remove(view);
        if let Some(proxy) = removed {
            self.shared.registry.stop_handshakes(proxy.instance);
            info!(view, "proxy closed");
        }
    }

    /// Decides every open tunnel again with its original request, and closes (resets) those now
    /// refused or routed to another route or backend. Call it when the policy's inputs change.
    pub fn reauthorize(&self) {
        tunnel::reauthorize(&self.shared);
    }

    pub fn stats(&self) -> GatewayStats {
        self.shared.counters.snapshot()
    }

    /// The route listeners with their bound addresses, ordered by id.
    pub fn listeners(&self) -> Vec<(String, SocketAddr)> {
        sorted(&self.listeners)
    }

    /// The proxies with their bound addresses, ordered by view.
    pub fn proxies(&self) -> Vec<(String, SocketAddr)> {
        sorted(&self.proxies)
    }

    /// Closes every listener, proxy, handshake and tunnel, and waits (a few seconds at most) until
    /// their sockets are closed.
    pub async fn shutdown(&self) {
        let mut acceptors: Vec<Acceptor> = self.listeners.lock().drain().map(|(_, acceptor)| acceptor).collect();
        acceptors.extend(self.proxies.lock().drain().map(|(_, acceptor)| acceptor));
        for acceptor in acceptors {
            acceptor.stop().await;
        }
        self.shared.registry.stop_all();
        tunnel::wait_idle(&self.shared, SHUTDOWN_WAIT).await;
        info!("gateway shut down");
    }
}

impl Drop for Gateway {
    /// Dropping the gateway ends everything: acceptors (through their own drop) and connections.
    fn drop(&mut self) {
        self.shared.registry.stop_all();
    }
}

/// The bound address of the acceptor `key` when it already serves `addr` (`Ok`), else the
/// acceptor to replace, if any (`Err`), removed from the map.
fn take_unless_same(
    map: &Mutex<HashMap<String, Acceptor>>,
    key: &str,
    addr: SocketAddr,
) -> Result<SocketAddr, Option<Acceptor>> {
    let mut map = map.lock();
    match map.get(key) {
        Some(existing) if same_address(existing.addr, addr) => Ok(existing.addr),
        Some(_) => Err(map.remove(key)),
        None => Err(None),
    }
}

fn sorted(map: &Mutex<HashMap<String, Acceptor>>) -> Vec<(String, SocketAddr)> {
    let mut entries: Vec<_> = map.lock().iter().map(|(key, acceptor)| (key.clone(), acceptor.addr)).collect();
    entries.sort();
    entries
}
