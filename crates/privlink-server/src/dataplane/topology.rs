//! The network as the data planes see it: virtual networks and their peerings, private
//! endpoints with their addresses and connection state, and private-link targets with their
//! public addresses and connections. Built from store rows (the only input) and kept in memory,
//! so questions such as "which endpoint owns 10.1.0.4 as seen from vnet2?" cost a hash lookup.
//!
//! Rows are applied level-triggered: `upsert` takes the row as it is now, `remove` forgets the
//! key. Nothing here reads the store or knows about HTTP.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};

use privlink_store::ResourceRow;
use serde_json::Value;

use crate::catalogue::{self, TargetKind};
use crate::platform;
use crate::providers::network::{private_endpoints, virtual_network_peerings, virtual_networks};
use crate::providers::{location, properties};

#[derive(Debug, Clone)]
pub struct Vnet {
    pub id: String,
    pub name: String,
    pub prefixes: Vec<ipnet::IpNet>,
    /// `dhcpOptions.dnsServers`: when set, the VNet's clients ask these instead of Azure DNS.
    pub dns_servers: Vec<String>,
    pub resolver_slot: Option<u32>,
}

#[derive(Debug, Clone)]
pub struct Peering {
    pub id: String,
    pub vnet: String,
    pub remote: String,
    pub state: String,
    pub allow_access: bool,
}

#[derive(Debug, Clone)]
pub struct Endpoint {
    pub id: String,
    pub name: String,
    pub subnet_id: String,
    pub vnet: String,
    pub addresses: Vec<IpAddr>,
    /// `(fqdn, addresses)` from `customDnsConfigs`.
    pub names: Vec<(String, Vec<IpAddr>)>,
    /// Pending, Approved, Rejected or Disconnected.
    pub status: String,
    pub description: String,
    /// The target's resource id as written (or a private link service's alias).
    pub target: String,
    pub group: String,
}

#[derive(Debug, Clone)]
pub struct Target {
    pub id: String,
    pub name: String,
    pub region: String,
    pub kind: &'static TargetKind,
    pub public_address: Option<Ipv4Addr>,
    pub public_network_access: String,
}

#[derive(Debug, Clone)]
pub struct Connection {
    pub target: String,
    pub group: String,
    pub status: String,
}

#[derive(Debug, Default)]
pub struct Topology {
    pub vnets: HashMap<String, Vnet>,
    pub peerings: HashMap<String, Peering>,
    pub endpoints: HashMap<String, Endpoint>,
    pub targets: HashMap<String, Target>,
    /// Target-side connections, by key; `by_target` indexes them.
    pub connections: HashMap<String, Connection>,
    by_target: HashMap<String, HashSet<String>>,
    by_address: HashMap<IpAddr, HashSet<String>>,
    by_public_address: HashMap<Ipv4Addr, String>,
}

