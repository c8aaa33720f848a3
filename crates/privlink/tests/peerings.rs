//! Microsoft.Network/virtualNetworks/virtualNetworkPeerings: one direction is Initiated, both
//! are Connected, deleting a side leaves the other Disconnected.

mod common;

use common::{expect_error, Server};
use serde_json::{json, Value};

async fn two_vnets(s: &Server) -> (String, String) {
    s.create_rg("rg").await;
    let a = s.create_vnet("rg", "vnet-a", &["10.1.0.0/16"], &[("s", "10.1.0.0/24")]).await;
    let b = s.create_vnet("rg", "vnet-b", &["10.2.0.0/16", "10.3.0.0/16"], &[]).await;
    (a["id"].as_str().unwrap_or_default().to_string(), b["id"].as_str().unwrap_or_default().to_string())
}

fn peering_to(remote: &str) -> Value {
    json!({ "properties": { "remoteVirtualNetwork": { "id": remote } } })
}

#[tokio::test]
async fn peering_both_directions_connects_both_sides() {
    let s = Server::start().await;
    let (a, b) = two_vnets(&s).await;
    let a_to_b = s.peering("rg", "vnet-a", "a-to-b");
    let b_to_a = s.peering("rg", "vnet-b", "b-to-a");

    let r = s.put(&a_to_b, &peering_to(&b)).await;
    assert_eq!(r.status, 201, "{r}");
    assert_eq!(s.wait_op(&r).await["status"], "Succeeded");
    let first = s.get(&a_to_b).await.json;
    assert_eq!(first["properties"]["peeringState"], "Initiated", "{first}");
    assert_eq!(first["properties"]["remoteVirtualNetwork"]["id"], b.as_str());
    assert_eq!(first["properties"]["remoteAddressSpace"]["addressPrefixes"], json!(["10.2.0.0/16", "10.3.0.0/16"]));
    assert_eq!(first["type"], "Microsoft.Network/virtualNetworks/virtualNetworkPeerings");

    s.put_ok(&b_to_a, &peering_to(&a)).await;
    let ab = s.get(&a_to_b).await.json;
    let ba = s.get(&b_to_a).await.json;
    assert_eq!(ab["properties"]["peeringState"], "Connected", "{ab}");
    assert_eq!(ba["properties"]["peeringState"], "Connected", "{ba}");
    assert_eq!(ab["properties"]["peeringSyncLevel"], "FullyInSync");
    assert_eq!(ba["properties"]["remoteAddressSpace"]["addressPrefixes"], json!(["10.1.0.0/16"]));
    assert_eq!(ab["properties"]["remoteAddressSpace"]["addressPrefixes"], json!(["10.2.0.0/16", "10.3.0.0/16"]));

    // Both VNets show their peering inline.
    let va = s.get(&s.vnet("rg", "vnet-a")).await.json;
    let inline = va["properties"]["virtualNetworkPeerings"].as_array().cloned().unwrap_or_default();
    assert_eq!(inline.len(), 1, "{va}");
    assert_eq!(inline[0]["name"], "a-to-b");
    assert_eq!(inline[0]["properties"]["peeringState"], "Connected");
    let list = s.get(&format!("{}/virtualNetworkPeerings", s.vnet("rg", "vnet-b"))).await;
    assert_eq!(common::names(&list.json), vec!["b-to-a".to_string()]);
}

