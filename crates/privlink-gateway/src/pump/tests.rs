use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;

/// Two connected sockets on loopback.
async fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let near = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    let (far, _) = listener.accept().await.unwrap();
    (near, far)
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

struct Run {
    to_client: u64,
    to_backend: u64,
    pipes_during: usize,
}

/// Client ⇄ gateway ⇄ backend through `both_ways`: `up` bytes from the client, `down` from the
/// backend, both at once, then each side ends its writes; checks every byte arrives in order.
async fn through(up: usize, down: usize, max_pipes: usize, buffer_size: usize) -> Run {
    let (mut client, mut gateway_client) = pair().await;
    let (mut gateway_backend, mut backend) = pair().await;
    let budget = Arc::new(PipeBudget::new(max_pipes, 256 * 1024));
    let counters = Arc::new((AtomicU64::new(0), AtomicU64::new(0)));
    let task = {
        let (budget, counters) = (budget.clone(), counters.clone());
        tokio::spawn(async move {
            let settings = Settings { buffer_size, pipes: &budget };
            let to_client = Count { route: None, total: &counters.0 };
            let to_backend = Count { route: None, total: &counters.1 };
            both_ways(&mut gateway_client, &mut gateway_backend, to_client, to_backend, &settings).await
        })
    };
    let (sent_up, sent_down) = (pattern(up, 1), pattern(down, 7));
    let (mut client_read, mut client_write) = client.split();
    let (mut backend_read, mut backend_write) = backend.split();
    let client_side = async {
        client_write.write_all(&sent_up).await.unwrap();
        client_write.shutdown().await.unwrap();
        let mut got = Vec::new();
        client_read.read_to_end(&mut got).await.unwrap();
        got
    };
    let pipes = budget.clone();
    let backend_side = async {
        backend_write.write_all(&sent_down).await.unwrap();
        let mut got = Vec::new();
        backend_read.read_to_end(&mut got).await.unwrap();
        let during = pipes.open();
        backend_write.shutdown().await.unwrap();
        (got, during)
    };
    let (at_client, (at_backend, pipes_during)) = tokio::join!(client_side, backend_side);
    task.await.unwrap().unwrap();
    assert!(at_client == sent_down, "the client got {} bytes, not the {down} sent", at_client.len());
    assert!(at_backend == sent_up, "the backend got {} bytes, not the {up} sent", at_backend.len());
    assert_eq!(budget.open(), 0, "every pipe was given back");
    Run { to_client: counters.0.load(Relaxed), to_backend: counters.1.load(Relaxed), pipes_during }
}

#[tokio::test]
async fn small_exchanges_copy_without_a_pipe() {
    let run = through(100, 5000, 8, 64 * 1024).await;
    assert_eq!((run.to_client, run.to_backend), (5000, 100));
    assert_eq!(run.pipes_during, 0);
}

#[tokio::test]
async fn bulk_both_ways_is_spliced_where_pipes_exist() {
    let run = through(8 << 20, 12 << 20, 8, 64 * 1024).await;
    assert_eq!((run.to_client, run.to_backend), (12 << 20, 8 << 20));
    if cfg!(target_os = "linux") {
        assert!(run.pipes_during >= 1, "bulk took no pipe");
    }
}

#[tokio::test]
async fn without_pipes_bulk_is_copied() {
    let run = through(4 << 20, 4 << 20, 0, 64 * 1024).await;
    assert_eq!((run.to_client, run.to_backend), (4 << 20, 4 << 20));
    assert_eq!(run.pipes_during, 0);
    // A buffer smaller than the first one is what is used.
    let run = through(300_000, 300_000, 0, 1000).await;
    assert_eq!((run.to_client, run.to_backend), (300_000, 300_000));
}

#[tokio::test]
async fn a_reset_peer_ends_both_directions_with_an_error() {
    let (client, mut gateway_client) = pair().await;
    let (mut gateway_backend, _backend) = pair().await;
    let budget = PipeBudget::new(8, 0);
    let total = (AtomicU64::new(0), AtomicU64::new(0));
    let settings = Settings { buffer_size: 64 * 1024, pipes: &budget };
    let (to_client, to_backend) = (Count { route: None, total: &total.0 }, Count { route: None, total: &total.1 });
    client.set_zero_linger().unwrap();
    drop(client);
    let ended = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        both_ways(&mut gateway_client, &mut gateway_backend, to_client, to_backend, &settings),
    )
    .await;
    assert!(matches!(ended, Ok(Err(_))), "{ended:?}");
}
