//! Microsoft.Network/privateEndpoints/privateDnsZoneGroups: the endpoint keeps A records for its
//! names in private DNS zones. At most one group per endpoint and five zones per group. For each
//! of the endpoint's FQDNs (its `customDnsConfigs`) the group writes, in the zone the name maps
//! to (`catalogue::private_name` for catalogued targets, the name's place under the zone for a
//! private link service), an A record set (TTL 10) with the endpoint's addresses. A zone the
//! endpoint has no name in gets nothing, as in Azure (records come only in the recommended
//! zones). Re-putting the group recomputes its records; deleting the group or its endpoint
//! removes them, leaving other groups' addresses in shared record sets alone.

use privlink_store::{ResourceRow, Scope};
use serde_json::{json, Map, Value};

use super::private_endpoints;
use crate::arm::api_version::NETWORK;
use crate::arm::names::NameRule;
use crate::arm::{ArmError, ArmResult, ResourceId};
use crate::catalogue;
use crate::providers::approval;
use crate::providers::private_dns::{private_dns_zones, record_sets};
use crate::providers::{location, properties, referenced, PutInput, ResourceType, Write};

pub const TYPE: &str = "Microsoft.Network/privateEndpoints/privateDnsZoneGroups";
pub const TYPE_KEY: &str = "microsoft.network/privateendpoints/privatednszonegroups";
const WRITE_ACTION: &str = "Microsoft.Network/privateEndpoints/privateDnsZoneGroups/write";
const JOIN_ACTION: &str = "Microsoft.Network/privateDnsZones/join/action";
const MAX_ZONES: usize = 5;
/// The TTL Azure gives the records it writes for zone groups.
const RECORD_TTL: i64 = 10;

pub struct PrivateDnsZoneGroups;

/// One record the group keeps: `(zone key, relative name, addresses)`.
struct Record {
    zone: ResourceRow,
    name: String,
    fqdn: String,
    addresses: Vec<String>,
}

/// The catalogue group and the target's name and region, for an endpoint to a catalogued type.
fn target_group(w: &mut Write<'_>, pe: &ResourceRow) -> ArmResult<Option<(&'static catalogue::Group, String, String)>> {
    let Some(target_key) = approval::internal(pe).get("target").and_then(Value::as_str).map(str::to_string) else {
        return Ok(None);
    };
    let connection = private_endpoints::connection(pe);
    let group_id = connection
        .and_then(|c| c.get("properties"))
        .and_then(|p| p.get("groupIds"))
        .and_then(Value::as_array)
        .and_then(|g| g.first())
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let service = connection
        .and_then(|c| c.get("properties"))
        .and_then(|p| p.get("privateLinkServiceId"))
        .and_then(Value::as_str)
        .and_then(ResourceId::parse);
    let Some(kind) = service.and_then(|id| catalogue::find(&id.type_name())) else { return Ok(None) };
    let Some(group) = kind.group(&group_id) else { return Ok(None) };
    let (name, region) = match w.get(&target_key)? {
        Some(target) => (
            target.id.rsplit('/').next().unwrap_or_default().to_string(),
            location(&target).unwrap_or_default().to_string(),
        ),
        // The target is gone (the connection shows Disconnected): names stay what they were.
        None => (
            target_key.rsplit('/').next().unwrap_or_default().to_string(),
            location(pe).unwrap_or_default().to_string(),
        ),
    };
    Ok(Some((group, name, region)))
}

/// The records the group's zones get for the endpoint's names.
fn records_for(w: &mut Write<'_>, pe: &ResourceRow, zones: &[ResourceRow]) -> ArmResult<Vec<Record>> {
    let target = target_group(w, pe)?;
    let mut out = Vec::new();
    for (fqdn, addresses) in private_endpoints::dns_names(pe) {
        let placed: Option<(String, String)> = match &target {
            Some((group, name, region)) => catalogue::private_name(group, &fqdn, name, region),
            None => zones.iter().find_map(|z| {
                let zone_name = private_dns_zones::dns_name(z);
                catalogue::record_in_zone(&fqdn, &zone_name).map(|r| (zone_name, r))
            }),
        };
        let Some((zone_name, record)) = placed else { continue };
        if let Some(zone) = zones.iter().find(|z| private_dns_zones::dns_name(z).eq_ignore_ascii_case(&zone_name)) {
            out.push(Record { zone: zone.clone(), fqdn: format!("{record}.{zone_name}"), name: record, addresses });
        }
    }
    Ok(out)
}

