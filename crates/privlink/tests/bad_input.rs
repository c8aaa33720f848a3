//! Requests ARM refuses: bodies that are not JSON objects, properties of the wrong type,
//! unknown types and namespaces, invalid names and locations. Each one answers its ARM error
//! code and leaves nothing behind.

mod common;

use common::{expect_error, vnet_body, Server, LOCATION, NET_API};
use reqwest::Method;
use serde_json::json;

/// A server with resource group `rg`.
async fn server() -> Server {
    let s = Server::start().await;
    s.create_rg("rg").await;
    s
}

async fn assert_no_vnets(s: &Server) {
    let list = s.get(&s.net("rg", "virtualNetworks")).await;
    assert_eq!(list.status, 200, "{list}");
    assert_eq!(list.json["value"], json!([]), "nothing was stored: {list}");
}

#[tokio::test]
async fn malformed_json_is_invalid_request_content() {
    let s = server().await;
    let path = s.vnet("rg", "v1");
    for body in
        ["{", "{\"location\": \"westeurope\",}", "{location: westeurope}", "not json at all", "{\"a\":1}{\"b\":2}"]
    {
        let r = s.put_raw(&path, body).await;
        expect_error(&r, 400, "InvalidRequestContent");
    }
    expect_error(&s.get(&path).await, 404, "ResourceNotFound");
    // The same for a resource group and a child resource.
    expect_error(&s.put_raw(&s.rg("rg2"), "{\"location\":").await, 400, "InvalidRequestContent");
    expect_error(&s.get(&s.rg("rg2")).await, 404, "ResourceGroupNotFound");
    s.create_vnet("rg", "v2", &["10.0.0.0/16"], &[]).await;
    expect_error(&s.put_raw(&s.subnet("rg", "v2", "s1"), "{\"properties\": ").await, 400, "InvalidRequestContent");
    expect_error(&s.get(&s.subnet("rg", "v2", "s1")).await, 404, "ResourceNotFound");
}

#[tokio::test]
async fn a_body_that_is_not_an_object_is_invalid_request_content() {
    let s = server().await;
    let path = s.vnet("rg", "v1");
    for body in ["[]", "[{\"location\": \"westeurope\"}]", "\"westeurope\"", "42", "true", "null"] {
        let r = s.put_raw(&path, body).await;
        expect_error(&r, 400, "InvalidRequestContent");
    }
    expect_error(&s.get(&path).await, 404, "ResourceNotFound");
    assert_no_vnets(&s).await;
}

#[tokio::test]
async fn an_empty_body_is_invalid_request_content() {
    let s = server().await;
    let path = s.vnet("rg", "v1");
    expect_error(&s.put_raw(&path, "").await, 400, "InvalidRequestContent");
    expect_error(&s.put_raw(&path, "  \n ").await, 400, "InvalidRequestContent");
    let no_body = s.send(Method::PUT, &Server::with_api(&path), None, &[]).await;
    expect_error(&no_body, 400, "InvalidRequestContent");
    expect_error(&s.get(&path).await, 404, "ResourceNotFound");
    expect_error(&s.put_raw(&s.rg("rg2"), "").await, 400, "InvalidRequestContent");
    expect_error(&s.get(&s.rg("rg2")).await, 404, "ResourceGroupNotFound");
}

