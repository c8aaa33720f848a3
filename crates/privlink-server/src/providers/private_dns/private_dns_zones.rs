//! Microsoft.Network/privateDnsZones: a zone named like a DNS domain, always in location
//! `global`, created with its SOA record set. Its limits (record sets, links, links with
//! registration) are fixed when it is created, from the server's `[limits]`, and shown as Azure
//! shows them; the counts beside them are derived when rendering. A zone with virtual-network
//! links cannot be deleted on its own (its resource group can).

use privlink_store::{ResourceRow, Scope, Tx};
use serde_json::{json, Map, Value};

use super::{record_sets, virtual_network_links};
use crate::arm::api_version::PRIVATE_DNS;
use crate::arm::names::NameRule;
use crate::arm::{ArmError, ArmResult};
use crate::providers::{properties, PutInput, ResourceType, Write};

pub const TYPE: &str = "Microsoft.Network/privateDnsZones";
pub const TYPE_KEY: &str = "microsoft.network/privatednszones";

pub struct PrivateDnsZones;

/// A zone's DNS name: the resource name, lower-cased, without a trailing dot.
pub fn dns_name(zone: &ResourceRow) -> String {
    zone.id.rsplit('/').next().unwrap_or_default().trim_end_matches('.').to_ascii_lowercase()
}

fn limit(zone: &ResourceRow, key: &str) -> u64 {
    properties(zone).get(key).and_then(Value::as_u64).unwrap_or(u64::MAX)
}

pub fn max_record_sets(zone: &ResourceRow) -> u64 {
    limit(zone, "maxNumberOfRecordSets")
}

pub fn max_links(zone: &ResourceRow) -> u64 {
    limit(zone, "maxNumberOfVirtualNetworkLinks")
}

pub fn max_registration_links(zone: &ResourceRow) -> u64 {
    limit(zone, "maxNumberOfVirtualNetworkLinksWithRegistration")
}

/// Record sets in the zone (every child that is not a link), one indexed count each.
pub fn record_set_count(tx: &mut dyn Tx, zone_key: &str) -> ArmResult<u64> {
    let children = tx.count(Scope::Children { parent_key: zone_key }, None)?;
    let links = tx.count(Scope::Children { parent_key: zone_key }, Some(virtual_network_links::TYPE_KEY))?;
    Ok(children.saturating_sub(links))
}

impl ResourceType for PrivateDnsZones {
    fn type_name(&self) -> &'static str {
        TYPE
    }
    fn api_versions(&self) -> &'static [&'static str] {
        PRIVATE_DNS
    }
    fn tracked(&self) -> bool {
        true
    }
    fn name_rule(&self) -> NameRule {
        NameRule::DnsZone
    }
    fn new_etag(&self) -> String {
        super::new_etag()
    }
    fn patch_merges_properties(&self) -> bool {
        true
    }

    fn put(&self, w: &mut Write<'_>, input: &PutInput<'_>) -> ArmResult<Map<String, Value>> {
        if input.location != Some("global") {
            // ARM's own wording, which names the one region the type has.
            return Err(ArmError::invalid_at(
                "LocationNotAvailableForResourceType",
                "location",
                format!(
                    "The provided location '{}' is not available for resource type '{TYPE}'. List of available regions for the resource type is 'global'.",
                    input.location.unwrap_or_default()
                ),
            ));
        }
        if let Some(existing) = input.existing {
            let mut props = properties(existing).clone();
            props.remove("provisioningState");
            return Ok(props);
        }
        let limits = &w.settings.limits;
        let props = Map::from_iter([
            ("maxNumberOfRecordSets".to_string(), json!(limits.record_sets_per_private_dns_zone)),
            ("maxNumberOfVirtualNetworkLinks".to_string(), json!(limits.virtual_network_links_per_private_dns_zone)),
            (
                "maxNumberOfVirtualNetworkLinksWithRegistration".to_string(),
                json!(limits.registration_links_per_private_dns_zone),
            ),
            ("internalId".to_string(), json!(base64_id(&input.id.key()))),
        ]);
        record_sets::create_soa(w, input.id)?;
        Ok(props)
    }

    fn check_delete(&self, w: &mut Write<'_>, row: &ResourceRow, root_key: &str) -> ArmResult<()> {
        if root_key != row.key {
            // Its resource group (or subscription) is going: links go with it.
            return Ok(());
        }
        let links = w.tx.count(Scope::Children { parent_key: &row.key }, Some(virtual_network_links::TYPE_KEY))?;
        if links > 0 {
            return Err(ArmError::Conflict {
                code: "Conflict",
                message: format!(
                    "Cannot delete private DNS zone {} while it has {links} virtual network link(s): delete the links first.",
                    dns_name(row)
                ),
            });
        }
        Ok(())
    }

    fn render_properties(&self, tx: &mut dyn Tx, row: &ResourceRow, props: &mut Map<String, Value>) -> ArmResult<()> {
        let links = super::virtual_network_links::of_zone(tx, &row.key)?;
        let registration = links.iter().filter(|l| virtual_network_links::registration_enabled(l)).count();
        props.insert("numberOfRecordSets".into(), json!(record_set_count(tx, &row.key)?));
        props.insert("numberOfVirtualNetworkLinks".into(), json!(links.len()));
        props.insert("numberOfVirtualNetworkLinksWithRegistration".into(), json!(registration));
        Ok(())
    }
}

/// Azure shows an opaque base64 `internalId`; privlink's encodes the zone's key.
fn base64_id(key: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(key)
}
