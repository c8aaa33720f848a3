use std::net::Ipv4Addr;

use hickory_proto::rr::RecordType as Q;

use super::*;
use crate::model::{LinkInfo, PublicRecord, RecordSet, ViewInfo};

const BLOB_ZONE: &str = "privatelink.blob.core.windows.net";

fn a(ip: [u8; 4]) -> RData {
    RData::A(Ipv4Addr::from(ip))
}

fn cname(target: &str) -> RData {
    RData::Cname(target.into())
}

fn soa(minimum: u32) -> RData {
    RData::Soa {
        host: "azureprivatedns.net".into(),
        email: "azureprivatedns-host.microsoft.com".into(),
        serial: 1,
        refresh: 3600,
        retry: 300,
        expire: 2419200,
        minimum,
    }
}

fn set(ttl: u32, records: Vec<RData>, source: &str) -> RecordSet {
    RecordSet { ttl, records, source: source.into() }
}

fn public(name: &str, data: RData, source: &str) -> PublicRecord {
    PublicRecord { name: name.into(), ttl: 60, data, reason: format!("public name {name}"), source: source.into() }
}

fn view(catalog: &mut Catalog, id: &str) {
    catalog.upsert_view(id, ViewInfo { name: format!("vnet-{id}"), source: format!("/vnets/{id}") });
}

fn link(catalog: &mut Catalog, id: &str, zone: &str, view: &str, policy: ResolutionPolicy) {
    let info = LinkInfo { zone: zone.into(), view: view.into(), policy, source: format!("/links/{id}") };
    catalog.upsert_link(id, info);
}

/// Zone `id` named `name` with an SOA (TTL 3600, minimum 10).
fn zone(catalog: &mut Catalog, id: &str, name: &str) {
    catalog.upsert_zone(id, name, &format!("/zones/{id}"));
    catalog.upsert_record_set(id, "@", RecordType::Soa, set(3600, vec![soa(10)], &format!("/zones/{id}/SOA/@")));
}

fn record(catalog: &mut Catalog, zone: &str, name: &str, data: RData) {
    let rtype = data.record_type();
    catalog.upsert_record_set(zone, name, rtype, set(300, vec![data], &format!("/zones/{zone}/{rtype}/{name}")));
}

/// The storage scenario: sa1's public name CNAMEs into privatelink; view v1 links the private
/// zone (sa1 at 10.0.0.4), view v2 does not.
fn storage() -> Catalog {
    let mut catalog = Catalog::new();
    view(&mut catalog, "v1");
    view(&mut catalog, "v2");
    zone(&mut catalog, "blob", BLOB_ZONE);
    record(&mut catalog, "blob", "sa1", a([10, 0, 0, 4]));
    link(&mut catalog, "l1", "blob", "v1", ResolutionPolicy::Default);
    catalog.set_public_records(
        "storage/sa1",
        vec![
            public("sa1.blob.core.windows.net", cname("sa1.privatelink.blob.core.windows.net"), "/sa1"),
            public("sa1.privatelink.blob.core.windows.net", a([20, 0, 0, 1]), "/sa1"),
        ],
    );
    catalog.set_authoritative_suffixes(vec!["blob.core.windows.net".into()]);
    catalog
}

fn summary(resolution: &Resolution) -> Vec<String> {
    resolution.answers.iter().map(|a| format!("{} {} {}", a.name, a.data.record_type(), a.data)).collect()
}

fn kinds(resolution: &Resolution) -> Vec<StepKind> {
    resolution.steps.iter().map(|s| s.kind).collect()
}

fn has_step(resolution: &Resolution, kind: StepKind) -> &Step {
    resolution.steps.iter().find(|s| s.kind == kind).unwrap_or_else(|| panic!("no {kind:?} step in {resolution:#?}"))
}

#[test]
fn a_linked_view_gets_the_private_address_through_the_public_cname() {
    let resolution = resolve(&storage(), "v1", "SA1.blob.core.windows.net.", Q::A);
    assert_eq!(resolution.rcode, Rcode::NoError);
    assert_eq!(
        summary(&resolution),
        [
            "sa1.blob.core.windows.net CNAME sa1.privatelink.blob.core.windows.net.",
            "sa1.privatelink.blob.core.windows.net A 10.0.0.4"
        ]
    );
    assert_eq!(resolution.answers[1].ttl, 300);
    assert_eq!(resolution.forward, None);
    assert_eq!(kinds(&resolution), [StepKind::View, StepKind::Cname, StepKind::PrivateZone, StepKind::Record]);
    assert_eq!(has_step(&resolution, StepKind::PrivateZone).sources, ["/links/l1", "/zones/blob"]);
    assert_eq!(has_step(&resolution, StepKind::Record).sources, ["/zones/blob/A/sa1"]);
    assert_eq!(has_step(&resolution, StepKind::Cname).sources, ["/sa1"]);
}

