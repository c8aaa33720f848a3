//! Just enough DNS on the wire for the benchmark client: a query packet per line of a dnsperf
//! query file, and the answer section of a reply read back for comparison. The bench crate
//! does not depend on privlink-dns or hickory on purpose: the client must not share code with
//! the server it measures.

use std::fmt;

use anyhow::{bail, Context, Result};

const HEADER_LEN: usize = 12;
/// Compression pointers followed while reading one name before giving up (a loop).
const MAX_POINTERS: usize = 32;

/// The query types the benchmark's query files use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QType {
    A,
    Aaaa,
    Cname,
}

impl QType {
    pub fn code(self) -> u16 {
        match self {
            QType::A => 1,
            QType::Cname => 5,
            QType::Aaaa => 28,
        }
    }

    fn parse(text: &str) -> Option<QType> {
        match text.to_ascii_uppercase().as_str() {
            "A" => Some(QType::A),
            "AAAA" => Some(QType::Aaaa),
            "CNAME" => Some(QType::Cname),
            _ => None,
        }
    }
}

/// One line of a dnsperf query file: `name TYPE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub name: String,
    pub qtype: QType,
}

impl fmt::Display for Question {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = match self.qtype {
            QType::A => "A",
            QType::Aaaa => "AAAA",
            QType::Cname => "CNAME",
        };
        write!(f, "{} {t}", self.name)
    }
}

/// Reads a dnsperf query file (blank lines and `;` comments skipped).
pub fn read_questions(text: &str) -> Result<Vec<Question>> {
    let mut questions = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with(';') {
            continue;
        }
        let mut parts = line.split_whitespace();
        let (Some(name), Some(t), None) = (parts.next(), parts.next(), parts.next()) else {
            bail!("line {}: expected `name TYPE`, got `{line}`", n + 1);
        };
        let qtype = QType::parse(t).with_context(|| format!("line {}: unsupported type {t}", n + 1))?;
        questions.push(Question { name: name.trim_end_matches('.').to_ascii_lowercase(), qtype });
    }
    if questions.is_empty() {
        bail!("the query file holds no questions");
    }
    Ok(questions)
}

/// A standard query (RD=1, no EDNS, as dnsperf sends without `-e`) with id 0; the sender
/// writes the id into the first two bytes.
pub fn query(q: &Question) -> Result<Vec<u8>> {
    let mut packet = Vec::with_capacity(HEADER_LEN + q.name.len() + 6);
    packet.extend_from_slice(&[0, 0, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in q.name.split('.') {
        let len = u8::try_from(label.len()).ok().filter(|l| (1..=63).contains(l));
        let len = len.with_context(|| format!("{}: a label is empty or longer than 63 bytes", q.name))?;
        packet.push(len);
        packet.extend_from_slice(label.as_bytes());
    }
    packet.push(0);
    packet.extend_from_slice(&q.qtype.code().to_be_bytes());
    packet.extend_from_slice(&1u16.to_be_bytes());
    Ok(packet)
}

/// A reply's id and flags, read from the header alone (the load's hot path).
pub fn reply_header(packet: &[u8]) -> Option<(u16, u8)> {
    if packet.len() < HEADER_LEN || packet[2] & 0x80 == 0 {
        return None;
    }
    Some((u16::from_be_bytes([packet[0], packet[1]]), packet[3] & 0x0f))
}

pub fn rcode_name(rcode: u8) -> &'static str {
    match rcode {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        _ => "OTHER",
    }
}

/// One answer record, as text: owner, TTL, type and data.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Record {
    pub name: String,
    pub ttl: u32,
    pub rtype: u16,
    pub data: String,
}

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = match self.rtype {
            1 => "A".to_string(),
            5 => "CNAME".to_string(),
            28 => "AAAA".to_string(),
            other => format!("TYPE{other}"),
        };
        write!(f, "{} {} {t} {}", self.name, self.ttl, self.data)
    }
}

/// A reply read in full: response code, AA flag and the answer section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub id: u16,
    pub rcode: u8,
    pub authoritative: bool,
    pub answers: Vec<Record>,
}

