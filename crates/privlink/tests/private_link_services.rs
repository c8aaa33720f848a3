//! Microsoft.Network/privateLinkServices ("your own service") and the private endpoints that
//! connect to them by alias or by resource id: the alias, visibility and auto-approval lists,
//! `checkPrivateLinkServiceVisibility`, and the provider approving, rejecting and removing
//! connections, each checked from both sides.
//!
//! The provider is the default subscription (owner: the administrator): resource group
//! `provider`, VNet 10.10.0.0/16 whose subnet `nat` (10.10.1.0/24) has its private link service
//! network policies Disabled. Consumers live in their own subscriptions (owners: the service
//! principals bob and carol, each acting with its own token), each with VNet 10.20.0.0/16 and
//! subnet `pe` (10.20.1.0/24), so the first endpoint IP is 10.20.1.4.

mod common;

use common::private_link::{
    dns_configs, id_of, pe_body, pe_connection, pe_path, pls_path, rg_path, state_of, vnet_path,
};
use common::{expect_error, Server, LOCATION};
use reqwest::Method;
use serde_json::{json, Value};

const PLS_APPROVAL_ACTION: &str = "Microsoft.Network/privateLinkServices/privateEndpointConnectionsApproval/action";
const FQDN: &str = "svc.contoso.example";

fn pair(status: &str, description: &str) -> (String, String) {
    (status.to_string(), description.to_string())
}

/// The provider's resource group and VNet; returns `(rg, nat subnet id, plain subnet id)`.
async fn provider(s: &Server) -> (String, String, String) {
    let rg = s.rg("provider");
    s.create_rg_at(&rg).await;
    let body = json!({
        "location": LOCATION,
        "properties": {
            "addressSpace": { "addressPrefixes": ["10.10.0.0/16"] },
            "subnets": [
                { "name": "nat", "properties": {
                    "addressPrefix": "10.10.1.0/24",
                    "privateLinkServiceNetworkPolicies": "Disabled",
                }},
                { "name": "plain", "properties": { "addressPrefix": "10.10.2.0/24" } },
            ],
        },
    });
    let vnet = s.put_ok(&vnet_path(&rg, "svc-vnet"), &body).await;
    let vnet_id = id_of(&vnet);
    (rg, format!("{vnet_id}/subnets/nat"), format!("{vnet_id}/subnets/plain"))
}

fn pls_body(subnet_id: &str, visibility: &[&str], auto_approval: &[&str]) -> Value {
    json!({
        "location": LOCATION,
        "properties": {
            "ipConfigurations": [{ "name": "nat1", "properties": {
                "subnet": { "id": subnet_id },
                "privateIPAllocationMethod": "Dynamic",
            }}],
            "loadBalancerFrontendIpConfigurations": [{
                "id": format!("{}/providers/Microsoft.Network/loadBalancers/svc-lb/frontendIPConfigurations/fe", subnet_id.split("/providers/").next().unwrap_or_default()),
            }],
            "visibility": { "subscriptions": visibility },
            "autoApproval": { "subscriptions": auto_approval },
            "fqdns": [FQDN],
        },
    })
}

/// Create the private link service `svc`; returns `(its id, its alias)`.
async fn create_pls(
    s: &Server,
    rg: &str,
    subnet: &str,
    visibility: &[&str],
    auto_approval: &[&str],
) -> (String, String) {
    let pls = s.put_ok(&pls_path(rg, "svc"), &pls_body(subnet, visibility, auto_approval)).await;
    let alias = pls["properties"]["alias"].as_str().unwrap_or_else(|| panic!("no alias: {pls}")).to_string();
    (id_of(&pls), alias)
}

/// A consumer subscription owned by a new service principal `owner`, with its landing VNet
/// (created by `owner`): `(subscription, rg, subnet id)`. Requests act as the administrator
/// again afterwards.
async fn consumer(s: &Server, owner: &str) -> (String, String, String) {
    let sub = s.create_subscription(owner).await;
    s.act_as_named(owner).await;
    let rg = rg_path(&sub, "consumer");
    let subnet = s.landing(&rg, "10.20.0.0/16", "10.20.1.0/24").await;
    s.act_as_admin();
    (sub, rg, subnet)
}

/// `POST .../locations/westeurope/checkPrivateLinkServiceVisibility` from `subscription`.
async fn visible(s: &Server, subscription: &str, alias: &str) -> bool {
    let path = format!(
        "/subscriptions/{subscription}/providers/Microsoft.Network/locations/{LOCATION}/checkPrivateLinkServiceVisibility"
    );
    let r = s.request(Method::POST, &path, Some(&json!({ "privateLinkServiceAlias": alias })), &[]).await;
    assert_eq!(r.status, 200, "checkPrivateLinkServiceVisibility for {subscription}: {r}");
    r.json["visible"].as_bool().unwrap_or_else(|| panic!("no `visible` in {r}"))
}

