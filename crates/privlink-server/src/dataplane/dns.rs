//! The DNS plane: what Azure DNS (168.63.129.16) answers inside each virtual network, served by
//! `privlink-dns` on one loopback address per VNet.
//!
//! This module translates privlink's resources into the resolver's catalog:
//! - private DNS zones, record sets and virtual-network links, one for one;
//! - the *public model*: every private-link target's public names (from the catalogue) resolve
//!   to its public address; once the target has a private endpoint connection for a
//!   sub-resource, the sub-resource's public name is instead a CNAME to its `privatelink.` name,
//!   which resolves publicly to the public address and, in a VNet with the matching private zone
//!   linked, to whatever that zone holds (the endpoint's IP when a zone group wrote it);
//! - one view per virtual network, listening at the address its resolver slot gives.
//!
//! Resolver addresses: the first VNet's resolver listens at `dns.listen` (default
//! 127.77.0.1:1053); with `per-vnet = "address"` (the default) slot *n* listens at the *n*-th
//! next loopback address on the same port (127.77.0.2, ...), with `per-vnet = "port"` on the same
//! address at the *n*-th next port. Port 0 gives every VNet a free port of its own.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use privlink_dns::{Catalog, DnsServer, LinkInfo, PublicRecord, RData, RecordSet, ResolutionPolicy, ViewInfo};
use privlink_store::ResourceRow;
use serde::Deserialize;
use serde_json::Value;

use super::descriptors::{Budget, Reservation};
use super::topology::{Target, Topology};
use crate::catalogue;
use crate::providers::private_dns::record_sets::{self, ArmNames};
use crate::providers::private_dns::{private_dns_zones, virtual_network_links};
use crate::providers::properties;

/// How VNets after the first get their resolver address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PerVnet {
    /// The next loopback address, same port (Linux routes all of 127.0.0.0/8 to loopback).
    Address,
    /// The next port, same address (for systems where only 127.0.0.1 exists).
    Port,
}

impl std::str::FromStr for PerVnet {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "address" => Ok(PerVnet::Address),
            "port" => Ok(PerVnet::Port),
            other => Err(format!("invalid per-vnet scheme '{other}': use address or port")),
        }
    }
}

#[derive(Debug, Clone)]
pub struct DnsSettings {
    pub enabled: bool,
    /// The first VNet's resolver address.
    pub listen: SocketAddr,
    pub per_vnet: PerVnet,
    /// Where names privlink does not answer for go; without one they are REFUSED.
    pub upstream: Option<SocketAddr>,
}

impl Default for DnsSettings {
    fn default() -> Self {
        DnsSettings {
            enabled: true,
            listen: SocketAddr::from(([127, 77, 0, 1], 1053)),
            per_vnet: PerVnet::Address,
            upstream: None,
        }
    }
}

/// The address slot `slot` gets from `base`: the `slot`-th address after it on the same port
/// (`Address`), or the `slot`-th port after it on the same address (`Port`; port 0 stays 0, a
/// free port each). The resolvers, the proxies and the gateway's listeners are all placed so.
pub fn slot_address(base: SocketAddr, scheme: PerVnet, slot: u32) -> Result<SocketAddr, String> {
    match scheme {
        PerVnet::Address => {
            let IpAddr::V4(first) = base.ip() else {
                return Err(format!("per-vnet = \"address\" needs an IPv4 address, not {}", base.ip()));
            };
            let ip = u32::from(first).checked_add(slot).map(Ipv4Addr::from).filter(|ip| ip.is_loopback());
            ip.map(|ip| SocketAddr::new(IpAddr::V4(ip), base.port()))
                .ok_or_else(|| format!("slot {slot} is past the end of 127.0.0.0/8 from {first}"))
        }
        PerVnet::Port if base.port() == 0 => Ok(base),
        PerVnet::Port => u16::try_from(u32::from(base.port()) + slot)
            .map(|port| SocketAddr::new(base.ip(), port))
            .map_err(|_| format!("slot {slot} is past port 65535 from {}", base.port())),
    }
}

/// The resolver address of slot `slot`, or why there is none.
pub fn resolver_address(settings: &DnsSettings, slot: u32) -> Result<SocketAddr, String> {
    slot_address(settings.listen, settings.per_vnet, slot)
}

/// One VNet's resolver: where it listens, or why it does not.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolverState {
    pub vnet_id: String,
    pub wanted: Option<SocketAddr>,
    pub bound: Option<SocketAddr>,
    pub error: Option<String>,
}

pub struct DnsPlane {
    pub settings: DnsSettings,
    pub catalog: Arc<RwLock<Catalog>>,
    pub server: Arc<DnsServer>,
    resolvers: Mutex<HashMap<String, ResolverState>>,
    /// Descriptors each listening resolver holds (a TCP listener and a UDP socket per worker).
    descriptors: Arc<Budget>,
    per_resolver: usize,
    reservations: Mutex<HashMap<String, Reservation>>,
}

