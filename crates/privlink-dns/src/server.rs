//! Sockets: each view's resolver on its own address (UDP and TCP on one port), and the upstream
//! for names privlink does not know.
//!
//! Per view, `udp_workers` tasks each own a UDP socket, looping receive → answer → send. The
//! sockets share the view's address (SO_REUSEPORT) and the kernel hands each datagram to one of
//! them at random ([`steering`]): no two workers are woken for the same datagram, and a few busy
//! clients cannot pile onto one worker. Worker *k* of every view runs on UDP thread *k*, a
//! runtime of its own ([`privlink_workers::Workers`]), so a datagram's wakeup, its task and its reply stay on one
//! thread. The catalog's read lock is held only while a reply is built, never across an await. Forwarding
//! runs in tasks of its own (owned by the worker that received the query, at most
//! [`MAX_PENDING_FORWARDS`] each), so a slow upstream never stalls the loop. Each TCP connection
//! is a task owned by its view's accept loop, reading length-prefixed messages one after the other
//! under an idle timeout; at most `max_tcp_connections` are open per view. Stopping a view aborts
//! its tasks, which closes its sockets and connections.
//!
//! Nothing a client sends can stall other clients: buffers are bounded (one 64 KiB message per
//! connection), every read and write has a deadline, and garbage gets FORMERR or silence.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;
use parking_lot::{Mutex, RwLock};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::JoinSet;
use tokio::time::timeout;
use tracing::{debug, info};

use privlink_workers::{TaskGroup, Workers};

use crate::model::Catalog;
use crate::name;
use crate::resolve::{resolve, Answer, Rcode, Resolution, Step, StepKind};
use crate::wire::{self, ForwardRequest, Outcome, Transport};

mod steering;

/// Forwarded queries one UDP worker keeps in flight; beyond that a query gets SERVFAIL at once.
pub const MAX_PENDING_FORWARDS: usize = 1024;

/// How the server serves and forwards.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where names privlink does not know are asked; `None` refuses them.
    pub upstream: Option<SocketAddr>,
    pub upstream_timeout: Duration,
    /// UDP threads, and UDP sockets (and worker tasks) per view: one on each thread.
    pub udp_workers: usize,
    /// Open TCP connections per view; further ones are accepted and closed at once.
    pub max_tcp_connections: usize,
    /// How long a TCP connection may wait for (or on) a client before it is closed.
    pub tcp_idle_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        ServerConfig {
            upstream: None,
            upstream_timeout: Duration::from_secs(2),
            udp_workers: cores.min(4),
            max_tcp_connections: 256,
            tcp_idle_timeout: Duration::from_secs(10),
        }
    }
}

/// Counters since the server started (all views together).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// UDP packets received (garbage included).
    pub udp_queries: u64,
    pub tcp_queries: u64,
    /// Replies sent, by response code.
    pub responses: RcodeCounts,
    /// Packets that were not DNS messages privlink could read.
    pub malformed: u64,
    /// Packets not answered (responses, runts).
    pub dropped: u64,
    pub forwarded: u64,
    /// Forwarded queries the upstream did not answer usefully (timeout, error, garbage).
    pub upstream_failures: u64,
    pub tcp_connections_open: u64,
    pub tcp_connections_refused: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RcodeCounts {
    pub no_error: u64,
    pub nx_domain: u64,
    pub serv_fail: u64,
    pub form_err: u64,
    pub not_imp: u64,
    pub refused: u64,
    pub other: u64,
}

#[derive(Default)]
struct Counters {
    udp_queries: AtomicU64,
    tcp_queries: AtomicU64,
    rcodes: [AtomicU64; 7],
    malformed: AtomicU64,
    dropped: AtomicU64,
    forwarded: AtomicU64,
    upstream_failures: AtomicU64,
    tcp_connections_open: AtomicU64,
    tcp_connections_refused: AtomicU64,
}

