//! The Private DNS resource provider over HTTPS: zones (location `global`, SOA created with
//! them, limits, bare-GUID ETags), record sets of every type (lower-cased names, If-Match /
//! If-None-Match, PATCH, the ALL listing, validation with nothing stored), virtual-network links
//! (Azure's overlap and registration rules, limits, a zone with links cannot be deleted) and
//! private endpoint DNS zone groups (records written, shared and removed).

mod common;

use common::private_link::{id_of, pe_body, pe_path, resource};
use common::{expect_error, names, Server, LOCATION};
use serde_json::{json, Value};

const ZONES: &str = "Microsoft.Network/privateDnsZones";
const BLOB_ZONE: &str = "privatelink.blob.core.windows.net";
const NETWORK_CONTRIBUTOR: &str = "4d97b98b-1d4f-4787-a291-c67834d212e7";
const READER: &str = "acdd72a7-3385-48ef-bd42-f606fba81ae7";

fn zone_path(rg: &str, zone: &str) -> String {
    resource(rg, ZONES, zone)
}

fn zone_body() -> Value {
    json!({ "location": "Global" })
}

fn link_body(vnet_id: &str, registration: bool) -> Value {
    json!({ "location": "Global", "properties": { "virtualNetwork": { "id": vnet_id }, "registrationEnabled": registration } })
}

fn a_body(ttl: i64, ips: &[&str]) -> Value {
    json!({ "properties": { "ttl": ttl, "aRecords": ips.iter().map(|ip| json!({ "ipv4Address": ip })).collect::<Vec<_>>() } })
}

/// `rg` with VNet `vnet` (10.1.0.0/16, subnet `pe` 10.1.1.0/24) and zone `BLOB_ZONE`:
/// `(rg path, vnet id, subnet id, zone path)`.
async fn landing(s: &Server) -> (String, String, String, String) {
    let rg = s.rg("rg");
    let subnet = s.landing(&rg, "10.1.0.0/16", "10.1.1.0/24").await;
    let vnet = subnet.trim_end_matches("/subnets/pe").to_string();
    let zone = zone_path(&rg, BLOB_ZONE);
    s.put_ok(&zone, &zone_body()).await;
    (rg, vnet, subnet, zone)
}

/// PUT a record set (finished in the response: 200 or 201, no provisioning state).
async fn put_record(s: &Server, path: &str, body: &Value) -> Value {
    let r = s.put(path, body).await;
    assert!(r.status == 200 || r.status == 201, "PUT {path}: {r}");
    r.json
}

async fn record_names(s: &Server, zone: &str) -> Vec<String> {
    let r = s.get(&format!("{zone}/ALL")).await;
    assert_eq!(r.status, 200, "{r}");
    let mut n = names(&r.json);
    n.sort();
    n
}

// ---- zones ----------------------------------------------------------------------------------