/// TTL of the public model's records (Azure's public CNAMEs use 60 s).
const PUBLIC_TTL: u32 = 60;

impl DnsPlane {
    pub fn new(settings: DnsSettings, descriptors: Arc<Budget>) -> Arc<DnsPlane> {
        let catalog = Arc::new(RwLock::new(fresh_catalog()));
        let config = privlink_dns::ServerConfig { upstream: settings.upstream, ..Default::default() };
        let per_resolver = config.udp_workers.max(1) + 1;
        let server = DnsServer::new(catalog.clone(), config);
        Arc::new(DnsPlane {
            settings,
            catalog,
            server,
            resolvers: Mutex::new(HashMap::new()),
            descriptors,
            per_resolver,
            reservations: Mutex::new(HashMap::new()),
        })
    }

    /// Whether the plane reads rows of this type.
    pub fn reads(type_key: &str) -> bool {
        type_key == private_dns_zones::TYPE_KEY
            || type_key == virtual_network_links::TYPE_KEY
            || record_sets::of_type_key(type_key).is_some()
    }

    pub fn type_keys() -> Vec<String> {
        let mut keys = vec![private_dns_zones::TYPE_KEY.to_string(), virtual_network_links::TYPE_KEY.to_string()];
        keys.extend(record_sets::RecordType::ALL.iter().map(|t| t.type_name().to_ascii_lowercase()));
        keys
    }

    /// A zone, link or record set row as it is now (`None`: deleted).
    pub fn apply_private_dns(&self, catalog: &mut Catalog, type_key: &str, key: &str, row: Option<&ResourceRow>) {
        if type_key == private_dns_zones::TYPE_KEY {
            match row {
                Some(row) => catalog.upsert_zone(key, &private_dns_zones::dns_name(row), &row.id),
                None => catalog.remove_zone(key),
            }
        } else if type_key == virtual_network_links::TYPE_KEY {
            match row {
                Some(row) => {
                    let policy = match properties(row).get("resolutionPolicy").and_then(Value::as_str) {
                        Some("NxDomainRedirect") => ResolutionPolicy::NxDomainRedirect,
                        _ => ResolutionPolicy::Default,
                    };
                    let info = LinkInfo {
                        zone: row.parent_key.clone(),
                        view: virtual_network_links::vnet_key(row),
                        policy,
                        source: row.id.clone(),
                    };
                    catalog.upsert_link(key, info);
                }
                None => catalog.remove_link(key),
            }
        } else if let Some(rtype) = record_sets::of_type_key(type_key) {
            // `{zone key}/{type}/{name}`
            let mut parts = key.rsplitn(3, '/');
            let (Some(name), Some(_), Some(zone_key)) = (parts.next(), parts.next(), parts.next()) else { return };
            match row.and_then(|r| record_set(r).map(|set| (r, set))) {
                Some((_, set)) => catalog.upsert_record_set(zone_key, name, rtype, set),
                None => catalog.remove_record_set(zone_key, name, rtype),
            }
        }
    }

    /// Recompute the public names of one target.
    pub fn refresh_target(&self, catalog: &mut Catalog, topology: &Topology, target_key: &str) {
        let records = match topology.targets.get(target_key) {
            Some(target) => public_records(target, topology, target_key),
            None => Vec::new(),
        };
        catalog.set_public_records(target_key, records);
    }

    /// A VNet as it is now (`None`: deleted): its view, and the resolver that should listen.
    pub fn apply_vnet(&self, catalog: &mut Catalog, topology: &Topology, key: &str) {
        match topology.vnets.get(key) {
            Some(vnet) => catalog.upsert_view(key, ViewInfo { name: vnet.name.clone(), source: vnet.id.clone() }),
            None => catalog.remove_view(key),
        }
    }

