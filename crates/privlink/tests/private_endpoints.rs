//! Microsoft.Network/privateEndpoints to catalogued targets (Storage, Data Explorer, Device
//! Update): the connection state machine checked from both sides (the endpoint's connection and
//! the target's `privateEndpointConnections` entry), who may approve, the endpoint's NIC and
//! IPs, static IP configurations, bad input (refused with nothing stored), limits from
//! `privlink.toml`, deleting the target, and the `privlink endpoints` / `privlink connections`
//! CLI.
//!
//! Every test lands its endpoints in VNet `vnet` (10.1.0.0/16) subnet `pe` (10.1.1.0/24) of
//! resource group `rg`, so the first private endpoint IP is always 10.1.1.4 (.0-.3 are
//! reserved).

mod common;

use common::private_link::{
    dns_configs, id_of, nic_configs, nic_path, pe_body, pe_connection, pe_nic_id, pe_path, resource, rg_path, state_of,
    vnet_path, STORAGE,
};
use common::{expect_error, nic_body, nic_ip, Server, LOCATION};
use serde_json::{json, Value};

const SPACE: &str = "10.1.0.0/16";
const SUBNET: &str = "10.1.1.0/24";
const STORAGE_APPROVAL_ACTION: &str = "Microsoft.Storage/storageAccounts/privateEndpointConnectionsApproval/action";
const KUSTO: &str = "Microsoft.Kusto/clusters";
const NETWORK_CONTRIBUTOR: &str = "4d97b98b-1d4f-4787-a291-c67834d212e7";
const DEVICE_UPDATE: &str = "Microsoft.DeviceUpdate/accounts";

/// Resource group `rg` of the default subscription with the landing VNet and a StorageV2
/// account `sa1`: `(rg path, subnet id, storage account id)`.
async fn storage_landing(s: &Server) -> (String, String, String) {
    let rg = s.rg("rg");
    let subnet = s.landing(&rg, SPACE, SUBNET).await;
    let sa = s.create_storage(&rg, "sa1", "StorageV2").await;
    (rg, subnet, sa)
}

fn ips(pe: &Value) -> Vec<String> {
    dns_configs(pe).into_iter().flat_map(|(_, ips)| ips).collect()
}

fn pair(status: &str, description: &str) -> (String, String) {
    (status.to_string(), description.to_string())
}

fn kusto_body() -> Value {
    json!({ "location": LOCATION, "sku": { "name": "Dev(No SLA)_Standard_E2a_v4", "tier": "Basic" } })
}

// ---- the connection state machine ----------------------------------------------------------------

#[tokio::test]
async fn manual_connection_goes_pending_approved_rejected_on_both_sides() {
    let s = Server::start().await;
    let (rg, subnet, sa) = storage_landing(&s).await;
    let path = pe_path(&rg, "pe-manual");
    let pe = s.put_ok(&path, &pe_body(&subnet, &sa, &["blob"], true, "Please approve pe-manual")).await;
    let pe_id = id_of(&pe);

    // The endpoint's side: the connection sits in the manual array, Pending.
    assert_eq!(pe["properties"]["privateLinkServiceConnections"], json!([]), "{pe}");
    let conn = pe_connection(&pe);
    assert_eq!(conn["name"], "conn");
    assert_eq!(conn["id"], format!("{pe_id}/manualPrivateLinkServiceConnections/conn").as_str());
    assert_eq!(conn["properties"]["privateLinkServiceId"], sa.as_str());
    assert_eq!(conn["properties"]["groupIds"], json!(["blob"]));
    assert_eq!(conn["properties"]["requestMessage"], "Please approve pe-manual");
    assert_eq!(
        conn["properties"]["privateLinkServiceConnectionState"],
        json!({ "status": "Pending", "description": "Awaiting approval", "actionsRequired": "None" })
    );

    // The target's side: one connection named after the endpoint, in Storage's shape.
    let (_, target) = s.assert_connection(&path, &sa, "Pending", "Awaiting approval").await;
    assert!(target["name"].as_str().is_some_and(|n| n.starts_with("pe-manual.")), "{target}");
    assert_eq!(target["type"], "Microsoft.Storage/storageAccounts/privateEndpointConnections");
    assert_eq!(target["properties"]["privateEndpoint"]["id"], pe_id.as_str());
    assert_eq!(target["properties"]["groupIds"], json!(["blob"]));
    assert_eq!(target["properties"]["privateLinkServiceConnectionState"]["actionRequired"], "None");
    let cid = id_of(&target);
    assert!(cid.starts_with(&format!("{sa}/privateEndpointConnections/")), "{cid}");

    // Pending → Approved.
    let r = s.decide(&cid, "Approved", "Approved by the storage owner").await;
    assert_eq!(r.status, 200, "{r}");
    assert_eq!(state_of(&r.json), pair("Approved", "Approved by the storage owner"), "{r}");
    s.assert_connection(&path, &sa, "Approved", "Approved by the storage owner").await;

    // Nothing goes back to Pending.
    expect_error(&s.decide(&cid, "Pending", "back to pending").await, 400, "InvalidPrivateEndpointConnectionStatus");
    s.assert_connection(&path, &sa, "Approved", "Approved by the storage owner").await;

    // Approved → Rejected.
    let r = s.decide(&cid, "Rejected", "Rejected after review").await;
    assert_eq!(r.status, 200, "{r}");
    assert_eq!(state_of(&r.json), pair("Rejected", "Rejected after review"), "{r}");
    let (pe, _) = s.assert_connection(&path, &sa, "Rejected", "Rejected after review").await;
    expect_error(&s.decide(&cid, "Pending", "back to pending").await, 400, "InvalidPrivateEndpointConnectionStatus");
    s.assert_connection(&path, &sa, "Rejected", "Rejected after review").await;

    // The request message stays on the endpoint's side through every transition.
    assert_eq!(pe_connection(&pe)["properties"]["requestMessage"], "Please approve pe-manual");
    // An unknown status is refused.
    expect_error(&s.decide(&cid, "Maybe", "?").await, 400, "InvalidPrivateEndpointConnectionStatus");
}

#[tokio::test]
async fn pending_connection_can_be_rejected_directly() {
    let s = Server::start().await;
    let (rg, subnet, sa) = storage_landing(&s).await;
    let path = pe_path(&rg, "pe-reject");
    s.put_ok(&path, &pe_body(&subnet, &sa, &["blob"], true, "")).await;
    let (_, target) = s.assert_connection(&path, &sa, "Pending", "Awaiting approval").await;

    // The whole GET body goes back; read-only fields in it are accepted and ignored.
    let mut body = target.clone();
    body["properties"]["privateLinkServiceConnectionState"] =
        json!({ "status": "Rejected", "description": "Not from this network", "actionRequired": "None" });
    body["properties"]["groupIds"] = json!(["file"]);
    body["properties"]["privateEndpoint"]["id"] = json!(pe_path(&rg, "someone-else"));
    body["properties"]["provisioningState"] = json!("Failed");
    let r = s.put(&id_of(&target), &body).await;
    assert_eq!(r.status, 200, "{r}");
    let (pe, after) = s.assert_connection(&path, &sa, "Rejected", "Not from this network").await;
    assert_eq!(after["properties"]["groupIds"], json!(["blob"]), "{after}");
    assert_eq!(after["properties"]["privateEndpoint"]["id"], id_of(&pe).as_str(), "{after}");
    assert_eq!(after["properties"]["provisioningState"], "Succeeded", "{after}");
    assert_eq!(after["name"], target["name"]);
    expect_error(&s.decide(&id_of(&target), "Pending", "again").await, 400, "InvalidPrivateEndpointConnectionStatus");
    s.assert_connection(&path, &sa, "Rejected", "Not from this network").await;
}