/// What a row is, for the data planes (`None`: not their business).
#[derive(Debug, Clone, Copy)]
pub enum RowKind {
    Vnet,
    Peering,
    Endpoint,
    Target(&'static TargetKind),
    Connection(&'static TargetKind),
}

pub fn row_kind(type_key: &str) -> Option<RowKind> {
    if type_key == virtual_networks::TYPE.to_ascii_lowercase() {
        return Some(RowKind::Vnet);
    }
    if type_key == virtual_network_peerings::TYPE_KEY {
        return Some(RowKind::Peering);
    }
    if type_key == private_endpoints::TYPE_KEY {
        return Some(RowKind::Endpoint);
    }
    if let Some(parent) = type_key.strip_suffix("/privateendpointconnections") {
        return catalogue::find(parent).map(RowKind::Connection);
    }
    catalogue::find(type_key).map(RowKind::Target)
}

/// Every type the topology reads, lower-cased.
pub fn type_keys() -> Vec<String> {
    let mut keys = vec![
        virtual_networks::TYPE.to_ascii_lowercase(),
        virtual_network_peerings::TYPE_KEY.to_string(),
        private_endpoints::TYPE_KEY.to_string(),
    ];
    for kind in catalogue::KINDS {
        let t = kind.type_name.to_ascii_lowercase();
        keys.push(format!("{t}/privateendpointconnections"));
        keys.push(t);
    }
    keys
}

fn name_of(id: &str) -> String {
    id.rsplit('/').next().unwrap_or_default().to_string()
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    let mut cur = v;
    for p in path {
        cur = match cur.get(p) {
            Some(next) => next,
            None => return "",
        };
    }
    cur.as_str().unwrap_or("")
}

impl Topology {
    /// Take a row as it is now. Returns the target key whose public names may have changed, if any.
    pub fn upsert(&mut self, kind: RowKind, row: &ResourceRow) -> Option<String> {
        let props = properties(row);
        match kind {
            RowKind::Vnet => {
                let prefixes = props
                    .get("addressSpace")
                    .and_then(|a| a.get("addressPrefixes"))
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|p| p.as_str()?.parse().ok())
                    .collect();
                let dns_servers = props
                    .get("dhcpOptions")
                    .and_then(|d| d.get("dnsServers"))
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect();
                let vnet = Vnet {
                    id: row.id.clone(),
                    name: name_of(&row.id),
                    prefixes,
                    dns_servers,
                    resolver_slot: platform::resolver_slot(row),
                };
                self.vnets.insert(row.key.clone(), vnet);
                None
            }
            RowKind::Peering => {
                let peering = Peering {
                    id: row.id.clone(),
                    vnet: row.parent_key.clone(),
                    remote: props.get("remoteVirtualNetwork").map_or("", |r| str_at(r, &["id"])).to_ascii_lowercase(),
                    state: props.get("peeringState").and_then(Value::as_str).unwrap_or("Initiated").to_string(),
                    allow_access: props.get("allowVirtualNetworkAccess").and_then(Value::as_bool).unwrap_or(true),
                };
                self.peerings.insert(row.key.clone(), peering);
                None
            }
            RowKind::Endpoint => {
                self.remove_endpoint(&row.key);
                let endpoint = endpoint_of(row);
                for ip in &endpoint.addresses {
                    self.by_address.entry(*ip).or_default().insert(row.key.clone());
                }
                self.endpoints.insert(row.key.clone(), endpoint);
                None
            }
            RowKind::Target(kind) => {
                let target = Target {
                    id: row.id.clone(),
                    name: name_of(&row.id),
                    region: location(row).unwrap_or_default().to_string(),
                    kind,
                    public_address: platform::public_address(row),
                    public_network_access: props
                        .get("publicNetworkAccess")
                        .and_then(Value::as_str)
                        .unwrap_or("Enabled")
                        .to_string(),
                };
                if let Some(old) = self.targets.get(&row.key).and_then(|t| t.public_address) {
                    self.by_public_address.remove(&old);
                }
                if let Some(address) = target.public_address {
                    self.by_public_address.insert(address, row.key.clone());
                }
                self.targets.insert(row.key.clone(), target);
                Some(row.key.clone())
            }
            RowKind::Connection(_) => {
                let group = props
                    .get("groupIds")
                    .and_then(Value::as_array)
                    .and_then(|g| g.first())
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let status = props.get("privateLinkServiceConnectionState").map_or("", |c| str_at(c, &["status"]));
                let connection = Connection { target: row.parent_key.clone(), group, status: status.to_string() };
                self.by_target.entry(row.parent_key.clone()).or_default().insert(row.key.clone());
                self.connections.insert(row.key.clone(), connection);
                Some(row.parent_key.clone())
            }
        }
    }

    /// Forget a row. Returns the target key whose public names may have changed, if any.
    pub fn remove(&mut self, kind: RowKind, key: &str) -> Option<String> {
        match kind {
            RowKind::Vnet => {
                self.vnets.remove(key);
                None
            }
            RowKind::Peering => {
                self.peerings.remove(key);
                None
            }
            RowKind::Endpoint => {
                self.remove_endpoint(key);
                None
            }
            RowKind::Target(_) => {
                if let Some(address) = self.targets.remove(key).and_then(|t| t.public_address) {
                    self.by_public_address.remove(&address);
                }
                Some(key.to_string())
            }
            RowKind::Connection(_) => {
                let connection = self.connections.remove(key)?;
                if let Some(set) = self.by_target.get_mut(&connection.target) {
                    set.remove(key);
                    if set.is_empty() {
                        self.by_target.remove(&connection.target);
                    }
                }
                Some(connection.target)
            }
        }
    }

    fn remove_endpoint(&mut self, key: &str) {
        if let Some(old) = self.endpoints.remove(key) {
            for ip in old.addresses {
                if let Some(set) = self.by_address.get_mut(&ip) {
                    set.remove(key);
                    if set.is_empty() {
                        self.by_address.remove(&ip);
                    }
                }
            }
        }
    }

    /// The target's connections.
    pub fn connections_of(&self, target_key: &str) -> impl Iterator<Item = &Connection> {
        self.by_target.get(target_key).into_iter().flatten().filter_map(|k| self.connections.get(k))
    }

    /// Endpoints holding `ip`, by key (several VNets may use the same private range).
    pub fn endpoints_at(&self, ip: IpAddr) -> Vec<&str> {
        let mut keys: Vec<&str> = self.by_address.get(&ip).into_iter().flatten().map(String::as_str).collect();
        keys.sort_unstable();
        keys
    }

    pub fn target_with_public_address(&self, ip: Ipv4Addr) -> Option<(&str, &Target)> {
        let key = self.by_public_address.get(&ip)?;
        self.targets.get(key).map(|t| (key.as_str(), t))
    }

    /// Whether clients in `from` reach addresses in `to`: the same VNet, or a peering that is
    /// Connected and allows virtual network access in both directions.
    pub fn reachable(&self, from: &str, to: &str) -> Reach {
        if from == to {
            return Reach::SameVnet;
        }
        let one_way = |a: &str, b: &str| self.peerings.values().find(|p| p.vnet == a && p.remote == b);
        match (one_way(from, to), one_way(to, from)) {
            (Some(p), Some(q)) if p.state == "Connected" && q.state == "Connected" => {
                if p.allow_access && q.allow_access {
                    Reach::Peered
                } else {
                    Reach::PeeringBlocksAccess
                }
            }
            (Some(_), _) | (_, Some(_)) => Reach::PeeringNotConnected,
            (None, None) => Reach::NotPeered,
        }
    }

    /// The VNet whose address space holds `ip`, other than `except`.
    pub fn vnet_holding(&self, ip: IpAddr, except: &str) -> Option<(&str, &Vnet)> {
        let mut found: Vec<(&str, &Vnet)> = self
            .vnets
            .iter()
            .filter(|(k, v)| k.as_str() != except && v.prefixes.iter().any(|p| p.contains(&ip)))
            .map(|(k, v)| (k.as_str(), v))
            .collect();
        found.sort_by_key(|(k, _)| *k);
        found.into_iter().next()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    SameVnet,
    Peered,
    PeeringBlocksAccess,
    PeeringNotConnected,
    NotPeered,
}

impl Reach {
    pub fn allows(self) -> bool {
        matches!(self, Reach::SameVnet | Reach::Peered)
    }
}

fn endpoint_of(row: &ResourceRow) -> Endpoint {
    let props = properties(row);
    let subnet_id =
        props.get("subnet").and_then(|s| s.get("id")).and_then(Value::as_str).unwrap_or_default().to_string();
    let vnet = subnet_id.to_ascii_lowercase().rsplit_once("/subnets/").map(|(v, _)| v.to_string()).unwrap_or_default();
    let names: Vec<(String, Vec<IpAddr>)> = private_endpoints::dns_names(row)
        .into_iter()
        .map(|(fqdn, ips)| (fqdn, ips.iter().filter_map(|ip| ip.parse().ok()).collect()))
        .collect();
    let mut addresses: Vec<IpAddr> = names.iter().flat_map(|(_, ips)| ips.iter().copied()).collect();
    addresses.sort_unstable();
    addresses.dedup();
    let connection = private_endpoints::connection(row).cloned().unwrap_or(Value::Null);
    Endpoint {
        id: row.id.clone(),
        name: name_of(&row.id),
        subnet_id,
        vnet,
        addresses,
        names,
        status: str_at(&connection, &["properties", "privateLinkServiceConnectionState", "status"]).to_string(),
        description: str_at(&connection, &["properties", "privateLinkServiceConnectionState", "description"])
            .to_string(),
        target: str_at(&connection, &["properties", "privateLinkServiceId"]).to_string(),
        group: connection
            .get("properties")
            .and_then(|p| p.get("groupIds"))
            .and_then(Value::as_array)
            .and_then(|g| g.first())
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
    }
}