impl Counters {
    fn reply(&self, reply: &[u8]) {
        let rcode = reply.get(3).map_or(255, |flags| flags & 0x0f);
        let index = match rcode {
            0 => 0,
            3 => 1,
            2 => 2,
            1 => 3,
            4 => 4,
            5 => 5,
            _ => 6,
        };
        self.rcodes[index].fetch_add(1, Relaxed);
    }

    fn snapshot(&self) -> Stats {
        let rcode = |i: usize| self.rcodes[i].load(Relaxed);
        Stats {
            udp_queries: self.udp_queries.load(Relaxed),
            tcp_queries: self.tcp_queries.load(Relaxed),
            responses: RcodeCounts {
                no_error: rcode(0),
                nx_domain: rcode(1),
                serv_fail: rcode(2),
                form_err: rcode(3),
                not_imp: rcode(4),
                refused: rcode(5),
                other: rcode(6),
            },
            malformed: self.malformed.load(Relaxed),
            dropped: self.dropped.load(Relaxed),
            forwarded: self.forwarded.load(Relaxed),
            upstream_failures: self.upstream_failures.load(Relaxed),
            tcp_connections_open: self.tcp_connections_open.load(Relaxed),
            tcp_connections_refused: self.tcp_connections_refused.load(Relaxed),
        }
    }
}

/// What every task of every view shares. Tasks never hold the [`DnsServer`] itself, so dropping
/// it (or stopping a view) is what ends them.
struct Shared {
    catalog: Arc<RwLock<Catalog>>,
    config: ServerConfig,
    counters: Counters,
}

/// The DNS plane's sockets. See the module documentation.
pub struct DnsServer {
    shared: Arc<Shared>,
    listeners: Mutex<HashMap<String, Listener>>,
    /// Started with the first view served.
    udp_threads: Mutex<Option<Workers>>,
}

/// One view's sockets, alive as long as its tasks: dropping it aborts them.
struct Listener {
    addr: SocketAddr,
    tasks: TaskGroup,
}

impl DnsServer {
    pub fn new(catalog: Arc<RwLock<Catalog>>, config: ServerConfig) -> Arc<DnsServer> {
        Arc::new(DnsServer {
            shared: Arc::new(Shared { catalog, config, counters: Counters::default() }),
            listeners: Mutex::new(HashMap::new()),
            udp_threads: Mutex::new(None),
        })
    }

    /// The UDP threads' runtimes, started on first use.
    fn udp_runtimes(&self) -> io::Result<Vec<tokio::runtime::Handle>> {
        let mut threads = self.udp_threads.lock();
        if threads.is_none() {
            *threads = Some(Workers::start("privlink-dns-udp", self.shared.config.udp_workers.max(1))?);
        }
        Ok(threads.as_ref().map_or_else(Vec::new, |t| t.runtimes().to_vec()))
    }

    /// Serves `view` on UDP and TCP at `addr` (one port for both; port 0 picks a port free for
    /// both). Replaces an earlier listener of the same view when the address differs; a no-op
    /// when it is the same (port 0 matches any port on the same IP). Returns the bound address.
    pub async fn serve_view(self: &Arc<Self>, view: &str, addr: SocketAddr) -> io::Result<SocketAddr> {
        let previous = {
            let mut listeners = self.listeners.lock();
            match listeners.get(view) {
                Some(existing) if same_address(existing.addr, addr) => return Ok(existing.addr),
                Some(_) => listeners.remove(view),
                None => None,
            }
        };
        if let Some(previous) = previous {
            previous.tasks.stop().await;
        }
        let runtimes = self.udp_runtimes()?;
        let (udp, tcp) = bind_sockets(addr, runtimes.len()).await?;
        let bound = tcp.local_addr()?;
        let view_id: Arc<str> = Arc::from(view);
        // A socket belongs to the I/O driver of the runtime it is registered with: its worker's.
        // All are registered before any task starts, so a failure leaves no task behind.
        let mut registered = Vec::with_capacity(runtimes.len());
        for (socket, runtime) in udp.into_iter().zip(&runtimes) {
            let _entered = runtime.enter();
            registered.push((runtime, UdpSocket::from_std(socket)?));
        }
        let mut tasks = Vec::with_capacity(runtimes.len() + 1);
        for (runtime, socket) in registered {
            tasks.push(runtime.spawn(udp_worker(self.shared.clone(), view_id.clone(), Arc::new(socket))));
        }
        tasks.push(tokio::spawn(tcp_acceptor(self.shared.clone(), view_id, tcp)));
        info!(view, %bound, "serving DNS");
        // A concurrent serve_view of the same view may have won the race; dropping the loser's
        // listener aborts it.
        self.listeners.lock().insert(view.to_string(), Listener { addr: bound, tasks: TaskGroup::new(tasks) });
        Ok(bound)
    }

