//! Microsoft.Network/privateLinkServices: "your own service" behind a private endpoint.
//!
//! What is modelled: the NAT IP configurations (addresses from a subnet whose
//! `privateLinkServiceNetworkPolicies` are Disabled), `visibility` and `autoApproval`
//! subscription lists (`*` means everyone), `fqdns`, the alias
//! `{name}.{guid}.{region}.azure.privatelinkservice`, and the service's private endpoint
//! connections. The Standard Load Balancer in front of the service is not modelled:
//! `loadBalancerFrontendIpConfigurations` ids are stored as given.

use privlink_store::{ResourceRow, Tx};
use serde_json::{json, Map, Value};

use super::in_subscription;
use super::network_interfaces::{owner_key, IpConfigRequest};
use crate::arm::api_version::NETWORK;
use crate::arm::json::Obj;
use crate::arm::names::NameRule;
use crate::arm::{ArmError, ArmResult};
use crate::catalogue::ConnectionPut;
use crate::identity::Caller;
use crate::providers::authorization;
use crate::providers::targets::connections::{self, ConnectionType, Shape};
use crate::providers::{properties, PutInput, Registry, ResourceType, Write};

pub const TYPE: &str = "Microsoft.Network/privateLinkServices";
pub const TYPE_KEY: &str = "microsoft.network/privatelinkservices";
const MAX_IP_CONFIGURATIONS: usize = 8;
const MAX_SUBSCRIPTIONS: usize = 100;

pub struct PrivateLinkServices;

pub fn register(registry: &mut Registry) {
    registry.add(PrivateLinkServices);
    registry.add(ConnectionType {
        type_name: "Microsoft.Network/privateLinkServices/privateEndpointConnections",
        shape: Shape::Network,
        put: ConnectionPut::Sync,
        system_data: false,
    });
}

fn subscriptions_in(props: &Map<String, Value>, key: &str) -> Vec<String> {
    props
        .get(key)
        .and_then(|v| v.get("subscriptions"))
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_ascii_lowercase).collect())
        .unwrap_or_default()
}

/// Connections from `subscription` are approved without the owner acting.
pub fn auto_approves(pls: &ResourceRow, subscription: &str) -> bool {
    let list = subscriptions_in(properties(pls), "autoApproval");
    list.iter().any(|s| s == "*" || s.eq_ignore_ascii_case(subscription))
}

/// Whether `subscription` may see (and request a connection to) the service.
pub fn visible_to(tx: &mut dyn Tx, pls: &ResourceRow, subscription: &str, caller: Option<&Caller>) -> ArmResult<bool> {
    let list = subscriptions_in(properties(pls), "visibility");
    if list.iter().any(|s| s == "*" || s.eq_ignore_ascii_case(subscription)) || auto_approves(pls, subscription) {
        return Ok(true);
    }
    // RBAC-only visibility: those who may approve connections to the service see it.
    match caller {
        None => Ok(true),
        Some(caller) => authorization::rbac::check(tx, caller, APPROVAL_ACTION, &pls.key),
    }
}

pub const APPROVAL_ACTION: &str = "Microsoft.Network/privateLinkServices/privateEndpointConnectionsApproval/action";

pub fn find_by_alias(tx: &mut dyn Tx, alias: &str) -> ArmResult<Option<ResourceRow>> {
    let mut after: Option<String> = None;
    loop {
        let page = tx.list(&privlink_store::ListQuery {
            scope: privlink_store::Scope::All,
            type_key: Some(TYPE_KEY),
            after: after.as_deref(),
            limit: 500,
        })?;
        let done = page.len() < 500;
        after = page.last().map(|r| r.key.clone());
        if let Some(row) = page
            .into_iter()
            .find(|r| properties(r).get("alias").and_then(Value::as_str).is_some_and(|a| a.eq_ignore_ascii_case(alias)))
        {
            return Ok(Some(row));
        }
        if done {
            return Ok(None);
        }
    }
}

fn subscription_list(body: Obj<'_>, key: &str) -> ArmResult<Option<Vec<String>>> {
    let Some(obj) = body.obj(key)? else { return Ok(None) };
    let path = format!("properties.{key}");
    let list = Obj::new(obj, &path).strings("subscriptions")?.unwrap_or_default();
    if list.len() > MAX_SUBSCRIPTIONS {
        return Err(ArmError::invalid(
            "TooManySubscriptionsInPrivateLinkService",
            format!("{key}.subscriptions may list at most {MAX_SUBSCRIPTIONS} subscriptions."),
        ));
    }
    for s in &list {
        if *s != "*" && uuid::Uuid::parse_str(s).is_err() {
            return Err(ArmError::invalid(
                "InvalidSubscriptionId",
                format!("'{s}' in {key}.subscriptions is not a subscription id (or '*')."),
            ));
        }
    }
    Ok(Some(list.iter().map(|s| s.to_string()).collect()))
}

