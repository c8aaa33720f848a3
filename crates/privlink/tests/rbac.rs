//! Role-based access control: what a principal may do is what its role assignments grant at the
//! scope of the request or above it (subscription, resource group, resource), evaluated on
//! every request. Missing the action itself is `403 AuthorizationFailed`; holding it but
//! missing an action on a linked resource (the subnet a private endpoint joins, the target an
//! automatic connection approves itself on) is `403 LinkedAuthorizationFailed`. Tenants are
//! isolated: a token is only good for its own tenant's subscriptions.
//!
//! The administrator owns the default subscription; the other principals are service
//! principals made through the admin API and given roles by the administrator.

mod common;

use common::private_link::{id_of, pe_body, pe_connection, pe_path, rg_path, state_of, vnet_path};
use common::{expect_error, nic_body, vnet_body, Principal, Resp, Server, LOCATION};
use reqwest::Method;
use serde_json::{json, Value};

const OWNER: &str = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";
const CONTRIBUTOR: &str = "b24988ac-6180-42a0-ab88-20f7382dd24c";
const READER: &str = "acdd72a7-3385-48ef-bd42-f606fba81ae7";
const NETWORK_CONTRIBUTOR: &str = "4d97b98b-1d4f-4787-a291-c67834d212e7";
const STORAGE_ACCOUNT_CONTRIBUTOR: &str = "17d1049b-9a84-46fb-8f53-869881c3d3ab";
const STORAGE_APPROVAL: &str = "Microsoft.Storage/storageAccounts/privateEndpointConnectionsApproval/action";
const JOIN: &str = "Microsoft.Network/virtualNetworks/subnets/join/action";
const PE_WRITE: &str = "Microsoft.Network/privateEndpoints/write";
const AUTH_API: &str = "api-version=2022-04-01";

fn message(r: &Resp) -> String {
    r.json["error"]["message"].as_str().unwrap_or_default().to_string()
}

/// `403 AuthorizationFailed` naming the client (app id), its object id, `action` and `scope`.
#[track_caller]
fn expect_denied(r: &Resp, p: &Principal, action: &str, scope: &str) {
    expect_error(r, 403, "AuthorizationFailed");
    let m = message(r);
    let expected = format!(
        "The client '{}' with object id '{}' does not have authorization to perform action '{action}' over scope '{scope}'",
        p.app_id, p.object_id
    );
    assert!(m.starts_with(&expected), "expected a message starting with\n  {expected}\ngot\n  {m}");
}

/// `403 LinkedAuthorizationFailed` naming the client, the action it holds on `scope` and the
/// `linked_action` it lacks on `linked_scope`.
#[track_caller]
fn expect_linked_denied(r: &Resp, p: &Principal, scope: &str, linked_action: &str, linked_scope: &str) {
    expect_error(r, 403, "LinkedAuthorizationFailed");
    let m = message(r);
    let expected = format!(
        "The client '{}' with object id '{}' has permission to perform action '{PE_WRITE}' on scope '{scope}'; however, it does not have permission to perform action '{linked_action}' on the linked scope(s) '{linked_scope}'",
        p.app_id, p.object_id
    );
    assert!(m.starts_with(&expected), "expected a message starting with\n  {expected}\ngot\n  {m}");
}

/// Assign `role` at `scope` to `p` as the administrator; returns the assignment's id.
async fn grant(s: &Server, scope: &str, role: &str, p: &Principal) -> String {
    s.act_as_admin();
    let r = s.assign_role(scope, role, &p.object_id).await;
    assert_eq!(r.status, 201, "assigning {role} at {scope}: {r}");
    id_of(&r.json)
}