#[tokio::test]
async fn automatic_connection_is_approved_and_removal_disconnects_it_for_good() {
    let s = Server::start().await;
    let (rg, subnet, sa) = storage_landing(&s).await;
    let path = pe_path(&rg, "pe-auto");
    let pe = s.put_ok(&path, &pe_body(&subnet, &sa, &["blob"], false, "")).await;
    assert_eq!(pe["properties"]["manualPrivateLinkServiceConnections"], json!([]), "{pe}");
    assert_eq!(pe_connection(&pe)["id"], format!("{}/privateLinkServiceConnections/conn", id_of(&pe)).as_str());
    let (_, target) = s.assert_connection(&path, &sa, "Approved", "Auto-Approved").await;
    let cid = id_of(&target);

    // The target owner removes the connection: it leaves the target, the endpoint sees Disconnected.
    s.delete_ok(&cid).await;
    assert!(s.target_connections(&sa).await.is_empty());
    let pe = s.get(&path).await;
    assert_eq!(pe.status, 200, "the endpoint stays: {pe}");
    let (status, description) = state_of(&pe_connection(&pe.json));
    assert_eq!(status, "Disconnected", "{pe}");
    assert!(!description.is_empty(), "{pe}");
    assert_eq!(ips(&pe.json), ["10.1.1.4"], "the endpoint keeps its IP until it is deleted");

    // A Disconnected connection cannot be approved (the body a client read before the removal).
    let mut approve = target.clone();
    approve["properties"]["privateLinkServiceConnectionState"]["status"] = json!("Approved");
    let r = s.put(&cid, &approve).await;
    assert_eq!(r.status, 400, "approving a removed (Disconnected) connection: {r}");
    assert!(!r.code().is_empty(), "{r}");
    assert!(s.target_connections(&sa).await.is_empty(), "the refused approval created a connection");
    assert_eq!(state_of(&pe_connection(&s.get(&path).await.json)), pair("Disconnected", &description));

    // All the endpoint's owner can do now is delete it.
    s.delete_ok(&path).await;
    assert!(s.nic_names(&rg).await.is_empty());
}

#[tokio::test]
async fn deleting_the_endpoint_removes_its_connection_and_nic_and_frees_its_ip() {
    let s = Server::start().await;
    let (rg, subnet, sa) = storage_landing(&s).await;
    let first = pe_path(&rg, "pe1");
    let pe = s.put_ok(&first, &pe_body(&subnet, &sa, &["blob"], true, "")).await;
    assert_eq!(dns_configs(&pe), [("sa1.blob.core.windows.net".to_string(), vec!["10.1.1.4".to_string()])]);

    // The NIC `{pe}.nic.{guid}`: one IP configuration per required member, read-only.
    let nic_id = pe_nic_id(&pe);
    let nic_name = nic_id.rsplit('/').next().unwrap_or_default().to_string();
    let guid = nic_name.strip_prefix("pe1.nic.").unwrap_or_else(|| panic!("NIC name {nic_name}"));
    assert!(uuid::Uuid::parse_str(guid).is_ok(), "{nic_name}");
    let nic = s.get(&nic_id).await;
    assert_eq!(nic.status, 200, "{nic}");
    assert_eq!(nic.json["properties"]["privateEndpoint"]["id"], id_of(&pe).as_str());
    let configs = nic_configs(&nic.json);
    assert_eq!(configs.len(), 1, "{nic}");
    assert_eq!((configs[0].1.as_str(), configs[0].2.as_str(), configs[0].3.as_str()), ("10.1.1.4", "Dynamic", "blob"));
    let link = &nic.json["properties"]["ipConfigurations"][0]["properties"]["privateLinkConnectionProperties"];
    assert_eq!(
        *link,
        json!({ "groupId": "blob", "requiredMemberName": "blob", "fqdns": ["sa1.blob.core.windows.net"] })
    );
    expect_error(&s.put(&nic_id, &nic_body(&subnet, None)).await, 400, "CannotModifyNicAttachedToPrivateEndpoint");
    expect_error(&s.delete(&nic_id).await, 400, "CannotDeleteNicAttachedToPrivateEndpoint");
    assert_eq!(nic_ip(&s.get(&nic_id).await.json), "10.1.1.4", "the NIC is unchanged");

    // A second endpoint to the same target takes the next address.
    let second = pe_path(&rg, "pe2");
    let pe2 = s.put_ok(&second, &pe_body(&subnet, &sa, &["blob"], false, "")).await;
    assert_eq!(ips(&pe2), ["10.1.1.5"]);
    assert_eq!(s.target_connections(&sa).await.len(), 2);

    // Deleting the first: its connection leaves the target, its NIC goes, its IP is free again.
    s.delete_ok(&first).await;
    let left = s.target_connections(&sa).await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0]["properties"]["privateEndpoint"]["id"], id_of(&pe2).as_str());
    expect_error(&s.get(&nic_id).await, 404, "ResourceNotFound");
    assert_eq!(s.nic_names(&rg).await.len(), 1);
    s.assert_connection(&second, &sa, "Approved", "Auto-Approved").await;

    let third = pe_path(&rg, "pe3");
    let pe3 = s.put_ok(&third, &pe_body(&subnet, &sa, &["blob"], true, "")).await;
    assert_eq!(ips(&pe3), ["10.1.1.4"], "the deleted endpoint's address is reused");
}

// ---- who may approve -------------------------------------------------------------------------------