#[tokio::test]
async fn zone_is_global_with_its_soa_limits_and_counts() {
    let s = Server::start().await;
    let rg = s.rg("rg");
    s.create_rg_at(&rg).await;
    let path = zone_path(&rg, BLOB_ZONE);
    let r = s.put(&path, &zone_body()).await;
    assert_eq!(r.status, 201, "{r}");
    assert!(r.header("azure-asyncoperation").is_some(), "a zone PUT is long-running: {r:?}");
    s.wait_op(&r).await;
    let zone = s.get(&path).await;
    assert_eq!(zone.status, 200, "{zone}");
    let z = &zone.json;
    assert_eq!(z["location"], "global");
    assert_eq!(z["type"], ZONES);
    assert_eq!(z["name"], BLOB_ZONE);
    let etag = z["etag"].as_str().unwrap();
    assert!(!etag.starts_with("W/") && uuid::Uuid::parse_str(etag).is_ok(), "Private DNS ETags are bare GUIDs: {etag}");
    assert_eq!(zone.etag(), Some(etag));
    let p = &z["properties"];
    assert_eq!(p["provisioningState"], "Succeeded");
    assert_eq!(p["maxNumberOfRecordSets"], 5000);
    assert_eq!(p["maxNumberOfVirtualNetworkLinks"], 100);
    assert_eq!(p["maxNumberOfVirtualNetworkLinksWithRegistration"], 50);
    assert_eq!(p["numberOfRecordSets"], 1, "the SOA counts: {z}");
    assert_eq!(p["numberOfVirtualNetworkLinks"], 0);

    let soa = s.get(&format!("{path}/SOA/@")).await;
    assert_eq!(soa.status, 200, "{soa}");
    assert_eq!(soa.json["type"], "Microsoft.Network/privateDnsZones/SOA");
    assert_eq!(soa.json["properties"]["fqdn"], format!("{BLOB_ZONE}."));
    assert_eq!(soa.json["properties"]["soaRecord"]["host"], "azureprivatedns.net");
    assert_eq!(soa.json["properties"]["soaRecord"]["minimumTtl"], 10);
    assert!(soa.json["properties"].get("provisioningState").is_none(), "record sets have no provisioning state: {soa}");

    // Listed in its resource group and in its subscription.
    let by_rg = s.get(&format!("{rg}/providers/{ZONES}")).await;
    assert_eq!(names(&by_rg.json), vec![BLOB_ZONE]);
    let by_sub = s.get(&format!("{}/providers/{ZONES}", s.sub())).await;
    assert_eq!(names(&by_sub.json), vec![BLOB_ZONE]);

    // Tags by PATCH.
    let patched = s.patch(&path, &json!({ "tags": { "team": "net" } })).await;
    assert_eq!(patched.status, 200, "{patched}");
    assert_eq!(s.get(&path).await.json["tags"]["team"], "net");
}

#[tokio::test]
async fn bad_zones_are_refused_and_nothing_is_stored() {
    let s = Server::start().await;
    let rg = s.rg("rg");
    s.create_rg_at(&rg).await;
    for (name, body, status, code) in [
        ("localhost", zone_body(), 400, "InvalidResourceName"),
        ("bad_-.com", zone_body(), 400, "InvalidResourceName"),
        ("a..b.com", zone_body(), 400, "InvalidResourceName"),
        ("contoso.com", json!({ "location": "westeurope" }), 400, "LocationNotAvailableForResourceType"),
        ("contoso.com", json!({}), 400, "LocationRequired"),
        ("contoso.com", json!({ "location": "global", "tags": "x" }), 400, "InvalidRequestFormat"),
    ] {
        let r = s.put(&zone_path(&rg, name), &body).await;
        expect_error(&r, status, code);
    }
    let r = s.put_raw(&format!("{}?api-version=2024-06-01", zone_path(&rg, "contoso.com")), "{not json").await;
    assert_eq!(r.status, 400, "{r}");
    // Network's api-versions are not Private DNS's.
    let r = s.put(&format!("{}?api-version=2024-07-01", zone_path(&rg, "contoso.com")), &zone_body()).await;
    expect_error(&r, 400, "InvalidApiVersionParameter");
    let list = s.get(&format!("{rg}/providers/{ZONES}")).await;
    assert_eq!(names(&list.json), Vec::<String>::new(), "nothing stored: {list}");
}

// ---- record sets ----------------------------------------------------------------------------

