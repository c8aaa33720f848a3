//! Route listeners over real sockets on loopback: forwarding, refusals (resets), counting, and
//! the listener's own lifecycle.

mod common;

use std::io::ErrorKind;
use std::time::Duration;

use common::*;
use privlink_gateway::{Host, Origin, RefusalKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_forwards_to_its_backend_and_counts_bytes_per_direction() {
    let policy = TestPolicy::new();
    let gateway = gateway(&policy);
    let echo = echo_backend().await;
    let listener = gateway.listen("pe1", loopback()).await.unwrap();
    policy.forward_listener(listener, "route-1", echo);

    let mut client = TcpStream::connect(listener).await.unwrap();
    echo_round_trip(&mut client, &[7u8; 1000]).await;
    echo_round_trip(&mut client, b"again").await;
    let stats = stats_until(&gateway, |s| s.routes.get("route-1").is_some_and(|r| r.connections_open == 1)).await;
    assert_eq!(stats.routes["route-1"].connections_total, 1);
    assert_eq!(stats.totals.tunnels_open, 1);

    let request = policy.last_request();
    let Origin::Direct { listener: id, peer } = request.origin else { panic!("{request:?}") };
    assert_eq!((id.as_str(), peer), ("pe1", client.local_addr().unwrap()));
    assert_eq!((request.host, request.port), (Host::Ip(listener.ip()), listener.port()));

    // The client sends a little more, then closes; its bytes must still reach the backend.
    client.write_all(b"bye").await.unwrap();
    client.shutdown().await.unwrap();
    assert_eq!(read_to_end(&mut client).await, b"bye");
    let stats = stats_until(&gateway, |s| s.totals.connections_open == 0).await;
    let route = &stats.routes["route-1"];
    assert_eq!((route.bytes_from_client, route.bytes_to_client), (1008, 1008));
    assert_eq!((route.connections_total, route.connections_open, route.refusals_total), (1, 0, 0));
    assert_eq!((stats.totals.bytes_from_client, stats.totals.bytes_to_client), (1008, 1008));
    assert_eq!(stats.listeners["pe1"].connections_accepted, 1);
    assert_eq!(stats.totals.tunnels_open, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connection_is_reset_and_counted_with_its_reason() {
    let policy = TestPolicy::new();
    let gateway = gateway(&policy);
    let listener = gateway.listen("pe1", loopback()).await.unwrap();
    let host = listener.ip().to_string();
    policy.refuse(&host, listener.port(), Some("route-1"), RefusalKind::NotAllowed, "connection Rejected");

    for _ in 0..2 {
        expect_reset(listener).await;
    }
    let stats = stats_until(&gateway, |s| s.totals.refusals == 2).await;
    let route = &stats.routes["route-1"];
    assert_eq!(route.refusals_total, 2);
    assert_eq!(route.refusals_by_reason["connection Rejected"], 2);
    let last = route.last_refusal.as_ref().unwrap();
    assert_eq!(last.reason, "connection Rejected");
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    assert!(now_ms.abs_diff(last.at_unix_ms) < 10_000);
    assert_eq!(route.connections_total, 0);
    assert_eq!(stats.totals.refusals, 2);
    assert_eq!(stats.listeners["pe1"].refusals, 2);
    assert_eq!(stats.listeners["pe1"].connections_accepted, 2);

    // The JSON the caller serves.
    let json = serde_json::to_value(&stats).unwrap();
    assert_eq!(json["routes"]["route-1"]["last_refusal"]["reason"], "connection Rejected");
    assert_eq!(json["routes"]["route-1"]["refusals_by_reason"]["connection Rejected"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_without_a_route_counts_only_gateway_wide() {
    let policy = TestPolicy::new();
    let gateway = gateway(&policy);
    let listener = gateway.listen("orphan", loopback()).await.unwrap();
    expect_reset(listener).await;
    let stats = stats_until(&gateway, |s| s.totals.refusals == 1).await;
    assert!(stats.routes.is_empty(), "{stats:?}");
    assert_eq!(stats.totals.refusals, 1);
    assert_eq!(stats.listeners["orphan"].refusals, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_backend_is_a_refusal_naming_it() {
    let policy = TestPolicy::new();
    let gateway = gateway(&policy);
    let nowhere = closed_port().await;
    let listener = gateway.listen("pe1", loopback()).await.unwrap();
    policy.forward_listener(listener, "route-1", nowhere);
    expect_reset(listener).await;
    // The refusal is counted before the connection's task ends: wait for both.
    let stats = stats_until(&gateway, |s| s.totals.refusals == 1 && s.totals.connections_open == 0).await;
    let reason = &stats.routes["route-1"].last_refusal.as_ref().unwrap().reason;
    assert!(reason.starts_with(&format!("backend {nowhere} unreachable: ")), "{reason}");
    assert_eq!(stats.routes["route-1"].connections_total, 0);
    assert_eq!(stats.totals.connections_open, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_a_listener_keeps_its_open_tunnels() {
    let policy = TestPolicy::new();
    let gateway = gateway(&policy);
    let echo = echo_backend().await;
    let listener = gateway.listen("pe1", loopback()).await.unwrap();
    policy.forward_listener(listener, "route-1", echo);
    let mut client = TcpStream::connect(listener).await.unwrap();
    echo_round_trip(&mut client, b"before").await;

    gateway.close_listener("pe1").await;
    assert!(gateway.listeners().is_empty());
    // The listening sockets are closed when close_listener returns: refused at once.
    let refused = TcpStream::connect(listener).await.expect_err("the listener still accepts");
    assert_eq!(refused.kind(), ErrorKind::ConnectionRefused);
    echo_round_trip(&mut client, b"after").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listening_again_is_a_no_op_or_a_move() {
    let policy = TestPolicy::new();
    let gateway = gateway(&policy);
    let first = gateway.listen("pe1", loopback()).await.unwrap();
    assert_eq!(gateway.listen("pe1", loopback()).await.unwrap(), first, "port 0 on the same IP: the same");
    assert_eq!(gateway.listen("pe1", first).await.unwrap(), first);
    let moved = gateway.listen("pe1", "127.0.0.2:0".parse().unwrap()).await.unwrap();
    assert_ne!(moved, first);
    assert_eq!(gateway.listeners(), vec![("pe1".to_string(), moved)]);
    assert_eq!(TcpStream::connect(first).await.unwrap_err().kind(), ErrorKind::ConnectionRefused);
    let other = gateway.listen("pe0", loopback()).await.unwrap();
    assert_eq!(gateway.listeners(), vec![("pe0".to_string(), other), ("pe1".to_string(), moved)]);
    // A busy address is an error.
    assert!(gateway.listen("pe2", other).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_everything() {
    let policy = TestPolicy::new();
    let gateway = gateway(&policy);
    let echo = echo_backend().await;
    let listener = gateway.listen("pe1", loopback()).await.unwrap();
    let proxy = gateway.serve_proxy("v1", loopback()).await.unwrap();
    policy.forward_listener(listener, "route-1", echo);
    let mut tunnel = TcpStream::connect(listener).await.unwrap();
    echo_round_trip(&mut tunnel, b"x").await;
    let mut handshake = TcpStream::connect(proxy).await.unwrap();
    handshake.write_all(b"CONNECT a:1 HTTP/1.1\r\n").await.unwrap();
    stats_until(&gateway, |s| s.totals.connections_open == 2).await;

    gateway.shutdown().await;
    assert_eq!(gateway.stats().totals.connections_open, 0);
    assert!(gateway.listeners().is_empty() && gateway.proxies().is_empty());
    closed_by_peer(&mut tunnel).await;
    let mut sink = Vec::new();
    let ended = tokio::time::timeout(Duration::from_secs(5), handshake.read_to_end(&mut sink)).await;
    assert!(matches!(ended, Ok(Ok(0)) | Ok(Err(_))), "the handshake was not closed: {ended:?}");
    assert!(TcpStream::connect(listener).await.is_err());
    assert!(TcpStream::connect(proxy).await.is_err());
}
