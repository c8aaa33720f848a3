//! Network interfaces and subnet IPAM: dynamic and static addresses, reserved ranges,
//! exhaustion, release and reuse, and concurrent allocation.

mod common;

use common::{expect_error, nic_body, nic_ip, Server};
use serde_json::{json, Value};

/// A resource group `rg` with VNet `v1` (10.0.0.0/16) and subnet `s1` (`prefix`); returns the
/// subnet id.
async fn subnet(s: &Server, prefix: &str) -> String {
    s.create_rg("rg").await;
    s.create_vnet("rg", "v1", &["10.0.0.0/16"], &[("s1", prefix)]).await;
    s.subnet("rg", "v1", "s1")
}

#[tokio::test]
async fn first_dynamic_address_is_dot_4_and_the_next_ones_follow() {
    let s = Server::start().await;
    let sid = subnet(&s, "10.0.1.0/24").await;
    let r = s.create_nic("rg", "nic1", &sid, None).await;
    assert_eq!(r.status, 201, "{r}");
    assert_eq!(nic_ip(&r.json), "10.0.1.4");
    let config = &r.json["properties"]["ipConfigurations"][0];
    assert_eq!(config["properties"]["privateIPAllocationMethod"], "Dynamic");
    assert_eq!(config["properties"]["privateIPAddressVersion"], "IPv4");
    assert_eq!(config["properties"]["subnet"]["id"], sid.as_str());
    assert_eq!(config["properties"]["primary"], true);
    assert_eq!(config["id"], format!("{}/ipConfigurations/ipconfig1", s.nic("rg", "nic1")).as_str());
    assert_eq!(nic_ip(&s.create_nic("rg", "nic2", &sid, None).await.json), "10.0.1.5");
    assert_eq!(nic_ip(&s.create_nic("rg", "nic3", &sid, None).await.json), "10.0.1.6");
    let g = s.get(&s.nic("rg", "nic1")).await;
    assert_eq!(g.state(), "Succeeded");
    assert_eq!(nic_ip(&g.json), "10.0.1.4");
}

#[tokio::test]
async fn static_address_is_claimed_and_skipped_by_dynamic_allocation() {
    let s = Server::start().await;
    let sid = subnet(&s, "10.0.1.0/24").await;
    let r = s.create_nic("rg", "fixed", &sid, Some("10.0.1.4")).await;
    assert_eq!(r.status, 201, "{r}");
    assert_eq!(nic_ip(&r.json), "10.0.1.4");
    assert_eq!(r.json["properties"]["ipConfigurations"][0]["properties"]["privateIPAllocationMethod"], "Static");
    let r = s.create_nic("rg", "fixed2", &sid, Some("10.0.1.200")).await;
    assert_eq!(nic_ip(&r.json), "10.0.1.200");
    // Dynamic allocation goes around the static ones.
    assert_eq!(nic_ip(&s.create_nic("rg", "dyn", &sid, None).await.json), "10.0.1.5");
    // The last usable address of a /24 is .254.
    assert_eq!(nic_ip(&s.create_nic("rg", "last", &sid, Some("10.0.1.254")).await.json), "10.0.1.254");
}

#[tokio::test]
async fn static_address_outside_the_subnet_is_rejected() {
    let s = Server::start().await;
    let sid = subnet(&s, "10.0.1.0/24").await;
    let r = s.create_nic("rg", "nic1", &sid, Some("10.0.2.10")).await;
    expect_error(&r, 400, "PrivateIPAddressNotInSubnet");
    expect_error(&s.get(&s.nic("rg", "nic1")).await, 404, "ResourceNotFound");
    let r = s.create_nic("rg", "nic1", &sid, Some("not-an-ip")).await;
    expect_error(&r, 400, "InvalidPrivateIPAddressFormat");
    expect_error(&s.get(&s.nic("rg", "nic1")).await, 404, "ResourceNotFound");
    // Nothing was taken: the first dynamic address is still .4.
    assert_eq!(nic_ip(&s.create_nic("rg", "nic2", &sid, None).await.json), "10.0.1.4");
}

#[tokio::test]
async fn static_address_in_the_reserved_range_is_rejected() {
    let s = Server::start().await;
    let sid = subnet(&s, "10.0.1.0/24").await;
    for ip in ["10.0.1.0", "10.0.1.1", "10.0.1.2", "10.0.1.3", "10.0.1.255"] {
        let r = s.create_nic("rg", "nic1", &sid, Some(ip)).await;
        expect_error(&r, 400, "PrivateIPAddressInReservedRange");
        expect_error(&s.get(&s.nic("rg", "nic1")).await, 404, "ResourceNotFound");
    }
}

