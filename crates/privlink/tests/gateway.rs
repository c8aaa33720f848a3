//! The data plane through real sockets: bytes reach a backend only through an Approved private
//! endpoint (or a public endpoint the target's settings allow), from where Azure would let them
//! come (same VNet, peering with virtual network access, NSG rules where the subnet applies
//! them), and stop the moment that is no longer true.
//!
//! Layout: resource group `rg`; `vnet` (10.1.0.0/16, subnet `pe` 10.1.1.0/24) holds the private
//! endpoints and is linked to privatelink.blob.core.windows.net; `vnet2` (10.2.0.0/16) is neither
//! linked nor peered; `vnet3` (10.3.0.0/16) is peered with `vnet`. Storage account `sa1`'s blob
//! goes to an echo backend on 127.0.0.1.

mod common;

use std::time::{Duration, Instant};

use common::gateway::{closed_within, connect_http, connect_socks, echo_backend, echoes, http_backend};
use common::private_link::{id_of, pe_body, pe_path, resource};
use common::{expect_error, Server};
use serde_json::{json, Value};

const ZONE: &str = "privatelink.blob.core.windows.net";
const BLOB: &str = "sa1.blob.core.windows.net";

struct World {
    rg: String,
    vnet: String,
    vnet2: String,
    vnet3: String,
    subnet: String,
    zone_id: String,
    sa1: String,
}

fn peering_body(remote: &str, allow: bool) -> Value {
    json!({ "properties": { "remoteVirtualNetwork": { "id": remote }, "allowVirtualNetworkAccess": allow } })
}

async fn world(s: &Server) -> World {
    let rg = s.rg("rg");
    let subnet = s.landing(&rg, "10.1.0.0/16", "10.1.1.0/24").await;
    let vnet = subnet.trim_end_matches("/subnets/pe").to_string();
    let vnet2 = id_of(&s.create_vnet("rg", "vnet2", &["10.2.0.0/16"], &[("default", "10.2.0.0/24")]).await);
    let vnet3 = id_of(&s.create_vnet("rg", "vnet3", &["10.3.0.0/16"], &[("default", "10.3.0.0/24")]).await);
    s.put_ok(&format!("{vnet}/virtualNetworkPeerings/to3"), &peering_body(&vnet3, true)).await;
    s.put_ok(&format!("{vnet3}/virtualNetworkPeerings/to1"), &peering_body(&vnet, true)).await;
    let zone = resource(&rg, "Microsoft.Network/privateDnsZones", ZONE);
    let zone_id = id_of(&s.put_ok(&zone, &json!({ "location": "global" })).await);
    let link = json!({ "location": "global", "properties": { "virtualNetwork": { "id": vnet }, "registrationEnabled": false } });
    s.put_ok(&format!("{zone}/virtualNetworkLinks/vnet"), &link).await;
    let sa1 = s.create_storage(&rg, "sa1", "StorageV2").await;
    World { rg, vnet, vnet2, vnet3, subnet, zone_id, sa1 }
}

/// Bind `target`'s `group` to `backend` through the backend tag.
async fn bind(s: &Server, target: &str, group: &str, backend: std::net::SocketAddr) {
    let current = s.get(target).await.json;
    let mut tags = current["tags"].as_object().cloned().unwrap_or_default();
    tags.insert(format!("privlink:backend:{group}"), json!(backend.to_string()));
    let r = s.patch(target, &json!({ "tags": tags })).await;
    assert_eq!(r.status, 200, "binding {target}/{group}: {r}");
}

/// A private endpoint to sa1's blob with a zone group; returns its private IP.
async fn endpoint(s: &Server, w: &World, name: &str, manual: bool) -> String {
    let pe = s.put_ok(&pe_path(&w.rg, name), &pe_body(&w.subnet, &w.sa1, &["blob"], manual, "let me in")).await;
    let group = json!({ "properties": { "privateDnsZoneConfigs": [{ "name": "blob", "properties": { "privateDnsZoneId": w.zone_id } }] } });
    s.put_ok(&format!("{}/privateDnsZoneGroups/default", pe_path(&w.rg, name)), &group).await;
    pe["properties"]["customDnsConfigs"][0]["ipAddresses"][0].as_str().unwrap().to_string()
}