#[tokio::test]
async fn a_subscription_that_may_not_approve_is_refused_automatic_and_waits_when_manual() {
    let s = Server::start().await;
    let admin_rg = s.rg("rg");
    s.create_rg_at(&admin_rg).await;
    let sa = s.create_storage(&admin_rg, "sa1", "StorageV2").await;

    // Bob's subscription, with his own VNet; from here bob acts with his own token.
    let bob = s.create_subscription("bob").await;
    let bob_app = s.principal("bob").app_id;
    let admin_app = s.credentials["clientId"].as_str().unwrap_or_default().to_string();
    s.act_as_named("bob").await;
    let bob_rg = rg_path(&bob, "rg-bob");
    let bob_subnet = {
        s.create_rg_at(&bob_rg).await;
        let vnet = s.put_ok(&vnet_path(&bob_rg, "vnet"), &common::vnet_body(&[SPACE], &[("pe", SUBNET)])).await;
        format!("{}/subnets/pe", id_of(&vnet))
    };

    // Automatic: bob may not approve on the account (he holds no role in its subscription) →
    // 403, nothing stored.
    let auto_path = pe_path(&bob_rg, "pe-auto");
    let r = s.put(&auto_path, &pe_body(&bob_subnet, &sa, &["blob"], false, "")).await;
    expect_error(&r, 403, "LinkedAuthorizationFailed");
    let message = r.json["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(STORAGE_APPROVAL_ACTION), "{message}");
    assert!(message.contains(&sa), "the message names the target: {message}");
    assert!(message.contains(&format!("'{bob_app}'")), "the message names the client: {message}");
    assert!(message.contains(&s.principal("bob").object_id), "the message names bob's object id: {message}");
    s.assert_not_stored(&auto_path, &bob_rg, &[], Some((&sa, 0))).await;
    assert!(s.pe_names(&bob_rg).await.is_empty());

    // Manual: Pending until the account's owner acts; the refused attempt used no address.
    let manual_path = pe_path(&bob_rg, "pe-manual");
    let pe = s.put_ok(&manual_path, &pe_body(&bob_subnet, &sa, &["blob"], true, "bob asks")).await;
    assert_eq!(ips(&pe), ["10.1.1.4"]);
    let (_, target) = s.assert_connection(&manual_path, &sa, "Pending", "Awaiting approval").await;
    // Bob cannot approve his own request on the admin's account; the admin can.
    let mut approve = target.clone();
    approve["properties"]["privateLinkServiceConnectionState"]["status"] = json!("Approved");
    expect_error(&s.put(&id_of(&target), &approve).await, 403, "AuthorizationFailed");
    s.assert_connection(&manual_path, &sa, "Pending", "Awaiting approval").await;
    s.act_as_admin();
    let r = s.decide(&id_of(&target), "Approved", "Welcome, bob").await;
    assert_eq!(r.status, 200, "{r}");
    s.assert_connection(&manual_path, &sa, "Approved", "Welcome, bob").await;

    // Bob's automatic connection to his own account is approved; the admin's to bob's is refused.
    s.act_as_named("bob").await;
    let bob_sa = s.create_storage(&bob_rg, "sabob", "StorageV2").await;
    let own = pe_path(&bob_rg, "pe-own");
    s.put_ok(&own, &pe_body(&bob_subnet, &bob_sa, &["blob"], false, "")).await;
    s.assert_connection(&own, &bob_sa, "Approved", "Auto-Approved").await;
    s.act_as_admin();
    let admin_subnet = s.landing(&s.rg("rg-admin"), "10.2.0.0/16", "10.2.1.0/24").await;
    let r =
        s.put(&pe_path(&s.rg("rg-admin"), "pe-to-bob"), &pe_body(&admin_subnet, &bob_sa, &["blob"], false, "")).await;
    expect_error(&r, 403, "LinkedAuthorizationFailed");
    assert!(
        r.json["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains(&format!("'{admin_app}'")) && m.contains(&bob_sa)),
        "{r}"
    );
}

// ---- seed 003: Device Update for IoT Hub -----------------------------------------------------------

/// Seed 003 through the API: a Device Update account, a private endpoint created from the
/// "Private Link Center" with a manual request to sub-resource `DeviceUpdate` and a request
/// message (`az network private-endpoint create ... --group-id DeviceUpdate --request-message
/// "Optional message" --manual-request`), then `az iot du account private-endpoint-connection
/// set --status Approved|Rejected --desc ...`. The endpoint is in the VNet's region, which may
/// differ from the account's.
#[tokio::test]
async fn seed_003_device_update_account_manual_connection_approved_then_rejected() {
    let s = Server::start().await;
    let rg = s.rg("rg");
    let subnet = s.landing(&rg, SPACE, SUBNET).await;
    let account_path = resource(&rg, DEVICE_UPDATE, "contoso-adu");
    let account = s.put_ok(&account_path, &json!({ "location": "eastus" })).await;
    let account_id = id_of(&account);
    assert_eq!(account["type"], DEVICE_UPDATE);
    assert_eq!(account["properties"]["privateEndpointConnections"], json!([]));

    // The one sub-resource: DeviceUpdate.
    let r = s.get(&format!("{account_id}/privateLinkResources")).await;
    assert_eq!(r.status, 200, "{r}");
    assert_eq!(
        r.json["value"],
        json!([{
            "id": format!("{account_id}/privateLinkResources/DeviceUpdate"),
            "name": "DeviceUpdate",
            "type": "Microsoft.DeviceUpdate/accounts/privateLinkResources",
            "properties": {
                "groupId": "DeviceUpdate",
                "requiredMembers": ["DeviceUpdate"],
                "requiredZoneNames": ["privatelink.api.adu.microsoft.com"],
            },
        }])
    );

    let path = pe_path(&rg, "adu-pe");
    let mut body = pe_body(&subnet, &account_id, &["DeviceUpdate"], true, "Optional message");
    body["properties"]["manualPrivateLinkServiceConnections"][0]["name"] = json!("adu-connection");
    let pe = s.put_ok(&path, &body).await;
    assert_eq!(pe["location"], LOCATION, "the endpoint is in its VNet's region, not the account's");
    let conn = pe_connection(&pe);
    assert_eq!(conn["name"], "adu-connection");
    assert_eq!(conn["properties"]["groupIds"], json!(["DeviceUpdate"]));
    assert_eq!(conn["properties"]["requestMessage"], "Optional message");
    assert_eq!(dns_configs(&pe), [("contoso-adu.api.adu.microsoft.com".to_string(), vec!["10.1.1.4".to_string()])]);
    let (_, target) = s.assert_connection(&path, &account_id, "Pending", "Awaiting approval").await;
    assert_eq!(target["type"], "Microsoft.DeviceUpdate/accounts/privateEndpointConnections");
    assert_eq!(target["properties"]["groupIds"], json!(["DeviceUpdate"]));
    assert_eq!(target["properties"]["privateLinkServiceConnectionState"]["actionsRequired"], "None");
    let cid = id_of(&target);

    // `az iot du account private-endpoint-connection set` sends only the new state.
    let set = |status: &str, desc: &str| json!({ "properties": { "privateLinkServiceConnectionState": { "status": status, "description": desc } } });
    let r = s.put(&cid, &set("Approved", "Approved for the factory network")).await;
    assert_eq!(r.status, 200, "{r}");
    assert_eq!(state_of(&r.json), pair("Approved", "Approved for the factory network"));
    let (pe, _) = s.assert_connection(&path, &account_id, "Approved", "Approved for the factory network").await;
    assert_eq!(pe_connection(&pe)["properties"]["requestMessage"], "Optional message");

    let r = s.put(&cid, &set("Rejected", "Factory network decommissioned")).await;
    assert_eq!(r.status, 200, "{r}");
    s.assert_connection(&path, &account_id, "Rejected", "Factory network decommissioned").await;
    let account = s.get(&account_path).await.json;
    let inline = &account["properties"]["privateEndpointConnections"];
    assert_eq!(inline.as_array().map(Vec::len), Some(1), "{account}");
    assert_eq!(
        inline[0]["properties"]["privateLinkServiceConnectionState"]["description"],
        "Factory network decommissioned"
    );
}

// ---- several endpoints, sub-resources and members -------------------------------------------------

#[tokio::test]
async fn several_endpoints_per_target_and_subnet_one_per_sub_resource() {
    let s = Server::start().await;
    let (rg, subnet, sa) = storage_landing(&s).await;

    // Blob and file need one endpoint each; one connection cannot take both.
    let both = pe_path(&rg, "pe-both");
    let r = s.put(&both, &pe_body(&subnet, &sa, &["blob", "file"], false, "")).await;
    expect_error(&r, 400, "PrivateEndpointMultipleGroupIds");
    s.assert_not_stored(&both, &rg, &[], Some((&sa, 0))).await;

    let blob = s.put_ok(&pe_path(&rg, "pe-blob"), &pe_body(&subnet, &sa, &["blob"], false, "")).await;
    let file = s.put_ok(&pe_path(&rg, "pe-file"), &pe_body(&subnet, &sa, &["file"], false, "")).await;
    let blob2 = s.put_ok(&pe_path(&rg, "pe-blob-2"), &pe_body(&subnet, &sa, &["blob"], true, "")).await;
    assert_eq!(dns_configs(&blob), [("sa1.blob.core.windows.net".to_string(), vec!["10.1.1.4".to_string()])]);
    assert_eq!(dns_configs(&file), [("sa1.file.core.windows.net".to_string(), vec!["10.1.1.5".to_string()])]);
    assert_eq!(dns_configs(&blob2), [("sa1.blob.core.windows.net".to_string(), vec!["10.1.1.6".to_string()])]);
    assert_ne!(pe_nic_id(&blob), pe_nic_id(&blob2), "each endpoint has its own NIC");

    // The target lists one connection per endpoint.
    let connections = s.target_connections(&sa).await;
    let mut seen: Vec<(String, String, String)> = connections
        .iter()
        .map(|c| {
            let (status, _) = state_of(c);
            let pe = c["properties"]["privateEndpoint"]["id"].as_str().unwrap_or_default();
            let group = c["properties"]["groupIds"][0].as_str().unwrap_or_default();
            (pe.rsplit('/').next().unwrap_or_default().to_string(), group.to_string(), status)
        })
        .collect();
    seen.sort();
    let expected: Vec<(String, String, String)> =
        [("pe-blob", "blob", "Approved"), ("pe-blob-2", "blob", "Pending"), ("pe-file", "file", "Approved")]
            .iter()
            .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
            .collect();
    assert_eq!(seen, expected);

    // A second subnet of the same VNet has its own addresses.
    let vnet = s.get(&vnet_path(&rg, "vnet")).await.json;
    let subnet2 = format!("{}/subnets/pe2", id_of(&vnet));
    s.put_ok(&subnet2, &json!({ "properties": { "addressPrefix": "10.1.2.0/24" } })).await;
    let other = s.put_ok(&pe_path(&rg, "pe-other-subnet"), &pe_body(&subnet2, &sa, &["queue"], false, "")).await;
    assert_eq!(dns_configs(&other), [("sa1.queue.core.windows.net".to_string(), vec!["10.1.2.4".to_string()])]);
    assert_eq!(s.target_connections(&sa).await.len(), 4);
    let mut names = s.pe_names(&rg).await;
    names.sort();
    assert_eq!(names, ["pe-blob", "pe-blob-2", "pe-file", "pe-other-subnet"]);
}

#[tokio::test]
async fn kusto_endpoint_gets_one_ip_per_required_member() {
    let s = Server::start().await;
    let rg = s.rg("rg");
    let subnet = s.landing(&rg, SPACE, SUBNET).await;
    let cluster = s.put_ok(&resource(&rg, KUSTO, "kc001"), &kusto_body()).await;
    let cluster_id = id_of(&cluster);
    assert_eq!(cluster["properties"]["uri"], "https://kc001.westeurope.kusto.windows.net");

    let r = s.get(&format!("{cluster_id}/privateLinkResources/cluster")).await;
    assert_eq!(r.status, 200, "{r}");
    assert_eq!(r.json["properties"]["requiredMembers"], json!(["Engine", "DataManagement"]));
    assert_eq!(r.json["properties"]["requiredZoneNames"][0], "privatelink.westeurope.kusto.windows.net");

    let path = pe_path(&rg, "pe-kusto");
    let pe = s.put_ok(&path, &pe_body(&subnet, &cluster_id, &["cluster"], false, "")).await;
    assert_eq!(
        dns_configs(&pe),
        [
            ("kc001.westeurope.kusto.windows.net".to_string(), vec!["10.1.1.4".to_string()]),
            ("ingest-kc001.westeurope.kusto.windows.net".to_string(), vec!["10.1.1.5".to_string()]),
        ]
    );
    let nic = s.get(&pe_nic_id(&pe)).await.json;
    let members: Vec<(String, String)> = nic_configs(&nic).into_iter().map(|(_, ip, _, m)| (ip, m)).collect();
    assert_eq!(
        members,
        [("10.1.1.4".to_string(), "Engine".to_string()), ("10.1.1.5".to_string(), "DataManagement".to_string())]
    );
    let (_, target) = s.assert_connection(&path, &cluster_id, "Approved", "Auto-Approved").await;
    // Kusto's connection shape: `groupId` as a string.
    assert_eq!(target["type"], "Microsoft.Kusto/clusters/privateEndpointConnections");
    assert_eq!(target["properties"]["groupId"], "cluster");
    assert!(target["properties"].get("groupIds").is_none(), "{target}");

    // A manual one, approved through Kusto's long-running connection PUT.
    let manual = pe_path(&rg, "pe-kusto-manual");
    let pe2 = s.put_ok(&manual, &pe_body(&subnet, &cluster_id, &["cluster"], true, "ingest from the lab")).await;
    assert_eq!(ips(&pe2), ["10.1.1.6", "10.1.1.7"]);
    let (_, target2) = s.assert_connection(&manual, &cluster_id, "Pending", "Awaiting approval").await;
    let r = s.decide(&id_of(&target2), "Approved", "lab approved").await;
    assert_eq!(r.status, 200, "{r}");
    assert!(r.header("azure-asyncoperation").is_some(), "Kusto answers the connection PUT as an operation: {r}");
    s.assert_connection(&manual, &cluster_id, "Approved", "lab approved").await;
    assert_eq!(s.target_connections(&cluster_id).await.len(), 2);
}

#[tokio::test]
async fn private_link_resources_and_available_endpoint_types() {
    let s = Server::start().await;
    let rg = s.rg("rg");
    s.create_rg_at(&rg).await;
    let sa = s.create_storage(&rg, "sa1", "StorageV2").await;

    let r = s.get(&format!("{sa}/privateLinkResources")).await;
    assert_eq!(r.status, 200, "{r}");
    let groups: Vec<&str> =
        r.json["value"].as_array().into_iter().flatten().filter_map(|g| g["name"].as_str()).collect();
    assert_eq!(
        groups,
        [
            "blob",
            "blob_secondary",
            "table",
            "table_secondary",
            "queue",
            "queue_secondary",
            "file",
            "file_secondary",
            "web",
            "web_secondary",
            "dfs",
            "dfs_secondary"
        ]
    );
    let file = s.get(&format!("{sa}/privateLinkResources/file")).await;
    assert_eq!(file.status, 200, "{file}");
    assert_eq!(
        file.json,
        json!({
            "id": format!("{sa}/privateLinkResources/file"),
            "name": "file",
            "type": "Microsoft.Storage/storageAccounts/privateLinkResources",
            "properties": {
                "groupId": "file",
                "requiredMembers": ["file"],
                "requiredZoneNames": ["privatelink.file.core.windows.net"],
            },
        })
    );
    expect_error(&s.get(&format!("{sa}/privateLinkResources/nope")).await, 404, "ResourceNotFound");
    expect_error(
        &s.get(&format!("{}/privateLinkResources", resource(&rg, STORAGE, "ghost"))).await,
        404,
        "ResourceNotFound",
    );

    let r = s
        .get(&format!("{}/providers/Microsoft.Network/locations/westeurope/availablePrivateEndpointTypes", s.sub()))
        .await;
    assert_eq!(r.status, 200, "{r}");
    let types = r.json["value"].as_array().cloned().unwrap_or_default();
    let names: Vec<&str> = types.iter().filter_map(|t| t["resourceName"].as_str()).collect();
    for wanted in [STORAGE, "Microsoft.Network/privateLinkServices", KUSTO, DEVICE_UPDATE, "Microsoft.KeyVault/vaults"]
    {
        assert!(names.contains(&wanted), "{wanted} is not listed: {names:?}");
    }
    assert!(types.len() > 50, "only {} types", types.len());
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "sorted by resourceName");
    let storage = types.iter().find(|t| t["resourceName"] == STORAGE).cloned().unwrap_or_default();
    assert_eq!(
        storage["id"],
        format!(
            "{}/providers/Microsoft.Network/availablePrivateEndpointTypes/Microsoft.Storage.storageAccounts",
            s.sub()
        )
        .as_str()
    );
    assert_eq!(storage["name"], "Microsoft.Storage.storageAccounts");
    assert_eq!(storage["type"], "Microsoft.Network/availablePrivateEndpointTypes");
    assert_eq!(storage["displayName"], "Azure Storage");

    // The resource-group form names the group in each id.
    let r =
        s.get(&format!("{rg}/providers/Microsoft.Network/locations/westeurope/availablePrivateEndpointTypes")).await;
    assert_eq!(r.status, 200, "{r}");
    assert!(
        r.json["value"][0]["id"].as_str().is_some_and(|id| id.starts_with(&format!("{rg}/providers/"))),
        "{}",
        r.json["value"][0]
    );
}

// ---- static IP configurations and the NIC -------------------------------------------------------

fn static_config(name: &str, group: &str, member: &str, ip: &str) -> Value {
    json!({ "name": name, "properties": { "groupId": group, "memberName": member, "privateIPAddress": ip } })
}

fn with_static(mut body: Value, configs: Vec<Value>) -> Value {
    body["properties"]["ipConfigurations"] = Value::Array(configs);
    body
}

#[tokio::test]
async fn static_ip_configurations_must_cover_every_member_and_fit_the_subnet() {
    let s = Server::start().await;
    let rg = s.rg("rg");
    let subnet = s.landing(&rg, SPACE, SUBNET).await;
    let cluster = id_of(&s.put_ok(&resource(&rg, KUSTO, "kc001"), &kusto_body()).await);
    // 10.1.1.20 belongs to an ordinary NIC.
    let r = s.create_nic("rg", "vm-nic", &subnet, Some("10.1.1.20")).await;
    assert!(matches!(r.status, 200 | 201), "{r}");
    let nics = s.nic_names(&rg).await;
    let path = pe_path(&rg, "pe-static");
    let base = pe_body(&subnet, &cluster, &["cluster"], false, "");
    let refused = |configs: Vec<Value>| with_static(base.clone(), configs);

    // Missing a member.
    let r = s.put(&path, &refused(vec![static_config("engine", "cluster", "Engine", "10.1.1.10")])).await;
    expect_error(&r, 400, "PrivateEndpointIpConfigurationMissingMemberNamesRequiredByFps");
    assert!(r.json["error"]["message"].as_str().is_some_and(|m| m.contains("DataManagement")), "{r}");
    s.assert_not_stored(&path, &rg, &nics, Some((&cluster, 0))).await;

    // Outside the subnet.
    let r = s
        .put(
            &path,
            &refused(vec![
                static_config("engine", "cluster", "Engine", "10.1.2.10"),
                static_config("dm", "cluster", "DataManagement", "10.1.1.11"),
            ]),
        )
        .await;
    expect_error(&r, 400, "PrivateIPAddressNotInSubnet");
    s.assert_not_stored(&path, &rg, &nics, Some((&cluster, 0))).await;

    // Reserved: .1 is the subnet's gateway.
    let r = s
        .put(
            &path,
            &refused(vec![
                static_config("engine", "cluster", "Engine", "10.1.1.1"),
                static_config("dm", "cluster", "DataManagement", "10.1.1.11"),
            ]),
        )
        .await;
    expect_error(&r, 400, "PrivateIPAddressInReservedRange");
    s.assert_not_stored(&path, &rg, &nics, Some((&cluster, 0))).await;

    // Already taken (the second member): the first member's address is not kept either.
    let r = s
        .put(
            &path,
            &refused(vec![
                static_config("engine", "cluster", "Engine", "10.1.1.12"),
                static_config("dm", "cluster", "DataManagement", "10.1.1.20"),
            ]),
        )
        .await;
    expect_error(&r, 400, "PrivateIPAddressInUse");
    s.assert_not_stored(&path, &rg, &nics, Some((&cluster, 0))).await;
    let probe = s.create_nic("rg", "probe-nic", &subnet, Some("10.1.1.12")).await;
    assert!(matches!(probe.status, 200 | 201), "10.1.1.12 should be free after the refused endpoint: {probe}");
    s.delete_ok(&nic_path(&rg, "probe-nic")).await;

    // Covering every member: exactly those addresses.
    let body = with_static(
        base.clone(),
        vec![
            static_config("engine", "cluster", "Engine", "10.1.1.10"),
            static_config("dm", "cluster", "DataManagement", "10.1.1.11"),
        ],
    );
    let pe = s.put_ok(&path, &body).await;
    assert_eq!(
        dns_configs(&pe),
        [
            ("kc001.westeurope.kusto.windows.net".to_string(), vec!["10.1.1.10".to_string()]),
            ("ingest-kc001.westeurope.kusto.windows.net".to_string(), vec!["10.1.1.11".to_string()]),
        ]
    );
    assert_eq!(
        pe["properties"]["ipConfigurations"],
        json!([
            static_config("engine", "cluster", "Engine", "10.1.1.10"),
            static_config("dm", "cluster", "DataManagement", "10.1.1.11"),
        ])
    );
    let nic = s.get(&pe_nic_id(&pe)).await.json;
    let expected: Vec<(String, String, String, String)> =
        [("engine", "10.1.1.10", "Static", "Engine"), ("dm", "10.1.1.11", "Static", "DataManagement")]
            .iter()
            .map(|(a, b, c, d)| (a.to_string(), b.to_string(), c.to_string(), d.to_string()))
            .collect();
    assert_eq!(nic_configs(&nic), expected);
    s.assert_connection(&path, &cluster, "Approved", "Auto-Approved").await;

    // Now taken by the endpoint: another endpoint cannot have them.
    let r = s
        .put(
            &pe_path(&rg, "pe-static-2"),
            &with_static(
                base,
                vec![
                    static_config("engine", "cluster", "Engine", "10.1.1.10"),
                    static_config("dm", "cluster", "DataManagement", "10.1.1.30"),
                ],
            ),
        )
        .await;
    expect_error(&r, 400, "PrivateIPAddressInUse");
    assert_eq!(s.target_connections(&cluster).await.len(), 1);
}

#[tokio::test]
async fn custom_nic_name_and_the_ip_never_changes_on_a_re_put() {
    let s = Server::start().await;
    let (rg, subnet, sa) = storage_landing(&s).await;

    // customNetworkInterfaceName names the NIC.
    let named = pe_path(&rg, "pe-named");
    let mut body = pe_body(&subnet, &sa, &["blob"], true, "first");
    body["properties"]["customNetworkInterfaceName"] = json!("pe-named-nic");
    let pe = s.put_ok(&named, &body).await;
    assert_eq!(pe["properties"]["customNetworkInterfaceName"], "pe-named-nic");
    assert_eq!(pe_nic_id(&pe), format!("{rg}/providers/Microsoft.Network/networkInterfaces/pe-named-nic"));
    let nic = s.get(&nic_path(&rg, "pe-named-nic")).await;
    assert_eq!(nic.status, 200, "{nic}");
    assert_eq!(nic.json["properties"]["privateEndpoint"]["id"], id_of(&pe).as_str());
    assert_eq!(s.nic_names(&rg).await, ["pe-named-nic"]);
    assert_eq!(ips(&pe), ["10.1.1.4"]);

    let other = s.put_ok(&pe_path(&rg, "pe-other"), &pe_body(&subnet, &sa, &["blob"], false, "")).await;
    assert_eq!(ips(&other), ["10.1.1.5"]);

    // Approve, then re-PUT with a new request message: same IP, same NIC, state kept.
    let (_, target) = s.assert_connection(&named, &sa, "Pending", "Awaiting approval").await;
    assert_eq!(s.decide(&id_of(&target), "Approved", "ok").await.status, 200);
    body["properties"]["manualPrivateLinkServiceConnections"][0]["properties"]["requestMessage"] = json!("second");
    let again = s.put_ok(&named, &body).await;
    assert_eq!(ips(&again), ["10.1.1.4"]);
    assert_eq!(pe_nic_id(&again), pe_nic_id(&pe));
    assert_eq!(pe_connection(&again)["properties"]["requestMessage"], "second");
    assert_eq!(nic_ip(&s.get(&nic_path(&rg, "pe-named-nic")).await.json), "10.1.1.4");
    s.assert_connection(&named, &sa, "Approved", "ok").await;
    assert_eq!(s.target_connections(&sa).await.len(), 2, "a re-PUT makes no new connection");

    // The same for an endpoint with a generated NIC name.
    let other_again = s.put_ok(&pe_path(&rg, "pe-other"), &pe_body(&subnet, &sa, &["blob"], false, "")).await;
    assert_eq!(ips(&other_again), ["10.1.1.5"]);
    assert_eq!(pe_nic_id(&other_again), pe_nic_id(&other));
    assert_eq!(s.nic_names(&rg).await.len(), 2);

    // A NIC name that is taken is refused, and nothing is stored.
    let mut clash = pe_body(&subnet, &sa, &["blob"], false, "");
    clash["properties"]["customNetworkInterfaceName"] = json!("pe-named-nic");
    let clash_path = pe_path(&rg, "pe-clash");
    expect_error(&s.put(&clash_path, &clash).await, 409, "NetworkInterfaceAlreadyExists");
    let nics = s.nic_names(&rg).await;
    s.assert_not_stored(&clash_path, &rg, &nics, Some((&sa, 2))).await;
}

// ---- bad input -----------------------------------------------------------------------------------

#[tokio::test]
async fn bad_endpoints_are_refused_with_an_arm_error_and_nothing_stored() {
    let s = Server::start().await;
    let (rg, subnet, sa) = storage_landing(&s).await;
    let path = pe_path(&rg, "pe-bad");
    let nothing = || s.assert_not_stored(&path, &rg, &[], Some((&sa, 0)));

    // Unknown group id: the message lists the valid ones.
    let r = s.put(&path, &pe_body(&subnet, &sa, &["blobby"], false, "")).await;
    expect_error(&r, 400, "InvalidPrivateEndpointGroupId");
    let message = r.json["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("'blobby'"), "{message}");
    assert!(message.contains("blob, blob_secondary"), "{message}");
    assert!(message.contains("dfs_secondary"), "{message}");
    nothing().await;

    // No group id at all.
    expect_error(&s.put(&path, &pe_body(&subnet, &sa, &[], false, "")).await, 400, "PrivateEndpointGroupIdMissing");
    nothing().await;

    // The target does not exist.
    let ghost = resource(&rg, STORAGE, "ghost");
    let r = s.put(&path, &pe_body(&subnet, &ghost, &["blob"], false, "")).await;
    expect_error(&r, 400, "InvalidResourceReference");
    assert!(r.json["error"]["message"].as_str().is_some_and(|m| m.contains(&ghost)), "{r}");
    nothing().await;

    // A type that is not a private-link target.
    let vnet_id = id_of(&s.get(&vnet_path(&rg, "vnet")).await.json);
    expect_error(&s.put(&path, &pe_body(&subnet, &vnet_id, &["x"], false, "")).await, 400, "PrivateLinkNotSupported");
    nothing().await;

    // A general-purpose v1 account ("Storage"): only StorageV2 takes private endpoints.
    let v1 = s.create_storage(&rg, "sav1", "Storage").await;
    let r = s.put(&path, &pe_body(&subnet, &v1, &["blob"], false, "")).await;
    expect_error(&r, 400, "PrivateEndpointNotSupportedForStorageAccountKind");
    assert!(r.json["error"]["message"].as_str().is_some_and(|m| m.contains("StorageV2")), "{r}");
    s.assert_not_stored(&path, &rg, &[], Some((&v1, 0))).await;

    // A subnet in another region than the endpoint.
    let east = s.rg("rg-east");
    s.create_rg_at(&east).await;
    let mut east_vnet = common::vnet_body(&["10.3.0.0/16"], &[("pe", "10.3.1.0/24")]);
    east_vnet["location"] = json!("eastus");
    let east_subnet = format!("{}/subnets/pe", id_of(&s.put_ok(&vnet_path(&east, "vnet"), &east_vnet).await));
    let r = s.put(&path, &pe_body(&east_subnet, &sa, &["blob"], false, "")).await;
    expect_error(&r, 400, "InvalidResourceReference");
    let message = r.json["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("eastus") && message.contains("same region"), "{message}");
    nothing().await;

    // A subnet in another subscription: bob's, where bob lets the admin join his subnet (so
    // the refusal is about the subscription, not about rights on the subnet).
    let bob = s.create_subscription("bob").await;
    s.act_as_named("bob").await;
    let bob_subnet = s.landing(&rg_path(&bob, "rg"), "10.4.0.0/16", "10.4.1.0/24").await;
    let admin_object = s.credentials["objectId"].as_str().unwrap_or_default().to_string();
    let granted = s.assign_role(&bob_subnet, NETWORK_CONTRIBUTOR, &admin_object).await;
    assert_eq!(granted.status, 201, "{granted}");
    s.act_as_admin();
    let r = s.put(&path, &pe_body(&bob_subnet, &sa, &["blob"], false, "")).await;
    expect_error(&r, 400, "PrivateEndpointAndSubnetInDifferentSubscriptions");
    nothing().await;
    assert!(s.nic_names(&rg_path(&bob, "rg")).await.is_empty());

    // A delegated subnet.
    let delegated_body = json!({
        "location": LOCATION,
        "properties": {
            "addressSpace": { "addressPrefixes": ["10.5.0.0/16"] },
            "subnets": [{ "name": "web", "properties": {
                "addressPrefix": "10.5.1.0/24",
                "delegations": [{ "name": "farm", "properties": { "serviceName": "Microsoft.Web/serverFarms" } }],
            }}],
        },
    });
    let delegated =
        format!("{}/subnets/web", id_of(&s.put_ok(&vnet_path(&rg, "vnet-delegated"), &delegated_body).await));
    let r = s.put(&path, &pe_body(&delegated, &sa, &["blob"], false, "")).await;
    expect_error(&r, 400, "PrivateEndpointCreationNotAllowedAsSubnetIsDelegated");
    nothing().await;

    // A request message over 140 characters.
    let long = "m".repeat(141);
    expect_error(
        &s.put(&path, &pe_body(&subnet, &sa, &["blob"], true, &long)).await,
        400,
        "PrivateEndpointRequestMessageTooLong",
    );
    nothing().await;

    // Not exactly one connection: both arrays, two in one array, none.
    let mut both = pe_body(&subnet, &sa, &["blob"], false, "");
    both["properties"]["manualPrivateLinkServiceConnections"] =
        both["properties"]["privateLinkServiceConnections"].clone();
    both["properties"]["manualPrivateLinkServiceConnections"][0]["name"] = json!("conn2");
    expect_error(&s.put(&path, &both).await, 400, "PrivateEndpointMustHaveOneConnection");
    nothing().await;
    let mut two = pe_body(&subnet, &sa, &["blob"], false, "");
    let first = two["properties"]["privateLinkServiceConnections"][0].clone();
    let mut second = first.clone();
    second["name"] = json!("conn2");
    second["properties"]["groupIds"] = json!(["file"]);
    two["properties"]["privateLinkServiceConnections"] = json!([first, second]);
    expect_error(&s.put(&path, &two).await, 400, "PrivateEndpointMustHaveOneConnection");
    nothing().await;
    let none = json!({ "location": LOCATION, "properties": { "subnet": { "id": subnet } } });
    expect_error(&s.put(&path, &none).await, 400, "PrivateEndpointMustHaveOneConnection");
    nothing().await;

    // A connection without a name.
    let mut unnamed = pe_body(&subnet, &sa, &["blob"], false, "");
    if let Some(connection) = unnamed["properties"]["privateLinkServiceConnections"][0].as_object_mut() {
        connection.remove("name");
    }
    expect_error(&s.put(&path, &unnamed).await, 400, "InvalidRequestFormat");
    nothing().await;
    assert!(s.pe_names(&rg).await.is_empty());

    // Exactly 140 characters is fine, and no refused attempt used an address.
    let exact = "m".repeat(140);
    let pe = s.put_ok(&path, &pe_body(&subnet, &sa, &["blob"], true, &exact)).await;
    assert_eq!(pe_connection(&pe)["properties"]["requestMessage"], exact.as_str());
    assert_eq!(ips(&pe), ["10.1.1.4"]);
    s.assert_connection(&path, &sa, "Pending", "Awaiting approval").await;
}

#[tokio::test]
async fn endpoint_limits_come_from_privlink_toml() {
    let s =
        Server::start_with_config("[limits]\nprivate-endpoints-per-vnet = 2\nprivate-endpoints-per-subscription = 3\n")
            .await;
    let (rg, subnet, sa) = storage_landing(&s).await;
    s.put_ok(&pe_path(&rg, "pe1"), &pe_body(&subnet, &sa, &["blob"], false, "")).await;
    s.put_ok(&pe_path(&rg, "pe2"), &pe_body(&subnet, &sa, &["file"], false, "")).await;
    let nics = s.nic_names(&rg).await;
    assert_eq!(nics.len(), 2);

    // The third in the same VNet is one too many.
    let third = pe_path(&rg, "pe3");
    let r = s.put(&third, &pe_body(&subnet, &sa, &["queue"], false, "")).await;
    expect_error(&r, 400, "PrivateEndpointsPerVirtualNetworkLimitReached");
    assert!(r.json["error"]["message"].as_str().is_some_and(|m| m.contains('2')), "{r}");
    s.assert_not_stored(&third, &rg, &nics, Some((&sa, 2))).await;

    // Another VNet has room, until the subscription's limit (3) is reached.
    let vnet2 =
        s.put_ok(&vnet_path(&rg, "vnet2"), &common::vnet_body(&["10.2.0.0/16"], &[("pe", "10.2.1.0/24")])).await;
    let subnet2 = format!("{}/subnets/pe", id_of(&vnet2));
    s.put_ok(&pe_path(&rg, "pe-v2"), &pe_body(&subnet2, &sa, &["table"], false, "")).await;
    let nics = s.nic_names(&rg).await;
    let fourth = pe_path(&rg, "pe-v2-b");
    expect_error(
        &s.put(&fourth, &pe_body(&subnet2, &sa, &["dfs"], false, "")).await,
        400,
        "PrivateEndpointsPerSubscriptionLimitReached",
    );
    s.assert_not_stored(&fourth, &rg, &nics, Some((&sa, 3))).await;

    // After deleting one, a new one fits (and takes the freed address).
    s.delete_ok(&pe_path(&rg, "pe1")).await;
    let pe = s.put_ok(&third, &pe_body(&subnet, &sa, &["queue"], false, "")).await;
    assert_eq!(ips(&pe), ["10.1.1.4"]);
    expect_error(
        &s.put(&pe_path(&rg, "pe4"), &pe_body(&subnet, &sa, &["web"], false, "")).await,
        400,
        "PrivateEndpointsPerVirtualNetworkLimitReached",
    );
}

#[tokio::test]
async fn deleting_the_target_leaves_its_endpoints_disconnected() {
    let s = Server::start().await;
    let (rg, subnet, sa) = storage_landing(&s).await;
    let approved = pe_path(&rg, "pe-approved");
    let pending = pe_path(&rg, "pe-pending");
    s.put_ok(&approved, &pe_body(&subnet, &sa, &["blob"], false, "")).await;
    s.put_ok(&pending, &pe_body(&subnet, &sa, &["file"], true, "")).await;
    s.assert_connection(&approved, &sa, "Approved", "Auto-Approved").await;
    s.assert_connection(&pending, &sa, "Pending", "Awaiting approval").await;

    s.delete_ok(&sa).await;
    let r = s.get(&format!("{sa}/privateEndpointConnections")).await;
    expect_error(&r, 404, "ResourceNotFound");
    assert!(r.json["error"]["message"].as_str().is_some_and(|m| m.contains("storageAccounts/sa1")), "{r}");
    for (path, ip) in [(&approved, "10.1.1.4"), (&pending, "10.1.1.5")] {
        let pe = s.get(path).await;
        assert_eq!(pe.status, 200, "the endpoint outlives its target: {pe}");
        assert_eq!(state_of(&pe_connection(&pe.json)).0, "Disconnected", "{pe}");
        assert_eq!(ips(&pe.json), [ip], "{pe}");
        assert_eq!(pe_connection(&pe.json)["properties"]["privateLinkServiceId"], sa.as_str());
    }

    // A new account of the same name starts without connections; the old endpoints stay Disconnected.
    let again = s.create_storage(&rg, "sa1", "StorageV2").await;
    assert!(s.target_connections(&again).await.is_empty());
    assert_eq!(state_of(&pe_connection(&s.get(&approved).await.json)).0, "Disconnected");
    s.delete_ok(&approved).await;
    s.delete_ok(&pending).await;
    assert!(s.nic_names(&rg).await.is_empty());
}

// ---- the CLI ---------------------------------------------------------------------------------------

#[tokio::test]
async fn cli_lists_endpoints_and_pending_connections_and_approves_one() {
    let s = Server::start().await;
    let (rg, subnet, sa) = storage_landing(&s).await;
    let auto = s.put_ok(&pe_path(&rg, "pe-auto"), &pe_body(&subnet, &sa, &["blob"], false, "")).await;
    let manual_path = pe_path(&rg, "pe-manual");
    let manual = s.put_ok(&manual_path, &pe_body(&subnet, &sa, &["file"], true, "cli please")).await;
    let pending_id = id_of(&s.target_connection(&sa, &id_of(&manual)).await);
    let pending_name = pending_id.rsplit('/').next().unwrap_or_default().to_string();

    // endpoints list -o json: the endpoints as the API returns them.
    let out = s.cli(&["endpoints", "list", "-o", "json"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let listed: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {out:?}"));
    let mut by_name: Vec<(String, String)> = listed
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {listed}"))
        .iter()
        .map(|pe| (pe["name"].as_str().unwrap_or_default().to_string(), state_of(&pe_connection(pe)).0))
        .collect();
    by_name.sort();
    assert_eq!(
        by_name,
        [("pe-auto".to_string(), "Approved".to_string()), ("pe-manual".to_string(), "Pending".to_string())]
    );
    assert!(listed.as_array().into_iter().flatten().any(|pe| *pe == auto), "pe-auto as GET sees it");

    // endpoints list (table): a header, then one line per endpoint.
    let out = s.cli(&["endpoints", "list"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines[0].starts_with("NAME") && lines[0].trim_end().ends_with("STATE"), "{out:?}");
    assert_eq!(lines.len(), 4, "header, rule and two endpoints: {out:?}");
    let row = |name: &str| -> Vec<String> {
        lines
            .iter()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no line for {name}: {out:?}"))
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    assert_eq!(row("pe-auto"), ["pe-auto", "rg", "vnet/pe", "10.1.1.4", "sa1", "blob", "Approved"]);
    assert_eq!(row("pe-manual"), ["pe-manual", "rg", "vnet/pe", "10.1.1.5", "sa1", "file", "Pending"]);

    // connections list --pending: only the manual one.
    let out = s.cli(&["connections", "list", "--pending"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines[0].starts_with("CONNECTION") && lines[0].contains("STATE"), "{out:?}");
    assert_eq!(lines.len(), 3, "header, rule and one connection: {out:?}");
    let cells: Vec<&str> = lines[2].split_whitespace().collect();
    assert_eq!(cells[..4], [pending_id.as_str(), "sa1", "pe-manual", "Pending"], "{out:?}");

    // connections approve <id>: "<name> Approved: <description>", both sides Approved.
    let out = s.cli(&["connections", "approve", &pending_id]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(out.stdout, format!("{pending_name} Approved: Approved with privlink\n"), "{out:?}");
    s.assert_connection(&manual_path, &sa, "Approved", "Approved with privlink").await;
    let out = s.cli(&["connections", "list", "--pending"]);
    assert_eq!(out.stdout.lines().count(), 2, "no pending connection is left: {out:?}");

    // reject with a description, JSON output.
    let out = s.cli(&["connections", "reject", &pending_id, "--description", "not today", "-o", "json"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let rejected: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {out:?}"));
    assert_eq!(state_of(&rejected), pair("Rejected", "not today"));
    s.assert_connection(&manual_path, &sa, "Rejected", "not today").await;

    // Bad ids: a non-zero exit and an error message.
    let out = s.cli(&["connections", "approve", "/subscriptions/x/not-a-connection"]);
    assert_ne!(out.code, Some(0), "{out:?}");
    assert!(out.stderr.contains("is not a private endpoint connection id"), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    let missing = format!("{sa}/privateEndpointConnections/nope");
    let out = s.cli(&["connections", "approve", &missing]);
    assert_ne!(out.code, Some(0), "{out:?}");
    assert!(out.stderr.contains("404") && out.stderr.contains("nope"), "{out:?}");
    s.assert_connection(&manual_path, &sa, "Rejected", "not today").await;
}
