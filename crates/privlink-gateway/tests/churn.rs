//! 10,000 connections opened and dropped through the proxy and through a listener: the gateway
//! stays up, and afterwards the process's open file descriptors are back to where they were. (A
//! test binary of its own: the measure is the whole process's descriptor table.)

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio::time::{sleep, Instant};

const CONNECTIONS: usize = 10_000;
const CONCURRENCY: usize = 64;
/// Descriptors allowed to differ from the baseline (the runtime's own may come and go).
const FD_TOLERANCE: usize = 8;

/// What each connection does before it is dropped.
#[derive(Clone, Copy)]
enum Action {
    /// Sends these bytes (maybe none).
    Send(&'static [u8]),
    /// Sends these bytes and waits for them to come back (an echo through a tunnel).
    Echo(&'static [u8]),
}

/// Opens `count` connections to `addr`, `CONCURRENCY` at a time; each does `action` and is
/// dropped.
async fn churn(addr: SocketAddr, count: usize, action: Action) -> Duration {
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for worker in 0..CONCURRENCY {
        tasks.spawn(async move {
            for _ in (worker..count).step_by(CONCURRENCY) {
                // A reset from a gateway at its limit would be a failure.
                let mut stream = TcpStream::connect(addr).await.expect("connect");
                match action {
                    Action::Send(bytes) => {
                        let _ = stream.write_all(bytes).await;
                    }
                    Action::Echo(bytes) => echo_round_trip(&mut stream, bytes).await,
                }
                drop(stream);
            }
        });
    }
    while let Some(task) = tasks.join_next().await {
        task.unwrap();
    }
    started.elapsed()
}

/// Waits (briefly) until the descriptor count is back within the tolerance of `baseline`.
async fn fds_back_to(baseline: usize) -> usize {
    let started = Instant::now();
    loop {
        let now = open_fds();
        if now <= baseline + FD_TOLERANCE || started.elapsed() > WAIT {
            return now;
        }
        sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_connections_leave_no_descriptor_behind() {
    let policy = TestPolicy::new();
    let gateway = gateway(&policy);
    let echo = echo_backend().await;
    let listener = gateway.listen("pe-1", loopback()).await.unwrap();
    let proxy = gateway.serve_proxy("v1", loopback()).await.unwrap();
    policy.forward_listener(listener, "pe-1", echo);
    policy.forward("echo.example", 7, "pe-2", echo);
    // Warm up (runtime threads, the echo backend's first task) before the baseline.
    let (mut stream, _) = socks5(proxy, Target::Domain("echo.example", 7), None).await;
    echo_round_trip(&mut stream, b"warm").await;
    drop(stream);
    stats_until(&gateway, |s| s.totals.connections_open == 0).await;
    let baseline = open_fds();

    // Through the proxy: half say nothing, half start a CONNECT and leave mid-head.
    let silent = churn(proxy, CONNECTIONS / 2, Action::Send(b"")).await;
    let partial = churn(proxy, CONNECTIONS / 2, Action::Send(b"CONNECT echo.example:7 HTTP/1.1\r\n")).await;
    // Through the listener: each is a tunnel to the echo backend, used, then dropped by the client.
    let tunnels = churn(listener, CONNECTIONS, Action::Echo(b"ping")).await;
    println!(
        "via the proxy: {} silent in {silent:?}, {} partial heads in {partial:?}; \
         {CONNECTIONS} tunnels via the listener in {tunnels:?}",
        CONNECTIONS / 2,
        CONNECTIONS / 2
    );

    let stats = stats_until(&gateway, |s| s.totals.connections_open == 0).await;
    assert_eq!(stats.totals.connections_accepted, 2 * CONNECTIONS as u64 + 1);
    assert_eq!(stats.totals.over_limit_closed, 0);
    assert_eq!(stats.routes["pe-1"].connections_total, CONNECTIONS as u64, "{stats:#?}");
    let after = fds_back_to(baseline).await;
    println!("open descriptors: {baseline} before, {after} after");
    assert!(after <= baseline + FD_TOLERANCE, "descriptors leaked: {baseline} before, {after} after");

    // Still up and answering.
    let (mut stream, code) = socks5(proxy, Target::Domain("echo.example", 7), None).await;
    assert_eq!(code, 0);
    echo_round_trip(&mut stream, b"still here").await;
}
