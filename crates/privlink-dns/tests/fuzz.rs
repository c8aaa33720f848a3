//! Bounded fuzzing in the normal test run: whatever the bytes, `answer_packet` never panics, and
//! every reply is a DNS message with the request's id (within the UDP limit over UDP).

mod common;

use std::sync::OnceLock;

use common::*;
use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;
use privlink_dns::{answer_packet, resolve, Catalog, Outcome, RData, RecordSet, ResolutionPolicy, Transport};
use proptest::collection::vec;
use proptest::prelude::*;

fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(storage_catalog)
}

/// Checks the invariants for one packet over both transports.
fn check(catalog: &Catalog, packet: &[u8]) -> Result<(), TestCaseError> {
    for transport in [Transport::Udp, Transport::Tcp] {
        match answer_packet(catalog, "v1", packet, transport) {
            Outcome::Reply(bytes) => {
                let reply = Message::from_vec(&bytes);
                prop_assert!(reply.is_ok(), "reply does not parse: {:?} for {:?}", reply.err(), packet);
                let reply = reply.unwrap();
                prop_assert!(packet.len() >= 2);
                prop_assert_eq!(reply.metadata.id, u16::from_be_bytes([packet[0], packet[1]]));
                if transport == Transport::Udp {
                    prop_assert!(bytes.len() <= 1232);
                }
            }
            Outcome::Forward(forward) => {
                prop_assert_eq!(forward.request.metadata.id, u16::from_be_bytes([packet[0], packet[1]]));
            }
            Outcome::Drop => {}
        }
    }
    Ok(())
}

/// Valid queries to mutate: names in each part of the catalog, several types, with and without EDNS.
fn seeds() -> Vec<Vec<u8>> {
    let names = [
        "sa1.blob.core.windows.net.",
        "SA1.privatelink.blob.core.windows.net.",
        "big.privatelink.blob.core.windows.net.",
        "out.privatelink.blob.core.windows.net.",
        "nope.blob.core.windows.net.",
        "www.example.org.",
    ];
    let types = [RecordType::A, RecordType::AAAA, RecordType::TXT, RecordType::ANY, RecordType::SOA];
    let mut seeds = Vec::new();
    for name in names {
        for qtype in types {
            seeds.push(bytes(&query(name, qtype)));
            seeds.push(bytes(&with_edns(query(name, qtype), 4096)));
        }
    }
    seeds
}

#[derive(Debug, Clone)]
enum Mutation {
    Set(usize, u8),
    Insert(usize, u8),
    Remove(usize),
    Truncate(usize),
    /// A compression pointer (the kind of bytes plain mutation rarely makes).
    Pointer(usize, u8),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Set(at, byte)),
        1 => (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Insert(at, byte)),
        1 => any::<usize>().prop_map(Mutation::Remove),
        1 => any::<usize>().prop_map(Mutation::Truncate),
        2 => (any::<usize>(), 0u8..64).prop_map(|(at, target)| Mutation::Pointer(at, target)),
    ]
}

