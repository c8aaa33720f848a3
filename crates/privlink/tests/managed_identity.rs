//! Managed identities: the `identity` block of target resources (system-assigned, user-assigned
//! or both, rendered with `principalId` / `tenantId` as ARM does), user-assigned identities as
//! resources of their own (`Microsoft.ManagedIdentity/userAssignedIdentities`), and the App
//! Service-style token endpoint (`IDENTITY_ENDPOINT` + `X-IDENTITY-HEADER`) whose tokens carry
//! the identity's principal id as `oid`, so that role assignments to that principal id apply.

mod common;

use common::private_link::{id_of, resource, STORAGE};
use common::{expect_error, jwt_claims, Resp, Server, LOCATION};
use reqwest::Method;
use serde_json::{json, Value};

const UAI: &str = "Microsoft.ManagedIdentity/userAssignedIdentities";
const MI_API: &str = "api-version=2023-01-31";
const READER: &str = "acdd72a7-3385-48ef-bd42-f606fba81ae7";
const ARM: &str = "https://management.azure.com/";

fn storage_with(identity: Value) -> Value {
    json!({ "location": LOCATION, "kind": "StorageV2", "sku": { "name": "Standard_LRS" }, "identity": identity })
}

fn is_guid(v: &Value) -> bool {
    v.as_str().is_some_and(|s| uuid::Uuid::parse_str(s).is_ok())
}

/// PUT the storage account at `path`; asserts 200 and returns the response body.
async fn put_storage(s: &Server, path: &str, body: &Value) -> Value {
    let r = s.put(path, body).await;
    assert_eq!(r.status, 200, "PUT {path}: {r}\n{body}");
    r.json
}

/// Create user-assigned identity `name` in resource group `rg` (a path); returns it.
async fn create_uai(s: &Server, rg: &str, name: &str) -> Value {
    let r = s.put(&format!("{}?{MI_API}", resource(rg, UAI, name)), &json!({ "location": LOCATION })).await;
    assert_eq!(r.status, 201, "creating {name}: {r}");
    r.json
}

/// `GET /privlink/admin/identity-env?resource=...` as the administrator: `(endpoint, header)`.
async fn identity_env(s: &Server, resource_id: &str) -> (String, String) {
    let r =
        s.admin_send(Method::GET, &format!("/privlink/admin/identity-env?resource={resource_id}"), &json!({})).await;
    assert_eq!(r.status, 200, "identity-env for {resource_id}: {r}");
    let env = &r.json["env"];
    (
        env["IDENTITY_ENDPOINT"].as_str().expect("IDENTITY_ENDPOINT").to_string(),
        env["IDENTITY_HEADER"].as_str().expect("IDENTITY_HEADER").to_string(),
    )
}

/// `GET {endpoint}?api-version=2019-08-01&resource=<ARM>{extra}` with `header` as
/// `X-IDENTITY-HEADER` (`None`: no header). No bearer token is sent.
async fn msi_token(s: &Server, endpoint: &str, header: Option<&str>, extra: &str) -> Resp {
    let url = format!("{endpoint}?api-version=2019-08-01&resource={ARM}{extra}");
    let mut headers = vec![("authorization", "")];
    if let Some(h) = header {
        headers.push(("x-identity-header", h));
    }
    s.send(Method::GET, &url, None, &headers).await
}

/// The access token of a successful managed-identity token response, after checking its shape.
#[track_caller]
fn access_token(r: &Resp) -> String {
    assert_eq!(r.status, 200, "{r}");
    assert_eq!(r.json["token_type"], "Bearer", "{r}");
    assert_eq!(r.json["resource"], ARM, "{r}");
    for field in ["expires_on", "expires_in"] {
        assert!(r.json[field].as_str().and_then(|v| v.parse::<i64>().ok()).is_some_and(|v| v > 0), "{field}: {r}");
    }
    r.json["access_token"].as_str().expect("access_token").to_string()
}