#[tokio::test]
async fn properties_of_the_wrong_type_are_rejected() {
    let s = server().await;
    let path = s.vnet("rg", "v1");
    let cases = [
        (json!({"location": LOCATION, "properties": {"addressSpace": 5}}), "properties.addressSpace"),
        (
            json!({"location": LOCATION, "properties": {"addressSpace": {"addressPrefixes": "x"}}}),
            "properties.addressSpace.addressPrefixes",
        ),
        (
            json!({"location": LOCATION, "properties": {"addressSpace": {"addressPrefixes": [10]}}}),
            "properties.addressSpace.addressPrefixes[0]",
        ),
        (json!({"location": 3, "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}}}), "location"),
        (json!({"location": LOCATION, "properties": "none"}), "properties"),
        (
            json!({"location": LOCATION, "tags": ["a"], "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}}}),
            "tags",
        ),
        (
            json!({"location": LOCATION, "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}, "subnets": {"name": "s"}}}),
            "properties.subnets",
        ),
        (
            json!({"location": LOCATION, "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}, "enableDdosProtection": "yes"}}),
            "properties.enableDdosProtection",
        ),
    ];
    for (body, target) in &cases {
        let r = s.put(&path, body).await;
        expect_error(&r, 400, "InvalidRequestFormat");
        assert_eq!(r.json["error"]["target"], *target, "{body}: {r}");
    }
    expect_error(&s.get(&path).await, 404, "ResourceNotFound");
    assert_no_vnets(&s).await;
    // Wrong types on a resource group.
    expect_error(&s.put(&s.rg("rg2"), &json!({"location": 3})).await, 400, "InvalidRequestFormat");
    expect_error(&s.get(&s.rg("rg2")).await, 404, "ResourceGroupNotFound");
}

#[tokio::test]
async fn an_unknown_resource_type_is_invalid_resource_type() {
    let s = server().await;
    let path = s.net("rg", "fooBars/x");
    let r = s.put(&path, &json!({"location": LOCATION})).await;
    expect_error(&r, 400, "InvalidResourceType");
    assert!(r.json["error"]["message"].as_str().unwrap_or("").contains("fooBars"), "{r}");
    expect_error(&s.get(&path).await, 400, "InvalidResourceType");
    expect_error(&s.get(&s.net("rg", "fooBars")).await, 400, "InvalidResourceType");
    expect_error(&s.put(&format!("{}/widgets/w", s.vnet("rg", "v1")), &json!({})).await, 400, "InvalidResourceType");
    // An unknown type also misses its api-version check in the right order.
    let r = s.send(Method::GET, &path, None, &[]).await;
    expect_error(&r, 400, "MissingApiVersionParameter");
}

#[tokio::test]
async fn an_unknown_namespace_is_invalid_resource_namespace() {
    let s = server().await;
    let path = format!("{}/providers/Microsoft.Nope/things/x?api-version={NET_API}", s.rg("rg"));
    let r = s.put(&path, &json!({"location": LOCATION})).await;
    expect_error(&r, 400, "InvalidResourceNamespace");
    assert!(r.json["error"]["message"].as_str().unwrap_or("").contains("Microsoft.Nope"), "{r}");
    expect_error(&s.get(&path).await, 400, "InvalidResourceNamespace");
    expect_error(
        &s.get(&format!("{}/providers/Microsoft.Nope/things?api-version={NET_API}", s.rg("rg"))).await,
        400,
        "InvalidResourceNamespace",
    );
}

#[tokio::test]
async fn invalid_names_are_invalid_resource_name() {
    let s = server().await;
    let body = vnet_body(&["10.0.0.0/16"], &[]);
    let too_long = "a".repeat(81);
    let bad =
        [too_long.as_str(), "bad%20name", "-leading-dash", "trailing-dot.", "semi%3Bcolon", "dollar$", "%C3%A9t%C3%A9"];
    for name in bad {
        let r = s.put(&s.vnet("rg", name), &body).await;
        expect_error(&r, 400, "InvalidResourceName");
    }
    assert_no_vnets(&s).await;
    // 80 characters is the limit, inclusive.
    let longest = "a".repeat(80);
    s.put_ok(&s.vnet("rg", &longest), &body).await;

    // Names of children and of inline children are checked too.
    s.create_vnet("rg", "v1", &["10.1.0.0/16"], &[]).await;
    let r =
        s.put(&s.subnet("rg", "v1", "bad%20subnet"), &json!({"properties": {"addressPrefix": "10.1.1.0/24"}})).await;
    expect_error(&r, 400, "InvalidResourceName");
    let r = s.put(&s.vnet("rg", "v2"), &vnet_body(&["10.2.0.0/16"], &[(&"s".repeat(81), "10.2.1.0/24")])).await;
    expect_error(&r, 400, "InvalidResourceName");
    expect_error(&s.get(&s.vnet("rg", "v2")).await, 404, "ResourceNotFound");
    // Resource group names: up to 90, no trailing dot.
    expect_error(&s.put(&s.rg(&"r".repeat(91)), &json!({"location": LOCATION})).await, 400, "InvalidResourceName");
    expect_error(&s.put(&s.rg("ends."), &json!({"location": LOCATION})).await, 400, "InvalidResourceName");
    let groups = s.get(&format!("{}/resourcegroups", s.sub())).await;
    assert_eq!(common::names(&groups.json), vec!["rg".to_string()]);
}

#[tokio::test]
async fn location_is_required() {
    let s = server().await;
    let path = s.vnet("rg", "v1");
    let r = s.put(&path, &json!({"properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}}})).await;
    expect_error(&r, 400, "LocationRequired");
    let r = s
        .put(&path, &json!({"location": null, "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}}}))
        .await;
    expect_error(&r, 400, "LocationRequired");
    expect_error(&s.get(&path).await, 404, "ResourceNotFound");
    expect_error(&s.put(&s.rg("rg2"), &json!({})).await, 400, "LocationRequired");
    expect_error(&s.get(&s.rg("rg2")).await, 404, "ResourceGroupNotFound");
}

#[tokio::test]
async fn an_unknown_location_is_not_available() {
    let s = server().await;
    let path = s.vnet("rg", "v1");
    let mut body = vnet_body(&["10.0.0.0/16"], &[]);
    body["location"] = json!("moon-central");
    let r = s.put(&path, &body).await;
    expect_error(&r, 400, "LocationNotAvailableForResourceType");
    assert!(r.json["error"]["message"].as_str().unwrap_or("").contains("moon-central"), "{r}");
    expect_error(&s.get(&path).await, 404, "ResourceNotFound");
    expect_error(
        &s.put(&s.rg("rg2"), &json!({"location": "atlantis"})).await,
        400,
        "LocationNotAvailableForResourceType",
    );
    expect_error(&s.get(&s.rg("rg2")).await, 404, "ResourceGroupNotFound");
    assert_no_vnets(&s).await;
}

#[tokio::test]
async fn unsupported_methods_are_405() {
    let s = server().await;
    s.create_vnet("rg", "v1", &["10.0.0.0/16"], &[]).await;
    let r = s.request(Method::POST, &s.net("rg", "virtualNetworks"), Some(&json!({})), &[]).await;
    expect_error(&r, 405, "MethodNotAllowed");
    let r = s.request(Method::PUT, "/subscriptions", Some(&json!({})), &[]).await;
    expect_error(&r, 405, "MethodNotAllowed");
}

/// privlink's own admin endpoints answer malformed query parameters and bodies with an ARM
/// error body (not a framework's plain-text rejection), and create nothing.
#[tokio::test]
async fn admin_endpoints_refuse_malformed_input_with_arm_errors() {
    let s = Server::start().await;
    let admin = format!("Bearer {}", s.admin_token());
    let auth = [("authorization", admin.as_str())];
    for path in ["/privlink/admin/identity-env", "/privlink/admin/identity-env?resource=not-an-id"] {
        expect_error(&s.send(Method::GET, path, None, &auth).await, 400, "InvalidResourceId");
    }
    let r = s.send(Method::POST, "/privlink/reconciler/step?limit=many", None, &auth).await;
    expect_error(&r, 400, "InvalidQueryParameter");
    let before = s.admin_send(Method::GET, "/privlink/admin/tenants", &json!({})).await;
    for body in ["{", "[]", r#"{"displayName": 7}"#, r#"{"unknown": true}"#] {
        let r = s.send(Method::POST, "/privlink/admin/tenants", Some(body.as_bytes().to_vec()), &auth).await;
        expect_error(&r, 400, "InvalidRequestContent");
    }
    let after = s.admin_send(Method::GET, "/privlink/admin/tenants", &json!({})).await;
    assert_eq!(before.json, after.json, "no tenant was created");
}
