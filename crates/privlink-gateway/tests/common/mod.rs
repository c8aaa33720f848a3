//! Shared fixtures for the integration tests: a policy driven by rules the test sets, backends
//! (echo, a tiny HTTP/1.0 responder, a firehose), SOCKS5 and HTTP proxy clients, and process
//! measurements. Everything listens on loopback.
#![allow(dead_code)] // each test binary uses its own subset

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use privlink_gateway::{ConnectRequest, Decision, Gateway, GatewayConfig, GatewayStats, Policy, RefusalKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{sleep, timeout, Instant};

pub const WAIT: Duration = Duration::from_secs(3);

pub fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// A policy answering from rules keyed by `(host as displayed, port)` (`"[::1]"` for IPv6), with a
/// default refusal; it records every request it decides.
#[derive(Default)]
pub struct TestPolicy {
    rules: Mutex<HashMap<(String, u16), Decision>>,
    pub requests: Mutex<Vec<ConnectRequest>>,
    /// Runs once, inside the next `decide`, after the decision is taken: a way to change the
    /// policy at an exact point of a connection's establishment.
    after_next_decide: Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

impl TestPolicy {
    pub fn new() -> Arc<TestPolicy> {
        Arc::new(TestPolicy::default())
    }

    pub fn set(&self, host: &str, port: u16, decision: Decision) {
        self.rules.lock().insert((host.to_string(), port), decision);
    }

    /// Forwards `host:port` through `route` to `backend`.
    pub fn forward(&self, host: &str, port: u16, route: &str, backend: SocketAddr) {
        self.set(host, port, Decision::Forward { route: route.into(), backend });
    }

    pub fn refuse(&self, host: &str, port: u16, route: Option<&str>, kind: RefusalKind, reason: &str) {
        self.set(host, port, Decision::Refuse { route: route.map(str::to_string), kind, reason: reason.into() });
    }

    /// The rule for a listener's own address (what `Origin::Direct` requests carry).
    pub fn forward_listener(&self, listener: SocketAddr, route: &str, backend: SocketAddr) {
        self.forward(&listener.ip().to_string(), listener.port(), route, backend);
    }

    pub fn after_next_decide(&self, hook: impl FnOnce() + Send + 'static) {
        *self.after_next_decide.lock() = Some(Box::new(hook));
    }

    pub fn last_request(&self) -> ConnectRequest {
        self.requests.lock().last().cloned().expect("a request was decided")
    }
}

impl Policy for TestPolicy {
    fn decide(&self, request: &ConnectRequest) -> Decision {
        self.requests.lock().push(request.clone());
        let key = (request.host.to_string(), request.port);
        let decision = self.rules.lock().get(&key).cloned().unwrap_or_else(|| Decision::Refuse {
            route: None,
            kind: RefusalKind::Unreachable,
            reason: format!("no route to {}:{}", request.host, request.port),
        });
        let hook = self.after_next_decide.lock().take();
        if let Some(hook) = hook {
            hook();
        }
        decision
    }
}

/// Short timeouts so that tests about them run fast.
pub fn test_config() -> GatewayConfig {
    GatewayConfig {
        handshake_timeout: Duration::from_millis(500),
        // backend_connect_timeout stays at its default (5 s): on loopback a SYN is now and then
        // retransmitted after 1 s (a port reused from TIME_WAIT), and a shorter limit turned
        // that into a refusal under load.
        ..GatewayConfig::default()
    }
}

pub fn gateway(policy: &Arc<TestPolicy>) -> Arc<Gateway> {
    Gateway::new(policy.clone(), test_config())
}

/// A backend that echoes every connection until it closes.
pub async fn echo_backend() -> SocketAddr {
    let listener = TcpListener::bind(loopback()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else { continue };
            tokio::spawn(async move {
                let (mut read, mut write) = stream.split();
                let _ = tokio::io::copy(&mut read, &mut write).await;
            });
        }
    });
    addr
}

/// A tiny HTTP/1.0 server: answers every request with `200 OK` and, as its body, the request
/// head it received, then closes.
pub async fn http_backend() -> SocketAddr {
    let listener = TcpListener::bind(loopback()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else { continue };
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && head.len() < 65536 {
                    match stream.read(&mut byte).await {
                        Ok(1) => head.push(byte[0]),
                        _ => return,
                    }
                }
                let response =
                    [&b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nX-Backend: yes\r\n\r\n"[..], &head].concat();
                let _ = stream.write_all(&response).await;
            });
        }
    });
    addr
}

/// A backend that writes `total` bytes to every connection (as fast as the peer takes them), then
/// closes.
pub async fn firehose_backend(total: usize) -> SocketAddr {
    let listener = TcpListener::bind(loopback()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else { continue };
            tokio::spawn(async move {
                let chunk = vec![0x5au8; 64 * 1024];
                let mut sent = 0;
                while sent < total {
                    let len = chunk.len().min(total - sent);
                    if stream.write_all(&chunk[..len]).await.is_err() {
                        return;
                    }
                    sent += len;
                }
            });
        }
    });
    addr
}

/// An address nothing listens on.
pub async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind(loopback()).await.unwrap();
    listener.local_addr().unwrap()
}

/// Where a SOCKS5 client asks to go.
pub enum Target<'a> {
    Ip(SocketAddr),
    Domain(&'a str, u16),
}

