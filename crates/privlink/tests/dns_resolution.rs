//! Each virtual network's resolver answers real DNS packets (UDP and TCP) as Azure DNS would
//! inside that VNet: linked private zones first, then the public model (a target's public name
//! is a CNAME to its `privatelink.` name once it has a private endpoint connection), then an
//! upstream resolver or REFUSED. API writes show up in the next answer; `privlink dns query` and
//! `privlink diagnose` explain what happened.
//!
//! Layout: resource group `rg`; `vnet1` (10.1.0.0/16, subnet `pe` 10.1.1.0/24) holds the
//! private endpoints and is linked to privatelink.blob.core.windows.net; `vnet2` (10.2.0.0/16)
//! is not linked; `vnet3` (10.3.0.0/16) is peered with vnet1 but has no link of its own.

mod common;

use common::dns::{resolve, tcp_exchange, udp_exchange, Transport, BOTH};
use common::private_link::{id_of, pe_body, pe_path, resource};
use common::Server;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use serde_json::{json, Value};

const ZONE: &str = "privatelink.blob.core.windows.net";

struct World {
    rg: String,
    vnet1: String,
    vnet2: String,
    vnet3: String,
    subnet: String,
    zone: String,
    zone_id: String,
    sa1: String,
}

fn zone_path(rg: &str, zone: &str) -> String {
    resource(rg, "Microsoft.Network/privateDnsZones", zone)
}

fn link_body(vnet_id: &str, policy: &str) -> Value {
    json!({ "location": "global", "properties": { "virtualNetwork": { "id": vnet_id }, "registrationEnabled": false, "resolutionPolicy": policy } })
}

fn peering_body(remote: &str) -> Value {
    json!({ "properties": { "remoteVirtualNetwork": { "id": remote }, "allowVirtualNetworkAccess": true } })
}

async fn world(s: &Server) -> World {
    let rg = s.rg("rg");
    let subnet = s.landing(&rg, "10.1.0.0/16", "10.1.1.0/24").await;
    let vnet1 = subnet.trim_end_matches("/subnets/pe").to_string();
    let vnet2 = id_of(&s.create_vnet("rg", "vnet2", &["10.2.0.0/16"], &[("default", "10.2.0.0/24")]).await);
    let vnet3 = id_of(&s.create_vnet("rg", "vnet3", &["10.3.0.0/16"], &[("default", "10.3.0.0/24")]).await);
    s.put_ok(&format!("{vnet1}/virtualNetworkPeerings/to3"), &peering_body(&vnet3)).await;
    s.put_ok(&format!("{vnet3}/virtualNetworkPeerings/to1"), &peering_body(&vnet1)).await;
    let zone = zone_path(&rg, ZONE);
    let zone_id = id_of(&s.put_ok(&zone, &json!({ "location": "global" })).await);
    s.put_ok(&format!("{zone}/virtualNetworkLinks/vnet1"), &link_body(&vnet1, "Default")).await;
    let sa1 = s.create_storage(&rg, "sa1", "StorageV2").await;
    World { rg, vnet1, vnet2, vnet3, subnet, zone, zone_id, sa1 }
}

/// A private endpoint `name` to `target`'s blob with a zone group writing its record.
async fn endpoint_with_zone_group(s: &Server, w: &World, name: &str, target: &str, manual: bool) -> String {
    let pe = s.put_ok(&pe_path(&w.rg, name), &pe_body(&w.subnet, target, &["blob"], manual, "please")).await;
    let group = json!({ "properties": { "privateDnsZoneConfigs": [{ "name": "blob", "properties": { "privateDnsZoneId": w.zone_id } }] } });
    s.put_ok(&format!("{}/privateDnsZoneGroups/default", pe_path(&w.rg, name)), &group).await;
    pe["properties"]["customDnsConfigs"][0]["ipAddresses"][0].as_str().unwrap().to_string()
}

fn is_public(ip: &str) -> bool {
    let v4: std::net::Ipv4Addr = ip.parse().unwrap();
    let o = v4.octets();
    o[0] == 198 && (o[1] == 18 || o[1] == 19)
}

