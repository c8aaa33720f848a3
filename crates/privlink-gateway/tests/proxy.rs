//! A view's proxy over real sockets on loopback: SOCKS5 and HTTP (CONNECT and absolute form) to
//! echo and HTTP backends, refusals with their reasons, passthrough, and stopping.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use privlink_gateway::{Decision, Host, Origin, RefusalKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn origin_user(policy: &TestPolicy) -> (String, Option<String>) {
    match policy.last_request().origin {
        Origin::Proxy { view, user, .. } => (view, user),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socks5_without_auth_to_an_ipv4_address() {
    let policy = TestPolicy::new();
    let gateway = gateway(&policy);
    let echo = echo_backend().await;
    let proxy = gateway.serve_proxy("v1", loopback()).await.unwrap();
    let target: SocketAddr = "10.0.0.4:443".parse().unwrap();
    policy.forward("10.0.0.4", 443, "pe-1", echo);

    let (mut stream, code) = socks5(proxy, Target::Ip(target), None).await;
    assert_eq!(code, 0);
    echo_round_trip(&mut stream, b"hello through socks").await;
    let request = policy.last_request();
    assert_eq!((request.host, request.port), (Host::Ip(target.ip()), 443));
    let Origin::Proxy { view, user, peer } = request.origin else { panic!() };
    assert_eq!((view.as_str(), user, peer), ("v1", None, stream.local_addr().unwrap()));
    drop(stream);
    let stats = stats_until(&gateway, |s| s.totals.connections_open == 0).await;
    assert_eq!(stats.routes["pe-1"].bytes_from_client, 19);
    assert_eq!(stats.routes["pe-1"].bytes_to_client, 19);
    assert_eq!(stats.proxies["v1"].connections_accepted, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socks5_with_user_and_password_to_a_domain() {
    let policy = TestPolicy::new();
    let gateway = gateway(&policy);
    let echo = echo_backend().await;
    let proxy = gateway.serve_proxy("v1", loopback()).await.unwrap();
    policy.forward("sa1.blob.core.windows.net", 443, "pe-1", echo);

    let target = Target::Domain("SA1.Blob.Core.Windows.Net", 443);
    let (mut stream, code) = socks5(proxy, target, Some(("snet-apps", "ignored"))).await;
    assert_eq!(code, 0);
    echo_round_trip(&mut stream, b"hi").await;
    assert_eq!(origin_user(&policy), ("v1".to_string(), Some("snet-apps".to_string())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socks5_to_an_ipv6_address_and_a_proxy_on_ipv6_loopback() {
    let policy = TestPolicy::new();
    let gateway = gateway(&policy);
    let echo = echo_backend().await;
    let proxy = gateway.serve_proxy("v6", "[::1]:0".parse().unwrap()).await.unwrap();
    policy.forward("[fd00::4]", 8443, "pe-6", echo);
    let (mut stream, code) = socks5(proxy, Target::Ip("[fd00::4]:8443".parse().unwrap()), None).await;
    assert_eq!(code, 0);
    echo_round_trip(&mut stream, b"six").await;
    let Origin::Proxy { peer, .. } = policy.last_request().origin else { panic!() };
    assert!(peer.is_ipv6());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socks5_refusals_map_to_reply_codes_and_close() {
    let policy = TestPolicy::new();
    let gateway = gateway(&policy);
    let proxy = gateway.serve_proxy("v1", loopback()).await.unwrap();
    let nowhere = closed_port().await;
    policy.refuse("denied.example", 1, Some("pe-1"), RefusalKind::NotAllowed, "rejected");
    policy.forward("down.example", 1, "pe-2", nowhere);
    let cases = [
        ("denied.example", 0x02),
        ("unknown.example", 0x04), // the test policy's default: Unreachable, no route
        ("down.example", 0x05),
    ];
    for (name, expected) in cases {
        let (mut stream, code) = socks5(proxy, Target::Domain(name, 1), None).await;
        assert_eq!(code, expected, "{name}");
        assert_eq!(closed_by_peer(&mut stream).await.0, Closed::Eof, "{name}");
    }
    let stats = gateway.stats();
    assert_eq!(stats.totals.refusals, 3);
    assert_eq!(stats.proxies["v1"].refusals, 3);
    assert_eq!(stats.routes["pe-1"].refusals_by_reason["rejected"], 1);
    let reason = &stats.routes["pe-2"].last_refusal.as_ref().unwrap().reason;
    assert!(reason.starts_with(&format!("backend {nowhere} unreachable: ")), "{reason}");
    assert!(!stats.routes.contains_key("unknown"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socks5_clients_that_do_not_follow_the_protocol_get_an_error_reply() {
    let policy = TestPolicy::new();
    let gateway = gateway(&policy);
    let proxy = gateway.serve_proxy("v1", loopback()).await.unwrap();

    // Only GSSAPI offered: "no acceptable methods".
    let mut stream = TcpStream::connect(proxy).await.unwrap();
    stream.write_all(&[5, 1, 1]).await.unwrap();
    assert_eq!(read_to_end(&mut stream).await, [5, 0xff]);

    // BIND: "command not supported".
    let mut stream = TcpStream::connect(proxy).await.unwrap();
    stream.write_all(&[5, 1, 0, 5, 2, 0, 1, 127, 0, 0, 1, 0, 80]).await.unwrap();
    let reply = read_to_end(&mut stream).await;
    assert_eq!(&reply[..4], [5, 0, 5, 7]);

    let stats = stats_until(&gateway, |s| s.totals.malformed_handshakes == 2).await;
    assert_eq!(stats.totals.refusals, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socks5_pipelined_handshake_and_early_data_reach_the_backend() {
    let policy = TestPolicy::new();
    let gateway = gateway(&policy);
    let echo = echo_backend().await;
    let proxy = gateway.serve_proxy("v1", loopback()).await.unwrap();
    policy.forward("e.example", 7, "pe-1", echo);
    let mut stream = TcpStream::connect(proxy).await.unwrap();
    let auth = [&[1u8, 1, b'u', 1, b'p'][..]].concat();
    let all = [&[5u8, 1, 2][..], &auth, &socks5_request(Target::Domain("e.example", 7)), b"early"].concat();
    stream.write_all(&all).await.unwrap();
    let mut replies = [0u8; 4];
    stream.read_exact(&mut replies).await.unwrap();
    assert_eq!(replies, [5, 2, 1, 0]);
    assert_eq!(read_socks5_reply(&mut stream).await, 0);
    let mut early = [0u8; 5];
    stream.read_exact(&mut early).await.unwrap();
    assert_eq!(&early, b"early");
    assert_eq!(origin_user(&policy).1.as_deref(), Some("u"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_connect_tunnels_and_passes_the_proxy_user() {
    let policy = TestPolicy::new();
    let gateway = gateway(&policy);
    let echo = echo_backend().await;
    let proxy = gateway.serve_proxy("v1", loopback()).await.unwrap();
    policy.forward("sa1.blob.core.windows.net", 443, "pe-1", echo);
    // "snet-apps:x" in base64.
    let head = "CONNECT sa1.blob.core.windows.net:443 HTTP/1.1\r\nHost: sa1.blob.core.windows.net:443\r\n\
                Proxy-Authorization: Basic c25ldC1hcHBzOng=\r\n\r\nclient hello";
    let (mut stream, response) = http_request(proxy, head).await;
    assert_eq!(response, "HTTP/1.1 200 Connection established\r\n\r\n");
    let mut early = [0u8; 12];
    stream.read_exact(&mut early).await.unwrap();
    assert_eq!(&early, b"client hello", "bytes sent ahead of the 200 reach the backend");
    echo_round_trip(&mut stream, b"more").await;
    assert_eq!(origin_user(&policy), ("v1".to_string(), Some("snet-apps".to_string())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_connect_to_an_ipv6_literal() {
    let policy = TestPolicy::new();
    let gateway = gateway(&policy);
    let echo = echo_backend().await;
    let proxy = gateway.serve_proxy("v1", loopback()).await.unwrap();
    policy.forward("[::1]", 9443, "pe-6", echo);
    let (mut stream, response) = http_request(proxy, "CONNECT [::1]:9443 HTTP/1.1\r\n\r\n").await;
    assert!(response.starts_with("HTTP/1.1 200 "), "{response}");
    echo_round_trip(&mut stream, b"v6").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_refusals_carry_the_reason() {
    let policy = TestPolicy::new();
    let gateway = gateway(&policy);
    let proxy = gateway.serve_proxy("v1", loopback()).await.unwrap();
    policy.refuse("sa1.example", 443, Some("pe-1"), RefusalKind::NotAllowed, "connection Pending on pe-1");

    let (mut stream, response) = http_request(proxy, "CONNECT sa1.example:443 HTTP/1.1\r\n\r\n").await;
    assert!(response.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{response}");
    assert!(response.contains("\r\nContent-Type: text/plain\r\n"), "{response}");
    assert!(response.contains("\r\nX-Privlink-Refusal: connection Pending on pe-1\r\n"), "{response}");
    assert!(response.contains("\r\nConnection: close\r\n"), "{response}");
    assert_eq!(read_to_end(&mut stream).await, b"connection Pending on pe-1\n");

    let (mut stream, response) = http_request(proxy, "GET http://unknown.example/x HTTP/1.1\r\n\r\n").await;
    assert!(response.starts_with("HTTP/1.1 502 Bad Gateway\r\n"), "{response}");
    assert!(response.contains("X-Privlink-Refusal: no route to unknown.example:80\r\n"), "{response}");
    assert_eq!(read_to_end(&mut stream).await, b"no route to unknown.example:80\n");

    let nowhere = closed_port().await;
    policy.forward("down.example", 443, "pe-2", nowhere);
    let (_, response) = http_request(proxy, "CONNECT down.example:443 HTTP/1.1\r\n\r\n").await;
    assert!(response.starts_with("HTTP/1.1 502 Bad Gateway\r\n"), "{response}");
    assert!(response.contains(&format!("X-Privlink-Refusal: backend {nowhere} unreachable: ")), "{response}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absolute_form_get_is_forwarded_as_one_origin_form_request() {
    let policy = TestPolicy::new();
    let gateway = gateway(&policy);
    let backend = http_backend().await;
    let proxy = gateway.serve_proxy("v1", loopback()).await.unwrap();
    policy.forward("api.example", 80, "pe-1", backend);
    policy.forward("api.example", 8080, "pe-1", backend);

    let head = "GET http://api.example/things?x=1 HTTP/1.1\r\nHost: api.example\r\nAccept: */*\r\n\
                Proxy-Authorization: Basic dTpw\r\nProxy-Connection: Keep-Alive\r\n\r\n";
    let (mut stream, response) = http_request(proxy, head).await;
    assert!(response.starts_with("HTTP/1.0 200 OK\r\n") && response.contains("X-Backend: yes"), "{response}");
    let body = String::from_utf8(read_to_end(&mut stream).await).unwrap();
    assert_eq!(body, "GET /things?x=1 HTTP/1.1\r\nHost: api.example\r\nAccept: */*\r\nConnection: close\r\n\r\n");
    assert_eq!(origin_user(&policy).1.as_deref(), Some("u"));
    // The backend has closed; the gateway waits for the client to close its side too.
    drop(stream);

    let (mut stream, _) = http_request(proxy, "GET http://api.example:8080 HTTP/1.0\r\n\r\n").await;
    let body = String::from_utf8(read_to_end(&mut stream).await).unwrap();
    assert_eq!(body, "GET / HTTP/1.0\r\nHost: api.example:8080\r\nConnection: close\r\n\r\n");
    drop(stream);
    let stats = stats_until(&gateway, |s| s.totals.connections_open == 0).await;
    assert_eq!(stats.routes["pe-1"].connections_total, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_http_gets_400_and_oversized_heads_431() {
    let policy = TestPolicy::new();
    let gateway = gateway(&policy);
    let proxy = gateway.serve_proxy("v1", loopback()).await.unwrap();
    let (_, response) = http_request(proxy, "GET / HTTP/1.1\r\nHost: a\r\n\r\n").await;
    assert!(response.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{response}");
    let (_, response) = http_request(proxy, "CONNECT a.example HTTP/1.1\r\n\r\n").await;
    assert!(response.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{response}");
    let huge = format!("CONNECT a.example:1 HTTP/1.1\r\nX: {}\r\n\r\n", "y".repeat(20_000));
    let mut stream = TcpStream::connect(proxy).await.unwrap();
    let _ = stream.write_all(huge.as_bytes()).await; // may fail once the proxy closes
    let response = read_head(&mut stream).await;
    assert!(response.starts_with("HTTP/1.1 431 "), "{response}");
    let stats = gateway.stats();
    assert_eq!(stats.totals.malformed_handshakes, 3);
    assert!(policy.requests.lock().is_empty(), "nothing malformed reaches the policy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passthrough_connects_straight_to_the_address() {
    let policy = TestPolicy::new();
    let gateway = gateway(&policy);
    let echo = echo_backend().await;
    let proxy = gateway.serve_proxy("v1", loopback()).await.unwrap();
    policy.set("127.0.0.1", 8443, Decision::Passthrough { addr: echo });
    let (mut stream, response) = http_request(proxy, "CONNECT 127.0.0.1:8443 HTTP/1.1\r\n\r\n").await;
    assert!(response.starts_with("HTTP/1.1 200 "), "{response}");
    echo_round_trip(&mut stream, b"api call").await;
    drop(stream);
    let stats = stats_until(&gateway, |s| s.totals.connections_open == 0).await;
    assert!(stats.routes.is_empty());
    assert_eq!(stats.totals.passthrough_total, 1);
    assert_eq!((stats.totals.bytes_from_client, stats.totals.bytes_to_client), (8, 8));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_a_proxy_closes_its_handshakes_but_not_its_tunnels() {
    let policy = TestPolicy::new();
    let gateway = gateway(&policy);
    let echo = echo_backend().await;
    let proxy = gateway.serve_proxy("v1", loopback()).await.unwrap();
    policy.forward("e.example", 7, "pe-1", echo);
    let (mut tunnel, response) = http_request(proxy, "CONNECT e.example:7 HTTP/1.1\r\n\r\n").await;
    assert!(response.starts_with("HTTP/1.1 200 "));
    let mut handshake = TcpStream::connect(proxy).await.unwrap();
    handshake.write_all(b"CONNECT e.example:7 HTTP/1.1\r\n").await.unwrap();
    stats_until(&gateway, |s| s.totals.connections_open == 2).await;

    gateway.stop_proxy("v1").await;
    assert!(gateway.proxies().is_empty());
    let (_, after) = closed_by_peer(&mut handshake).await;
    assert!(after < Duration::from_millis(400), "closed by stop_proxy, not by the handshake timeout: {after:?}");
    echo_round_trip(&mut tunnel, b"still open").await;
    assert_eq!(gateway.stats().totals.handshake_timeouts, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serving_a_proxy_again_is_a_no_op_or_a_move() {
    let policy = TestPolicy::new();
    let gateway = gateway(&policy);
    let first = gateway.serve_proxy("v1", loopback()).await.unwrap();
    assert_eq!(gateway.serve_proxy("v1", loopback()).await.unwrap(), first);
    let moved = gateway.serve_proxy("v1", "127.0.0.3:0".parse().unwrap()).await.unwrap();
    assert_eq!(gateway.proxies(), vec![("v1".to_string(), moved)]);
    assert!(TcpStream::connect(first).await.is_err());
    let (_, response) = http_request(moved, "CONNECT nowhere.example:1 HTTP/1.1\r\n\r\n").await;
    assert!(response.starts_with("HTTP/1.1 502 "), "{response}");
}