#[test]
fn an_unlinked_view_gets_the_public_address_and_is_told_why() {
    let resolution = resolve(&storage(), "v2", "sa1.blob.core.windows.net", Q::A);
    assert_eq!(resolution.rcode, Rcode::NoError);
    assert_eq!(resolution.answers.last().unwrap().data, a([20, 0, 0, 1]));
    let not_linked = has_step(&resolution, StepKind::NotLinked);
    assert_eq!(not_linked.name, BLOB_ZONE);
    assert_eq!(not_linked.sources, ["/zones/blob"]);
    assert!(not_linked.message.contains("not linked"), "{}", not_linked.message);
    assert_eq!(has_step(&resolution, StepKind::Public).message, "public name sa1.privatelink.blob.core.windows.net");
}

#[test]
fn the_silent_lookup_finds_what_the_explained_one_answers() {
    let catalog = storage();
    assert_eq!(lookup_a(&catalog, "v1", "SA1.blob.core.windows.net."), Lookup::Address(Ipv4Addr::new(10, 0, 0, 4)));
    assert_eq!(lookup_a(&catalog, "v2", "sa1.blob.core.windows.net"), Lookup::Address(Ipv4Addr::new(20, 0, 0, 1)));
    assert_eq!(lookup_a(&catalog, "v1", "nope.blob.core.windows.net"), Lookup::Nothing(Rcode::NxDomain));
    assert_eq!(lookup_a(&catalog, "v1", "www.example.org"), Lookup::Elsewhere);
    assert_eq!(lookup_a(&catalog, "nope", "sa1.blob.core.windows.net"), Lookup::Nothing(Rcode::Refused));
    assert_eq!(lookup_a(&catalog, "v1", "bad..name"), Lookup::Nothing(Rcode::FormErr));
}

#[test]
fn unknown_views_are_refused_and_bad_names_are_format_errors() {
    let catalog = storage();
    let unknown = resolve(&catalog, "nope", "sa1.blob.core.windows.net", Q::A);
    assert_eq!((unknown.rcode, kinds(&unknown)), (Rcode::Refused, vec![StepKind::View]));
    assert_eq!(resolve(&catalog, "nope", "bad name", Q::A).rcode, Rcode::Refused);
    assert_eq!(resolve(&catalog, "v1", "bad name", Q::A).rcode, Rcode::FormErr);
    assert_eq!(resolve(&catalog, "v1", ".", Q::A).rcode, Rcode::FormErr);
}

#[test]
fn the_longest_linked_zone_wins_then_the_smallest_link_id() {
    let mut catalog = Catalog::new();
    view(&mut catalog, "v");
    zone(&mut catalog, "outer", "example.com");
    zone(&mut catalog, "inner", "sub.example.com");
    record(&mut catalog, "outer", "a.sub", a([1, 1, 1, 1]));
    record(&mut catalog, "inner", "a", a([2, 2, 2, 2]));
    link(&mut catalog, "l-outer", "outer", "v", ResolutionPolicy::Default);
    link(&mut catalog, "l-inner", "inner", "v", ResolutionPolicy::Default);
    assert_eq!(resolve(&catalog, "v", "a.sub.example.com", Q::A).answers[0].data, a([2, 2, 2, 2]));

    zone(&mut catalog, "twin", "sub.example.com");
    record(&mut catalog, "twin", "a", a([3, 3, 3, 3]));
    link(&mut catalog, "l-a-twin", "twin", "v", ResolutionPolicy::Default);
    assert_eq!(resolve(&catalog, "v", "a.sub.example.com", Q::A).answers[0].data, a([3, 3, 3, 3]));
    catalog.remove_link("l-a-twin");
    assert_eq!(resolve(&catalog, "v", "a.sub.example.com", Q::A).answers[0].data, a([2, 2, 2, 2]));
}