impl ResourceType for PrivateLinkServices {
    fn type_name(&self) -> &'static str {
        TYPE
    }
    fn api_versions(&self) -> &'static [&'static str] {
        NETWORK
    }
    fn tracked(&self) -> bool {
        true
    }
    fn check_tags(&self, tags: &Map<String, Value>) -> ArmResult<()> {
        crate::providers::targets::backends::check(None, tags)
    }

    fn put(&self, w: &mut Write<'_>, input: &PutInput<'_>) -> ArmResult<Map<String, Value>> {
        let id = input.id;
        let body = input.properties();
        if input.existing.is_none() {
            let count = in_subscription(w.tx, &id.subscription.to_ascii_lowercase(), TYPE_KEY)?.len() as u64;
            if count >= w.settings.limits.private_link_services_per_subscription {
                return Err(ArmError::invalid(
                    "PrivateLinkServicesPerSubscriptionLimitReached",
                    format!(
                        "Subscription {} already has {count} private link services, the most allowed.",
                        id.subscription
                    ),
                ));
            }
        }
        let configs = body.named("ipConfigurations", NameRule::Network, "IP configuration", &id.to_string())?;
        if configs.is_empty() || configs.len() > MAX_IP_CONFIGURATIONS {
            return Err(ArmError::invalid(
                "PrivateLinkServiceIpConfigurationCount",
                format!("Private link service {id} needs 1 to {MAX_IP_CONFIGURATIONS} ipConfigurations (its NAT IP addresses)."),
            ));
        }
        let key = id.key();
        let mut out_configs = Vec::new();
        for (index, config) in configs.iter().enumerate() {
            let request = IpConfigRequest::parse(w, id, input.location, config)?;
            if properties(&request.subnet).get("privateLinkServiceNetworkPolicies").and_then(Value::as_str)
                != Some("Disabled")
            {
                return Err(ArmError::invalid(
                    "PrivateLinkServiceCannotBeCreatedInSubnetThatHasNetworkPoliciesEnabled",
                    format!("Private link service {id} cannot be created in subnet {} since it has private link service network policies enabled. Set privateLinkServiceNetworkPolicies to Disabled.", request.subnet_id),
                ));
            }
            if request.version != "IPv4" {
                return Err(ArmError::invalid(
                    "PrivateLinkServiceIpv4Only",
                    format!("NAT IP configuration {} of {id} must be IPv4.", request.name),
                ));
            }
            let address = request.allocate(w, &owner_key(&key, &request.name))?;
            out_configs.push(json!({
                "name": request.name,
                "id": format!("{id}/ipConfigurations/{}", request.name),
                "type": "Microsoft.Network/privateLinkServices/ipConfigurations",
                "properties": {
                    "privateIPAddress": address.to_string(),
                    "privateIPAllocationMethod": request.method,
                    "privateIPAddressVersion": "IPv4",
                    "subnet": { "id": request.subnet_id.to_string() },
                    "primary": request.primary.unwrap_or(index == 0),
                    "provisioningState": "Succeeded",
                }
            }));
        }
        if let Some(existing) = input.existing {
            for old in properties(existing).get("ipConfigurations").and_then(Value::as_array).into_iter().flatten() {
                if let Some(old_name) = old.get("name").and_then(Value::as_str) {
                    if !configs.iter().any(|c| c.name.eq_ignore_ascii_case(old_name)) {
                        return Err(ArmError::invalid(
                            "PrivateLinkServiceIpConfigurationCannotBeRemoved",
                            format!("NAT IP configuration {old_name} of {id} cannot be removed once added."),
                        ));
                    }
                }
            }
        }
        let mut props = Map::new();
        props.insert("ipConfigurations".into(), Value::Array(out_configs));
        let frontends = body.objects("loadBalancerFrontendIpConfigurations")?;
        let mut frontend_refs = Vec::new();
        for (path, f) in frontends {
            let fid = Obj::new(f, &path).str("id")?.ok_or_else(|| {
                ArmError::invalid_at(
                    "InvalidRequestFormat",
                    &path,
                    "Each load balancer frontend IP configuration needs an id.",
                )
            })?;
            frontend_refs.push(json!({ "id": fid }));
        }
        props.insert("loadBalancerFrontendIpConfigurations".into(), Value::Array(frontend_refs));
        props.insert(
            "visibility".into(),
            json!({ "subscriptions": subscription_list(body, "visibility")?.unwrap_or_default() }),
        );
        props.insert(
            "autoApproval".into(),
            json!({ "subscriptions": subscription_list(body, "autoApproval")?.unwrap_or_default() }),
        );
        props.insert("fqdns".into(), json!(body.strings("fqdns")?.unwrap_or_default()));
        props.insert("enableProxyProtocol".into(), json!(body.bool("enableProxyProtocol")?.unwrap_or(false)));
        let alias = input.existing.and_then(|e| properties(e).get("alias").cloned()).unwrap_or_else(|| {
            json!(format!(
                "{}.{}.{}.azure.privatelinkservice",
                id.name().to_ascii_lowercase(),
                uuid::Uuid::new_v4(),
                input.location.unwrap_or_default()
            ))
        });
        props.insert("alias".into(), alias);
        Ok(props)
    }

    fn render_properties(&self, tx: &mut dyn Tx, row: &ResourceRow, props: &mut Map<String, Value>) -> ArmResult<()> {
        let connections = connections::list_rendered(tx, row, TYPE)?;
        props.insert("privateEndpointConnections".into(), Value::Array(connections));
        Ok(())
    }
}

/// `POST .../locations/{location}/checkPrivateLinkServiceVisibility`.
pub fn check_visibility(tx: &mut dyn Tx, subscription: &str, alias: &str, caller: &Caller) -> ArmResult<bool> {
    match find_by_alias(tx, alias)? {
        Some(row) => visible_to(tx, &row, subscription, Some(caller)),
        None => Ok(false),
    }
}
