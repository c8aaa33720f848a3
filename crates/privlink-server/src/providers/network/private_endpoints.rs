//! Microsoft.Network/privateEndpoints.
//!
//! Creating an endpoint, in one transaction: validate the subnet (same subscription and region,
//! not delegated) and the target (exists, group id valid for its type, type-specific rules);
//! check the limits; decide the connection's first state (automatic connections are Approved
//! when the caller may approve on the target, and refused otherwise; manual ones are Pending);
//! allocate one private IP per required member on a read-only NIC `{pe}.nic.{guid}`; write the
//! connection on both sides; fill `customDnsConfigs`. The IPs never change while the endpoint
//! exists; deleting it removes its NIC (releasing the IPs) and its connection on the target.

use std::net::IpAddr;

use ipnet::IpNet;
use privlink_store::{ResourceRow, Tx};
use serde_json::{json, Map, Value};

use super::address::ip_to_offset;
use super::network_interfaces::{self, allocate, owner_key};
use super::{private_link_services as pls, subnets};
use crate::arm::api_version::NETWORK;
use crate::arm::json::Obj;
use crate::arm::names::NameRule;
use crate::arm::{ArmError, ArmResult, ResourceId};
use crate::catalogue;
use crate::providers::approval::{self, Status};
use crate::providers::targets;
use crate::providers::{location, properties, referenced, PutInput, ResourceType, Write};

pub const TYPE: &str = "Microsoft.Network/privateEndpoints";
pub const TYPE_KEY: &str = "microsoft.network/privateendpoints";
const WRITE_ACTION: &str = "Microsoft.Network/privateEndpoints/write";
const MAX_REQUEST_MESSAGE: usize = 140;

pub struct PrivateEndpoints;

/// What a connection points at.
enum Target {
    Catalogued {
        id: ResourceId,
        row: ResourceRow,
        kind: &'static catalogue::TargetKind,
        group: &'static catalogue::Group,
    },
    LinkService {
        id: ResourceId,
        row: ResourceRow,
        by_alias: Option<String>,
    },
}

impl Target {
    fn row(&self) -> &ResourceRow {
        match self {
            Target::Catalogued { row, .. } | Target::LinkService { row, .. } => row,
        }
    }
    fn id(&self) -> &ResourceId {
        match self {
            Target::Catalogued { id, .. } | Target::LinkService { id, .. } => id,
        }
    }
    /// `(member name, public FQDNs)` the endpoint needs an IP for.
    fn members(&self) -> Vec<(String, Vec<String>)> {
        match self {
            Target::Catalogued { row, group, .. } => {
                let name = row.id.rsplit('/').next().unwrap_or_default();
                let region = location(row).unwrap_or_default();
                group
                    .members
                    .iter()
                    .map(|m| (catalogue::expand(m.name, name, region), vec![catalogue::expand(m.fqdn, name, region)]))
                    .collect()
            }
            Target::LinkService { row, .. } => {
                let fqdns = properties(row)
                    .get("fqdns")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
                    .unwrap_or_default();
                vec![("default".to_string(), fqdns)]
            }
        }
    }
    fn group_ids(&self) -> Vec<String> {
        match self {
            Target::Catalogued { group, .. } => vec![group.id.to_string()],
            Target::LinkService { .. } => vec![],
        }
    }
    fn approval_action(&self) -> String {
        match self {
            Target::Catalogued { kind, .. } => kind.approval_action(),
            Target::LinkService { .. } => {
                "Microsoft.Network/privateLinkServices/privateEndpointConnectionsApproval/action".into()
            }
        }
    }
}

fn counter(tx: &mut dyn Tx, key: &str) -> ArmResult<u64> {
    Ok(tx.meta_get(key)?.and_then(|v| v.parse().ok()).unwrap_or(0))
}

fn bump(tx: &mut dyn Tx, key: &str, delta: i64) -> ArmResult<()> {
    let value = (counter(tx, key)? as i64 + delta).max(0);
    tx.meta_put(key, &value.to_string())?;
    Ok(())
}

fn vnet_counter(vnet_key: &str) -> String {
    format!("count/privateEndpoints/vnet/{vnet_key}")
}

fn subscription_counter(subscription: &str) -> String {
    format!("count/privateEndpoints/subscription/{}", subscription.to_ascii_lowercase())
}

