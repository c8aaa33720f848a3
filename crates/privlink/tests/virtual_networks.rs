//! Microsoft.Network/virtualNetworks and their subnets: address spaces, subnet prefixes,
//! inline and child subnets, network policies, delegations and DHCP options.

mod common;

use common::{expect_error, names, nic_ip, vnet_body, Server, LOCATION};
use serde_json::{json, Value};

fn subnet_names(vnet: &Value) -> Vec<String> {
    let mut out: Vec<String> = vnet["properties"]["subnets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["name"].as_str())
        .map(str::to_string)
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn subnets_inline_and_as_child_resources() {
    let s = Server::start().await;
    s.create_rg("rg").await;
    let vnet = s.create_vnet("rg", "v1", &["10.0.0.0/16"], &[("inline", "10.0.1.0/24")]).await;
    assert_eq!(vnet["properties"]["addressSpace"]["addressPrefixes"], json!(["10.0.0.0/16"]));
    assert_eq!(subnet_names(&vnet), vec!["inline"]);
    let inline = &vnet["properties"]["subnets"][0];
    assert_eq!(inline["id"], s.subnet("rg", "v1", "inline").as_str());
    assert_eq!(inline["type"], "Microsoft.Network/virtualNetworks/subnets");
    assert_eq!(inline["properties"]["addressPrefix"], "10.0.1.0/24");
    assert_eq!(inline["properties"]["provisioningState"], "Succeeded");

    // The inline subnet is a child resource too.
    let g = s.get(&s.subnet("rg", "v1", "inline")).await;
    assert_eq!(g.status, 200, "{g}");
    assert_eq!(g.json["properties"]["addressPrefix"], "10.0.1.0/24");
    assert!(g.etag().is_some());

    // A child PUT adds a subnet, as a long-running operation.
    let r = s.put(&s.subnet("rg", "v1", "child"), &json!({"properties": {"addressPrefix": "10.0.2.0/24"}})).await;
    assert_eq!(r.status, 201, "{r}");
    assert_eq!(r.state(), "Updating");
    assert!(r.header("azure-asyncoperation").is_some());
    assert_eq!(s.wait_op(&r).await["status"], "Succeeded");
    let vnet = s.get(&s.vnet("rg", "v1")).await.json;
    assert_eq!(subnet_names(&vnet), vec!["child", "inline"]);
    let list = s.get(&format!("{}/subnets", s.vnet("rg", "v1"))).await;
    assert_eq!(list.status, 200, "{list}");
    let mut listed = names(&list.json);
    listed.sort();
    assert_eq!(listed, vec!["child", "inline"]);

    // Updating a child subnet: 200.
    let r = s
        .put(
            &s.subnet("rg", "v1", "child"),
            &json!({"properties": {"addressPrefix": "10.0.2.0/24", "privateEndpointNetworkPolicies": "Enabled"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{r}");
    s.wait_op(&r).await;

    // Deleting a child subnet.
    s.delete_ok(&s.subnet("rg", "v1", "child")).await;
    assert_eq!(subnet_names(&s.get(&s.vnet("rg", "v1")).await.json), vec!["inline"]);
}

#[tokio::test]
async fn subnet_outside_the_address_space_is_rejected() {
    let s = Server::start().await;
    s.create_rg("rg").await;
    // Inline, on creation: no VNet is created.
    let r = s.put(&s.vnet("rg", "bad"), &vnet_body(&["10.0.0.0/16"], &[("s", "10.1.0.0/24")])).await;
    expect_error(&r, 400, "NetcfgSubnetRangeOutsideVnet");
    expect_error(&s.get(&s.vnet("rg", "bad")).await, 404, "ResourceNotFound");

    // As a child: no subnet is created.
    s.create_vnet("rg", "v1", &["10.0.0.0/16"], &[]).await;
    let r = s.put(&s.subnet("rg", "v1", "s"), &json!({"properties": {"addressPrefix": "192.168.0.0/24"}})).await;
    expect_error(&r, 400, "NetcfgSubnetRangeOutsideVnet");
    expect_error(&s.get(&s.subnet("rg", "v1", "s")).await, 404, "ResourceNotFound");
    // Partly outside counts as outside.
    let r = s.put(&s.subnet("rg", "v1", "s"), &json!({"properties": {"addressPrefix": "10.0.0.0/15"}})).await;
    expect_error(&r, 400, "NetcfgSubnetRangeOutsideVnet");
    assert_eq!(subnet_names(&s.get(&s.vnet("rg", "v1")).await.json), Vec::<String>::new());
}

#[tokio::test]
async fn overlapping_subnets_are_rejected() {
    let s = Server::start().await;
    s.create_rg("rg").await;
    let r = s
        .put(&s.vnet("rg", "bad"), &vnet_body(&["10.0.0.0/16"], &[("a", "10.0.0.0/24"), ("b", "10.0.0.128/25")]))
        .await;
    expect_error(&r, 400, "NetcfgSubnetRangesOverlap");
    expect_error(&s.get(&s.vnet("rg", "bad")).await, 404, "ResourceNotFound");

    let before = s.create_vnet("rg", "v1", &["10.0.0.0/16"], &[("a", "10.0.1.0/24")]).await;
    let r = s.put(&s.subnet("rg", "v1", "b"), &json!({"properties": {"addressPrefix": "10.0.0.0/23"}})).await;
    expect_error(&r, 400, "NetcfgSubnetRangesOverlap");
    expect_error(&s.get(&s.subnet("rg", "v1", "b")).await, 404, "ResourceNotFound");
    assert_eq!(s.get(&s.vnet("rg", "v1")).await.json, before, "the VNet is unchanged");
}

#[tokio::test]
async fn subnets_smaller_than_a_29_are_rejected() {
    let s = Server::start().await;
    s.create_rg("rg").await;
    s.create_vnet("rg", "v1", &["10.0.0.0/16"], &[]).await;
    for prefix in ["10.0.0.0/30", "10.0.0.0/32"] {
        let r = s.put(&s.subnet("rg", "v1", "tiny"), &json!({"properties": {"addressPrefix": prefix}})).await;
        expect_error(&r, 400, "InvalidSubnetPrefixLength");
    }
    expect_error(&s.get(&s.subnet("rg", "v1", "tiny")).await, 404, "ResourceNotFound");
    let r = s.put(&s.vnet("rg", "v2"), &vnet_body(&["10.1.0.0/16"], &[("tiny", "10.1.0.0/30")])).await;
    expect_error(&r, 400, "InvalidSubnetPrefixLength");
    expect_error(&s.get(&s.vnet("rg", "v2")).await, 404, "ResourceNotFound");
    // A /29 is the smallest allowed.
    s.put_ok(&s.subnet("rg", "v1", "small"), &json!({"properties": {"addressPrefix": "10.0.0.0/29"}})).await;
}

#[tokio::test]
async fn dual_stack_vnet_takes_ipv6_64_subnets_only() {
    let s = Server::start().await;
    s.create_rg("rg").await;
    let space = ["10.0.0.0/16", "fd00:db8:deca::/48"];
    let vnet = s.create_vnet("rg", "v1", &space, &[]).await;
    assert_eq!(vnet["properties"]["addressSpace"]["addressPrefixes"], json!(space));
    let subnet = s
        .put_ok(
            &s.subnet("rg", "v1", "dual"),
            &json!({"properties": {"addressPrefixes": ["10.0.1.0/24", "fd00:db8:deca:1::/64"]}}),
        )
        .await;
    assert_eq!(subnet["properties"]["addressPrefixes"], json!(["10.0.1.0/24", "fd00:db8:deca:1::/64"]));

    let r = s
        .put(
            &s.subnet("rg", "v1", "v6big"),
            &json!({"properties": {"addressPrefixes": ["10.0.2.0/24", "fd00:db8:deca:2::/80"]}}),
        )
        .await;
    expect_error(&r, 400, "InvalidSubnetPrefixLength");
    expect_error(&s.get(&s.subnet("rg", "v1", "v6big")).await, 404, "ResourceNotFound");
    // An IPv6 /64 outside the VNet's IPv6 space.
    let r = s
        .put(
            &s.subnet("rg", "v1", "v6out"),
            &json!({"properties": {"addressPrefixes": ["10.0.3.0/24", "fd00:aaaa:0:1::/64"]}}),
        )
        .await;
    expect_error(&r, 400, "NetcfgSubnetRangeOutsideVnet");

    // An IPv4 address for a NIC in the dual-stack subnet still starts at .4.
    let sid = s.subnet("rg", "v1", "dual");
    let nic = s.create_nic("rg", "nic1", &sid, None).await;
    assert_eq!(nic_ip(&nic.json), "10.0.1.4");
    // An IPv6 configuration takes the first usable IPv6 address.
    let body = json!({"location": LOCATION, "properties": {"ipConfigurations": [
        {"name": "v4", "properties": {"subnet": {"id": sid}, "primary": true}},
        {"name": "v6", "properties": {"subnet": {"id": sid}, "privateIPAddressVersion": "IPv6"}},
    ]}});
    let nic = s.put_ok(&s.nic("rg", "nic2"), &body).await;
    let configs = nic["properties"]["ipConfigurations"].as_array().cloned().unwrap_or_default();
    let ip_of = |name: &str| {
        configs
            .iter()
            .find(|c| c["name"] == name)
            .map(|c| c["properties"]["privateIPAddress"].clone())
            .unwrap_or_default()
    };
    assert_eq!(ip_of("v4"), "10.0.1.5", "{nic}");
    assert_eq!(ip_of("v6"), "fd00:db8:deca:1::4", "{nic}");
}

#[tokio::test]
async fn address_space_must_be_cidr() {
    let s = Server::start().await;
    s.create_rg("rg").await;
    let r = s.put(&s.vnet("rg", "v1"), &vnet_body(&["10.0.0.1/16"], &[])).await;
    expect_error(&r, 400, "InvalidCIDRNotation");
    assert!(
        r.json["error"]["message"].as_str().unwrap_or("").contains("10.0.0.0/16"),
        "the message suggests the fix: {r}"
    );
    expect_error(&s.put(&s.vnet("rg", "v1"), &vnet_body(&["abc"], &[])).await, 400, "InvalidAddressPrefixFormat");
    expect_error(&s.put(&s.vnet("rg", "v1"), &vnet_body(&["10.0.0.0"], &[])).await, 400, "InvalidAddressPrefixFormat");
    expect_error(
        &s.put(&s.vnet("rg", "v1"), &vnet_body(&["10.0.0.0/33"], &[])).await,
        400,
        "InvalidAddressPrefixFormat",
    );
    expect_error(&s.put(&s.vnet("rg", "v1"), &vnet_body(&[], &[])).await, 400, "VirtualNetworkAddressSpaceMissing");
    expect_error(
        &s.put(&s.vnet("rg", "v1"), &vnet_body(&["10.0.0.0/16", "10.0.128.0/17"], &[])).await,
        400,
        "VnetAddressSpacesOverlap",
    );
    expect_error(&s.get(&s.vnet("rg", "v1")).await, 404, "ResourceNotFound");
    // A subnet prefix with host bits set.
    s.create_vnet("rg", "v2", &["10.0.0.0/16"], &[]).await;
    let r = s.put(&s.subnet("rg", "v2", "s"), &json!({"properties": {"addressPrefix": "10.0.1.7/24"}})).await;
    expect_error(&r, 400, "InvalidCIDRNotation");
    expect_error(&s.get(&s.subnet("rg", "v2", "s")).await, 404, "ResourceNotFound");
}

#[tokio::test]
async fn vnet_put_omitting_a_subnet_deletes_it() {
    let s = Server::start().await;
    s.create_rg("rg").await;
    s.create_vnet("rg", "v1", &["10.0.0.0/16"], &[("keep", "10.0.1.0/24"), ("drop", "10.0.2.0/24")]).await;
    let vnet = s.create_vnet("rg", "v1", &["10.0.0.0/16"], &[("keep", "10.0.1.0/24")]).await;
    assert_eq!(subnet_names(&vnet), vec!["keep"]);
    expect_error(&s.get(&s.subnet("rg", "v1", "drop")).await, 404, "ResourceNotFound");
    // Its range is free again.
    s.put_ok(&s.subnet("rg", "v1", "again"), &json!({"properties": {"addressPrefix": "10.0.2.0/24"}})).await;
}

#[tokio::test]
async fn vnet_put_omitting_a_subnet_in_use_is_refused() {
    let s = Server::start().await;
    s.create_rg("rg").await;
    s.create_vnet("rg", "v1", &["10.0.0.0/16"], &[("used", "10.0.1.0/24"), ("other", "10.0.2.0/24")]).await;
    let nic = s.create_nic("rg", "nic1", &s.subnet("rg", "v1", "used"), None).await;
    assert_eq!(nic.status, 201, "{nic}");
    let before = s.get(&s.vnet("rg", "v1")).await.json;

    let r = s.put(&s.vnet("rg", "v1"), &vnet_body(&["10.0.0.0/16"], &[("other", "10.0.2.0/24")])).await;
    expect_error(&r, 400, "InUseSubnetCannotBeDeleted");
    let after = s.get(&s.vnet("rg", "v1")).await.json;
    assert_eq!(after, before, "nothing changed: same ETag, both subnets");
    assert_eq!(subnet_names(&after), vec!["other", "used"]);
    // Deleting the subnet directly is refused the same way.
    expect_error(&s.delete(&s.subnet("rg", "v1", "used")).await, 400, "InUseSubnetCannotBeDeleted");
    assert_eq!(s.get(&s.subnet("rg", "v1", "used")).await.status, 200);
    // So is deleting the VNet.
    expect_error(&s.delete(&s.vnet("rg", "v1")).await, 400, "InUseSubnetCannotBeDeleted");
    assert_eq!(s.get(&s.vnet("rg", "v1")).await.json, before);
    // Once the NIC is gone, the subnet may go.
    s.delete_ok(&s.nic("rg", "nic1")).await;
    let vnet = s.create_vnet("rg", "v1", &["10.0.0.0/16"], &[("other", "10.0.2.0/24")]).await;
    assert_eq!(subnet_names(&vnet), vec!["other"]);
}

#[tokio::test]
async fn private_endpoint_network_policies_are_stored_and_validated() {
    let s = Server::start().await;
    s.create_rg("rg").await;
    s.create_vnet("rg", "v1", &["10.0.0.0/16"], &[("default", "10.0.1.0/24")]).await;
    let g = s.get(&s.subnet("rg", "v1", "default")).await;
    assert_eq!(g.json["properties"]["privateEndpointNetworkPolicies"], "Disabled", "the default");
    assert_eq!(g.json["properties"]["privateLinkServiceNetworkPolicies"], "Enabled", "the default");

    for value in ["Enabled", "NetworkSecurityGroupEnabled", "RouteTableEnabled", "Disabled"] {
        let sub = s
            .put_ok(
                &s.subnet("rg", "v1", "pe"),
                &json!({"properties": {"addressPrefix": "10.0.2.0/24", "privateEndpointNetworkPolicies": value}}),
            )
            .await;
        assert_eq!(sub["properties"]["privateEndpointNetworkPolicies"], value);
    }
    // Matched case-insensitively, stored canonically.
    let sub = s
        .put_ok(
            &s.subnet("rg", "v1", "pe"),
            &json!({"properties": {"addressPrefix": "10.0.2.0/24", "privateEndpointNetworkPolicies": "enabled"}}),
        )
        .await;
    assert_eq!(sub["properties"]["privateEndpointNetworkPolicies"], "Enabled");

    let r = s
        .put(
            &s.subnet("rg", "v1", "pe"),
            &json!({"properties": {"addressPrefix": "10.0.2.0/24", "privateEndpointNetworkPolicies": "Sometimes"}}),
        )
        .await;
    assert_eq!(r.status, 400, "{r}");
    assert_eq!(r.code(), "InvalidRequestFormat", "{r}");
    assert_eq!(
        s.get(&s.subnet("rg", "v1", "pe")).await.json["properties"]["privateEndpointNetworkPolicies"],
        "Enabled"
    );
    let r = s
        .put(
            &s.subnet("rg", "v1", "new"),
            &json!({"properties": {"addressPrefix": "10.0.3.0/24", "privateLinkServiceNetworkPolicies": "Maybe"}}),
        )
        .await;
    assert_eq!(r.status, 400, "{r}");
    expect_error(&s.get(&s.subnet("rg", "v1", "new")).await, 404, "ResourceNotFound");
}

#[tokio::test]
async fn delegations_are_stored_and_validated() {
    let s = Server::start().await;
    s.create_rg("rg").await;
    s.create_vnet("rg", "v1", &["10.0.0.0/16"], &[]).await;
    let path = s.subnet("rg", "v1", "web");
    let sub = s
        .put_ok(
            &path,
            &json!({"properties": {"addressPrefix": "10.0.1.0/24", "delegations": [
                {"name": "farm", "properties": {"serviceName": "Microsoft.Web/serverFarms"}}
            ]}}),
        )
        .await;
    let delegations = sub["properties"]["delegations"].as_array().cloned().unwrap_or_default();
    assert_eq!(delegations.len(), 1, "{sub}");
    assert_eq!(delegations[0]["name"], "farm");
    assert_eq!(delegations[0]["properties"]["serviceName"], "Microsoft.Web/serverFarms");
    assert_eq!(delegations[0]["id"], format!("{path}/delegations/farm").as_str());
    assert_eq!(delegations[0]["type"], "Microsoft.Network/virtualNetworks/subnets/delegations");

    let before = s.get(&path).await.json;
    let r = s
        .put(
            &path,
            &json!({"properties": {"addressPrefix": "10.0.1.0/24", "delegations": [
                {"name": "bad", "properties": {"serviceName": "NotAService"}}
            ]}}),
        )
        .await;
    expect_error(&r, 400, "InvalidServiceNameOnDelegation");
    let r = s
        .put(
            &path,
            &json!({"properties": {"addressPrefix": "10.0.1.0/24", "delegations": [
                {"name": "d", "properties": {"serviceName": "Microsoft.Web/serverFarms"}},
                {"name": "D", "properties": {"serviceName": "Microsoft.Sql/managedInstances"}}
            ]}}),
        )
        .await;
    expect_error(&r, 400, "DuplicateResourceName");
    assert_eq!(s.get(&path).await.json, before, "rejected updates change nothing");

    // An update without delegations removes them.
    let sub = s.put_ok(&path, &json!({"properties": {"addressPrefix": "10.0.1.0/24"}})).await;
    assert_eq!(sub["properties"]["delegations"], json!([]));
}

#[tokio::test]
async fn dhcp_dns_servers_are_stored_and_validated() {
    let s = Server::start().await;
    s.create_rg("rg").await;
    let mut body = vnet_body(&["10.0.0.0/16"], &[]);
    body["properties"]["dhcpOptions"] = json!({"dnsServers": ["10.0.0.4", "168.63.129.16"]});
    let vnet = s.put_ok(&s.vnet("rg", "v1"), &body).await;
    assert_eq!(vnet["properties"]["dhcpOptions"]["dnsServers"], json!(["10.0.0.4", "168.63.129.16"]));

    let before = vnet;
    let mut bad = vnet_body(&["10.0.0.0/16"], &[]);
    bad["properties"]["dhcpOptions"] = json!({"dnsServers": ["10.0.0.4", "not-an-ip"]});
    expect_error(&s.put(&s.vnet("rg", "v1"), &bad).await, 400, "InvalidDnsServerAddress");
    assert_eq!(s.get(&s.vnet("rg", "v1")).await.json, before);
    expect_error(&s.put(&s.vnet("rg", "v2"), &bad).await, 400, "InvalidDnsServerAddress");
    expect_error(&s.get(&s.vnet("rg", "v2")).await, 404, "ResourceNotFound");
    let mut wrong_type = vnet_body(&["10.0.0.0/16"], &[]);
    wrong_type["properties"]["dhcpOptions"] = json!({"dnsServers": "10.0.0.4"});
    expect_error(&s.put(&s.vnet("rg", "v2"), &wrong_type).await, 400, "InvalidRequestFormat");
}

#[tokio::test]
async fn subnet_of_a_missing_vnet_is_parent_resource_not_found() {
    let s = Server::start().await;
    s.create_rg("rg").await;
    let path = s.subnet("rg", "ghost", "s1");
    let r = s.put(&path, &json!({"properties": {"addressPrefix": "10.0.1.0/24"}})).await;
    expect_error(&r, 404, "ParentResourceNotFound");
    expect_error(&s.get(&path).await, 404, "ParentResourceNotFound");
    expect_error(&s.get(&s.vnet("rg", "ghost")).await, 404, "ResourceNotFound");
    expect_error(&s.get(&format!("{}/subnets", s.vnet("rg", "ghost"))).await, 404, "ResourceNotFound");
}

#[tokio::test]
async fn vnet_tags_and_location_round_trip() {
    let s = Server::start().await;
    s.create_rg("rg").await;
    let mut body = vnet_body(&["10.0.0.0/16"], &[]);
    body["tags"] = json!({"team": "net"});
    body["location"] = json!("West Europe");
    let vnet = s.put_ok(&s.vnet("rg", "v1"), &body).await;
    assert_eq!(vnet["location"], LOCATION);
    assert_eq!(vnet["tags"], json!({"team": "net"}));
    let r = s.patch(&s.vnet("rg", "v1"), &json!({"tags": {"team": "platform"}})).await;
    assert_eq!(r.status, 200, "{r}");
    assert_eq!(s.get(&s.vnet("rg", "v1")).await.json["tags"], json!({"team": "platform"}));
    // Moving a VNet to another region is refused.
    let mut moved = vnet_body(&["10.0.0.0/16"], &[]);
    moved["location"] = json!("eastus");
    expect_error(&s.put(&s.vnet("rg", "v1"), &moved).await, 409, "InvalidResourceLocation");
}

#[tokio::test]
async fn subnet_prefix_in_use_cannot_change() {
    let s = Server::start().await;
    s.create_rg("rg").await;
    s.create_vnet("rg", "v1", &["10.0.0.0/16"], &[("s1", "10.0.1.0/24")]).await;
    let sid = s.subnet("rg", "v1", "s1");
    s.create_nic("rg", "nic1", &sid, None).await;
    let before = s.get(&sid).await.json;
    let r = s.put(&sid, &json!({"properties": {"addressPrefix": "10.0.2.0/24"}})).await;
    expect_error(&r, 400, "InUseSubnetCannotBeUpdated");
    let r = s.put(&s.vnet("rg", "v1"), &vnet_body(&["10.0.0.0/16"], &[("s1", "10.0.3.0/24")])).await;
    expect_error(&r, 400, "InUseSubnetCannotBeUpdated");
    assert_eq!(s.get(&sid).await.json, before, "nothing changed");
    // The same prefix is fine (other settings change), and the NIC keeps its address.
    s.put_ok(
        &sid,
        &json!({"properties": {"addressPrefix": "10.0.1.0/24", "privateEndpointNetworkPolicies": "Enabled"}}),
    )
    .await;
    assert_eq!(nic_ip(&s.get(&s.nic("rg", "nic1")).await.json), "10.0.1.4");
    assert_eq!(nic_ip(&s.create_nic("rg", "nic2", &sid, None).await.json), "10.0.1.5", "the pool kept its allocations");
}