#[tokio::test]
async fn linked_unlinked_and_peered_vnets_get_the_answers_azure_gives() {
    let s = Server::start().await;
    let w = world(&s).await;
    let ip = endpoint_with_zone_group(&s, &w, "pe1", &w.sa1, false).await;
    assert_eq!(ip, "10.1.1.4");
    let (r1, r2, r3) = (s.resolver(&w.vnet1).await, s.resolver(&w.vnet2).await, s.resolver(&w.vnet3).await);
    assert_ne!(r1, r2, "every VNet has its own resolver");
    for t in BOTH {
        // vnet1: the public name aliases the privatelink name, which the linked zone answers.
        let a = resolve(r1, t, "sa1.blob.core.windows.net", RecordType::A).await;
        assert_eq!(a.rcode, ResponseCode::NoError, "{t:?}: {a:?}");
        assert_eq!(a.cnames(), vec![format!("sa1.{ZONE}")], "{t:?}: {a:?}");
        assert_eq!(a.addresses(), vec!["10.1.1.4".to_string()], "{t:?}: {a:?}");
        // vnet2 (no link) and vnet3 (peered, no link of its own: Azure does not share links
        // across peering): the same CNAME, then the public address.
        for (resolver, vnet) in [(r2, "vnet2"), (r3, "vnet3")] {
            let a = resolve(resolver, t, "sa1.blob.core.windows.net", RecordType::A).await;
            assert_eq!(a.rcode, ResponseCode::NoError, "{vnet} {t:?}: {a:?}");
            assert_eq!(a.cnames(), vec![format!("sa1.{ZONE}")], "{vnet} {t:?}: {a:?}");
            let addrs = a.addresses();
            assert_eq!(addrs.len(), 1, "{vnet}: {a:?}");
            assert!(is_public(&addrs[0]), "{vnet} gets the public address: {a:?}");
        }
        // A public name without any endpoint connection: straight to the public address.
        let sa2 =
            s.create_storage(&w.rg, &format!("sa2{}", if t == Transport::Udp { "u" } else { "t" }), "StorageV2").await;
        let name = format!("{}.blob.core.windows.net", sa2.rsplit('/').next().unwrap());
        let a = resolve(r1, t, &name, RecordType::A).await;
        assert!(a.cnames().is_empty(), "{a:?}");
        assert!(is_public(&a.addresses()[0]), "{a:?}");
        // An Azure name that exists nowhere: NXDOMAIN, as Azure's public DNS says.
        let a = resolve(r1, t, "nosuchaccount.blob.core.windows.net", RecordType::A).await;
        assert_eq!(a.rcode, ResponseCode::NXDomain, "{a:?}");
    }
}

#[tokio::test]
async fn missing_records_are_nxdomain_unless_the_link_redirects() {
    let s = Server::start().await;
    let w = world(&s).await;
    // sa1 has an endpoint but no zone group: its privatelink name has no record in the zone.
    s.put_ok(&pe_path(&w.rg, "pe1"), &pe_body(&w.subnet, &w.sa1, &["blob"], false, "")).await;
    let r1 = s.resolver(&w.vnet1).await;
    let a = resolve(r1, Transport::Udp, "sa1.blob.core.windows.net", RecordType::A).await;
    assert_eq!(
        a.rcode,
        ResponseCode::NXDomain,
        "the classic pitfall: the zone answers for the name and has no record: {a:?}"
    );
    assert_eq!(a.cnames(), vec![format!("sa1.{ZONE}")]);
    // With NxDomainRedirect the resolver falls back to the public answer.
    let link = format!("{}/virtualNetworkLinks/vnet1", w.zone);
    s.put_ok(&link, &link_body(&w.vnet1, "NxDomainRedirect")).await;
    let a = resolve(r1, Transport::Tcp, "sa1.blob.core.windows.net", RecordType::A).await;
    assert_eq!(a.rcode, ResponseCode::NoError, "{a:?}");
    assert!(is_public(&a.addresses()[0]), "{a:?}");
    // A name with a record still gets the private answer.
    s.put_ok(
        &format!("{}/A/app", w.zone),
        &json!({ "properties": { "ttl": 30, "aRecords": [{ "ipv4Address": "10.1.1.50" }] } }),
    )
    .await;
    let a = resolve(r1, Transport::Udp, &format!("app.{ZONE}"), RecordType::A).await;
    assert_eq!(a.addresses(), vec!["10.1.1.50".to_string()]);
}

