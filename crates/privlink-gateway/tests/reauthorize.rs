//! `reauthorize` over real tunnels: cutting those no longer allowed, fast, and leaving the others.

mod common;

use std::time::Duration;

use common::*;
use privlink_gateway::{Decision, RefusalKind};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio::time::Instant;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_tunnel_is_cut_within_100ms_and_the_others_stay() {
    let policy = TestPolicy::new();
    let gateway = gateway(&policy);
    let echo = echo_backend().await;
    let proxy = gateway.serve_proxy("v1", loopback()).await.unwrap();
    let listener = gateway.listen("pe-b", loopback()).await.unwrap();
    policy.forward("a.example", 443, "pe-a", echo);
    policy.forward_listener(listener, "pe-b", echo);

    let (mut cut, response) = http_request(proxy, "CONNECT a.example:443 HTTP/1.1\r\n\r\n").await;
    assert!(response.starts_with("HTTP/1.1 200 "));
    echo_round_trip(&mut cut, &[1u8; 3000]).await;
    let mut kept = TcpStream::connect(listener).await.unwrap();
    echo_round_trip(&mut kept, b"kept").await;

    // Nothing changed: nothing is cut.
    gateway.reauthorize();
    echo_round_trip(&mut cut, b"still").await;

    policy.refuse("a.example", 443, Some("pe-a"), RefusalKind::NotAllowed, "connection Rejected");
    let started = Instant::now();
    gateway.reauthorize();
    let (how, _) = closed_by_peer(&mut cut).await;
    let latency = started.elapsed();
    println!("reauthorize to close: {latency:?}");
    assert_eq!(how, Closed::Reset, "a cut is a reset, so the client cannot take it for a clean end");
    assert!(latency < Duration::from_millis(100), "{latency:?}");
    echo_round_trip(&mut kept, b"unaffected").await;

    let stats = stats_until(&gateway, |s| s.routes["pe-a"].connections_open == 0).await;
    let route = &stats.routes["pe-a"];
    assert_eq!(route.connections_cut, 1);
    assert_eq!((route.bytes_from_client, route.bytes_to_client), (3005, 3005), "a cut tunnel keeps its counts");
    assert_eq!(stats.routes["pe-b"].connections_open, 1);
    assert_eq!(stats.routes["pe-b"].connections_cut, 0);
    assert_eq!(stats.totals.tunnels_cut, 1);

    // New connections get the new decision.
    let (_, response) = http_request(proxy, "CONNECT a.example:443 HTTP/1.1\r\n\r\n").await;
    assert!(response.starts_with("HTTP/1.1 403 "), "{response}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tunnel_routed_elsewhere_is_cut_and_a_listener_tunnel_too() {
    let policy = TestPolicy::new();
    let gateway = gateway(&policy);
    let (echo1, echo2) = (echo_backend().await, echo_backend().await);
    let listener = gateway.listen("pe-1", loopback()).await.unwrap();
    let proxy = gateway.serve_proxy("v1", loopback()).await.unwrap();
    policy.forward_listener(listener, "pe-1", echo1);
    policy.forward("b.example", 1, "pe-2", echo1);
    policy.set("127.0.0.1", 8443, Decision::Passthrough { addr: echo1 });

    let mut direct = TcpStream::connect(listener).await.unwrap();
    echo_round_trip(&mut direct, b"d").await;
    let (mut via_proxy, _) = socks5(proxy, Target::Domain("b.example", 1), None).await;
    echo_round_trip(&mut via_proxy, b"p").await;
    let (mut passthrough, _) = http_request(proxy, "CONNECT 127.0.0.1:8443 HTTP/1.1\r\n\r\n").await;
    echo_round_trip(&mut passthrough, b"api").await;

    // Same route, another backend: cut. Another route, same backend: cut. Passthrough unchanged.
    policy.forward_listener(listener, "pe-1", echo2);
    policy.forward("b.example", 1, "pe-other", echo1);
    gateway.reauthorize();
    closed_by_peer(&mut direct).await;
    closed_by_peer(&mut via_proxy).await;
    echo_round_trip(&mut passthrough, b"still").await;

    // A passthrough that becomes a route is cut too.
    policy.forward("127.0.0.1", 8443, "pe-api", echo1);
    gateway.reauthorize();
    closed_by_peer(&mut passthrough).await;
    let stats = stats_until(&gateway, |s| s.totals.tunnels_open == 0).await;
    assert_eq!(stats.totals.tunnels_cut, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_tunnels_are_cut_together_quickly() {
    const TUNNELS: usize = 500;
    let policy = TestPolicy::new();
    let gateway = gateway(&policy);
    let echo = echo_backend().await;
    let listener = gateway.listen("pe-1", loopback()).await.unwrap();
    policy.forward_listener(listener, "pe-1", echo);
    let mut clients = Vec::new();
    for _ in 0..TUNNELS {
        let mut client = TcpStream::connect(listener).await.unwrap();
        client.write_all(b"x").await.unwrap();
        clients.push(client);
    }
    stats_until(&gateway, |s| s.routes.get("pe-1").is_some_and(|r| r.connections_open == TUNNELS as u64)).await;

    policy.refuse(&listener.ip().to_string(), listener.port(), Some("pe-1"), RefusalKind::NotAllowed, "gone");
    let started = Instant::now();
    gateway.reauthorize();
    let decided = started.elapsed();
    let mut closes = JoinSet::new();
    for mut client in clients {
        closes.spawn(async move { closed_by_peer(&mut client).await });
    }
    while let Some(closed) = closes.join_next().await {
        closed.unwrap();
    }
    let all_closed = started.elapsed();
    println!(
        "reauthorize over {TUNNELS} tunnels: {decided:?} to decide, {all_closed:?} until every client saw the cut"
    );
    assert!(all_closed < Duration::from_secs(2), "{all_closed:?}");
    stats_until(&gateway, |s| s.totals.connections_open == 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_tunnel_survives_a_change_racing_its_establishment() {
    // The policy changes (and reauthorize runs) while connections are at every stage of being
    // established: decided but not connected, connected but not registered, registered. Whatever
    // the interleaving, no tunnel may stay open under the old decision.
    const ROUNDS: usize = 50;
    let policy = TestPolicy::new();
    let gateway = gateway(&policy);
    let echo = echo_backend().await;
    let proxy = gateway.serve_proxy("v1", loopback()).await.unwrap();
    let mut clients = Vec::new();
    let (mut refused, mut cut) = (0, 0);
    for round in 0..ROUNDS {
        let host = format!("r{round}.example");
        policy.forward(&host, 1, "pe-1", echo);
        let head = format!("CONNECT {host}:1 HTTP/1.1\r\n\r\n");
        let connect = tokio::spawn(async move {
            let mut stream = TcpStream::connect(proxy).await.unwrap();
            stream.write_all(head.as_bytes()).await.unwrap();
            stream
        });
        // Spread the change over the connection's life: from before its handshake to after its
        // tunnel is open (a busy wait, for microsecond steps).
        let until = Instant::now() + Duration::from_micros(8 * round as u64);
        while Instant::now() < until {
            std::hint::spin_loop();
        }
        policy.refuse(&host, 1, Some("pe-1"), RefusalKind::NotAllowed, "changed");
        gateway.reauthorize();
        let mut stream = connect.await.unwrap();
        let mut response = [0u8; 12];
        match tokio::io::AsyncReadExt::read_exact(&mut stream, &mut response).await {
            Ok(_) if response.starts_with(b"HTTP/1.1 403") => refused += 1,
            // 200 then a reset, or the reset first: established under the old decision, then cut.
            Ok(_) | Err(_) => cut += 1,
        }
        clients.push(stream);
    }
    println!("{ROUNDS} racing connections: {refused} refused, {cut} established then cut");
    let stats = stats_until(&gateway, |s| s.totals.connections_open == 0).await;
    assert_eq!(stats.totals.tunnels_open, 0);
    assert_eq!(stats.totals.tunnels_cut, cut);
    assert_eq!(refused + cut, ROUNDS as u64);
    drop(clients);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_between_decide_and_register_is_not_missed() {
    let policy = TestPolicy::new();
    let gateway = gateway(&policy);
    let echo = echo_backend().await;
    let proxy = gateway.serve_proxy("v1", loopback()).await.unwrap();
    policy.forward("a.example", 1, "pe-a", echo);
    policy.forward("b.example", 1, "pe-b", echo);

    // reauthorize runs (as if from another task) after the decision is taken and before the
    // tunnel is registered, with nothing changed: the tunnel opens.
    let hook_gateway = gateway.clone();
    policy.after_next_decide(move || hook_gateway.reauthorize());
    let (mut a, response) = http_request(proxy, "CONNECT a.example:1 HTTP/1.1\r\n\r\n").await;
    assert!(response.starts_with("HTTP/1.1 200 "), "{response}");
    echo_round_trip(&mut a, b"ok").await;

    // Now the policy changes at that point: the connection is decided again and refused, although
    // reauthorize ran before its tunnel existed.
    let (hook_policy, hook_gateway) = (policy.clone(), gateway.clone());
    policy.after_next_decide(move || {
        hook_policy.refuse("b.example", 1, Some("pe-b"), RefusalKind::NotAllowed, "changed meanwhile");
        hook_gateway.reauthorize();
    });
    let (_, response) = http_request(proxy, "CONNECT b.example:1 HTTP/1.1\r\n\r\n").await;
    assert!(response.starts_with("HTTP/1.1 403 "), "{response}");
    assert!(response.contains("X-Privlink-Refusal: changed meanwhile\r\n"), "{response}");
    let stats = gateway.stats();
    assert_eq!(stats.routes["pe-b"].connections_total, 0, "the refused connection never counted as a tunnel");
    assert_eq!(stats.routes["pe-b"].refusals_total, 1);
    assert_eq!(stats.totals.tunnels_cut, 0);
    echo_round_trip(&mut a, b"unaffected").await;
}