fn resolve_target(
    w: &mut Write<'_>,
    pe_id: &ResourceId,
    conn_path: &str,
    service_id: &str,
    group_ids: &[&str],
    manual: bool,
) -> ArmResult<Target> {
    if service_id.to_ascii_lowercase().ends_with(".azure.privatelinkservice") {
        if !manual {
            return Err(ArmError::invalid(
                "PrivateLinkServiceAliasRequiresManualConnection",
                format!("Private endpoint {pe_id} connects by alias '{service_id}': connections by alias must use manualPrivateLinkServiceConnections."),
            ));
        }
        let row = pls::find_by_alias(w.tx, service_id)?.ok_or_else(|| {
            ArmError::invalid(
                "PrivateLinkServiceAliasNotFound",
                format!(
                    "No private link service has the alias '{service_id}' (or it is not visible to subscription {}).",
                    pe_id.subscription
                ),
            )
        })?;
        let caller = w.caller.clone();
        if !pls::visible_to(w.tx, &row, &pe_id.subscription, caller.as_ref())? {
            return Err(ArmError::invalid(
                "PrivateLinkServiceAliasNotFound",
                format!(
                    "No private link service has the alias '{service_id}' (or it is not visible to subscription {}).",
                    pe_id.subscription
                ),
            ));
        }
        let id = ResourceId::parse(&row.id).ok_or(ArmError::Internal)?;
        return Ok(Target::LinkService { id, row, by_alias: Some(service_id.to_string()) });
    }
    let parsed = ResourceId::parse(service_id).ok_or_else(|| {
        ArmError::invalid_at("LinkedInvalidPropertyId", &format!("{conn_path}.properties.privateLinkServiceId"), format!("Property id '{service_id}' at path '{conn_path}.properties.privateLinkServiceId' is invalid. Expect a fully qualified resource id that starts with '/subscriptions/{{subscriptionId}}' or a private link service alias."))
    })?;
    let type_name = parsed.type_name();
    if type_name.eq_ignore_ascii_case(pls::TYPE) {
        let (id, row) = referenced(w, service_id, pls::TYPE, pe_id)?;
        if !group_ids.is_empty() {
            return Err(ArmError::invalid(
                "PrivateLinkServiceConnectionGroupIdsNotAllowed",
                "Connections to a private link service take no groupIds.",
            ));
        }
        return Ok(Target::LinkService { id, row, by_alias: None });
    }
    let kind = catalogue::find(&type_name).ok_or_else(|| targets::not_a_target(&type_name))?;
    let (id, row) = referenced(w, service_id, kind.type_name, pe_id)?;
    let valid = kind.group_ids().join(", ");
    let group_id = match group_ids {
        [one] => *one,
        [] => return Err(ArmError::invalid("PrivateEndpointGroupIdMissing", format!("A connection to {} needs one groupId; valid group ids are: {valid}.", kind.type_name))),
        _ => return Err(ArmError::invalid("PrivateEndpointMultipleGroupIds", format!("A connection takes exactly one groupId (create one private endpoint per sub-resource); valid group ids are: {valid}."))),
    };
    let group = kind.group(group_id).ok_or_else(|| {
        ArmError::invalid(
            "InvalidPrivateEndpointGroupId",
            format!(
                "Group id '{group_id}' is not valid for resource type {}; valid group ids are: {valid}.",
                kind.type_name
            ),
        )
    })?;
    targets::specifics(kind).check_endpoint(&row, group.id)?;
    Ok(Target::Catalogued { id, row, kind, group })
}

/// Static IP configurations asked for, keyed by `(groupId, memberName)`.
struct StaticConfig {
    name: String,
    group_id: String,
    member: String,
    ip: IpAddr,
}

