//! From a query packet to a reply packet, as one view's resolver answers on the wire.
//!
//! Rules, in order:
//! - fewer than 12 bytes, or a response (QR=1): dropped, never answered (answering responses
//!   could start a reply loop between two servers);
//! - not a readable DNS message: FORMERR with the request's id, header only;
//! - opcode other than QUERY: NOTIMP;
//! - not exactly one question: FORMERR;
//! - EDNS version above 0: BADVERS (RFC 6891);
//! - class other than IN: REFUSED;
//! - otherwise the resolution ([`crate::resolve()`]), or a [`ForwardRequest`] for the server when
//!   the name is not privlink's to answer.
//!
//! Replies copy RD (and CD), set RA=1 and AA=0 (Azure DNS is a recursive resolver), echo an OPT
//! record when the query had one, and fit the UDP payload limit: the client's advertised size
//! capped at 1232 bytes, 512 without EDNS. A UDP reply over the limit is sent truncated (TC=1,
//! answers dropped) so the client retries over TCP.
//!
//! The common path (parse, resolve, write) uses the allocation-light codec in `packet`;
//! hickory-proto builds the rarer messages: upstream queries and spliced upstream replies.

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{self, A, AAAA, MX, SOA, SRV, TXT};
use hickory_proto::rr::{Name, RData as WireData, Record, RecordType};
use tracing::debug;

use crate::model::{Catalog, RData};
use crate::packet::{self, Header, Reply, MAX_UDP_PAYLOAD};
use crate::resolve::{self, Answer, AnswerRef, Quiet, Rcode};

/// How a packet arrived, which bounds the reply's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

/// What to do with a packet.
#[derive(Debug)]
pub enum Outcome {
    /// Send these bytes back.
    Reply(Vec<u8>),
    /// Ask the upstream, then build the reply with [`reply_from_upstream`].
    Forward(ForwardRequest),
    /// Say nothing.
    Drop,
}

/// A question privlink cannot answer from memory.
#[derive(Debug, Clone)]
pub struct ForwardRequest {
    /// The client's query.
    pub request: Message,
    /// The name to ask the upstream: the query name, or the end of a CNAME chain.
    pub name: String,
    pub qtype: RecordType,
    /// The CNAME chain leading to `name`, to put in front of the upstream's answers.
    pub prefix: Vec<Answer>,
    pub transport: Transport,
}

/// Answers `packet` as view `view` would. Never panics, whatever the bytes.
pub fn answer_packet(catalog: &Catalog, view: &str, packet: &[u8], transport: Transport) -> Outcome {
    answer(catalog, view, packet, transport).outcome
}

/// [`answer_packet`]'s outcome, plus whether the packet was malformed (the server counts those,
/// and closes a TCP connection after one).
pub(crate) struct Answered {
    pub(crate) outcome: Outcome,
    pub(crate) malformed: bool,
}

impl Answered {
    fn well_formed(outcome: Outcome) -> Answered {
        Answered { outcome, malformed: false }
    }

    fn malformed(outcome: Outcome) -> Answered {
        Answered { outcome, malformed: true }
    }
}

/// BADVERS (RFC 6891): an extended code, carried half in the header and half in the OPT record.
const RCODE_BADVERS: u16 = 16;

