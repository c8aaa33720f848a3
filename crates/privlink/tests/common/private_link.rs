//! Private-link fixtures shared by `private_endpoints.rs` and `private_link_services.rs`:
//! subscriptions with an owner, target resources, private endpoint bodies, and reading a
//! connection from both of its sides (the endpoint's connection entry and the target's
//! `privateEndpointConnections/{name}` child), which must always agree.
//!
//! Writes act as whoever the test currently acts as ([`Server::act_as`]); the reads behind the
//! assertions (`assert_connection`, `target_connections`, `assert_not_stored`, `nic_names`,
//! `pe_names`) go through [`Server::get_as_owner`], so each side of a connection is read by the
//! owner of its subscription, as two parties in Azure would each look at their own side.

use serde_json::{json, Value};

use super::{expect_error, names, vnet_body, Resp, Server, LOCATION};

pub const STORAGE: &str = "Microsoft.Storage/storageAccounts";
pub const PRIVATE_ENDPOINTS: &str = "Microsoft.Network/privateEndpoints";
pub const PRIVATE_LINK_SERVICES: &str = "Microsoft.Network/privateLinkServices";

/// `/subscriptions/{sub}/resourceGroups/{rg}`.
pub fn rg_path(sub: &str, rg: &str) -> String {
    format!("/subscriptions/{sub}/resourceGroups/{rg}")
}

/// `{rg}/providers/{type}/{name}`, e.g. `resource(rg, STORAGE, "sa1")`.
pub fn resource(rg: &str, type_name: &str, name: &str) -> String {
    format!("{rg}/providers/{type_name}/{name}")
}

pub fn pe_path(rg: &str, name: &str) -> String {
    resource(rg, PRIVATE_ENDPOINTS, name)
}

pub fn pls_path(rg: &str, name: &str) -> String {
    resource(rg, PRIVATE_LINK_SERVICES, name)
}

pub fn vnet_path(rg: &str, name: &str) -> String {
    resource(rg, "Microsoft.Network/virtualNetworks", name)
}

pub fn nic_path(rg: &str, name: &str) -> String {
    resource(rg, "Microsoft.Network/networkInterfaces", name)
}

/// A private endpoint body in [`LOCATION`] with one connection named `conn` to `target` (a
/// resource id or a private link service alias), automatic or manual.
pub fn pe_body(subnet_id: &str, target: &str, groups: &[&str], manual: bool, message: &str) -> Value {
    let connection = json!({
        "name": "conn",
        "properties": { "privateLinkServiceId": target, "groupIds": groups, "requestMessage": message },
    });
    let (automatic, manual) = if manual { (vec![], vec![connection]) } else { (vec![connection], vec![]) };
    json!({
        "location": LOCATION,
        "properties": {
            "subnet": { "id": subnet_id },
            "privateLinkServiceConnections": automatic,
            "manualPrivateLinkServiceConnections": manual,
        },
    })
}

fn array(v: &Value, pointer: &str) -> Vec<Value> {
    v.pointer(pointer).and_then(Value::as_array).cloned().unwrap_or_default()
}

/// The one connection of an endpoint, from whichever of its two arrays holds it.
#[track_caller]
pub fn pe_connection(pe: &Value) -> Value {
    let automatic = array(pe, "/properties/privateLinkServiceConnections");
    let manual = array(pe, "/properties/manualPrivateLinkServiceConnections");
    assert_eq!(automatic.len() + manual.len(), 1, "an endpoint has exactly one connection: {pe}");
    automatic.into_iter().chain(manual).next().unwrap_or_default()
}

/// `(status, description)` of a connection (either side).
pub fn state_of(connection: &Value) -> (String, String) {
    let state = &connection["properties"]["privateLinkServiceConnectionState"];
    (
        state["status"].as_str().unwrap_or_default().to_string(),
        state["description"].as_str().unwrap_or_default().to_string(),
    )
}

fn pair(status: &str, description: &str) -> (String, String) {
    (status.to_string(), description.to_string())
}

