//! Real packets through `answer_packet`: queries built with hickory-proto, replies read back.

mod common;

use common::*;
use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RecordType};
use privlink_dns::wire::{error_reply, reply_from_upstream};
use privlink_dns::{answer_packet, Catalog, Outcome, RData, Rcode, Transport};

fn reply(catalog: &Catalog, view: &str, packet: &[u8], transport: Transport) -> Message {
    match answer_packet(catalog, view, packet, transport) {
        Outcome::Reply(bytes) => parse(&bytes),
        other => panic!("expected a reply, got {other:?}"),
    }
}

fn udp(catalog: &Catalog, view: &str, message: &Message) -> Message {
    reply(catalog, view, &bytes(message), Transport::Udp)
}

#[test]
fn answers_keep_the_id_and_the_question_and_set_resolver_flags() {
    let catalog = storage_catalog();
    let request = query("SA1.Blob.Core.Windows.Net.", RecordType::A);
    let reply = udp(&catalog, "v1", &request);
    assert_eq!(reply.metadata.id, 0x4242);
    assert_eq!(reply.metadata.message_type, MessageType::Response);
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
    assert!(reply.metadata.recursion_desired && reply.metadata.recursion_available);
    assert!(!reply.metadata.authoritative && !reply.metadata.truncation);
    assert_eq!(reply.queries, request.queries, "question echoed with the client's case");
    assert_eq!(reply.queries[0].name().to_ascii(), "SA1.Blob.Core.Windows.Net.");
    assert_eq!(
        answers(&reply),
        [
            "sa1.blob.core.windows.net. cname sa1.privatelink.blob.core.windows.net.",
            "sa1.privatelink.blob.core.windows.net. a 10.0.0.4"
        ]
    );
    assert_eq!(reply.answers[0].name.to_ascii(), "SA1.Blob.Core.Windows.Net.", "the owner points at the question");
    assert_eq!(reply.answers[0].ttl, 60);
    assert_eq!(reply.answers[1].ttl, 10);
    assert!(reply.edns.is_none());

    let mut no_recursion = query("sa1.blob.core.windows.net.", RecordType::A);
    no_recursion.metadata.recursion_desired = false;
    let reply = udp(&catalog, "v2", &no_recursion);
    assert!(!reply.metadata.recursion_desired && reply.metadata.recursion_available);
    assert_eq!(answers(&reply)[1], "sa1.privatelink.blob.core.windows.net. a 20.0.0.1");
}

#[test]
fn negative_answers_carry_the_soa() {
    let catalog = storage_catalog();
    let nx = udp(&catalog, "v1", &query("nope.privatelink.blob.core.windows.net.", RecordType::A));
    assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);
    assert!(nx.answers.is_empty());
    assert_eq!(nx.authorities.len(), 1);
    assert_eq!(nx.authorities[0].record_type(), RecordType::SOA);
    assert_eq!(nx.authorities[0].ttl, 10);
    assert_eq!(nx.authorities[0].name.to_ascii(), "privatelink.blob.core.windows.net.");

    let nodata = udp(&catalog, "v1", &query("sa1.privatelink.blob.core.windows.net.", RecordType::AAAA));
    assert_eq!(
        (nodata.metadata.response_code, nodata.answers.len(), nodata.authorities.len()),
        (ResponseCode::NoError, 0, 1)
    );

    let suffix = udp(&catalog, "v2", &query("unknown.blob.core.windows.net.", RecordType::A));
    assert_eq!(suffix.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(suffix.authorities[0].name.to_ascii(), "blob.core.windows.net.");

    assert_eq!(
        udp(&catalog, "nope", &query("x.example.", RecordType::A)).metadata.response_code,
        ResponseCode::Refused
    );
}

#[test]
fn edns_is_echoed_with_privlinks_payload_size() {
    let catalog = storage_catalog();
    let mut request = with_edns(query("sa1.privatelink.blob.core.windows.net.", RecordType::A), 4096);
    request.edns.as_mut().unwrap().set_dnssec_ok(true);
    let reply = udp(&catalog, "v1", &request);
    let edns = reply.edns.expect("OPT echoed");
    assert_eq!(edns.max_payload(), 1232);
    assert_eq!(edns.version(), 0);
    assert!(edns.flags().dnssec_ok);
    assert_eq!(reply.answers.len(), 1);

    let mut future = with_edns(query("sa1.privatelink.blob.core.windows.net.", RecordType::A), 1232);
    future.edns.as_mut().unwrap().set_version(1);
    let badvers = udp(&catalog, "v1", &future);
    // 16 is BADVERS with EDNS (hickory names it after TSIG's BADSIG, the same number).
    assert_eq!(u16::from(badvers.metadata.response_code), 16);
    assert!(badvers.answers.is_empty());
}

