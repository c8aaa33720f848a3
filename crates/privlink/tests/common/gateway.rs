//! Real sockets for the data-plane tests: backends (an echo server, a tiny HTTP server), clients
//! that sit in a VNet through its proxy (HTTP CONNECT or SOCKS5, written out here so the tests
//! see every byte), and the addresses privlink publishes for its proxies and listeners.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::Server;

const TIMEOUT: Duration = Duration::from_secs(5);

/// An echo server on 127.0.0.1 (a free port): every byte comes back.
pub async fn echo_backend() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binding the echo backend");
    let addr = listener.local_addr().expect("echo backend address");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = stream.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    addr
}

/// An HTTP/1.1 server on 127.0.0.1 answering every request with `body` (and closing).
pub async fn http_backend(body: &'static str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binding the HTTP backend");
    let addr = listener.local_addr().expect("HTTP backend address");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(reply.as_bytes()).await;
            });
        }
    });
    addr
}

/// Why a proxy refused: the HTTP status (or SOCKS5 reply code) and the reason it gave.
#[derive(Debug, Clone, PartialEq)]
pub struct Refused {
    pub code: u16,
    pub reason: String,
}

/// `CONNECT host:port` through an HTTP proxy, optionally as proxy user `user`.
pub async fn connect_http(proxy: SocketAddr, host: &str, port: u16, user: Option<&str>) -> Result<TcpStream, Refused> {
    use base64::Engine as _;
    let mut stream = TcpStream::connect(proxy).await.map_err(|e| Refused { code: 0, reason: e.to_string() })?;
    let mut request = format!("CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n");
    if let Some(user) = user {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:x"));
        request.push_str(&format!("Proxy-Authorization: Basic {token}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.map_err(|e| Refused { code: 0, reason: e.to_string() })?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match tokio::time::timeout(TIMEOUT, stream.read(&mut byte)).await {
            Ok(Ok(1)) => head.push(byte[0]),
            _ => return Err(Refused { code: 0, reason: format!("no answer: {}", String::from_utf8_lossy(&head)) }),
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let code: u16 = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    if code == 200 {
        return Ok(stream);
    }
    let reason = head
        .lines()
        .find_map(|l| l.strip_prefix("X-Privlink-Refusal:").or_else(|| l.strip_prefix("x-privlink-refusal:")))
        .map(|r| r.trim().to_string())
        .unwrap_or(head);
    Err(Refused { code, reason })
}

/// SOCKS5 CONNECT to a domain name, optionally with user/password authentication.
pub async fn connect_socks(proxy: SocketAddr, host: &str, port: u16, user: Option<&str>) -> Result<TcpStream, Refused> {
    let fail = |e: std::io::Error| Refused { code: 0, reason: e.to_string() };
    let mut s = TcpStream::connect(proxy).await.map_err(fail)?;
    let method = if user.is_some() { 0x02 } else { 0x00 };
    s.write_all(&[0x05, 0x01, method]).await.map_err(fail)?;
    let mut choice = [0u8; 2];
    s.read_exact(&mut choice).await.map_err(fail)?;
    if choice != [0x05, method] {
        return Err(Refused { code: u16::from(choice[1]), reason: "method refused".into() });
    }
    if let Some(user) = user {
        let mut auth = vec![0x01, user.len() as u8];
        auth.extend_from_slice(user.as_bytes());
        auth.extend_from_slice(&[1, b'x']);
        s.write_all(&auth).await.map_err(fail)?;
        let mut status = [0u8; 2];
        s.read_exact(&mut status).await.map_err(fail)?;
        if status[1] != 0 {
            return Err(Refused { code: u16::from(status[1]), reason: "authentication failed".into() });
        }
    }
    let mut request = vec![0x05, 0x01, 0x00, 0x03, host.len() as u8];
    request.extend_from_slice(host.as_bytes());
    request.extend_from_slice(&port.to_be_bytes());
    s.write_all(&request).await.map_err(fail)?;
    let mut reply = [0u8; 4];
    s.read_exact(&mut reply).await.map_err(fail)?;
    let rest = match reply[3] {
        0x01 => 4 + 2,
        0x04 => 16 + 2,
        0x03 => {
            let mut len = [0u8; 1];
            s.read_exact(&mut len).await.map_err(fail)?;
            usize::from(len[0]) + 2
        }
        _ => 0,
    };
    let mut skip = vec![0u8; rest];
    s.read_exact(&mut skip).await.map_err(fail)?;
    if reply[1] == 0 {
        Ok(s)
    } else {
        Err(Refused { code: u16::from(reply[1]), reason: format!("SOCKS5 reply {:#04x}", reply[1]) })
    }
}

/// Send `message` and read it back from an echo backend.
pub async fn echoes(stream: &mut TcpStream, message: &[u8]) -> bool {
    if stream.write_all(message).await.is_err() {
        return false;
    }
    let mut back = vec![0u8; message.len()];
    matches!(tokio::time::timeout(TIMEOUT, stream.read_exact(&mut back)).await, Ok(Ok(_))) && back == message
}

/// How long until the peer closes `stream` (EOF or reset), if it does within `limit`.
pub async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 256];
    loop {
        match tokio::time::timeout(limit.saturating_sub(started.elapsed()), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => continue,
            Err(_) => return None,
        }
    }
}

impl Server {
    /// Where the proxy of the VNet `vnet_id` (or `"internet"`) listens.
    pub async fn proxy(&self, vnet_id: &str) -> SocketAddr {
        self.listed_address("/privlink/gateway/proxies", vnet_id).await
    }

    /// The listener standing for `stands_for` (e.g. `10.1.1.4:443`), if any.
    pub async fn listener(&self, stands_for: &str) -> Option<SocketAddr> {
        let r = self.get("/privlink/gateway/listeners").await;
        assert_eq!(r.status, 200, "listing listeners: {r}");
        r.json["value"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|v| v["standsFor"] == stands_for)
            .and_then(|v| v["address"].as_str())
            .and_then(|a| a.parse().ok())
    }

    /// The gateway's stats entry for the resource `id`.
    pub async fn route_stats(&self, id: &str) -> Value {
        let r = self.get("/privlink/gateway/stats").await;
        assert_eq!(r.status, 200, "gateway stats: {r}");
        r.json["value"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|v| v["resource"].as_str().is_some_and(|r| r.eq_ignore_ascii_case(id)))
            .cloned()
            .unwrap_or(Value::Null)
    }
}
