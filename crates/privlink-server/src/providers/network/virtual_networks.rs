//! Microsoft.Network/virtualNetworks: address space, DHCP options, and the subnets and peerings
//! a VNet PUT carries inline. As in Azure, the `subnets` and `virtualNetworkPeerings` arrays of a
//! PUT are the whole truth: children left out are deleted (and a subnet in use refuses).

use std::net::IpAddr;

use ipnet::IpNet;
use privlink_store::{ResourceRow, Tx};
use serde_json::{json, Map, Value};

use super::address::{overlaps, parse_prefix};
use super::{children, inline_child, subnets, virtual_network_peerings as peerings};
use crate::arm::api_version::NETWORK;
use crate::arm::json::Obj;
use crate::arm::names::NameRule;
use crate::arm::{ArmError, ArmResult, ResourceId};
use crate::providers::{properties, PutInput, ResourceType, Write};

pub const TYPE: &str = "Microsoft.Network/virtualNetworks";
pub const TYPE_KEY: &str = "microsoft.network/virtualnetworks";

pub struct VirtualNetworks;

/// The VNet's address space, parsed.
pub fn address_space(vnet: &ResourceRow) -> ArmResult<Vec<IpNet>> {
    properties(vnet)
        .get("addressSpace")
        .and_then(|a| a.get("addressPrefixes"))
        .and_then(Value::as_array)
        .map(|list| list.iter().map(|p| p.as_str().and_then(|s| s.parse().ok()).ok_or(ArmError::Internal)).collect())
        .unwrap_or_else(|| Ok(Vec::new()))
}

impl ResourceType for VirtualNetworks {
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
        let id = input.id;
        let body = input.properties();
        let mut props = Map::new();

        let space_obj = body.obj("addressSpace")?.cloned().unwrap_or_default();
        let texts = Obj::new(&space_obj, "properties.addressSpace").strings("addressPrefixes")?.unwrap_or_default();
        if texts.is_empty() {
            return Err(ArmError::invalid("VirtualNetworkAddressSpaceMissing", format!("Virtual network {id} must have at least one address prefix in properties.addressSpace.addressPrefixes.")));
        }
        if texts.len() as u64 > w.settings.limits.address_prefixes_per_vnet {
            return Err(ArmError::invalid(
                "TooManyAddressPrefixesInVnet",
                format!(
                    "Virtual network {id} has {} address prefixes; at most {} are allowed.",
                    texts.len(),
                    w.settings.limits.address_prefixes_per_vnet
                ),
            ));
        }
        let mut space: Vec<IpNet> = Vec::new();
        for text in &texts {
            let prefix = parse_prefix(text, &id.to_string())?;
            if let Some(other) = space.iter().find(|p| overlaps(p, &prefix)) {
                return Err(ArmError::invalid(
                    "VnetAddressSpacesOverlap",
                    format!("Address prefixes {other} and {prefix} of virtual network {id} overlap."),
                ));
            }
            space.push(prefix);
        }
        props.insert(
            "addressSpace".into(),
            json!({ "addressPrefixes": texts.iter().map(|t| t.trim()).collect::<Vec<_>>() }),
        );

        if let Some(dhcp) = body.obj("dhcpOptions")? {
            let servers = Obj::new(dhcp, "properties.dhcpOptions").strings("dnsServers")?.unwrap_or_default();
            for s in &servers {
                if s.parse::<IpAddr>().is_err() {
                    return Err(ArmError::invalid(
                        "InvalidDnsServerAddress",
                        format!("DNS server address '{s}' of virtual network {id} is not a valid IP address."),
                    ));
                }
            }
            props.insert("dhcpOptions".into(), json!({ "dnsServers": servers }));
        }
        for flag in ["enableDdosProtection", "enableVmProtection"] {
            props.insert(flag.into(), json!(body.bool(flag)?.unwrap_or(false)));
        }
        if let Some(timeout) = body.i64("flowTimeoutInMinutes")? {
            if !(4..=30).contains(&timeout) {
                return Err(ArmError::invalid("InvalidFlowTimeout", "flowTimeoutInMinutes must be between 4 and 30."));
            }
            props.insert("flowTimeoutInMinutes".into(), json!(timeout));
        }
        let resource_guid = input
            .existing
            .and_then(|e| properties(e).get("resourceGuid").cloned())
            .unwrap_or_else(|| json!(uuid::Uuid::new_v4().to_string()));
        props.insert("resourceGuid".into(), resource_guid);
        if input.existing.is_none() {
            let slot = crate::platform::allocate_resolver_slot(w.tx, &id.key())?;
            w.internal = Some(json!({ "resolverSlot": slot }));
        }

