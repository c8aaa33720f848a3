//! What the bench client and its backend say to each other, and how the client reaches the
//! backend along a path: straight to an address (the backend itself, an endpoint's listener,
//! haproxy's frontend), or through an HTTP proxy with one CONNECT per connection.
//!
//! Every connection starts with a 9-byte header from the client: a command byte and a u64
//! (little-endian) byte count. The backend then echoes (small or large buffer), sends `count`
//! bytes and ends its side, or swallows `count` bytes and answers with the count (8 bytes).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

pub const HEADER_LEN: usize = 9;
/// The longest a proxy's answer to CONNECT may be.
const MAX_PROXY_HEAD: usize = 4096;
/// How long connecting (and a proxy's answer) may take before a connection counts as failed.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Echo everything until the client ends its side, through a small buffer (request/response
    /// and connection churn: no large allocation per connection).
    Echo,
    /// Echo through a large buffer (bulk both ways).
    BulkEcho,
    /// Send `count` bytes, end the write side, then wait for the client to close.
    Download,
    /// Read `count` bytes, then answer with the count.
    Upload,
}

impl Command {
    fn byte(self) -> u8 {
        match self {
            Command::Echo => b'e',
            Command::BulkEcho => b'E',
            Command::Download => b'D',
            Command::Upload => b'U',
        }
    }
}

pub fn header(command: Command, count: u64) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[0] = command.byte();
    h[1..].copy_from_slice(&count.to_le_bytes());
    h
}

pub fn parse_header(h: &[u8; HEADER_LEN]) -> io::Result<(Command, u64)> {
    let command = match h[0] {
        b'e' => Command::Echo,
        b'E' => Command::BulkEcho,
        b'D' => Command::Download,
        b'U' => Command::Upload,
        other => return Err(io::Error::new(io::ErrorKind::InvalidData, format!("unknown command {other:#04x}"))),
    };
    let mut count = [0u8; 8];
    count.copy_from_slice(&h[1..]);
    Ok((command, u64::from_le_bytes(count)))
}

/// One way to the backend: `NAME=IP:PORT` (straight there), or `NAME=HOST:PORT@PROXY_IP:PORT`
/// (an HTTP CONNECT to HOST:PORT through the proxy). Addresses connected to must be loopback.
#[derive(Clone, Debug)]
pub struct Path {
    pub name: String,
    /// Where the client connects.
    pub addr: SocketAddr,
    /// What a proxy is asked to CONNECT to, if `addr` is a proxy.
    pub via: Option<String>,
}

pub fn path(text: &str) -> Result<Path, String> {
    let (name, spec) = text.split_once('=').ok_or("expected NAME=IP:PORT or NAME=HOST:PORT@PROXY_IP:PORT")?;
    if name.is_empty() {
        return Err("a path needs a name".into());
    }
    let (via, addr) = match spec.rsplit_once('@') {
        Some((target, proxy)) => {
            let (host, port) = target.rsplit_once(':').ok_or_else(|| format!("{target}: expected HOST:PORT"))?;
            if host.is_empty() || port.parse::<u16>().map_or(true, |p| p == 0) {
                return Err(format!("{target}: expected HOST:PORT"));
            }
            (Some(target.to_string()), proxy)
        }
        None => (None, spec),
    };
    let addr: SocketAddr = addr.parse().map_err(|e| format!("{addr}: {e}"))?;
    if !addr.ip().is_loopback() {
        return Err(format!("{addr} is not a loopback address: the benchmark stays on this machine"));
    }
    Ok(Path { name: name.to_string(), addr, via })
}

impl std::fmt::Display for Path {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.via {
            Some(target) => write!(f, "{target} via proxy {}", self.addr),
            None => write!(f, "{}", self.addr),
        }
    }
}

/// A blocking connection along `path`, with TCP_NODELAY (as the gateway and haproxy set on
/// their sides), ready for the header.
pub fn connect(path: &Path) -> io::Result<TcpStream> {
    let mut stream = TcpStream::connect_timeout(&path.addr, CONNECT_TIMEOUT)?;
    stream.set_nodelay(true)?;
    if let Some(target) = &path.via {
        stream.set_read_timeout(Some(CONNECT_TIMEOUT))?;
        stream.write_all(connect_request(target).as_bytes())?;
        let status = read_proxy_head(&mut stream)?;
        if status != 200 {
            return Err(io::Error::new(io::ErrorKind::ConnectionRefused, format!("the proxy answered {status}")));
        }
        stream.set_read_timeout(None)?;
    }
    Ok(stream)
}

pub fn connect_request(target: &str) -> String {
    format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n")
}

/// Reads a proxy's answer head and returns its status. Nothing follows the head before the
/// client sends (the backend speaks only when spoken to; a refusal closes), so reading in
/// chunks cannot swallow tunnel bytes.
fn read_proxy_head(stream: &mut TcpStream) -> io::Result<u16> {
    let mut head = Vec::with_capacity(128);
    let mut chunk = [0u8; 512];
    while !head.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut chunk)?;
        if n == 0 || head.len() + n > MAX_PROXY_HEAD {
            let text = String::from_utf8_lossy(&head).into_owned();
            return Err(io::Error::new(io::ErrorKind::InvalidData, format!("no proxy answer: {text:?}")));
        }
        head.extend_from_slice(&chunk[..n]);
    }
    Ok(status_of(&head))
}

/// The status code of an HTTP response head (0 when there is none).
pub fn status_of(head: &[u8]) -> u16 {
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let text = String::from_utf8_lossy(line);
    text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_read_both_forms_and_stay_on_loopback() {
        let direct = path("direct=127.0.0.1:9000").unwrap();
        assert_eq!((direct.name.as_str(), direct.addr.port(), direct.via.as_deref()), ("direct", 9000, None));
        let proxy = path("proxy=sa.blob.core.windows.net:443@127.77.0.1:3128").unwrap();
        assert_eq!(proxy.via.as_deref(), Some("sa.blob.core.windows.net:443"));
        assert_eq!(proxy.addr, "127.77.0.1:3128".parse().unwrap());
        assert!(path("x=10.0.0.1:80").is_err());
        assert!(path("127.0.0.1:80").is_err());
        assert!(path("p=host@127.0.0.1:80").is_err());
        assert!(path("p=host:0@127.0.0.1:80").is_err());
    }

    #[test]
    fn headers_round_trip() {
        for (command, count) in [(Command::Echo, 0), (Command::Download, 1 << 40), (Command::Upload, 7)] {
            assert_eq!(parse_header(&header(command, count)).unwrap(), (command, count));
        }
        assert!(parse_header(&[b'x'; HEADER_LEN]).is_err());
        assert_eq!(status_of(b"HTTP/1.1 403 Forbidden\r\n\r\n"), 403);
        assert_eq!(status_of(b""), 0);
    }
}