/// The subscription ids `GET /subscriptions` lists for whoever currently acts.
async fn listed_subscriptions(s: &Server) -> Vec<String> {
    let r = s.get("/subscriptions").await;
    assert_eq!(r.status, 200, "{r}");
    r.json["value"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| v["subscriptionId"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// The private IP addresses of an endpoint (from `customDnsConfigs`).
fn ips(pe: &Value) -> Vec<String> {
    common::private_link::dns_configs(pe).into_iter().flat_map(|(_, ips)| ips).collect()
}

/// A Reader at the subscription reads everything in it (GET and lists), but a PUT or DELETE is
/// `403 AuthorizationFailed` naming the action (`{type}/write`, `.../resourceGroups/write`,
/// `{type}/delete`) and the resource as scope, and nothing changes.
#[tokio::test]
async fn a_reader_can_read_but_not_write() {
    let s = Server::start().await;
    s.create_rg("rg").await;
    let vnet = s.create_vnet("rg", "vnet", &["10.1.0.0/16"], &[("a", "10.1.1.0/24")]).await;
    let vnet_id = id_of(&vnet);
    let reader = s.create_principal(None, "reader").await;
    grant(&s, &s.sub(), READER, &reader).await;

    s.act_as(&reader).await;
    assert_eq!(listed_subscriptions(&s).await, vec![s.subscription.clone()]);
    assert_eq!(s.get(&s.sub()).await.status, 200);
    assert_eq!(s.get(&s.rg("rg")).await.status, 200);
    assert_eq!(common::names(&s.get(&format!("{}/resourceGroups", s.sub())).await.json), ["rg"]);
    let got = s.get(&s.vnet("rg", "vnet")).await;
    assert_eq!(got.status, 200, "{got}");
    assert_eq!(got.json, vnet, "the reader sees what the owner sees");
    assert_eq!(s.get(&s.subnet("rg", "vnet", "a")).await.status, 200);
    assert_eq!(common::names(&s.get(&s.net("rg", "virtualNetworks")).await.json), ["vnet"]);

    let mut changed = vnet_body(&["10.1.0.0/16"], &[("a", "10.1.1.0/24")]);
    changed["tags"] = json!({ "by": "reader" });
    let r = s.put(&s.vnet("rg", "vnet"), &changed).await;
    expect_denied(&r, &reader, "Microsoft.Network/virtualNetworks/write", &vnet_id);
    let r = s.put(&s.rg("rg2"), &json!({ "location": LOCATION })).await;
    expect_denied(&r, &reader, "Microsoft.Resources/subscriptions/resourceGroups/write", &s.rg("rg2"));
    let r = s.delete(&s.vnet("rg", "vnet")).await;
    expect_denied(&r, &reader, "Microsoft.Network/virtualNetworks/delete", &vnet_id);
    let r = s.delete(&s.rg("rg")).await;
    expect_denied(&r, &reader, "Microsoft.Resources/subscriptions/resourceGroups/delete", &s.rg("rg"));

    s.act_as_admin();
    let after = s.get(&s.vnet("rg", "vnet")).await;
    assert_eq!(after.json, vnet, "the refused writes changed nothing");
    expect_error(&s.get(&s.rg("rg2")).await, 404, "ResourceGroupNotFound");
}

/// A Contributor writes resources (groups, networks, storage accounts) but may not manage
/// access: creating or deleting a role assignment is `403 AuthorizationFailed` for
/// `Microsoft.Authorization/roleAssignments/write` / `delete`; reading them is allowed.
#[tokio::test]
async fn a_contributor_writes_resources_but_cannot_assign_roles() {
    let s = Server::start().await;
    let contributor = s.create_principal(None, "contributor").await;
    let other = s.create_principal(None, "other").await;
    let own = grant(&s, &s.sub(), CONTRIBUTOR, &contributor).await;

    s.act_as(&contributor).await;
    s.create_rg("rg").await;
    s.create_vnet("rg", "vnet", &["10.1.0.0/16"], &[("a", "10.1.1.0/24")]).await;
    s.create_storage(&s.rg("rg"), "sa1", "StorageV2").await;

    let r = s.assign_role(&s.rg("rg"), READER, &other.object_id).await;
    expect_error(&r, 403, "AuthorizationFailed");
    assert!(message(&r).contains("'Microsoft.Authorization/roleAssignments/write'"), "{r}");
    assert!(message(&r).contains(&format!("'{}'", contributor.app_id)), "{r}");
    let r = s.delete(&format!("{own}?{AUTH_API}")).await;
    expect_error(&r, 403, "AuthorizationFailed");
    assert!(message(&r).contains("'Microsoft.Authorization/roleAssignments/delete'"), "{r}");

    let listed = s.get(&format!("{}/providers/Microsoft.Authorization/roleAssignments?{AUTH_API}", s.sub())).await;
    assert_eq!(listed.status, 200, "{listed}");
    let principals: Vec<&str> = listed.json["value"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["properties"]["principalId"].as_str())
        .collect();
    assert!(principals.contains(&contributor.object_id.as_str()), "{listed}");
    assert!(!principals.contains(&other.object_id.as_str()), "the refused assignment was not stored: {listed}");
    s.act_as_admin();
    let still = s.get(&format!("{own}?{AUTH_API}")).await;
    assert_eq!(still.status, 200, "the refused delete removed nothing: {still}");
}

/// Seed scenario "no approval rights on the target": a Network Contributor on the endpoint's
/// resource group (nothing on the storage account) asking for an automatic connection gets
/// `403 LinkedAuthorizationFailed` for `privateEndpointConnectionsApproval/action` on the
/// account, with nothing stored and no address used; a manual connection is created Pending.
/// Once a custom role holding just that action (assignable in the account's group) is assigned
/// to the principal on the account, the automatic path is Approved ("Auto-Approved").
#[tokio::test]
async fn approval_rights_on_the_target_decide_automatic_connections() {
    let s = Server::start().await;
    let targets = s.rg("targets");
    s.create_rg_at(&targets).await;
    let sa = s.create_storage(&targets, "sa1", "StorageV2").await;
    let net = s.rg("net");
    let subnet = s.landing(&net, "10.1.0.0/16", "10.1.1.0/24").await;
    let netops = s.create_principal(None, "netops").await;
    grant(&s, &net, NETWORK_CONTRIBUTOR, &netops).await;

    s.act_as(&netops).await;
    let auto = pe_path(&net, "pe-auto");
    let r = s.put(&auto, &pe_body(&subnet, &sa, &["blob"], false, "")).await;
    expect_linked_denied(&r, &netops, &auto, STORAGE_APPROVAL, &sa);
    s.assert_not_stored(&auto, &net, &[], Some((&sa, 0))).await;
    // The account itself stays out of reach.
    expect_denied(&s.get(&sa).await, &netops, "Microsoft.Storage/storageAccounts/read", &sa);

    let manual = pe_path(&net, "pe-manual");
    let pe = s.put_ok(&manual, &pe_body(&subnet, &sa, &["blob"], true, "netops asks")).await;
    assert_eq!(ips(&pe), ["10.1.1.4"], "the refused endpoint used no address");
    assert_eq!(state_of(&pe_connection(&pe)), ("Pending".to_string(), "Awaiting approval".to_string()));
    s.assert_connection(&manual, &sa, "Pending", "Awaiting approval").await;

    // A custom role with just the approval action, assignable in the account's group.
    s.act_as_admin();
    let role = uuid::Uuid::new_v4().to_string();
    let definition = json!({ "properties": {
        "roleName": "Storage private endpoint approver",
        "description": "Approve private endpoint connections to storage accounts",
        "type": "CustomRole",
        "permissions": [{ "actions": [STORAGE_APPROVAL], "notActions": [] }],
        "assignableScopes": [targets],
    }});
    let r = s
        .request(
            Method::PUT,
            &format!("{targets}/providers/Microsoft.Authorization/roleDefinitions/{role}?{AUTH_API}"),
            Some(&definition),
            &[],
        )
        .await;
    assert_eq!(r.status, 201, "{r}");
    assert_eq!(r.json["properties"]["type"], "CustomRole", "{r}");
    grant(&s, &sa, &role, &netops).await;

    s.act_as(&netops).await;
    let pe = s.put_ok(&auto, &pe_body(&subnet, &sa, &["blob"], false, "")).await;
    assert_eq!(ips(&pe), ["10.1.1.5"]);
    assert_eq!(pe["properties"]["manualPrivateLinkServiceConnections"], json!([]), "{pe}");
    s.assert_connection(&auto, &sa, "Approved", "Auto-Approved").await;
    // The custom role grants nothing else on the account.
    expect_denied(&s.get(&sa).await, &netops, "Microsoft.Storage/storageAccounts/read", &sa);
}

/// Placing a private endpoint or a NIC in a subnet needs
/// `Microsoft.Network/virtualNetworks/subnets/join/action` on that subnet: rights on the
/// endpoint's own resource group are not enough when the VNet lives in another group
/// (`403 LinkedAuthorizationFailed` naming the subnet), until the VNet's group grants it.
#[tokio::test]
async fn joining_a_subnet_needs_rights_on_the_vnet() {
    let s = Server::start().await;
    let vnets = s.rg("vnets");
    let subnet = s.landing(&vnets, "10.1.0.0/16", "10.1.1.0/24").await;
    let endpoints = s.rg("endpoints");
    s.create_rg_at(&endpoints).await;
    let sa = s.create_storage(&s.rg("endpoints"), "sa1", "StorageV2").await;
    let app = s.create_principal(None, "app-team").await;
    grant(&s, &endpoints, NETWORK_CONTRIBUTOR, &app).await;
    grant(&s, &sa, STORAGE_ACCOUNT_CONTRIBUTOR, &app).await;

    s.act_as(&app).await;
    let path = pe_path(&endpoints, "pe1");
    let r = s.put(&path, &pe_body(&subnet, &sa, &["blob"], false, "")).await;
    expect_linked_denied(&r, &app, &path, JOIN, &subnet);
    s.assert_not_stored(&path, &endpoints, &[], Some((&sa, 0))).await;
    let nic = format!("{endpoints}/providers/Microsoft.Network/networkInterfaces/nic1");
    let r = s.put(&nic, &nic_body(&subnet, None)).await;
    expect_error(&r, 403, "LinkedAuthorizationFailed");
    let m = message(&r);
    assert!(
        m.contains("'Microsoft.Network/networkInterfaces/write'") && m.contains(JOIN) && m.contains(&subnet),
        "{m}"
    );

    // The VNet's owner lets the team join (Network Contributor on the VNet).
    let vnet_id = subnet.rsplit_once("/subnets/").map(|(v, _)| v.to_string()).unwrap_or_default();
    assert!(vnet_id.eq_ignore_ascii_case(&vnet_path(&vnets, "vnet")), "{vnet_id}");
    grant(&s, &vnet_id, NETWORK_CONTRIBUTOR, &app).await;
    s.act_as(&app).await;
    let pe = s.put_ok(&path, &pe_body(&subnet, &sa, &["blob"], false, "")).await;
    assert_eq!(ips(&pe), ["10.1.1.4"], "the refused attempts used no address");
    s.assert_connection(&path, &sa, "Approved", "Auto-Approved").await;
    assert_eq!(s.create_nic("endpoints", "nic1", &subnet, None).await.status, 201);
}

/// Assignments are inherited downwards: Contributor on one resource group applies to every
/// resource in it, and to nothing in another group, nor to the subscription (creating a group
/// is a subscription-level write).
#[tokio::test]
async fn an_assignment_applies_to_its_scope_and_below_only() {
    let s = Server::start().await;
    s.create_rg("a").await;
    s.create_rg("b").await;
    s.create_vnet("a", "vnet", &["10.1.0.0/16"], &[("s", "10.1.1.0/24")]).await;
    s.create_vnet("b", "vnet", &["10.2.0.0/16"], &[("s", "10.2.1.0/24")]).await;
    let scoped = s.create_principal(None, "scoped").await;
    grant(&s, &s.rg("a"), CONTRIBUTOR, &scoped).await;

    s.act_as(&scoped).await;
    assert_eq!(s.get(&s.rg("a")).await.status, 200);
    assert_eq!(s.get(&s.vnet("a", "vnet")).await.status, 200);
    assert_eq!(s.get(&s.subnet("a", "vnet", "s")).await.status, 200, "down to child resources");
    s.create_vnet("a", "vnet2", &["10.3.0.0/16"], &[]).await;
    s.create_storage(&s.rg("a"), "sa1", "StorageV2").await;

    let b_vnet = id_of(&{
        s.act_as_admin();
        s.get(&s.vnet("b", "vnet")).await.json
    });
    s.act_as(&scoped).await;
    expect_denied(&s.get(&s.vnet("b", "vnet")).await, &scoped, "Microsoft.Network/virtualNetworks/read", &b_vnet);
    expect_denied(
        &s.get(&s.rg("b")).await,
        &scoped,
        "Microsoft.Resources/subscriptions/resourceGroups/read",
        &s.rg("b"),
    );
    let r = s.put(&s.vnet("b", "vnet2"), &vnet_body(&["10.4.0.0/16"], &[])).await;
    expect_error(&r, 403, "AuthorizationFailed");
    expect_error(&s.get(&s.net("b", "virtualNetworks")).await, 403, "AuthorizationFailed");
    let r = s.put(&s.rg("c"), &json!({ "location": LOCATION })).await;
    expect_denied(&r, &scoped, "Microsoft.Resources/subscriptions/resourceGroups/write", &s.rg("c"));
    // A role anywhere in the subscription makes it listed.
    assert_eq!(listed_subscriptions(&s).await, vec![s.subscription.clone()]);

    s.act_as_admin();
    expect_error(&s.get(&s.vnet("b", "vnet2")).await, 404, "ResourceNotFound");
    expect_error(&s.get(&s.rg("c")).await, 404, "ResourceGroupNotFound");
}

/// Rights are evaluated on every request, not frozen into the token: once the assignment is
/// deleted, the same token's next request is `403`, and the subscription drops out of its list.
#[tokio::test]
async fn deleting_an_assignment_removes_the_right_at_once() {
    let s = Server::start().await;
    s.create_rg("rg").await;
    let p = s.create_principal(None, "temp").await;
    let assignment = grant(&s, &s.rg("rg"), READER, &p).await;

    s.act_as(&p).await;
    assert_eq!(s.get(&s.rg("rg")).await.status, 200);
    assert_eq!(listed_subscriptions(&s).await, vec![s.subscription.clone()]);

    s.act_as_admin();
    let r = s.delete(&format!("{assignment}?{AUTH_API}")).await;
    assert_eq!(r.status, 200, "{r}");
    assert_eq!(r.json["properties"]["principalId"], p.object_id.as_str(), "the deleted assignment is returned");

    s.act_as(&p).await;
    expect_denied(&s.get(&s.rg("rg")).await, &p, "Microsoft.Resources/subscriptions/resourceGroups/read", &s.rg("rg"));
    assert!(listed_subscriptions(&s).await.is_empty());
}

/// Tenants are isolated both ways: a token from tenant B on tenant A's subscription (and A's
/// administrator on B's) is `401 InvalidAuthenticationTokenTenant`, pointing at the right
/// authority, even when A assigned B's principal a role; each `GET /subscriptions` and
/// `GET /tenants` lists only its own tenant.
#[tokio::test]
async fn tenants_are_isolated_both_ways() {
    let s = Server::start().await;
    s.create_rg("rg-a").await;
    let b = s.create_tenant("contoso-b").await;
    let b_owner = s.create_principal(Some(&b), "b-owner").await;
    let sub_b = s.create_subscription_for(Some(&b), &b_owner.object_id).await;
    // Even a role assigned in A (privlink does not check that the principal is A's) does not
    // let B's principal in.
    let r = s.assign_role(&s.sub(), READER, &b_owner.object_id).await;
    assert_eq!(r.status, 201, "{r}");

    s.act_as(&b_owner).await;
    assert_eq!(listed_subscriptions(&s).await, vec![sub_b.clone()]);
    let tenants = s.get("/tenants").await;
    assert_eq!(tenants.json["value"].as_array().map(Vec::len), Some(1), "{tenants}");
    assert_eq!(tenants.json["value"][0]["tenantId"], b.as_str());
    let wrong_tenant = |r: &Resp, home: &str| {
        expect_error(r, 401, "InvalidAuthenticationTokenTenant");
        let challenge = r.header("www-authenticate").unwrap_or_default();
        assert!(challenge.starts_with(&format!("Bearer authorization_uri=\"{}/{home}\"", s.url)), "{challenge}");
    };
    wrong_tenant(&s.get(&s.sub()).await, &s.tenant);
    wrong_tenant(&s.get(&s.rg("rg-a")).await, &s.tenant);
    wrong_tenant(&s.put(&s.rg("rg-from-b"), &json!({ "location": LOCATION })).await, &s.tenant);
    let assignments = format!("{}/providers/Microsoft.Authorization/roleAssignments?{AUTH_API}", s.sub());
    wrong_tenant(&s.get(&assignments).await, &s.tenant);
    s.create_rg_at(&rg_path(&sub_b, "rg-b")).await;

    s.act_as_admin();
    assert_eq!(listed_subscriptions(&s).await, vec![s.subscription.clone()]);
    let tenants = s.get("/tenants").await;
    assert_eq!(tenants.json["value"].as_array().map(Vec::len), Some(1), "{tenants}");
    assert_eq!(tenants.json["value"][0]["tenantId"], s.tenant.as_str());
    wrong_tenant(&s.get(&format!("/subscriptions/{sub_b}")).await, &b);
    wrong_tenant(&s.get(&rg_path(&sub_b, "rg-b")).await, &b);
    wrong_tenant(&s.delete(&rg_path(&sub_b, "rg-b")).await, &b);
    expect_error(&s.get(&s.rg("rg-from-b")).await, 404, "ResourceGroupNotFound");

    s.act_as(&b_owner).await;
    assert_eq!(s.get(&rg_path(&sub_b, "rg-b")).await.status, 200, "the admin's refused delete did nothing");
}

/// A private endpoint across tenants: B's owner, in B's subscription, asks for A's storage
/// account. Automatic is `LinkedAuthorizationFailed` (B holds nothing in A); manual is created
/// Pending; A's administrator approves it on the account's `privateEndpointConnections/{name}`
/// and B sees Approved on its endpoint.
#[tokio::test]
async fn a_cross_tenant_endpoint_waits_for_the_target_tenant_to_approve() {
    let s = Server::start().await;
    let a_rg = s.rg("rg");
    s.create_rg_at(&a_rg).await;
    let sa = s.create_storage(&a_rg, "sa1", "StorageV2").await;
    let b = s.create_tenant("contoso-b").await;
    let b_owner = s.create_principal(Some(&b), "b-owner").await;
    let sub_b = s.create_subscription_for(Some(&b), &b_owner.object_id).await;
    s.remember_owner(&sub_b, b_owner.clone());

    s.act_as(&b_owner).await;
    let b_rg = rg_path(&sub_b, "rg-b");
    let subnet = s.landing(&b_rg, "10.9.0.0/16", "10.9.1.0/24").await;
    let auto = pe_path(&b_rg, "pe-auto");
    let r = s.put(&auto, &pe_body(&subnet, &sa, &["blob"], false, "")).await;
    expect_linked_denied(&r, &b_owner, &auto, STORAGE_APPROVAL, &sa);
    s.assert_not_stored(&auto, &b_rg, &[], Some((&sa, 0))).await;

    let manual = pe_path(&b_rg, "pe-manual");
    let pe = s.put_ok(&manual, &pe_body(&subnet, &sa, &["blob"], true, "from tenant B")).await;
    assert_eq!(ips(&pe), ["10.9.1.4"]);
    let (_, target) = s.assert_connection(&manual, &sa, "Pending", "Awaiting approval").await;
    assert_eq!(target["properties"]["privateEndpoint"]["id"], id_of(&pe).as_str());
    // B cannot approve on A's account: its token is not for A's tenant.
    let mut approve = target.clone();
    approve["properties"]["privateLinkServiceConnectionState"]["status"] = json!("Approved");
    expect_error(&s.put(&id_of(&target), &approve).await, 401, "InvalidAuthenticationTokenTenant");

    s.act_as_admin();
    let r = s.decide(&id_of(&target), "Approved", "Welcome from A").await;
    assert_eq!(r.status, 200, "{r}");

    s.act_as(&b_owner).await;
    let seen = s.get(&manual).await;
    assert_eq!(seen.status, 200, "{seen}");
    assert_eq!(state_of(&pe_connection(&seen.json)), ("Approved".to_string(), "Welcome from A".to_string()));
    s.assert_connection(&manual, &sa, "Approved", "Welcome from A").await;
}

/// The administrator's Owner assignment on the default subscription is an ordinary role
/// assignment, listed with the built-in Owner role.
#[tokio::test]
async fn the_administrator_is_owner_of_the_default_subscription() {
    let s = Server::start().await;
    let r = s.get(&format!("{}/providers/Microsoft.Authorization/roleAssignments?{AUTH_API}", s.sub())).await;
    assert_eq!(r.status, 200, "{r}");
    let admin = s.credentials["objectId"].as_str().unwrap_or_default();
    let owner = r.json["value"].as_array().into_iter().flatten().find(|a| {
        a["properties"]["principalId"] == admin
            && a["properties"]["roleDefinitionId"].as_str().is_some_and(|d| d.ends_with(OWNER))
    });
    assert!(owner.is_some(), "no Owner assignment for the administrator: {r}");
    assert_eq!(owner.map(|o| o["properties"]["scope"].clone()), Some(json!(s.sub())));
}

/// Who holds which role is itself protected: a principal without any role cannot list the
/// subscription's role assignments (403), a Reader can; an unknown api-version is refused.
#[tokio::test]
async fn role_assignments_are_readable_only_with_read_rights() {
    let s = Server::start().await;
    let nobody = s.create_principal(None, "nobody").await;
    let reader = s.create_principal(None, "reader").await;
    let r = s.assign_role(&s.sub(), READER, &reader.object_id).await;
    assert_eq!(r.status, 201, "{r}");
    let list = format!("{}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01", s.sub());

    s.act_as(&nobody).await;
    expect_error(&s.send(Method::GET, &list, None, &[]).await, 403, "AuthorizationFailed");
    s.act_as(&reader).await;
    let r = s.send(Method::GET, &list, None, &[]).await;
    assert_eq!(r.status, 200, "{r}");
    assert!(r.json["value"].as_array().is_some_and(|v| v.len() >= 2), "the admin's and the reader's: {r}");

    s.act_as_admin();
    let bad = format!("{}/providers/Microsoft.Authorization/roleAssignments?api-version=banana", s.sub());
    expect_error(&s.send(Method::GET, &bad, None, &[]).await, 400, "InvalidApiVersionParameter");
}

/// The data-plane views (resolvers, proxies, diagnose) show a caller only the VNets it may read.
#[tokio::test]
async fn data_plane_listings_show_only_what_the_caller_may_read() {
    let s = Server::start().await;
    s.create_rg("mine").await;
    s.create_rg("theirs").await;
    let mine = id_of(&s.create_vnet("mine", "vnet-mine", &["10.1.0.0/16"], &[]).await);
    let theirs = id_of(&s.create_vnet("theirs", "vnet-theirs", &["10.2.0.0/16"], &[]).await);
    s.resolver(&theirs).await; // both bound before the reader looks
    let reader = s.create_principal(None, "reader").await;
    grant(&s, &s.rg("mine"), READER, &reader).await;
    s.act_as(&reader).await;
    for listing in ["/privlink/dns/resolvers", "/privlink/gateway/proxies"] {
        let r = s.get(listing).await;
        assert_eq!(r.status, 200, "{listing}: {r}");
        let listed: Vec<String> = r.json["value"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v["virtualNetwork"].as_str().map(str::to_ascii_lowercase))
            .collect();
        assert!(listed.contains(&mine.to_ascii_lowercase()), "{listing}: {r}");
        assert!(!listed.contains(&theirs.to_ascii_lowercase()), "{listing} shows a VNet the caller may not read: {r}");
    }
    let r = s.get("/privlink/diagnose?name=x.blob.core.windows.net&vnet=vnet-theirs").await;
    expect_error(&r, 400, "VirtualNetworkNotFound");
    let r = s.get("/privlink/dns/query?name=x.blob.core.windows.net&vnet=vnet-mine").await;
    assert_eq!(r.status, 200, "{r}");
}
