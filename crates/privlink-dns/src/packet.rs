//! DNS message bytes on the hot path: reading a query's header, question and OPT record, and
//! writing a reply straight from borrowed answers, with no intermediate message object.
//!
//! A query is read as strictly as hickory-proto reads a message (every section walked, names
//! checked, compression pointers only backwards, one OPT at most and only in the additional
//! section), but nothing is allocated except the lower-cased query name. A reply echoes the
//! question's bytes as the client sent them (so 0x20 case randomisation survives) and compresses
//! owner names and the names inside CNAME/MX/PTR/SOA data against names already written.
//!
//! Everything here works on untrusted bytes: every read is bounds-checked and a failure is a
//! value ([`Malformed`]), never a panic.

use crate::model::RData;
use crate::name;
use crate::resolve::AnswerRef;

pub(crate) const HEADER_LEN: usize = 12;
/// The UDP payload size privlink advertises and never exceeds (the DNS flag day 2020 value).
pub(crate) const MAX_UDP_PAYLOAD: u16 = 1232;
/// The classic limit for UDP replies to queries without EDNS.
pub(crate) const CLASSIC_UDP_PAYLOAD: usize = 512;

const TYPE_OPT: u16 = 41;
const CLASS_IN: u16 = 1;
/// Longest name on the wire, length octets included (RFC 1035).
const MAX_WIRE_NAME: usize = 255;

/// The packet is not a DNS message (or not one privlink can read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Malformed;

/// The fixed 12-byte header.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Header {
    pub(crate) id: u16,
    pub(crate) flags: u16,
    pub(crate) qdcount: u16,
    ancount: u16,
    nscount: u16,
    arcount: u16,
}

impl Header {
    pub(crate) fn parse(packet: &[u8]) -> Option<Header> {
        let word = |i: usize| Some(u16::from_be_bytes([*packet.get(i)?, *packet.get(i + 1)?]));
        Some(Header {
            id: word(0)?,
            flags: word(2)?,
            qdcount: word(4)?,
            ancount: word(6)?,
            nscount: word(8)?,
            arcount: word(10)?,
        })
    }

    pub(crate) fn is_response(&self) -> bool {
        self.flags & 0x8000 != 0
    }

    pub(crate) fn opcode(&self) -> u8 {
        ((self.flags >> 11) & 0x0f) as u8
    }
}

/// What a query's OPT record says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Edns {
    pub(crate) payload: u16,
    pub(crate) version: u8,
    pub(crate) dnssec_ok: bool,
}

/// A query as the resolver needs it.
#[derive(Debug)]
pub(crate) struct Query<'p> {
    pub(crate) header: Header,
    /// The question's bytes (name, type, class) when there is exactly one, to echo verbatim.
    pub(crate) question: Option<&'p [u8]>,
    /// The question name normalised, or `None` when it is not a name privlink can hold.
    pub(crate) qname: Option<String>,
    pub(crate) qtype: u16,
    pub(crate) qclass: u16,
    pub(crate) edns: Option<Edns>,
}

