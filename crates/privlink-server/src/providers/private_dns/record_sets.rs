//! Microsoft.Network/privateDnsZones/{A,AAAA,CNAME,MX,PTR,SOA,SRV,TXT}: record sets. Names are
//! relative to the zone (`@` for the apex) and stored lower-cased, as Azure does; PUT, PATCH and
//! DELETE finish in the response (no long-running operation). Rules kept here:
//! - a record set holds records of its own type only, each validated (addresses, names, ranges);
//! - a CNAME record set is alone at its name and never at the apex;
//! - the SOA record set is the apex's, created with the zone, updated but never created or
//!   deleted by clients (its `host` is the platform's);
//! - a zone holds at most `maxNumberOfRecordSets` record sets, the SOA included.
//!
//! Private endpoint DNS zone groups write A record sets here through [`claim_a_records`] and
//! [`release_a_records`]; each group's addresses are remembered in the record set's `internal`
//! document, so two endpoints can share one record set and each takes only its own addresses
//! away.

use std::net::{Ipv4Addr, Ipv6Addr};

use axum::response::Response;
use http::StatusCode;
use privlink_store::{ListQuery, ResourceRow, Scope, Tx};
use serde_json::{json, Map, Value};

use super::{bad_request, private_dns_zones, virtual_network_links};
use crate::arm::api_version::PRIVATE_DNS;
use crate::arm::json::Obj;
use crate::arm::names::NameRule;
use crate::arm::{self, ArmError, ArmRequest, ArmResult, ResourceId};
use crate::providers::authorization::rbac;
use crate::providers::{properties, PutInput, ResourceType, Write};
use crate::state::AppState;

/// The record types are the resolver's; this provider adds how ARM names them.
pub use privlink_dns::RecordType;

/// ARM's names for a record type.
pub trait ArmNames {
    /// The full resource type, e.g. `Microsoft.Network/privateDnsZones/A`.
    fn type_name(self) -> &'static str;
    /// The property holding the records (`cnameRecord` and `soaRecord` hold one object).
    fn property(self) -> &'static str;
}

impl ArmNames for RecordType {
    fn type_name(self) -> &'static str {
        match self {
            RecordType::A => "Microsoft.Network/privateDnsZones/A",
            RecordType::Aaaa => "Microsoft.Network/privateDnsZones/AAAA",
            RecordType::Cname => "Microsoft.Network/privateDnsZones/CNAME",
            RecordType::Mx => "Microsoft.Network/privateDnsZones/MX",
            RecordType::Ptr => "Microsoft.Network/privateDnsZones/PTR",
            RecordType::Soa => "Microsoft.Network/privateDnsZones/SOA",
            RecordType::Srv => "Microsoft.Network/privateDnsZones/SRV",
            RecordType::Txt => "Microsoft.Network/privateDnsZones/TXT",
        }
    }

    fn property(self) -> &'static str {
        match self {
            RecordType::A => "aRecords",
            RecordType::Aaaa => "aaaaRecords",
            RecordType::Cname => "cnameRecord",
            RecordType::Mx => "mxRecords",
            RecordType::Ptr => "ptrRecords",
            RecordType::Soa => "soaRecord",
            RecordType::Srv => "srvRecords",
            RecordType::Txt => "txtRecords",
        }
    }
}

/// The record type of a stored row (`microsoft.network/privatednszones/a` → A).
pub fn of_type_key(type_key: &str) -> Option<RecordType> {
    type_key.strip_prefix("microsoft.network/privatednszones/")?.parse().ok()
}

pub struct RecordSets {
    pub rtype: RecordType,
}

const MAX_TTL: i64 = 2_147_483_647;
/// Records per TXT string: Azure takes up to 1,024 characters, served as 255-byte strings.
const MAX_TXT_VALUE: usize = 1024;

/// The SOA Azure gives every new private zone.
fn default_soa() -> Value {
    json!({
        "host": "azureprivatedns.net",
        "email": "azureprivatedns-host.microsoft.com",
        "serialNumber": 1,
        "refreshTime": 3600,
        "retryTime": 300,
        "expireTime": 2_419_200,
        "minimumTtl": 10,
    })
}