/// What a group wrote, from its `internal`: `(zone key, record name)`.
fn written(row: &ResourceRow) -> Vec<(String, String)> {
    approval::internal(row)
        .get("records")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| Some((r.get("zone")?.as_str()?.to_string(), r.get("name")?.as_str()?.to_string())))
        .collect()
}

fn release(w: &mut Write<'_>, group: &ResourceRow) -> ArmResult<()> {
    for (zone_key, name) in written(group) {
        record_sets::release_a_records(w, &zone_key, &name, &group.key)?;
    }
    Ok(())
}

impl ResourceType for PrivateDnsZoneGroups {
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
        let id = input.id;
        let pe_id = id.parent().ok_or(ArmError::Internal)?;
        let pe = w.get(&pe_id.key())?.ok_or(ArmError::Internal)?;
        let others = w.tx.count(Scope::Children { parent_key: &pe.key }, Some(TYPE_KEY))?;
        if input.existing.is_none() && others > 0 {
            return Err(ArmError::invalid(
                "PrivateDnsZoneGroupLimitReached",
                format!(
                    "Private endpoint {pe_id} already has a private DNS zone group; an endpoint can have only one."
                ),
            ));
        }
        let body = input.properties();
        let configs =
            body.named("privateDnsZoneConfigs", NameRule::Network, "private DNS zone config", &id.to_string())?;
        if configs.len() > MAX_ZONES {
            return Err(ArmError::invalid(
                "PrivateDnsZoneGroupHasTooManyZones",
                format!(
                    "Private DNS zone group {id} has {} zones; a group can have at most {MAX_ZONES}.",
                    configs.len()
                ),
            ));
        }
        let mut zones: Vec<ResourceRow> = Vec::new();
        for config in &configs {
            let zone_text = config.properties().str("privateDnsZoneId")?.ok_or_else(|| {
                ArmError::invalid_at(
                    "InvalidRequestFormat",
                    &format!("{}.privateDnsZoneId", config.path),
                    format!("Private DNS zone config {} needs privateDnsZoneId.", config.name),
                )
            })?;
            let (zone_id, zone) = referenced(w, zone_text, private_dns_zones::TYPE, id)?;
            w.require_linked(WRITE_ACTION, id, JOIN_ACTION, &zone_id)?;
            if zones.iter().any(|z| z.key == zone.key) {
                return Err(ArmError::invalid(
                    "DuplicatePrivateDnsZoneInZoneGroup",
                    format!("Private DNS zone {zone_id} appears more than once in zone group {id}."),
                ));
            }
            zones.push(zone);
        }

        // Recompute: take back what this group wrote before, then write what it needs now.
        if let Some(existing) = input.existing {
            release(w, existing)?;
        }
        let records = records_for(w, &pe, &zones)?;
        let creator = format!(
            "created by private endpoint {} with resource guid {}",
            pe_id.name(),
            properties(&pe).get("resourceGuid").and_then(Value::as_str).unwrap_or_default()
        );
        let group_key = id.key();
        for r in &records {
            record_sets::claim_a_records(w, &r.zone, &r.name, &r.addresses, &group_key, RECORD_TTL, &creator)?;
        }
        w.internal = Some(json!({
            "records": records.iter().map(|r| json!({ "zone": r.zone.key, "name": r.name })).collect::<Vec<_>>(),
        }));

        let rendered_configs: Vec<Value> = configs
            .iter()
            .zip(&zones)
            .map(|(config, zone)| {
                let record_sets: Vec<Value> = records
                    .iter()
                    .filter(|r| r.zone.key == zone.key)
                    .map(|r| {
                        json!({
                            "recordType": "A",
                            "recordSetName": r.name,
                            "fqdn": r.fqdn,
                            "ttl": RECORD_TTL,
                            "ipAddresses": r.addresses,
                            "provisioningState": "Succeeded",
                        })
                    })
                    .collect();
                json!({
                    "name": config.name,
                    "properties": { "privateDnsZoneId": zone.id, "recordSets": record_sets },
                })
            })
            .collect();
        Ok(Map::from_iter([("privateDnsZoneConfigs".to_string(), Value::Array(rendered_configs))]))
    }

    fn on_deleted(&self, w: &mut Write<'_>, row: &ResourceRow) -> ArmResult<()> {
        release(w, row)
    }
}
