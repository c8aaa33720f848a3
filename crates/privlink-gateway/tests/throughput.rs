//! A quick in-process throughput figure: bytes through a tunnel versus straight to the same
//! backend on loopback. Printed, never asserted (performance belongs to benchmarks); run with
//! `--release --nocapture` for meaningful numbers.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::time::Instant;

const TOTAL: usize = 64 << 20;

async fn drain(addr: SocketAddr) -> Duration {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let started = Instant::now();
    let mut buf = vec![0u8; 256 * 1024];
    let mut read = 0;
    loop {
        let n = stream.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        read += n;
    }
    assert_eq!(read, TOTAL);
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throughput_through_a_tunnel_versus_direct() {
    let policy = TestPolicy::new();
    let gateway = gateway(&policy);
    let firehose = firehose_backend(TOTAL).await;
    let listener = gateway.listen("pe-1", loopback()).await.unwrap();
    policy.forward_listener(listener, "pe-1", firehose);
    let mbps = |elapsed: Duration| TOTAL as f64 / elapsed.as_secs_f64() / (1 << 20) as f64;
    let direct = drain(firehose).await;
    let tunnel = drain(listener).await;
    println!(
        "{} MiB: direct {direct:?} ({:.0} MiB/s), through a tunnel {tunnel:?} ({:.0} MiB/s)",
        TOTAL >> 20,
        mbps(direct),
        mbps(tunnel)
    );
    let stats = stats_until(&gateway, |s| s.totals.connections_open == 0).await;
    assert_eq!(stats.routes["pe-1"].bytes_to_client, TOTAL as u64);
}