/// Reads a whole message as a query. Fails on anything hickory-proto would not decode either.
pub(crate) fn parse_query(packet: &[u8]) -> Result<Query<'_>, Malformed> {
    let header = Header::parse(packet).ok_or(Malformed)?;
    let mut query = Query { header, question: None, qname: None, qtype: 0, qclass: 0, edns: None };
    let mut pos = HEADER_LEN;
    for index in 0..header.qdcount {
        let start = pos;
        let only = header.qdcount == 1;
        let mut qname = only.then(|| String::with_capacity(64));
        let mut valid = true;
        let (end, compressed) = walk_name(packet, pos, |label| {
            if let Some(qname) = qname.as_mut() {
                valid &= push_label(qname, label);
            }
        })?;
        // The question is echoed verbatim, so it must not point into the header, which the reply
        // rewrites (it could only point there: nothing else comes before it).
        if only && compressed {
            return Err(Malformed);
        }
        pos = end;
        let qtype = read_u16(packet, pos)?;
        let qclass = read_u16(packet, pos + 2)?;
        pos += 4;
        if index == 0 && only {
            query.question = packet.get(start..pos);
            query.qname = qname.filter(|name| valid && !name.is_empty());
            query.qtype = qtype;
            query.qclass = qclass;
        }
    }
    for (section, count) in
        [(Section::Answer, header.ancount), (Section::Authority, header.nscount), (Section::Additional, header.arcount)]
    {
        for _ in 0..count {
            pos = walk_name(packet, pos, |_| {})?.0;
            let rtype = read_u16(packet, pos)?;
            let class = read_u16(packet, pos + 2)?;
            let ttl = read_u32(packet, pos + 4)?;
            let rdlength = usize::from(read_u16(packet, pos + 8)?);
            pos += 10;
            packet.get(pos..pos + rdlength).ok_or(Malformed)?;
            pos += rdlength;
            if rtype == TYPE_OPT {
                // RFC 6891: one OPT at most, in the additional section only.
                if section != Section::Additional || query.edns.is_some() {
                    return Err(Malformed);
                }
                query.edns = Some(Edns { payload: class, version: (ttl >> 16) as u8, dnssec_ok: ttl & 0x8000 != 0 });
            }
        }
    }
    Ok(query)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Answer,
    Authority,
    Additional,
}

/// Walks the name at `pos`, calling `label` for each label in order (pointers followed), and
/// returns the position just after the name as it sits at `pos`, and whether it used a pointer.
///
/// Pointers follow hickory-proto's rules, so that every question privlink echoes decodes again:
/// a pointer must point before the start of the labels it continues, and the labels it leads to
/// must end before that start (no overlap, no loops).
fn walk_name(packet: &[u8], mut pos: usize, mut label: impl FnMut(&[u8])) -> Result<(usize, bool), Malformed> {
    let mut end = None;
    let mut wire_len = 0;
    let mut segment_start = pos;
    let mut segment_limit = None;
    loop {
        if segment_limit.is_some_and(|limit| pos >= limit) {
            return Err(Malformed);
        }
        let len = *packet.get(pos).ok_or(Malformed)?;
        match len & 0xc0 {
            0x00 => {
                wire_len += 1 + usize::from(len);
                if wire_len > MAX_WIRE_NAME {
                    return Err(Malformed);
                }
                if len == 0 {
                    return Ok(match end {
                        Some(end) => (end, true),
                        None => (pos + 1, false),
                    });
                }
                let start = pos + 1;
                label(packet.get(start..start + usize::from(len)).ok_or(Malformed)?);
                pos = start + usize::from(len);
            }
            0xc0 => {
                let low = *packet.get(pos + 1).ok_or(Malformed)?;
                let target = usize::from(u16::from_be_bytes([len & 0x3f, low]));
                if target >= segment_start {
                    return Err(Malformed);
                }
                end.get_or_insert(pos + 2);
                segment_limit = Some(segment_start);
                segment_start = target;
                pos = target;
            }
            _ => return Err(Malformed),
        }
    }
}

/// Appends one wire label to a name being built, lower-cased; false when the label is not one
/// privlink can hold (the rules of [`name::normalize`], checked on bytes).
fn push_label(name: &mut String, label: &[u8]) -> bool {
    let first = name.is_empty();
    if !first {
        name.push('.');
    }
    if first && label == b"*" {
        name.push('*');
        return true;
    }
    let mut valid = true;
    for &byte in label {
        valid &= byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_';
        // Only ASCII reaches the string; a bad byte makes the whole name invalid anyway.
        name.push(char::from(byte.to_ascii_lowercase() & 0x7f));
    }
    valid
}

fn read_u16(packet: &[u8], pos: usize) -> Result<u16, Malformed> {
    Ok(u16::from_be_bytes([*packet.get(pos).ok_or(Malformed)?, *packet.get(pos + 1).ok_or(Malformed)?]))
}

fn read_u32(packet: &[u8], pos: usize) -> Result<u32, Malformed> {
    Ok(u32::from(read_u16(packet, pos)?) << 16 | u32::from(read_u16(packet, pos + 2)?))
}