/// A system-assigned identity is created by the PUT that asks for it and rendered with a
/// `principalId` and the subscription's `tenantId` (its client id is not shown); re-PUTs keep
/// the same identity, `type: None` removes it, and enabling it again makes a new one.
#[tokio::test]
async fn a_system_assigned_identity_is_stable_until_removed() {
    let s = Server::start().await;
    let rg = s.rg("rg");
    s.create_rg_at(&rg).await;
    let path = resource(&rg, STORAGE, "sa1");
    let sa = put_storage(&s, &path, &storage_with(json!({ "type": "SystemAssigned" }))).await;
    let identity = sa["identity"].clone();
    assert_eq!(identity["type"], "SystemAssigned", "{sa}");
    assert!(is_guid(&identity["principalId"]), "{sa}");
    assert_eq!(identity["tenantId"], s.tenant.as_str());
    assert!(identity.get("clientId").is_none(), "ARM does not render a system identity's client id: {identity}");
    assert_eq!(s.get(&path).await.json["identity"], identity, "GET renders the same identity");

    let mut again = storage_with(json!({ "type": "SystemAssigned" }));
    again["tags"] = json!({ "env": "test" });
    let sa = put_storage(&s, &path, &again).await;
    assert_eq!(sa["identity"], identity, "a re-PUT keeps the identity");
    assert_eq!(sa["tags"], json!({ "env": "test" }));
    // A PATCH (what `az storage account update` sends) changes what it names and keeps the
    // identity, the kind, the sku and the other properties.
    let patched = s.patch(&path, &json!({ "properties": { "minimumTlsVersion": "TLS1_3" } })).await;
    assert_eq!(patched.status, 200, "{patched}");
    assert_eq!(patched.json["identity"], identity, "a PATCH keeps the identity");
    assert_eq!(patched.json["properties"]["minimumTlsVersion"], "TLS1_3");
    assert_eq!(patched.json["tags"], json!({ "env": "test" }));
    assert_eq!(patched.json["kind"], sa["kind"]);
    assert_eq!(patched.json["sku"], sa["sku"]);
    assert_eq!(patched.json["properties"]["publicNetworkAccess"], sa["properties"]["publicNetworkAccess"]);

    let sa = put_storage(&s, &path, &storage_with(json!({ "type": "None" }))).await;
    assert!(sa.get("identity").is_none(), "type None removes the identity: {sa}");
    assert!(s.get(&path).await.json.get("identity").is_none());

    let sa = put_storage(&s, &path, &storage_with(json!({ "type": "SystemAssigned" }))).await;
    assert!(is_guid(&sa["identity"]["principalId"]), "{sa}");
    assert_ne!(sa["identity"]["principalId"], identity["principalId"], "a re-enabled identity is a new principal");
}

/// Invalid identity blocks are `400` naming what is wrong, and change nothing: an unknown type,
/// `UserAssigned` without identities, identities without `UserAssigned`, an identity that does
/// not exist, and an identity on a type that has none (a VNet).
#[tokio::test]
async fn invalid_identities_are_refused() {
    let s = Server::start().await;
    let rg = s.rg("rg");
    s.create_rg_at(&rg).await;
    let path = resource(&rg, STORAGE, "sa1");
    let sa = put_storage(&s, &path, &storage_with(json!({ "type": "SystemAssigned" }))).await;
    let ghost = resource(&rg, UAI, "ghost");

    for (identity, code) in [
        (json!({ "type": "Bogus" }), "InvalidIdentityType"),
        (json!({ "type": "UserAssigned" }), "InvalidIdentityValues"),
        (json!({ "type": "SystemAssigned", "userAssignedIdentities": { ghost.clone(): {} } }), "InvalidIdentityValues"),
        (
            json!({ "type": "UserAssigned", "userAssignedIdentities": { ghost.clone(): {} } }),
            "InvalidUserAssignedIdentity",
        ),
    ] {
        let r = s.put(&path, &storage_with(identity.clone())).await;
        expect_error(&r, 400, code);
        assert_eq!(s.get(&path).await.json["identity"], sa["identity"], "{identity} changed the account");
    }
    let r = s.put(&resource(&rg, STORAGE, "sa2"), &storage_with(json!({ "type": "Bogus" }))).await;
    expect_error(&r, 400, "InvalidIdentityType");
    expect_error(&s.get(&resource(&rg, STORAGE, "sa2")).await, 404, "ResourceNotFound");

    let mut vnet = common::vnet_body(&["10.1.0.0/16"], &[]);
    vnet["identity"] = json!({ "type": "SystemAssigned" });
    expect_error(&s.put(&s.vnet("rg", "vnet"), &vnet).await, 400, "InvalidIdentity");
}

