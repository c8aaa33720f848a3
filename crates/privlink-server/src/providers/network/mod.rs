//! Microsoft.Network: virtual networks, subnets, peerings, network security groups and network
//! interfaces, with subnet IPAM. One module per resource type.

pub mod address;
pub mod network_interfaces;
pub mod network_security_groups;
pub mod private_dns_zone_groups;
pub mod private_endpoints;
pub mod private_link_services;
pub mod security_rules;
pub mod subnets;
pub mod virtual_network_peerings;
pub mod virtual_networks;

use privlink_store::{ListQuery, ResourceRow, Scope, Tx};
use serde_json::{json, Value};

use super::Registry;
use crate::arm::ArmResult;

pub fn register(registry: &mut Registry) {
    registry.add(virtual_networks::VirtualNetworks);
    registry.add(subnets::Subnets);
    registry.add(virtual_network_peerings::Peerings);
    registry.add(network_security_groups::NetworkSecurityGroups);
    registry.add(security_rules::SecurityRules);
    registry.add(network_interfaces::NetworkInterfaces);
    registry.add(private_endpoints::PrivateEndpoints);
    registry.add(private_dns_zone_groups::PrivateDnsZoneGroups);
    private_link_services::register(registry);
}

/// All direct children of `parent_key` of one type.
pub fn children(tx: &mut dyn Tx, parent_key: &str, type_key: &str) -> ArmResult<Vec<ResourceRow>> {
    Ok(tx.list(&ListQuery {
        scope: Scope::Children { parent_key },
        type_key: Some(type_key),
        after: None,
        limit: usize::MAX >> 1,
    })?)
}

/// Every row of one type in a subscription.
pub fn in_subscription(tx: &mut dyn Tx, subscription: &str, type_key: &str) -> ArmResult<Vec<ResourceRow>> {
    Ok(tx.list(&ListQuery {
        scope: Scope::Subscription { subscription },
        type_key: Some(type_key),
        after: None,
        limit: usize::MAX >> 1,
    })?)
}

/// A child rendered inline in its parent: `{id, name, type, etag, properties}`.
pub fn inline_child(
    row: &ResourceRow,
    type_name: &str,
    mut props: serde_json::Map<String, Value>,
    extra: impl FnOnce(&mut serde_json::Map<String, Value>),
) -> Value {
    extra(&mut props);
    let name = row.id.rsplit('/').next().unwrap_or_default();
    json!({ "id": row.id, "name": name, "type": type_name, "etag": row.etag, "properties": props })
}