/// The UDP payload a reply may fill: the client's advertised size capped at
/// [`MAX_UDP_PAYLOAD`], 512 without EDNS (or when a client advertises less).
pub(crate) fn udp_limit(edns: Option<Edns>) -> usize {
    match edns {
        Some(edns) => usize::from(edns.payload.min(MAX_UDP_PAYLOAD)).max(CLASSIC_UDP_PAYLOAD),
        None => CLASSIC_UDP_PAYLOAD,
    }
}

/// A header-only reply (no question): for packets whose question cannot be read.
pub(crate) fn bare_reply(id: u16, request_flags: u16, rcode: u8) -> Vec<u8> {
    let mut buf = Vec::with_capacity(HEADER_LEN);
    buf.extend_from_slice(&id.to_be_bytes());
    buf.extend_from_slice(&reply_flags(request_flags, false, rcode).to_be_bytes());
    buf.extend_from_slice(&[0; 8]);
    buf
}

/// QR=1, opcode/RD/CD from the request, AA=0 and RA=1 (Azure DNS is a recursive resolver).
fn reply_flags(request_flags: u16, truncated: bool, rcode: u8) -> u16 {
    const QR: u16 = 0x8000;
    const TC: u16 = 0x0200;
    const RA: u16 = 0x0080;
    const COPIED: u16 = 0x7800 | 0x0100 | 0x0010; // opcode, RD, CD
    QR | (request_flags & COPIED) | RA | if truncated { TC } else { 0 } | u16::from(rcode & 0x0f)
}

/// A reply to write. `rcode` may be extended (> 15), which needs an OPT to carry its high bits.
pub(crate) struct Reply<'a> {
    pub(crate) query: &'a Query<'a>,
    pub(crate) rcode: u16,
    pub(crate) answers: &'a [AnswerRef<'a>],
    pub(crate) authority: Option<AnswerRef<'a>>,
}

/// A name privlink cannot put on the wire (only reachable through a catalog bug).
#[derive(Debug)]
pub(crate) struct Unencodable;

impl Reply<'_> {
    /// Writes the reply; when it exceeds `limit` bytes, writes it again truncated (TC=1, no
    /// answer or authority records).
    pub(crate) fn write(&self, limit: usize) -> Result<Vec<u8>, Unencodable> {
        let full = self.write_sections(true)?;
        if full.len() <= limit {
            return Ok(full);
        }
        self.write_sections(false)
    }

    fn write_sections(&self, with_records: bool) -> Result<Vec<u8>, Unencodable> {
        let query = self.query;
        let mut w = Writer { buf: Vec::with_capacity(512), names: Vec::new() };
        let rcode_low = (self.rcode & 0x0f) as u8;
        w.buf.extend_from_slice(&query.header.id.to_be_bytes());
        w.buf.extend_from_slice(&reply_flags(query.header.flags, !with_records, rcode_low).to_be_bytes());
        w.buf.extend_from_slice(&[0; 8]);
        if let Some(question) = query.question {
            w.buf.extend_from_slice(question);
            set_count(&mut w.buf, 4, 1)?;
            // Later names may point into the question, when it was written without pointers
            // (its text and wire forms then have the same label offsets).
            if let Some(qname) = query.qname.as_deref().filter(|q| question.len() == q.len() + 2 + 4) {
                w.names.push(Written { name: qname, offset: HEADER_LEN, inline: qname.len() });
            }
        }
        if with_records {
            for answer in self.answers {
                w.record(answer)?;
            }
            set_count(&mut w.buf, 6, self.answers.len())?;
            if let Some(authority) = &self.authority {
                w.record(authority)?;
                set_count(&mut w.buf, 8, 1)?;
            }
        }
        if let Some(edns) = query.edns {
            // OPT: root owner, class = our payload size, TTL = extended rcode, version 0, DO echoed.
            w.buf.push(0);
            w.buf.extend_from_slice(&TYPE_OPT.to_be_bytes());
            w.buf.extend_from_slice(&MAX_UDP_PAYLOAD.to_be_bytes());
            let ttl = u32::from(self.rcode >> 4) << 24 | if edns.dnssec_ok { 0x8000 } else { 0 };
            w.buf.extend_from_slice(&ttl.to_be_bytes());
            w.buf.extend_from_slice(&0u16.to_be_bytes());
            set_count(&mut w.buf, 10, 1)?;
        }
        Ok(w.buf)
    }
}