/// `Microsoft.ManagedIdentity/userAssignedIdentities` (2023-01-31): a synchronous PUT (201,
/// then 200) with read-only, stable `tenantId` / `principalId` / `clientId`; GET, lists by
/// resource group and subscription, DELETE. Attached to a storage account next to its
/// system-assigned identity (`"SystemAssigned, UserAssigned"`), it is rendered under
/// `userAssignedIdentities` with its principal and client ids.
#[tokio::test]
async fn user_assigned_identities_are_resources_and_attach_to_accounts() {
    let s = Server::start().await;
    let rg = s.rg("rg");
    s.create_rg_at(&rg).await;
    let uai = create_uai(&s, &rg, "uai1").await;
    let uai_id = id_of(&uai);
    assert_eq!(uai["type"], UAI);
    assert_eq!(uai["name"], "uai1");
    assert_eq!(uai["location"], LOCATION);
    let props = uai["properties"].clone();
    assert_eq!(props["tenantId"], s.tenant.as_str(), "{uai}");
    assert!(is_guid(&props["principalId"]) && is_guid(&props["clientId"]), "{uai}");

    let again = s.put(&format!("{}?{MI_API}", resource(&rg, UAI, "uai1")), &json!({ "location": LOCATION })).await;
    assert_eq!(again.status, 200, "{again}");
    assert_eq!(again.json["properties"], props, "a re-PUT keeps the identity");
    let got = s.get(&format!("{uai_id}?{MI_API}")).await;
    assert_eq!(got.status, 200, "{got}");
    assert_eq!(got.json["properties"], props);

    let uai2 = id_of(&create_uai(&s, &rg, "uai2").await);
    let in_rg = s.get(&format!("{rg}/providers/{UAI}?{MI_API}")).await;
    assert_eq!(common::names(&in_rg.json), ["uai1", "uai2"], "{in_rg}");
    let in_sub = s.get(&format!("{}/providers/{UAI}?{MI_API}", s.sub())).await;
    assert_eq!(common::names(&in_sub.json), ["uai1", "uai2"], "{in_sub}");

    let path = resource(&rg, STORAGE, "sa1");
    let identity = json!({ "type": "SystemAssigned, UserAssigned", "userAssignedIdentities": { uai_id.clone(): {} } });
    let sa = put_storage(&s, &path, &storage_with(identity)).await;
    let rendered = &sa["identity"];
    assert_eq!(rendered["type"], "SystemAssigned, UserAssigned", "{sa}");
    assert!(is_guid(&rendered["principalId"]), "{sa}");
    assert_eq!(
        rendered["userAssignedIdentities"],
        json!({ uai_id.clone(): { "principalId": props["principalId"], "clientId": props["clientId"] } }),
        "{sa}"
    );

    let r = s.delete(&format!("{uai2}?{MI_API}")).await;
    assert_eq!(r.status, 200, "{r}");
    expect_error(&s.get(&format!("{uai2}?{MI_API}")).await, 404, "ResourceNotFound");
    assert_eq!(common::names(&s.get(&format!("{rg}/providers/{UAI}?{MI_API}")).await.json), ["uai1"]);
}

