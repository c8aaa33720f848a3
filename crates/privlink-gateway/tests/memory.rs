//! A client that never reads while its backend writes without end: the tunnel holds its two copy
//! buffers and nothing more, so the process's memory does not grow. (A test binary of its own:
//! the measure is the whole process's RSS.)

mod common;

use std::time::Duration;

use common::*;
use tokio::net::TcpStream;
use tokio::time::sleep;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_does_not_grow_memory() {
    let policy = TestPolicy::new();
    let gateway = gateway(&policy);
    let firehose = firehose_backend(1 << 30).await;
    let listener = gateway.listen("pe-1", loopback()).await.unwrap();
    let proxy = gateway.serve_proxy("v1", loopback()).await.unwrap();
    policy.forward_listener(listener, "pe-1", firehose);
    policy.forward("firehose.example", 80, "pe-2", firehose);

    // One through a listener, one through the proxy; neither ever reads.
    let direct = TcpStream::connect(listener).await.unwrap();
    let (via_proxy, response) = http_request(proxy, "CONNECT firehose.example:80 HTTP/1.1\r\n\r\n").await;
    assert!(response.starts_with("HTTP/1.1 200 "));

    // Let the socket buffers fill; after that nothing moves.
    let settled = |route: &str| gateway.stats().routes[route].bytes_to_client;
    let mut last = (0, 0);
    for _ in 0..100 {
        sleep(Duration::from_millis(50)).await;
        let now = (settled("pe-1"), settled("pe-2"));
        if now == last && now.0 > 0 && now.1 > 0 {
            break;
        }
        last = now;
    }
    let rss_before = rss_bytes();
    let bytes_before = (settled("pe-1"), settled("pe-2"));
    sleep(Duration::from_millis(1000)).await;
    let rss_after = rss_bytes();
    let bytes_after = (settled("pe-1"), settled("pe-2"));
    println!(
        "never-reading clients: {bytes_before:?} bytes in flight (kernel buffers), RSS {} KiB -> {} KiB",
        rss_before / 1024,
        rss_after / 1024
    );
    assert_eq!(bytes_before, bytes_after, "nothing moves once the buffers are full");
    assert!(bytes_after.0 < 64 << 20 && bytes_after.1 < 64 << 20, "{bytes_after:?}");
    assert!(rss_after.saturating_sub(rss_before) < 4 << 20, "RSS grew from {rss_before} to {rss_after}");

    // And the gateway still serves others meanwhile.
    let echo = echo_backend().await;
    policy.forward("echo.example", 7, "pe-3", echo);
    let (mut stream, _) = socks5(proxy, Target::Domain("echo.example", 7), None).await;
    echo_round_trip(&mut stream, b"unaffected").await;
    drop((direct, via_proxy));
}