/// Write the zone's SOA record set (`@`), when the zone is created.
pub fn create_soa(w: &mut Write<'_>, zone: &ResourceId) -> ArmResult<()> {
    let id = zone.child("SOA", "@");
    let props = json!({ "ttl": 3600, "metadata": {}, "soaRecord": default_soa() });
    w.save_finished(&id, None, Map::from_iter([("properties".to_string(), props)]))?;
    Ok(())
}

/// A domain name inside a record (a CNAME target, an MX exchange, ...): labels of 1-63 bytes,
/// 253 bytes in all, a trailing dot allowed.
fn check_domain(value: &str, path: &str) -> ArmResult<()> {
    let name = value.strip_suffix('.').unwrap_or(value);
    let ok = !name.is_empty()
        && name.len() <= 253
        && name
            .split('.')
            .all(|l| (1..=63).contains(&l.len()) && l.bytes().all(|b| b.is_ascii_graphic() && b != b'\\'));
    if ok {
        Ok(())
    } else {
        Err(bad_request(format!("{path} '{value}' is not a valid domain name.")))
    }
}

fn u16_field(o: Obj<'_>, key: &str) -> ArmResult<u16> {
    let value = o.i64(key)?.ok_or_else(|| bad_request(format!("{}.{key} is required.", o.path)))?;
    u16::try_from(value).map_err(|_| bad_request(format!("{}.{key} must be between 0 and 65535, not {value}.", o.path)))
}

fn domain_field<'a>(o: Obj<'a>, key: &str) -> ArmResult<&'a str> {
    let value = o.str(key)?.ok_or_else(|| bad_request(format!("{}.{key} is required.", o.path)))?;
    check_domain(value, &format!("{}.{key}", o.path))?;
    Ok(value)
}

fn u32_field(o: Obj<'_>, key: &str, default: i64) -> ArmResult<i64> {
    let value = o.i64(key)?.unwrap_or(default);
    if !(0..=i64::from(u32::MAX)).contains(&value) {
        return Err(bad_request(format!("{}.{key} must be between 0 and {}, not {value}.", o.path, u32::MAX)));
    }
    Ok(value)
}

