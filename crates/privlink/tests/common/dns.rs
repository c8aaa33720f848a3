//! Real DNS packets for the tests: queries built with hickory-proto, sent over UDP or TCP to a
//! VNet's resolver (found through `/privlink/dns/resolvers`), answers parsed back.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use super::Server;

const TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

pub const BOTH: [Transport; 2] = [Transport::Udp, Transport::Tcp];

/// A query for `name` and `rtype` with recursion desired, as a stub resolver sends it.
pub fn query_message(name: &str, rtype: RecordType) -> Message {
    let mut m = Message::new(rand_id(), MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    let name = Name::from_ascii(name).unwrap_or_else(|e| panic!("bad name {name}: {e}"));
    m.add_query(Query::query(name, rtype));
    m
}

fn rand_id() -> u16 {
    (uuid::Uuid::new_v4().as_u128() & 0xffff) as u16
}

/// Send raw bytes over UDP and wait for one datagram back.
pub async fn udp_exchange(addr: SocketAddr, bytes: &[u8]) -> Option<Vec<u8>> {
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("binding a UDP client socket");
    socket.send_to(bytes, addr).await.expect("sending a UDP query");
    let mut buf = vec![0u8; 65535];
    match tokio::time::timeout(TIMEOUT, socket.recv_from(&mut buf)).await {
        Ok(Ok((n, _))) => Some(buf[..n].to_vec()),
        _ => None,
    }
}

/// Send one length-prefixed message over a new TCP connection and read one back.
pub async fn tcp_exchange(addr: SocketAddr, bytes: &[u8]) -> Option<Vec<u8>> {
    let mut stream = tokio::time::timeout(TIMEOUT, TcpStream::connect(addr)).await.ok()?.ok()?;
    let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(bytes);
    stream.write_all(&framed).await.ok()?;
    let mut len = [0u8; 2];
    tokio::time::timeout(TIMEOUT, stream.read_exact(&mut len)).await.ok()?.ok()?;
    let mut body = vec![0u8; u16::from_be_bytes(len) as usize];
    tokio::time::timeout(TIMEOUT, stream.read_exact(&mut body)).await.ok()?.ok()?;
    Some(body)
}

/// Ask `addr` for `name`/`rtype` over `transport`; panics when nothing (or garbage) comes back.
pub async fn ask(addr: SocketAddr, transport: Transport, name: &str, rtype: RecordType) -> Message {
    let query = query_message(name, rtype);
    let bytes = query.to_vec().expect("encoding the query");
    let reply = match transport {
        Transport::Udp => udp_exchange(addr, &bytes).await,
        Transport::Tcp => tcp_exchange(addr, &bytes).await,
    }
    .unwrap_or_else(|| panic!("no {transport:?} answer from {addr} for {name} {rtype}"));
    let message = Message::from_vec(&reply).unwrap_or_else(|e| panic!("unparseable answer for {name}: {e}"));
    assert_eq!(message.metadata.id, query.metadata.id, "answer id differs from the query's");
    assert_eq!(message.metadata.message_type, MessageType::Response);
    message
}

/// What an answer says, in a form tests compare easily.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub rcode: ResponseCode,
    /// `(owner name without trailing dot, type, data)` in order.
    pub records: Vec<(String, String, String)>,
}

impl Answer {
    /// The final A/AAAA addresses.
    pub fn addresses(&self) -> Vec<String> {
        self.records.iter().filter(|(_, t, _)| t == "A" || t == "AAAA").map(|(_, _, d)| d.clone()).collect()
    }

    /// The CNAME targets, in chain order.
    pub fn cnames(&self) -> Vec<String> {
        self.records.iter().filter(|(_, t, _)| t == "CNAME").map(|(_, _, d)| d.clone()).collect()
    }
}

pub fn summarize(message: &Message) -> Answer {
    let records = message
        .answers
        .iter()
        .map(|r| {
            let data = match &r.data {
                RData::A(a) => a.0.to_string(),
                RData::AAAA(a) => a.0.to_string(),
                RData::CNAME(c) => c.0.to_ascii().trim_end_matches('.').to_string(),
                other => other.to_string(),
            };
            (r.name.to_ascii().trim_end_matches('.').to_string(), r.record_type().to_string(), data)
        })
        .collect();
    Answer { rcode: message.metadata.response_code, records }
}

/// [`ask`], summarized.
pub async fn resolve(addr: SocketAddr, transport: Transport, name: &str, rtype: RecordType) -> Answer {
    summarize(&ask(addr, transport, name, rtype).await)
}

impl Server {
    /// Where the resolver of the VNet `vnet_id` listens (waits briefly for it to bind).
    pub async fn resolver(&self, vnet_id: &str) -> SocketAddr {
        self.listed_address("/privlink/dns/resolvers", vnet_id).await
    }
}