#[test]
fn udp_replies_over_the_limit_are_truncated() {
    let catalog = storage_catalog();
    let big = "big.privatelink.blob.core.windows.net.";
    // 12 × 93 bytes: over 512 and within 1232.
    let classic = udp(&catalog, "v1", &query(big, RecordType::TXT));
    assert!(classic.metadata.truncation);
    assert!(classic.answers.is_empty() && classic.authorities.is_empty());
    assert_eq!(classic.queries.len(), 1);
    assert_eq!(classic.metadata.id, 0x4242);

    let small_edns = udp(&catalog, "v1", &with_edns(query(big, RecordType::TXT), 1000));
    assert!(small_edns.metadata.truncation);
    assert!(small_edns.edns.is_some(), "the OPT survives truncation");
    let edns = udp(&catalog, "v1", &with_edns(query(big, RecordType::TXT), 4096));
    assert!(!edns.metadata.truncation);
    assert_eq!(edns.answers.len(), 12);
    let encoded = bytes(&with_edns(query(big, RecordType::TXT), 4096));
    match answer_packet(&catalog, "v1", &encoded, Transport::Udp) {
        Outcome::Reply(bytes) => assert!(bytes.len() <= 1232, "{}", bytes.len()),
        other => panic!("{other:?}"),
    }

    let tcp = reply(&catalog, "v1", &bytes(&query(big, RecordType::TXT)), Transport::Tcp);
    assert!(!tcp.metadata.truncation);
    assert_eq!(tcp.answers.len(), 12);
}

#[test]
fn malformed_and_unsupported_queries() {
    let catalog = storage_catalog();
    let formerr = |packet: &[u8]| match answer_packet(&catalog, "v1", packet, Transport::Udp) {
        Outcome::Reply(bytes) => {
            let reply = parse(&bytes);
            assert_eq!(reply.metadata.id, u16::from_be_bytes([packet[0], packet[1]]));
            assert_eq!(reply.metadata.message_type, MessageType::Response);
            reply.metadata.response_code
        }
        other => panic!("{other:?}"),
    };
    // Garbage with a header's worth of bytes gets FORMERR; less is dropped.
    assert_eq!(formerr(&[0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0xff, 0xff]), ResponseCode::FormErr);
    assert!(matches!(answer_packet(&catalog, "v1", &[1, 2, 3], Transport::Udp), Outcome::Drop));
    assert!(matches!(answer_packet(&catalog, "v1", &[], Transport::Udp), Outcome::Drop));

    // Responses are never answered.
    let mut response = query("sa1.blob.core.windows.net.", RecordType::A);
    response.metadata.message_type = MessageType::Response;
    assert!(matches!(answer_packet(&catalog, "v1", &bytes(&response), Transport::Udp), Outcome::Drop));

    // No question, two questions.
    let empty = Message::new(7, MessageType::Query, OpCode::Query);
    assert_eq!(formerr(&bytes(&empty)), ResponseCode::FormErr);
    let mut two = query("a.example.", RecordType::A);
    two.add_query(query("b.example.", RecordType::A).queries[0].clone());
    assert_eq!(formerr(&bytes(&two)), ResponseCode::FormErr);

    // Other opcodes.
    for opcode in [OpCode::Status, OpCode::Notify, OpCode::Update] {
        let mut message = query("sa1.blob.core.windows.net.", RecordType::A);
        message.metadata.op_code = opcode;
        let reply = udp(&catalog, "v1", &message);
        assert_eq!(reply.metadata.response_code, ResponseCode::NotImp, "{opcode:?}");
        assert_eq!(reply.metadata.op_code, opcode);
    }

    // Other classes.
    let mut chaos = query("version.bind.", RecordType::TXT);
    chaos.queries[0].set_query_class(DNSClass::CH);
    assert_eq!(udp(&catalog, "v1", &chaos).metadata.response_code, ResponseCode::Refused);

    // Names privlink cannot hold (the root, odd bytes).
    assert_eq!(udp(&catalog, "v1", &query(".", RecordType::NS)).metadata.response_code, ResponseCode::FormErr);
    let mut spaced = query("placeholder.example.", RecordType::A);
    spaced.queries[0].set_name(Name::from_labels(vec![&b"a b"[..], b"example"]).unwrap());
    assert_eq!(udp(&catalog, "v1", &spaced).metadata.response_code, ResponseCode::FormErr);
}