#[tokio::test]
async fn private_link_service_needs_policies_disabled_and_gets_an_alias() {
    let s = Server::start().await;
    let (rg, nat, plain) = provider(&s).await;
    let path = pls_path(&rg, "svc");
    let bob = s.create_subscription("bob").await;

    // The subnet's private link service network policies must be Disabled.
    expect_error(
        &s.put(&path, &pls_body(&plain, &[], &[])).await,
        400,
        "PrivateLinkServiceCannotBeCreatedInSubnetThatHasNetworkPoliciesEnabled",
    );
    expect_error(&s.get(&path).await, 404, "ResourceNotFound");
    // At least one NAT IP configuration; subscription lists hold subscription ids.
    let mut none = pls_body(&nat, &[], &[]);
    none["properties"]["ipConfigurations"] = json!([]);
    expect_error(&s.put(&path, &none).await, 400, "PrivateLinkServiceIpConfigurationCount");
    expect_error(&s.put(&path, &pls_body(&nat, &["not-a-guid"], &[])).await, 400, "InvalidSubscriptionId");
    expect_error(&s.get(&path).await, 404, "ResourceNotFound");

    let pls = s.put_ok(&path, &pls_body(&nat, &[&bob], &[])).await;
    assert_eq!(pls["type"], "Microsoft.Network/privateLinkServices");
    let alias = pls["properties"]["alias"].as_str().unwrap_or_default().to_string();
    let parts: Vec<&str> = alias.split('.').collect();
    assert_eq!(parts.len(), 5, "{alias}");
    assert_eq!(
        (parts[0], parts[2], parts[3], parts[4]),
        ("svc", "westeurope", "azure", "privatelinkservice"),
        "{alias}"
    );
    assert!(uuid::Uuid::parse_str(parts[1]).is_ok(), "{alias}");
    let nat_ip = &pls["properties"]["ipConfigurations"][0]["properties"];
    assert_eq!(nat_ip["privateIPAddress"], "10.10.1.4");
    assert_eq!(nat_ip["subnet"]["id"], nat.as_str());
    assert_eq!(pls["properties"]["visibility"], json!({ "subscriptions": [bob.to_ascii_lowercase()] }));
    assert_eq!(pls["properties"]["autoApproval"], json!({ "subscriptions": [] }));
    assert_eq!(pls["properties"]["fqdns"], json!([FQDN]));
    assert_eq!(pls["properties"]["privateEndpointConnections"], json!([]));

    // A re-PUT keeps the alias and the NAT address.
    let again = s.put_ok(&path, &pls_body(&nat, &[&bob], &[&bob])).await;
    assert_eq!(again["properties"]["alias"], alias.as_str());
    assert_eq!(again["properties"]["ipConfigurations"][0]["properties"]["privateIPAddress"], "10.10.1.4");
    assert_eq!(again["properties"]["autoApproval"], json!({ "subscriptions": [bob.to_ascii_lowercase()] }));
}

