//! Microsoft.Network's Private DNS resource provider: zones (`privateDnsZones`, location
//! `global`), their virtual-network links and their record sets. It shares the namespace with
//! the Network RP but keeps its own api-versions, bare-GUID ETags, `BadRequest`/`Conflict` error
//! codes and lower-cased record-set names. One module per resource type; the eight record types
//! share one, as they differ only in their record arrays.
//!
//! What answers DNS queries from these resources is `crate::dataplane::dns`, fed by the store's
//! change stream; nothing here talks to it.

pub mod private_dns_zones;
pub mod record_sets;
pub mod virtual_network_links;

use super::Registry;

pub fn register(registry: &mut Registry) {
    registry.add(private_dns_zones::PrivateDnsZones);
    registry.add(virtual_network_links::VirtualNetworkLinks);
    for rtype in record_sets::RecordType::ALL {
        registry.add(record_sets::RecordSets { rtype });
    }
}

/// Private DNS ETags are bare GUIDs.
pub fn new_etag() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The Private DNS RP's generic validation error.
pub fn bad_request(message: impl Into<String>) -> crate::arm::ArmError {
    crate::arm::ArmError::invalid("BadRequest", message)
}