#[test]
fn unknown_names_become_forward_requests_with_the_chain_so_far() {
    let catalog = storage_catalog();
    let request = query("out.privatelink.blob.core.windows.net.", RecordType::A);
    let Outcome::Forward(forward) = answer_packet(&catalog, "v1", &bytes(&request), Transport::Tcp) else { panic!() };
    assert_eq!(forward.name, "www.example.org");
    assert_eq!(forward.qtype, RecordType::A);
    assert_eq!(forward.transport, Transport::Tcp);
    assert_eq!(forward.request.metadata.id, 0x4242);
    assert_eq!(forward.prefix.len(), 1);
    assert_eq!(forward.prefix[0].data, RData::Cname("www.example.org".into()));

    // The upstream answers (with its own id); the client gets its id, the chain, then the rest.
    let mut upstream = Message::response(0x9999, OpCode::Query);
    upstream.metadata.recursion_available = true;
    upstream.add_query(query("www.example.org.", RecordType::A).queries[0].clone());
    let a_record = hickory_proto::rr::Record::from_rdata(
        "www.example.org.".parse().unwrap(),
        30,
        hickory_proto::rr::RData::A(hickory_proto::rr::rdata::A::new(93, 184, 216, 34)),
    );
    upstream.add_answer(a_record);
    let spliced = reply_from_upstream(&forward.request, &forward.prefix, &bytes(&upstream), Transport::Udp).unwrap();
    let spliced = parse(&spliced);
    assert_eq!(spliced.metadata.id, 0x4242);
    assert_eq!(spliced.queries, request.queries);
    assert_eq!(
        answers(&spliced),
        ["out.privatelink.blob.core.windows.net. cname www.example.org.", "www.example.org. a 93.184.216.34"]
    );
    assert!(reply_from_upstream(&forward.request, &forward.prefix, b"garbage", Transport::Udp).is_none());

    let refused = parse(&error_reply(&forward.request, Rcode::Refused, Transport::Udp));
    assert_eq!((refused.metadata.id, refused.metadata.response_code), (0x4242, ResponseCode::Refused));
    assert_eq!(refused.queries, request.queries);
}

#[test]
fn every_record_type_survives_the_wire() {
    let mut catalog = storage_catalog();
    let records = [
        RData::Aaaa("fd00::4".parse().unwrap()),
        RData::Mx { preference: 10, exchange: "mail.privatelink.blob.core.windows.net".into() },
        RData::Ptr("host.example.org".into()),
        RData::Srv { priority: 1, weight: 2, port: 443, target: "sa1.privatelink.blob.core.windows.net".into() },
        RData::Txt(vec!["v=spf1 -all".into(), "y".repeat(300), String::new()]),
    ];
    for data in &records {
        catalog.upsert_record_set("blob", "multi", data.record_type(), set(10, vec![data.clone()]));
    }
    let name = "multi.privatelink.blob.core.windows.net.";
    for data in records {
        let request = with_edns(query(name, data.record_type().to_hickory()), 1232);
        let reply = udp(&catalog, "v1", &request);
        assert_eq!(reply.answers.len(), 1, "{data:?}");
        let wire = &reply.answers[0];
        assert_eq!(wire.record_type(), data.record_type().to_hickory());
        let expected = match &data {
            // hickory prints each TXT character-string unquoted, back to back.
            RData::Txt(strings) => strings.concat(),
            other => other.to_string(),
        };
        assert_eq!(wire.data.to_string(), expected);
    }
    let soa = udp(&catalog, "v1", &query("privatelink.blob.core.windows.net.", RecordType::SOA));
    assert_eq!(
        soa.answers[0].data.to_string(),
        "azureprivatedns.net. azureprivatedns-host.microsoft.com. 1 3600 300 2419200 10"
    );
    let any = udp(&catalog, "v1", &with_edns(query(name, RecordType::ANY), 1232));
    assert_eq!(any.answers.len(), 5);
}