/// Validate the records of `rtype` in `body` and return them as stored.
fn records(rtype: RecordType, body: Obj<'_>, existing: Option<&ResourceRow>) -> ArmResult<Value> {
    let key = rtype.property();
    Ok(match rtype {
        RecordType::A => Value::Array(
            body.objects(key)?
                .into_iter()
                .map(|(path, m)| {
                    let o = Obj::new(m, &path);
                    let text =
                        o.str("ipv4Address")?.ok_or_else(|| bad_request(format!("{path}.ipv4Address is required.")))?;
                    let ip: Ipv4Addr = text.parse().map_err(|_| {
                        bad_request(format!("{path}.ipv4Address '{text}' is not a valid IPv4 address."))
                    })?;
                    Ok(json!({ "ipv4Address": ip.to_string() }))
                })
                .collect::<ArmResult<_>>()?,
        ),
        RecordType::Aaaa => Value::Array(
            body.objects(key)?
                .into_iter()
                .map(|(path, m)| {
                    let o = Obj::new(m, &path);
                    let text =
                        o.str("ipv6Address")?.ok_or_else(|| bad_request(format!("{path}.ipv6Address is required.")))?;
                    let ip: Ipv6Addr = text.parse().map_err(|_| {
                        bad_request(format!("{path}.ipv6Address '{text}' is not a valid IPv6 address."))
                    })?;
                    Ok(json!({ "ipv6Address": ip.to_string() }))
                })
                .collect::<ArmResult<_>>()?,
        ),
        RecordType::Cname => match body.obj(key)? {
            None => Value::Null,
            Some(m) => {
                let o = Obj::new(m, "properties.cnameRecord");
                json!({ "cname": domain_field(o, "cname")? })
            }
        },
        RecordType::Mx => Value::Array(
            body.objects(key)?
                .into_iter()
                .map(|(path, m)| {
                    let o = Obj::new(m, &path);
                    Ok(json!({ "preference": u16_field(o, "preference")?, "exchange": domain_field(o, "exchange")? }))
                })
                .collect::<ArmResult<_>>()?,
        ),
        RecordType::Ptr => Value::Array(
            body.objects(key)?
                .into_iter()
                .map(|(path, m)| Ok(json!({ "ptrdname": domain_field(Obj::new(m, &path), "ptrdname")? })))
                .collect::<ArmResult<_>>()?,
        ),
        RecordType::Srv => Value::Array(
            body.objects(key)?
                .into_iter()
                .map(|(path, m)| {
                    let o = Obj::new(m, &path);
                    Ok(json!({
                        "priority": u16_field(o, "priority")?,
                        "weight": u16_field(o, "weight")?,
                        "port": u16_field(o, "port")?,
                        "target": domain_field(o, "target")?,
                    }))
                })
                .collect::<ArmResult<_>>()?,
        ),
        RecordType::Txt => Value::Array(
            body.objects(key)?
                .into_iter()
                .map(|(path, m)| {
                    let values = Obj::new(m, &path).strings("value")?.unwrap_or_default();
                    if values.is_empty() {
                        return Err(bad_request(format!("{path}.value needs at least one string.")));
                    }
                    if let Some(long) = values.iter().find(|v| v.len() > MAX_TXT_VALUE) {
                        return Err(bad_request(format!(
                            "{path}.value has a string of {} characters; at most {MAX_TXT_VALUE} are allowed.",
                            long.len()
                        )));
                    }
                    Ok(json!({ "value": values }))
                })
                .collect::<ArmResult<_>>()?,
        ),
        RecordType::Soa => {
            let stored = existing.and_then(|e| properties(e).get("soaRecord").cloned()).unwrap_or_else(default_soa);
            let given = body.obj(key)?.cloned().unwrap_or_default();
            let o = Obj::new(&given, "properties.soaRecord");
            let field = |k: &str| stored.get(k).and_then(Value::as_i64).unwrap_or(0);
            let email = match o.str("email")? {
                Some(e) => {
                    check_domain(e, "properties.soaRecord.email")?;
                    e.to_string()
                }
                None => stored.get("email").and_then(Value::as_str).unwrap_or_default().to_string(),
            };
            json!({
                // The platform's name server: clients cannot change it.
                "host": stored.get("host").cloned().unwrap_or(json!("azureprivatedns.net")),
                "email": email,
                "serialNumber": u32_field(o, "serialNumber", field("serialNumber"))?,
                "refreshTime": u32_field(o, "refreshTime", field("refreshTime"))?,
                "retryTime": u32_field(o, "retryTime", field("retryTime"))?,
                "expireTime": u32_field(o, "expireTime", field("expireTime"))?,
                "minimumTtl": u32_field(o, "minimumTtl", field("minimumTtl"))?,
            })
        }
    })
}

