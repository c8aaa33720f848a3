//! Microsoft.Network/networkSecurityGroups and their security rules.

mod common;

use common::{expect_error, names, vnet_body, Server, LOCATION};
use serde_json::{json, Value};

fn rule(name: &str, priority: i64, direction: &str) -> Value {
    json!({ "name": name, "properties": rule_props(priority, direction) })
}

fn rule_props(priority: i64, direction: &str) -> Value {
    json!({
        "protocol": "Tcp", "access": "Allow", "direction": direction, "priority": priority,
        "sourcePortRange": "*", "destinationPortRange": "443",
        "sourceAddressPrefix": "VirtualNetwork", "destinationAddressPrefix": "10.0.0.0/24",
    })
}

fn nsg_body(rules: &[Value]) -> Value {
    json!({ "location": LOCATION, "properties": { "securityRules": rules } })
}

fn rule_names(nsg: &Value) -> Vec<String> {
    let mut out: Vec<String> = nsg["properties"]["securityRules"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["name"].as_str())
        .map(str::to_string)
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn rules_inline_and_as_child_resources() {
    let s = Server::start().await;
    s.create_rg("rg").await;
    let path = s.nsg("rg", "nsg1");
    let nsg = s.put_ok(&path, &nsg_body(&[rule("allow-https", 100, "Inbound"), rule("out", 100, "Outbound")])).await;
    assert_eq!(nsg["type"], "Microsoft.Network/networkSecurityGroups");
    assert_eq!(rule_names(&nsg), vec!["allow-https", "out"]);
    let inline = nsg["properties"]["securityRules"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["name"] == "allow-https")
        .cloned()
        .unwrap_or_default();
    assert_eq!(inline["id"], format!("{path}/securityRules/allow-https").as_str());
    assert_eq!(inline["properties"]["priority"], 100);
    assert_eq!(inline["properties"]["destinationPortRange"], "443");
    assert_eq!(inline["properties"]["access"], "Allow");

    // The inline rule is a child resource.
    let g = s.get(&format!("{path}/securityRules/allow-https")).await;
    assert_eq!(g.status, 200, "{g}");
    assert_eq!(g.json["type"], "Microsoft.Network/networkSecurityGroups/securityRules");
    assert_eq!(g.json["properties"]["direction"], "Inbound");

    // A child PUT adds one.
    let child =
        s.put_ok(&format!("{path}/securityRules/ssh"), &json!({"properties": rule_props(200, "Inbound")})).await;
    assert_eq!(child["properties"]["priority"], 200);
    assert_eq!(rule_names(&s.get(&path).await.json), vec!["allow-https", "out", "ssh"]);
    let list = s.get(&format!("{path}/securityRules")).await;
    assert_eq!(list.status, 200, "{list}");
    assert_eq!(names(&list.json).len(), 3);

    // An NSG PUT's rules are the whole set.
    let nsg = s.put_ok(&path, &nsg_body(&[rule("only", 300, "Inbound")])).await;
    assert_eq!(rule_names(&nsg), vec!["only"]);
    expect_error(&s.get(&format!("{path}/securityRules/ssh")).await, 404, "ResourceNotFound");

    // Deleting a child rule.
    s.delete_ok(&format!("{path}/securityRules/only")).await;
    assert_eq!(rule_names(&s.get(&path).await.json), Vec::<String>::new());
}

#[tokio::test]
async fn default_security_rules_are_present() {
    let s = Server::start().await;
    s.create_rg("rg").await;
    let nsg = s.put_ok(&s.nsg("rg", "nsg1"), &json!({"location": LOCATION})).await;
    let defaults = nsg["properties"]["defaultSecurityRules"].as_array().cloned().unwrap_or_default();
    let mut found: Vec<(String, i64, String)> = defaults
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap_or_default().to_string(),
                r["properties"]["priority"].as_i64().unwrap_or_default(),
                r["properties"]["direction"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    found.sort();
    let mut expected = vec![
        ("AllowVnetInBound".to_string(), 65000, "Inbound".to_string()),
        ("AllowAzureLoadBalancerInBound".to_string(), 65001, "Inbound".to_string()),
        ("DenyAllInBound".to_string(), 65500, "Inbound".to_string()),
        ("AllowVnetOutBound".to_string(), 65000, "Outbound".to_string()),
        ("AllowInternetOutBound".to_string(), 65001, "Outbound".to_string()),
        ("DenyAllOutBound".to_string(), 65500, "Outbound".to_string()),
    ];
    expected.sort();
    assert_eq!(found, expected, "{nsg}");
    assert_eq!(nsg["properties"]["securityRules"], json!([]));
    let deny = defaults.iter().find(|r| r["name"] == "DenyAllInBound").cloned().unwrap_or_default();
    assert_eq!(deny["properties"]["access"], "Deny");
    assert_eq!(deny["id"], format!("{}/defaultSecurityRules/DenyAllInBound", s.nsg("rg", "nsg1")).as_str());
}

#[tokio::test]
async fn invalid_rules_are_rejected_and_nothing_is_stored() {
    let s = Server::start().await;
    s.create_rg("rg").await;
    let path = s.nsg("rg", "nsg1");
    let with = |patch: Value| {
        let mut props = rule_props(100, "Inbound");
        if let (Some(p), Some(extra)) = (props.as_object_mut(), patch.as_object()) {
            for (k, v) in extra {
                p.insert(k.clone(), v.clone());
            }
        }
        json!({ "name": "r1", "properties": props })
    };
    let cases = [
        (with(json!({"priority": 99})), "SecurityRuleInvalidPriority"),
        (with(json!({"priority": 4097})), "SecurityRuleInvalidPriority"),
        (with(json!({"destinationPortRange": "70000"})), "SecurityRuleInvalidPortRange"),
        (with(json!({"destinationPortRange": "443-80"})), "SecurityRuleInvalidPortRange"),
        (with(json!({"sourceAddressPrefix": "10.0.0.0/99"})), "SecurityRuleInvalidAddressPrefix"),
        (with(json!({"sourceAddressPrefix": "NotAServiceTag"})), "SecurityRuleInvalidAddressPrefix"),
    ];
    for (bad, code) in &cases {
        let r = s.put(&path, &nsg_body(std::slice::from_ref(bad))).await;
        expect_error(&r, 400, code);
        expect_error(&s.get(&path).await, 404, "ResourceNotFound");
    }
    // Two rules with the same priority and direction.
    let r = s.put(&path, &nsg_body(&[rule("a", 150, "Inbound"), rule("b", 150, "Inbound")])).await;
    expect_error(&r, 400, "SecurityRuleConflict");
    expect_error(&s.get(&path).await, 404, "ResourceNotFound");
    // Same priority in different directions is fine.
    let before = s.put_ok(&path, &nsg_body(&[rule("a", 150, "Inbound"), rule("b", 150, "Outbound")])).await;

    // The same checks apply to child rules, and a child rule conflicts with its siblings.
    let child = format!("{path}/securityRules/c");
    let r = s.put(&child, &json!({"properties": rule_props(150, "Inbound")})).await;
    expect_error(&r, 400, "SecurityRuleConflict");
    let mut props = rule_props(160, "Inbound");
    props["priority"] = json!(99);
    expect_error(&s.put(&child, &json!({"properties": props})).await, 400, "SecurityRuleInvalidPriority");
    let mut props = rule_props(160, "Inbound");
    props["sourcePortRange"] = json!("http");
    expect_error(&s.put(&child, &json!({"properties": props})).await, 400, "SecurityRuleInvalidPortRange");
    let mut props = rule_props(160, "Inbound");
    props["destinationAddressPrefix"] = json!("300.1.1.1");
    expect_error(&s.put(&child, &json!({"properties": props})).await, 400, "SecurityRuleInvalidAddressPrefix");
    expect_error(&s.get(&child).await, 404, "ResourceNotFound");
    // An invalid update of an existing NSG changes nothing.
    let r = s.put(&path, &nsg_body(&[with(json!({"priority": 99}))])).await;
    expect_error(&r, 400, "SecurityRuleInvalidPriority");
    assert_eq!(s.get(&path).await.json, before);
}

#[tokio::test]
async fn subnet_references_an_nsg_and_an_nsg_in_use_cannot_be_deleted() {
    let s = Server::start().await;
    s.create_rg("rg").await;
    let nsg = s.put_ok(&s.nsg("rg", "nsg1"), &nsg_body(&[rule("a", 100, "Inbound")])).await;
    let nsg_id = nsg["id"].as_str().unwrap_or_default().to_string();
    s.create_vnet("rg", "v1", &["10.0.0.0/16"], &[]).await;
    let subnet = s
        .put_ok(
            &s.subnet("rg", "v1", "protected"),
            &json!({"properties": {"addressPrefix": "10.0.1.0/24", "networkSecurityGroup": {"id": nsg_id}}}),
        )
        .await;
    assert_eq!(subnet["properties"]["networkSecurityGroup"]["id"], nsg_id.as_str());
    // The NSG lists the subnet that uses it.
    let nsg = s.get(&s.nsg("rg", "nsg1")).await.json;
    assert_eq!(nsg["properties"]["subnets"], json!([{"id": s.subnet("rg", "v1", "protected")}]), "{nsg}");

    let r = s.delete(&s.nsg("rg", "nsg1")).await;
    expect_error(&r, 400, "InUseNetworkSecurityGroupCannotBeDeleted");
    let still = s.get(&s.nsg("rg", "nsg1")).await;
    assert_eq!(still.status, 200, "{still}");
    assert_eq!(still.json, nsg, "nothing changed");

    // A reference to an NSG that does not exist.
    let r = s
        .put(
            &s.subnet("rg", "v1", "other"),
            &json!({"properties": {"addressPrefix": "10.0.2.0/24", "networkSecurityGroup": {"id": s.nsg("rg", "ghost")}}}),
        )
        .await;
    expect_error(&r, 400, "InvalidResourceReference");
    expect_error(&s.get(&s.subnet("rg", "v1", "other")).await, 404, "ResourceNotFound");

    // Once no subnet uses it, it can go.
    s.put_ok(&s.subnet("rg", "v1", "protected"), &json!({"properties": {"addressPrefix": "10.0.1.0/24"}})).await;
    assert!(s.get(&s.nsg("rg", "nsg1")).await.json["properties"].get("subnets").is_none_or(|v| v == &json!([])));
    s.delete_ok(&s.nsg("rg", "nsg1")).await;
    expect_error(&s.get(&format!("{}/securityRules/a", s.nsg("rg", "nsg1"))).await, 404, "ParentResourceNotFound");
}

#[tokio::test]
async fn inline_subnet_may_reference_an_nsg() {
    let s = Server::start().await;
    s.create_rg("rg").await;
    let nsg = s.put_ok(&s.nsg("rg", "nsg1"), &json!({"location": LOCATION})).await;
    let mut body = vnet_body(&["10.0.0.0/16"], &[("a", "10.0.1.0/24")]);
    body["properties"]["subnets"][0]["properties"]["networkSecurityGroup"] = json!({"id": nsg["id"]});
    let vnet = s.put_ok(&s.vnet("rg", "v1"), &body).await;
    assert_eq!(vnet["properties"]["subnets"][0]["properties"]["networkSecurityGroup"]["id"], nsg["id"]);
    expect_error(&s.delete(&s.nsg("rg", "nsg1")).await, 400, "InUseNetworkSecurityGroupCannotBeDeleted");
}

#[tokio::test]
async fn an_nsg_used_by_a_network_interface_cannot_be_deleted() {
    let s = Server::start().await;
    s.create_rg("rg").await;
    let nsg = s.put_ok(&s.nsg("rg", "nsg1"), &nsg_body(&[])).await;
    s.create_vnet("rg", "v", &["10.3.0.0/16"], &[("a", "10.3.0.0/24")]).await;
    let nic = json!({"location": LOCATION, "properties": {
        "networkSecurityGroup": {"id": nsg["id"]},
        "ipConfigurations": [{"name": "c", "properties": {"subnet": {"id": s.subnet("rg", "v", "a")}}}]}});
    s.put_ok(&s.nic("rg", "n1"), &nic).await;

    let refused = s.delete(&s.nsg("rg", "nsg1")).await;
    expect_error(&refused, 400, "InUseNetworkSecurityGroupCannotBeDeleted");
    assert!(
        refused.json["error"]["message"].as_str().unwrap_or_default().contains("networkInterfaces/n1"),
        "{refused}"
    );
    assert_eq!(s.get(&s.nsg("rg", "nsg1")).await.status, 200, "still there");

    s.delete_ok(&s.nic("rg", "n1")).await;
    s.delete_ok(&s.nsg("rg", "nsg1")).await;
}