fn apply(packet: &mut Vec<u8>, mutation: &Mutation) {
    let len = packet.len().max(1);
    match *mutation {
        Mutation::Set(at, byte) if !packet.is_empty() => packet[at % len] = byte,
        Mutation::Insert(at, byte) => packet.insert(at % (packet.len() + 1), byte),
        Mutation::Remove(at) if !packet.is_empty() => {
            packet.remove(at % len);
        }
        Mutation::Truncate(at) => packet.truncate(at % len),
        Mutation::Pointer(at, target) if packet.len() >= 2 => {
            let at = at % (packet.len() - 1);
            packet[at] = 0xc0;
            packet[at + 1] = target;
        }
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(packet in vec(any::<u8>(), 0..600)) {
        check(catalog(), &packet)?;
    }

    #[test]
    fn arbitrary_bytes_behind_a_plausible_header_never_panic(
        header in (any::<u16>(), 0u8..=0x7f, any::<u8>(), 0u16..3, 0u16..3, 0u16..3, 0u16..3),
        body in vec(any::<u8>(), 0..300),
    ) {
        let (id, flags_high, flags_low, qd, an, ns, ar) = header;
        let mut packet = id.to_be_bytes().to_vec();
        packet.extend_from_slice(&[flags_high, flags_low]);
        for count in [qd, an, ns, ar] {
            packet.extend_from_slice(&count.to_be_bytes());
        }
        packet.extend_from_slice(&body);
        check(catalog(), &packet)?;
    }

    #[test]
    fn mutated_queries_never_panic(seed in 0usize..60, mutations in vec(mutation(), 1..6)) {
        let seeds = seeds();
        let mut packet = seeds[seed % seeds.len()].clone();
        for mutation in &mutations {
            apply(&mut packet, mutation);
        }
        check(catalog(), &packet)?;
    }
}

fn label() -> impl Strategy<Value = String> {
    "[a-z0-9_][a-z0-9-]{0,20}"
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    /// The hand-written encoder (name compression included) agrees with the resolution for random
    /// CNAME chains and record names.
    #[test]
    fn encoded_answers_match_the_resolution(
        zone_labels in vec(label(), 1..4),
        owners in vec(vec(label(), 1..4), 1..5),
        ip in any::<[u8; 4]>(),
        mixed_case in any::<bool>(),
    ) {
        let zone = zone_labels.join(".");
        let mut catalog = Catalog::new();
        catalog.upsert_view("v", privlink_dns::ViewInfo { name: "v".into(), source: String::new() });
        catalog.upsert_zone("z", &zone, "");
        let link = privlink_dns::LinkInfo { zone: "z".into(), view: "v".into(), policy: ResolutionPolicy::Default, source: String::new() };
        catalog.upsert_link("l", link);
        let owners: Vec<String> = owners.iter().map(|labels| labels.join(".")).collect();
        // owner[0] → owner[1] → … → A record at the last distinct owner.
        for pair in owners.windows(2) {
            if pair[0] != pair[1] {
                let target = format!("{}.{zone}", pair[1]);
                let set = RecordSet { ttl: 5, records: vec![RData::Cname(target)], source: String::new() };
                catalog.upsert_record_set("z", &pair[0], privlink_dns::RecordType::Cname, set);
            }
        }
        let last = owners.last().cloned().unwrap_or_default();
        let set = RecordSet { ttl: 5, records: vec![RData::A(ip.into())], source: String::new() };
        catalog.upsert_record_set("z", &last, privlink_dns::RecordType::A, set);

        let qname = format!("{}.{zone}", owners[0]);
        let asked = if mixed_case { qname.to_uppercase() } else { qname.clone() };
        let request = bytes(&query(&format!("{asked}."), RecordType::A));
        let Outcome::Reply(reply) = answer_packet(&catalog, "v", &request, Transport::Tcp) else {
            return Err(TestCaseError::fail("expected a reply"));
        };
        let reply = Message::from_vec(&reply).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let expected = resolve(&catalog, "v", &qname, RecordType::A);
        let on_the_wire: Vec<String> = reply.answers.iter()
            .map(|r| format!("{} {}", r.name.to_ascii().to_lowercase().trim_end_matches('.'), r.data.to_string().to_lowercase()))
            .collect();
        let resolved: Vec<String> = expected.answers.iter().map(|a| format!("{} {}", a.name, a.data)).collect();
        prop_assert_eq!(on_the_wire, resolved);
        prop_assert_eq!(reply.metadata.response_code.low(), expected.rcode.code());
    }
}

/// Inputs libFuzzer found (see `fuzz/`), kept as regressions.
#[test]
fn fuzzer_findings_stay_fixed() {
    // A question name pointing into the header, whose labels run into the question itself:
    // echoing it made a reply hickory-proto refuses to decode.
    let overlapping_pointer = [
        0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0b, 0x07, 0x00, 0x00, 0x00, 0x60,
        0x00, 0x12, 0x2a, 0xc0, 0xc0, 0xc0, 0xc0, 0x00, 0x00, 0x00, 0x00, 0xc0, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00,
        0xc0, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x70, 0x03, 0x00, 0x00, 0x01, 0x7a, 0x01, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x6e, 0x65, 0x74, 0x00, 0x00, 0xff, 0x00, 0x01,
    ];
    check(catalog(), &overlapping_pointer).unwrap();
    // A well-formed question name ending in a pointer to the header: the reply's header has other
    // bytes there.
    let pointer_into_header = [
        0x01, 0x34, 0x00, 0x12, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x70, 0x6c, 0x01, 0x01, 0x01,
        0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01,
        0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0xc0, 0x00,
        0x6f, 0x1c, 0x1c, 0x1c, 0x1c, 0x72, 0x65, 0x2e, 0x77, 0x69, 0x6e, 0x64, 0x6f, 0x77, 0x73, 0x2e, 0x6e, 0x65,
        0x74, 0x1c, 0x00, 0x00, 0x00, 0x00, 0x29, 0x00, 0x00, 0x00, 0x66, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
        0x02, 0x00, 0x3b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff,
        0xff, 0xff, 0xff,
    ];
    check(catalog(), &pointer_into_header).unwrap();
}
