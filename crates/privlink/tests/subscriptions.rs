//! Tenant- and subscription-level endpoints: subscriptions, tenants, locations, provider
//! registration, cloud metadata and privlink's own info endpoint.

mod common;

use common::{expect_error, using_postgres, vnet_body, Server};
use reqwest::Method;
use serde_json::Value;

#[tokio::test]
async fn subscriptions_list_the_default_subscription() {
    let s = Server::start().await;
    let r = s.get("/subscriptions?api-version=2022-12-01").await;
    assert_eq!(r.status, 200, "{r}");
    let subs = r.json["value"].as_array().cloned().unwrap_or_default();
    assert_eq!(subs.len(), 1, "{r}");
    let sub = &subs[0];
    assert_eq!(sub["id"], format!("/subscriptions/{}", s.subscription).as_str());
    assert_eq!(sub["subscriptionId"], s.subscription.as_str());
    assert_eq!(sub["tenantId"], s.tenant.as_str());
    assert!(sub["displayName"].as_str().is_some_and(|n| !n.is_empty()), "{sub}");
    assert_eq!(sub["state"], "Enabled");
    // The ids are UUIDs, and endpoint.json names the same ones.
    assert!(uuid::Uuid::parse_str(&s.subscription).is_ok(), "{}", s.subscription);
    assert!(uuid::Uuid::parse_str(&s.tenant).is_ok(), "{}", s.tenant);

    let one = s.get(&s.sub()).await;
    assert_eq!(one.status, 200, "{one}");
    assert_eq!(one.json["subscriptionId"], s.subscription.as_str());
    assert_eq!(one.json["state"], "Enabled");
}

#[tokio::test]
async fn unknown_subscription_is_404() {
    let s = Server::start().await;
    let other = "/subscriptions/00000000-0000-0000-0000-000000000001";
    expect_error(&s.get(other).await, 404, "SubscriptionNotFound");
    expect_error(
        &s.put(&format!("{other}/resourceGroups/rg"), &serde_json::json!({"location": "westeurope"})).await,
        404,
        "SubscriptionNotFound",
    );
    expect_error(&s.get(&format!("{other}/providers")).await, 404, "SubscriptionNotFound");
}

#[tokio::test]
async fn subscription_and_tenant_ids_are_stable_across_restart() {
    let mut s = Server::start().await;
    let (sub, tenant) = (s.subscription.clone(), s.tenant.clone());
    s.create_rg("kept").await;
    s.restart(&[]).await;
    assert_eq!(s.subscription, sub, "endpoint.json names the same subscription after a restart");
    assert_eq!(s.tenant, tenant);
    let r = s.get("/subscriptions").await;
    assert_eq!(r.json["value"].as_array().map(Vec::len), Some(1), "{r}");
    assert_eq!(r.json["value"][0]["subscriptionId"], sub.as_str());
    assert_eq!(r.json["value"][0]["tenantId"], tenant.as_str());
    assert_eq!(s.get(&s.rg("kept")).await.status, 200, "data survives the restart");
    let t = s.get("/tenants").await;
    assert_eq!(t.json["value"][0]["tenantId"], tenant.as_str());
}

#[tokio::test]
async fn tenants_list_the_default_tenant() {
    let s = Server::start().await;
    let r = s.get("/tenants?api-version=2022-12-01").await;
    assert_eq!(r.status, 200, "{r}");
    let tenants = r.json["value"].as_array().cloned().unwrap_or_default();
    assert_eq!(tenants.len(), 1, "{r}");
    assert_eq!(tenants[0]["tenantId"], s.tenant.as_str());
    assert_eq!(tenants[0]["id"], format!("/tenants/{}", s.tenant).as_str());
}

#[tokio::test]
async fn locations_are_listed() {
    let s = Server::start().await;
    let r = s.get(&format!("{}/locations?api-version=2022-12-01", s.sub())).await;
    assert_eq!(r.status, 200, "{r}");
    let regions = r.json["value"].as_array().cloned().unwrap_or_default();
    assert!(regions.len() > 10, "{r}");
    let westeurope = regions.iter().find(|l| l["name"] == "westeurope").expect("westeurope listed");
    assert_eq!(westeurope["displayName"], "West Europe");
    assert_eq!(westeurope["id"], format!("/subscriptions/{}/locations/westeurope", s.subscription).as_str());
    assert!(regions.iter().any(|l| l["name"] == "eastus"));
    expect_error(
        &s.send(Method::GET, &format!("{}/locations", s.sub()), None, &[]).await,
        400,
        "MissingApiVersionParameter",
    );
}

fn namespaces(list: &Value) -> Vec<String> {
    list["value"].as_array().into_iter().flatten().filter_map(|p| p["namespace"].as_str()).map(str::to_string).collect()
}