/// Record arrays of other types in the body: refused rather than silently dropped.
fn foreign_records(rtype: RecordType, body: Obj<'_>) -> Option<&'static str> {
    RecordType::ALL.into_iter().filter(|t| *t != rtype).map(RecordType::property).find(|key| {
        body.get(key).is_some_and(|v| match v {
            Value::Array(a) => !a.is_empty(),
            Value::Object(o) => !o.is_empty(),
            _ => true,
        })
    })
}

/// The metadata object: string values only, as tags.
fn metadata(body: Obj<'_>) -> ArmResult<Value> {
    let Some(map) = body.obj("metadata")? else { return Ok(json!({})) };
    for (k, v) in map {
        if !v.is_string() {
            return Err(bad_request(format!("properties.metadata.{k} must be a string.")));
        }
    }
    Ok(Value::Object(map.clone()))
}

/// The key of the record set `name` of type `rtype` in the zone `zone_key`.
fn record_key(zone_key: &str, rtype: RecordType, name: &str) -> String {
    format!("{zone_key}/{}/{}", rtype.as_str().to_ascii_lowercase(), name.to_ascii_lowercase())
}

/// Whether a CNAME may stand at `name`, or a record set of `rtype` beside what is there.
fn check_coexistence(tx: &mut dyn Tx, zone_key: &str, rtype: RecordType, name: &str) -> ArmResult<()> {
    for other in RecordType::ALL.into_iter().filter(|t| *t != rtype) {
        if !(rtype == RecordType::Cname || other == RecordType::Cname) {
            continue;
        }
        if tx.get(&record_key(zone_key, other, name))?.is_some() {
            return Err(ArmError::Conflict {
                code: "Conflict",
                message: format!(
                    "A CNAME record set cannot share its name with another record set: '{name}' already has a {} record set.",
                    other.as_str()
                ),
            });
        }
    }
    Ok(())
}

impl ResourceType for RecordSets {
    fn type_name(&self) -> &'static str {
        self.rtype.type_name()
    }
    fn api_versions(&self) -> &'static [&'static str] {
        PRIVATE_DNS
    }
    fn tracked(&self) -> bool {
        false
    }
    fn name_rule(&self) -> NameRule {
        NameRule::DnsRecordSet
    }
    fn put_style(&self) -> crate::providers::Lro {
        crate::providers::Lro::Sync
    }
    fn delete_style(&self) -> crate::providers::Lro {
        crate::providers::Lro::Sync
    }
    fn new_etag(&self) -> String {
        super::new_etag()
    }
    fn lowercase_name(&self) -> bool {
        true
    }
    fn patch_merges_properties(&self) -> bool {
        true
    }

    fn put(&self, w: &mut Write<'_>, input: &PutInput<'_>) -> ArmResult<Map<String, Value>> {
        let rtype = self.rtype;
        let name = input.id.name().to_string();
        let zone_key = input.id.parent().map(|p| p.key()).unwrap_or_default();
        let zone = w.get(&zone_key)?.ok_or(ArmError::Internal)?;
        let body = input.properties();
        match rtype {
            RecordType::Soa if name != "@" => {
                return Err(bad_request("The SOA record set can only be named '@' (the zone apex)."))
            }
            RecordType::Soa if input.existing.is_none() => {
                return Err(bad_request("The SOA record set is created with its zone and cannot be created again."))
            }
            RecordType::Cname if name == "@" => {
                return Err(bad_request("A CNAME record set cannot be created at the zone apex ('@')."))
            }
            _ => {}
        }
        if let Some(key) = foreign_records(rtype, body) {
            return Err(bad_request(format!(
                "A record set of type {} takes {} only; the request also has {key}.",
                rtype.as_str(),
                rtype.property()
            )));
        }
        let ttl = body.i64("ttl")?.unwrap_or(3600);
        if !(0..=MAX_TTL).contains(&ttl) {
            return Err(bad_request(format!("properties.ttl must be between 0 and {MAX_TTL}, not {ttl}.")));
        }
        check_coexistence(w.tx, &zone_key, rtype, &name)?;
        if input.existing.is_none() {
            let max = private_dns_zones::max_record_sets(&zone);
            if private_dns_zones::record_set_count(w.tx, &zone_key)? >= max {
                return Err(bad_request(format!(
                    "Private DNS zone {} already has {max} record sets, the most allowed.",
                    private_dns_zones::dns_name(&zone)
                )));
            }
        }
        let mut props = Map::new();
        props.insert("ttl".into(), json!(ttl));
        props.insert("metadata".into(), metadata(body)?);
        let value = records(rtype, body, input.existing)?;
        if !value.is_null() {
            props.insert(rtype.property().into(), value);
        }
        Ok(props)
    }

    fn check_delete(&self, _w: &mut Write<'_>, row: &ResourceRow, root_key: &str) -> ArmResult<()> {
        if self.rtype == RecordType::Soa && root_key == row.key {
            return Err(bad_request("The SOA record set of a zone cannot be deleted."));
        }
        Ok(())
    }

    fn render_properties(&self, _tx: &mut dyn Tx, row: &ResourceRow, props: &mut Map<String, Value>) -> ArmResult<()> {
        props.remove("provisioningState");
        props.insert("fqdn".into(), json!(fqdn(row)));
        props.insert("isAutoRegistered".into(), json!(false));
        Ok(())
    }
}

