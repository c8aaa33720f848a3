//! The network as the data planes see it: virtual networks, their subnets and peerings, network
//! security groups' rules, private endpoints with their addresses and connection state, and the
//! things endpoints point at (catalogued targets with their public addresses, connections,
//! firewalls and backends; private link services with their backends). Built from store rows
//! (the only input) and kept in memory, so questions such as "which endpoint owns 10.1.0.4 as
//! seen from vnet2?" cost a few hash lookups.
//!
//! Rows are applied level-triggered: `upsert` takes the row as it is now, `remove` forgets the
//! key. Nothing here reads the store or knows about HTTP.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use ipnet::IpNet;
use privlink_store::ResourceRow;
use serde_json::{Map, Value};

use super::nsg;
use crate::catalogue::{self, TargetKind};
use crate::platform;
use crate::providers::approval;
use crate::providers::network::{
    private_endpoints, private_link_services, security_rules, subnets, virtual_network_peerings, virtual_networks,
};
use crate::providers::targets::backends;
use crate::providers::{location, properties};

#[derive(Debug, Clone)]
pub struct Vnet {
    pub id: String,
    pub name: String,
    pub prefixes: Vec<IpNet>,
    /// `dhcpOptions.dnsServers`: when set, the VNet's clients ask these instead of Azure DNS.
    pub dns_servers: Vec<String>,
    pub resolver_slot: Option<u32>,
}

#[derive(Debug, Clone)]
pub struct Subnet {
    pub id: String,
    pub name: String,
    pub vnet: String,
    pub prefixes: Vec<IpNet>,
    /// `privateEndpointNetworkPolicies`: NSGs apply to endpoints here when `Enabled` or
    /// `NetworkSecurityGroupEnabled`.
    pub endpoint_policies: String,
    pub nsg: Option<String>,
}

impl Subnet {
    pub fn applies_nsg_to_endpoints(&self) -> bool {
        matches!(self.endpoint_policies.as_str(), "Enabled" | "NetworkSecurityGroupEnabled")
    }

    /// The address a client "sitting" in this subnet has: its last usable address (the proxy's
    /// clients are not NICs, so they take no address from IPAM).
    pub fn client_address(&self) -> Option<IpAddr> {
        let prefix = self.prefixes.iter().find(|p| matches!(p, IpNet::V4(_)))?;
        match prefix {
            IpNet::V4(v4) => Some(IpAddr::V4(Ipv4Addr::from(u32::from(v4.broadcast()).saturating_sub(1)))),
            IpNet::V6(_) => None,
        }
    }
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
    pub subnet: String,
    pub vnet: String,
    pub addresses: Vec<IpAddr>,
    /// `(fqdn, addresses)` from `customDnsConfigs`.
    pub names: Vec<(String, Vec<IpAddr>)>,
    /// Pending, Approved, Rejected or Disconnected.
    pub status: String,
    pub description: String,
    /// The target's resource id as written (or a private link service's alias).
    pub target: String,
    /// The key of the target row (a catalogued resource or a private link service).
    pub target_key: String,
    pub kind: Option<&'static TargetKind>,
    pub group: String,
    pub gateway_slot: Option<u32>,
}

/// A storage account's firewall (`networkAcls`).
#[derive(Debug, Clone, Default)]
pub struct Firewall {
    pub default_deny: bool,
    pub ip_rules: Vec<IpNet>,
    /// Lower-cased subnet ids.
    pub subnet_rules: Vec<String>,
    pub bypass_azure_services: bool,
}

#[derive(Debug, Clone)]
pub struct Target {
    pub id: String,
    pub name: String,
    pub region: String,
    pub kind: &'static TargetKind,
    pub public_address: Option<Ipv4Addr>,
    pub public_network_access: String,
    pub firewall: Option<Firewall>,
    pub backends: Vec<(String, SocketAddr)>,
}