fn set_count(buf: &mut [u8], at: usize, count: usize) -> Result<(), Unencodable> {
    let count = u16::try_from(count).map_err(|_| Unencodable)?;
    buf.get_mut(at..at + 2).ok_or(Unencodable)?.copy_from_slice(&count.to_be_bytes());
    Ok(())
}

/// A name already in the message: `name[..inline]` is written as labels at `offset`, so every
/// suffix starting inside it can be pointed at.
struct Written<'a> {
    name: &'a str,
    offset: usize,
    inline: usize,
}

struct Writer<'a> {
    buf: Vec<u8>,
    names: Vec<Written<'a>>,
}

/// Compression pointers address the first 16 KiB of a message.
const MAX_POINTER: usize = 0x3fff;

impl<'a> Writer<'a> {
    fn record(&mut self, answer: &AnswerRef<'a>) -> Result<(), Unencodable> {
        self.name(answer.name, true)?;
        self.u16(answer.data.record_type().code());
        self.u16(CLASS_IN);
        self.buf.extend_from_slice(&answer.ttl.to_be_bytes());
        let rdlength_at = self.buf.len();
        self.u16(0);
        match answer.data {
            RData::A(ip) => self.buf.extend_from_slice(&ip.octets()),
            RData::Aaaa(ip) => self.buf.extend_from_slice(&ip.octets()),
            RData::Cname(target) | RData::Ptr(target) => self.name(target, true)?,
            RData::Mx { preference, exchange } => {
                self.u16(*preference);
                self.name(exchange, true)?;
            }
            RData::Srv { priority, weight, port, target } => {
                self.u16(*priority);
                self.u16(*weight);
                self.u16(*port);
                self.name(target, false)?; // RFC 2782: no compression in SRV targets
            }
            RData::Txt(strings) => {
                for chunk in strings.iter().flat_map(|s| character_strings(s.as_bytes())) {
                    self.buf.push(chunk.len() as u8);
                    self.buf.extend_from_slice(chunk);
                }
                if strings.is_empty() {
                    self.buf.push(0);
                }
            }
            RData::Soa { host, email, serial, refresh, retry, expire, minimum } => {
                self.name(host, true)?;
                self.name(email, true)?;
                for value in [serial, refresh, retry, expire, minimum] {
                    self.buf.extend_from_slice(&value.to_be_bytes());
                }
            }
        }
        let rdlength = u16::try_from(self.buf.len() - rdlength_at - 2).map_err(|_| Unencodable)?;
        self.buf[rdlength_at..rdlength_at + 2].copy_from_slice(&rdlength.to_be_bytes());
        Ok(())
    }

    /// Writes a normalised name, ending in a pointer to the longest suffix already written when
    /// `compress` allows.
    fn name(&mut self, name: &'a str, compress: bool) -> Result<(), Unencodable> {
        let start = self.buf.len();
        let mut at = 0;
        for label in name.split('.') {
            if compress {
                if let Some(pointer) = self.find(&name[at..]) {
                    self.u16(0xc000 | pointer);
                    self.remember(name, start, at);
                    return Ok(());
                }
            }
            if label.is_empty() || label.len() > name::MAX_LABEL_LEN {
                return Err(Unencodable);
            }
            self.buf.push(label.len() as u8);
            self.buf.extend_from_slice(label.as_bytes());
            at += label.len() + 1;
        }
        self.buf.push(0);
        self.remember(name, start, name.len());
        Ok(())
    }

    fn find(&self, suffix: &str) -> Option<u16> {
        self.names.iter().find_map(|written| {
            let at = written.name.len().checked_sub(suffix.len())?;
            let boundary = at == 0 || written.name.as_bytes().get(at - 1) == Some(&b'.');
            let target = written.offset + at;
            (boundary && at < written.inline && written.name.ends_with(suffix) && target <= MAX_POINTER)
                .then_some(target as u16)
        })
    }

    fn remember(&mut self, name: &'a str, offset: usize, inline: usize) {
        if inline > 0 && offset <= MAX_POINTER && !name.is_empty() {
            self.names.push(Written { name, offset, inline });
        }
    }