/// The record set's absolute name, with the trailing dot Azure shows (`sa1.privatelink.x.net.`).
pub fn fqdn(row: &ResourceRow) -> String {
    let name = row.id.rsplit('/').next().unwrap_or_default();
    let zone = row.parent_key.rsplit('/').next().unwrap_or_default().trim_end_matches('.');
    if name == "@" {
        format!("{zone}.")
    } else {
        format!("{name}.{zone}.")
    }
}

/// `GET .../privateDnsZones/{zone}/ALL`: every record set of the zone, a page at a time,
/// optionally only names ending with `$recordsetnamesuffix`.
pub async fn list_all(state: &AppState, req: &ArmRequest, zone: ResourceId) -> ArmResult<Response> {
    crate::arm::api_version::check(req.api_version(), "Microsoft.Network/privateDnsZones/ALL", PRIVATE_DNS)?;
    let zone = zone.with_canonical_type(private_dns_zones::TYPE);
    let limit = arm::page_size(req, state.settings.limits.page_size)?;
    let mut after = match req.query.get("$skiptoken") {
        Some(token) => Some(arm::decode_skip_token(token)?),
        None => None,
    };
    let suffix = req.query.get("$recordsetnamesuffix").map(|s| s.to_ascii_lowercase());
    let (registry, caller) = (state.registry.clone(), req.caller.clone());
    let (items, last) = state
        .read(move |tx| {
            rbac::require(tx, &caller, "Microsoft.Network/privateDnsZones/ALL/read", &zone.to_string())?;
            crate::engine::ensure_scope(tx, &zone)?;
            let zone_key = zone.key();
            if tx.get(&zone_key)?.is_none() {
                return Err(crate::engine::not_found(&zone, private_dns_zones::TYPE));
            }
            let mut rows = Vec::new();
            // Keyset pages over the zone's children, keeping record sets that match, until the
            // page is full (and one more tells whether there is a next page).
            loop {
                let page = tx.list(&ListQuery {
                    scope: Scope::Children { parent_key: &zone_key },
                    type_key: None,
                    after: after.as_deref(),
                    limit: 500,
                })?;
                let exhausted = page.len() < 500;
                after = page.last().map(|r| r.key.clone());
                rows.extend(page.into_iter().filter(|r| {
                    r.type_key != virtual_network_links::TYPE_KEY
                        && suffix.as_deref().is_none_or(|s| {
                            r.id.rsplit('/').next().unwrap_or_default().to_ascii_lowercase().ends_with(s)
                        })
                }));
                if exhausted || rows.len() > limit {
                    break;
                }
            }
            let more = rows.len() > limit;
            rows.truncate(limit);
            let items =
                rows.iter().map(|row| crate::engine::render(tx, &registry, row)).collect::<ArmResult<Vec<_>>>()?;
            Ok((items, if more { rows.last().map(|r| r.key.clone()) } else { None }))
        })
        .await?;
    let mut body = json!({ "value": items });
    if let Some(last) = last {
        body["nextLink"] = json!(arm::next_link(req, &last));
    }
    Ok(arm::json_response(StatusCode::OK, &body, &[]))
}