    /// Stops serving `view`: its sockets and open TCP connections are closed when this returns.
    pub async fn stop_view(&self, view: &str) {
        let removed = self.listeners.lock().remove(view);
        if let Some(listener) = removed {
            listener.tasks.stop().await;
            info!(view, "stopped serving DNS");
        }
    }

    /// The views served, with their addresses, ordered by view id.
    pub fn listeners(&self) -> Vec<(String, SocketAddr)> {
        let mut listeners: Vec<_> =
            self.listeners.lock().iter().map(|(view, listener)| (view.clone(), listener.addr)).collect();
        listeners.sort();
        listeners
    }

    pub fn stats(&self) -> Stats {
        self.shared.counters.snapshot()
    }

    /// Asks the upstream directly (for explanations): `Ok(None)` when no upstream is configured.
    pub async fn lookup_upstream(&self, name: &str, qtype: RecordType) -> io::Result<Option<(Rcode, Vec<Answer>)>> {
        let Some(upstream) = self.shared.config.upstream else { return Ok(None) };
        let name = name::normalize(name).map_err(|error| io::Error::new(io::ErrorKind::InvalidInput, error))?;
        let id = rand::random::<u16>();
        let query = wire::upstream_query(id, &name, qtype)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "cannot build a query for this name"))?;
        let exchange = async {
            let reply = exchange_udp(upstream, &query, id).await?;
            if is_truncated(&reply) {
                return exchange_tcp(upstream, &query, id).await;
            }
            Ok(reply)
        };
        let reply = timeout(self.shared.config.upstream_timeout, exchange)
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "the upstream did not answer in time"))??;
        let message = Message::from_vec(&reply).map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))?;
        let answers = message.answers.iter().filter_map(wire::from_record).collect();
        Ok(Some((Rcode::from_response_code(message.metadata.response_code), answers)))
    }

    /// Resolves with an explanation as view `view` would, including what the upstream says (or
    /// that there is none) when privlink does not know the name.
    pub async fn explain(&self, view: &str, name: &str, qtype: RecordType) -> Resolution {
        let mut resolution = resolve(&self.shared.catalog.read(), view, name, qtype);
        let Some(forward) = resolution.forward.clone() else { return resolution };
        let step = |kind, message| Step { kind, name: forward.clone(), message, sources: Vec::new() };
        match self.lookup_upstream(&forward, qtype).await {
            Ok(None) => {
                resolution.rcode = Rcode::Refused;
                let message = "no upstream is configured: names privlink does not know are refused".to_string();
                resolution.steps.push(step(StepKind::Refused, message));
            }
            Ok(Some((rcode, answers))) => {
                resolution.rcode = rcode;
                let message = format!("the upstream answered {rcode} with {} record(s)", answers.len());
                resolution.answers.extend(answers);
                resolution.steps.push(step(StepKind::Forward, message));
            }
            Err(error) => {
                resolution.rcode = Rcode::ServFail;
                resolution.steps.push(step(StepKind::Forward, format!("the upstream failed: {error}")));
            }
        }
        resolution
    }

    /// Stops every view and waits until their sockets are closed.
    pub async fn shutdown(&self) {
        let listeners: Vec<Listener> = self.listeners.lock().drain().map(|(_, listener)| listener).collect();
        for listener in listeners {
            listener.tasks.stop().await;
        }
    }
}