/// Static IP configurations: unique names, and each for a member the target requires (one
/// configuration per member), so every address reported is an address allocated.
fn static_configs(
    body: Obj<'_>,
    pe_id: &ResourceId,
    members: &[(String, Vec<String>)],
    group: &str,
) -> ArmResult<Vec<StaticConfig>> {
    let mut out: Vec<StaticConfig> = Vec::new();
    for config in body.named("ipConfigurations", NameRule::Network, "IP configuration", &pe_id.to_string())? {
        let p = config.properties();
        let group_id = p.str("groupId")?.unwrap_or_default().to_string();
        let member = p.str("memberName")?.unwrap_or_default().to_string();
        let ip_text = p.str("privateIPAddress")?.ok_or_else(|| {
            ArmError::invalid_at(
                "InvalidRequestFormat",
                &config.path,
                format!("{}.privateIPAddress is required.", config.path),
            )
        })?;
        let ip = ip_text.parse().map_err(|_| {
            ArmError::invalid(
                "InvalidPrivateIPAddressFormat",
                format!(
                    "Private IP address '{ip_text}' of IP configuration {} is not a valid IP address.",
                    config.name
                ),
            )
        })?;
        let required =
            group_id.eq_ignore_ascii_case(group) && members.iter().any(|(m, _)| m.eq_ignore_ascii_case(&member));
        if !required {
            let wanted: Vec<String> =
                members.iter().map(|(m, _)| format!("[GroupId: {group}, MemberName: {m}]")).collect();
            return Err(ArmError::invalid(
                "PrivateEndpointIpConfigurationMemberNotRequired",
                format!("IP configuration {} of {pe_id} is for [GroupId: {group_id}, MemberName: {member}], which the target does not require; it requires {}.", config.name, wanted.join(", ")),
            ));
        }
        if out.iter().any(|s| s.member.eq_ignore_ascii_case(&member)) {
            return Err(ArmError::invalid(
                "PrivateEndpointIpConfigurationDuplicateMember",
                format!("Private endpoint {pe_id} has more than one IP configuration for member {member}."),
            ));
        }
        out.push(StaticConfig { name: config.name.clone(), group_id, member, ip });
    }
    Ok(out)
}