/// Add `ips` to the A record set `name` of `zone` for `owner` (a DNS zone group), creating it
/// with `ttl` and a `creator` note when missing.
pub fn claim_a_records(
    w: &mut Write<'_>,
    zone: &ResourceRow,
    name: &str,
    ips: &[String],
    owner: &str,
    ttl: i64,
    creator: &str,
) -> ArmResult<()> {
    let zone_id = ResourceId::parse(&zone.id).ok_or(ArmError::Internal)?;
    let id = zone_id.child("A", &name.to_ascii_lowercase());
    let existing = w.get(&id.key())?;
    check_coexistence(w.tx, &zone.key, RecordType::A, name)?;
    if existing.is_none()
        && private_dns_zones::record_set_count(w.tx, &zone.key)? >= private_dns_zones::max_record_sets(zone)
    {
        return Err(bad_request(format!(
            "Private DNS zone {} has no room for the record set '{name}': it already has {} record sets.",
            private_dns_zones::dns_name(zone),
            private_dns_zones::max_record_sets(zone)
        )));
    }
    let (mut props, mut internal) = match &existing {
        Some(row) => (properties(row).clone(), row.body.get("internal").cloned().unwrap_or_else(|| json!({}))),
        None => {
            let props = Map::from_iter([
                ("ttl".to_string(), json!(ttl)),
                ("metadata".to_string(), json!({ "creator": creator })),
            ]);
            (props, json!({}))
        }
    };
    props.remove("provisioningState");
    let mut addresses: Vec<String> = a_addresses(&props);
    for ip in ips {
        if !addresses.contains(ip) {
            addresses.push(ip.clone());
        }
    }
    props.insert("aRecords".into(), json!(addresses.iter().map(|ip| json!({ "ipv4Address": ip })).collect::<Vec<_>>()));
    internal["owners"][owner] = json!(ips);
    let body = Map::from_iter([("properties".to_string(), Value::Object(props)), ("internal".to_string(), internal)]);
    w.save_finished(&id, existing.as_ref(), body)?;
    Ok(())
}

/// Take back what `owner` added to the A record set `name` of the zone `zone_key`: its addresses
/// (unless another owner holds them too), and the record set itself once no owner and no
/// address is left.
pub fn release_a_records(w: &mut Write<'_>, zone_key: &str, name: &str, owner: &str) -> ArmResult<()> {
    let key = record_key(zone_key, RecordType::A, name);
    let Some(row) = w.get(&key)? else { return Ok(()) };
    let mut internal = row.body.get("internal").cloned().unwrap_or_else(|| json!({}));
    let Some(owners) = internal.get_mut("owners").and_then(Value::as_object_mut) else { return Ok(()) };
    let Some(released) = owners.remove(owner) else { return Ok(()) };
    let still_held: Vec<String> =
        owners.values().filter_map(Value::as_array).flatten().filter_map(Value::as_str).map(str::to_string).collect();
    let no_owner_left = owners.is_empty();
    let released: Vec<String> =
        released.as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_string).collect();
    let mut props = properties(&row).clone();
    props.remove("provisioningState");
    let addresses: Vec<String> =
        a_addresses(&props).into_iter().filter(|ip| !released.contains(ip) || still_held.contains(ip)).collect();
    if addresses.is_empty() && no_owner_left {
        w.tx.delete(&key)?;
        return Ok(());
    }
    props.insert("aRecords".into(), json!(addresses.iter().map(|ip| json!({ "ipv4Address": ip })).collect::<Vec<_>>()));
    let id = ResourceId::parse(&row.id).ok_or(ArmError::Internal)?;
    let body = Map::from_iter([("properties".to_string(), Value::Object(props)), ("internal".to_string(), internal)]);
    w.save_finished(&id, Some(&row), body)?;
    Ok(())
}

fn a_addresses(props: &Map<String, Value>) -> Vec<String> {
    props
        .get("aRecords")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| r.get("ipv4Address").and_then(Value::as_str))
        .map(str::to_string)
        .collect()
}

/// The records of a stored record set row, by type, for the data plane.
pub fn stored_records(row: &ResourceRow) -> Option<(RecordType, i64, &Value)> {
    let rtype = of_type_key(&row.type_key)?;
    let props = properties(row);
    let ttl = props.get("ttl").and_then(Value::as_i64).unwrap_or(3600);
    Some((rtype, ttl, props.get(rtype.property()).unwrap_or(&Value::Null)))
}
