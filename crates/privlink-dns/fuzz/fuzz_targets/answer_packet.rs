//! `answer_packet` on arbitrary bytes: never panics, and every reply is a DNS message carrying
//! the request's id.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use privlink_dns::{answer_packet, Catalog, LinkInfo, Outcome, RData, RecordSet, ResolutionPolicy, Transport, ViewInfo};

fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| {
        let mut catalog = Catalog::new();
        catalog.upsert_view("v", ViewInfo { name: "v".into(), source: String::new() });
        catalog.upsert_zone("z", "privatelink.blob.core.windows.net", "");
        let set = |records| RecordSet { ttl: 10, records, source: String::new() };
        catalog.upsert_record_set("z", "sa1", privlink_dns::RecordType::A, set(vec![RData::A([10, 0, 0, 4].into())]));
        catalog.upsert_record_set("z", "*.w", privlink_dns::RecordType::Cname, set(vec![RData::Cname("sa1.privatelink.blob.core.windows.net".into())]));
        let txt = (0..20).map(|i| RData::Txt(vec![format!("{i}{}", "x".repeat(90))])).collect();
        catalog.upsert_record_set("z", "big", privlink_dns::RecordType::Txt, set(txt));
        let link = LinkInfo { zone: "z".into(), view: "v".into(), policy: ResolutionPolicy::Default, source: String::new() };
        catalog.upsert_link("l", link);
        catalog.set_authoritative_suffixes(vec!["blob.core.windows.net".into()]);
        catalog
    })
}

fuzz_target!(|packet: &[u8]| {
    for transport in [Transport::Udp, Transport::Tcp] {
        if let Outcome::Reply(reply) = answer_packet(catalog(), "v", packet, transport) {
            let message = hickory_proto::op::Message::from_vec(&reply).expect("every reply parses");
            assert_eq!(message.metadata.id, u16::from_be_bytes([packet[0], packet[1]]));
            if transport == Transport::Udp {
                assert!(reply.len() <= 1232);
            }
        }
    }
});