#[tokio::test]
async fn api_writes_are_answered_at_once_and_endpoint_deletion_removes_records() {
    let s = Server::start().await;
    let w = world(&s).await;
    let r1 = s.resolver(&w.vnet1).await;
    // A record added through the API is in the very next answer.
    for i in 0..20 {
        let name = format!("host{i}");
        let r = s
            .put(
                &format!("{}/A/{name}", w.zone),
                &json!({ "properties": { "ttl": 5, "aRecords": [{ "ipv4Address": format!("10.1.2.{}", i + 1) }] } }),
            )
            .await;
        assert_eq!(r.status, 201, "{r}");
        let a = resolve(r1, Transport::Udp, &format!("{name}.{ZONE}"), RecordType::A).await;
        assert_eq!(a.addresses(), vec![format!("10.1.2.{}", i + 1)], "record {i} not answered at once: {a:?}");
    }
    // A CNAME chain inside the private zone, then into another linked zone.
    let other = zone_path(&w.rg, "contoso.internal");
    s.put_ok(&other, &json!({ "location": "global" })).await;
    s.put_ok(&format!("{other}/virtualNetworkLinks/vnet1"), &link_body(&w.vnet1, "Default")).await;
    s.put_ok(
        &format!("{other}/A/db"),
        &json!({ "properties": { "ttl": 30, "aRecords": [{ "ipv4Address": "10.1.3.7" }] } }),
    )
    .await;
    s.put_ok(
        &format!("{}/CNAME/alias", w.zone),
        &json!({ "properties": { "ttl": 30, "cnameRecord": { "cname": "db.contoso.internal" } } }),
    )
    .await;
    let a = resolve(r1, Transport::Tcp, &format!("alias.{ZONE}"), RecordType::A).await;
    assert_eq!(a.cnames(), vec!["db.contoso.internal".to_string()], "{a:?}");
    assert_eq!(a.addresses(), vec!["10.1.3.7".to_string()]);
    // NODATA for a type the name does not have; SOA in the authority section.
    let m = common::dns::ask(r1, Transport::Udp, &format!("host0.{ZONE}"), RecordType::AAAA).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.answers.is_empty() && m.authorities.iter().any(|r| r.record_type() == RecordType::SOA), "{m:?}");

    // The endpoint's zone-group record comes and goes with the endpoint.
    let ip = endpoint_with_zone_group(&s, &w, "pe1", &w.sa1, false).await;
    let a = resolve(r1, Transport::Udp, "sa1.blob.core.windows.net", RecordType::A).await;
    assert_eq!(a.addresses(), vec![ip]);
    s.delete_ok(&pe_path(&w.rg, "pe1")).await;
    let a = resolve(r1, Transport::Udp, &format!("sa1.{ZONE}"), RecordType::A).await;
    assert_eq!(a.rcode, ResponseCode::NXDomain, "the zone group's record went with the endpoint: {a:?}");
    let a = resolve(r1, Transport::Udp, "sa1.blob.core.windows.net", RecordType::A).await;
    assert!(a.cnames().is_empty(), "no connection left, no privatelink alias: {a:?}");
    assert!(is_public(&a.addresses()[0]), "{a:?}");
}

#[tokio::test]
async fn resolvers_follow_vnets_and_survive_restarts() {
    let mut s = Server::start().await;
    let w = world(&s).await;
    let before = s.resolver(&w.vnet2).await;
    assert!(before.ip().is_loopback());
    let r = s.get("/privlink/dns/resolvers").await;
    assert_eq!(r.json["value"].as_array().unwrap().len(), 3, "{r}");
    assert!(r.json["value"].as_array().unwrap().iter().all(|v| v["standsFor"] == "168.63.129.16"), "{r}");
    // A new VNet's resolver listens as soon as its PUT answers.
    let v4 = id_of(&s.create_vnet("rg", "vnet4", &["10.4.0.0/16"], &[]).await);
    let r4 = s.resolver(&v4).await;
    let a = resolve(r4, Transport::Udp, "sa1.blob.core.windows.net", RecordType::A).await;
    assert_eq!(a.rcode, ResponseCode::NoError, "{a:?}");
    // Deleted, it stops answering.
    s.delete_ok(&resource(&w.rg, "Microsoft.Network/virtualNetworks", "vnet4")).await;
    let gone = s.get("/privlink/dns/resolvers").await;
    assert!(!gone.json.to_string().to_ascii_lowercase().contains("vnet4"), "{gone}");
    let bytes = common::dns::query_message("sa1.blob.core.windows.net", RecordType::A).to_vec().unwrap();
    assert!(udp_exchange(r4, &bytes).await.is_none(), "the deleted VNet's resolver still answers");
    // After a restart each VNet keeps its resolver address (ports are free ones in tests).
    s.kill9();
    s.restart(&[]).await;
    let after = s.resolver(&w.vnet2).await;
    assert_eq!(after.ip(), before.ip(), "vnet2 keeps its resolver slot");
    let a = resolve(after, Transport::Tcp, "sa1.blob.core.windows.net", RecordType::A).await;
    assert_eq!(a.rcode, ResponseCode::NoError, "{a:?}");
}

