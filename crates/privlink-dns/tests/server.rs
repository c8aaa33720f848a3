//! The server over real sockets on loopback: views, forwarding, and clients that misbehave.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use hickory_proto::op::{Message, OpCode, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{RData as WireData, Record, RecordType};
use parking_lot::RwLock;
use privlink_dns::{Catalog, DnsServer, Rcode, RecordType as Type, ServerConfig, StepKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream, UdpSocket};
use tokio::time::{sleep, timeout, Instant};

const LOOPBACK: &str = "127.0.0.1:0";
const WAIT: Duration = Duration::from_secs(3);

fn loopback() -> SocketAddr {
    LOOPBACK.parse().unwrap()
}

fn config() -> ServerConfig {
    ServerConfig { udp_workers: 2, ..ServerConfig::default() }
}

fn start(config: ServerConfig) -> (Arc<DnsServer>, Arc<RwLock<Catalog>>) {
    let catalog = Arc::new(RwLock::new(storage_catalog()));
    (DnsServer::new(catalog.clone(), config), catalog)
}

async fn udp_exchange(server: SocketAddr, packet: &[u8]) -> std::io::Result<Vec<u8>> {
    let socket = UdpSocket::bind(loopback()).await?;
    socket.connect(server).await?;
    socket.send(packet).await?;
    let mut buf = vec![0u8; 65535];
    let len = timeout(WAIT, socket.recv(&mut buf)).await.map_err(|_| std::io::ErrorKind::TimedOut)??;
    buf.truncate(len);
    Ok(buf)
}

async fn udp(server: SocketAddr, message: &Message) -> Message {
    parse(&udp_exchange(server, &bytes(message)).await.unwrap())
}

async fn write_framed(stream: &mut TcpStream, packet: &[u8]) {
    let mut framed = (packet.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(packet);
    stream.write_all(&framed).await.unwrap();
}

async fn read_framed(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut prefix = [0u8; 2];
    timeout(WAIT, stream.read_exact(&mut prefix)).await.map_err(|_| std::io::ErrorKind::TimedOut)??;
    let mut reply = vec![0u8; usize::from(u16::from_be_bytes(prefix))];
    stream.read_exact(&mut reply).await?;
    Ok(reply)
}

async fn tcp(server: SocketAddr, message: &Message) -> Message {
    let mut stream = TcpStream::connect(server).await.unwrap();
    write_framed(&mut stream, &bytes(message)).await;
    parse(&read_framed(&mut stream).await.unwrap())
}

/// Waits until the server closes `stream` (EOF or reset), failing after `WAIT`.
async fn closed_by_server(stream: &mut TcpStream) -> Duration {
    let started = Instant::now();
    let mut sink = [0u8; 4096];
    loop {
        match timeout(WAIT, stream.read(&mut sink)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return started.elapsed(),
            Ok(Ok(_)) => continue,
            Err(_) => panic!("the server kept the connection open"),
        }
    }
}

fn a_of(reply: &Message) -> Vec<String> {
    reply
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            WireData::A(a) => Some(a.to_string()),
            _ => None,
        })
        .collect()
}

#[derive(Clone, Copy)]
enum Upstream {
    /// Answers every question with `A 93.184.216.34`.
    Answers,
    /// Never answers.
    Silent,
}

/// A UDP socket and a TCP listener on one free loopback port. The port comes from the UDP bind;
/// another process may hold it for TCP (other test suites running on the machine), so try again.
async fn udp_and_tcp() -> (UdpSocket, TcpListener) {
    for _ in 0..32 {
        let udp = UdpSocket::bind(loopback()).await.unwrap();
        if let Ok(tcp) = TcpListener::bind(udp.local_addr().unwrap()).await {
            return (udp, tcp);
        }
    }
    panic!("no loopback port free for both UDP and TCP");
}