/// The managed-identity endpoint: `identity-env` hands out `IDENTITY_ENDPOINT` and
/// `IDENTITY_HEADER` for a resource (administrators only; a resource without an identity is
/// refused); with that header, `GET /msi/token` returns a token for the system identity
/// (`oid` = its principalId, `tid`, `xms_mirid` = the resource), or for an attached
/// user-assigned identity picked by `client_id`, `principal_id` or `mi_res_id`. A missing or
/// forged header is `401`, an identity the resource does not have `400`.
#[tokio::test]
async fn the_identity_endpoint_issues_tokens_for_the_resource_identities() {
    let s = Server::start().await;
    let rg = s.rg("rg");
    s.create_rg_at(&rg).await;
    let uai = create_uai(&s, &rg, "uai1").await;
    let (uai_id, uai_principal, uai_client) = (
        id_of(&uai),
        uai["properties"]["principalId"].as_str().unwrap_or_default().to_string(),
        uai["properties"]["clientId"].as_str().unwrap_or_default().to_string(),
    );
    let path = resource(&rg, STORAGE, "sa1");
    let identity = json!({ "type": "SystemAssigned, UserAssigned", "userAssignedIdentities": { uai_id.clone(): {} } });
    let sa = put_storage(&s, &path, &storage_with(identity)).await;
    let (sa_id, system_principal) =
        (id_of(&sa), sa["identity"]["principalId"].as_str().unwrap_or_default().to_string());

    let (endpoint, header) = identity_env(&s, &sa_id).await;
    assert_eq!(endpoint, format!("{}/msi/token", s.url));
    assert!(!header.is_empty());

    // Only administrators get the environment; a resource without identity has none.
    let plain = s.create_storage(&rg, "plain", "StorageV2").await;
    let r = s.admin_send(Method::GET, &format!("/privlink/admin/identity-env?resource={plain}"), &json!({})).await;
    expect_error(&r, 400, "ResourceHasNoIdentity");
    let someone = s.create_principal(None, "someone").await;
    let token = s.token_for(&someone).await;
    let r = s
        .send(
            Method::GET,
            &format!("/privlink/admin/identity-env?resource={sa_id}"),
            None,
            &[("authorization", &format!("Bearer {token}"))],
        )
        .await;
    expect_error(&r, 403, "AuthorizationFailed");

    // The system-assigned identity by default.
    let token = access_token(&msi_token(&s, &endpoint, Some(&header), "").await);
    let c = jwt_claims(&token);
    assert_eq!(c["oid"], system_principal.as_str(), "{c}");
    assert_eq!(c["tid"], s.tenant.as_str(), "{c}");
    assert!(c["xms_mirid"].as_str().is_some_and(|m| m.eq_ignore_ascii_case(&sa_id)), "{c}");
    assert_eq!(c["aud"], ARM, "{c}");

    // The user-assigned one, however it is named.
    for extra in
        [format!("&client_id={uai_client}"), format!("&principal_id={uai_principal}"), format!("&mi_res_id={uai_id}")]
    {
        let r = msi_token(&s, &endpoint, Some(&header), &extra).await;
        let token = access_token(&r);
        assert_eq!(r.json["client_id"], uai_client.as_str(), "{extra}: {r}");
        let c = jwt_claims(&token);
        assert_eq!(c["oid"], uai_principal.as_str(), "{extra}: {c}");
        assert!(c["xms_mirid"].as_str().is_some_and(|m| m.eq_ignore_ascii_case(&uai_id)), "{extra}: {c}");
    }

    // The user-assigned identity's own environment acts as that identity.
    let (_, uai_header) = identity_env(&s, &uai_id).await;
    let c = jwt_claims(&access_token(&msi_token(&s, &endpoint, Some(&uai_header), "").await));
    assert_eq!(c["oid"], uai_principal.as_str(), "{c}");

    // Refusals.
    let r = msi_token(&s, &endpoint, None, "").await;
    assert_eq!(r.status, 401, "no header: {r}");
    let forged = format!("{}x", header);
    assert_eq!(msi_token(&s, &endpoint, Some(&forged), "").await.status, 401, "a forged header");
    assert_eq!(msi_token(&s, &endpoint, Some("not.a-header"), "").await.status, 401);
    let r = msi_token(&s, &endpoint, Some(&header), &format!("&client_id={}", uuid::Uuid::new_v4())).await;
    assert_eq!(r.status, 400, "an identity the account does not have: {r}");
    assert!(r.json["error"].as_str().is_some_and(|e| !e.is_empty()), "{r}");
}