/// Seed 001, "connect by using an alias": the service owner shares the alias; the consumer
/// requests a connection with the manual approval method; the owner approves it.
#[tokio::test]
async fn seed_001_consumer_connects_by_alias_and_the_provider_approves() {
    let s = Server::start().await;
    let (rg, nat, _) = provider(&s).await;
    let (bob, bob_rg, bob_subnet) = consumer(&s, "bob").await;
    let (pls_id, alias) = create_pls(&s, &rg, &nat, &[&bob], &[]).await;
    s.act_as_named("bob").await;
    assert!(visible(&s, &bob, &alias).await);

    let path = pe_path(&bob_rg, "pe-svc");
    let pe = s.put_ok(&path, &pe_body(&bob_subnet, &alias, &[], true, "bob would like to connect")).await;
    let conn = pe_connection(&pe);
    assert_eq!(conn["properties"]["privateLinkServiceId"], alias.as_str(), "the alias is echoed unchanged");
    assert_eq!(conn["properties"]["groupIds"], json!([]));
    assert_eq!(conn["properties"]["requestMessage"], "bob would like to connect");
    assert_eq!(pe["properties"]["privateLinkServiceConnections"], json!([]));
    assert_eq!(dns_configs(&pe), [(FQDN.to_string(), vec!["10.20.1.4".to_string()])]);

    // The provider's side.
    let (_, target) = s.assert_connection(&path, &pls_id, "Pending", "Awaiting approval").await;
    assert_eq!(target["type"], "Microsoft.Network/privateLinkServices/privateEndpointConnections");
    assert_eq!(target["properties"]["privateEndpoint"]["id"], id_of(&pe).as_str());
    assert_eq!(target["properties"]["privateEndpointLocation"], LOCATION);
    assert!(target["properties"]["linkIdentifier"].as_str().is_some_and(|l| !l.is_empty()), "{target}");
    assert!(target["etag"].as_str().is_some_and(|e| !e.is_empty()), "{target}");
    let cid = id_of(&target);
    assert!(cid.starts_with(&format!("{pls_id}/privateEndpointConnections/pe-svc.")), "{cid}");

    // The provider approves through .../privateLinkServices/{pls}/privateEndpointConnections/{name}.
    s.act_as_admin();
    let r = s.decide(&cid, "Approved", "Welcome to svc").await;
    assert_eq!(r.status, 200, "{r}");
    assert_eq!(state_of(&r.json), pair("Approved", "Welcome to svc"));
    let (pe, _) = s.assert_connection(&path, &pls_id, "Approved", "Welcome to svc").await;
    assert_eq!(pe_connection(&pe)["properties"]["privateLinkServiceId"], alias.as_str());
    expect_error(&s.decide(&cid, "Pending", "again").await, 400, "InvalidPrivateEndpointConnectionStatus");

    let r = s.decide(&cid, "Rejected", "svc is closing").await;
    assert_eq!(r.status, 200, "{r}");
    s.assert_connection(&path, &pls_id, "Rejected", "svc is closing").await;

    // The provider removes the connection: the consumer's endpoint is left Disconnected.
    s.delete_ok(&cid).await;
    assert!(s.target_connections(&pls_id).await.is_empty());
    s.act_as_named("bob").await;
    assert_eq!(state_of(&pe_connection(&s.get(&path).await.json)).0, "Disconnected");
}

#[tokio::test]
async fn auto_approval_subscriptions_are_approved_at_once() {
    let s = Server::start().await;
    let (rg, nat, _) = provider(&s).await;
    let (bob, bob_rg, bob_subnet) = consumer(&s, "bob").await;
    let (pls_id, alias) = create_pls(&s, &rg, &nat, &[&bob], &[&bob]).await;

    s.act_as_named("bob").await;
    let path = pe_path(&bob_rg, "pe-svc");
    s.put_ok(&path, &pe_body(&bob_subnet, &alias, &[], true, "")).await;
    let (pe, _) = s.assert_connection(&path, &pls_id, "Approved", "Auto-Approved").await;
    assert_eq!(pe["properties"]["privateLinkServiceConnections"], json!([]), "still a manual connection");

    // Being in autoApproval is enough to see the service.
    let (carol, carol_rg, carol_subnet) = consumer(&s, "carol").await;
    s.act_as_named("carol").await;
    assert!(!visible(&s, &carol, &alias).await);
    s.act_as_admin();
    s.put_ok(&pls_path(&rg, "svc"), &pls_body(&nat, &[&bob], &[&bob, &carol])).await;
    s.act_as_named("carol").await;
    assert!(visible(&s, &carol, &alias).await);
    let carol_path = pe_path(&carol_rg, "pe-carol");
    s.put_ok(&carol_path, &pe_body(&carol_subnet, &alias, &[], true, "")).await;
    s.assert_connection(&carol_path, &pls_id, "Approved", "Auto-Approved").await;
    assert_eq!(s.target_connections(&pls_id).await.len(), 2);
}