pub(crate) fn answer(catalog: &Catalog, view: &str, packet: &[u8], transport: Transport) -> Answered {
    let Some(header) = Header::parse(packet) else { return Answered::malformed(Outcome::Drop) };
    if header.is_response() {
        return Answered::well_formed(Outcome::Drop);
    }
    let Ok(query) = packet::parse_query(packet) else {
        let formerr = packet::bare_reply(header.id, header.flags, Rcode::FormErr.code());
        return Answered::malformed(Outcome::Reply(formerr));
    };
    let limit = match transport {
        Transport::Udp => packet::udp_limit(query.edns),
        Transport::Tcp => usize::from(u16::MAX),
    };
    let error = |rcode: u16| Outcome::Reply(write_reply(&query, rcode, &[], None, limit));
    if header.opcode() != 0 {
        return Answered::well_formed(error(Rcode::NotImp.into()));
    }
    if header.qdcount != 1 {
        return Answered::malformed(error(Rcode::FormErr.into()));
    }
    if query.edns.is_some_and(|edns| edns.version > 0) {
        return Answered::well_formed(error(RCODE_BADVERS));
    }
    if query.qclass != CLASS_IN {
        return Answered::well_formed(error(Rcode::Refused.into()));
    }
    let Some(qname) = query.qname.as_deref() else {
        return Answered::well_formed(error(Rcode::FormErr.into()));
    };
    let walk = resolve::walk(catalog, view, qname, query.qtype, &mut Quiet);
    if let Some(name) = walk.forward {
        // Forwarding is the slow path anyway (a network round trip): hickory reads the request.
        let Ok(request) = Message::from_vec(packet) else { return Answered::malformed(error(Rcode::FormErr.into())) };
        let forward = ForwardRequest {
            request,
            name: name.to_string(),
            qtype: RecordType::from(query.qtype),
            prefix: walk.answers.iter().map(|answer| answer.to_answer()).collect(),
            transport,
        };
        return Answered::well_formed(Outcome::Forward(forward));
    }
    // A failed resolution (loop, refusal) carries no records, not even the chain walked so far.
    let answers: &[AnswerRef<'_>] = match walk.rcode {
        Rcode::NoError | Rcode::NxDomain => &walk.answers,
        _ => &[],
    };
    Answered::well_formed(Outcome::Reply(write_reply(&query, walk.rcode.into(), answers, walk.authority, limit)))
}

const CLASS_IN: u16 = 1;