/// Runs a SOCKS5 handshake (no-auth, or user/password when `auth` is given) and returns the
/// stream and the reply code.
pub async fn socks5(proxy: SocketAddr, target: Target<'_>, auth: Option<(&str, &str)>) -> (TcpStream, u8) {
    let mut stream = TcpStream::connect(proxy).await.unwrap();
    let method = if auth.is_some() { 2 } else { 0 };
    stream.write_all(&[5, 1, method]).await.unwrap();
    let mut reply = [0u8; 2];
    stream.read_exact(&mut reply).await.unwrap();
    assert_eq!(reply, [5, method]);
    if let Some((user, password)) = auth {
        let message =
            [&[1, user.len() as u8][..], user.as_bytes(), &[password.len() as u8], password.as_bytes()].concat();
        stream.write_all(&message).await.unwrap();
        stream.read_exact(&mut reply).await.unwrap();
        assert_eq!(reply, [1, 0]);
    }
    stream.write_all(&socks5_request(target)).await.unwrap();
    let code = read_socks5_reply(&mut stream).await;
    (stream, code)
}

pub fn socks5_request(target: Target<'_>) -> Vec<u8> {
    let mut request = vec![5, 1, 0];
    match target {
        Target::Ip(SocketAddr::V4(addr)) => {
            request.push(1);
            request.extend_from_slice(&addr.ip().octets());
            request.extend_from_slice(&addr.port().to_be_bytes());
        }
        Target::Ip(SocketAddr::V6(addr)) => {
            request.push(4);
            request.extend_from_slice(&addr.ip().octets());
            request.extend_from_slice(&addr.port().to_be_bytes());
        }
        Target::Domain(name, port) => {
            request.push(3);
            request.push(name.len() as u8);
            request.extend_from_slice(name.as_bytes());
            request.extend_from_slice(&port.to_be_bytes());
        }
    }
    request
}

/// Reads a SOCKS5 reply and returns its code.
pub async fn read_socks5_reply(stream: &mut TcpStream) -> u8 {
    let mut head = [0u8; 4];
    timeout(WAIT, stream.read_exact(&mut head)).await.expect("a SOCKS5 reply").unwrap();
    let rest = match head[3] {
        1 => 4 + 2,
        4 => 16 + 2,
        other => panic!("reply address type {other}"),
    };
    let mut address = vec![0u8; rest];
    stream.read_exact(&mut address).await.unwrap();
    head[1]
}

/// Sends `head` to the proxy and reads the response head (up to the empty line); returns the
/// stream, positioned after the head, and the head.
pub async fn http_request(proxy: SocketAddr, head: &str) -> (TcpStream, String) {
    let mut stream = TcpStream::connect(proxy).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let head = read_head(&mut stream).await;
    (stream, head)
}

pub async fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let read = timeout(WAIT, stream.read(&mut byte)).await.expect("a response head").unwrap();
        assert_eq!(read, 1, "EOF in the response head: {:?}", String::from_utf8_lossy(&head));
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

/// Reads until EOF; returns what was read.
pub async fn read_to_end(stream: &mut TcpStream) -> Vec<u8> {
    let mut all = Vec::new();
    timeout(WAIT, stream.read_to_end(&mut all)).await.expect("EOF in time").unwrap();
    all
}

/// Writes `message` and reads it back.
pub async fn echo_round_trip(stream: &mut TcpStream, message: &[u8]) {
    stream.write_all(message).await.unwrap();
    let mut back = vec![0u8; message.len()];
    timeout(WAIT, stream.read_exact(&mut back)).await.expect("echo in time").unwrap();
    assert_eq!(back, message);
}

#[derive(Debug, PartialEq, Eq)]
pub enum Closed {
    Eof,
    Reset,
}

/// Waits until the peer closes `stream` (discarding data), failing after `WAIT`; returns how and
/// when.
pub async fn closed_by_peer(stream: &mut TcpStream) -> (Closed, Duration) {
    let started = Instant::now();
    let mut sink = [0u8; 16 * 1024];
    loop {
        match timeout(WAIT, stream.read(&mut sink)).await {
            Ok(Ok(0)) => return (Closed::Eof, started.elapsed()),
            Ok(Err(error)) if error.kind() == io::ErrorKind::ConnectionReset => {
                return (Closed::Reset, started.elapsed())
            }
            Ok(Err(error)) => panic!("unexpected error {error}"),
            Ok(Ok(_)) => continue,
            Err(_) => panic!("the peer kept the connection open"),
        }
    }
}

/// Polls `stats` until `check` holds, failing after `WAIT`.
pub async fn stats_until(gateway: &Gateway, check: impl Fn(&GatewayStats) -> bool) -> GatewayStats {
    let started = Instant::now();
    loop {
        let stats = gateway.stats();
        if check(&stats) {
            return stats;
        }
        assert!(started.elapsed() < WAIT, "stats never got there: {stats:#?}");
        sleep(Duration::from_millis(5)).await;
    }
}

/// Open file descriptors of this process (fails when /proc cannot tell: a leak check must
/// measure).
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|dir| dir.count()).expect("/proc/self/fd")
}

/// Resident set size of this process, in bytes (from /proc/self/statm, assuming 4 KiB pages).
pub fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

/// Connects to `addr` and expects the connection to be reset, at connect or at the first read
/// (the gateway may reset it before the client's connect has even returned).
pub async fn expect_reset(addr: SocketAddr) {
    match TcpStream::connect(addr).await {
        Ok(mut stream) => assert_eq!(closed_by_peer(&mut stream).await.0, Closed::Reset),
        Err(error) => assert_eq!(error.kind(), io::ErrorKind::ConnectionReset, "{error}"),
    }
}