/// `customDnsConfigs` as `(fqdn, ips)`, in order.
pub fn dns_configs(pe: &Value) -> Vec<(String, Vec<String>)> {
    array(pe, "/properties/customDnsConfigs")
        .iter()
        .map(|c| {
            let ips = c["ipAddresses"].as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_string);
            (c["fqdn"].as_str().unwrap_or_default().to_string(), ips.collect())
        })
        .collect()
}

/// The id of an endpoint's NIC (`properties.networkInterfaces[0].id`; there is exactly one).
#[track_caller]
pub fn pe_nic_id(pe: &Value) -> String {
    let nics = array(pe, "/properties/networkInterfaces");
    assert_eq!(nics.len(), 1, "a private endpoint has one NIC: {pe}");
    nics[0]["id"].as_str().unwrap_or_default().to_string()
}

/// `(name, ip, allocation method, required member)` of every IP configuration of a NIC.
pub fn nic_configs(nic: &Value) -> Vec<(String, String, String, String)> {
    array(nic, "/properties/ipConfigurations")
        .iter()
        .map(|c| {
            let p = &c["properties"];
            (
                c["name"].as_str().unwrap_or_default().to_string(),
                p["privateIPAddress"].as_str().unwrap_or_default().to_string(),
                p["privateIPAllocationMethod"].as_str().unwrap_or_default().to_string(),
                p["privateLinkConnectionProperties"]["requiredMemberName"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

pub fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap_or_else(|| panic!("no id in {v}")).to_string()
}

impl Server {
    /// A new subscription in the default tenant owned by a new service principal called
    /// `owner` (see [`Server::act_as_named`]); returns the subscription id.
    pub async fn create_subscription(&self, owner: &str) -> String {
        let principal = self.create_principal(None, owner).await;
        let id = self.create_subscription_for(None, &principal.object_id).await;
        self.remember_owner(&id, principal.clone());
        self.remember(owner, principal);
        id
    }

    /// Create the resource group at `rg` (a full path) in [`LOCATION`].
    pub async fn create_rg_at(&self, rg: &str) {
        let r = self.put(rg, &json!({ "location": LOCATION })).await;
        assert_eq!(r.status, 201, "creating resource group {rg}: {r}");
    }

    /// Resource group `rg` (a full path) with VNet `vnet` (`space`) holding subnet `pe`
    /// (`prefix`); returns the subnet's id.
    pub async fn landing(&self, rg: &str, space: &str, prefix: &str) -> String {
        self.create_rg_at(rg).await;
        let vnet = self.put_ok(&vnet_path(rg, "vnet"), &vnet_body(&[space], &[("pe", prefix)])).await;
        format!("{}/subnets/pe", id_of(&vnet))
    }

    /// A storage account of `kind` (Storage answers its create with 200 at once); its id.
    pub async fn create_storage(&self, rg: &str, name: &str, kind: &str) -> String {
        let path = resource(rg, STORAGE, name);
        let body = json!({ "location": LOCATION, "kind": kind, "sku": { "name": "Standard_LRS" } });
        let r = self.put(&path, &body).await;
        assert_eq!(r.status, 200, "creating storage account {name}: {r}");
        assert_eq!(r.state(), "Succeeded", "storage account {name}: {r}");
        assert_eq!(r.json["kind"], kind, "{r}");
        id_of(&r.json)
    }

    /// The names of the NICs in resource group `rg` (a full path).
    pub async fn nic_names(&self, rg: &str) -> Vec<String> {
        let r = self.get_as_owner(&format!("{rg}/providers/Microsoft.Network/networkInterfaces")).await;
        assert_eq!(r.status, 200, "listing NICs of {rg}: {r}");
        names(&r.json)
    }

    /// The names of the private endpoints in resource group `rg` (a full path).
    pub async fn pe_names(&self, rg: &str) -> Vec<String> {
        let r = self.get_as_owner(&format!("{rg}/providers/{PRIVATE_ENDPOINTS}")).await;
        assert_eq!(r.status, 200, "listing private endpoints of {rg}: {r}");
        names(&r.json)
    }

    /// The target's connections (`GET {target}/privateEndpointConnections`), after checking the
    /// target's own inline `properties.privateEndpointConnections` lists the same ones in the
    /// same states.
    pub async fn target_connections(&self, target: &str) -> Vec<Value> {
        let r = self.get_as_owner(&format!("{target}/privateEndpointConnections")).await;
        assert_eq!(r.status, 200, "listing the connections of {target}: {r}");
        let list = array(&r.json, "/value");
        let t = self.get_as_owner(target).await;
        assert_eq!(t.status, 200, "GET {target}: {t}");
        let inline = array(&t.json, "/properties/privateEndpointConnections");
        let summary = |v: &[Value]| -> Vec<(String, (String, String))> {
            let mut out: Vec<_> = v.iter().map(|c| (id_of(c).to_ascii_lowercase(), state_of(c))).collect();
            out.sort();
            out
        };
        assert_eq!(summary(&list), summary(&inline), "the target's inline connections disagree with its list:\n{t}");
        list
    }

    /// The target's connection from the endpoint `pe_id` (exactly one), as GET by its id sees it.
    pub async fn target_connection(&self, target: &str, pe_id: &str) -> Value {
        let all = self.target_connections(target).await;
        let mine: Vec<&Value> = all
            .iter()
            .filter(|c| {
                c["properties"]["privateEndpoint"]["id"].as_str().is_some_and(|id| id.eq_ignore_ascii_case(pe_id))
            })
            .collect();
        assert_eq!(mine.len(), 1, "{target} should have one connection from {pe_id}: {all:?}");
        let one = self.get_as_owner(&id_of(mine[0])).await;
        assert_eq!(one.status, 200, "GET {}: {one}", id_of(mine[0]));
        assert_eq!(one.json, *mine[0], "GET of a connection and the list disagree");
        one.json
    }

    /// Assert that both sides of the connection between the endpoint at `pe_path` and `target`
    /// are in `status` with `description`; returns `(endpoint, target-side connection)`.
    pub async fn assert_connection(
        &self,
        pe_path: &str,
        target: &str,
        status: &str,
        description: &str,
    ) -> (Value, Value) {
        let pe = self.get_as_owner(pe_path).await;
        assert_eq!(pe.status, 200, "GET {pe_path}: {pe}");
        let pe_side = pe_connection(&pe.json);
        assert_eq!(state_of(&pe_side), pair(status, description), "the endpoint's side: {}", pe.json);
        assert_eq!(pe_side["properties"]["privateLinkServiceConnectionState"]["actionsRequired"], "None");
        let target_side = self.target_connection(target, &id_of(&pe.json)).await;
        assert_eq!(state_of(&target_side), pair(status, description), "the target's side: {target_side}");
        (pe.json, target_side)
    }

    /// The target owner approves or rejects: GET the connection, change its state, PUT the
    /// whole body back (read-only fields included). A 2xx answered with an operation is waited
    /// for; returns the PUT response.
    pub async fn decide(&self, connection_id: &str, status: &str, description: &str) -> Resp {
        let got = self.get(connection_id).await;
        assert_eq!(got.status, 200, "GET {connection_id}: {got}");
        let mut body = got.json;
        body["properties"]["privateLinkServiceConnectionState"]["status"] = json!(status);
        body["properties"]["privateLinkServiceConnectionState"]["description"] = json!(description);
        let r = self.put(connection_id, &body).await;
        if (200..300).contains(&r.status) && r.header("azure-asyncoperation").is_some() {
            let done = self.wait_op(&r).await;
            assert_eq!(done["status"], "Succeeded", "PUT {connection_id}: {done}");
        }
        r
    }

    /// After a refused create: the endpoint at `pe_path` does not exist, resource group `rg`
    /// still has exactly `nics` (no NIC was left behind) and `target` (when given) has exactly
    /// `connections` connections.
    pub async fn assert_not_stored(&self, pe_path: &str, rg: &str, nics: &[String], target: Option<(&str, usize)>) {
        expect_error(&self.get_as_owner(pe_path).await, 404, "ResourceNotFound");
        let mut now = self.nic_names(rg).await;
        now.sort();
        let mut before = nics.to_vec();
        before.sort();
        assert_eq!(now, before, "a refused private endpoint left a NIC behind in {rg}");
        if let Some((target, count)) = target {
            let connections = self.target_connections(target).await;
            assert_eq!(connections.len(), count, "a refused private endpoint left a connection on {target}");
        }
    }
}