#[test]
fn cname_chains_cross_zones_and_end_in_public_data_or_upstream() {
    let mut catalog = storage();
    zone(&mut catalog, "corp", "corp.example");
    zone(&mut catalog, "apps", "apps.example");
    link(&mut catalog, "l-corp", "corp", "v1", ResolutionPolicy::Default);
    link(&mut catalog, "l-apps", "apps", "v1", ResolutionPolicy::Default);
    record(&mut catalog, "corp", "www", cname("front.apps.example"));
    record(&mut catalog, "apps", "front", cname("sa1.blob.core.windows.net"));
    record(&mut catalog, "corp", "out", cname("www.example.org"));

    let chain = resolve(&catalog, "v1", "www.corp.example", Q::A);
    assert_eq!(chain.rcode, Rcode::NoError);
    assert_eq!(
        summary(&chain),
        [
            "www.corp.example CNAME front.apps.example.",
            "front.apps.example CNAME sa1.blob.core.windows.net.",
            "sa1.blob.core.windows.net CNAME sa1.privatelink.blob.core.windows.net.",
            "sa1.privatelink.blob.core.windows.net A 10.0.0.4",
        ]
    );

    let out = resolve(&catalog, "v1", "out.corp.example", Q::A);
    assert_eq!(out.forward.as_deref(), Some("www.example.org"));
    assert_eq!(summary(&out), ["out.corp.example CNAME www.example.org."]);
    assert_eq!(kinds(&out).last(), Some(&StepKind::Forward));

    // Asking for the CNAME itself does not follow it.
    assert_eq!(
        summary(&resolve(&catalog, "v1", "www.corp.example", Q::CNAME)),
        ["www.corp.example CNAME front.apps.example."]
    );
}

#[test]
fn cname_loops_and_overlong_chains_fail() {
    let mut catalog = Catalog::new();
    view(&mut catalog, "v");
    zone(&mut catalog, "z", "loop.example");
    link(&mut catalog, "l", "z", "v", ResolutionPolicy::Default);
    record(&mut catalog, "z", "a", cname("b.loop.example"));
    record(&mut catalog, "z", "b", cname("a.loop.example"));
    record(&mut catalog, "z", "self", cname("self.loop.example"));
    for name in ["a.loop.example", "self.loop.example"] {
        let resolution = resolve(&catalog, "v", name, Q::A);
        assert_eq!(resolution.rcode, Rcode::ServFail, "{name}");
        assert_eq!(kinds(&resolution).last(), Some(&StepKind::Loop));
    }

    for hop in 0..=MAX_CNAME_HOPS {
        record(&mut catalog, "z", &format!("c{hop}"), cname(&format!("c{}.loop.example", hop + 1)));
    }
    record(&mut catalog, "z", &format!("c{}", MAX_CNAME_HOPS + 1), a([1, 2, 3, 4]));
    let too_long = resolve(&catalog, "v", "c0.loop.example", Q::A);
    assert_eq!(too_long.rcode, Rcode::ServFail);
    let just_fits = resolve(&catalog, "v", "c1.loop.example", Q::A);
    assert_eq!((just_fits.rcode, just_fits.answers.len()), (Rcode::NoError, MAX_CNAME_HOPS + 1));
}