impl ResourceType for PrivateEndpoints {
    fn type_name(&self) -> &'static str {
        TYPE
    }
    fn api_versions(&self) -> &'static [&'static str] {
        NETWORK
    }
    fn tracked(&self) -> bool {
        true
    }

    fn put(&self, w: &mut Write<'_>, input: &PutInput<'_>) -> ArmResult<Map<String, Value>> {
        let pe_id = input.id;
        let body = input.properties();

        let subnet_text = body.reference("subnet")?.ok_or_else(|| {
            ArmError::invalid_at(
                "InvalidRequestFormat",
                "properties.subnet.id",
                format!("Private endpoint {pe_id} needs properties.subnet.id."),
            )
        })?;
        let (subnet_id, subnet) = referenced(w, subnet_text, subnets::TYPE, pe_id)?;
        w.require_linked(WRITE_ACTION, pe_id, subnets::JOIN_ACTION, &subnet_id)?;
        let vnet = w.get(&subnet.parent_key)?.ok_or(ArmError::Internal)?;
        if !subnet_id.subscription.eq_ignore_ascii_case(&pe_id.subscription) {
            return Err(ArmError::invalid(
                "PrivateEndpointAndSubnetInDifferentSubscriptions",
                format!("Private endpoint {pe_id} and subnet {subnet_id} must be in the same subscription."),
            ));
        }
        if location(&vnet) != input.location {
            return Err(ArmError::invalid(
                "InvalidResourceReference",
                format!("Resource {subnet_id} referenced by resource {pe_id} was not found. Please make sure that the referenced resource exists, and that both resources are in the same region ({} is in {}, the private endpoint in {}).", vnet.id, location(&vnet).unwrap_or_default(), input.location.unwrap_or_default()),
            ));
        }
        if properties(&subnet).get("delegations").and_then(Value::as_array).is_some_and(|d| !d.is_empty()) {
            return Err(ArmError::invalid(
                "PrivateEndpointCreationNotAllowedAsSubnetIsDelegated",
                format!("Private endpoint {pe_id} cannot be created in subnet {subnet_id} because the subnet is delegated to a service."),
            ));
        }

        if w.settings.legacy_network_policies
            && properties(&subnet).get("privateEndpointNetworkPolicies").and_then(Value::as_str).unwrap_or("Disabled")
                != "Disabled"
        {
            return Err(ArmError::invalid(
                "PrivateEndpointCannotBeCreatedInSubnetThatHasNetworkPoliciesEnabled",
                format!("Private endpoint {pe_id} cannot be created in a subnet {subnet_id} since it has private endpoint network policies enabled."),
            ));
        }

        let auto = body.objects("privateLinkServiceConnections")?;
        let manual = body.objects("manualPrivateLinkServiceConnections")?;
        let (list, (conn_path, conn), is_manual) = match (auto.len(), manual.len()) {
            (1, 0) => ("privateLinkServiceConnections", auto[0].clone(), false),
            (0, 1) => ("manualPrivateLinkServiceConnections", manual[0].clone(), true),
            (0, 0) => {
                return Err(ArmError::invalid(
                    "PrivateEndpointMustHaveOneConnection",
                    format!("Private endpoint {pe_id} needs exactly one connection, in privateLinkServiceConnections (automatic approval) or manualPrivateLinkServiceConnections (manual approval)."),
                ))
            }
            _ => {
                return Err(ArmError::invalid(
                    "PrivateEndpointMustHaveOneConnection",
                    format!("Private endpoint {pe_id} has {} automatic and {} manual connections: use exactly one connection, in one of the two arrays.", auto.len(), manual.len()),
                ))
            }
        };
        let c = Obj::new(conn, &conn_path);
        let conn_name = c.str("name")?.ok_or_else(|| {
            ArmError::invalid_at(
                "InvalidRequestFormat",
                &format!("{conn_path}.name"),
                "Cannot parse the request: every private link service connection needs a name.",
            )
        })?;
        crate::arm::names::NameRule::Network
            .check(conn_name, "Microsoft.Network/privateEndpoints/privateLinkServiceConnections")?;
        let cp_map = c.obj("properties")?.cloned().unwrap_or_default();
        let cp = Obj::new(&cp_map, &conn_path);
        let service_id = cp.str("privateLinkServiceId")?.ok_or_else(|| ArmError::invalid_at("InvalidRequestFormat", &format!("{conn_path}.properties.privateLinkServiceId"), format!("Connection {conn_name} needs properties.privateLinkServiceId (a resource id or a private link service alias).")))?;
        let group_ids = cp.strings("groupIds")?.unwrap_or_default();
        let request_message = cp.str("requestMessage")?.unwrap_or("");
        if request_message.chars().count() > MAX_REQUEST_MESSAGE {
            return Err(ArmError::invalid("PrivateEndpointRequestMessageTooLong", format!("The request message of connection {conn_name} has {} characters; at most {MAX_REQUEST_MESSAGE} are allowed.", request_message.chars().count())));
        }

        if let Some(existing) = input.existing {
            return update(pe_id, existing, &subnet, list, service_id, &group_ids, request_message);
        }

        let target = resolve_target(w, pe_id, &conn_path, service_id, &group_ids, is_manual)?;

        // Limits.
        let limits = &w.settings.limits;
        let (per_vnet, per_sub) = (limits.private_endpoints_per_vnet, limits.private_endpoints_per_subscription);
        if counter(w.tx, &vnet_counter(&vnet.key))? >= per_vnet {
            return Err(ArmError::invalid(
                "PrivateEndpointsPerVirtualNetworkLimitReached",
                format!("Virtual network {} already has {per_vnet} private endpoints, the most allowed.", vnet.id),
            ));
        }
        if counter(w.tx, &subscription_counter(&pe_id.subscription))? >= per_sub {
            return Err(ArmError::invalid(
                "PrivateEndpointsPerSubscriptionLimitReached",
                format!(
                    "Subscription {} already has {per_sub} private endpoints, the most allowed.",
                    pe_id.subscription
                ),
            ));
        }

        // The connection's first state.
        let pe_sub = pe_id.subscription.clone();
        let auto_listed = match &target {
            Target::LinkService { row, .. } => pls::auto_approves(row, &pe_sub),
            Target::Catalogued { .. } => false,
        };
        let (status, description) = if auto_listed {
            (Status::Approved, "Auto-Approved")
        } else if is_manual {
            (Status::Pending, "Awaiting approval")
        } else {
            // Automatic: the caller must hold the approval permission on the target itself.
            let linked = target.id().clone();
            w.require_linked(WRITE_ACTION, pe_id, &target.approval_action(), &linked)?;
            (Status::Approved, "Auto-Approved")
        };

        // The NIC and one IP per required member.
        let members = target.members();
        let group_ids_out = target.group_ids();
        let statics = static_configs(body, pe_id, &members, group_ids_out.first().map(String::as_str).unwrap_or(""))?;
        for m in &members {
            let group = group_ids_out.first().map(String::as_str).unwrap_or("");
            let covered =
                statics.iter().any(|s| s.member.eq_ignore_ascii_case(&m.0) && s.group_id.eq_ignore_ascii_case(group));
            if !statics.is_empty() && !covered {
                let have: Vec<String> = statics
                    .iter()
                    .map(|s| format!("[PrivateIPAddress: {}, GroupId: {}, MemberName: {}]", s.ip, s.group_id, s.member))
                    .collect();
                return Err(ArmError::invalid(
                    "PrivateEndpointIpConfigurationMissingMemberNamesRequiredByFps",
                    format!("Private Endpoint {pe_id} contains static ipconfigurations: {} and its missing these membernames/groupids requested by Private Link service [GroupId: {group}, MemberName: {}]. Private Endpoint needs to be reconfigured with missing memberNames.", have.join(", "), m.0),
                ));
            }
        }
        let nic_name = match body.str("customNetworkInterfaceName")? {
            Some(name) => {
                crate::arm::names::NameRule::Network.check(name, network_interfaces::TYPE)?;
                name.to_string()
            }
            None => format!("{}.nic.{}", pe_id.name(), uuid::Uuid::new_v4()),
        };
        let nic_id =
            ResourceId::resource_group(&pe_id.subscription, pe_id.resource_group.as_deref().unwrap_or_default())
                .with_provider("Microsoft.Network", "networkInterfaces", &nic_name);
        if w.get(&nic_id.key())?.is_some() {
            return Err(ArmError::Conflict {
                code: "NetworkInterfaceAlreadyExists",
                message: format!(
                    "Network interface {nic_id} already exists; choose another customNetworkInterfaceName."
                ),
            });
        }
        let prefix =
            subnets::prefixes_of(&subnet)?.into_iter().find(|p| matches!(p, IpNet::V4(_))).ok_or_else(|| {
                ArmError::invalid(
                    "SubnetDoesNotSupportIpVersion",
                    format!("Subnet {subnet_id} has no IPv4 prefix for private endpoint {pe_id}."),
                )
            })?;
        let mut nic_configs = Vec::new();
        let mut dns_configs = Vec::new();
        for (member, fqdns) in &members {
            let wanted = statics.iter().find(|s| s.member.eq_ignore_ascii_case(member));
            if let Some(s) = wanted {
                if ip_to_offset(&prefix, s.ip).is_none() {
                    return Err(ArmError::invalid(
                        "PrivateIPAddressNotInSubnet",
                        format!(
                            "Static IP {} of IP configuration {} is not within subnet {subnet_id} ({prefix}).",
                            s.ip, s.name
                        ),
                    ));
                }
            }
            let config_name = wanted
                .map(|s| s.name.clone())
                .unwrap_or_else(|| format!("privateEndpointIpConfig.{}", uuid::Uuid::new_v4()));
            let (method, ip) = match wanted {
                Some(s) => ("Static", Some(s.ip)),
                None => ("Dynamic", None),
            };
            let address = allocate(
                w,
                &subnet_id,
                &subnet.key,
                &prefix,
                &owner_key(&nic_id.key(), &config_name),
                method,
                ip,
                &config_name,
            )?;
            nic_configs.push(json!({
                "name": config_name,
                "properties": {
                    "privateIPAddress": address.to_string(),
                    "privateIPAllocationMethod": method,
                    "privateIPAddressVersion": "IPv4",
                    "subnet": { "id": subnet_id.to_string() },
                    "primary": nic_configs.is_empty(),
                    "privateLinkConnectionProperties": { "groupId": group_ids_out.first().cloned().unwrap_or_default(), "requiredMemberName": member, "fqdns": fqdns },
                }
            }));
            for fqdn in fqdns {
                dns_configs.push(json!({ "fqdn": fqdn, "ipAddresses": [address.to_string()] }));
            }
        }
        let nic_body = Map::from_iter([
            ("location".to_string(), json!(input.location)),
            (
                "properties".to_string(),
                json!({ "ipConfigurations": nic_configs, "privateEndpoint": { "id": pe_id.to_string() }, "nicType": "Standard", "enableAcceleratedNetworking": false, "enableIPForwarding": false, "resourceGuid": uuid::Uuid::new_v4().to_string() }),
            ),
            ("internal".to_string(), json!({ "managedBy": pe_id.key() })),
        ]);
        w.save(&nic_id, None, nic_body)?;

        // The target's side of the connection.
        let connection_name = format!("{}.{}", pe_id.name(), uuid::Uuid::new_v4());
        let pec_id = target.id().child("privateEndpointConnections", &connection_name);
        let mut pec_props = json!({
            "privateEndpoint": { "id": pe_id.to_string() },
            "groupIds": group_ids_out,
            "privateLinkServiceConnectionState": approval::state_json(status, description, "None"),
        });
        if let Target::LinkService { .. } = target {
            pec_props["linkIdentifier"] = json!(rand::random::<u32>().to_string());
            pec_props["privateEndpointLocation"] = json!(input.location);
        }
        w.save(
            &pec_id,
            None,
            Map::from_iter([
                ("properties".to_string(), pec_props),
                ("internal".to_string(), json!({ "privateEndpoint": pe_id.key() })),
            ]),
        )?;

        bump(w.tx, &vnet_counter(&vnet.key), 1)?;
        bump(w.tx, &subscription_counter(&pe_id.subscription), 1)?;

        let echoed_service_id = match &target {
            Target::LinkService { by_alias: Some(alias), .. } => alias.clone(),
            other => other.id().to_string(),
        };
        let connection = json!({
            "name": conn_name,
            "internal": { "connection": pec_id.key() },
            "properties": {
                "privateLinkServiceId": echoed_service_id,
                "groupIds": target.group_ids(),
                "requestMessage": request_message,
                "privateLinkServiceConnectionState": approval::state_json(status, description, "None"),
            }
        });
        let mut props = Map::new();
        props.insert("subnet".into(), json!({ "id": subnet_id.to_string() }));
        props.insert("networkInterfaces".into(), json!([{ "id": nic_id.to_string() }]));
        props.insert(
            "privateLinkServiceConnections".into(),
            json!(if is_manual { vec![] } else { vec![connection.clone()] }),
        );
        props.insert(
            "manualPrivateLinkServiceConnections".into(),
            json!(if is_manual { vec![connection] } else { vec![] }),
        );
        props.insert("customDnsConfigs".into(), Value::Array(dns_configs));
        props.insert("ipConfigurations".into(), json!(statics.iter().map(|s| json!({ "name": s.name, "properties": { "groupId": s.group_id, "memberName": s.member, "privateIPAddress": s.ip.to_string() } })).collect::<Vec<_>>()));
        props.insert(
            "applicationSecurityGroups".into(),
            json!(body.array("applicationSecurityGroups")?.cloned().unwrap_or_default()),
        );
        props.insert("customNetworkInterfaceName".into(), json!(body.str("customNetworkInterfaceName")?.unwrap_or("")));
        props.insert("resourceGuid".into(), json!(uuid::Uuid::new_v4().to_string()));
        let gateway_slot = crate::platform::allocate_endpoint_slot(w.tx, &pe_id.key())?;
        // Every address, also those without a name (a private link service without fqdns).
        let addresses: Vec<&str> = nic_configs
            .iter()
            .filter_map(|c| c.pointer("/properties/privateIPAddress").and_then(Value::as_str))
            .collect();
        w.internal = Some(json!({
            "addresses": addresses,
            "nic": nic_id.key(),
            "connection": pec_id.key(),
            "vnet": vnet.key,
            "target": target.row().key,
            "gatewaySlot": gateway_slot,
        }));
        Ok(props)
    }

    fn on_deleted(&self, w: &mut Write<'_>, row: &ResourceRow) -> ArmResult<()> {
        let internal = approval::internal(row).clone();
        if let Some(pec_key) = internal.get("connection").and_then(Value::as_str) {
            // The endpoint is going: its connection leaves the target (no Disconnected echo).
            w.tx.delete(pec_key)?;
        }
        if let Some(nic_key) = internal.get("nic").and_then(Value::as_str) {
            w.remove_tree(nic_key)?;
        }
        if let Some(vnet_key) = internal.get("vnet").and_then(Value::as_str) {
            bump(w.tx, &vnet_counter(vnet_key), -1)?;
        }
        bump(w.tx, &subscription_counter(&row.subscription), -1)?;
        Ok(())
    }

    fn render_properties(&self, _tx: &mut dyn Tx, row: &ResourceRow, props: &mut Map<String, Value>) -> ArmResult<()> {
        let state = props.get("provisioningState").cloned().unwrap_or(json!("Succeeded"));
        for (list, kind) in [
            ("privateLinkServiceConnections", "privateLinkServiceConnections"),
            ("manualPrivateLinkServiceConnections", "manualPrivateLinkServiceConnections"),
        ] {
            if let Some(Value::Array(connections)) = props.get_mut(list) {
                for connection in connections.iter_mut() {
                    if let Value::Object(c) = connection {
                        c.remove("internal");
                        let name = c.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
                        c.insert("id".into(), json!(format!("{}/{kind}/{name}", row.id)));
                        c.insert(
                            "type".into(),
                            json!("Microsoft.Network/privateEndpoints/privateLinkServiceConnections"),
                        );
                        c.insert("etag".into(), json!(row.etag));
                        if let Some(Value::Object(p)) = c.get_mut("properties") {
                            p.insert("provisioningState".into(), state.clone());
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// An endpoint's names and addresses: `(fqdn, addresses)` from its `customDnsConfigs`, names
/// lower-cased.
pub fn dns_names(pe: &ResourceRow) -> Vec<(String, Vec<String>)> {
    properties(pe)
        .get("customDnsConfigs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| {
            let fqdn = c.get("fqdn")?.as_str()?.to_ascii_lowercase();
            let ips = c.get("ipAddresses")?.as_array()?.iter().filter_map(Value::as_str).map(str::to_string).collect();
            Some((fqdn, ips))
        })
        .collect()
}

/// An endpoint's one connection, from whichever of its two arrays holds it.
pub fn connection(pe: &ResourceRow) -> Option<&Value> {
    let props = properties(pe);
    ["privateLinkServiceConnections", "manualPrivateLinkServiceConnections"]
        .iter()
        .find_map(|list| props.get(*list).and_then(Value::as_array).and_then(|a| a.first()))
}

/// A PUT on an existing endpoint: its subnet, target and IPs never change; the request message
/// may.
#[allow(clippy::too_many_arguments)]
fn update(
    pe_id: &ResourceId,
    existing: &ResourceRow,
    subnet: &ResourceRow,
    list: &str,
    service_id: &str,
    group_ids: &[&str],
    request_message: &str,
) -> ArmResult<Map<String, Value>> {
    let mut props = properties(existing).clone();
    props.remove("provisioningState");
    let old_subnet = props.get("subnet").and_then(|s| s.get("id")).and_then(Value::as_str).unwrap_or_default();
    if !old_subnet.eq_ignore_ascii_case(&subnet.id) {
        return Err(ArmError::invalid(
            "PrivateEndpointSubnetCannotBeChanged",
            format!("The subnet of private endpoint {pe_id} cannot change; delete the endpoint and create it again."),
        ));
    }
    let Some(Value::Array(connections)) = props.get_mut(list) else {
        return Err(ArmError::invalid(
            "PrivateEndpointConnectionCannotBeChanged",
            format!("The connection of private endpoint {pe_id} cannot move between automatic and manual approval."),
        ));
    };
    let Some(Value::Object(connection)) = connections.first_mut() else {
        return Err(ArmError::invalid(
            "PrivateEndpointConnectionCannotBeChanged",
            format!("The connection of private endpoint {pe_id} cannot move between automatic and manual approval."),
        ));
    };
    let Some(Value::Object(cp)) = connection.get_mut("properties") else { return Err(ArmError::Internal) };
    let old_service = cp.get("privateLinkServiceId").and_then(Value::as_str).unwrap_or_default();
    let old_groups: Vec<String> = cp
        .get("groupIds")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_ascii_lowercase).collect())
        .unwrap_or_default();
    let new_groups: Vec<String> = group_ids.iter().map(|g| g.to_ascii_lowercase()).collect();
    if !old_service.eq_ignore_ascii_case(service_id) || old_groups != new_groups {
        return Err(ArmError::invalid(
            "PrivateEndpointConnectionCannotBeChanged",
            format!("The target of private endpoint {pe_id} cannot change; delete the endpoint and create it again."),
        ));
    }
    cp.insert("requestMessage".into(), json!(request_message));
    Ok(props)
}