/// A fake upstream on one loopback port, UDP and TCP.
async fn fake_upstream(behaviour: Upstream) -> SocketAddr {
    let (udp, tcp) = udp_and_tcp().await;
    let addr = udp.local_addr().unwrap();
    let answer = move |query: &[u8]| -> Option<Vec<u8>> {
        let query = Message::from_vec(query).ok()?;
        let mut reply = Message::response(query.metadata.id, OpCode::Query);
        reply.metadata.recursion_available = true;
        reply.queries = query.queries.clone();
        let name = query.queries.first()?.name().clone();
        reply.add_answer(Record::from_rdata(name, 30, WireData::A(A::new(93, 184, 216, 34))));
        reply.to_vec().ok()
    };
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65535];
        while let Ok((len, peer)) = udp.recv_from(&mut buf).await {
            if let (Upstream::Answers, Some(reply)) = (behaviour, answer(&buf[..len])) {
                let _ = udp.send_to(&reply, peer).await;
            }
        }
    });
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = tcp.accept().await {
            tokio::spawn(async move {
                while let Ok(query) = read_framed(&mut stream).await {
                    match (behaviour, answer(&query)) {
                        (Upstream::Answers, Some(reply)) => write_framed(&mut stream, &reply).await,
                        _ => sleep(Duration::from_secs(60)).await,
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_views_on_two_addresses_answer_differently() {
    let (server, _) = start(config());
    let v1 = server.serve_view("v1", loopback()).await.unwrap();
    let v2 = server.serve_view("v2", loopback()).await.unwrap();
    assert_ne!(v1, v2);
    let question = query("sa1.blob.core.windows.net.", RecordType::A);
    assert_eq!(a_of(&udp(v1, &question).await), ["10.0.0.4"]);
    assert_eq!(a_of(&udp(v2, &question).await), ["20.0.0.1"]);
    assert_eq!(a_of(&tcp(v1, &question).await), ["10.0.0.4"]);
    assert_eq!(a_of(&tcp(v2, &question).await), ["20.0.0.1"]);
    let reply = udp(v1, &question).await;
    assert_eq!(reply.metadata.id, 0x4242);
    assert_eq!(server.listeners(), [("v1".to_string(), v1), ("v2".to_string(), v2)]);
    let stats = server.stats();
    assert_eq!((stats.udp_queries, stats.tcp_queries, stats.responses.no_error), (3, 2, 5));
    server.shutdown().await;
    assert!(server.listeners().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_changes_are_visible_to_the_next_query() {
    let (server, catalog) = start(config());
    let v1 = server.serve_view("v1", loopback()).await.unwrap();
    let question = query("sa1.privatelink.blob.core.windows.net.", RecordType::A);
    assert_eq!(a_of(&udp(v1, &question).await), ["10.0.0.4"]);
    catalog.write().upsert_record_set("blob", "sa1", Type::A, set(10, vec![a([10, 0, 0, 5])]));
    assert_eq!(a_of(&udp(v1, &question).await), ["10.0.0.5"]);
    catalog.write().remove_link("l1");
    assert_eq!(a_of(&udp(v1, &question).await), ["20.0.0.1"]);
    catalog.write().remove_view("v1");
    assert_eq!(udp(v1, &question).await.metadata.response_code, ResponseCode::Refused);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serving_again_is_a_no_op_or_a_move_and_stopping_closes_the_sockets() {
    let (server, _) = start(config());
    let first = server.serve_view("v1", loopback()).await.unwrap();
    assert_eq!(server.serve_view("v1", first).await.unwrap(), first, "same address: no-op");
    assert_eq!(server.serve_view("v1", loopback()).await.unwrap(), first, "port 0 on the same IP: no-op");
    let moved = server.serve_view("v1", "127.0.0.2:0".parse().unwrap()).await.unwrap();
    assert_ne!(moved, first);
    assert_eq!(server.listeners(), [("v1".to_string(), moved)]);
    assert!(TcpStream::connect(first).await.is_err(), "the old listener is closed");
    let question = query("sa1.blob.core.windows.net.", RecordType::A);
    assert_eq!(a_of(&tcp(moved, &question).await), ["10.0.0.4"]);

    // An open connection is closed with its view.
    let mut open = TcpStream::connect(moved).await.unwrap();
    write_framed(&mut open, &bytes(&question)).await;
    read_framed(&mut open).await.unwrap();
    server.stop_view("v1").await;
    closed_by_server(&mut open).await;
    assert!(server.listeners().is_empty());
    // Closed when stop_view returns: refused at once.
    assert!(TcpStream::connect(moved).await.is_err(), "TCP still accepting after stop_view");
    assert!(udp_exchange(moved, &bytes(&question)).await.is_err(), "UDP still answering after stop_view");
    // The address can be served again at once.
    assert_eq!(server.serve_view("v1", moved).await.unwrap(), moved);
    assert_eq!(a_of(&udp(moved, &question).await), ["10.0.0.4"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_held_by_another_socket_is_refused_not_shared() {
    // Another socket of this user holds the port with SO_REUSEPORT: the kernel would let the
    // view's (SO_REUSEPORT) sockets join it and split the queries; the server refuses instead.
    use socket2::{Domain, Socket, Type};
    let other = Socket::new(Domain::IPV4, Type::DGRAM, None).unwrap();
    other.set_reuse_port(true).unwrap();
    other.bind(&loopback().into()).unwrap();
    let held = other.local_addr().unwrap().as_socket().unwrap();
    let (server, _) = start(config());
    let error = server.serve_view("v1", held).await.unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::AddrInUse, "{error}");
    assert!(server.listeners().is_empty());
    // Port 0 picks a port nobody holds.
    let bound = server.serve_view("v1", loopback()).await.unwrap();
    assert_ne!(bound.port(), held.port());
    let question = query("sa1.blob.core.windows.net.", RecordType::A);
    assert_eq!(a_of(&udp(bound, &question).await), ["10.0.0.4"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_names_are_forwarded_and_cname_chains_spliced() {
    let upstream = fake_upstream(Upstream::Answers).await;
    let (server, _) = start(ServerConfig { upstream: Some(upstream), ..config() });
    let v1 = server.serve_view("v1", loopback()).await.unwrap();

    let direct = query("www.example.org.", RecordType::A);
    for reply in [udp(v1, &direct).await, tcp(v1, &direct).await] {
        assert_eq!(reply.metadata.id, 0x4242);
        assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
        assert_eq!(reply.queries, direct.queries);
        assert_eq!(answers(&reply), ["www.example.org. a 93.184.216.34"]);
    }

    let chained = with_edns(query("out.privatelink.blob.core.windows.net.", RecordType::A), 1232);
    for reply in [udp(v1, &chained).await, tcp(v1, &chained).await] {
        assert_eq!(reply.metadata.id, 0x4242);
        assert_eq!(
            answers(&reply),
            ["out.privatelink.blob.core.windows.net. cname www.example.org.", "www.example.org. a 93.184.216.34"]
        );
        assert!(reply.edns.is_some());
    }
    assert_eq!(server.stats().forwarded, 4);

    // Names privlink answers are not forwarded.
    assert_eq!(
        udp(v1, &query("nope.blob.core.windows.net.", RecordType::A)).await.metadata.response_code,
        ResponseCode::NXDomain
    );
    assert_eq!(server.stats().forwarded, 4);

    let looked_up = server.lookup_upstream("www.example.org", RecordType::A).await.unwrap().unwrap();
    assert_eq!(looked_up.0, Rcode::NoError);
    assert_eq!(looked_up.1[0].data, a([93, 184, 216, 34]));
    let explained = server.explain("v1", "out.privatelink.blob.core.windows.net", RecordType::A).await;
    assert_eq!(explained.answers.len(), 2);
    assert_eq!(explained.steps.last().map(|s| s.kind), Some(StepKind::Forward));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_upstream_means_servfail_and_no_upstream_means_refused() {
    let silent = fake_upstream(Upstream::Silent).await;
    let config = ServerConfig { upstream: Some(silent), upstream_timeout: Duration::from_millis(200), ..config() };
    let (server, _) = start(config);
    let v1 = server.serve_view("v1", loopback()).await.unwrap();
    let question = query("www.example.org.", RecordType::A);
    let started = Instant::now();
    let (over_udp, over_tcp) = tokio::join!(udp(v1, &question), tcp(v1, &question));
    assert!(started.elapsed() < Duration::from_secs(2));
    for reply in [over_udp, over_tcp] {
        assert_eq!((reply.metadata.id, reply.metadata.response_code), (0x4242, ResponseCode::ServFail));
    }
    // The loop kept answering while the upstream was being waited for.
    assert_eq!(server.stats().upstream_failures, 2);
    assert!(server.lookup_upstream("www.example.org", RecordType::A).await.is_err());

    let (unforwarded, _) = start(self::config());
    let v1 = unforwarded.serve_view("v1", loopback()).await.unwrap();
    for reply in [udp(v1, &question).await, tcp(v1, &question).await] {
        assert_eq!((reply.metadata.id, reply.metadata.response_code), (0x4242, ResponseCode::Refused));
    }
    assert!(unforwarded.lookup_upstream("www.example.org", RecordType::A).await.unwrap().is_none());
    let explained = unforwarded.explain("v1", "www.example.org", RecordType::A).await;
    assert_eq!((explained.rcode, explained.steps.last().map(|s| s.kind)), (Rcode::Refused, Some(StepKind::Refused)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_over_udp_does_not_stop_the_server() {
    let (server, _) = start(config());
    let v1 = server.serve_view("v1", loopback()).await.unwrap();
    let socket = UdpSocket::bind(loopback()).await.unwrap();
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..1000 {
        let len = (next() % 700) as usize;
        let packet: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        socket.send_to(&packet, v1).await.unwrap();
    }
    // Like any UDP client, retry: under load the kernel drops what overflows the socket buffer,
    // and the question may arrive while the buffer is still full of garbage.
    let question = bytes(&query("sa1.blob.core.windows.net.", RecordType::A));
    let mut reply = None;
    for _ in 0..5 {
        if let Ok(answer) = udp_exchange(v1, &question).await {
            reply = Some(parse(&answer));
            break;
        }
    }
    assert_eq!(a_of(&reply.expect("no answer after the garbage")), ["10.0.0.4"]);
    let stats = server.stats();
    assert!(stats.malformed > 0 && stats.udp_queries > 1, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_garbage_and_empty_messages_close_the_connection() {
    let (server, _) = start(config());
    let v1 = server.serve_view("v1", loopback()).await.unwrap();

    let mut garbage = TcpStream::connect(v1).await.unwrap();
    write_framed(&mut garbage, &[0xbe, 0xef, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0xff]).await;
    let reply = parse(&read_framed(&mut garbage).await.unwrap());
    assert_eq!((reply.metadata.id, reply.metadata.response_code), (0xbeef, ResponseCode::FormErr));
    closed_by_server(&mut garbage).await;

    let mut empty = TcpStream::connect(v1).await.unwrap();
    empty.write_all(&[0, 0]).await.unwrap();
    closed_by_server(&mut empty).await;

    // Several queries on one connection are answered in order.
    let mut pipelined = TcpStream::connect(v1).await.unwrap();
    for id in 1..=3u16 {
        let mut question = query("sa1.blob.core.windows.net.", RecordType::A);
        question.metadata.id = id;
        write_framed(&mut pipelined, &bytes(&question)).await;
    }
    for id in 1..=3u16 {
        assert_eq!(parse(&read_framed(&mut pipelined).await.unwrap()).metadata.id, id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_half_open_clients_are_closed() {
    let idle = Duration::from_millis(300);
    let (server, _) = start(ServerConfig { tcp_idle_timeout: idle, ..config() });
    let v1 = server.serve_view("v1", loopback()).await.unwrap();

    let mut silent = TcpStream::connect(v1).await.unwrap();
    let waited = closed_by_server(&mut silent).await;
    assert!(waited >= Duration::from_millis(250), "{waited:?}");

    // A length prefix promising more than ever comes.
    let mut half = TcpStream::connect(v1).await.unwrap();
    half.write_all(&[0, 50, 1, 2, 3]).await.unwrap();
    closed_by_server(&mut half).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_stalls_no_one() {
    let (server, _) = start(ServerConfig { tcp_idle_timeout: Duration::from_millis(500), ..config() });
    let v1 = server.serve_view("v1", loopback()).await.unwrap();
    let big = bytes(&query("big.privatelink.blob.core.windows.net.", RecordType::TXT));
    // A small receive buffer, so the server's writes block soon.
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut hog = socket.connect(v1).await.unwrap();
    let mut framed = Vec::new();
    for _ in 0..2000 {
        framed.extend_from_slice(&(big.len() as u16).to_be_bytes());
        framed.extend_from_slice(&big);
    }
    // Writing may itself block once the server stops reading; give it a bounded try.
    let _ = timeout(Duration::from_secs(1), hog.write_all(&framed)).await;
    let question = query("sa1.blob.core.windows.net.", RecordType::A);
    assert_eq!(a_of(&tcp(v1, &question).await), ["10.0.0.4"]);
    assert_eq!(a_of(&udp(v1, &question).await), ["10.0.0.4"]);
    // Its task ends once a write has waited past the idle timeout.
    let deadline = Instant::now() + WAIT;
    while server.stats().tcp_connections_open > 0 {
        assert!(Instant::now() < deadline, "the hog's connection is still open: {:?}", server.stats());
        sleep(Duration::from_millis(50)).await;
    }
    drop(hog);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_limit_are_closed_at_once() {
    let (server, _) = start(ServerConfig { max_tcp_connections: 2, ..config() });
    let v1 = server.serve_view("v1", loopback()).await.unwrap();
    let question = query("sa1.blob.core.windows.net.", RecordType::A);
    let mut first = TcpStream::connect(v1).await.unwrap();
    let mut second = TcpStream::connect(v1).await.unwrap();
    for stream in [&mut first, &mut second] {
        write_framed(stream, &bytes(&question)).await;
        read_framed(stream).await.unwrap();
    }
    let mut third = TcpStream::connect(v1).await.unwrap();
    let waited = closed_by_server(&mut third).await;
    assert!(waited < Duration::from_secs(1));
    assert_eq!(server.stats().tcp_connections_refused, 1);
    assert_eq!(server.stats().tcp_connections_open, 2);

    // Room again once one closes.
    drop(first);
    let deadline = Instant::now() + WAIT;
    while server.stats().tcp_connections_open > 1 {
        assert!(Instant::now() < deadline);
        sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(a_of(&tcp(v1, &question).await), ["10.0.0.4"]);
    // UDP is unaffected by the TCP limit.
    assert_eq!(a_of(&udp(v1, &question).await), ["10.0.0.4"]);
}
