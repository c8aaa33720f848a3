//! Shared fixtures for the integration tests: a catalog in the shape privlink's feed builds, and
//! hickory-proto helpers to build queries and read replies.
#![allow(dead_code)] // each test binary uses its own subset

use std::net::Ipv4Addr;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};
use privlink_dns::{Catalog, LinkInfo, PublicRecord, RData, RecordSet, ResolutionPolicy, ViewInfo};

pub const BLOB_ZONE: &str = "privatelink.blob.core.windows.net";

pub fn a(ip: [u8; 4]) -> RData {
    RData::A(Ipv4Addr::from(ip))
}

pub fn set(ttl: u32, records: Vec<RData>) -> RecordSet {
    RecordSet { ttl, records, source: "/sets".into() }
}

/// Views v1 (linked to the blob zone, sa1 at 10.0.0.4) and v2 (not linked); sa1's public name
/// CNAMEs into privatelink, where the public answer is 20.0.0.1; `blob.core.windows.net` is
/// authoritative; `big.privatelink…` holds 12 TXT records of 80 bytes (over 512 bytes, within 1232); `out.privatelink…`
/// CNAMEs to `www.example.org`, which privlink does not know.
pub fn storage_catalog() -> Catalog {
    let mut catalog = Catalog::new();
    for view in ["v1", "v2"] {
        catalog.upsert_view(view, ViewInfo { name: format!("vnet-{view}"), source: format!("/vnets/{view}") });
    }
    catalog.upsert_zone("blob", BLOB_ZONE, "/zones/blob");
    let soa = RData::Soa {
        host: "azureprivatedns.net".into(),
        email: "azureprivatedns-host.microsoft.com".into(),
        serial: 1,
        refresh: 3600,
        retry: 300,
        expire: 2419200,
        minimum: 10,
    };
    catalog.upsert_record_set("blob", "@", privlink_dns::RecordType::Soa, set(3600, vec![soa]));
    catalog.upsert_record_set("blob", "sa1", privlink_dns::RecordType::A, set(10, vec![a([10, 0, 0, 4])]));
    let big = (0..12).map(|i| RData::Txt(vec![format!("{i:02}{}", "x".repeat(78))])).collect();
    catalog.upsert_record_set("blob", "big", privlink_dns::RecordType::Txt, set(10, big));
    catalog.upsert_record_set(
        "blob",
        "out",
        privlink_dns::RecordType::Cname,
        set(10, vec![RData::Cname("www.example.org".into())]),
    );
    let link = LinkInfo {
        zone: "blob".into(),
        view: "v1".into(),
        policy: ResolutionPolicy::Default,
        source: "/links/l1".into(),
    };
    catalog.upsert_link("l1", link);
    let public = |name: &str, data| PublicRecord {
        name: name.into(),
        ttl: 60,
        data,
        reason: "public".into(),
        source: "/sa1".into(),
    };
    catalog.set_public_records(
        "storage/sa1",
        vec![
            public("sa1.blob.core.windows.net", RData::Cname("sa1.privatelink.blob.core.windows.net".into())),
            public("sa1.privatelink.blob.core.windows.net", a([20, 0, 0, 1])),
        ],
    );
    catalog.set_authoritative_suffixes(vec!["blob.core.windows.net".into()]);
    catalog
}

/// A recursive query for `name`/`qtype` with id 0x4242.
pub fn query(name: &str, qtype: RecordType) -> Message {
    let mut message = Message::new(0x4242, MessageType::Query, OpCode::Query);
    message.metadata.recursion_desired = true;
    message.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
    message
}

pub fn with_edns(mut message: Message, payload: u16) -> Message {
    let mut edns = Edns::new();
    edns.set_max_payload(payload);
    message.set_edns(edns);
    message
}

pub fn bytes(message: &Message) -> Vec<u8> {
    message.to_vec().unwrap()
}

pub fn parse(reply: &[u8]) -> Message {
    Message::from_vec(reply).unwrap()
}

/// The answers of a reply as `name TYPE data` strings, lower-cased (names compressed against the
/// question take the client's case).
pub fn answers(reply: &Message) -> Vec<String> {
    reply.answers.iter().map(|r| format!("{} {} {}", r.name, r.record_type(), r.data).to_lowercase()).collect()
}
