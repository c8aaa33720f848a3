//! A view's proxy: SOCKS5 and HTTP on one port, told apart by the first byte (0x05 is SOCKS5).
//!
//! A connection goes through three steps: the handshake (within `handshake_timeout`, reading at
//! most `max_http_head` bytes), the decision and backend connect ([`establish`]), and the reply
//! then the splice. Bytes a client sends ahead of the reply (early data after a SOCKS5 request,
//! a request body or a TLS ClientHello after the head) are kept and sent to the backend first.
//! The parsing itself lives in [`crate::socks5`] and [`crate::http`].

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;
use tracing::debug;

use crate::gateway::{accept_loop, Shared};
use crate::http::{self, HttpError};
use crate::policy::{ConnectRequest, Host, Origin, RefusalKind};
use crate::socks5::{self, reply_code};
use crate::stats::EntryCounters;
use crate::tunnel::{establish, splice, Connection};

/// The most read from a client in one call during a handshake.
const READ_CHUNK: usize = 4096;
/// The most discarded from a client, without waiting, before closing after an error reply (so the
/// close is a FIN that lets the reply arrive, not a reset that may destroy it in flight).
const DRAIN_BEFORE_CLOSE: usize = 64 * 1024;

/// The accept task of the proxy of `view`.
pub(crate) async fn accept(shared: Arc<Shared>, view: Arc<str>, socket: TcpListener, instance: u64) {
    let entry = shared.counters.proxy(&view);
    let counted = entry.clone();
    let serve = move |connection, client, peer| serve(connection, client, peer, view.clone(), counted.clone());
    accept_loop(shared, socket, instance, entry, serve).await;
}

/// How the client is answered once the decision is known.
enum Protocol {
    Socks5,
    Connect,
    /// An absolute-form request: its rewritten head goes to the backend, nothing to the client.
    Forward {
        head: Vec<u8>,
    },
}

/// A finished handshake.
struct Handshake {
    protocol: Protocol,
    host: Host,
    port: u16,
    user: Option<String>,
    /// Bytes received after the handshake, for the backend.
    early: Vec<u8>,
}

/// Why a handshake did not finish.
enum Failure {
    /// The client left before sending anything.
    Closed,
    Io(io::Error),
    /// Not a handshake the gateway understands (or it ended midway); `reply` tells the client so.
    Malformed {
        reply: Option<Vec<u8>>,
    },
}

impl From<io::Error> for Failure {
    fn from(error: io::Error) -> Failure {
        Failure::Io(error)
    }
}

async fn serve(
    connection: Connection,
    mut client: TcpStream,
    peer: SocketAddr,
    view: Arc<str>,
    entry: Arc<EntryCounters>,
) {
    let shared = connection.shared().clone();
    let config = &shared.config;
    let counters = &shared.counters;
    let _ = client.set_nodelay(true);
    let handshake = match timeout(config.handshake_timeout, handshake(&mut client, config.max_http_head)).await {
        Ok(Ok(handshake)) => handshake,
        Ok(Err(Failure::Closed)) => return,
        Ok(Err(Failure::Io(error))) => {
            debug!(%view, %peer, %error, "proxy handshake failed");
            return;
        }
        Ok(Err(Failure::Malformed { reply })) => {
            counters.malformed_handshakes.fetch_add(1, Relaxed);
            if let Some(reply) = reply {
                reply_and_close(client, &reply, config.handshake_timeout).await;
            }
            return;
        }
        Err(_) => {
            counters.handshake_timeouts.fetch_add(1, Relaxed);
            return;
        }
    };
    let Handshake { protocol, host, port, user, early } = handshake;
    let request =
        ConnectRequest { origin: Origin::Proxy { view: view.to_string(), user, peer }, host, port, pinned: None };
    let (backend, tunnel) = match establish(&connection, &request).await {
        Ok(established) => established,
        Err(refusal) => {
            debug!(%view, %peer, host = %request.host, port, reason = refusal.reason, "proxy connection refused");
            counters.refusal(&entry, refusal.route.as_deref(), &refusal.reason);
            let reply = refusal_reply(&protocol, refusal.kind, &refusal.reason);
            reply_and_close(client, &reply, config.handshake_timeout).await;
            return;
        }
    };
    let (reply, first) = match protocol {
        Protocol::Socks5 => (socks5::reply(reply_code::SUCCEEDED, backend.local_addr().ok()), early),
        Protocol::Connect => (http::CONNECT_ESTABLISHED.to_vec(), early),
        Protocol::Forward { mut head } => {
            head.extend_from_slice(&early);
            (Vec::new(), head)
        }
    };
    if !reply.is_empty() && !matches!(timeout(config.handshake_timeout, client.write_all(&reply)).await, Ok(Ok(()))) {
        return;
    }
    splice(&tunnel, client, backend, first).await;
}