#[tokio::test]
async fn garbage_never_stops_the_resolver() {
    let s = Server::start().await;
    let w = world(&s).await;
    let r1 = s.resolver(&w.vnet1).await;
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut seed: u64 = 0x9e3779b97f4a7c15;
    for i in 0..2000usize {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let len = (seed % 600) as usize;
        let bytes: Vec<u8> = (0..len).map(|j| (seed.rotate_left((j % 64) as u32) as u8) ^ (i as u8)).collect();
        let _ = socket.send_to(&bytes, r1).await;
    }
    // Truncated and oversized TCP frames, and a connection that never sends.
    let idle = tokio::net::TcpStream::connect(r1).await.unwrap();
    assert!(tcp_exchange(r1, &[0xde, 0xad]).await.is_none_or(|reply| reply.len() >= 12));
    let big = vec![0u8; 5000];
    let _ = tcp_exchange(r1, &big).await;
    for t in BOTH {
        let a = resolve(r1, t, "sa1.blob.core.windows.net", RecordType::A).await;
        assert_eq!(a.rcode, ResponseCode::NoError, "{t:?} after garbage: {a:?}");
    }
    drop(idle);
}

#[tokio::test]
async fn names_outside_privlink_are_forwarded_upstream_or_refused() {
    // A stand-in upstream on loopback: answers every A query with 192.0.2.53.
    let upstream = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let upstream_addr = upstream.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        while let Ok((n, from)) = upstream.recv_from(&mut buf).await {
            let Ok(q) = hickory_proto::op::Message::from_vec(&buf[..n]) else { continue };
            let mut reply = q.clone();
            reply.metadata.message_type = hickory_proto::op::MessageType::Response;
            reply.metadata.recursion_available = true;
            if let Some(query) = q.queries.first() {
                let record = hickory_proto::rr::Record::from_rdata(
                    query.name().clone(),
                    300,
                    hickory_proto::rr::RData::A(hickory_proto::rr::rdata::A("192.0.2.53".parse().unwrap())),
                );
                reply.answers.push(record);
            }
            let _ = upstream.send_to(&reply.to_vec().unwrap(), from).await;
        }
    });
    let s = Server::start_with(&["--dns-upstream", &upstream_addr.to_string()]).await;
    let w = world(&s).await;
    let r1 = s.resolver(&w.vnet1).await;
    let a = resolve(r1, Transport::Udp, "www.example.org", RecordType::A).await;
    assert_eq!(a.addresses(), vec!["192.0.2.53".to_string()], "{a:?}");
    // A private CNAME pointing outside: the chain is spliced in front of the upstream answer.
    s.put_ok(
        &format!("{}/CNAME/out", w.zone),
        &json!({ "properties": { "ttl": 30, "cnameRecord": { "cname": "www.example.org" } } }),
    )
    .await;
    let a = resolve(r1, Transport::Udp, &format!("out.{ZONE}"), RecordType::A).await;
    assert_eq!(a.cnames(), vec!["www.example.org".to_string()], "{a:?}");
    assert_eq!(a.addresses(), vec!["192.0.2.53".to_string()], "{a:?}");

    // Without an upstream, such names are refused.
    let plain = Server::start().await;
    let w2 = world(&plain).await;
    let r = plain.resolver(&w2.vnet1).await;
    let a = resolve(r, Transport::Udp, "www.example.org", RecordType::A).await;
    assert_eq!(a.rcode, ResponseCode::Refused, "{a:?}");
}

// ---- explanations ---------------------------------------------------------------------------