#[derive(Debug, Clone)]
pub struct LinkService {
    pub id: String,
    pub name: String,
    pub backends: Vec<(String, SocketAddr)>,
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
    pub subnets: HashMap<String, Subnet>,
    pub peerings: HashMap<String, Peering>,
    pub endpoints: HashMap<String, Endpoint>,
    pub targets: HashMap<String, Target>,
    pub link_services: HashMap<String, LinkService>,
    /// Target-side connections, by key; `by_target` indexes them.
    pub connections: HashMap<String, Connection>,
    /// Security rules by key: `(nsg key, rule)`.
    rules: HashMap<String, (String, nsg::Rule)>,
    rules_by_nsg: HashMap<String, HashSet<String>>,
    subnets_by_vnet: HashMap<String, HashSet<String>>,
    peerings_by_vnet: HashMap<String, HashSet<String>>,
    by_target: HashMap<String, HashSet<String>>,
    endpoints_by_target: HashMap<String, HashSet<String>>,
    by_address: HashMap<IpAddr, HashSet<String>>,
    by_public_address: HashMap<Ipv4Addr, String>,
}

/// What a row is, for the data planes (`None`: not their business).
#[derive(Debug, Clone, Copy)]
pub enum RowKind {
    Vnet,
    Subnet,
    Peering,
    SecurityRule,
    Endpoint,
    LinkService,
    Target(&'static TargetKind),
    Connection(&'static TargetKind),
}

/// The network types the topology reads, with what each row becomes.
const NETWORK_ROWS: [(&str, RowKind); 6] = [
    (virtual_networks::TYPE_KEY, RowKind::Vnet),
    (subnets::TYPE_KEY, RowKind::Subnet),
    (virtual_network_peerings::TYPE_KEY, RowKind::Peering),
    (security_rules::TYPE_KEY, RowKind::SecurityRule),
    (private_endpoints::TYPE_KEY, RowKind::Endpoint),
    (private_link_services::TYPE_KEY, RowKind::LinkService),
];

pub fn row_kind(type_key: &str) -> Option<RowKind> {
    if let Some((_, kind)) = NETWORK_ROWS.iter().find(|(t, _)| *t == type_key) {
        return Some(*kind);
    }
    if let Some(parent) = type_key.strip_suffix("/privateendpointconnections") {
        return catalogue::find(parent).map(RowKind::Connection);
    }
    catalogue::find(type_key).map(RowKind::Target)
}

/// Every type the topology reads, lower-cased.
pub fn type_keys() -> Vec<String> {
    let mut keys: Vec<String> = NETWORK_ROWS.iter().map(|(t, _)| t.to_string()).collect();
    for kind in catalogue::KINDS {
        let t = kind.type_name.to_ascii_lowercase();
        keys.push(format!("{t}/privateendpointconnections"));
        keys.push(t);
    }
    keys
}

/// What a change touched, for the planes that follow it.
#[derive(Debug, Default)]
pub struct Touched {
    /// Targets whose public names may have changed (DNS).
    pub targets: Vec<String>,
    /// Endpoints, targets and private link services whose gateway listeners may have changed.
    pub routes: Vec<String>,
    /// VNets whose resolver and proxy may have changed.
    pub vnets: Vec<String>,
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

fn prefixes(props: &Map<String, Value>, single: &str, list: &str) -> Vec<IpNet> {
    let mut out: Vec<IpNet> =
        props.get(single).and_then(Value::as_str).and_then(|p| p.parse().ok()).into_iter().collect();
    out.extend(
        props
            .get(list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| p.as_str()?.parse::<IpNet>().ok()),
    );
    out
}

fn index_insert(index: &mut HashMap<String, HashSet<String>>, at: &str, key: &str) {
    index.entry(at.to_string()).or_default().insert(key.to_string());
}

fn index_remove(index: &mut HashMap<String, HashSet<String>>, at: &str, key: &str) {
    if let Some(set) = index.get_mut(at) {
        set.remove(key);
        if set.is_empty() {
            index.remove(at);
        }
    }
}

impl Topology {
    /// Take a row as it is now.
    pub fn upsert(&mut self, kind: RowKind, row: &ResourceRow, touched: &mut Touched) {
        self.remove(kind, &row.key, touched);
        let props = properties(row);
        let key = row.key.clone();
        match kind {
            RowKind::Vnet => {
                let dns_servers = props
                    .get("dhcpOptions")
                    .and_then(|d| d.get("dnsServers"))
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect();
                let space = props.get("addressSpace").and_then(Value::as_object).cloned().unwrap_or_default();
                let vnet = Vnet {
                    id: row.id.clone(),
                    name: name_of(&row.id),
                    prefixes: prefixes(&space, "", "addressPrefixes"),
                    dns_servers,
                    resolver_slot: platform::resolver_slot(row),
                };
                self.vnets.insert(key, vnet);
            }
            RowKind::Subnet => {
                let subnet = Subnet {
                    id: row.id.clone(),
                    name: name_of(&row.id),
                    vnet: row.parent_key.clone(),
                    prefixes: prefixes(props, "addressPrefix", "addressPrefixes"),
                    endpoint_policies: props
                        .get("privateEndpointNetworkPolicies")
                        .and_then(Value::as_str)
                        .unwrap_or("Disabled")
                        .to_string(),
                    nsg: props
                        .get("networkSecurityGroup")
                        .map(|n| str_at(n, &["id"]).to_ascii_lowercase())
                        .filter(|k| !k.is_empty()),
                };
                index_insert(&mut self.subnets_by_vnet, &row.parent_key, &key);
                self.subnets.insert(key, subnet);
            }
            RowKind::Peering => {
                let peering = Peering {
                    id: row.id.clone(),
                    vnet: row.parent_key.clone(),
                    remote: props.get("remoteVirtualNetwork").map_or("", |r| str_at(r, &["id"])).to_ascii_lowercase(),
                    state: props.get("peeringState").and_then(Value::as_str).unwrap_or("Initiated").to_string(),
                    allow_access: props.get("allowVirtualNetworkAccess").and_then(Value::as_bool).unwrap_or(true),
                };
                index_insert(&mut self.peerings_by_vnet, &row.parent_key, &key);
                self.peerings.insert(key, peering);
            }
            RowKind::SecurityRule => {
                if let Some(rule) = nsg::Rule::from_properties(&name_of(&row.id), props) {
                    index_insert(&mut self.rules_by_nsg, &row.parent_key, &key);
                    self.rules.insert(key, (row.parent_key.clone(), rule));
                }
            }
            RowKind::Endpoint => {
                let endpoint = endpoint_of(row);
                for ip in &endpoint.addresses {
                    self.by_address.entry(*ip).or_default().insert(key.clone());
                }
                index_insert(&mut self.endpoints_by_target, &endpoint.target_key, &key);
                touched.routes.push(key.clone());
                self.endpoints.insert(key, endpoint);
            }
            RowKind::LinkService => {
                let service =
                    LinkService { id: row.id.clone(), name: name_of(&row.id), backends: backends::of_row(row) };
                touched.routes.push(key.clone());
                self.link_services.insert(key, service);
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
                    firewall: props.get("networkAcls").map(firewall_of),
                    backends: backends::of_row(row),
                };
                if let Some(address) = target.public_address {
                    self.by_public_address.insert(address, key.clone());
                }
                touched.targets.push(key.clone());
                touched.routes.push(key.clone());
                self.targets.insert(key, target);
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
                index_insert(&mut self.by_target, &row.parent_key, &key);
                touched.targets.push(row.parent_key.clone());
                self.connections.insert(key, connection);
            }
        }
        if matches!(kind, RowKind::Vnet) {
            touched.vnets.push(row.key.clone());
        }
    }

    /// Forget a row.
    pub fn remove(&mut self, kind: RowKind, key: &str, touched: &mut Touched) {
        match kind {
            RowKind::Vnet => {
                self.vnets.remove(key);
                touched.vnets.push(key.to_string());
            }
            RowKind::Subnet => {
                if let Some(old) = self.subnets.remove(key) {
                    index_remove(&mut self.subnets_by_vnet, &old.vnet, key);
                }
            }
            RowKind::Peering => {
                if let Some(old) = self.peerings.remove(key) {
                    index_remove(&mut self.peerings_by_vnet, &old.vnet, key);
                }
            }
            RowKind::SecurityRule => {
                if let Some((nsg_key, _)) = self.rules.remove(key) {
                    index_remove(&mut self.rules_by_nsg, &nsg_key, key);
                }
            }
            RowKind::Endpoint => {
                if let Some(old) = self.endpoints.remove(key) {
                    for ip in &old.addresses {
                        if let Some(set) = self.by_address.get_mut(ip) {
                            set.remove(key);
                            if set.is_empty() {
                                self.by_address.remove(ip);
                            }
                        }
                    }
                    index_remove(&mut self.endpoints_by_target, &old.target_key, key);
                    touched.routes.push(key.to_string());
                }
            }
            RowKind::LinkService => {
                if self.link_services.remove(key).is_some() {
                    touched.routes.push(key.to_string());
                }
            }
            RowKind::Target(_) => {
                if let Some(old) = self.targets.remove(key) {
                    if let Some(address) = old.public_address {
                        self.by_public_address.remove(&address);
                    }
                    touched.targets.push(key.to_string());
                    touched.routes.push(key.to_string());
                }
            }
            RowKind::Connection(_) => {
                if let Some(connection) = self.connections.remove(key) {
                    index_remove(&mut self.by_target, &connection.target, key);
                    touched.targets.push(connection.target);
                }
            }
        }
    }

    /// The target's connections.
    pub fn connections_of(&self, target_key: &str) -> impl Iterator<Item = &Connection> {
        self.by_target.get(target_key).into_iter().flatten().filter_map(|k| self.connections.get(k))
    }

    /// Endpoints pointing at a target or private link service, by key.
    pub fn endpoints_of(&self, target_key: &str) -> Vec<&str> {
        self.endpoints_by_target.get(target_key).into_iter().flatten().map(String::as_str).collect()
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

    /// The subnets of a VNet, by name.
    pub fn subnets_of(&self, vnet_key: &str) -> Vec<(&str, &Subnet)> {
        let mut out: Vec<(&str, &Subnet)> = self
            .subnets_by_vnet
            .get(vnet_key)
            .into_iter()
            .flatten()
            .filter_map(|k| self.subnets.get(k).map(|s| (k.as_str(), s)))
            .collect();
        out.sort_by_key(|a| a.1.name.to_ascii_lowercase());
        out
    }

    /// The inbound rules of a network security group.
    pub fn rules_of(&self, nsg_key: &str) -> Vec<nsg::Rule> {
        self.rules_by_nsg
            .get(nsg_key)
            .into_iter()
            .flatten()
            .filter_map(|k| self.rules.get(k))
            .map(|(_, r)| r.clone())
            .collect()
    }

    fn peering(&self, from: &str, to: &str) -> Option<&Peering> {
        self.peerings_by_vnet.get(from)?.iter().filter_map(|k| self.peerings.get(k)).find(|p| p.remote == to)
    }

    /// Whether clients in `from` reach addresses in `to`: the same VNet, or a peering that is
    /// Connected and allows virtual network access in both directions.
    pub fn reachable(&self, from: &str, to: &str) -> Reach {
        if from == to {
            return Reach::SameVnet;
        }
        match (self.peering(from, to), self.peering(to, from)) {
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

    /// What the `VirtualNetwork` service tag stands for in `vnet_key`: its address space and
    /// that of every VNet peered with it.
    pub fn virtual_network_space(&self, vnet_key: &str) -> Vec<IpNet> {
        let mut out: Vec<IpNet> = self.vnets.get(vnet_key).map(|v| v.prefixes.clone()).unwrap_or_default();
        for key in self.peerings_by_vnet.get(vnet_key).into_iter().flatten() {
            if let Some(p) = self.peerings.get(key).filter(|p| p.state == "Connected") {
                out.extend(self.vnets.get(&p.remote).map(|v| v.prefixes.clone()).unwrap_or_default());
            }
        }
        out
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

    /// The backend an endpoint's traffic goes to, if one is bound.
    pub fn backend_of(&self, endpoint: &Endpoint) -> Option<SocketAddr> {
        match endpoint.kind {
            Some(_) => backends::for_group(&self.targets.get(&endpoint.target_key)?.backends, &endpoint.group),
            None => backends::for_group(&self.link_services.get(&endpoint.target_key)?.backends, ""),
        }
    }

    /// The TCP ports an endpoint serves: its group's service ports, or, for a private link
    /// service, the port of its backend.
    pub fn ports_of(&self, endpoint: &Endpoint) -> Vec<u16> {
        match endpoint.kind {
            Some(kind) => {
                kind.group(&endpoint.group).map(|g| catalogue::service_ports(kind, g).to_vec()).unwrap_or_default()
            }
            None => self.backend_of(endpoint).map(|b| vec![b.port()]).unwrap_or_default(),
        }
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

fn firewall_of(acls: &Value) -> Firewall {
    let list = |key: &str, field: &str| -> Vec<String> {
        acls.get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|r| r.get(field)?.as_str().map(str::to_string))
            .collect()
    };
    Firewall {
        default_deny: str_at(acls, &["defaultAction"]) == "Deny",
        ip_rules: list("ipRules", "value")
            .iter()
            .filter_map(|v| v.parse::<IpNet>().ok().or_else(|| v.parse::<IpAddr>().ok().map(IpNet::from)))
            .collect(),
        subnet_rules: list("virtualNetworkRules", "id").iter().map(|s| s.to_ascii_lowercase()).collect(),
        bypass_azure_services: str_at(acls, &["bypass"])
            .split(',')
            .any(|b| b.trim().eq_ignore_ascii_case("AzureServices")),
    }
}

fn endpoint_of(row: &ResourceRow) -> Endpoint {
    let props = properties(row);
    let subnet_id =
        props.get("subnet").and_then(|s| s.get("id")).and_then(Value::as_str).unwrap_or_default().to_string();
    let subnet = subnet_id.to_ascii_lowercase();
    let vnet = subnet.rsplit_once("/subnets/").map(|(v, _)| v.to_string()).unwrap_or_default();
    let names: Vec<(String, Vec<IpAddr>)> = private_endpoints::dns_names(row)
        .into_iter()
        .map(|(fqdn, ips)| (fqdn, ips.iter().filter_map(|ip| ip.parse().ok()).collect()))
        .collect();
    let internal = approval::internal(row);
    let mut addresses: Vec<IpAddr> = internal
        .get("addresses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|a| a.as_str()?.parse().ok())
        .chain(names.iter().flat_map(|(_, ips)| ips.iter().copied()))
        .collect();
    addresses.sort_unstable();
    addresses.dedup();
    let connection = private_endpoints::connection(row).cloned().unwrap_or(Value::Null);
    let target_key = internal.get("target").and_then(Value::as_str).unwrap_or_default().to_string();
    // The target's type from its key (`.../providers/{ns}/{type}/{name}`).
    let kind = target_key
        .rsplit_once('/')
        .and_then(|(rest, _)| rest.split_once("/providers/"))
        .and_then(|(_, type_name)| catalogue::find(type_name));
    Endpoint {
        id: row.id.clone(),
        name: name_of(&row.id),
        subnet_id,
        subnet,
        vnet,
        addresses,
        names,
        status: str_at(&connection, &["properties", "privateLinkServiceConnectionState", "status"]).to_string(),
        description: str_at(&connection, &["properties", "privateLinkServiceConnectionState", "description"])
            .to_string(),
        target: str_at(&connection, &["properties", "privateLinkServiceId"]).to_string(),
        target_key,
        kind,
        group: connection
            .get("properties")
            .and_then(|p| p.get("groupIds"))
            .and_then(Value::as_array)
            .and_then(|g| g.first())
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        gateway_slot: platform::endpoint_slot(row),
    }
}