    /// Bind or release the resolver of `key` to match the topology.
    pub async fn reconcile_resolver(&self, topology_vnet: Option<(String, Option<u32>)>, key: &str) {
        if !self.settings.enabled {
            return;
        }
        let Some((vnet_id, slot)) = topology_vnet else {
            self.server.stop_view(key).await;
            self.resolvers.lock().remove(key);
            self.reservations.lock().remove(key);
            return;
        };
        let wanted = match slot.map(|s| resolver_address(&self.settings, s)) {
            Some(Ok(addr)) => addr,
            Some(Err(e)) => {
                self.record(key, ResolverState { vnet_id, wanted: None, bound: None, error: Some(e) });
                return;
            }
            None => {
                let error = Some("the virtual network has no resolver slot".to_string());
                self.record(key, ResolverState { vnet_id, wanted: None, bound: None, error });
                return;
            }
        };
        let current = self.resolvers.lock().get(key).cloned();
        if current.as_ref().is_some_and(|c| c.wanted == Some(wanted) && c.bound.is_some()) {
            return;
        }
        if !self.reservations.lock().contains_key(key) {
            match self.descriptors.take(self.per_resolver) {
                Ok(reservation) => {
                    self.reservations.lock().insert(key.to_string(), reservation);
                }
                Err(e) => {
                    tracing::warn!(vnet = %vnet_id, error = %e, "not listening for the virtual network's resolver");
                    self.record(key, ResolverState { vnet_id, wanted: Some(wanted), bound: None, error: Some(e) });
                    return;
                }
            }
        }
        let state = match self.server.serve_view(key, wanted).await {
            Ok(bound) => ResolverState { vnet_id, wanted: Some(wanted), bound: Some(bound), error: None },
            Err(e) => {
                tracing::warn!(vnet = %vnet_id, address = %wanted, error = %e, "cannot listen for the virtual network's resolver");
                self.reservations.lock().remove(key);
                ResolverState { vnet_id, wanted: Some(wanted), bound: None, error: Some(e.to_string()) }
            }
        };
        self.record(key, state);
    }

    fn record(&self, key: &str, state: ResolverState) {
        self.resolvers.lock().insert(key.to_string(), state);
    }

    /// Every VNet's resolver, by VNet key.
    pub fn resolvers(&self) -> Vec<(String, ResolverState)> {
        let mut all: Vec<_> = self.resolvers.lock().iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// VNets whose resolver is not listening for want of descriptors.
    pub fn waiting_for_descriptors(&self) -> Vec<String> {
        let resolvers = self.resolvers.lock();
        resolvers.iter().filter(|(_, r)| r.bound.is_none() && r.wanted.is_some()).map(|(k, _)| k.clone()).collect()
    }

    pub fn resolver(&self, vnet_key: &str) -> Option<ResolverState> {
        self.resolvers.lock().get(vnet_key).cloned()
    }
}

/// A stored record set as the resolver serves it.
fn record_set(row: &ResourceRow) -> Option<RecordSet> {
    let (rtype, ttl, value) = record_sets::stored_records(row)?;
    let text =
        |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default().trim_end_matches('.').to_string();
    let num = |v: &Value, k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
    let list = || value.as_array().into_iter().flatten();
    use record_sets::RecordType as R;
    let records: Vec<RData> = match rtype {
        R::A => list().filter_map(|r| r.get("ipv4Address")?.as_str()?.parse().ok()).map(RData::A).collect(),
        R::Aaaa => list().filter_map(|r| r.get("ipv6Address")?.as_str()?.parse().ok()).map(RData::Aaaa).collect(),
        R::Cname => match value.get("cname") {
            Some(_) => vec![RData::Cname(text(value, "cname"))],
            None => Vec::new(),
        },
        R::Mx => list()
            .map(|r| RData::Mx { preference: num(r, "preference") as u16, exchange: text(r, "exchange") })
            .collect(),
        R::Ptr => list().map(|r| RData::Ptr(text(r, "ptrdname"))).collect(),
        R::Srv => list()
            .map(|r| RData::Srv {
                priority: num(r, "priority") as u16,
                weight: num(r, "weight") as u16,
                port: num(r, "port") as u16,
                target: text(r, "target"),
            })
            .collect(),
        R::Txt => list()
            .map(|r| {
                let strings = r.get("value").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str);
                RData::Txt(strings.flat_map(character_strings).collect())
            })
            .collect(),
        R::Soa => vec![RData::Soa {
            host: text(value, "host"),
            email: text(value, "email"),
            serial: num(value, "serialNumber") as u32,
            refresh: num(value, "refreshTime") as u32,
            retry: num(value, "retryTime") as u32,
            expire: num(value, "expireTime") as u32,
            minimum: num(value, "minimumTtl") as u32,
        }],
    };
    Some(RecordSet { ttl: u32::try_from(ttl).unwrap_or(u32::MAX), records, source: row.id.clone() })
}

/// A TXT value as DNS character-strings of at most 255 bytes (Azure splits longer values).
fn character_strings(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for c in value.chars() {
        if current.len() + c.len_utf8() > 255 {
            out.push(std::mem::take(&mut current));
        }
        current.push(c);
    }
    out.push(current);
    out
}