/// Writes a reply. Only a catalog bug (a name that cannot be encoded) makes that fail; the client
/// then still gets an answer: SERVFAIL, without records.
fn write_reply(
    query: &packet::Query<'_>,
    rcode: u16,
    answers: &[AnswerRef<'_>],
    authority: Option<AnswerRef<'_>>,
    limit: usize,
) -> Vec<u8> {
    let servfail = Rcode::ServFail.code();
    Reply { query, rcode, answers, authority }
        .write(limit)
        .or_else(|_| Reply { query, rcode: servfail.into(), answers: &[], authority: None }.write(limit))
        .unwrap_or_else(|_| packet::bare_reply(query.header.id, query.header.flags, servfail))
}

/// The client's reply built from the upstream's: the client's id and question, the CNAME chain
/// privlink walked (`prefix`) in front of the upstream's answers, the upstream's other sections
/// and response code. `None` when the upstream's bytes are not a DNS message.
pub fn reply_from_upstream(
    request: &Message,
    prefix: &[Answer],
    upstream_reply: &[u8],
    transport: Transport,
) -> Option<Vec<u8>> {
    let upstream = Message::from_vec(upstream_reply).ok()?;
    let mut reply = response_to(request, upstream.metadata.response_code);
    reply.metadata.truncation = upstream.metadata.truncation;
    reply.answers = prefix.iter().filter_map(to_record).chain(upstream.answers).collect();
    reply.authorities = upstream.authorities;
    reply.additionals = upstream.additionals;
    encode(request, reply, transport)
}

/// An error reply (REFUSED when there is no upstream, SERVFAIL when it failed) to a request that
/// was to be forwarded.
pub fn error_reply(request: &Message, rcode: Rcode, transport: Transport) -> Vec<u8> {
    let reply = response_to(request, rcode.to_response_code());
    let flags = if request.metadata.recursion_desired { 0x0100 } else { 0 };
    encode(request, reply, transport).unwrap_or_else(|| packet::bare_reply(request.metadata.id, flags, rcode.code()))
}

/// The query privlink sends its upstream (recursion desired, EDNS with privlink's payload size).
pub fn upstream_query(id: u16, name: &str, qtype: RecordType) -> Option<Vec<u8>> {
    let mut query = Message::new(id, MessageType::Query, OpCode::Query);
    query.metadata.recursion_desired = true;
    query.add_query(Query::query(to_name(name)?, qtype));
    let mut edns = Edns::new();
    edns.set_max_payload(MAX_UDP_PAYLOAD);
    query.set_edns(edns);
    query.to_vec().ok()
}

/// A response skeleton for `request`: its id, opcode, question, RD/CD, RA=1, EDNS echoed.
fn response_to(request: &Message, code: ResponseCode) -> Message {
    let mut reply = Message::response(request.metadata.id, request.metadata.op_code);
    reply.metadata.recursion_desired = request.metadata.recursion_desired;
    reply.metadata.checking_disabled = request.metadata.checking_disabled;
    reply.metadata.recursion_available = true;
    reply.metadata.response_code = code;
    reply.queries = request.queries.clone();
    if let Some(request_edns) = &request.edns {
        let mut edns = Edns::new();
        edns.set_max_payload(MAX_UDP_PAYLOAD);
        edns.set_dnssec_ok(request_edns.flags().dnssec_ok);
        reply.set_edns(edns);
    }
    reply
}

/// Encodes `reply` within the transport's limit (for UDP, what `request` advertised, capped at
/// 1232; 512 without EDNS), truncating (TC=1, no records) a UDP reply that does not fit.
fn encode(request: &Message, reply: Message, transport: Transport) -> Option<Vec<u8>> {
    let limit = match transport {
        Transport::Udp => {
            let advertised = request.edns.as_ref().map(|edns| edns.max_payload().min(MAX_UDP_PAYLOAD));
            advertised.map_or(packet::CLASSIC_UDP_PAYLOAD, |size| usize::from(size).max(packet::CLASSIC_UDP_PAYLOAD))
        }
        Transport::Tcp => usize::from(u16::MAX),
    };
    let bytes = reply.to_vec().ok()?;
    if bytes.len() <= limit {
        return Some(bytes);
    }
    reply.truncate().to_vec().ok()
}

/// A privlink answer as a hickory record; `None` for names hickory will not take.
pub(crate) fn to_record(answer: &Answer) -> Option<Record> {
    let data = match &answer.data {
        RData::A(ip) => WireData::A(A(*ip)),
        RData::Aaaa(ip) => WireData::AAAA(AAAA(*ip)),
        RData::Cname(target) => WireData::CNAME(rdata::CNAME(to_name(target)?)),
        RData::Ptr(target) => WireData::PTR(rdata::PTR(to_name(target)?)),
        RData::Mx { preference, exchange } => WireData::MX(MX::new(*preference, to_name(exchange)?)),
        RData::Srv { priority, weight, port, target } => {
            WireData::SRV(SRV::new(*priority, *weight, *port, to_name(target)?))
        }
        RData::Txt(strings) => WireData::TXT(TXT::new(strings.clone())),
        RData::Soa { host, email, serial, refresh, retry, expire, minimum } => WireData::SOA(SOA::new(
            to_name(host)?,
            to_name(email)?,
            *serial,
            clamp_i32(*refresh),
            clamp_i32(*retry),
            clamp_i32(*expire),
            *minimum,
        )),
    };
    Some(Record::from_rdata(to_name(&answer.name)?, answer.ttl, data))
}

/// A hickory record as a privlink answer; `None` for types privlink does not model.
pub(crate) fn from_record(record: &Record) -> Option<Answer> {
    let data = match &record.data {
        WireData::A(a) => RData::A(a.0),
        WireData::AAAA(aaaa) => RData::Aaaa(aaaa.0),
        WireData::CNAME(cname) => RData::Cname(from_name(&cname.0)),
        WireData::PTR(ptr) => RData::Ptr(from_name(&ptr.0)),
        WireData::MX(mx) => RData::Mx { preference: mx.preference, exchange: from_name(&mx.exchange) },
        WireData::SRV(srv) => {
            RData::Srv { priority: srv.priority, weight: srv.weight, port: srv.port, target: from_name(&srv.target) }
        }
        WireData::TXT(txt) => {
            RData::Txt(txt.txt_data.iter().map(|s| String::from_utf8_lossy(s).into_owned()).collect())
        }
        WireData::SOA(soa) => RData::Soa {
            host: from_name(&soa.mname),
            email: from_name(&soa.rname),
            serial: soa.serial,
            refresh: soa.refresh.max(0).unsigned_abs(),
            retry: soa.retry.max(0).unsigned_abs(),
            expire: soa.expire.max(0).unsigned_abs(),
            minimum: soa.minimum,
        },
        other => {
            debug!(rtype = %other.record_type(), "skipping an upstream record of a type privlink does not model");
            return None;
        }
    };
    Some(Answer { name: from_name(&record.name), ttl: record.ttl, data })
}

fn clamp_i32(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

/// A privlink name (no trailing dot) as a fully qualified hickory name.
fn to_name(name: &str) -> Option<Name> {
    Name::from_ascii(format!("{name}.")).ok()
}

/// A hickory name as privlink writes names: lower-case, no trailing dot.
fn from_name(name: &Name) -> String {
    let text = name.to_ascii().to_ascii_lowercase();
    match text.strip_suffix('.') {
        Some(stripped) => stripped.to_string(),
        None => text,
    }
}
