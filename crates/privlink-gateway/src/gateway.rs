//! The [`Gateway`] handle: its configuration, its listeners and proxies (one accept task per
//! worker each, see [`workers`]), and what every task shares.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Handle;
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::policy::Policy;
use crate::pump::PipeBudget;
use crate::stats::{Counters, EntryCounters, GatewayStats};
use crate::tunnel::{self, Connection, Registry};
use crate::workers;
use crate::{listener, proxy};
use privlink_workers::{TaskGroup, Workers};

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
    /// The largest copy buffer per direction per tunnel: a tunnel holds at most two of these
    /// (a direction starts with a smaller one, and bulk moves to a pipe where it can).
    pub buffer_size: usize,
    /// Pipes the whole gateway may hold at once for splice(2) (Linux; two descriptors each, one
    /// per bulk direction of a tunnel). Bulk beyond it is copied through buffers.
    pub max_pipes: usize,
    /// The capacity asked for each pipe (0: the kernel's default, 64 KiB). A larger pipe moves
    /// more per splice(2) call, so bulk costs fewer system calls per byte.
    pub pipe_size: usize,
    /// Threads connections run on, each with its own socket per listener and proxy (see
    /// [`workers`]); default: one per core.
    pub workers: usize,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            handshake_timeout: Duration::from_secs(10),
            backend_connect_timeout: Duration::from_secs(5),
            max_connections: 20_000,
            max_http_head: 16 * 1024,
            buffer_size: 64 * 1024,
            // 128 pipes of 256 KiB: 32 MiB, half of what Linux lets one unprivileged user hold
            // in pipes by default (`fs.pipe-user-pages-soft`).
            max_pipes: 128,
            pipe_size: 256 * 1024,
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
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
    pub pipes: PipeBudget,
}

/// The data plane: route listeners and per-view proxies whose connections reach a backend only
/// where the [`Policy`] says. See the crate documentation.
pub struct Gateway {
    shared: Arc<Shared>,
    listeners: Mutex<HashMap<String, Acceptor>>,
    proxies: Mutex<HashMap<String, Acceptor>>,
    next_instance: AtomicU64,
    /// Started with the first listener or proxy; dropped last, with the gateway.
    workers: Mutex<Option<Workers>>,
}

/// One listener's or proxy's accept tasks (one per worker, each with its socket); dropping it
/// aborts them (closing the sockets).
struct Acceptor {
    addr: SocketAddr,
    /// Tells this listener's or proxy's connections apart from those of an earlier one with the
    /// same id.
    instance: u64,
    tasks: TaskGroup,
}

impl Acceptor {
    /// Stops the tasks; the sockets are closed on return.
    async fn stop(self) {
        self.tasks.stop().await;
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
        let pipes = PipeBudget::new(config.max_pipes, config.pipe_size);
        let shared = Shared { policy, config, counters: Counters::default(), registry: Registry::default(), pipes };
        Arc::new(Gateway {
            shared: Arc::new(shared),
            listeners: Mutex::new(HashMap::new()),
            proxies: Mutex::new(HashMap::new()),
            next_instance: AtomicU64::new(1),
            workers: Mutex::new(None),
        })
    }

    /// The workers' runtimes, started on first use.
    fn runtimes(&self) -> io::Result<Vec<Handle>> {
        let mut workers = self.workers.lock();
        if workers.is_none() {
            *workers = Some(Workers::start("privlink-gateway", self.shared.config.workers)?);
        }
        Ok(workers.as_ref().map(|w| w.runtimes().to_vec()).unwrap_or_default())
    }

    /// Listening sockets a listener or proxy holds (one per worker): what it costs in file
    /// descriptors.
    pub fn sockets_per_listener(&self) -> usize {
        self.shared.config.workers.max(1)
    }

    /// Binds `addr` once per worker and starts an accept task on each worker's runtime, the
    /// socket registered there; `accept` makes each task's loop. Returns the bound address and
    /// the tasks.
    fn start<F, Fut>(&self, addr: SocketAddr, accept: F) -> io::Result<(SocketAddr, Vec<JoinHandle<()>>)>
    where
        F: Fn(TcpListener, SocketAddr) -> Fut + Clone + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let runtimes = self.runtimes()?;
        let sockets = workers::bind(addr, runtimes.len())?;
        let bound = sockets.first().ok_or_else(|| io::Error::other("no worker to listen on"))?.local_addr()?;
        let tasks = sockets
            .into_iter()
            .zip(&runtimes)
            .map(|(socket, runtime)| {
                let accept = accept.clone();
                runtime.spawn(async move {
                    // Registered with this worker's runtime: its readiness wakes this thread only.
                    match TcpListener::from_std(socket) {
                        Ok(socket) => accept(socket, bound).await,
                        Err(error) => warn!(%bound, %error, "cannot register a listening socket"),
                    }
                })
            })
            .collect();
        Ok((bound, tasks))
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
        let instance = self.next_instance.fetch_add(1, Relaxed);
        let (shared, id_shared): (_, Arc<str>) = (self.shared.clone(), id.into());
        let accept = move |socket, bound| listener::accept(shared.clone(), id_shared.clone(), socket, bound, instance);
        let (bound, tasks) = self.start(addr, accept)?;
        info!(listener = id, %bound, "route listener open");
        // A concurrent `listen` with the same id may have won the race; dropping the loser aborts it.
        self.listeners.lock().insert(id.to_string(), Acceptor { addr: bound, instance, tasks: TaskGroup::new(tasks) });
        Ok(bound)
    }

    /// Stops accepting on listener `id` and waits until its sockets are closed (the accept tasks
    /// run on worker threads: a socket is closed only once its worker has dropped it); its open
    /// tunnels stay until `reauthorize` says otherwise.
    pub async fn close_listener(&self, id: &str) {
        let removed = self.listeners.lock().remove(id);
        if let Some(listener) = removed {
            listener.stop().await;
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
        let instance = self.next_instance.fetch_add(1, Relaxed);
        let (shared, view_shared): (_, Arc<str>) = (self.shared.clone(), view.into());
        let accept = move |socket, _| proxy::accept(shared.clone(), view_shared.clone(), socket, instance);
        let (bound, tasks) = self.start(addr, accept)?;
        info!(view, %bound, "proxy open");
        let replaced = self
            .proxies
            .lock()
            .insert(view.to_string(), Acceptor { addr: bound, instance, tasks: TaskGroup::new(tasks) });
        if let Some(replaced) = replaced {
            self.shared.registry.stop_handshakes(replaced.instance);
        }
        Ok(bound)
    }

    /// Closes the proxy of `view` (waiting until its sockets are closed) and its handshakes in
    /// progress; its open tunnels stay until `reauthorize` says otherwise.
    pub async fn stop_proxy(&self, view: &str) {
        let removed = self.proxies.lock().remove(view);
        if let Some(proxy) = removed {
            let instance = proxy.instance;
            proxy.stop().await;
            self.shared.registry.stop_handshakes(instance);
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
