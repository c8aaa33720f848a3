use super::*;

fn set(ttl: u32, records: Vec<RData>) -> RecordSet {
    RecordSet { ttl, records, source: "/sets/x".into() }
}

fn a(ip: [u8; 4]) -> RData {
    RData::A(Ipv4Addr::from(ip))
}

#[test]
fn record_types_print_and_parse_as_mnemonics() {
    for rtype in RecordType::ALL {
        assert_eq!(rtype.to_string().parse::<RecordType>().unwrap(), rtype);
        assert_eq!(rtype.to_string().to_lowercase().parse::<RecordType>().unwrap(), rtype);
        assert_eq!(RecordType::from_hickory(rtype.to_hickory()), Some(rtype));
        assert_eq!(rtype.to_hickory().to_string(), rtype.to_string());
    }
    assert_eq!("Aaaa".parse::<RecordType>().unwrap(), RecordType::Aaaa);
    assert!("NS".parse::<RecordType>().is_err());
    assert_eq!(RecordType::from_hickory(hickory_proto::rr::RecordType::NS), None);
}

#[test]
fn rdata_prints_in_zone_file_style() {
    assert_eq!(a([10, 0, 0, 4]).to_string(), "10.0.0.4");
    assert_eq!(RData::Aaaa("fd00::4".parse().unwrap()).to_string(), "fd00::4");
    assert_eq!(
        RData::Cname("sa1.privatelink.blob.core.windows.net".into()).to_string(),
        "sa1.privatelink.blob.core.windows.net."
    );
    assert_eq!(RData::Mx { preference: 10, exchange: "mail.x".into() }.to_string(), "10 mail.x.");
    assert_eq!(RData::Ptr("host.x".into()).to_string(), "host.x.");
    let srv = RData::Srv { priority: 1, weight: 2, port: 443, target: "t.x".into() };
    assert_eq!(srv.to_string(), "1 2 443 t.x.");
    assert_eq!(RData::Txt(vec!["v=spf1".into(), "say \"hi\"".into()]).to_string(), r#""v=spf1" "say \"hi\"""#);
    let soa = RData::Soa {
        host: "azureprivatedns.net".into(),
        email: "azureprivatedns-host.microsoft.com".into(),
        serial: 1,
        refresh: 3600,
        retry: 300,
        expire: 2419200,
        minimum: 10,
    };
    assert_eq!(soa.to_string(), "azureprivatedns.net. azureprivatedns-host.microsoft.com. 1 3600 300 2419200 10");
}

#[test]
fn names_inside_records_are_normalised_and_bad_ones_dropped() {
    let mut catalog = Catalog::new();
    catalog.upsert_zone("z", "Example.COM.", "/zones/z");
    let records = vec![RData::Cname("Target.Example.NET.".into())];
    catalog.upsert_record_set("z", "WWW", RecordType::Cname, set(60, records));
    let zone = &catalog.zones["z"];
    let stored = zone.node("www").unwrap().set(RecordType::Cname).unwrap();
    assert_eq!(stored.records, vec![RData::Cname("target.example.net".into())]);

    // A record of the wrong type and a name that cannot exist are dropped, the rest kept.
    let mixed = vec![a([1, 1, 1, 1]), RData::Cname("x".into()), a([2, 2, 2, 2])];
    catalog.upsert_record_set("z", "mixed", RecordType::A, set(60, mixed));
    let bad = vec![RData::Mx { preference: 1, exchange: "bad name".into() }];
    catalog.upsert_record_set("z", "mx", RecordType::Mx, set(60, bad));
    assert_eq!(catalog.zones["z"].node("mixed").unwrap().set(RecordType::A).unwrap().records.len(), 2);
    assert!(catalog.zones["z"].node("mx").unwrap().set(RecordType::Mx).unwrap().records.is_empty());
}

#[test]
fn invalid_input_is_ignored_not_fatal() {
    let mut catalog = Catalog::new();
    catalog.upsert_zone("z", "not a zone", "/zones/z");
    catalog.upsert_record_set("z2", "a..b", RecordType::A, set(60, vec![a([1, 2, 3, 4])]));
    catalog.set_authoritative_suffixes(vec!["".into(), "ok.example".into(), "bad suffix".into()]);
    catalog.set_public_records(
        "o",
        vec![PublicRecord {
            name: "..".into(),
            ttl: 1,
            data: a([1, 2, 3, 4]),
            reason: String::new(),
            source: String::new(),
        }],
    );
    assert_eq!(catalog.counts(), CatalogCounts::default());
    assert!(catalog.authoritative_suffix("x.ok.example").is_some());
    assert!(catalog.zones_named("not a zone").is_empty());
}

#[test]
fn counts_and_generation_track_mutations() {
    let mut catalog = Catalog::new();
    assert_eq!(catalog.generation(), 0);
    catalog.upsert_record_set("z", "a", RecordType::A, set(60, vec![a([1, 2, 3, 4])]));
    assert_eq!(catalog.counts().zones, 0, "a placeholder is not a zone yet");
    assert_eq!(catalog.counts().record_sets, 1);
    catalog.upsert_zone("z", "example.com", "/zones/z");
    catalog.upsert_record_set("z", "a", RecordType::Aaaa, set(60, vec![RData::Aaaa("::1".parse().unwrap())]));
    catalog.upsert_record_set("z", "a", RecordType::A, set(60, vec![a([5, 6, 7, 8])]));
    catalog.upsert_view("v", ViewInfo { name: "vnet".into(), source: "/vnets/v".into() });
    let link =
        LinkInfo { zone: "z".into(), view: "v".into(), policy: ResolutionPolicy::Default, source: "/links/l".into() };
    catalog.upsert_link("l", link);
    let public = PublicRecord {
        name: "p.example".into(),
        ttl: 5,
        data: a([9, 9, 9, 9]),
        reason: "r".into(),
        source: "s".into(),
    };
    catalog.set_public_records("owner", vec![public.clone(), public]);
    assert_eq!(catalog.counts(), CatalogCounts { zones: 1, record_sets: 2, views: 1, links: 1, public_records: 2 });
    let generation = catalog.generation();
    catalog.remove_record_set("z", "a", RecordType::Aaaa);
    catalog.set_public_records("owner", Vec::new());
    assert_eq!(catalog.counts(), CatalogCounts { zones: 1, record_sets: 1, views: 1, links: 1, public_records: 0 });
    assert_eq!(catalog.generation(), generation + 2);
    catalog.remove_zone("z");
    assert_eq!(catalog.counts(), CatalogCounts { zones: 0, record_sets: 0, views: 1, links: 1, public_records: 0 });
}

#[test]
fn empty_non_terminals_are_counted_and_released() {
    let mut catalog = Catalog::new();
    catalog.upsert_zone("z", "example.com", "/zones/z");
    catalog.upsert_record_set("z", "a.b.c", RecordType::A, set(60, vec![a([1, 2, 3, 4])]));
    catalog.upsert_record_set("z", "x.b.c", RecordType::A, set(60, vec![a([1, 2, 3, 4])]));
    let zone = &catalog.zones["z"];
    assert!(zone.exists("b.c") && zone.exists("c") && zone.exists("@") && zone.exists("a.b.c"));
    assert!(!zone.exists("d") && !zone.exists("b"));
    catalog.remove_record_set("z", "a.b.c", RecordType::A);
    assert!(catalog.zones["z"].exists("b.c"));
    catalog.remove_record_set("z", "x.b.c", RecordType::A);
    let zone = &catalog.zones["z"];
    assert!(!zone.exists("b.c") && !zone.exists("c"));
    assert!(zone.below.is_empty() && zone.nodes.is_empty());
}

#[test]
fn zones_named_lists_ids_and_sources() {
    let mut catalog = Catalog::new();
    catalog.upsert_zone("z2", "example.com", "/zones/2");
    catalog.upsert_zone("z1", "EXAMPLE.com.", "/zones/1");
    catalog.upsert_zone("z3", "other.com", "/zones/3");
    assert_eq!(
        catalog.zones_named("example.com"),
        vec![("z1".to_string(), "/zones/1".to_string()), ("z2".to_string(), "/zones/2".to_string())]
    );
    catalog.upsert_zone("z1", "renamed.com", "/zones/1");
    assert_eq!(catalog.zones_named("example.com").len(), 1);
    assert_eq!(catalog.zones_named("renamed.com").len(), 1);
}

#[test]
fn label_counts_select_the_ancestors_worth_looking_up() {
    let names = ["b.c".to_string(), "x.y.z.w".to_string()];
    let counts = LabelCounts::of(names.iter());
    assert_eq!(counts.candidates("a.b.c").collect::<Vec<_>>(), ["b.c"]);
    assert_eq!(counts.candidates("q.r.s.t").collect::<Vec<_>>(), ["q.r.s.t", "s.t"]);
    assert_eq!(LabelCounts::default().candidates("a.b.c").count(), 0);
}
