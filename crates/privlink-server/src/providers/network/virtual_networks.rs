//! Microsoft.Network/virtualNetworks: address space, DHCP options, and the subnets and peerings
//! a VNet PUT carries inline. As in Azure, the `subnets` and `virtualNetworkPeerings` arrays of a
//! PUT are the whole truth: children left out are deleted (and a subnet in use refuses).

use std::collections::HashSet;
use std::net::IpAddr;

use ipnet::IpNet;
use privlink_store::{ResourceRow, Tx};
use serde_json::{json, Map, Value};

use super::address::{overlaps, parse_prefix};
use super::{children, inline_child, subnets, virtual_network_peerings as peerings};
use crate::arm::api_version::NETWORK;
use crate::arm::json::Obj;
use crate::arm::{ArmError, ArmResult, ResourceId};
use crate::providers::{properties, PutInput, ResourceType, Write};

pub const TYPE: &str = "Microsoft.Network/virtualNetworks";

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
        let body_props = input.body.obj("properties")?.cloned().unwrap_or_default();
        let body = Obj::new(&body_props, "properties");
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

        // The VNet row must exist before its children are written (they refer to it).
        let mut provisional = Map::new();
        provisional.insert("location".into(), json!(input.location));
        let mut provisional_props = props.clone();
        provisional_props.insert("provisioningState".into(), json!("Updating"));
        provisional.insert("properties".into(), Value::Object(provisional_props));
        let vnet_row = ResourceRow {
            key: id.key(),
            id: id.to_string(),
            type_key: id.type_key(),
            subscription: id.subscription.to_ascii_lowercase(),
            resource_group: id.resource_group.as_deref().unwrap_or_default().to_ascii_lowercase(),
            parent_key: String::new(),
            body: Value::Object(provisional),
            etag: String::new(),
            created_at: w.now,
            updated_at: w.now,
        };

        // Subnets given inline replace the current set.
        let requested = body.objects("subnets")?;
        if requested.len() as u64 > w.settings.limits.subnets_per_vnet {
            return Err(ArmError::invalid(
                "SubnetsPerVirtualNetworkLimitReached",
                format!("Virtual network {id} may have at most {} subnets.", w.settings.limits.subnets_per_vnet),
            ));
        }
        let existing_subnets =
            if input.existing.is_some() { children(w.tx, &id.key(), subnets::TYPE_KEY)? } else { Vec::new() };
        let mut parsed = Vec::new();
        let mut seen = HashSet::new();
        for (path, item) in &requested {
            let s = Obj::new(item, path);
            let name = s.str("name")?.ok_or_else(|| {
                ArmError::invalid_at(
                    "InvalidRequestFormat",
                    path,
                    format!("Cannot parse the request: {path}.name is required."),
                )
            })?;
            crate::arm::names::NameRule::Network.check(name, subnets::TYPE)?;
            if !seen.insert(name.to_ascii_lowercase()) {
                return Err(ArmError::invalid(
                    "DuplicateResourceName",
                    format!("Subnet name {name} appears more than once in virtual network {id}."),
                ));
            }
            let sub_props = s.obj("properties")?.cloned().unwrap_or_default();
            parsed.push((id.child("subnets", name), sub_props, format!("{path}.properties")));
        }
        // Existing subnets that are not in the request go, if nothing uses them.
        for old in &existing_subnets {
            if !seen.contains(old.id.rsplit('/').next().unwrap_or_default().to_ascii_lowercase().as_str()) {
                subnets::ensure_unused(w.tx, old, &old.key)?;
            }
        }
        w.tx.put(&vnet_row)?;
        for old in &existing_subnets {
            if !seen.contains(old.id.rsplit('/').next().unwrap_or_default().to_ascii_lowercase().as_str()) {
                w.remove_tree(&old.key)?;
            }
        }
        // Prefixes of every requested subnet, for the overlap check between siblings.
        let mut requested_prefixes = Vec::new();
        for (sid, sp, path) in &parsed {
            let o = Obj::new(sp, path);
            let mut list = Vec::new();
            if let Some(p) = o.str("addressPrefix")? {
                list.push(parse_prefix(p, &sid.to_string())?);
            }
            for p in o.strings("addressPrefixes")?.unwrap_or_default() {
                list.push(parse_prefix(p, &sid.to_string())?);
            }
            requested_prefixes.push((sid.to_string(), list));
        }
        for (i, (sid, sp, path)) in parsed.iter().enumerate() {
            let siblings: Vec<(String, Vec<IpNet>)> =
                requested_prefixes.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, s)| s.clone()).collect();
            let existing = w.get(&sid.key())?;
            let stored = subnets::apply(w, &vnet_row, &space, &siblings, sid, existing.as_ref(), Obj::new(sp, path))?;
            w.save(sid, existing.as_ref(), Map::from_iter([("properties".to_string(), Value::Object(stored))]))?;
        }

        // Peerings given inline replace the current set too.
        let requested_peerings = body.objects("virtualNetworkPeerings")?;
        let existing_peerings =
            if input.existing.is_some() { children(w.tx, &id.key(), peerings::TYPE_KEY)? } else { Vec::new() };
        let mut peering_names = HashSet::new();
        for (path, item) in &requested_peerings {
            let p = Obj::new(item, path);
            let name = p.str("name")?.ok_or_else(|| {
                ArmError::invalid_at(
                    "InvalidRequestFormat",
                    path,
                    format!("Cannot parse the request: {path}.name is required."),
                )
            })?;
            if !peering_names.insert(name.to_ascii_lowercase()) {
                return Err(ArmError::invalid(
                    "DuplicateResourceName",
                    format!("Peering name {name} appears more than once in virtual network {id}."),
                ));
            }
            let pid = id.child("virtualNetworkPeerings", name);
            let pp = p.obj("properties")?.cloned().unwrap_or_default();
            let existing = w.get(&pid.key())?;
            let stored = peerings::apply(
                w,
                &vnet_row,
                &space,
                &pid,
                existing.as_ref(),
                Obj::new(&pp, &format!("{path}.properties")),
            )?;
            w.save(&pid, existing.as_ref(), Map::from_iter([("properties".to_string(), Value::Object(stored))]))?;
        }
        for old in &existing_peerings {
            if !peering_names.contains(old.id.rsplit('/').next().unwrap_or_default().to_ascii_lowercase().as_str()) {
                w.remove_tree(&old.key)?;
            }
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