#[tokio::test]
async fn record_sets_keep_lower_cased_names_etags_and_list() {
    let s = Server::start().await;
    let (_, _, _, zone) = landing(&s).await;
    let r = s.put(&format!("{zone}/A/RecordA"), &a_body(3600, &["10.1.1.10"])).await;
    assert_eq!(r.status, 201, "{r}");
    assert!(r.header("azure-asyncoperation").is_none(), "record sets are not long-running: {r:?}");
    assert_eq!(r.json["name"], "recorda");
    assert!(r.json["id"].as_str().unwrap().ends_with("/A/recorda"), "{r}");
    assert_eq!(r.json["type"], "Microsoft.Network/privateDnsZones/A");
    assert_eq!(r.json["properties"]["fqdn"], format!("recorda.{BLOB_ZONE}."));
    assert_eq!(r.json["properties"]["isAutoRegistered"], false);
    assert_eq!(r.json["properties"]["aRecords"], json!([{ "ipv4Address": "10.1.1.10" }]));
    let etag = r.etag().unwrap().to_string();

    // Any casing finds it; the stored name stays lower-case.
    let g = s.get(&format!("{zone}/a/RECORDA")).await;
    assert_eq!(g.status, 200, "{g}");
    assert_eq!(g.json["name"], "recorda");

    // Preconditions: If-None-Match * refuses an existing set, a stale If-Match too.
    let r = s
        .request(
            reqwest::Method::PUT,
            &format!("{zone}/A/recorda"),
            Some(&a_body(60, &["10.1.1.11"])),
            &[("if-none-match", "*")],
        )
        .await;
    expect_error(&r, 412, "PreconditionFailed");
    let r = s
        .request(
            reqwest::Method::PUT,
            &format!("{zone}/A/recorda"),
            Some(&a_body(60, &["10.1.1.11"])),
            &[("if-match", "\"00000000-0000-0000-0000-000000000000\"")],
        )
        .await;
    expect_error(&r, 412, "PreconditionFailed");
    let r = s
        .request(
            reqwest::Method::PUT,
            &format!("{zone}/A/recorda"),
            Some(&a_body(60, &["10.1.1.11"])),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(r.status, 200, "{r}");
    assert_eq!(r.json["properties"]["ttl"], 60);

    // PATCH changes what it names and keeps the rest.
    let p = s.patch(&format!("{zone}/A/recorda"), &json!({ "properties": { "metadata": { "owner": "app" } } })).await;
    assert_eq!(p.status, 200, "{p}");
    assert_eq!(p.json["properties"]["ttl"], 60);
    assert_eq!(p.json["properties"]["metadata"]["owner"], "app");
    assert_eq!(p.json["properties"]["aRecords"], json!([{ "ipv4Address": "10.1.1.11" }]));

    // Every type.
    let bodies = [
        ("AAAA", "v6", json!({ "properties": { "ttl": 300, "aaaaRecords": [{ "ipv6Address": "fd00::4" }] } })),
        (
            "CNAME",
            "alias",
            json!({ "properties": { "ttl": 300, "cnameRecord": { "cname": "recorda.privatelink.blob.core.windows.net" } } }),
        ),
        (
            "MX",
            "mail",
            json!({ "properties": { "ttl": 300, "mxRecords": [{ "preference": 10, "exchange": "mx.contoso.com" }] } }),
        ),
        ("PTR", "ptr", json!({ "properties": { "ttl": 300, "ptrRecords": [{ "ptrdname": "host.contoso.com" }] } })),
        (
            "SRV",
            "_sip._tcp",
            json!({ "properties": { "ttl": 300, "srvRecords": [{ "priority": 1, "weight": 2, "port": 5060, "target": "sip.contoso.com" }] } }),
        ),
        ("TXT", "txt", json!({ "properties": { "ttl": 300, "txtRecords": [{ "value": ["v=spf1 -all"] }] } })),
    ];
    for (rtype, name, body) in &bodies {
        let r = s.put(&format!("{zone}/{rtype}/{name}"), body).await;
        assert_eq!(r.status, 201, "{rtype} {name}: {r}");
        assert_eq!(r.json["type"], format!("Microsoft.Network/privateDnsZones/{rtype}"));
    }

    // Lists: one type, and ALL (the SOA included), with a name suffix filter and paging.
    let a_list = s.get(&format!("{zone}/A")).await;
    assert_eq!(names(&a_list.json), vec!["recorda"]);
    assert_eq!(record_names(&s, &zone).await, vec!["@", "_sip._tcp", "alias", "mail", "ptr", "recorda", "txt", "v6"]);
    let suffix = s.get(&format!("{zone}/ALL?$recordsetnamesuffix=_tcp")).await;
    assert_eq!(names(&suffix.json), vec!["_sip._tcp"], "{suffix}");
    let mut seen = Vec::new();
    let mut next = Some(format!("{zone}/ALL?$top=3&api-version=2024-06-01"));
    while let Some(url) = next.take() {
        let page = s.get(&s.rebase(&url)).await;
        assert_eq!(page.status, 200, "{page}");
        assert!(page.json["value"].as_array().unwrap().len() <= 3);
        seen.extend(names(&page.json));
        next = page.json["nextLink"].as_str().map(str::to_string);
    }
    seen.sort();
    assert_eq!(seen.len(), 8, "{seen:?}");
    let z = s.get(&zone).await;
    assert_eq!(z.json["properties"]["numberOfRecordSets"], 8);

    // DELETE: 200, then 204.
    assert_eq!(s.delete(&format!("{zone}/A/recorda")).await.status, 200);
    assert_eq!(s.delete(&format!("{zone}/A/recorda")).await.status, 204);
    expect_error(&s.get(&format!("{zone}/A/recorda")).await, 404, "ResourceNotFound");
}

#[tokio::test]
async fn bad_record_sets_are_refused_and_nothing_is_stored() {
    let s = Server::start().await;
    let (_, _, _, zone) = landing(&s).await;
    put_record(&s, &format!("{zone}/A/taken"), &a_body(60, &["10.1.1.5"])).await;
    let cases = [
        ("A/x", a_body(60, &["10.1.1.300"]), 400, "BadRequest"),
        ("A/x", a_body(60, &["fd00::1"]), 400, "BadRequest"),
        ("A/x", a_body(-1, &["10.1.1.5"]), 400, "BadRequest"),
        ("A/x", a_body(2_147_483_648, &["10.1.1.5"]), 400, "BadRequest"),
        ("A/x", json!({ "properties": { "aRecords": [{ "ipv4Address": 5 }] } }), 400, "InvalidRequestFormat"),
        ("A/x", json!({ "properties": { "aRecords": [{}] } }), 400, "BadRequest"),
        ("A/x", json!({ "properties": { "aaaaRecords": [{ "ipv6Address": "fd00::1" }] } }), 400, "BadRequest"),
        ("AAAA/x", json!({ "properties": { "aaaaRecords": [{ "ipv6Address": "10.0.0.1" }] } }), 400, "BadRequest"),
        ("CNAME/@", json!({ "properties": { "cnameRecord": { "cname": "a.b" } } }), 400, "BadRequest"),
        ("CNAME/taken", json!({ "properties": { "cnameRecord": { "cname": "a.b" } } }), 409, "Conflict"),
        ("CNAME/x", json!({ "properties": { "cnameRecord": { "cname": "bad..name" } } }), 400, "BadRequest"),
        (
            "MX/x",
            json!({ "properties": { "mxRecords": [{ "preference": 70000, "exchange": "mx.a.b" }] } }),
            400,
            "BadRequest",
        ),
        (
            "SRV/x",
            json!({ "properties": { "srvRecords": [{ "priority": 1, "weight": 1, "port": -1, "target": "a.b" }] } }),
            400,
            "BadRequest",
        ),
        ("TXT/x", json!({ "properties": { "txtRecords": [{ "value": ["x".repeat(1025)] }] } }), 400, "BadRequest"),
        ("TXT/x", json!({ "properties": { "txtRecords": [{ "value": [] }] } }), 400, "BadRequest"),
        ("SOA/other", json!({ "properties": { "soaRecord": { "email": "a.b" } } }), 400, "BadRequest"),
        ("A/bad name", a_body(60, &["10.1.1.5"]), 400, "InvalidResourceName"),
        ("A/a.*", a_body(60, &["10.1.1.5"]), 400, "InvalidResourceName"),
        ("NS/x", json!({ "properties": {} }), 400, "InvalidResourceType"),
    ];
    for (rel, body, status, code) in &cases {
        let r = s.put(&format!("{zone}/{rel}"), body).await;
        expect_error(&r, *status, code);
    }
    assert_eq!(record_names(&s, &zone).await, vec!["@", "taken"], "nothing stored");
    // An A record set beside a CNAME is refused the same way.
    put_record(
        &s,
        &format!("{zone}/CNAME/alias"),
        &json!({ "properties": { "cnameRecord": { "cname": "taken.privatelink.blob.core.windows.net" } } }),
    )
    .await;
    expect_error(&s.put(&format!("{zone}/A/alias"), &a_body(60, &["10.1.1.6"])).await, 409, "Conflict");
    // The SOA: updated, never deleted; its host stays the platform's.
    let soa = s.put(&format!("{zone}/SOA/@"), &json!({ "properties": { "ttl": 600, "soaRecord": { "host": "evil.example", "email": "dns.contoso.com", "minimumTtl": 30 } } })).await;
    assert_eq!(soa.status, 200, "{soa}");
    assert_eq!(soa.json["properties"]["soaRecord"]["host"], "azureprivatedns.net");
    assert_eq!(soa.json["properties"]["soaRecord"]["email"], "dns.contoso.com");
    assert_eq!(soa.json["properties"]["soaRecord"]["minimumTtl"], 30);
    expect_error(&s.delete(&format!("{zone}/SOA/@")).await, 400, "BadRequest");
}

#[tokio::test]
async fn zone_limits_come_from_the_config_file() {
    let s = Server::start_with_config(
        "[limits]\nrecord-sets-per-private-dns-zone = 3\nvirtual-network-links-per-private-dns-zone = 1\nregistration-links-per-private-dns-zone = 1\n",
    )
    .await;
    let rg = s.rg("rg");
    s.create_rg_at(&rg).await;
    let v1 = id_of(&s.create_vnet("rg", "v1", &["10.1.0.0/16"], &[]).await);
    let v2 = id_of(&s.create_vnet("rg", "v2", &["10.2.0.0/16"], &[]).await);
    let zone = zone_path(&rg, "contoso.internal");
    let z = s.put_ok(&zone, &zone_body()).await;
    assert_eq!(z["properties"]["maxNumberOfRecordSets"], 3);
    put_record(&s, &format!("{zone}/A/one"), &a_body(60, &["10.1.0.4"])).await;
    put_record(&s, &format!("{zone}/A/two"), &a_body(60, &["10.1.0.5"])).await;
    expect_error(&s.put(&format!("{zone}/A/three"), &a_body(60, &["10.1.0.6"])).await, 400, "BadRequest");
    // Replacing an existing set is not a new one.
    assert_eq!(s.put(&format!("{zone}/A/two"), &a_body(60, &["10.1.0.7"])).await.status, 200);
    s.put_ok(&format!("{zone}/virtualNetworkLinks/l1"), &link_body(&v1, true)).await;
    expect_error(&s.put(&format!("{zone}/virtualNetworkLinks/l2"), &link_body(&v2, false)).await, 400, "BadRequest");
}

// ---- virtual network links --------------------------------------------------------------------

#[tokio::test]
async fn links_follow_azures_rules() {
    let s = Server::start().await;
    let (rg, vnet, _, zone) = landing(&s).await;
    let link = format!("{zone}/virtualNetworkLinks/link1");
    let r = s.put(&link, &link_body(&vnet, false)).await;
    assert_eq!(r.status, 201, "{r}");
    s.wait_op(&r).await;
    let l = s.get(&link).await.json;
    assert_eq!(l["type"], "Microsoft.Network/privateDnsZones/virtualNetworkLinks");
    assert_eq!(l["location"], "global");
    assert_eq!(l["properties"]["virtualNetworkLinkState"], "Completed");
    assert_eq!(l["properties"]["registrationEnabled"], false);
    assert_eq!(l["properties"]["resolutionPolicy"], "Default");
    assert_eq!(
        l["properties"]["virtualNetwork"]["id"].as_str().unwrap().to_ascii_lowercase(),
        vnet.to_ascii_lowercase()
    );
    assert_eq!(s.get(&zone).await.json["properties"]["numberOfVirtualNetworkLinks"], 1);

    // A zone of the same name elsewhere cannot be linked to the same VNet; nor one nested in it.
    let rg2 = s.rg("rg2");
    s.create_rg_at(&rg2).await;
    let twin = zone_path(&rg2, BLOB_ZONE);
    s.put_ok(&twin, &zone_body()).await;
    let r = s.put(&format!("{twin}/virtualNetworkLinks/l"), &link_body(&vnet, false)).await;
    expect_error(&r, 400, "BadRequest");
    assert!(r.json["error"]["message"].as_str().unwrap().contains("overlapping namespaces"), "{r}");
    let nested = zone_path(&rg2, &format!("sub.{BLOB_ZONE}"));
    s.put_ok(&nested, &zone_body()).await;
    expect_error(&s.put(&format!("{nested}/virtualNetworkLinks/l"), &link_body(&vnet, false)).await, 400, "BadRequest");

    // One registration-enabled link per VNet.
    let other = zone_path(&rg2, "contoso.internal");
    s.put_ok(&other, &zone_body()).await;
    let third = zone_path(&rg2, "fabrikam.internal");
    s.put_ok(&third, &zone_body()).await;
    s.put_ok(&format!("{other}/virtualNetworkLinks/reg"), &link_body(&vnet, true)).await;
    expect_error(&s.put(&format!("{third}/virtualNetworkLinks/reg"), &link_body(&vnet, true)).await, 400, "BadRequest");
    // PATCH turns registration on where it may be (after the other one is off).
    let p = s
        .patch(&format!("{other}/virtualNetworkLinks/reg"), &json!({ "properties": { "registrationEnabled": false } }))
        .await;
    assert_eq!(p.status, 200, "{p}");
    let r = s.put(&format!("{third}/virtualNetworkLinks/reg"), &link_body(&vnet, true)).await;
    assert!(r.status == 201, "{r}");
    s.wait_op(&r).await;

    // Bad links: the VNet cannot change, must exist, the policy must be known.
    let v2 = id_of(&s.create_vnet("rg", "v2", &["10.2.0.0/16"], &[]).await);
    expect_error(&s.put(&link, &link_body(&v2, false)).await, 400, "BadRequest");
    let missing = format!("{rg}/providers/Microsoft.Network/virtualNetworks/nope");
    expect_error(
        &s.put(&format!("{zone}/virtualNetworkLinks/l9"), &link_body(&missing, false)).await,
        400,
        "InvalidResourceReference",
    );
    let mut bad_policy = link_body(&v2, false);
    bad_policy["properties"]["resolutionPolicy"] = json!("Sometimes");
    expect_error(&s.put(&format!("{zone}/virtualNetworkLinks/l9"), &bad_policy).await, 400, "InvalidRequestFormat");
    expect_error(
        &s.put(&format!("{zone}/virtualNetworkLinks/l9"), &json!({ "location": "global", "properties": {} })).await,
        400,
        "BadRequest",
    );
    expect_error(&s.get(&format!("{zone}/virtualNetworkLinks/l9")).await, 404, "ResourceNotFound");

    // A zone with links is not deleted alone; without them it is.
    expect_error(&s.delete(&zone).await, 409, "Conflict");
    s.delete_ok(&link).await;
    s.delete_ok(&zone).await;
    expect_error(&s.get(&format!("{zone}/SOA/@")).await, 404, "ParentResourceNotFound");
    // A resource group goes with its zones and their links.
    s.delete_ok(&rg2).await;
    let left = s.get(&format!("{}/providers/{ZONES}", s.sub())).await;
    assert_eq!(names(&left.json), Vec::<String>::new());
}

// ---- private endpoint DNS zone groups ---------------------------------------------------------

fn group_body(zones: &[(&str, &str)]) -> Value {
    let configs: Vec<Value> =
        zones.iter().map(|(name, id)| json!({ "name": name, "properties": { "privateDnsZoneId": id } })).collect();
    json!({ "properties": { "privateDnsZoneConfigs": configs } })
}

fn a_ips(record: &Value) -> Vec<String> {
    record["properties"]["aRecords"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| r["ipv4Address"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn zone_groups_write_share_and_remove_records() {
    let s = Server::start().await;
    let (rg, _, subnet, zone) = landing(&s).await;
    let zone_id = id_of(&s.get(&zone).await.json);
    let sa = s.create_storage(&rg, "sa1", "StorageV2").await;
    let pe = s.put_ok(&pe_path(&rg, "pe1"), &pe_body(&subnet, &sa, &["blob"], false, "")).await;
    let ip = pe["properties"]["customDnsConfigs"][0]["ipAddresses"][0].as_str().unwrap().to_string();
    assert_eq!(ip, "10.1.1.4");

    let group = format!("{}/privateDnsZoneGroups/default", pe_path(&rg, "pe1"));
    let g = s.put_ok(&group, &group_body(&[("blob", &zone_id)])).await;
    assert_eq!(g["type"], "Microsoft.Network/privateEndpoints/privateDnsZoneGroups");
    let config = &g["properties"]["privateDnsZoneConfigs"][0];
    assert_eq!(config["name"], "blob");
    assert_eq!(
        config["properties"]["privateDnsZoneId"].as_str().unwrap().to_ascii_lowercase(),
        zone_id.to_ascii_lowercase()
    );
    let rs = &config["properties"]["recordSets"][0];
    assert_eq!(rs["recordType"], "A");
    assert_eq!(rs["recordSetName"], "sa1");
    assert_eq!(rs["fqdn"], format!("sa1.{BLOB_ZONE}"));
    assert_eq!(rs["ttl"], 10);
    assert_eq!(rs["ipAddresses"], json!([ip]));

    // The record is a real record set of the zone.
    let record = s.get(&format!("{zone}/A/sa1")).await;
    assert_eq!(record.status, 200, "{record}");
    assert_eq!(a_ips(&record.json), vec![ip.clone()]);
    assert_eq!(record.json["properties"]["ttl"], 10);
    assert!(record.json["properties"]["metadata"]["creator"].as_str().unwrap().contains("pe1"), "{record}");

    // At most one group per endpoint, five zones per group, zones that exist.
    let second = format!("{}/privateDnsZoneGroups/other", pe_path(&rg, "pe1"));
    expect_error(&s.put(&second, &group_body(&[("blob", &zone_id)])).await, 400, "PrivateDnsZoneGroupLimitReached");
    let six: Vec<(String, String)> =
        (0..6).map(|i| (format!("z{i}"), format!("{}/providers/{ZONES}/z{i}.example.com", rg))).collect();
    let six_refs: Vec<(&str, &str)> = six.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    expect_error(&s.put(&group, &group_body(&six_refs)).await, 400, "PrivateDnsZoneGroupHasTooManyZones");
    let missing = format!("{rg}/providers/{ZONES}/nope.example.com");
    expect_error(&s.put(&group, &group_body(&[("x", &missing)])).await, 400, "InvalidResourceReference");
    expect_error(
        &s.put(&group, &group_body(&[("a", &zone_id), ("b", &zone_id)])).await,
        400,
        "DuplicatePrivateDnsZoneInZoneGroup",
    );
    assert_eq!(a_ips(&s.get(&format!("{zone}/A/sa1")).await.json), vec![ip.clone()], "refused writes changed nothing");

    // A second endpoint to the same account, in another VNet, shares the record set.
    let vnet2 = s.create_vnet("rg", "vnet2", &["10.2.0.0/16"], &[("pe", "10.2.1.0/24")]).await;
    let subnet2 = format!("{}/subnets/pe", id_of(&vnet2));
    s.put_ok(&pe_path(&rg, "pe2"), &pe_body(&subnet2, &sa, &["blob"], false, "")).await;
    let group2 = format!("{}/privateDnsZoneGroups/default", pe_path(&rg, "pe2"));
    s.put_ok(&group2, &group_body(&[("blob", &zone_id)])).await;
    let mut both = a_ips(&s.get(&format!("{zone}/A/sa1")).await.json);
    both.sort();
    assert_eq!(both, vec!["10.1.1.4".to_string(), "10.2.1.4".to_string()]);

    // Deleting one group takes its address only; deleting the last endpoint takes the record.
    s.delete_ok(&group).await;
    assert_eq!(a_ips(&s.get(&format!("{zone}/A/sa1")).await.json), vec!["10.2.1.4".to_string()]);
    s.delete_ok(&pe_path(&rg, "pe2")).await;
    expect_error(&s.get(&format!("{zone}/A/sa1")).await, 404, "ResourceNotFound");
    expect_error(&s.get(&group2).await, 404, "ParentResourceNotFound");
    assert_eq!(record_names(&s, &zone).await, vec!["@"]);
}

#[tokio::test]
async fn zone_groups_place_every_member_in_its_recommended_zone() {
    let s = Server::start().await;
    let (rg, _, subnet, _) = landing(&s).await;
    // Data Explorer: two members in the regional zone; the blob zone in the same group gets none.
    let kusto_zone = zone_path(&rg, "privatelink.westeurope.kusto.windows.net");
    let kusto_zone_id = id_of(&s.put_ok(&kusto_zone, &zone_body()).await);
    let blob_zone_id = id_of(&s.get(&zone_path(&rg, BLOB_ZONE)).await.json);
    let kc = resource(&rg, "Microsoft.Kusto/clusters", "kc001");
    let kc_id = id_of(
        &s.put_ok(
            &kc,
            &json!({ "location": LOCATION, "sku": { "name": "Dev(No SLA)_Standard_E2a_v4", "tier": "Basic" } }),
        )
        .await,
    );
    s.put_ok(&pe_path(&rg, "pe-kc"), &pe_body(&subnet, &kc_id, &["cluster"], false, "")).await;
    let group = format!("{}/privateDnsZoneGroups/default", pe_path(&rg, "pe-kc"));
    let g = s.put_ok(&group, &group_body(&[("kusto", &kusto_zone_id), ("blob", &blob_zone_id)])).await;
    let kusto_sets =
        g["properties"]["privateDnsZoneConfigs"][0]["properties"]["recordSets"].as_array().unwrap().clone();
    let mut kusto_names: Vec<&str> = kusto_sets.iter().map(|r| r["recordSetName"].as_str().unwrap()).collect();
    kusto_names.sort();
    assert_eq!(kusto_names, vec!["ingest-kc001", "kc001"]);
    assert_eq!(g["properties"]["privateDnsZoneConfigs"][1]["properties"]["recordSets"], json!([]));
    assert_eq!(record_names(&s, &kusto_zone).await, vec!["@", "ingest-kc001", "kc001"]);

    // Key Vault: `kv1.vault.azure.net` lives as `kv1` in privatelink.vaultcore.azure.net.
    let kv_zone = zone_path(&rg, "privatelink.vaultcore.azure.net");
    let kv_zone_id = id_of(&s.put_ok(&kv_zone, &zone_body()).await);
    let kv = resource(&rg, "Microsoft.KeyVault/vaults", "kv1");
    let kv_id = id_of(&s.put_ok(&kv, &json!({ "location": LOCATION, "properties": {} })).await);
    s.put_ok(&pe_path(&rg, "pe-kv"), &pe_body(&subnet, &kv_id, &["vault"], false, "")).await;
    s.put_ok(&format!("{}/privateDnsZoneGroups/default", pe_path(&rg, "pe-kv")), &group_body(&[("kv", &kv_zone_id)]))
        .await;
    assert_eq!(record_names(&s, &kv_zone).await, vec!["@", "kv1"]);
}

#[tokio::test]
async fn zone_groups_need_join_rights_on_the_zone() {
    let s = Server::start().await;
    let (rg, _, subnet, zone) = landing(&s).await;
    let zone_id = id_of(&s.get(&zone).await.json);
    let sa = s.create_storage(&rg, "sa1", "StorageV2").await;
    s.put_ok(&pe_path(&rg, "pe1"), &pe_body(&subnet, &sa, &["blob"], false, "")).await;
    // A principal who may write private endpoints in `rg` but only read the zone.
    let dev = s.create_principal(None, "dev").await;
    let pe_scope = pe_path(&rg, "pe1");
    let r = s.assign_role(&pe_scope, NETWORK_CONTRIBUTOR, &dev.object_id).await;
    assert!(r.status == 201 || r.status == 200, "{r}");
    let r = s.assign_role(&zone, READER, &dev.object_id).await;
    assert!(r.status == 201 || r.status == 200, "{r}");
    s.act_as(&dev).await;
    let group = format!("{}/privateDnsZoneGroups/default", pe_path(&rg, "pe1"));
    let r = s.put(&group, &group_body(&[("blob", &zone_id)])).await;
    expect_error(&r, 403, "LinkedAuthorizationFailed");
    assert!(
        r.json["error"]["message"].as_str().unwrap().contains("Microsoft.Network/privateDnsZones/join/action"),
        "{r}"
    );
    s.act_as_admin();
    assert_eq!(record_names(&s, &zone).await, vec!["@"]);
}