pub fn parse_reply(packet: &[u8]) -> Result<Reply> {
    let (id, rcode) = reply_header(packet).context("not a DNS reply")?;
    let count = |i: usize| usize::from(u16::from_be_bytes([packet[i], packet[i + 1]]));
    let (qdcount, ancount) = (count(4), count(6));
    let mut pos = HEADER_LEN;
    for _ in 0..qdcount {
        pos = read_name(packet, pos)?.1 + 4;
    }
    let mut answers = Vec::with_capacity(ancount);
    for _ in 0..ancount {
        let (name, end) = read_name(packet, pos)?;
        let field = packet.get(end..end + 10).context("truncated record")?;
        let rtype = u16::from_be_bytes([field[0], field[1]]);
        let ttl = u32::from_be_bytes([field[4], field[5], field[6], field[7]]);
        let rdlength = usize::from(u16::from_be_bytes([field[8], field[9]]));
        let start = end + 10;
        let rdata = packet.get(start..start + rdlength).context("truncated record data")?;
        let data = match (rtype, rdata) {
            (1, &[a, b, c, d]) => format!("{a}.{b}.{c}.{d}"),
            (5, _) => read_name(packet, start)?.0,
            (28, _) if rdlength == 16 => {
                let octets: [u8; 16] = rdata.try_into().context("AAAA length")?;
                std::net::Ipv6Addr::from(octets).to_string()
            }
            _ => format!("{} bytes", rdlength),
        };
        answers.push(Record { name, ttl, rtype, data });
        pos = start + rdlength;
    }
    Ok(Reply { id, rcode, authoritative: packet[2] & 0x04 != 0, answers })
}

/// Reads the name at `pos` (lower-cased, no trailing dot); returns it and the position after it.
fn read_name(packet: &[u8], mut pos: usize) -> Result<(String, usize)> {
    let mut name = String::new();
    let mut end = None;
    let mut pointers = 0;
    loop {
        let len = *packet.get(pos).context("truncated name")?;
        if len == 0 {
            return Ok((name, end.unwrap_or(pos + 1)));
        }
        if len & 0xc0 == 0xc0 {
            let low = *packet.get(pos + 1).context("truncated pointer")?;
            end.get_or_insert(pos + 2);
            pointers += 1;
            if pointers > MAX_POINTERS {
                bail!("compression loop");
            }
            pos = usize::from(u16::from_be_bytes([len & 0x3f, low]));
            continue;
        }
        let label = packet.get(pos + 1..pos + 1 + usize::from(len)).context("truncated label")?;
        if !name.is_empty() {
            name.push('.');
        }
        name.push_str(&String::from_utf8_lossy(label).to_ascii_lowercase());
        pos += 1 + usize::from(len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_files_and_packets() {
        let qs = read_questions("; comment\nR1.Example.ORG. A\n\nb.example.org aaaa\n").unwrap();
        assert_eq!(qs[0], Question { name: "r1.example.org".into(), qtype: QType::A });
        assert_eq!(qs[1].to_string(), "b.example.org AAAA");
        let p = query(&qs[0]).unwrap();
        assert_eq!(&p[12..], b"\x02r1\x07example\x03org\x00\x00\x01\x00\x01");
        assert!(read_questions("x A B\n").is_err());
        assert!(read_questions("x MX\n").is_err());
    }

    #[test]
    fn replies_with_compressed_cname_chains() {
        // Question sa.x (offset 12), answer 1: sa.x CNAME sa.pl.x, answer 2: sa.pl.x A 10.0.0.4.
        let mut p = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0];
        p.extend_from_slice(b"\x02sa\x01x\x00\x00\x01\x00\x01");
        p.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 8]);
        let cname_at = p.len();
        p.extend_from_slice(b"\x02sa\x02pl\xc0\x0f");
        p.extend_from_slice(&[0xc0, cname_at as u8, 0, 1, 0, 1, 0, 0, 0, 10, 0, 4, 10, 0, 0, 4]);
        let r = parse_reply(&p).unwrap();
        assert_eq!((r.id, r.rcode, r.authoritative), (0x1234, 0, false));
        let text: Vec<String> = r.answers.iter().map(|a| a.to_string()).collect();
        assert_eq!(text, ["sa.x 60 CNAME sa.pl.x", "sa.pl.x 10 A 10.0.0.4"]);
        assert_eq!(reply_header(&p), Some((0x1234, 0)));
        // A runt or a query (QR=0) is not a reply; a pointer loop is an error, not a hang.
        assert!(reply_header(&p[..4]).is_none());
        let mut query = p.clone();
        query[2] &= 0x7f;
        assert!(reply_header(&query).is_none());
        let mut looped = p.clone();
        looped[12] = 0xc0;
        looped[13] = 12;
        assert!(parse_reply(&looped).is_err());
    }
}