#[tokio::test]
async fn providers_are_listed_at_tenant_and_subscription_level() {
    let s = Server::start().await;
    let tenant = s.get("/providers?api-version=2021-04-01").await;
    assert_eq!(tenant.status, 200, "{tenant}");
    assert!(namespaces(&tenant.json).contains(&"Microsoft.Network".to_string()), "{tenant}");

    let sub = s.get(&format!("{}/providers?api-version=2021-04-01", s.sub())).await;
    assert_eq!(sub.status, 200, "{sub}");
    let network = sub.json["value"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["namespace"] == "Microsoft.Network")
        .cloned()
        .expect("Microsoft.Network in the subscription's providers");
    assert_eq!(network["registrationState"], "Registered");

    // One namespace, in any casing.
    let one = s.get(&format!("{}/providers/microsoft.network?api-version=2021-04-01", s.sub())).await;
    assert_eq!(one.status, 200, "{one}");
    assert_eq!(one.json["namespace"], "Microsoft.Network");
    assert_eq!(one.json["id"], format!("/subscriptions/{}/providers/Microsoft.Network", s.subscription).as_str());
    assert_eq!(one.json["registrationState"], "Registered");
    let types: Vec<&str> =
        one.json["resourceTypes"].as_array().into_iter().flatten().filter_map(|t| t["resourceType"].as_str()).collect();
    for t in ["virtualNetworks", "virtualNetworks/subnets", "networkInterfaces", "networkSecurityGroups"] {
        assert!(types.contains(&t), "{t} missing from {types:?}");
    }
    let vnets = one.json["resourceTypes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| t["resourceType"] == "virtualNetworks")
        .cloned()
        .unwrap_or_default();
    let versions: Vec<&str> = vnets["apiVersions"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    assert!(versions.contains(&"2024-07-01") && versions.contains(&"2026-03-01"), "{versions:?}");

    expect_error(
        &s.get(&format!("{}/providers/Microsoft.Nope?api-version=2021-04-01", s.sub())).await,
        400,
        "InvalidResourceNamespace",
    );
}

#[tokio::test]
async fn unregistered_namespace_refuses_writes_until_registered() {
    let s = Server::start().await;
    s.create_rg("rg").await;
    let r = s.post(&format!("{}/providers/Microsoft.Network/unregister?api-version=2021-04-01", s.sub())).await;
    assert_eq!(r.status, 200, "{r}");
    assert_eq!(r.json["registrationState"], "Unregistered", "{r}");
    let g = s.get(&format!("{}/providers/Microsoft.Network?api-version=2021-04-01", s.sub())).await;
    assert_eq!(g.json["registrationState"], "Unregistered", "{g}");

    let path = s.vnet("rg", "v1");
    let r = s.put(&path, &vnet_body(&["10.0.0.0/16"], &[])).await;
    expect_error(&r, 409, "MissingSubscriptionRegistration");
    assert!(r.json["error"]["message"].as_str().unwrap_or("").contains("Microsoft.Network"), "{r}");
    expect_error(&s.get(&path).await, 404, "ResourceNotFound");
    // Microsoft.Resources itself is not affected.
    assert_eq!(s.put(&s.rg("rg2"), &serde_json::json!({"location": "westeurope"})).await.status, 201);

    let r = s.post(&format!("{}/providers/Microsoft.Network/register?api-version=2021-04-01", s.sub())).await;
    assert_eq!(r.status, 200, "{r}");
    assert_eq!(r.json["registrationState"], "Registered", "{r}");
    let r = s.put(&path, &vnet_body(&["10.0.0.0/16"], &[])).await;
    assert_eq!(r.status, 201, "{r}");
    assert_eq!(s.wait_op(&r).await["status"], "Succeeded");

    expect_error(
        &s.post(&format!("{}/providers/Microsoft.Nope/register?api-version=2021-04-01", s.sub())).await,
        400,
        "InvalidResourceNamespace",
    );
}

/// `az cloud register` reads these; every URL must point back at this server, port included,
/// whether the request came over HTTP/2 (`:authority`) or HTTP/1.1 (`Host`).
#[tokio::test]
async fn metadata_endpoints_describe_the_cloud() {
    let s = Server::start().await;
    let target = "/metadata/endpoints?api-version=2022-09-01";
    let h1 = s.send_http1(Method::GET, target, None, &[]).await;
    let h2 = s.send(Method::GET, target, None, &[]).await;
    assert_eq!(h1.version, reqwest::Version::HTTP_11);
    assert_eq!(h2.version, reqwest::Version::HTTP_2, "the server offers HTTP/2 by ALPN");
    for r in [&h1, &h2] {
        assert_eq!(r.status, 200, "{r}");
        assert_eq!(r.json["resourceManager"], format!("{}/", s.url).as_str(), "{:?}: {r}", r.version);
        assert_eq!(r.json["authentication"]["loginEndpoint"], s.url.as_str(), "{:?}: {r}", r.version);
        assert!(r.json["authentication"]["audiences"].is_array(), "{r}");
    }
    let old = s.send(Method::GET, "/metadata/endpoints?api-version=2019-05-01", None, &[]).await;
    assert_eq!(old.status, 200, "{old}");
    expect_error(&s.send(Method::GET, "/metadata/endpoints", None, &[]).await, 400, "MissingApiVersionParameter");
    expect_error(
        &s.send(Method::GET, "/metadata/endpoints?api-version=2099-01-01", None, &[]).await,
        400,
        "InvalidApiVersionParameter",
    );
}

#[tokio::test]
async fn privlink_info_reports_the_server() {
    let s = Server::start_with(&["--provisioning", "manual"]).await;
    let r = s.send(Method::GET, "/privlink/info", None, &[]).await;
    assert_eq!(r.status, 200, "{r}");
    assert_eq!(r.json["subscriptionId"], s.subscription.as_str());
    assert_eq!(r.json["tenantId"], s.tenant.as_str());
    assert_eq!(r.json["provisioning"], "manual");
    assert_eq!(
        r.json["store"],
        if using_postgres() { "postgres" } else { "sqlite" },
        "the suite runs on the store it was asked for"
    );
    // endpoint.json matches what the server says about itself.
    assert_eq!(s.endpoint["pid"].as_u64(), s.pid().map(u64::from));
    assert!(std::path::Path::new(s.endpoint["caFile"].as_str().unwrap_or_default()).starts_with(s.data_dir()));
}