/// Whether a listener at `bound` already serves a request for `wanted`.
fn same_address(bound: SocketAddr, wanted: SocketAddr) -> bool {
    bound == wanted || (wanted.port() == 0 && bound.ip() == wanted.ip())
}

/// Binds `workers` UDP sockets (non-blocking, not yet registered with a runtime) and one TCP
/// listener on one port. For port 0 the port is picked by a plain UDP bind, which fails for a
/// port anyone holds, and the sockets are then bound to it (retried on another port when that
/// fails, e.g. because it is taken for TCP).
async fn bind_sockets(addr: SocketAddr, workers: usize) -> io::Result<(Vec<std::net::UdpSocket>, TcpListener)> {
    if addr.port() != 0 {
        return bind_port(addr, workers).await;
    }
    let mut last_error = io::Error::new(io::ErrorKind::AddrInUse, "no port free for both UDP and TCP");
    for _ in 0..16 {
        let port = std::net::UdpSocket::bind(addr)?.local_addr()?.port();
        match bind_port(SocketAddr::new(addr.ip(), port), workers).await {
            Ok(bound) => return Ok(bound),
            Err(error) if error.kind() == io::ErrorKind::AddrInUse => last_error = error,
            Err(error) => return Err(error),
        }
    }
    Err(last_error)
}

/// Binds the sockets of [`bind_sockets`] on a given port. With more than one worker the UDP
/// sockets set SO_REUSEPORT; a port held by anyone else is refused first by a plain bind (the
/// kernel would otherwise let a socket of the same user with SO_REUSEPORT share it silently).
async fn bind_port(addr: SocketAddr, workers: usize) -> io::Result<(Vec<std::net::UdpSocket>, TcpListener)> {
    let udp = if workers <= 1 {
        vec![std::net::UdpSocket::bind(addr)?]
    } else {
        drop(std::net::UdpSocket::bind(addr)?);
        let sockets = (0..workers).map(|_| reuse_port_udp(addr)).collect::<io::Result<Vec<_>>>()?;
        if let Err(error) = steering::spread_randomly(&sockets[0], sockets.len()) {
            debug!(%error, "UDP sockets keep the kernel's hash of client addresses");
        }
        sockets
    };
    for socket in &udp {
        socket.set_nonblocking(true)?;
    }
    let tcp = TcpListener::bind(addr).await?;
    Ok((udp, tcp))
}

fn reuse_port_udp(addr: SocketAddr) -> io::Result<std::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_port(true)?;
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

async fn udp_worker(shared: Arc<Shared>, view: Arc<str>, socket: Arc<UdpSocket>) {
    let mut buf = vec![0u8; usize::from(u16::MAX)];
    let mut forwards = JoinSet::new();
    loop {
        let (len, peer) = match socket.recv_from(&mut buf).await {
            Ok(received) => received,
            Err(error) => {
                debug!(%error, "UDP receive failed");
                tokio::task::yield_now().await;
                continue;
            }
        };
        let counters = &shared.counters;
        counters.udp_queries.fetch_add(1, Relaxed);
        let answered = wire::answer(&shared.catalog.read(), &view, &buf[..len], Transport::Udp);
        if answered.malformed {
            counters.malformed.fetch_add(1, Relaxed);
        }
        let reply = match answered.outcome {
            Outcome::Reply(reply) => reply,
            Outcome::Drop => {
                counters.dropped.fetch_add(1, Relaxed);
                continue;
            }
            Outcome::Forward(request) => {
                while forwards.try_join_next().is_some() {}
                match shared.config.upstream {
                    Some(upstream) if forwards.len() < MAX_PENDING_FORWARDS => {
                        counters.forwarded.fetch_add(1, Relaxed);
                        let (shared, socket) = (shared.clone(), socket.clone());
                        forwards.spawn(async move {
                            let reply = forward(&shared, request, upstream).await;
                            send_udp(&shared, &socket, &reply, peer).await;
                        });
                        continue;
                    }
                    Some(_) => {
                        counters.upstream_failures.fetch_add(1, Relaxed);
                        wire::error_reply(&request.request, Rcode::ServFail, Transport::Udp)
                    }
                    None => wire::error_reply(&request.request, Rcode::Refused, Transport::Udp),
                }
            }
        };
        send_udp(&shared, &socket, &reply, peer).await;
    }
}

