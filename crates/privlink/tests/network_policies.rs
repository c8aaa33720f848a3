//! The legacy subnet network-policy rule for private endpoints, an opt-in setting
//! (`legacy-private-endpoint-network-policies = true` in the config file).

mod common;

use common::*;
use serde_json::json;

async fn storage_target(s: &Server) -> String {
    let id = format!("{}/providers/Microsoft.Storage/storageAccounts/plcheck1", s.rg("rg"));
    let r = s
        .put(
            &format!("{id}?api-version=2023-01-01"),
            &json!({"location": "westeurope", "kind": "StorageV2", "sku": {"name": "Standard_LRS"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json);
    id
}

fn endpoint(subnet: &str, target: &str) -> serde_json::Value {
    json!({"location": "westeurope", "properties": {"subnet": {"id": subnet}, "privateLinkServiceConnections": [
        {"name": "c", "properties": {"privateLinkServiceId": target, "groupIds": ["blob"]}}]}})
}

#[tokio::test]
async fn legacy_rule_refuses_endpoints_in_subnets_with_policies_enabled() {
    let config = std::env::temp_dir().join(format!("privlink-policies-{}.toml", uuid::Uuid::new_v4().simple()));
    std::fs::write(&config, "legacy-private-endpoint-network-policies = true\n").expect("config");
    let s = Server::start_with(&["--config", config.to_str().expect("utf-8 path")]).await;
    s.create_rg("rg").await;
    s.put_ok(&s.vnet("rg", "v"), &json!({"location": "westeurope", "properties": {"addressSpace": {"addressPrefixes": ["10.5.0.0/16"]}, "subnets": [
        {"name": "on", "properties": {"addressPrefix": "10.5.0.0/24", "privateEndpointNetworkPolicies": "Enabled"}},
        {"name": "off", "properties": {"addressPrefix": "10.5.1.0/24"}}]}})).await;
    let target = storage_target(&s).await;

    let refused = s.put(&s.net("rg", "privateEndpoints/pe-on"), &endpoint(&s.subnet("rg", "v", "on"), &target)).await;
    expect_error(&refused, 400, "PrivateEndpointCannotBeCreatedInSubnetThatHasNetworkPoliciesEnabled");
    assert_eq!(s.get(&s.net("rg", "privateEndpoints/pe-on")).await.status, 404, "nothing stored");

    s.put_ok(&s.net("rg", "privateEndpoints/pe-off"), &endpoint(&s.subnet("rg", "v", "off"), &target)).await;
    let enable = s
        .put(
            &s.subnet("rg", "v", "off"),
            &json!({"properties": {"addressPrefix": "10.5.1.0/24", "privateEndpointNetworkPolicies": "Enabled"}}),
        )
        .await;
    expect_error(&enable, 400, "PrivateEndpointNetworkPoliciesCannotBeEnabledOnPrivateEndpointSubnet");
    let subnet = s.get(&s.subnet("rg", "v", "off")).await;
    assert_eq!(subnet.json["properties"]["privateEndpointNetworkPolicies"], "Disabled", "unchanged");
    let _ = std::fs::remove_file(&config);
}

#[tokio::test]
async fn by_default_endpoints_may_use_subnets_with_policies_enabled() {
    let s = Server::start().await;
    s.create_rg("rg").await;
    s.put_ok(&s.vnet("rg", "v"), &json!({"location": "westeurope", "properties": {"addressSpace": {"addressPrefixes": ["10.5.0.0/16"]}, "subnets": [
        {"name": "on", "properties": {"addressPrefix": "10.5.0.0/24", "privateEndpointNetworkPolicies": "NetworkSecurityGroupEnabled"}}]}})).await;
    let target = storage_target(&s).await;
    let pe = s.put_ok(&s.net("rg", "privateEndpoints/pe-on"), &endpoint(&s.subnet("rg", "v", "on"), &target)).await;
    assert_eq!(pe["properties"]["customDnsConfigs"][0]["ipAddresses"][0], "10.5.0.4");
}