#[test]
fn nodata_and_nxdomain_carry_the_soa_with_the_negative_ttl() {
    let mut catalog = storage();
    record(&mut catalog, "blob", "deep.ent", a([1, 1, 1, 1]));
    let soa_answer =
        |r: &Resolution| (r.authority[0].name.clone(), r.authority[0].ttl, r.authority[0].data.record_type());

    let nodata = resolve(&catalog, "v1", "sa1.privatelink.blob.core.windows.net", Q::AAAA);
    assert_eq!((nodata.rcode, nodata.answers.len()), (Rcode::NoError, 0));
    assert_eq!(soa_answer(&nodata), (BLOB_ZONE.to_string(), 10, RecordType::Soa));
    assert_eq!(kinds(&nodata).last(), Some(&StepKind::NoData));

    let ent = resolve(&catalog, "v1", "ent.privatelink.blob.core.windows.net", Q::A);
    assert_eq!((ent.rcode, ent.answers.len(), ent.authority.len()), (Rcode::NoError, 0, 1));

    let apex = resolve(&catalog, "v1", BLOB_ZONE, Q::A);
    assert_eq!((apex.rcode, apex.answers.len()), (Rcode::NoError, 0));

    let nx = resolve(&catalog, "v1", "nope.privatelink.blob.core.windows.net", Q::A);
    assert_eq!((nx.rcode, nx.answers.len()), (Rcode::NxDomain, 0));
    assert_eq!(soa_answer(&nx), (BLOB_ZONE.to_string(), 10, RecordType::Soa));
    assert_eq!(has_step(&nx, StepKind::NxDomain).sources, ["/zones/blob"]);

    // Below an existing name is still NXDOMAIN; a chain ending there keeps the code (RFC 6604).
    assert_eq!(resolve(&catalog, "v1", "x.sa1.privatelink.blob.core.windows.net", Q::A).rcode, Rcode::NxDomain);
    catalog.set_public_records(
        "x",
        vec![public("dangling.blob.core.windows.net", cname("gone.privatelink.blob.core.windows.net"), "/x")],
    );
    let dangling = resolve(&catalog, "v1", "dangling.blob.core.windows.net", Q::A);
    assert_eq!((dangling.rcode, dangling.answers.len()), (Rcode::NxDomain, 1));

    // Types privlink never holds are NODATA at existing names.
    assert_eq!(resolve(&catalog, "v1", "sa1.privatelink.blob.core.windows.net", Q::HTTPS).rcode, Rcode::NoError);
}

#[test]
fn a_zone_without_soa_answers_without_authority() {
    let mut catalog = Catalog::new();
    view(&mut catalog, "v");
    catalog.upsert_zone("z", "bare.example", "/zones/z");
    link(&mut catalog, "l", "z", "v", ResolutionPolicy::Default);
    let nx = resolve(&catalog, "v", "x.bare.example", Q::A);
    assert_eq!((nx.rcode, nx.authority.len()), (Rcode::NxDomain, 0));
}

#[test]
fn wildcards_follow_rfc_4592() {
    let mut catalog = Catalog::new();
    view(&mut catalog, "v");
    zone(&mut catalog, "z", "w.example");
    link(&mut catalog, "l", "z", "v", ResolutionPolicy::Default);
    record(&mut catalog, "z", "*.apps", a([1, 2, 3, 4]));
    record(&mut catalog, "z", "explicit.apps", RData::Txt(vec!["hi".into()]));
    record(&mut catalog, "z", "x.blocked.apps", a([9, 9, 9, 9]));
    record(&mut catalog, "z", "*.alias", cname("target.w.example"));
    record(&mut catalog, "z", "target", a([5, 5, 5, 5]));

    let synthesised = resolve(&catalog, "v", "anything.apps.w.example", Q::A);
    assert_eq!(summary(&synthesised), ["anything.apps.w.example A 1.2.3.4"]);
    assert_eq!(kinds(&synthesised).last(), Some(&StepKind::Wildcard));
    assert_eq!(summary(&resolve(&catalog, "v", "a.b.apps.w.example", Q::A)), ["a.b.apps.w.example A 1.2.3.4"]);
    // The wildcard itself is an ordinary name too.
    assert_eq!(resolve(&catalog, "v", "*.apps.w.example", Q::A).answers.len(), 1);

    // An existing name is never covered by the wildcard; nor is an empty non-terminal, which also
    // becomes the closest encloser for names below it.
    let explicit = resolve(&catalog, "v", "explicit.apps.w.example", Q::A);
    assert_eq!((explicit.rcode, explicit.answers.len()), (Rcode::NoError, 0));
    let ent = resolve(&catalog, "v", "blocked.apps.w.example", Q::A);
    assert_eq!((ent.rcode, ent.answers.len()), (Rcode::NoError, 0));
    assert_eq!(resolve(&catalog, "v", "y.blocked.apps.w.example", Q::A).rcode, Rcode::NxDomain);

    // Wildcard NODATA and wildcard CNAMEs.
    let nodata = resolve(&catalog, "v", "q.apps.w.example", Q::AAAA);
    assert_eq!((nodata.rcode, nodata.answers.len(), nodata.authority.len()), (Rcode::NoError, 0, 1));
    let alias = resolve(&catalog, "v", "z.alias.w.example", Q::A);
    assert_eq!(summary(&alias), ["z.alias.w.example CNAME target.w.example.", "target.w.example A 5.5.5.5"]);

    // An apex wildcard catches everything else.
    assert_eq!(resolve(&catalog, "v", "other.w.example", Q::A).rcode, Rcode::NxDomain);
    record(&mut catalog, "z", "*", a([7, 7, 7, 7]));
    assert_eq!(summary(&resolve(&catalog, "v", "other.w.example", Q::A)), ["other.w.example A 7.7.7.7"]);
    catalog.remove_record_set("z", "*", RecordType::A);
    assert_eq!(resolve(&catalog, "v", "other.w.example", Q::A).rcode, Rcode::NxDomain);
}