/// Writes `reply` (within `limit`), ends the write side and closes without waiting for the client.
async fn reply_and_close(mut client: TcpStream, reply: &[u8], limit: Duration) {
    let written = async {
        client.write_all(reply).await?;
        client.shutdown().await
    };
    if !matches!(timeout(limit, written).await, Ok(Ok(()))) {
        return;
    }
    let mut sink = [0u8; READ_CHUNK];
    let mut drained = 0;
    while drained < DRAIN_BEFORE_CLOSE {
        match client.try_read(&mut sink) {
            Ok(read) if read > 0 => drained += read,
            _ => break,
        }
    }
}

/// Reads one more chunk into `buf`, never past `max` bytes in all.
async fn read_more(client: &mut TcpStream, buf: &mut Vec<u8>, max: usize) -> Result<(), Failure> {
    let room = max.saturating_sub(buf.len()).min(READ_CHUNK);
    if room == 0 {
        return Err(Failure::Malformed { reply: None });
    }
    let start = buf.len();
    buf.resize(start + room, 0);
    let read = client.read(&mut buf[start..]).await;
    buf.truncate(start + *read.as_ref().unwrap_or(&0));
    match read {
        Ok(0) if start == 0 => Err(Failure::Closed),
        Ok(0) => Err(Failure::Malformed { reply: None }),
        Ok(_) => Ok(()),
        Err(error) => Err(Failure::Io(error)),
    }
}

async fn handshake(client: &mut TcpStream, max: usize) -> Result<Handshake, Failure> {
    let mut buf = Vec::new();
    read_more(client, &mut buf, max).await?;
    if buf.first() == Some(&socks5::VERSION) {
        socks5_handshake(client, buf, max).await
    } else {
        http_handshake(client, buf, max).await
    }
}

/// Parses the next message at `buf[*pos..]` with `parse`, reading more as needed; a parse error
/// becomes a malformed handshake answered with `reply(error)`.
async fn next_message<T, E>(
    client: &mut TcpStream,
    buf: &mut Vec<u8>,
    pos: &mut usize,
    max: usize,
    parse: impl Fn(&[u8]) -> Result<Option<(T, usize)>, E>,
    reply: impl Fn(E) -> Option<Vec<u8>>,
) -> Result<T, Failure> {
    loop {
        match parse(buf.get(*pos..).unwrap_or_default()) {
            Ok(Some((value, used))) => {
                *pos += used;
                return Ok(value);
            }
            Ok(None) => read_more(client, buf, max).await?,
            Err(error) => return Err(Failure::Malformed { reply: reply(error) }),
        }
    }
}

async fn socks5_handshake(client: &mut TcpStream, mut buf: Vec<u8>, max: usize) -> Result<Handshake, Failure> {
    let mut pos = 0;
    let no_method = || Some(socks5::method_reply(socks5::METHOD_NONE_ACCEPTABLE).to_vec());
    let methods = next_message(client, &mut buf, &mut pos, max, socks5::parse_greeting, |error| match error {
        socks5::Socks5Error::NoMethods => no_method(),
        _ => None,
    })
    .await?;
    let Some(method) = socks5::choose_method(&methods) else { return Err(Failure::Malformed { reply: no_method() }) };
    client.write_all(&socks5::method_reply(method)).await?;
    let user = if method == socks5::METHOD_USER_PASSWORD {
        let user = next_message(client, &mut buf, &mut pos, max, socks5::parse_auth, |_| {
            Some(socks5::auth_reply(false).to_vec())
        })
        .await?;
        client.write_all(&socks5::auth_reply(true)).await?;
        user
    } else {
        None
    };
    let request = next_message(client, &mut buf, &mut pos, max, socks5::parse_request, |error| {
        Some(socks5::reply(error.reply_code(), None))
    })
    .await?;
    buf.drain(..pos);
    Ok(Handshake { protocol: Protocol::Socks5, host: request.host, port: request.port, user, early: buf })
}

async fn http_handshake(client: &mut TcpStream, mut buf: Vec<u8>, max: usize) -> Result<Handshake, Failure> {
    let mut scanned = 0;
    let end = loop {
        if let Some(end) = http::head_end(&buf, scanned) {
            break end;
        }
        if buf.len() >= max {
            return Err(Failure::Malformed { reply: Some(http::error_response(&HttpError::TooLarge(max))) });
        }
        scanned = buf.len();
        read_more(client, &mut buf, max).await?;
    };
    let request = match http::parse_head(&buf[..end]) {
        Ok(request) => request,
        Err(error) => return Err(Failure::Malformed { reply: Some(http::error_response(&error)) }),
    };
    buf.drain(..end);
    let protocol = match request.kind {
        http::Kind::Connect => Protocol::Connect,
        http::Kind::Forward { head } => Protocol::Forward { head },
    };
    Ok(Handshake { protocol, host: request.host, port: request.port, user: request.user, early: buf })
}

/// The reply to a refusal: a SOCKS5 reply code, or an HTTP 403/502 giving the reason.
fn refusal_reply(protocol: &Protocol, kind: RefusalKind, reason: &str) -> Vec<u8> {
    match protocol {
        Protocol::Socks5 => socks5::reply(socks5::refusal_code(kind), None),
        Protocol::Connect | Protocol::Forward { .. } => http::refusal_response(kind, reason),
    }
}
