//! Microsoft.Network/virtualNetworks/subnets: prefixes, network policies, delegations, the NSG
//! reference, and the IPAM pools that hand out the subnet's addresses.
//!
//! A subnet is written either through its own PUT or inline in its virtual network's PUT; both
//! go through [`apply`], so the rules are the same.

use ipnet::IpNet;
use privlink_store::{ResourceRow, Tx};
use serde_json::{json, Map, Value};

use super::address::{overlaps, parse_prefix, pool_key, pool_range};
use crate::arm::api_version::NETWORK;
use crate::arm::json::Obj;
use crate::arm::{ArmError, ArmResult, ResourceId};
use crate::providers::{location, properties, referenced, PutInput, ResourceType, Write};

pub const TYPE: &str = "Microsoft.Network/virtualNetworks/subnets";
pub const TYPE_KEY: &str = "microsoft.network/virtualnetworks/subnets";
/// What placing a NIC or private endpoint in a subnet needs on that subnet.
pub const JOIN_ACTION: &str = "Microsoft.Network/virtualNetworks/subnets/join/action";

pub struct Subnets;

impl ResourceType for Subnets {
    fn type_name(&self) -> &'static str {
        TYPE
    }
    fn api_versions(&self) -> &'static [&'static str] {
        NETWORK
    }
    fn tracked(&self) -> bool {
        false
    }

    fn put(&self, w: &mut Write<'_>, input: &PutInput<'_>) -> ArmResult<Map<String, Value>> {
        let vnet_id = input.id.parent().ok_or(ArmError::Internal)?;
        let vnet = w.get(&vnet_id.key())?.ok_or(ArmError::Internal)?;
        let space = super::virtual_networks::address_space(&vnet)?;
        let mut siblings = Vec::new();
        for row in w.tx.list(&privlink_store::ListQuery {
            scope: privlink_store::Scope::Children { parent_key: &vnet.key },
            type_key: Some(TYPE_KEY),
            after: None,
            limit: usize::MAX >> 1,
        })? {
            if row.key != input.id.key() {
                siblings.push((row.id.clone(), prefixes_of(&row)?));
            }
        }
        if input.existing.is_none() && siblings.len() as u64 >= w.settings.limits.subnets_per_vnet {
            return Err(ArmError::invalid(
                "SubnetsPerVirtualNetworkLimitReached",
                format!("Virtual network {} already has {} subnets, the most allowed.", vnet.id, siblings.len()),
            ));
        }
        apply(w, &vnet, &space, &siblings, input.id, input.existing, input.properties())
    }

    fn check_delete(&self, w: &mut Write<'_>, row: &ResourceRow, root_key: &str) -> ArmResult<()> {
        ensure_unused(w.tx, row, root_key)
    }

    fn on_deleted(&self, w: &mut Write<'_>, row: &ResourceRow) -> ArmResult<()> {
        for prefix in prefixes_of(row)? {
            w.tx.ip_pool_delete(&pool_key(&row.key, &prefix))?;
        }
        Ok(())
    }

    fn render_properties(&self, tx: &mut dyn Tx, row: &ResourceRow, props: &mut Map<String, Value>) -> ArmResult<()> {
        let mut users = Vec::new();
        let mut endpoints: Vec<Value> = Vec::new();
        let mut last_owner_row: Option<ResourceRow> = None;
        for (_, _, owner) in tx.ip_allocations_in(&format!("{}#", row.key), 100_000)? {
            // Owners are `{resource key}/ipconfigurations/{name}`.
            let Some((resource_key, config)) = owner.rsplit_once("/ipconfigurations/") else { continue };
            if last_owner_row.as_ref().map(|r| r.key.as_str()) != Some(resource_key) {
                last_owner_row = tx.get(resource_key)?;
            }
            if let Some(nic) = &last_owner_row {
                let name = super::network_interfaces::config_name(nic, config).unwrap_or_else(|| config.to_string());
                users.push(json!({ "id": format!("{}/ipConfigurations/{name}", nic.id) }));
                if let Some(pe) = properties(nic).get("privateEndpoint").and_then(|p| p.get("id")).cloned() {
                    let entry = json!({ "id": pe });
                    if !endpoints.contains(&entry) {
                        endpoints.push(entry);
                    }
                }
            }
        }
        if !users.is_empty() {
            props.insert("ipConfigurations".into(), Value::Array(users));
        }
        if !endpoints.is_empty() {
            props.insert("privateEndpoints".into(), Value::Array(endpoints));
        }
        Ok(())
    }
}

/// The subnet's prefixes, parsed.
pub fn prefixes_of(row: &ResourceRow) -> ArmResult<Vec<IpNet>> {
    let props = properties(row);
    let mut out = Vec::new();
    if let Some(p) = props.get("addressPrefix").and_then(Value::as_str) {
        out.push(p.parse().map_err(|_| ArmError::Internal)?);
    }
    for p in props.get("addressPrefixes").and_then(Value::as_array).into_iter().flatten() {
        out.push(p.as_str().and_then(|s| s.parse().ok()).ok_or(ArmError::Internal)?);
    }
    Ok(out)
}