#[tokio::test]
async fn static_address_in_use_is_rejected() {
    let s = Server::start().await;
    let sid = subnet(&s, "10.0.1.0/24").await;
    assert_eq!(nic_ip(&s.create_nic("rg", "first", &sid, None).await.json), "10.0.1.4");
    let r = s.create_nic("rg", "second", &sid, Some("10.0.1.4")).await;
    expect_error(&r, 400, "PrivateIPAddressInUse");
    expect_error(&s.get(&s.nic("rg", "second")).await, 404, "ResourceNotFound");
    // Two static NICs on one address.
    s.create_nic("rg", "third", &sid, Some("10.0.1.50")).await;
    expect_error(&s.create_nic("rg", "fourth", &sid, Some("10.0.1.50")).await, 400, "PrivateIPAddressInUse");
    // The holder is unchanged.
    assert_eq!(nic_ip(&s.get(&s.nic("rg", "third")).await.json), "10.0.1.50");
    assert_eq!(nic_ip(&s.get(&s.nic("rg", "first")).await.json), "10.0.1.4");
}

#[tokio::test]
async fn address_is_stable_across_a_re_put() {
    let s = Server::start().await;
    let sid = subnet(&s, "10.0.1.0/24").await;
    s.create_nic("rg", "a", &sid, None).await;
    assert_eq!(nic_ip(&s.create_nic("rg", "b", &sid, None).await.json), "10.0.1.5");
    s.delete_ok(&s.nic("rg", "a")).await;
    // .4 is free now, but b keeps .5.
    let r = s.create_nic("rg", "b", &sid, None).await;
    assert_eq!(r.status, 200, "{r}");
    assert_eq!(nic_ip(&r.json), "10.0.1.5");
    let mut tagged = nic_body(&sid, None);
    tagged["tags"] = json!({"x": "y"});
    let r = s.put_ok(&s.nic("rg", "b"), &tagged).await;
    assert_eq!(nic_ip(&r), "10.0.1.5");
    // Switching to Static on its current address keeps it.
    let r = s.put_ok(&s.nic("rg", "b"), &nic_body(&sid, Some("10.0.1.5"))).await;
    assert_eq!(nic_ip(&r), "10.0.1.5");
    // Moving to another static address frees the old one.
    let r = s.put_ok(&s.nic("rg", "b"), &nic_body(&sid, Some("10.0.1.77"))).await;
    assert_eq!(nic_ip(&r), "10.0.1.77");
    assert_eq!(nic_ip(&s.create_nic("rg", "c", &sid, None).await.json), "10.0.1.4");
    assert_eq!(nic_ip(&s.create_nic("rg", "d", &sid, None).await.json), "10.0.1.5");
}

#[tokio::test]
async fn address_is_released_on_delete_and_reused() {
    let s = Server::start().await;
    let sid = subnet(&s, "10.0.1.0/24").await;
    s.create_nic("rg", "a", &sid, None).await;
    s.create_nic("rg", "b", &sid, None).await;
    s.create_nic("rg", "c", &sid, None).await;
    s.delete_ok(&s.nic("rg", "b")).await;
    assert_eq!(nic_ip(&s.create_nic("rg", "d", &sid, None).await.json), "10.0.1.5", "the freed address is reused");
    assert_eq!(nic_ip(&s.create_nic("rg", "e", &sid, None).await.json), "10.0.1.7");
    // A static address is released too.
    s.create_nic("rg", "f", &sid, Some("10.0.1.100")).await;
    s.delete_ok(&s.nic("rg", "f")).await;
    assert_eq!(nic_ip(&s.create_nic("rg", "g", &sid, Some("10.0.1.100")).await.json), "10.0.1.100");
}

#[tokio::test]
async fn a_29_subnet_holds_exactly_three_nics() {
    let s = Server::start().await;
    let sid = subnet(&s, "10.0.1.0/29").await;
    let mut ips = Vec::new();
    for name in ["n1", "n2", "n3"] {
        let r = s.create_nic("rg", name, &sid, None).await;
        assert_eq!(r.status, 201, "{r}");
        ips.push(nic_ip(&r.json));
    }
    assert_eq!(ips, vec!["10.0.1.4", "10.0.1.5", "10.0.1.6"]);
    let r = s.create_nic("rg", "n4", &sid, None).await;
    expect_error(&r, 400, "SubnetIsFull");
    expect_error(&s.get(&s.nic("rg", "n4")).await, 404, "ResourceNotFound");
    // .7 is the broadcast address, not a free one.
    expect_error(&s.create_nic("rg", "n4", &sid, Some("10.0.1.7")).await, 400, "PrivateIPAddressInReservedRange");
    // Freeing one makes room for exactly one.
    s.delete_ok(&s.nic("rg", "n2")).await;
    assert_eq!(nic_ip(&s.create_nic("rg", "n4", &sid, None).await.json), "10.0.1.5");
    expect_error(&s.create_nic("rg", "n5", &sid, None).await, 400, "SubnetIsFull");
}

