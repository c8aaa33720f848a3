//! Clients that misbehave: garbage, slow or silent handshakes, resets mid-handshake, and more
//! connections than the gateway takes. The gateway stays up and answers the next client.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use privlink_gateway::{Gateway, GatewayConfig};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// Checks that the proxy still serves a CONNECT to an echo backend.
async fn still_serves(gateway: &Gateway, policy: &TestPolicy, proxy: std::net::SocketAddr) {
    let echo = echo_backend().await;
    policy.forward("alive.example", 7, "pe-alive", echo);
    let (mut stream, response) = http_request(proxy, "CONNECT alive.example:7 HTTP/1.1\r\n\r\n").await;
    assert!(response.starts_with("HTTP/1.1 200 "), "{response}");
    echo_round_trip(&mut stream, b"alive").await;
    drop(stream);
    stats_until(gateway, |s| s.totals.connections_open == 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_bytes_on_the_proxy_port_are_closed_and_counted() {
    const CLIENTS: usize = 300;
    let policy = TestPolicy::new();
    let gateway = gateway(&policy);
    let proxy = gateway.serve_proxy("v1", loopback()).await.unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut clients = JoinSet::new();
    for i in 0..CLIENTS {
        let len = 1 + (rng.next() % 3000) as usize;
        let mut garbage = rng.bytes(len);
        // A third start like SOCKS5, a third like HTTP, the rest anything.
        if i % 3 == 0 {
            garbage[0] = 5;
        } else if i % 3 == 1 {
            garbage = [&b"CONNECT "[..], &garbage].concat();
        }
        clients.spawn(async move {
            let mut stream = TcpStream::connect(proxy).await.unwrap();
            // The gateway may answer and close before all of it is written.
            let _ = stream.write_all(&garbage).await;
            let _ = stream.shutdown().await;
            closed_by_peer_or_error(&mut stream).await;
        });
    }
    while let Some(client) = clients.join_next().await {
        client.unwrap();
    }
    let stats = stats_until(&gateway, |s| s.totals.connections_open == 0).await;
    println!("{CLIENTS} garbage clients: {:?}", stats.totals);
    assert_eq!(stats.proxies["v1"].connections_accepted, CLIENTS as u64);
    // Random bytes can form a valid request now and then; those are refused by the test policy.
    assert_eq!(stats.totals.malformed_handshakes + stats.totals.refusals, CLIENTS as u64);
    still_serves(&gateway, &policy, proxy).await;
}

/// Reads until the peer closes, accepting a reset as a close.
async fn closed_by_peer_or_error(stream: &mut TcpStream) {
    let mut sink = [0u8; 4096];
    loop {
        match tokio::time::timeout(WAIT, tokio::io::AsyncReadExt::read(stream, &mut sink)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return,
            Ok(Ok(_)) => continue,
            Err(_) => panic!("the gateway kept a garbage connection open"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_silent_handshakes_time_out() {
    let policy = TestPolicy::new();
    let gateway = gateway(&policy);
    let proxy = gateway.serve_proxy("v1", loopback()).await.unwrap();
    let timeout = test_config().handshake_timeout;

    // Slowloris: a head that never ends, one byte every 50 ms.
    let slowloris = tokio::spawn(async move {
        let mut stream = TcpStream::connect(proxy).await.unwrap();
        stream.write_all(b"CONNECT a.example:443 HTTP/1.1\r\nX-Slow: ").await.unwrap();
        let started = Instant::now();
        let mut byte = [0u8; 1];
        loop {
            if stream.write_all(b"a").await.is_err() {
                break;
            }
            let read = tokio::io::AsyncReadExt::read(&mut stream, &mut byte);
            if tokio::time::timeout(Duration::from_millis(50), read).await.is_ok() {
                break; // EOF or reset: the gateway closed
            }
            assert!(started.elapsed() < WAIT, "slowloris kept going");
        }
        started.elapsed()
    });
    // Connected, then silent; a SOCKS5 greeting cut short; an HTTP head cut short.
    let mut silent = Vec::new();
    for prefix in [&b""[..], &[5, 2, 0], b"GET http://a/ HTTP/1.1\r\n"] {
        let mut stream = TcpStream::connect(proxy).await.unwrap();
        stream.write_all(prefix).await.unwrap();
        silent.push(tokio::spawn(async move { closed_by_peer(&mut stream).await.1 }));
    }
    for closed in silent {
        let after = closed.await.unwrap();
        assert!(after >= timeout - Duration::from_millis(50) && after < timeout * 3, "{after:?}");
    }
    let slow = slowloris.await.unwrap();
    assert!(slow >= timeout - Duration::from_millis(100) && slow < timeout * 3, "{slow:?}");
    let stats = stats_until(&gateway, |s| s.totals.connections_open == 0).await;
    assert_eq!(stats.totals.handshake_timeouts, 4);
    assert_eq!(stats.totals.malformed_handshakes, 0);
    still_serves(&gateway, &policy, proxy).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_resetting_mid_handshake_leave_nothing_behind() {
    let policy = TestPolicy::new();
    let gateway = gateway(&policy);
    let proxy = gateway.serve_proxy("v1", loopback()).await.unwrap();
    for prefix in [&b"CONNECT a.example:1 HTTP/1.1\r\n"[..], &[5, 1, 0, 5, 1, 0, 3, 20, b'a']] {
        for _ in 0..20 {
            let mut stream = TcpStream::connect(proxy).await.unwrap();
            stream.write_all(prefix).await.unwrap();
            stream.set_zero_linger().unwrap();
            drop(stream);
        }
    }
    stats_until(&gateway, |s| s.totals.connections_open == 0 && s.totals.connections_accepted == 40).await;
    still_serves(&gateway, &policy, proxy).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_limit_are_reset_at_once() {
    const LIMIT: usize = 8;
    let policy = TestPolicy::new();
    let config = GatewayConfig { max_connections: LIMIT, handshake_timeout: Duration::from_secs(10), ..test_config() };
    let gateway = Gateway::new(policy.clone(), config);
    let proxy = gateway.serve_proxy("v1", loopback()).await.unwrap();
    let listener = gateway.listen("pe-1", loopback()).await.unwrap();
    let mut idle = Vec::new();
    for _ in 0..LIMIT {
        idle.push(TcpStream::connect(proxy).await.unwrap());
    }
    stats_until(&gateway, |s| s.totals.connections_open == LIMIT as u64).await;

    let started = Instant::now();
    expect_reset(proxy).await;
    expect_reset(listener).await;
    assert!(started.elapsed() < Duration::from_millis(500));
    let stats = gateway.stats();
    assert_eq!(stats.totals.over_limit_closed, 2);
    assert_eq!(stats.totals.connections_open, LIMIT as u64);

    drop(idle);
    stats_until(&gateway, |s| s.totals.connections_open == 0).await;
    still_serves(&gateway, &policy, proxy).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_gateway_ends_its_connections() {
    let policy = TestPolicy::new();
    let gateway: Arc<Gateway> = gateway(&policy);
    let echo = echo_backend().await;
    let listener = gateway.listen("pe-1", loopback()).await.unwrap();
    policy.forward_listener(listener, "pe-1", echo);
    let mut tunnel = TcpStream::connect(listener).await.unwrap();
    echo_round_trip(&mut tunnel, b"x").await;
    drop(gateway);
    closed_by_peer(&mut tunnel).await;
}