    fn u16(&mut self, value: u16) {
        self.buf.extend_from_slice(&value.to_be_bytes());
    }
}

/// A TXT string as character-strings of at most 255 bytes (an empty string is one empty
/// character-string).
fn character_strings(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let empty: &[u8] = &[];
    let first_if_empty = bytes.is_empty().then_some(empty);
    first_if_empty.into_iter().chain(bytes.chunks(255))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query_bytes(name_wire: &[u8], qtype: u16) -> Vec<u8> {
        let mut packet = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        packet.extend_from_slice(name_wire);
        packet.extend_from_slice(&qtype.to_be_bytes());
        packet.extend_from_slice(&CLASS_IN.to_be_bytes());
        packet
    }

    #[test]
    fn reads_a_simple_query() {
        let packet = query_bytes(b"\x03WwW\x07example\x00", 1);
        let query = parse_query(&packet).unwrap();
        assert_eq!(query.header.id, 0x1234);
        assert_eq!(query.qname.as_deref(), Some("www.example"));
        assert_eq!(query.qtype, 1);
        assert_eq!(query.question, Some(&packet[12..]));
        assert_eq!(query.edns, None);
    }

    #[test]
    fn names_privlink_cannot_hold_parse_but_have_no_qname() {
        for wire in [&b"\x00"[..], b"\x03a b\x00", b"\x01a\x01*\x00"] {
            let packet = query_bytes(wire, 1);
            let query = parse_query(&packet).unwrap();
            assert_eq!(query.qname, None, "{wire:?}");
        }
        assert_eq!(parse_query(&query_bytes(b"\x01*\x01a\x00", 1)).unwrap().qname.as_deref(), Some("*.a"));
    }

    #[test]
    fn rejects_broken_names_and_forward_pointers() {
        // Truncated, pointing at itself, pointing forward, reserved label types, and pointers into
        // the header (found by libFuzzer): the reply's header differs, so the echo would not decode.
        let header_pointers = [&b"\x01a\xc0\x00"[..], b"\x01a\xc0\x02"];
        for wire in [&b"\x03ab"[..], b"\xc0\x0c", b"\xc0\x20\x00", b"\x40a\x00", b"\x80a\x00"]
            .into_iter()
            .chain(header_pointers)
        {
            assert_eq!(parse_query(&query_bytes(wire, 1)).unwrap_err(), Malformed, "{wire:?}");
        }
        let mut long = Vec::new();
        for _ in 0..5 {
            long.push(63);
            long.extend_from_slice(&[b'a'; 63]);
        }
        long.push(0);
        assert_eq!(parse_query(&query_bytes(&long, 1)).unwrap_err(), Malformed);
    }

    #[test]
    fn finds_the_opt_record_and_rejects_two() {
        let mut packet = query_bytes(b"\x01a\x00", 1);
        packet[11] = 1;
        packet.extend_from_slice(&[0, 0, 41, 0x10, 0x00, 0, 0, 0x80, 0, 0, 0]);
        let edns = parse_query(&packet).unwrap().edns.unwrap();
        assert_eq!(edns, Edns { payload: 4096, version: 0, dnssec_ok: true });
        packet[11] = 2;
        packet.extend_from_slice(&[0, 0, 41, 0x10, 0x00, 0, 0, 0, 0, 0, 0]);
        assert_eq!(parse_query(&packet).unwrap_err(), Malformed);
    }

    #[test]
    fn udp_limit_follows_edns() {
        let edns = |payload| Some(Edns { payload, version: 0, dnssec_ok: false });
        assert_eq!(udp_limit(None), 512);
        assert_eq!(udp_limit(edns(100)), 512);
        assert_eq!(udp_limit(edns(1000)), 1000);
        assert_eq!(udp_limit(edns(4096)), 1232);
    }

    #[test]
    fn txt_strings_are_split_at_255_bytes() {
        let long = vec![b'x'; 600];
        let lens: Vec<usize> = character_strings(&long).map(<[u8]>::len).collect();
        assert_eq!(lens, [255, 255, 90]);
        assert_eq!(character_strings(b"").count(), 1);
    }
}
