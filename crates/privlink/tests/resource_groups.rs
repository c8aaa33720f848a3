//! Microsoft.Resources/resourceGroups: create, read, tag, list, HEAD, and delete as a
//! long-running operation that takes everything inside with it.

mod common;

use common::{expect_error, names, nic_ip, vnet_body, Server, LOCATION};
use serde_json::json;

#[tokio::test]
async fn create_is_201_then_update_is_200() {
    let s = Server::start().await;
    let path = s.rg("rg1");
    let r = s.put(&path, &json!({"location": LOCATION, "tags": {"env": "test"}})).await;
    assert_eq!(r.status, 201, "{r}");
    assert_eq!(r.json["id"], path.as_str());
    assert_eq!(r.json["name"], "rg1");
    assert_eq!(r.json["type"], "Microsoft.Resources/resourceGroups");
    assert_eq!(r.json["location"], LOCATION);
    assert_eq!(r.json["tags"], json!({"env": "test"}));
    assert_eq!(r.state(), "Succeeded", "resource group PUT is synchronous: {r}");
    assert!(r.header("azure-asyncoperation").is_none(), "{:?}", r.headers);

    // The location may be written as a display name.
    let r = s.put(&path, &json!({"location": "West Europe", "tags": {"env": "prod"}})).await;
    assert_eq!(r.status, 200, "{r}");
    assert_eq!(r.json["tags"], json!({"env": "prod"}));
    assert_eq!(r.json["location"], LOCATION);

    // Moving a group to another region is refused.
    let r = s.put(&path, &json!({"location": "eastus"})).await;
    expect_error(&r, 409, "InvalidResourceGroupLocation");
    assert_eq!(s.get(&path).await.json["location"], LOCATION);
}

#[tokio::test]
async fn get_list_and_head() {
    let s = Server::start().await;
    s.create_rg("alpha").await;
    s.create_rg("beta").await;
    let g = s.get(&s.rg("alpha")).await;
    assert_eq!(g.status, 200, "{g}");
    assert_eq!(g.json["name"], "alpha");
    assert_eq!(g.json["properties"]["provisioningState"], "Succeeded");

    let list = s.get(&format!("{}/resourcegroups", s.sub())).await;
    assert_eq!(list.status, 200, "{list}");
    let mut listed = names(&list.json);
    listed.sort();
    assert_eq!(listed, vec!["alpha".to_string(), "beta".to_string()]);

    let head = s.head(&s.rg("ALPHA")).await;
    assert_eq!(head.status, 204, "HEAD on an existing group: {head}");
    let head = s.head(&s.rg("gamma")).await;
    assert_eq!(head.status, 404, "HEAD on a missing group: {head}");
    assert_eq!(head.json, serde_json::Value::Null, "HEAD has no body");
}

#[tokio::test]
async fn patch_replaces_tags() {
    let s = Server::start().await;
    let path = s.rg("rg1");
    s.put(&path, &json!({"location": LOCATION, "tags": {"a": "1"}})).await;
    let r = s.patch(&path, &json!({"tags": {"b": "2", "c": "3"}})).await;
    assert_eq!(r.status, 200, "{r}");
    assert_eq!(r.json["tags"], json!({"b": "2", "c": "3"}));
    assert_eq!(s.get(&path).await.json["tags"], json!({"b": "2", "c": "3"}));
    assert_eq!(s.get(&path).await.json["location"], LOCATION, "PATCH keeps the rest");

    // Tag values must be strings; nothing changes when they are not.
    let r = s.patch(&path, &json!({"tags": {"x": 5}})).await;
    expect_error(&r, 400, "InvalidTag");
    assert_eq!(s.get(&path).await.json["tags"], json!({"b": "2", "c": "3"}));
    // PATCH of a missing group.
    expect_error(&s.patch(&s.rg("nope"), &json!({"tags": {}})).await, 404, "ResourceGroupNotFound");
}