#[tokio::test]
async fn dns_query_and_diagnose_explain_the_chain_and_the_connection() {
    let s = Server::start().await;
    let w = world(&s).await;
    let ip = endpoint_with_zone_group(&s, &w, "pe1", &w.sa1, true).await;

    // Over HTTP, for tools.
    let q = s.get("/privlink/dns/query?name=sa1.blob.core.windows.net&type=A&vnet=vnet").await;
    assert_eq!(q.status, 200, "{q}");
    assert_eq!(q.json["rcode"], "NoError");
    let kinds: Vec<&str> = q.json["steps"].as_array().unwrap().iter().filter_map(|s| s["kind"].as_str()).collect();
    assert!(kinds.contains(&"Cname") && kinds.contains(&"PrivateZone") && kinds.contains(&"Record"), "{q}");
    let text = q.json.to_string();
    assert!(
        text.contains("virtualNetworkLinks/vnet1") && text.contains("/A/sa1"),
        "names the link and the record: {q}"
    );

    let d = s.get(&format!("/privlink/diagnose?name=sa1.blob.core.windows.net&vnet={}", w.vnet1)).await;
    assert_eq!(d.status, 200, "{d}");
    let behind = &d.json["behind"][0];
    assert_eq!(behind["kind"], "privateEndpoint");
    assert_eq!(behind["privateEndpoint"]["connectionState"], "Pending");
    assert_eq!(behind["trafficAllowed"], false);
    let verdict = behind["verdict"].as_str().unwrap();
    assert!(
        verdict.contains(&ip)
            && verdict.contains("pe1")
            && verdict.contains("vnet/pe")
            && verdict.contains("Pending")
            && verdict.contains("refused"),
        "{verdict}"
    );

    // From the unlinked VNet: the public endpoint.
    let d2 = s.get("/privlink/diagnose?name=sa1.blob.core.windows.net&vnet=vnet2").await;
    assert_eq!(d2.json["behind"][0]["kind"], "publicAddress", "{d2}");
    let q2 = s.get("/privlink/dns/query?name=sa1.blob.core.windows.net&vnet=vnet2").await;
    assert!(
        q2.json["steps"].as_array().unwrap().iter().any(|s| s["kind"] == "NotLinked"),
        "says the zone exists but is not linked: {q2}"
    );

    // The CLI prints the same, for people.
    let out = s.cli(&["dns", "query", "sa1.blob.core.windows.net", "--vnet", "vnet"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stdout.contains(&ip) && out.stdout.contains(ZONE) && out.stdout.contains("How:"), "{out:?}");
    let out = s.cli(&["diagnose", "sa1.blob.core.windows.net", "--vnet", "vnet"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stdout.contains("connection Pending: traffic will be refused"), "{out:?}");
    let out = s.cli(&["dns", "resolvers", "-o", "json"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let listed: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(listed["value"].as_array().unwrap().len(), 3);

    // Custom DNS servers are named in the notes.
    let mut vnet2 = s.get(&w.vnet2).await.json;
    vnet2["properties"]["dhcpOptions"] = json!({ "dnsServers": ["10.1.1.200"] });
    s.put_ok(&w.vnet2, &vnet2).await;
    let q3 = s.get("/privlink/dns/query?name=sa1.blob.core.windows.net&vnet=vnet2").await;
    let notes = q3.json["notes"].to_string();
    assert!(notes.contains("custom DNS servers") && notes.contains("10.1.1.200") && notes.contains("vnet"), "{q3}");

    // Bad questions get ARM errors.
    let r = s.get("/privlink/dns/query?name=sa1.blob.core.windows.net").await;
    common::expect_error(&r, 400, "MissingQueryParameter");
    let r = s.get("/privlink/dns/query?name=x&vnet=nope").await;
    common::expect_error(&r, 400, "VirtualNetworkNotFound");
    let r = s.get("/privlink/dns/query?name=x&vnet=vnet&type=BOGUS").await;
    common::expect_error(&r, 400, "InvalidQueryParameter");
    for port in ["abc", "0", "70000"] {
        let r = s.get(&format!("/privlink/diagnose?name=x&vnet=nope&port={port}")).await;
        common::expect_error(&r, 400, "InvalidQueryParameter");
    }
    let r = s.get("/privlink/diagnose?vnet=vnet").await;
    common::expect_error(&r, 400, "MissingQueryParameter");
}

#[tokio::test]
async fn a_descriptor_budget_keeps_resolvers_from_starving_the_api() {
    // Room for two or three VNets' resolvers and proxies, not six.
    let s = Server::start_with_config("[limits]\ndata-plane-descriptors = 12\n").await;
    let rg = s.rg("rg");
    s.create_rg_at(&rg).await;
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(id_of(&s.create_vnet("rg", &format!("v{i}"), &[&format!("10.{i}.0.0/16")], &[]).await));
    }
    let listed = s.get("/privlink/dns/resolvers").await;
    let value = listed.json["value"].as_array().unwrap().clone();
    let listening: Vec<&Value> = value.iter().filter(|r| r["address"].is_string()).collect();
    let refused: Vec<&Value> =
        value.iter().filter(|r| r["error"].as_str().is_some_and(|e| e.contains("budget"))).collect();
    assert!(!listening.is_empty() && !refused.is_empty() && listening.len() + refused.len() == 6, "{listed}");
    // The API is untouched, and a deleted VNet's descriptors go to one that waited for them.
    let waiting = refused[0]["virtualNetwork"].as_str().unwrap().to_string();
    let first = listening[0]["virtualNetwork"].as_str().unwrap().to_string();
    s.delete_ok(&first).await;
    let r = s.resolver(&waiting).await;
    let a = resolve(r, Transport::Udp, "x.blob.core.windows.net", RecordType::A).await;
    assert_eq!(a.rcode, ResponseCode::NXDomain, "{a:?}");
}