/// The public names of one target: each catalogued member name, as a CNAME to its
/// `privatelink.` name once a connection exists for its group, else straight to the public
/// address.
fn public_records(target: &Target, topology: &Topology, target_key: &str) -> Vec<PublicRecord> {
    let Some(address) = target.public_address else { return Vec::new() };
    let connected: Vec<String> = topology.connections_of(target_key).map(|c| c.group.to_ascii_lowercase()).collect();
    let what = format!("{} {}", target.kind.display_name, target.name);
    let mut out: Vec<PublicRecord> = Vec::new();
    let mut push = |name: String, data: RData, reason: String| {
        if !out.iter().any(|r| r.name == name && r.data.record_type() == data.record_type()) {
            out.push(PublicRecord { name, ttl: PUBLIC_TTL, data, reason, source: target.id.clone() });
        }
    };
    for group in target.kind.groups {
        let has_connection = connected.iter().any(|g| g.eq_ignore_ascii_case(group.id));
        for member in group.members {
            let public = catalogue::expand(member.fqdn, &target.name, &target.region);
            let private = catalogue::private_name(group, &public, &target.name, &target.region)
                .map(|(zone, record)| if record == "@" { zone } else { format!("{record}.{zone}") });
            match (has_connection, private) {
                (true, Some(private)) => {
                    push(
                        public.clone(),
                        RData::Cname(private.clone()),
                        format!("{what} has a private endpoint connection for '{}': its public name is an alias of its privatelink name", group.id),
                    );
                    push(
                        private,
                        RData::A(address),
                        format!("public address of {what}: the privatelink name resolves publicly to it unless a linked private zone answers"),
                    );
                }
                _ => push(
                    public,
                    RData::A(address),
                    format!("public address of {what} (no private endpoint connection for '{}')", group.id),
                ),
            }
        }
    }
    out
}

/// A catalog with nothing private in it yet: the public suffixes privlink answers for and the
/// internet's view (no links: public answers only).
pub fn fresh_catalog() -> Catalog {
    let mut catalog = Catalog::new();
    catalog.set_authoritative_suffixes(authoritative_suffixes());
    catalog.upsert_view(
        super::gateway::INTERNET_VIEW,
        ViewInfo { name: "the internet".into(), source: super::gateway::INTERNET_VIEW.into() },
    );
    catalog
}

/// The public domains privlink answers for: an unknown name under one is NXDOMAIN, as Azure's
/// public DNS would say. Derived from the catalogue's names and zones, from their fixed tail
/// (`{name}.{region}.kusto.windows.net` → `kusto.windows.net`).
pub fn authoritative_suffixes() -> Vec<String> {
    fn tail(pattern: &str) -> Option<String> {
        let labels: Vec<&str> = pattern.split('.').collect();
        let last_placeholder = labels.iter().rposition(|l| l.contains('{'));
        let start = match last_placeholder {
            Some(i) => i + 1,
            None => 1,
        };
        let rest = labels.get(start..)?;
        (rest.len() >= 2).then(|| rest.join(".").to_ascii_lowercase())
    }
    let mut out = Vec::new();
    for kind in catalogue::KINDS {
        for group in kind.groups {
            for member in group.members {
                out.extend(tail(member.fqdn));
            }
            for zone in group.zones {
                out.extend(catalogue::public_domain(zone).and_then(|d| tail(&format!("x.{d}"))));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolver_addresses_follow_the_scheme() {
        let mut s = DnsSettings::default();
        assert_eq!(resolver_address(&s, 0).unwrap(), "127.77.0.1:1053".parse().unwrap());
        assert_eq!(resolver_address(&s, 300).unwrap(), "127.77.1.45:1053".parse().unwrap());
        s.per_vnet = PerVnet::Port;
        assert_eq!(resolver_address(&s, 2).unwrap(), "127.77.0.1:1055".parse().unwrap());
        s.listen = "127.0.0.1:65535".parse().unwrap();
        assert!(resolver_address(&s, 1).is_err());
        s.per_vnet = PerVnet::Address;
        s.listen = "127.255.255.255:53".parse().unwrap();
        assert!(resolver_address(&s, 1).is_err());
        s.listen = "127.0.0.1:0".parse().unwrap();
        assert_eq!(resolver_address(&s, 4).unwrap(), "127.0.0.5:0".parse().unwrap());
    }

    #[test]
    fn suffixes_cover_service_domains_without_swallowing_whole_clouds() {
        let suffixes = authoritative_suffixes();
        for wanted in [
            "blob.core.windows.net",
            "kusto.windows.net",
            "vault.azure.net",
            "vaultcore.azure.net",
            "servicebus.windows.net",
        ] {
            assert!(suffixes.iter().any(|s| s == wanted), "{wanted} missing from {suffixes:?}");
        }
        for broad in ["windows.net", "azure.net", "azure.com", "microsoft.com", "net", "com"] {
            assert!(!suffixes.iter().any(|s| s == broad), "{broad} is too broad");
        }
    }

    #[test]
    fn txt_values_split_into_character_strings() {
        assert_eq!(character_strings("abc"), vec!["abc".to_string()]);
        let long = "x".repeat(600);
        let parts = character_strings(&long);
        assert_eq!(parts.iter().map(String::len).collect::<Vec<_>>(), vec![255, 255, 90]);
    }
}