async fn send_udp(shared: &Shared, socket: &UdpSocket, reply: &[u8], peer: SocketAddr) {
    shared.counters.reply(reply);
    if let Err(error) = socket.send_to(reply, peer).await {
        debug!(%error, %peer, "UDP send failed");
    }
}

async fn tcp_acceptor(shared: Arc<Shared>, view: Arc<str>, listener: TcpListener) {
    // Connections belong to this task: aborting it (stop_view) drops the set, which aborts them.
    let mut connections = JoinSet::new();
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                // Typically out of file descriptors: back off instead of spinning.
                debug!(%error, "TCP accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        while connections.try_join_next().is_some() {}
        if connections.len() >= shared.config.max_tcp_connections {
            shared.counters.tcp_connections_refused.fetch_add(1, Relaxed);
            drop(stream);
            continue;
        }
        let open = OpenConnection::new(shared.clone());
        connections.spawn(tcp_connection(shared.clone(), view.clone(), stream, open));
    }
}

/// Counts a TCP connection as open for as long as its task (even one aborted unpolled) lives.
struct OpenConnection(Arc<Shared>);

impl OpenConnection {
    fn new(shared: Arc<Shared>) -> OpenConnection {
        shared.counters.tcp_connections_open.fetch_add(1, Relaxed);
        OpenConnection(shared)
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.counters.tcp_connections_open.fetch_sub(1, Relaxed);
    }
}

/// One TCP client: length-prefixed messages, answered in order, until the client goes quiet for
/// the idle timeout, closes, or sends something unreadable.
async fn tcp_connection(shared: Arc<Shared>, view: Arc<str>, mut stream: TcpStream, _open: OpenConnection) {
    let _ = stream.set_nodelay(true);
    let idle = shared.config.tcp_idle_timeout;
    let counters = &shared.counters;
    let mut message = Vec::new();
    loop {
        let mut prefix = [0u8; 2];
        if !matches!(timeout(idle, stream.read_exact(&mut prefix)).await, Ok(Ok(_))) {
            return;
        }
        let len = usize::from(u16::from_be_bytes(prefix));
        if len == 0 {
            counters.malformed.fetch_add(1, Relaxed);
            return;
        }
        message.resize(len, 0);
        if !matches!(timeout(idle, stream.read_exact(&mut message)).await, Ok(Ok(_))) {
            return;
        }
        counters.tcp_queries.fetch_add(1, Relaxed);
        let answered = wire::answer(&shared.catalog.read(), &view, &message, Transport::Tcp);
        if answered.malformed {
            counters.malformed.fetch_add(1, Relaxed);
        }
        let reply = match answered.outcome {
            Outcome::Reply(reply) => reply,
            Outcome::Drop => {
                counters.dropped.fetch_add(1, Relaxed);
                if answered.malformed {
                    return;
                }
                continue;
            }
            Outcome::Forward(request) => match shared.config.upstream {
                Some(upstream) => {
                    counters.forwarded.fetch_add(1, Relaxed);
                    forward(&shared, request, upstream).await
                }
                None => wire::error_reply(&request.request, Rcode::Refused, Transport::Tcp),
            },
        };
        counters.reply(&reply);
        let Ok(reply_len) = u16::try_from(reply.len()) else { return };
        let mut framed = Vec::with_capacity(reply.len() + 2);
        framed.extend_from_slice(&reply_len.to_be_bytes());
        framed.extend_from_slice(&reply);
        // A client that never reads fills the socket buffers; the deadline frees the task.
        if !matches!(timeout(idle, stream.write_all(&framed)).await, Ok(Ok(()))) {
            return;
        }
        if answered.malformed {
            return;
        }
    }
}

