//! In-process throughput of `answer_packet` (no sockets): how many queries per second one core
//! turns into replies, for the kinds of questions a VNet asks.
//!
//! Run with `cargo run --release -p privlink-dns --example qps [seconds-per-case]`.
//! The catalog holds 2,000 zones of 50 records each, linked to 100 views, plus public data, so
//! that lookups pay for a realistic index size.

use std::hint::black_box;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};
use privlink_dns::{
    answer_packet, Catalog, LinkInfo, Outcome, PublicRecord, RData, RecordSet, ResolutionPolicy, Transport, ViewInfo,
};

fn catalog() -> Catalog {
    let mut catalog = Catalog::new();
    for view in 0..100 {
        catalog.upsert_view(&format!("v{view}"), ViewInfo { name: format!("vnet{view}"), source: String::new() });
    }
    for zone in 0..2000 {
        let id = format!("z{zone}");
        catalog.upsert_zone(&id, &format!("privatelink{zone}.blob.core.windows.net"), "");
        let soa = RData::Soa {
            host: "azureprivatedns.net".into(),
            email: "azureprivatedns-host.microsoft.com".into(),
            serial: 1,
            refresh: 3600,
            retry: 300,
            expire: 2419200,
            minimum: 10,
        };
        catalog.upsert_record_set(&id, "@", privlink_dns::RecordType::Soa, set(vec![soa]));
        for record in 0..50 {
            let ip = Ipv4Addr::new(10, (zone / 256) as u8, (zone % 256) as u8, record as u8);
            catalog.upsert_record_set(
                &id,
                &format!("sa{record}"),
                privlink_dns::RecordType::A,
                set(vec![RData::A(ip)]),
            );
        }
        let link = LinkInfo {
            zone: id.clone(),
            view: format!("v{}", zone % 100),
            policy: ResolutionPolicy::Default,
            source: String::new(),
        };
        catalog.upsert_link(&format!("l{zone}"), link);
    }
    let public = (0..50)
        .map(|i| PublicRecord {
            name: format!("sa{i}.blob.core.windows.net"),
            ttl: 60,
            data: RData::Cname(format!("sa{i}.privatelink0.blob.core.windows.net")),
            reason: String::new(),
            source: String::new(),
        })
        .collect();
    catalog.set_public_records("storage", public);
    catalog.set_authoritative_suffixes(vec!["blob.core.windows.net".into()]);
    catalog
}

fn set(records: Vec<RData>) -> RecordSet {
    RecordSet { ttl: 10, records, source: String::new() }
}

fn query(name: &str, qtype: RecordType, edns: bool) -> Vec<u8> {
    let mut message = Message::new(0x1234, MessageType::Query, OpCode::Query);
    message.metadata.recursion_desired = true;
    message.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
    if edns {
        let mut opt = Edns::new();
        opt.set_max_payload(1232);
        message.set_edns(opt);
    }
    message.to_vec().unwrap()
}

fn measure(label: &str, per_case: Duration, mut run: impl FnMut() -> usize) {
    for _ in 0..10_000 {
        black_box(run());
    }
    let started = Instant::now();
    let mut count = 0u64;
    while started.elapsed() < per_case {
        for _ in 0..1000 {
            black_box(run());
        }
        count += 1000;
    }
    let per_second = count as f64 / started.elapsed().as_secs_f64();
    println!("{label:<58} {:>10.0} q/s  {:>7.0} ns/q", per_second, 1e9 / per_second);
}

fn main() {
    let seconds = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(2.0);
    let per_case = Duration::from_secs_f64(seconds);
    let catalog = catalog();
    let cases = [
        ("private A (linked zone hit)", query("sa7.privatelink0.blob.core.windows.net.", RecordType::A, false)),
        ("private A, EDNS", query("sa7.privatelink0.blob.core.windows.net.", RecordType::A, true)),
        ("public CNAME into the linked zone", query("sa7.blob.core.windows.net.", RecordType::A, true)),
        ("NXDOMAIN in a linked zone", query("nope.privatelink0.blob.core.windows.net.", RecordType::A, true)),
        ("NODATA (AAAA) in a linked zone", query("sa7.privatelink0.blob.core.windows.net.", RecordType::AAAA, true)),
        ("NXDOMAIN under an authoritative suffix", query("nope.blob.core.windows.net.", RecordType::A, true)),
        ("forward (unknown name)", query("www.example.org.", RecordType::A, true)),
    ];
    println!("{} records in the catalog; one thread", catalog.counts().record_sets);
    for (label, packet) in &cases {
        measure(label, per_case, || match answer_packet(&catalog, "v0", packet, Transport::Udp) {
            Outcome::Reply(reply) => reply.len(),
            Outcome::Forward(forward) => forward.name.len(),
            Outcome::Drop => 0,
        });
    }
    // For scale: what parsing the query and encoding a reply costs through hickory-proto's
    // message types alone, without any lookup.
    let packet = &cases[1].1;
    measure("(reference: hickory-proto parse + encode, no lookup)", per_case, || {
        let message = Message::from_vec(packet).unwrap();
        let reply = Message::response(message.metadata.id, message.metadata.op_code);
        let mut reply = reply;
        reply.queries = message.queries;
        reply.to_vec().unwrap().len()
    });
}