#[tokio::test]
async fn delete_is_a_long_running_operation_that_removes_everything_inside() {
    let s = Server::start().await;
    s.create_rg("doomed").await;
    s.create_rg("kept").await;
    s.create_vnet("doomed", "v1", &["10.0.0.0/16"], &[("s1", "10.0.1.0/24")]).await;
    s.create_vnet("kept", "v2", &["10.1.0.0/16"], &[("s1", "10.1.1.0/24")]).await;
    let nic = s.create_nic("doomed", "nic1", &s.subnet("doomed", "v1", "s1"), None).await;
    assert_eq!(nic_ip(&nic.json), "10.0.1.4");
    s.put_ok(&s.nsg("doomed", "nsg1"), &json!({"location": LOCATION})).await;

    let r = s.delete(&s.rg("doomed")).await;
    assert_eq!(r.status, 202, "{r}");
    let location = r.header("location").expect("Location header").to_string();
    assert!(location.starts_with(&s.url), "absolute Location URL: {location}");
    assert_eq!(r.header("retry-after"), Some("1"));
    let done = s.wait_op(&r).await;
    assert_eq!(done["status"], "Succeeded", "{done}");
    let result = s.send(reqwest::Method::GET, &location, None, &[]).await;
    assert!(matches!(result.status, 200 | 204), "Location URL after completion: {result}");

    expect_error(&s.get(&s.rg("doomed")).await, 404, "ResourceGroupNotFound");
    assert_eq!(s.head(&s.rg("doomed")).await.status, 404);
    expect_error(&s.get(&s.vnet("doomed", "v1")).await, 404, "ResourceGroupNotFound");
    expect_error(&s.get(&s.nic("doomed", "nic1")).await, 404, "ResourceGroupNotFound");
    expect_error(&s.get(&s.nsg("doomed", "nsg1")).await, 404, "ResourceGroupNotFound");
    let list = s.get(&format!("{}/resourcegroups", s.sub())).await;
    assert_eq!(names(&list.json), vec!["kept".to_string()]);
    let vnets = s.get(&format!("{}/providers/Microsoft.Network/virtualNetworks", s.sub())).await;
    assert_eq!(names(&vnets.json), vec!["v2".to_string()], "only the other group's VNet is left");
    let nics = s.get(&format!("{}/providers/Microsoft.Network/networkInterfaces", s.sub())).await;
    assert_eq!(names(&nics.json), Vec::<String>::new());

    // The group can be created again, empty, and its old names are free.
    s.create_rg("doomed").await;
    assert_eq!(names(&s.get(&s.net("doomed", "virtualNetworks")).await.json), Vec::<String>::new());
    s.create_vnet("doomed", "v1", &["10.0.0.0/16"], &[("s1", "10.0.1.0/24")]).await;
    let nic = s.create_nic("doomed", "nic1", &s.subnet("doomed", "v1", "s1"), None).await;
    assert_eq!(nic_ip(&nic.json), "10.0.1.4", "the re-created subnet starts with a fresh pool");
}

#[tokio::test]
async fn delete_of_a_missing_group_is_resource_group_not_found() {
    // Unlike other resources (204), ARM answers a missing resource group with 404.
    let s = Server::start().await;
    let r = s.delete(&s.rg("never")).await;
    expect_error(&r, 404, "ResourceGroupNotFound");
}

#[tokio::test]
async fn resources_in_a_missing_group_are_resource_group_not_found() {
    let s = Server::start().await;
    let path = s.vnet("ghost", "v1");
    let r = s.put(&path, &vnet_body(&["10.0.0.0/16"], &[])).await;
    expect_error(&r, 404, "ResourceGroupNotFound");
    expect_error(&s.get(&path).await, 404, "ResourceGroupNotFound");
    expect_error(&s.get(&s.net("ghost", "virtualNetworks")).await, 404, "ResourceGroupNotFound");
    expect_error(&s.delete(&path).await, 404, "ResourceGroupNotFound");
    // Nothing was created on the way, not even the group.
    expect_error(&s.get(&s.rg("ghost")).await, 404, "ResourceGroupNotFound");
}

#[tokio::test]
async fn a_missing_resource_is_resource_not_found() {
    let s = Server::start().await;
    s.create_rg("rg").await;
    let r = s.get(&s.vnet("rg", "nothere")).await;
    expect_error(&r, 404, "ResourceNotFound");
    assert!(r.json["error"]["message"].as_str().unwrap_or("").contains("nothere"), "{r}");
    expect_error(&s.get(&s.nic("rg", "nothere")).await, 404, "ResourceNotFound");
    expect_error(&s.get(&s.nsg("rg", "nothere")).await, 404, "ResourceNotFound");
    let head = s.head(&s.vnet("rg", "nothere")).await;
    assert_eq!(head.status, 404);
}

/// While a resource group is being deleted, ARM refuses writes into it (409
/// `ResourceGroupBeingDeleted`); nothing written then may outlive the delete.
#[tokio::test]
async fn writes_into_a_resource_group_being_deleted_are_refused() {
    let s = Server::start_with(&["--provisioning", "manual"]).await;
    s.create_rg("rg").await;
    let r = s.put(&s.vnet("rg", "v1"), &vnet_body(&["10.0.0.0/16"], &[("s1", "10.0.1.0/24")])).await;
    assert_eq!(r.status, 201, "{r}");
    s.step().await;

    let r = s.delete(&s.rg("rg")).await;
    assert_eq!(r.status, 202, "{r}");
    let g = s.get(&s.rg("rg")).await;
    assert_eq!(g.status, 200, "{g}");
    assert_eq!(g.state(), "Deleting", "{g}");

    let r = s.put(&s.vnet("rg", "v2"), &vnet_body(&["10.1.0.0/16"], &[])).await;
    expect_error(&r, 409, "ResourceGroupBeingDeleted");
    let r = s.put(&s.subnet("rg", "v1", "s2"), &json!({"properties": {"addressPrefix": "10.0.2.0/24"}})).await;
    expect_error(&r, 409, "ResourceGroupBeingDeleted");
    let r = s.patch(&s.vnet("rg", "v1"), &json!({"tags": {"a": "b"}})).await;
    expect_error(&r, 409, "ResourceGroupBeingDeleted");
    let r = s.put(&s.rg("rg"), &json!({"location": LOCATION})).await;
    assert_eq!(r.status, 409, "re-creating a group while it is deleted: {r}");

    s.step().await;
    expect_error(&s.get(&s.rg("rg")).await, 404, "ResourceGroupNotFound");
    let nothing = s.get(&format!("{}/providers/Microsoft.Network/virtualNetworks", s.sub())).await;
    assert_eq!(names(&nothing.json), Vec::<String>::new(), "{nothing}");
}
