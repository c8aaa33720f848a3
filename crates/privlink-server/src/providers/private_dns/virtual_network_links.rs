//! Microsoft.Network/privateDnsZones/virtualNetworkLinks: a zone becomes visible to one virtual
//! network (possibly in another subscription) through a link. Azure's rules, kept here:
//! - a link's virtual network never changes;
//! - a zone has at most `maxNumberOfVirtualNetworkLinks` links, of which at most
//!   `maxNumberOfVirtualNetworkLinksWithRegistration` have registration enabled;
//! - a virtual network has at most one registration-enabled link, over all zones;
//! - a virtual network cannot be linked to two zones with overlapping names (the same name, or
//!   one under the other): at most one linked zone can answer any name.
//!
//! `registrationEnabled` is stored and validated; registering VM-like NICs is not modelled.
//! `resolutionPolicy` (`Default`, `NxDomainRedirect`) decides what a missing name gives: NXDOMAIN,
//! or the public answer.

use privlink_store::{ListQuery, ResourceRow, Scope, Tx};
use serde_json::{json, Map, Value};

use super::{bad_request, private_dns_zones};
use crate::arm::api_version::PRIVATE_DNS;
use crate::arm::{ArmResult, ResourceId};
use crate::catalogue::is_within;
use crate::providers::network::{children, virtual_networks};
use crate::providers::{properties, referenced, PutInput, ResourceType, Write};

pub const TYPE: &str = "Microsoft.Network/privateDnsZones/virtualNetworkLinks";
pub const TYPE_KEY: &str = "microsoft.network/privatednszones/virtualnetworklinks";
const WRITE_ACTION: &str = "Microsoft.Network/privateDnsZones/virtualNetworkLinks/write";
const JOIN_ACTION: &str = "Microsoft.Network/virtualNetworks/join/action";

pub struct VirtualNetworkLinks;

pub fn registration_enabled(link: &ResourceRow) -> bool {
    properties(link).get("registrationEnabled").and_then(Value::as_bool).unwrap_or(false)
}

/// The lower-cased key of the linked virtual network.
pub fn vnet_key(link: &ResourceRow) -> String {
    properties(link)
        .get("virtualNetwork")
        .and_then(|v| v.get("id"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_ascii_lowercase()
}

pub fn of_zone(tx: &mut dyn Tx, zone_key: &str) -> ArmResult<Vec<ResourceRow>> {
    children(tx, zone_key, TYPE_KEY)
}

/// Every link to `vnet_key`, in any zone. Links live under their zones, which may be anywhere,
/// so this reads all links: a write-path cost that grows with the number of links.
pub fn of_vnet(tx: &mut dyn Tx, vnet: &str) -> ArmResult<Vec<ResourceRow>> {
    let all =
        tx.list(&ListQuery { scope: Scope::All, type_key: Some(TYPE_KEY), after: None, limit: usize::MAX >> 1 })?;
    Ok(all.into_iter().filter(|l| vnet_key(l) == vnet).collect())
}

/// The zone's DNS name, from a link's parent key.
fn zone_name_of(link: &ResourceRow) -> String {
    link.parent_key.rsplit('/').next().unwrap_or_default().trim_end_matches('.').to_string()
}

impl ResourceType for VirtualNetworkLinks {
    fn type_name(&self) -> &'static str {
        TYPE
    }
    fn api_versions(&self) -> &'static [&'static str] {
        PRIVATE_DNS
    }
    fn tracked(&self) -> bool {
        true
    }
    fn new_etag(&self) -> String {
        super::new_etag()
    }
    fn patch_merges_properties(&self) -> bool {
        true
    }

    fn put(&self, w: &mut Write<'_>, input: &PutInput<'_>) -> ArmResult<Map<String, Value>> {
        let id = input.id;
        if input.location != Some("global") {
            return Err(bad_request(format!(
                "Virtual network link {id} must be in location 'global', not '{}'.",
                input.location.unwrap_or_default()
            )));
        }
        let body = input.properties();
        let vnet_text = body
            .reference("virtualNetwork")?
            .ok_or_else(|| bad_request(format!("Virtual network link {id} needs properties.virtualNetwork.id.")))?;
        let (vnet_id, vnet) = referenced(w, vnet_text, virtual_networks::TYPE, id)?;
        w.require_linked(WRITE_ACTION, id, JOIN_ACTION, &vnet_id)?;
        let registration = body.bool("registrationEnabled")?.unwrap_or(false);
        let policy = body.one_of("resolutionPolicy", &["Default", "NxDomainRedirect"])?.unwrap_or("Default");

        let zone_key = id.parent().map(|p| p.key()).unwrap_or_default();
        let zone = w.get(&zone_key)?.ok_or(crate::arm::ArmError::Internal)?;
        let own_key = id.key();
        if let Some(existing) = input.existing {
            if vnet_key(existing) != vnet.key {
                return Err(bad_request(format!(
                    "The virtual network of link {id} cannot change (it links {}); delete the link and create another.",
                    properties(existing)
                        .get("virtualNetwork")
                        .and_then(|v| v.get("id"))
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                )));
            }
        }

        let siblings: Vec<ResourceRow> = of_zone(w.tx, &zone_key)?.into_iter().filter(|l| l.key != own_key).collect();
        let max_links = private_dns_zones::max_links(&zone);
        if input.existing.is_none() && siblings.len() as u64 >= max_links {
            return Err(bad_request(format!(
                "Private DNS zone {} already has {max_links} virtual network links, the most allowed.",
                private_dns_zones::dns_name(&zone)
            )));
        }
        if registration {
            let max = private_dns_zones::max_registration_links(&zone);
            if siblings.iter().filter(|l| registration_enabled(l)).count() as u64 >= max {
                return Err(bad_request(format!(
                    "Private DNS zone {} already has {max} virtual network links with registration enabled, the most allowed.",
                    private_dns_zones::dns_name(&zone)
                )));
            }
        }

        let zone_name = private_dns_zones::dns_name(&zone);
        for other in of_vnet(w.tx, &vnet.key)?.into_iter().filter(|l| l.key != own_key) {
            let other_zone = zone_name_of(&other);
            if is_within(&zone_name, &other_zone) || is_within(&other_zone, &zone_name) {
                return Err(bad_request(format!(
                    "A virtual network cannot be linked to multiple zones with overlapping namespaces. You tried to link virtual network with '{other_zone}' and '{zone_name}' zones."
                )));
            }
            if registration && registration_enabled(&other) {
                return Err(bad_request(format!(
                    "Virtual network {vnet_id} already has a link with registration enabled ({}): a virtual network can have only one.",
                    other.id
                )));
            }
        }
        let mut props = Map::new();
        props.insert("virtualNetwork".into(), json!({ "id": vnet_id.to_string() }));
        props.insert("registrationEnabled".into(), json!(registration));
        props.insert("resolutionPolicy".into(), json!(policy));
        props.insert("virtualNetworkLinkState".into(), json!("Completed"));
        Ok(props)
    }
}

/// The id of the VNet a link row points at, as written.
pub fn vnet_id(link: &ResourceRow) -> Option<ResourceId> {
    properties(link).get("virtualNetwork").and_then(|v| v.get("id")).and_then(Value::as_str).and_then(ResourceId::parse)
}