/// Asks the upstream for a forwarded question (over the client's transport) and builds the
/// client's reply; SERVFAIL when the upstream fails or takes longer than the timeout.
async fn forward(shared: &Shared, request: ForwardRequest, upstream: SocketAddr) -> Vec<u8> {
    let id = rand::random::<u16>();
    let reply = match wire::upstream_query(id, &request.name, request.qtype) {
        Some(query) => {
            let exchange = async {
                match request.transport {
                    Transport::Udp => exchange_udp(upstream, &query, id).await,
                    Transport::Tcp => exchange_tcp(upstream, &query, id).await,
                }
            };
            match timeout(shared.config.upstream_timeout, exchange).await {
                Ok(Ok(reply)) => {
                    wire::reply_from_upstream(&request.request, &request.prefix, &reply, request.transport)
                }
                Ok(Err(error)) => {
                    debug!(%error, %upstream, "upstream exchange failed");
                    None
                }
                Err(_) => {
                    debug!(%upstream, name = request.name, "upstream timed out");
                    None
                }
            }
        }
        None => None,
    };
    reply.unwrap_or_else(|| {
        shared.counters.upstream_failures.fetch_add(1, Relaxed);
        wire::error_reply(&request.request, Rcode::ServFail, request.transport)
    })
}

/// The largest upstream reply read over UDP (we advertise 1232; anything longer is cut and then
/// fails to parse).
const UPSTREAM_UDP_BUFFER: usize = 4096;

/// One query to the upstream over UDP from a fresh socket; waits for the reply with our id.
async fn exchange_udp(upstream: SocketAddr, query: &[u8], id: u16) -> io::Result<Vec<u8>> {
    let socket = UdpSocket::bind(local_for(upstream)).await?;
    socket.connect(upstream).await?;
    socket.send(query).await?;
    let mut buf = vec![0u8; UPSTREAM_UDP_BUFFER];
    loop {
        let len = socket.recv(&mut buf).await?;
        if is_reply_to(&buf[..len], id) {
            buf.truncate(len);
            return Ok(buf);
        }
    }
}

/// One query to the upstream over a fresh TCP connection.
async fn exchange_tcp(upstream: SocketAddr, query: &[u8], id: u16) -> io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(upstream).await?;
    let _ = stream.set_nodelay(true);
    let len = u16::try_from(query.len()).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "query too long"))?;
    let mut framed = Vec::with_capacity(query.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(query);
    stream.write_all(&framed).await?;
    loop {
        let mut prefix = [0u8; 2];
        stream.read_exact(&mut prefix).await?;
        let mut reply = vec![0u8; usize::from(u16::from_be_bytes(prefix))];
        stream.read_exact(&mut reply).await?;
        if is_reply_to(&reply, id) {
            return Ok(reply);
        }
    }
}

/// The local address to send to `upstream` from: loopback for a loopback upstream.
fn local_for(upstream: SocketAddr) -> SocketAddr {
    let ip = match upstream.ip() {
        IpAddr::V4(ip) if ip.is_loopback() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(ip) if ip.is_loopback() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    SocketAddr::new(ip, 0)
}

fn is_reply_to(packet: &[u8], id: u16) -> bool {
    packet.len() >= 12 && u16::from_be_bytes([packet[0], packet[1]]) == id && packet[2] & 0x80 != 0
}

fn is_truncated(packet: &[u8]) -> bool {
    packet.get(2).is_some_and(|flags| flags & 0x02 != 0)
}