#[test]
fn nxdomain_redirect_falls_back_to_public_data() {
    let mut catalog = storage();
    catalog.set_public_records(
        "storage/sa2",
        vec![public("sa2.privatelink.blob.core.windows.net", a([20, 0, 0, 2]), "/sa2")],
    );
    let strict = resolve(&catalog, "v1", "sa2.privatelink.blob.core.windows.net", Q::A);
    assert_eq!(strict.rcode, Rcode::NxDomain);

    link(&mut catalog, "l1", "blob", "v1", ResolutionPolicy::NxDomainRedirect);
    let redirected = resolve(&catalog, "v1", "sa2.privatelink.blob.core.windows.net", Q::A);
    assert_eq!(
        (redirected.rcode, summary(&redirected)),
        (Rcode::NoError, vec!["sa2.privatelink.blob.core.windows.net A 20.0.0.2".to_string()])
    );
    assert_eq!(has_step(&redirected, StepKind::Redirect).sources, ["/links/l1"]);
    // Redirected names privlink does not know either go upstream.
    let upstream = resolve(&catalog, "v1", "sa3.privatelink.blob.core.windows.net", Q::A);
    assert_eq!(upstream.rcode, Rcode::NxDomain, "still under the authoritative suffix");
    catalog.set_authoritative_suffixes(Vec::new());
    let upstream = resolve(&catalog, "v1", "sa3.privatelink.blob.core.windows.net", Q::A);
    assert_eq!(upstream.forward.as_deref(), Some("sa3.privatelink.blob.core.windows.net"));
}

#[test]
fn authoritative_suffixes_answer_nxdomain_everything_else_is_forwarded() {
    let catalog = storage();
    let nx = resolve(&catalog, "v2", "unknown.blob.core.windows.net", Q::A);
    assert_eq!(nx.rcode, Rcode::NxDomain);
    assert_eq!(nx.authority[0].name, "blob.core.windows.net");
    assert_eq!(nx.authority[0].ttl, 60);
    assert!(matches!(&nx.authority[0].data, RData::Soa { host, minimum: 60, .. } if host == "ns1.privlink.invalid"));
    assert_eq!(has_step(&nx, StepKind::Public).message, "no such name in blob.core.windows.net");

    // The suffix itself and names above public data exist (NODATA).
    assert_eq!(resolve(&catalog, "v2", "blob.core.windows.net", Q::A).rcode, Rcode::NoError);
    assert_eq!(resolve(&catalog, "v2", "privatelink.blob.core.windows.net", Q::A).rcode, Rcode::NoError);
    // A public name without the type is NODATA.
    let nodata = resolve(&catalog, "v2", "sa1.privatelink.blob.core.windows.net", Q::TXT);
    assert_eq!((nodata.rcode, nodata.answers.len(), nodata.authority.len()), (Rcode::NoError, 0, 1));

    let forward = resolve(&catalog, "v2", "www.example.org", Q::A);
    assert_eq!((forward.rcode, forward.forward.as_deref()), (Rcode::NoError, Some("www.example.org")));
    assert!(forward.answers.is_empty());
    assert_eq!(kinds(&forward), [StepKind::View, StepKind::Forward]);
    // Above the suffix is not privlink's either.
    assert_eq!(resolve(&catalog, "v2", "core.windows.net", Q::A).forward.as_deref(), Some("core.windows.net"));
}