async fn connection_id(s: &Server, w: &World, name: &str) -> String {
    let pe = s.get(&pe_path(&w.rg, name)).await.json;
    id_of(&s.target_connection(&w.sa1, &id_of(&pe)).await)
}

#[tokio::test]
async fn approval_opens_the_way_and_rejection_cuts_open_connections() {
    let s = Server::start().await;
    let w = world(&s).await;
    let backend = echo_backend().await;
    // The documented way: `privlink backend set`.
    let out = s.cli(&["backend", "set", &w.sa1, "--group", "blob", &backend.to_string()]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let ip = endpoint(&s, &w, "pe1", true).await;
    let proxy = s.proxy(&w.vnet).await;

    // Pending: refused at once, with the reason.
    let refused = connect_http(proxy, BLOB, 443, None).await.expect_err("a Pending connection carries no traffic");
    assert_eq!(refused.code, 403, "{refused:?}");
    assert!(refused.reason.contains("Pending"), "{refused:?}");

    // Approved: the bytes flow, by name (private DNS) and by private IP.
    let conn = connection_id(&s, &w, "pe1").await;
    let started = Instant::now();
    let r = s.decide(&conn, "Approved", "ok").await;
    assert_eq!(r.status, 200, "{r}");
    let mut by_name = connect_http(proxy, BLOB, 443, None).await.expect("Approved: through");
    let approval_to_traffic = started.elapsed();
    assert!(echoes(&mut by_name, b"hello through pe1").await);
    let mut by_ip = connect_socks(proxy, &ip, 443, None).await.expect("by private IP");
    assert!(echoes(&mut by_ip, b"by ip").await);
    eprintln!("approval PUT to first allowed byte: {approval_to_traffic:?}");

    // Rejected: both open connections are cut within 100 ms of the answer to the PUT.
    let r = s.decide(&conn, "Rejected", "no").await;
    assert_eq!(r.status, 200, "{r}");
    let cut = closed_within(&mut by_name, Duration::from_millis(1000)).await.expect("the open connection was not cut");
    assert!(cut < Duration::from_millis(100), "cut after {cut:?}");
    assert!(closed_within(&mut by_ip, Duration::from_millis(100)).await.is_some());
    let refused = connect_socks(proxy, BLOB, 443, None).await.expect_err("Rejected carries no traffic");
    assert_eq!(refused.code, 0x02, "{refused:?}");

    // The endpoint's counters and the explanation say what happened.
    let pe_id = id_of(&s.get(&pe_path(&w.rg, "pe1")).await.json);
    let stats = s.route_stats(&pe_id).await;
    assert_eq!(stats["connections"], 2, "{stats}");
    assert!(stats["bytesFromClients"].as_u64().unwrap() >= 22, "{stats}");
    assert!(stats["refusals"].as_u64().unwrap() >= 2, "{stats}");
    assert!(stats["lastRefusal"]["reason"].as_str().unwrap().contains("Rejected"), "{stats}");
    let d = s.get("/privlink/diagnose?name=sa1.blob.core.windows.net&vnet=vnet").await;
    let summary = d.json["summary"].as_str().unwrap();
    assert!(summary.contains("Rejected") && summary.contains("Last refused at"), "{d}");
    let metrics = s.send(reqwest::Method::GET, "/metrics", None, &[("authorization", "")]).await;
    assert_eq!(metrics.status, 200);
    let text = metrics.json.as_str().unwrap().to_string();
    assert!(
        text.contains("privlink_gateway_connections_total{") && text.contains("privlink_gateway_refusals_total{"),
        "{text}"
    );
}

#[tokio::test]
async fn a_dns_change_moves_new_connections_but_never_open_ones() {
    let s = Server::start().await;
    let w = world(&s).await;
    bind(&s, &w.sa1, "blob", echo_backend().await).await;
    endpoint(&s, &w, "pe1", false).await;
    let proxy = s.proxy(&w.vnet).await;
    let mut open = connect_http(proxy, BLOB, 443, None).await.expect("through pe1");
    // Someone points the name elsewhere: the record set is replaced.
    let zone = resource(&w.rg, "Microsoft.Network/privateDnsZones", ZONE);
    let r = s
        .put(
            &format!("{zone}/A/sa1"),
            &json!({ "properties": { "ttl": 10, "aRecords": [{ "ipv4Address": "10.1.1.200" }] } }),
        )
        .await;
    assert_eq!(r.status, 200, "{r}");
    assert!(echoes(&mut open, b"still connected to 10.1.1.4").await, "an open TCP connection does not follow DNS");
    let refused = connect_http(proxy, BLOB, 443, None).await.expect_err("the name now leads to 10.1.1.200");
    assert!(refused.reason.contains("10.1.1.200"), "{refused:?}");
}

#[tokio::test]
async fn unlinked_vnets_take_the_public_path_which_public_network_access_closes() {
    let s = Server::start().await;
    let w = world(&s).await;
    bind(&s, &w.sa1, "blob", echo_backend().await).await;
    endpoint(&s, &w, "pe1", false).await;
    let proxy2 = s.proxy(&w.vnet2).await;
    // vnet2 resolves sa1 to its public address: the public endpoint is open by default.
    let mut public = connect_http(proxy2, BLOB, 443, None).await.expect("the public path is open");
    assert!(echoes(&mut public, b"over the public endpoint").await);
    let sa1_stats = s.route_stats(&w.sa1).await;
    assert_eq!(sa1_stats["kind"], "publicEndpoint", "{sa1_stats}");
    // Disabled: refused, and the open public connection is cut.
    let r = s.patch(&w.sa1, &json!({ "properties": { "publicNetworkAccess": "Disabled" } })).await;
    assert_eq!(r.status, 200, "{r}");
    assert_eq!(r.json["properties"]["publicNetworkAccess"], "Disabled", "{r}");
    assert!(
        closed_within(&mut public, Duration::from_millis(500)).await.is_some(),
        "the public connection stayed open"
    );
    let refused = connect_http(proxy2, BLOB, 443, None).await.expect_err("public access is off");
    assert!(refused.reason.contains("publicNetworkAccess Disabled"), "{refused:?}");
    // The private path from the linked VNet is not affected.
    let mut private = connect_http(s.proxy(&w.vnet).await, BLOB, 443, None).await.expect("private path");
    assert!(echoes(&mut private, b"private").await);
}

#[tokio::test]
async fn peered_vnets_reach_the_endpoint_unless_the_peering_denies_access() {
    let s = Server::start().await;
    let w = world(&s).await;
    bind(&s, &w.sa1, "blob", echo_backend().await).await;
    let ip = endpoint(&s, &w, "pe1", false).await;
    let proxy3 = s.proxy(&w.vnet3).await;
    let mut peered = connect_http(proxy3, &ip, 443, None).await.expect("a peered VNet reaches the endpoint");
    assert!(echoes(&mut peered, b"across the peering").await);
    // vnet2 is not peered: the private IP leads nowhere from there.
    let refused = connect_http(s.proxy(&w.vnet2).await, &ip, 443, None).await.expect_err("not peered");
    assert!(refused.reason.contains("not peered"), "{refused:?}");
    // allowVirtualNetworkAccess false on one side: refused, and the open connection is cut.
    s.put_ok(&format!("{}/virtualNetworkPeerings/to1", w.vnet3), &peering_body(&w.vnet, false)).await;
    assert!(closed_within(&mut peered, Duration::from_millis(500)).await.is_some());
    let refused = connect_http(proxy3, &ip, 443, None).await.expect_err("peering without access");
    assert!(refused.reason.contains("does not allow virtual network access"), "{refused:?}");
}

#[tokio::test]
async fn azures_documented_peering_flag_limitation_can_be_reproduced() {
    // Seed 001: with allowVirtualNetworkAccess false, the VirtualNetwork tag no longer covers
    // the peer, yet endpoint traffic from it still flows unless an NSG names its prefix.
    let s = Server::start_with_config("[gateway]\npeering-flag-blocks-endpoints = false\n").await;
    let w = world(&s).await;
    bind(&s, &w.sa1, "blob", echo_backend().await).await;
    let ip = endpoint(&s, &w, "pe1", false).await;
    // The endpoint's VNet (A) turns access off on its peering to vnet3 (B).
    s.put_ok(&format!("{}/virtualNetworkPeerings/to3", w.vnet), &peering_body(&w.vnet3, false)).await;
    let proxy3 = s.proxy(&w.vnet3).await;
    let mut through = connect_http(proxy3, &ip, 443, None).await.expect("the flag does not stop endpoint traffic");
    assert!(echoes(&mut through, b"limitation").await);
    // Keeping vnet3 out takes a rule naming its prefix, with the subnet's network policies on;
    // the endpoint's own network is not affected.
    let nsg = resource(&w.rg, "Microsoft.Network/networkSecurityGroups", "nsg-pe");
    let rule = json!({ "name": "deny-vnet3", "properties": { "priority": 100, "access": "Deny", "direction": "Inbound", "protocol": "Tcp",
        "sourceAddressPrefix": "10.3.0.0/16", "sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "*" } });
    let nsg_id =
        id_of(&s.put_ok(&nsg, &json!({ "location": "westeurope", "properties": { "securityRules": [rule] } })).await);
    s.put_ok(&w.subnet, &json!({ "properties": { "addressPrefix": "10.1.1.0/24", "networkSecurityGroup": { "id": nsg_id }, "privateEndpointNetworkPolicies": "Enabled" } })).await;
    assert!(closed_within(&mut through, Duration::from_millis(500)).await.is_some());
    let refused = connect_http(proxy3, &ip, 443, None).await.expect_err("denied by prefix");
    assert!(refused.reason.contains("deny-vnet3"), "{refused:?}");
    let mut own = connect_http(s.proxy(&w.vnet).await, &ip, 443, None).await.expect("the endpoint's own VNet");
    assert!(echoes(&mut own, b"own").await);
}

#[tokio::test]
async fn an_nsg_on_the_endpoint_subnet_applies_only_with_network_policies() {
    let s = Server::start().await;
    let w = world(&s).await;
    bind(&s, &w.sa1, "blob", echo_backend().await).await;
    let ip = endpoint(&s, &w, "pe1", false).await;
    let nsg = resource(&w.rg, "Microsoft.Network/networkSecurityGroups", "nsg-pe");
    let rule = json!({ "name": "deny-443", "properties": { "priority": 100, "access": "Deny", "direction": "Inbound", "protocol": "Tcp",
        "sourceAddressPrefix": "VirtualNetwork", "sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "443" } });
    let nsg_id =
        id_of(&s.put_ok(&nsg, &json!({ "location": "westeurope", "properties": { "securityRules": [rule] } })).await);
    let subnet_body = |policies: &str| json!({ "properties": { "addressPrefix": "10.1.1.0/24", "networkSecurityGroup": { "id": nsg_id }, "privateEndpointNetworkPolicies": policies } });
    s.put_ok(&w.subnet, &subnet_body("Disabled")).await;
    let proxy = s.proxy(&w.vnet).await;
    // Policies disabled: the NSG does nothing to endpoint traffic.
    let mut open = connect_http(proxy, &ip, 443, None).await.expect("NSG ignored while policies are disabled");
    assert!(echoes(&mut open, b"x").await);
    // Enabled: the deny rule blocks new and open connections to 443; 80 still passes.
    s.put_ok(&w.subnet, &subnet_body("Enabled")).await;
    assert!(closed_within(&mut open, Duration::from_millis(500)).await.is_some());
    let refused = connect_http(proxy, &ip, 443, None).await.expect_err("the NSG denies 443");
    assert!(refused.reason.contains("deny-443"), "{refused:?}");
    let mut http = connect_http(proxy, &ip, 80, None).await.expect("port 80 is not denied");
    assert!(echoes(&mut http, b"y").await);
    // NetworkSecurityGroupEnabled applies it too.
    s.put_ok(&w.subnet, &subnet_body("NetworkSecurityGroupEnabled")).await;
    assert!(connect_http(proxy, &ip, 443, None).await.is_err());
}

#[tokio::test]
async fn only_endpoints_and_bound_backends_are_reachable() {
    let s = Server::start().await;
    let w = world(&s).await;
    let ip = endpoint(&s, &w, "pe1", false).await;
    let proxy = s.proxy(&w.vnet).await;
    // Approved, but nothing bound: refused, saying how to bind one.
    let refused = connect_http(proxy, BLOB, 443, None).await.expect_err("no backend");
    assert!(refused.reason.contains("privlink backend set"), "{refused:?}");
    assert!(s.listener(&format!("{ip}:443")).await.is_none(), "no listener without a backend");
    bind(&s, &w.sa1, "blob", echo_backend().await).await;
    // A port the sub-resource does not serve, and an address that is nobody.
    let refused = connect_http(proxy, &ip, 22, None).await.expect_err("port 22");
    assert!(refused.reason.contains("serves port(s) 443, 80"), "{refused:?}");
    let refused = connect_http(proxy, "10.1.1.99", 443, None).await.expect_err("not an endpoint");
    assert!(refused.reason.contains("no private endpoint has 10.1.1.99"), "{refused:?}");
    let refused = connect_http(proxy, "www.example.org", 443, None).await.expect_err("outside privlink");
    assert!(refused.reason.contains("not a name privlink knows"), "{refused:?}");
    // The endpoint's own listener stands for 10.1.1.4:443; it goes with the endpoint.
    let listener = s.listener(&format!("{ip}:443")).await.expect("a listener for the endpoint");
    let mut direct = tokio::net::TcpStream::connect(listener).await.expect("connect to the listener");
    assert!(echoes(&mut direct, b"direct").await);
    s.delete_ok(&pe_path(&w.rg, "pe1")).await;
    assert!(closed_within(&mut direct, Duration::from_millis(500)).await.is_some());
    assert!(tokio::net::TcpStream::connect(listener).await.is_err(), "the deleted endpoint's listener still accepts");
    let refused = connect_http(proxy, &ip, 443, None).await.expect_err("deleted");
    assert!(refused.reason.contains("no private endpoint"), "{refused:?}");
}

#[tokio::test]
async fn the_storage_firewall_decides_the_public_path() {
    let s = Server::start().await;
    let w = world(&s).await;
    bind(&s, &w.sa1, "blob", echo_backend().await).await;
    let vnet2_default = format!("{}/subnets/default", w.vnet2);
    let acls = json!({ "properties": { "networkAcls": { "defaultAction": "Deny", "bypass": "AzureServices",
        "ipRules": [{ "value": "198.51.100.0/24", "action": "Allow" }],
        "virtualNetworkRules": [{ "id": vnet2_default, "action": "Allow" }] } } });
    let r = s.patch(&w.sa1, &acls).await;
    assert_eq!(r.status, 200, "{r}");
    // A virtual-network rule lets vnet2's subnet in; vnet3 is not listed.
    let mut ok = connect_http(s.proxy(&w.vnet2).await, BLOB, 443, None).await.expect("vnet2/default is allowed");
    assert!(echoes(&mut ok, b"vnet rule").await);
    let refused = connect_http(s.proxy(&w.vnet3).await, BLOB, 443, None).await.expect_err("vnet3 is not allowed");
    assert!(refused.reason.contains("firewall"), "{refused:?}");
    // From the internet: an allowed IP, another one, and a trusted Azure service.
    let internet = s.proxy("internet").await;
    let mut ok = connect_socks(internet, BLOB, 443, Some("198.51.100.7")).await.expect("an IP rule allows it");
    assert!(echoes(&mut ok, b"ip rule").await);
    assert!(connect_socks(internet, BLOB, 443, Some("192.0.2.7")).await.is_err(), "an IP without a rule");
    assert!(connect_http(internet, BLOB, 443, Some("AzureServices")).await.is_ok(), "trusted services bypass");
    let r = s
        .patch(&w.sa1, &json!({ "properties": { "networkAcls": { "defaultAction": "Deny", "bypass": "None" } } }))
        .await;
    assert_eq!(r.status, 200, "{r}");
    assert!(connect_http(internet, BLOB, 443, Some("AzureServices")).await.is_err(), "no bypass any more");
    // Default action Allow opens it to everyone again.
    let r = s.patch(&w.sa1, &json!({ "properties": { "networkAcls": { "defaultAction": "Allow" } } })).await;
    assert_eq!(r.status, 200, "{r}");
    assert!(connect_socks(internet, BLOB, 443, None).await.is_ok());
}

#[tokio::test]
async fn curl_fetches_from_the_backend_through_a_vnet_proxy() {
    let s = Server::start().await;
    let w = world(&s).await;
    bind(&s, &w.sa1, "blob", http_backend("hello from the blob backend").await).await;
    endpoint(&s, &w, "pe1", false).await;
    let proxy = s.proxy(&w.vnet).await;
    for args in [
        vec![
            "-x".to_string(),
            format!("http://{proxy}"),
            "http://sa1.blob.core.windows.net/container/blob".to_string(),
        ],
        vec![
            "-p".to_string(),
            "-x".to_string(),
            format!("http://{proxy}"),
            "http://sa1.blob.core.windows.net/".to_string(),
        ],
        vec!["--socks5-hostname".to_string(), proxy.to_string(), "http://sa1.blob.core.windows.net/".to_string()],
    ] {
        let out = tokio::process::Command::new("curl").args(["-sS", "--max-time", "10"]).args(&args).output().await;
        let out = out.expect("curl must be installed");
        assert!(out.status.success(), "curl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8_lossy(&out.stdout), "hello from the blob backend", "curl {args:?}");
    }
    // An HTTP client sees the refusal as a status with the reason.
    let r = s.patch(&pe_path(&w.rg, "pe1"), &json!({ "tags": { "x": "y" } })).await;
    assert_eq!(r.status, 200);
    let conn = connection_id(&s, &w, "pe1").await;
    assert_eq!(s.decide(&conn, "Rejected", "no").await.status, 200);
    let out = tokio::process::Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_connect}",
            "-p",
            "-x",
            &format!("http://{proxy}"),
            "http://sa1.blob.core.windows.net/",
        ])
        .output()
        .await
        .expect("curl");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "403");
}

#[tokio::test]
async fn private_link_services_forward_to_their_backend() {
    let s = Server::start().await;
    let w = world(&s).await;
    let backend = echo_backend().await;
    // A provider's service behind a private link service, in its own VNet.
    let provider = s.create_vnet("rg", "provider", &["10.9.0.0/16"], &[("nat", "10.9.0.0/24")]).await;
    let nat_subnet = format!("{}/subnets/nat", id_of(&provider));
    let subnet = s.get(&nat_subnet).await.json;
    let mut subnet_props = subnet["properties"].clone();
    subnet_props["privateLinkServiceNetworkPolicies"] = json!("Disabled");
    s.put_ok(&nat_subnet, &json!({ "properties": subnet_props })).await;
    let pls_body = json!({ "location": "westeurope", "tags": { "privlink:backend": backend.to_string() }, "properties": {
        "loadBalancerFrontendIpConfigurations": [{ "id": format!("{}/providers/Microsoft.Network/loadBalancers/lb/frontendIPConfigurations/fe", w.rg) }],
        "ipConfigurations": [{ "name": "nat", "properties": { "subnet": { "id": nat_subnet }, "primary": true } }] } });
    let pls = s.put_ok(&resource(&w.rg, "Microsoft.Network/privateLinkServices", "svc"), &pls_body).await;
    let pe = s.put_ok(&pe_path(&w.rg, "pe-svc"), &pe_body(&w.subnet, &id_of(&pls), &[], false, "")).await;
    // A service without fqdns gives the endpoint no DNS configs: its address is on its NIC.
    let nic = s.get(pe["properties"]["networkInterfaces"][0]["id"].as_str().unwrap()).await.json;
    let ip = common::nic_ip(&nic);
    let proxy = s.proxy(&w.vnet).await;
    let mut stream = connect_http(proxy, &ip, backend.port(), None).await.expect("through the private link service");
    assert!(echoes(&mut stream, b"to the provider").await);
    // A malformed backend tag is refused as an ARM error and changes nothing.
    let r = s.patch(&id_of(&pls), &json!({ "tags": { "privlink:backend": "10.0.0.1:80" } })).await;
    expect_error(&r, 400, "InvalidPrivlinkBackend");
    assert!(echoes(&mut stream, b"still there").await);
}

#[tokio::test]
async fn bad_backend_bindings_are_arm_errors() {
    let s = Server::start().await;
    let w = world(&s).await;
    for (tags, what) in [
        (json!({ "privlink:backend:nope": "127.0.0.1:1" }), "unknown group"),
        (json!({ "privlink:backend:blob": "192.0.2.1:443" }), "not loopback"),
        (json!({ "privlink:backend:blob": "127.0.0.1" }), "no port"),
    ] {
        let r = s.patch(&w.sa1, &json!({ "tags": tags })).await;
        assert_eq!(r.status, 400, "{what}: {r}");
        expect_error(&r, 400, "InvalidPrivlinkBackend");
    }
    let out = s.cli(&["backend", "set", &w.sa1, "--group", "blob", "example.com:80"]);
    assert_ne!(out.code, Some(0), "{out:?}");
    assert!(out.stderr.contains("InvalidPrivlinkBackend"), "{out:?}");
    let sa = s.get(&w.sa1).await.json;
    assert!(sa["tags"].as_object().is_none_or(|t| t.is_empty()), "nothing stored: {sa}");
    // A resource no traffic goes to cannot take one (it would bind nothing).
    let r = s.patch(&w.vnet, &json!({ "tags": { "privlink:backend": "127.0.0.1:1" } })).await;
    expect_error(&r, 400, "InvalidPrivlinkBackend");
    let vnet = s.get(&w.vnet).await.json;
    assert!(vnet["tags"].as_object().is_none_or(|t| t.is_empty()), "nothing stored: {vnet}");
}

/// Open file descriptors and resident memory (KiB) of a process; fails when /proc cannot tell,
/// so a leak check never passes without measuring.
fn fds_and_rss(pid: u32) -> (usize, u64) {
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).expect("/proc/{pid}/fd");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc/{pid}/status");
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("VmRSS in /proc/{pid}/status");
    (fds, rss)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_dropped_connections_leave_nothing_behind() {
    let s = Server::start().await;
    let w = world(&s).await;
    bind(&s, &w.sa1, "blob", echo_backend().await).await;
    let ip = endpoint(&s, &w, "pe1", false).await;
    let proxy = s.proxy(&w.vnet).await;
    let listener = s.listener(&format!("{ip}:443")).await.expect("the endpoint's listener");
    let pid = s.pid().expect("server pid");
    // Warm up (lazily created state), then take the baseline.
    for _ in 0..50 {
        let mut c = connect_http(proxy, BLOB, 443, None).await.expect("warm-up");
        assert!(echoes(&mut c, b"w").await);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (fds_before, rss_before) = fds_and_rss(pid);
    let mut tasks = Vec::new();
    for batch in 0..20usize {
        tasks.push(tokio::spawn(async move {
            for i in 0..500usize {
                let target = if (batch + i) % 2 == 0 { proxy } else { listener };
                let Ok(mut c) = tokio::net::TcpStream::connect(target).await else { continue };
                use tokio::io::AsyncWriteExt;
                match i % 4 {
                    // Garbage where a handshake should be.
                    0 => {
                        let _ = c.write_all(b"\x16\x03\x01garbage\r\n\r\n").await;
                    }
                    // Half a CONNECT head, then gone.
                    1 => {
                        let _ = c.write_all(b"CONNECT sa1.blob.core.windows.net:443 HTTP/1.1\r\n").await;
                    }
                    // Nothing at all.
                    _ => {}
                }
                drop(c);
            }
        }));
    }
    for t in tasks {
        t.await.expect("a client task");
    }
    // The server is still there and answers.
    let mut c = connect_http(proxy, BLOB, 443, None).await.expect("after the churn");
    assert!(echoes(&mut c, b"alive").await);
    drop(c);
    let mut settled = (usize::MAX, 0);
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        settled = fds_and_rss(pid);
        if settled.0 <= fds_before + 2 {
            break;
        }
    }
    let (fds_after, rss_after) = settled;
    eprintln!("server fds {fds_before} -> {fds_after}, RSS {rss_before} KiB -> {rss_after} KiB");
    assert!(fds_after <= fds_before + 2, "file descriptors leaked: {fds_before} before, {fds_after} after");
    assert!(rss_after < rss_before + 32 * 1024, "memory grew: {rss_before} KiB before, {rss_after} KiB after");
}

#[tokio::test]
async fn with_the_gateway_off_diagnose_says_so() {
    let s = Server::start_with_config("[gateway]\nenabled = false\n").await;
    let w = world(&s).await;
    let d = s.get(&format!("/privlink/diagnose?name={BLOB}&vnet={}", w.vnet)).await;
    assert_eq!(d.status, 200, "{d}");
    assert_eq!(d.json["gateway"]["decision"], "disabled", "{d}");
    assert!(d.json["gateway"]["verdict"].as_str().is_some_and(|v| v.contains("gateway is off")), "{d}");
    let proxies = s.get("/privlink/gateway/proxies").await;
    assert!(proxies.json["value"].as_array().is_none_or(|v| v.iter().all(|p| p["address"].is_null())), "{proxies}");
}