        // Children given inline replace the current set: validate them all first.
        let parent = id.to_string();
        let requested = body.named("subnets", NameRule::Network, "subnet", &parent)?;
        if requested.len() as u64 > w.settings.limits.subnets_per_vnet {
            return Err(ArmError::invalid(
                "SubnetsPerVirtualNetworkLimitReached",
                format!("Virtual network {id} may have at most {} subnets.", w.settings.limits.subnets_per_vnet),
            ));
        }
        let requested_peerings = body.named("virtualNetworkPeerings", NameRule::Network, "peering", &parent)?;
        let kept = |row: &ResourceRow, names: &[crate::arm::json::Named]| {
            let name = row.id.rsplit('/').next().unwrap_or_default();
            names.iter().any(|n| n.name.eq_ignore_ascii_case(name))
        };
        let existing_subnets =
            if input.existing.is_some() { children(w.tx, &id.key(), subnets::TYPE_KEY)? } else { Vec::new() };
        let existing_peerings =
            if input.existing.is_some() { children(w.tx, &id.key(), peerings::TYPE_KEY)? } else { Vec::new() };
        // Subnets left out go, if nothing uses them.
        for old in existing_subnets.iter().filter(|old| !kept(old, &requested)) {
            subnets::ensure_unused(w.tx, old, &old.key)?;
        }
        // Prefixes of every requested subnet, for the overlap check between siblings.
        let mut requested_prefixes = Vec::new();
        for subnet in &requested {
            let sid = id.child("subnets", &subnet.name).to_string();
            let o = subnet.properties();
            let mut list = Vec::new();
            if let Some(p) = o.str("addressPrefix")? {
                list.push(parse_prefix(p, &sid)?);
            }
            for p in o.strings("addressPrefixes")?.unwrap_or_default() {
                list.push(parse_prefix(p, &sid)?);
            }
            requested_prefixes.push((sid, list));
        }

        // The VNet row must exist before its children are written (they refer to it).
        let vnet_row = w.put_provisional(id, input.location, props.clone())?;
        for old in existing_subnets.iter().filter(|old| !kept(old, &requested)) {
            w.remove_tree(&old.key)?;
        }
        for (i, subnet) in requested.iter().enumerate() {
            let sid = id.child("subnets", &subnet.name);
            let siblings: Vec<(String, Vec<IpNet>)> =
                requested_prefixes.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, s)| s.clone()).collect();
            let existing = w.get(&sid.key())?;
            let stored = subnets::apply(w, &vnet_row, &space, &siblings, &sid, existing.as_ref(), subnet.properties())?;
            w.save(&sid, existing.as_ref(), Map::from_iter([("properties".to_string(), Value::Object(stored))]))?;
        }
        for peering in &requested_peerings {
            let pid = id.child("virtualNetworkPeerings", &peering.name);
            let existing = w.get(&pid.key())?;
            let stored = peerings::apply(w, &vnet_row, &space, &pid, existing.as_ref(), peering.properties())?;
            w.save(&pid, existing.as_ref(), Map::from_iter([("properties".to_string(), Value::Object(stored))]))?;
        }
        for old in existing_peerings.iter().filter(|old| !kept(old, &requested_peerings)) {
            w.remove_tree(&old.key)?;
        }
        Ok(props)
    }

    fn on_deleted(&self, w: &mut Write<'_>, row: &ResourceRow) -> ArmResult<()> {
        peerings::disconnect_peerings_to(w, &row.key)
    }

    fn render_properties(&self, tx: &mut dyn Tx, row: &ResourceRow, props: &mut Map<String, Value>) -> ArmResult<()> {
        let mut subnet_values = Vec::new();
        for subnet in children(tx, &row.key, subnets::TYPE_KEY)? {
            let mut sp = properties(&subnet).clone();
            subnets::Subnets.render_properties(tx, &subnet, &mut sp)?;
            subnet_values.push(inline_child(&subnet, subnets::TYPE, sp, |_| {}));
        }
        props.insert("subnets".into(), Value::Array(subnet_values));
        let mut peering_values = Vec::new();
        for peering in children(tx, &row.key, peerings::TYPE_KEY)? {
            let mut pp = properties(&peering).clone();
            peerings::Peerings.render_properties(tx, &peering, &mut pp)?;
            peering_values.push(inline_child(&peering, peerings::TYPE, pp, |_| {}));
        }
        props.insert("virtualNetworkPeerings".into(), Value::Array(peering_values));
        Ok(())
    }
}

/// The name of a VNet row, as last written.
pub fn name_of(row: &ResourceRow) -> String {
    ResourceId::parse(&row.id).map(|i| i.name().to_string()).unwrap_or_default()
}