#[tokio::test]
async fn visibility_check_and_alias_refusals() {
    let s = Server::start().await;
    let (rg, nat, _) = provider(&s).await;
    let (bob, bob_rg, bob_subnet) = consumer(&s, "bob").await;
    let (carol, carol_rg, carol_subnet) = consumer(&s, "carol").await;
    let (pls_id, alias) = create_pls(&s, &rg, &nat, &[&bob], &[]).await;

    // Listed, not listed, the owner's own subscription, an unknown alias.
    s.act_as_named("bob").await;
    assert!(visible(&s, &bob, &alias).await);
    let unknown = format!("nope.{}.westeurope.azure.privatelinkservice", uuid::Uuid::new_v4());
    assert!(!visible(&s, &bob, &unknown).await);
    s.act_as_named("carol").await;
    assert!(!visible(&s, &carol, &alias).await);
    s.act_as_admin();
    assert!(visible(&s, &s.subscription, &alias).await, "the owner always sees its own service");
    let check =
        format!("{}/providers/Microsoft.Network/locations/{LOCATION}/checkPrivateLinkServiceVisibility", s.sub());
    expect_error(&s.request(Method::POST, &check, Some(&json!({})), &[]).await, 400, "InvalidRequestFormat");

    // An alias in an automatic connection.
    s.act_as_named("bob").await;
    let path = pe_path(&bob_rg, "pe-svc");
    let r = s.put(&path, &pe_body(&bob_subnet, &alias, &[], false, "")).await;
    expect_error(&r, 400, "PrivateLinkServiceAliasRequiresManualConnection");
    s.assert_not_stored(&path, &bob_rg, &[], Some((&pls_id, 0))).await;

    // A subscription the service is not visible to.
    s.act_as_named("carol").await;
    let carol_path = pe_path(&carol_rg, "pe-svc");
    let r = s.put(&carol_path, &pe_body(&carol_subnet, &alias, &[], true, "")).await;
    expect_error(&r, 400, "PrivateLinkServiceAliasNotFound");
    s.assert_not_stored(&carol_path, &carol_rg, &[], Some((&pls_id, 0))).await;

    // An alias nobody has.
    s.act_as_named("bob").await;
    expect_error(
        &s.put(&path, &pe_body(&bob_subnet, &unknown, &[], true, "")).await,
        400,
        "PrivateLinkServiceAliasNotFound",
    );
    s.assert_not_stored(&path, &bob_rg, &[], Some((&pls_id, 0))).await;

    // Visibility "*": everyone sees it, carol can now ask (and waits: she is not auto-approved).
    s.act_as_admin();
    s.put_ok(&pls_path(&rg, "svc"), &pls_body(&nat, &["*"], &[])).await;
    s.act_as_named("carol").await;
    assert!(visible(&s, &carol, &alias).await);
    let pe = s.put_ok(&carol_path, &pe_body(&carol_subnet, &alias, &[], true, "")).await;
    assert_eq!(dns_configs(&pe), [(FQDN.to_string(), vec!["10.20.1.4".to_string()])], "the refusals used no address");
    s.assert_connection(&carol_path, &pls_id, "Pending", "Awaiting approval").await;
}

#[tokio::test]
async fn connecting_by_resource_id_follows_the_approval_rule() {
    let s = Server::start().await;
    let (rg, nat, _) = provider(&s).await;
    let (bob, bob_rg, bob_subnet) = consumer(&s, "bob").await;
    let (pls_id, _) = create_pls(&s, &rg, &nat, &[&bob], &[]).await;

    // The owner's own endpoint, automatic by resource id: approved.
    let own_subnet = s.landing(&s.rg("own"), "10.30.0.0/16", "10.30.1.0/24").await;
    let own = pe_path(&s.rg("own"), "pe-own");
    let pe = s.put_ok(&own, &pe_body(&own_subnet, &pls_id, &[], false, "")).await;
    assert_eq!(pe_connection(&pe)["properties"]["privateLinkServiceId"], pls_id.as_str());
    assert_eq!(dns_configs(&pe), [(FQDN.to_string(), vec!["10.30.1.4".to_string()])]);
    s.assert_connection(&own, &pls_id, "Approved", "Auto-Approved").await;

    // Group ids make no sense for a private link service.
    let bad = pe_path(&s.rg("own"), "pe-groups");
    expect_error(
        &s.put(&bad, &pe_body(&own_subnet, &pls_id, &["blob"], false, "")).await,
        400,
        "PrivateLinkServiceConnectionGroupIdsNotAllowed",
    );

    // Bob, automatic by id: he may not approve on the provider's service.
    s.act_as_named("bob").await;
    let auto = pe_path(&bob_rg, "pe-auto");
    let r = s.put(&auto, &pe_body(&bob_subnet, &pls_id, &[], false, "")).await;
    expect_error(&r, 403, "LinkedAuthorizationFailed");
    let message = r.json["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(PLS_APPROVAL_ACTION) && message.contains(&pls_id), "{message}");
    assert!(message.contains(&format!("'{}'", s.principal("bob").app_id)), "names the client: {message}");
    s.assert_not_stored(&auto, &bob_rg, &[], Some((&pls_id, 1))).await;

    // Bob, manual by id: Pending.
    let manual = pe_path(&bob_rg, "pe-manual");
    s.put_ok(&manual, &pe_body(&bob_subnet, &pls_id, &[], true, "")).await;
    s.assert_connection(&manual, &pls_id, "Pending", "Awaiting approval").await;
    assert_eq!(s.target_connections(&pls_id).await.len(), 2);

    // Deleting bob's endpoint takes its connection off the service.
    s.delete_ok(&manual).await;
    let left = s.target_connections(&pls_id).await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0]["properties"]["privateEndpoint"]["id"], id_of(&pe).as_str());

    // Deleting the service leaves the remaining endpoint Disconnected.
    s.act_as_admin();
    s.delete_ok(&pls_path(&rg, "svc")).await;
    let after = s.get(&own).await;
    assert_eq!(after.status, 200, "{after}");
    assert_eq!(state_of(&pe_connection(&after.json)).0, "Disconnected", "{after}");
}