#[test]
fn the_smallest_owner_id_wins_and_the_shadowed_one_is_mentioned() {
    let mut catalog = storage();
    let name = "shared.blob.core.windows.net";
    catalog.set_public_records("owner-b", vec![public(name, a([2, 2, 2, 2]), "/b")]);
    catalog.set_public_records("owner-a", vec![public(name, a([1, 1, 1, 1]), "/a")]);
    let resolution = resolve(&catalog, "v2", name, Q::A);
    assert_eq!(summary(&resolution), [format!("{name} A 1.1.1.1")]);
    let step = has_step(&resolution, StepKind::Public);
    assert!(step.message.contains("owner-b"), "{}", step.message);
    assert_eq!(step.sources, ["/a", "/b"]);

    catalog.set_public_records("owner-a", Vec::new());
    assert_eq!(summary(&resolve(&catalog, "v2", name, Q::A)), [format!("{name} A 2.2.2.2")]);
    catalog.set_public_records("owner-b", Vec::new());
    assert_eq!(resolve(&catalog, "v2", name, Q::A).rcode, Rcode::NxDomain);
}

#[test]
fn removing_zones_links_and_views() {
    let mut catalog = storage();
    let private = |c: &Catalog| resolve(c, "v1", "sa1.privatelink.blob.core.windows.net", Q::A);

    catalog.remove_link("l1");
    assert_eq!(private(&catalog).answers[0].data, a([20, 0, 0, 1]), "public again");
    link(&mut catalog, "l1", "blob", "v1", ResolutionPolicy::Default);
    assert_eq!(private(&catalog).answers[0].data, a([10, 0, 0, 4]));

    catalog.remove_view("v1");
    assert_eq!(private(&catalog).rcode, Rcode::Refused);
    view(&mut catalog, "v1");
    assert_eq!(private(&catalog).answers[0].data, a([10, 0, 0, 4]), "the link survived the view");

    catalog.remove_zone("blob");
    assert_eq!(private(&catalog).answers[0].data, a([20, 0, 0, 1]));
    assert!(catalog.zones_named(BLOB_ZONE).is_empty());
    zone(&mut catalog, "blob", BLOB_ZONE);
    let recreated = private(&catalog);
    assert_eq!(recreated.rcode, Rcode::NxDomain, "the link matches again, the old records are gone");
}

#[test]
fn records_given_before_their_zone_are_served_once_it_is_named() {
    let mut catalog = Catalog::new();
    view(&mut catalog, "v");
    record(&mut catalog, "z", "early", a([1, 2, 3, 4]));
    link(&mut catalog, "l", "z", "v", ResolutionPolicy::Default);
    assert_eq!(resolve(&catalog, "v", "early.late.example", Q::A).forward.as_deref(), Some("early.late.example"));
    catalog.upsert_zone("z", "late.example", "/zones/z");
    assert_eq!(summary(&resolve(&catalog, "v", "early.late.example", Q::A)), ["early.late.example A 1.2.3.4"]);

    // A renamed zone keeps its records under the new name.
    catalog.upsert_zone("z", "renamed.example", "/zones/z");
    assert!(resolve(&catalog, "v", "early.late.example", Q::A).forward.is_some());
    assert_eq!(resolve(&catalog, "v", "early.renamed.example", Q::A).answers.len(), 1);
}

#[test]
fn any_returns_every_set_and_other_types_follow_cnames() {
    let mut catalog = storage();
    let txt = RData::Txt(vec!["v=1".into()]);
    record(&mut catalog, "blob", "sa1", txt);
    let any = resolve(&catalog, "v1", "sa1.privatelink.blob.core.windows.net", Q::ANY);
    assert_eq!(any.answers.len(), 2);
    let https = resolve(&catalog, "v1", "sa1.blob.core.windows.net", Q::HTTPS);
    assert_eq!((https.rcode, https.answers.len()), (Rcode::NoError, 1), "the CNAME, then NODATA");
    let any_public = resolve(&catalog, "v2", "sa1.blob.core.windows.net", Q::ANY);
    assert_eq!(summary(&any_public), ["sa1.blob.core.windows.net CNAME sa1.privatelink.blob.core.windows.net."]);
}

#[test]
fn quiet_walks_match_explained_ones() {
    let catalog = storage();
    for (view, name) in [("v1", "sa1.blob.core.windows.net"), ("v2", "sa1.blob.core.windows.net"), ("v2", "x.example")]
    {
        let explained = resolve(&catalog, view, name, Q::A);
        let quiet = walk(&catalog, view, name, 1, &mut Quiet).into_resolution(Vec::new());
        assert_eq!(Resolution { steps: Vec::new(), ..explained }, quiet);
    }
}