fn config_ids(subnet: &Value) -> Vec<String> {
    let mut out: Vec<String> = subnet["properties"]["ipConfigurations"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["id"].as_str())
        .map(str::to_string)
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn subnet_lists_the_ip_configurations_using_it() {
    let s = Server::start().await;
    let sid = subnet(&s, "10.0.1.0/24").await;
    s.create_nic("rg", "Nic-A", &sid, None).await;
    s.create_nic("rg", "nic-b", &sid, None).await;
    let subnet = s.get(&sid).await.json;
    let mut expected = vec![
        format!("{}/ipConfigurations/ipconfig1", s.nic("rg", "Nic-A")),
        format!("{}/ipConfigurations/ipconfig1", s.nic("rg", "nic-b")),
    ];
    expected.sort();
    assert_eq!(config_ids(&subnet), expected, "{subnet}");
    // The VNet's inline subnet shows them too.
    let vnet = s.get(&s.vnet("rg", "v1")).await.json;
    assert_eq!(config_ids(&vnet["properties"]["subnets"][0]), expected);
    s.delete_ok(&s.nic("rg", "Nic-A")).await;
    assert_eq!(
        config_ids(&s.get(&sid).await.json),
        vec![format!("{}/ipConfigurations/ipconfig1", s.nic("rg", "nic-b"))]
    );
}

#[tokio::test]
async fn nic_in_another_region_or_on_a_missing_subnet_is_rejected() {
    let s = Server::start().await;
    let sid = subnet(&s, "10.0.1.0/24").await;
    let mut body = nic_body(&sid, None);
    body["location"] = json!("eastus");
    expect_error(&s.put(&s.nic("rg", "far"), &body).await, 400, "InvalidResourceReference");
    expect_error(&s.get(&s.nic("rg", "far")).await, 404, "ResourceNotFound");
    let r = s.put(&s.nic("rg", "lost"), &nic_body(&s.subnet("rg", "v1", "ghost"), None)).await;
    expect_error(&r, 400, "InvalidResourceReference");
    expect_error(&s.get(&s.nic("rg", "lost")).await, 404, "ResourceNotFound");
    let r =
        s.put(&s.nic("rg", "none"), &json!({"location": "westeurope", "properties": {"ipConfigurations": []}})).await;
    expect_error(&r, 400, "NetworkInterfaceMustHaveAtLeastOneIpConfiguration");
    assert_eq!(nic_ip(&s.create_nic("rg", "ok", &sid, None).await.json), "10.0.1.4", "no address leaked");
}

/// A NIC may not take an address in a subnet whose VNet is being deleted: the delete would drop
/// the subnet's pool under it, leaving a NIC on a subnet that no longer exists and an address
/// the re-created subnet hands out a second time.
#[tokio::test]
async fn nic_cannot_join_a_subnet_whose_vnet_is_being_deleted() {
    let s = Server::start_with(&["--provisioning", "manual"]).await;
    s.create_rg("rg").await;
    let r = s.put(&s.vnet("rg", "v1"), &common::vnet_body(&["10.0.0.0/16"], &[("s1", "10.0.1.0/24")])).await;
    assert_eq!(r.status, 201, "{r}");
    s.step().await;
    let sid = s.subnet("rg", "v1", "s1");
    let r = s.delete(&s.vnet("rg", "v1")).await;
    assert_eq!(r.status, 202, "{r}");

    let r = s.put(&s.nic("rg", "late"), &nic_body(&sid, None)).await;
    assert!(matches!(r.status, 400 | 409), "a NIC joining a subnet being deleted must be refused: {r}");
    assert!(
        ["ReferencedResourceNotProvisioned", "AnotherOperationInProgress"].contains(&r.code()),
        "unexpected error code: {r}"
    );
    s.step().await;
    expect_error(&s.get(&s.vnet("rg", "v1")).await, 404, "ResourceNotFound");
    expect_error(&s.get(&s.nic("rg", "late")).await, 404, "ResourceNotFound");

    // The re-created subnet's addresses are all free, each handed out once.
    let r = s.put(&s.vnet("rg", "v1"), &common::vnet_body(&["10.0.0.0/16"], &[("s1", "10.0.1.0/24")])).await;
    assert_eq!(r.status, 201, "{r}");
    s.step().await;
    let r = s.put(&s.nic("rg", "fresh"), &nic_body(&sid, None)).await;
    assert_eq!(r.status, 201, "{r}");
    s.step().await;
    assert_eq!(nic_ip(&r.json), "10.0.1.4");
    let nics = s.get(&s.net("rg", "networkInterfaces")).await;
    let ips: Vec<String> = nics.json["value"].as_array().into_iter().flatten().map(nic_ip).collect();
    assert_eq!(ips, vec!["10.0.1.4".to_string()], "one NIC per address: {nics}");
}