#[tokio::test]
async fn overlapping_address_spaces_cannot_be_peered() {
    let s = Server::start().await;
    s.create_rg("rg").await;
    s.create_vnet("rg", "a", &["10.0.0.0/16"], &[]).await;
    let b = s.create_vnet("rg", "b", &["10.1.0.0/16", "10.0.128.0/24"], &[]).await;
    let path = s.peering("rg", "a", "a-to-b");
    let r = s.put(&path, &peering_to(b["id"].as_str().unwrap_or_default())).await;
    expect_error(&r, 400, "VnetAddressSpacesOverlap");
    expect_error(&s.get(&path).await, 404, "ResourceNotFound");
    assert_eq!(s.get(&s.vnet("rg", "a")).await.json["properties"]["virtualNetworkPeerings"], json!([]));

    // Peering with itself, or with a VNet that does not exist.
    let a_id = s.get(&s.vnet("rg", "a")).await.json["id"].as_str().unwrap_or_default().to_string();
    expect_error(&s.put(&path, &peering_to(&a_id)).await, 400, "CannotPeerVirtualNetworkWithItself");
    expect_error(&s.put(&path, &peering_to(&s.vnet("rg", "ghost"))).await, 400, "InvalidResourceReference");
    expect_error(&s.get(&path).await, 404, "ResourceNotFound");
}

#[tokio::test]
async fn deleting_one_side_leaves_the_other_disconnected() {
    let s = Server::start().await;
    let (a, b) = two_vnets(&s).await;
    let a_to_b = s.peering("rg", "vnet-a", "a-to-b");
    let b_to_a = s.peering("rg", "vnet-b", "b-to-a");
    s.put_ok(&a_to_b, &peering_to(&b)).await;
    s.put_ok(&b_to_a, &peering_to(&a)).await;
    assert_eq!(s.get(&a_to_b).await.json["properties"]["peeringState"], "Connected");

    s.delete_ok(&b_to_a).await;
    let left = s.get(&a_to_b).await;
    assert_eq!(left.status, 200, "{left}");
    assert_eq!(left.json["properties"]["peeringState"], "Disconnected", "{left}");
}

#[tokio::test]
async fn deleting_a_peered_vnet_disconnects_the_peering_to_it() {
    let s = Server::start().await;
    let (a, b) = two_vnets(&s).await;
    let a_to_b = s.peering("rg", "vnet-a", "a-to-b");
    s.put_ok(&a_to_b, &peering_to(&b)).await;
    s.put_ok(&s.peering("rg", "vnet-b", "b-to-a"), &peering_to(&a)).await;
    s.delete_ok(&s.vnet("rg", "vnet-b")).await;
    expect_error(&s.get(&s.peering("rg", "vnet-b", "b-to-a")).await, 404, "ParentResourceNotFound");
    assert_eq!(s.get(&a_to_b).await.json["properties"]["peeringState"], "Disconnected");
}

#[tokio::test]
async fn allow_virtual_network_access_defaults_to_true_and_is_stored() {
    let s = Server::start().await;
    let (a, b) = two_vnets(&s).await;
    let ab = s.put_ok(&s.peering("rg", "vnet-a", "a-to-b"), &peering_to(&b)).await;
    assert_eq!(ab["properties"]["allowVirtualNetworkAccess"], true, "{ab}");
    assert_eq!(ab["properties"]["allowForwardedTraffic"], false);
    assert_eq!(ab["properties"]["useRemoteGateways"], false);

    let body = json!({ "properties": {
        "remoteVirtualNetwork": { "id": a },
        "allowVirtualNetworkAccess": false,
        "allowForwardedTraffic": true,
    }});
    let ba = s.put_ok(&s.peering("rg", "vnet-b", "b-to-a"), &body).await;
    assert_eq!(ba["properties"]["allowVirtualNetworkAccess"], false, "{ba}");
    assert_eq!(ba["properties"]["allowForwardedTraffic"], true);

    let bad = json!({ "properties": { "remoteVirtualNetwork": { "id": a }, "allowVirtualNetworkAccess": "yes" }});
    expect_error(&s.put(&s.peering("rg", "vnet-b", "b-to-a"), &bad).await, 400, "InvalidRequestFormat");
    assert_eq!(
        s.get(&s.peering("rg", "vnet-b", "b-to-a")).await.json["properties"]["allowVirtualNetworkAccess"],
        false
    );
}