/// A managed identity is a principal like any other: its token is authenticated by ARM but
/// authorized by role assignments to its principal id, so it is `403 AuthorizationFailed`
/// (naming the principal id) until the administrator assigns Reader on the account, then it
/// reads the account, and still cannot write it. Once the account is deleted, its
/// `IDENTITY_HEADER` no longer yields a token (400).
#[tokio::test]
async fn a_managed_identity_token_is_authorized_by_role_assignments() {
    let s = Server::start().await;
    let rg = s.rg("rg");
    s.create_rg_at(&rg).await;
    let path = resource(&rg, STORAGE, "sa1");
    let sa = put_storage(&s, &path, &storage_with(json!({ "type": "SystemAssigned" }))).await;
    let (sa_id, principal) = (id_of(&sa), sa["identity"]["principalId"].as_str().unwrap_or_default().to_string());
    let (endpoint, header) = identity_env(&s, &sa_id).await;
    let token = access_token(&msi_token(&s, &endpoint, Some(&header), "").await);

    s.act_as_token(&token);
    let r = s.get(&path).await;
    expect_error(&r, 403, "AuthorizationFailed");
    let message = r.json["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(&format!("with object id '{principal}'")), "{message}");
    assert!(message.contains("'Microsoft.Storage/storageAccounts/read'") && message.contains(&sa_id), "{message}");

    s.act_as_admin();
    let r = s.assign_role(&sa_id, READER, &principal).await;
    assert_eq!(r.status, 201, "{r}");

    s.act_as_token(&token);
    let r = s.get(&path).await;
    assert_eq!(r.status, 200, "{r}");
    assert_eq!(r.json["identity"]["principalId"], principal.as_str());
    let r = s.put(&path, &storage_with(json!({ "type": "SystemAssigned" }))).await;
    expect_error(&r, 403, "AuthorizationFailed");
    expect_error(&s.get(&s.rg("rg")).await, 403, "AuthorizationFailed");

    s.act_as_admin();
    s.delete_ok(&path).await;
    let r = msi_token(&s, &endpoint, Some(&header), "").await;
    assert_eq!(r.status, 400, "a deleted resource's identity header yields no token: {r}");
    assert_eq!(r.json["error"], "invalid_request", "{r}");
}

/// Deleting a user-assigned identity ends it: the resources it was attached to can no longer
/// get tokens for it (Azure: the identity's service principal is deleted with it).
#[tokio::test]
async fn a_deleted_user_assigned_identity_yields_no_more_tokens() {
    let s = Server::start().await;
    let rg = s.rg("rg");
    s.create_rg_at(&rg).await;
    let uai = create_uai(&s, &rg, "uai1").await;
    let (uai_id, uai_client) = (id_of(&uai), uai["properties"]["clientId"].as_str().unwrap_or_default().to_string());
    let path = resource(&rg, STORAGE, "sa1");
    let identity = json!({ "type": "UserAssigned", "userAssignedIdentities": { uai_id.clone(): {} } });
    let sa = put_storage(&s, &path, &storage_with(identity)).await;
    let (endpoint, header) = identity_env(&s, &id_of(&sa)).await;
    let selector = format!("&client_id={uai_client}");
    access_token(&msi_token(&s, &endpoint, Some(&header), &selector).await);

    let r = s.delete(&format!("{uai_id}?{MI_API}")).await;
    assert_eq!(r.status, 200, "{r}");
    let r = msi_token(&s, &endpoint, Some(&header), &selector).await;
    assert_eq!(r.status, 400, "a token for a deleted user-assigned identity: {r}");
}

/// An identity header is bound to one incarnation of its resource: a user-assigned identity
/// deleted and created again under the same id is a new identity (new principal id), and the
/// old header no longer yields tokens for it.
#[tokio::test]
async fn an_identity_header_does_not_outlive_its_resource() {
    let s = Server::start().await;
    let rg = s.rg("rg");
    s.create_rg_at(&rg).await;
    let first = create_uai(&s, &rg, "u1").await;
    let (endpoint, header) = identity_env(&s, &id_of(&first)).await;
    access_token(&msi_token(&s, &endpoint, Some(&header), "").await);

    let r = s.delete(&format!("{}?{MI_API}", id_of(&first))).await;
    assert_eq!(r.status, 200, "{r}");
    let second = create_uai(&s, &rg, "u1").await;
    assert_ne!(second["properties"]["principalId"], first["properties"]["principalId"], "a new identity");
    let r = msi_token(&s, &endpoint, Some(&header), "").await;
    assert_eq!(r.status, 400, "the old header must not act as the new identity: {r}");
    let (_, fresh) = identity_env(&s, &id_of(&second)).await;
    access_token(&msi_token(&s, &endpoint, Some(&fresh), "").await);
}