/// Whether any private endpoint holds an address in the subnet.
fn hosts_private_endpoints(tx: &mut dyn Tx, subnet_key: &str) -> ArmResult<bool> {
    for (_, _, owner) in tx.ip_allocations_in(&format!("{subnet_key}#"), 100_000)? {
        if let Some((nic_key, _)) = owner.rsplit_once("/ipconfigurations/") {
            if tx.get(nic_key)?.as_ref().and_then(super::network_interfaces::managed_by).is_some() {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// A subnet may go only when no address in it is held by anything outside `root_key`'s tree.
pub fn ensure_unused(tx: &mut dyn Tx, row: &ResourceRow, root_key: &str) -> ArmResult<()> {
    let foreign = tx.ip_count_foreign(&format!("{}#", row.key), &format!("{root_key}/"))?;
    if foreign > 0 {
        let name = ResourceId::parse(&row.id).map(|i| i.name().to_string()).unwrap_or_default();
        return Err(ArmError::InUse {
            code: "InUseSubnetCannotBeDeleted",
            message: format!("Subnet {name} is in use by {foreign} IP configuration(s) and cannot be deleted. In order to delete the subnet, delete all the resources within the subnet. See aka.ms/deletesubnet."),
        });
    }
    Ok(())
}

const PE_POLICIES: &[&str] = &["Enabled", "Disabled", "NetworkSecurityGroupEnabled", "RouteTableEnabled"];
const PLS_POLICIES: &[&str] = &["Enabled", "Disabled"];

/// Validate one subnet against its VNet's address space and sibling subnets, keep its address
/// pools in step with its prefixes, and store it. Returns the stored properties.
pub fn apply(
    w: &mut Write<'_>,
    vnet: &ResourceRow,
    space: &[IpNet],
    siblings: &[(String, Vec<IpNet>)],
    id: &ResourceId,
    existing: Option<&ResourceRow>,
    body: Obj<'_>,
) -> ArmResult<Map<String, Value>> {
    let subnet_text = id.to_string();
    let name = id.name();
    let vnet_name = ResourceId::parse(&vnet.id).map(|i| i.name().to_string()).unwrap_or_default();
    let mut props = Map::new();

    let single = body.str("addressPrefix")?;
    let many = body.strings("addressPrefixes")?;
    let texts: Vec<&str> = match (single, &many) {
        (Some(p), None) => vec![p],
        (None, Some(list)) if !list.is_empty() => list.clone(),
        (Some(p), Some(list)) if list.is_empty() => vec![p],
        (Some(_), Some(_)) => {
            return Err(ArmError::invalid(
                "SubnetCannotHaveBothAddressPrefixAndAddressPrefixes",
                format!("Subnet {name} sets both addressPrefix and addressPrefixes; use one."),
            ))
        }
        _ => {
            return Err(ArmError::invalid(
                "SubnetMissingAddressPrefix",
                format!("Subnet {name} must have an address prefix (properties.addressPrefix)."),
            ))
        }
    };
    let mut prefixes = Vec::new();
    for text in &texts {
        let prefix = parse_prefix(text, &subnet_text)?;
        match prefix {
            IpNet::V4(p) if p.prefix_len() > 29 => {
                return Err(ArmError::invalid(
                    "InvalidSubnetPrefixLength",
                    format!("Subnet {name} has prefix {prefix}; the smallest supported IPv4 subnet is /29."),
                ))
            }
            IpNet::V6(p) if p.prefix_len() != 64 => {
                return Err(ArmError::invalid(
                    "InvalidSubnetPrefixLength",
                    format!("Subnet {name} has IPv6 prefix {prefix}; IPv6 subnets must be exactly /64."),
                ))
            }
            _ => {}
        }
        if !space.iter().any(|s| s.contains(&prefix)) {
            return Err(ArmError::invalid(
                "NetcfgSubnetRangeOutsideVnet",
                format!("Subnet '{name}' is not valid because its IP address range is outside the IP address range of virtual network '{vnet_name}'."),
            ));
        }
        if prefixes.iter().any(|p: &IpNet| overlaps(p, &prefix))
            || prefixes.iter().any(|p: &IpNet| std::mem::discriminant(p) == std::mem::discriminant(&prefix))
        {
            return Err(ArmError::invalid(
                "InvalidSubnetAddressPrefixes",
                format!("Subnet {name} may have at most one IPv4 and one IPv6 prefix, and they must not overlap."),
            ));
        }
        for (sibling, theirs) in siblings {
            if theirs.iter().any(|t| overlaps(t, &prefix)) {
                let sibling_name = sibling.rsplit('/').next().unwrap_or(sibling);
                return Err(ArmError::invalid(
                    "NetcfgSubnetRangesOverlap",
                    format!("Subnet '{name}' is not valid because its IP address range overlaps with that of an existing subnet '{sibling_name}' in virtual network '{vnet_name}'."),
                ));
            }
        }
        prefixes.push(prefix);
    }
    match (single, many) {
        (Some(p), _) => props.insert("addressPrefix".into(), json!(p.trim())),
        (None, Some(list)) => {
            props.insert("addressPrefixes".into(), json!(list.iter().map(|p| p.trim()).collect::<Vec<_>>()))
        }
        _ => None,
    };

    if let Some(nsg) = body.reference("networkSecurityGroup")? {
        let (nsg_id, nsg_row) = referenced(w, nsg, super::network_security_groups::TYPE, id)?;
        if location(&nsg_row) != location(vnet) {
            return Err(ArmError::invalid(
                "InvalidResourceReference",
                format!("Resource {nsg_id} referenced by resource {id} was not found in region {}. Please make sure that the referenced resource exists, and that both resources are in the same region.", location(vnet).unwrap_or_default()),
            ));
        }
        props.insert("networkSecurityGroup".into(), json!({ "id": nsg_id.to_string() }));
    }
    if let Some(route_table) = body.reference("routeTable")? {
        props.insert("routeTable".into(), json!({ "id": route_table }));
    }
    props.insert(
        "privateEndpointNetworkPolicies".into(),
        json!(body.one_of("privateEndpointNetworkPolicies", PE_POLICIES)?.unwrap_or("Disabled")),
    );
    if w.settings.legacy_network_policies
        && props.get("privateEndpointNetworkPolicies").and_then(Value::as_str) != Some("Disabled")
        && hosts_private_endpoints(w.tx, &id.key())?
    {
        return Err(ArmError::invalid(
            "PrivateEndpointNetworkPoliciesCannotBeEnabledOnPrivateEndpointSubnet",
            format!("Private endpoint network policies cannot be enabled on subnet {id} because it hosts private endpoints."),
        ));
    }
    props.insert(
        "privateLinkServiceNetworkPolicies".into(),
        json!(body.one_of("privateLinkServiceNetworkPolicies", PLS_POLICIES)?.unwrap_or("Enabled")),
    );
    if let Some(outbound) = body.bool("defaultOutboundAccess")? {
        props.insert("defaultOutboundAccess".into(), json!(outbound));
    }
    if let Some(endpoints) = body.array("serviceEndpoints")? {
        props.insert("serviceEndpoints".into(), json!(endpoints));
    }
    props.insert("delegations".into(), delegations(id, body)?);

    sync_pools(w.tx, &id.key(), existing, &prefixes, name)?;
    Ok(props)
}

fn delegations(id: &ResourceId, body: Obj<'_>) -> ArmResult<Value> {
    let mut out = Vec::new();
    let mut names = std::collections::HashSet::new();
    for (path, item) in body.objects("delegations")? {
        let d = Obj::new(item, &path);
        let name = d
            .str("name")?
            .ok_or_else(|| ArmError::invalid_at("InvalidRequestFormat", &path, "Each delegation needs a name."))?;
        if !names.insert(name.to_ascii_lowercase()) {
            return Err(ArmError::invalid(
                "DuplicateResourceName",
                format!("Delegation name {name} is used twice in subnet {}.", id.name()),
            ));
        }
        let props = d.obj("properties")?.cloned().unwrap_or_default();
        let p = Obj::new(&props, &path);
        let service = p.str("serviceName")?.ok_or_else(|| {
            ArmError::invalid_at(
                "InvalidRequestFormat",
                &path,
                "Each delegation needs properties.serviceName, e.g. Microsoft.Web/serverFarms.",
            )
        })?;
        if !service.contains('/') {
            return Err(ArmError::invalid(
                "InvalidServiceNameOnDelegation",
                format!("Delegation {name} has invalid service name '{service}': expected Namespace/type."),
            ));
        }
        out.push(json!({
            "name": name,
            "id": format!("{id}/delegations/{name}"),
            "type": "Microsoft.Network/virtualNetworks/subnets/delegations",
            "properties": { "serviceName": service, "actions": [], "provisioningState": "Succeeded" },
        }));
    }
    Ok(Value::Array(out))
}

/// Create pools for new prefixes and drop pools of removed ones; a prefix whose addresses are
/// in use cannot change.
fn sync_pools(
    tx: &mut dyn Tx,
    subnet_key: &str,
    existing: Option<&ResourceRow>,
    prefixes: &[IpNet],
    name: &str,
) -> ArmResult<()> {
    let old = match existing {
        Some(row) => prefixes_of(row)?,
        None => Vec::new(),
    };
    for gone in old.iter().filter(|p| !prefixes.contains(p)) {
        let pool = pool_key(subnet_key, gone);
        if tx.ip_count(&pool)? > 0 {
            return Err(ArmError::InUse {
                code: "InUseSubnetCannotBeUpdated",
                message: format!("Subnet {name} is in use and its address prefix {gone} cannot be changed. Remove the resources using addresses in it first."),
            });
        }
        tx.ip_pool_delete(&pool)?;
    }
    for new in prefixes.iter().filter(|p| !old.contains(p)) {
        let (first, last) = pool_range(new);
        tx.ip_pool_create(&pool_key(subnet_key, new), first, last)?;
    }
    Ok(())
}
