//! The gateway plane: Azure Private Link's data plane on loopback, served by `privlink-gateway`.
//!
//! - Every virtual network offers a proxy (HTTP CONNECT and SOCKS5 on one port, at the VNet's
//!   slot address, the resolver's, on `proxy-port`): a client using it *sits in that VNet*. It
//!   resolves names in the VNet's DNS view and goes where Azure would send it: a private
//!   endpoint's private IP, a target's public address, or nowhere. A proxy user name picks the
//!   client's subnet (default: the VNet's first subnet by name). One more proxy stands for the
//!   internet (`internet-proxy`): its user name is the client's public IP, or `AzureServices`
//!   for a trusted Azure service.
//! - Traffic to a private endpoint flows only while its connection is Approved, the client's VNet
//!   reaches the endpoint's (same VNet, or peered with virtual network access both ways), the
//!   endpoint's subnet NSG allows it (when the subnet's endpoint network policies apply NSGs), the
//!   port is one its sub-resource serves, and a backend is bound.
//! - Traffic to a public address obeys the target's `publicNetworkAccess` and firewall
//!   (`networkAcls`: default action, IP rules, virtual-network rules, the trusted-services bypass).
//! - Every endpoint with a backend bound also gets a listener per service port on its own
//!   loopback address (its gateway slot), standing for its private IP; every target with a
//!   backend, one per service port on the loopback address its public address maps to. A direct
//!   connection to an endpoint's listener counts as coming from the endpoint's own subnet; to a
//!   public listener, as coming from the internet.
//! - When anything changes, open tunnels are decided again and those no longer allowed are cut.
//!
//! Not modelled: on-premises networks, user-defined routes (`RouteTableEnabled`), application
//! security groups, UDP, and a VNet's outbound public IP (clients in a VNet reach public endpoints
//! as their VNet and subnet, which virtual-network rules match and IP rules never do).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use privlink_dns::Catalog;
use privlink_gateway::{ConnectRequest, Decision, Gateway, GatewayConfig, Host, Origin, Policy, RefusalKind};

use super::descriptors::{Budget, Reservation};
use super::dns::{slot_address, DnsSettings, PerVnet};
use super::nsg;
use super::topology::{Endpoint, Reach, Target, Topology};
use crate::catalogue;
use crate::platform;
use crate::providers::targets::backends;

/// The DNS view the internet proxy resolves in: no private zones, public data only.
pub const INTERNET_VIEW: &str = "privlink:internet";
/// An internet client's public address when its proxy user name gives none (TEST-NET-3).
const DEFAULT_INTERNET_CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 1));
const TRUSTED_SERVICES_USER: &str = "AzureServices";

#[derive(Debug, Clone)]
pub struct GatewaySettings {
    pub enabled: bool,
    /// Each VNet's proxy listens at the VNet's slot address on this port (0: a free one).
    pub proxy_port: u16,
    /// The proxy that stands for the internet.
    pub internet_proxy: SocketAddr,
    /// The first private endpoint's listener address (the others follow it).
    pub endpoint_base: Ipv4Addr,
    /// The listener address of the first public address (198.18.0.0 maps here).
    pub public_base: Ipv4Addr,
    /// Whether a peering with `allowVirtualNetworkAccess` false stops traffic to private
    /// endpoints across it (the default). Azure documents (seed 001) that it does not: to keep
    /// the peer away from an endpoint takes an NSG rule against the peer's prefix (a deny on the
    /// `VirtualNetwork` tag would shut out the endpoint's own network too). `false` reproduces
    /// that.
    pub peering_flag_blocks_endpoints: bool,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        GatewaySettings {
            enabled: true,
            proxy_port: 3128,
            internet_proxy: SocketAddr::from(([127, 77, 255, 254], 3128)),
            endpoint_base: Ipv4Addr::new(127, 78, 0, 1),
            public_base: Ipv4Addr::new(127, 79, 0, 0),
            peering_flag_blocks_endpoints: true,
        }
    }
}

/// What a route listener stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Stands {
    Endpoint { key: String, port: u16 },
    Public { key: String, port: u16 },
}

/// The route id of a target's public endpoint (an endpoint's route is its key).
pub fn public_route(target_key: &str) -> String {
    format!("public:{target_key}")
}

/// Who is connecting, for the rules that look at it.
#[derive(Debug, Clone)]
enum Client {
    /// In a VNet (through its proxy), in one of its subnets when it has any.
    Vnet { vnet: String, subnet: Option<String>, address: Option<IpAddr> },
    /// From the internet (its public address), or a trusted Azure service.
    Internet { address: IpAddr, trusted: bool },
    /// Straight to an endpoint's own listener: as if in the endpoint's subnet.
    EndpointSubnet,
}

struct TopologyPolicy {
    peering_flag_blocks_endpoints: bool,
    topology: Arc<RwLock<Topology>>,
    catalog: Arc<RwLock<Catalog>>,
    /// Route listeners: id → what they stand for; bound address → id.
    listeners: RwLock<HashMap<String, Stands>>,
    listener_at: RwLock<HashMap<SocketAddr, String>>,
}

fn refuse(route: Option<&str>, kind: RefusalKind, reason: impl Into<String>) -> Decision {
    Decision::Refuse { route: route.map(str::to_string), kind, reason: reason.into() }
}

impl TopologyPolicy {
    fn client(&self, topology: &Topology, view: &str, user: Option<&str>) -> Result<Client, Decision> {
        if view == INTERNET_VIEW {
            return Ok(match user {
                Some(u) if u.eq_ignore_ascii_case(TRUSTED_SERVICES_USER) => {
                    Client::Internet { address: DEFAULT_INTERNET_CLIENT, trusted: true }
                }
                Some(u) => match u.parse::<IpAddr>() {
                    Ok(address) => Client::Internet { address, trusted: false },
                    Err(_) => {
                        return Err(refuse(
                            None,
                            RefusalKind::NotAllowed,
                            format!("the internet proxy's user name is the client's public IP or {TRUSTED_SERVICES_USER}, not '{u}'"),
                        ))
                    }
                },
                None => Client::Internet { address: DEFAULT_INTERNET_CLIENT, trusted: false },
            });
        }
        let subnets = topology.subnets_of(view);
        let chosen = match user.filter(|u| !u.is_empty()) {
            Some(name) => match subnets.iter().find(|(_, s)| s.name.eq_ignore_ascii_case(name)) {
                Some(found) => Some(*found),
                None => {
                    let vnet = topology.vnets.get(view).map(|v| v.name.as_str()).unwrap_or(view);
                    return Err(refuse(None, RefusalKind::NotAllowed, format!("{vnet} has no subnet '{name}'")));
                }
            },
            None => subnets.first().copied(),
        };
        Ok(Client::Vnet {
            vnet: view.to_string(),
            subnet: chosen.map(|(k, _)| k.to_string()),
            address: chosen.and_then(|(_, s)| s.client_address()),
        })
    }

    /// The address a host name stands for in the client's DNS view.
    fn resolve(&self, view: &str, host: &Host) -> Result<IpAddr, Decision> {
        let name = match host {
            Host::Ip(ip) => return Ok(*ip),
            Host::Name(n) if n == "localhost" => return Ok(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            Host::Name(n) => n,
        };
        match privlink_dns::lookup_a(&self.catalog.read(), view, name) {
            privlink_dns::Lookup::Address(ip) => Ok(IpAddr::V4(ip)),
            privlink_dns::Lookup::Elsewhere => Err(refuse(
                None,
                RefusalKind::Unreachable,
                format!("{name} is not a name privlink knows; the gateway only reaches privlink's resources"),
            )),
            privlink_dns::Lookup::Nothing(rcode) => {
                Err(refuse(None, RefusalKind::Unreachable, format!("{name} does not resolve here ({rcode})")))
            }
        }
    }

    fn decide_endpoint(
        &self,
        topology: &Topology,
        client: &Client,
        key: &str,
        endpoint: &Endpoint,
        port: u16,
    ) -> Decision {
        let route = Some(key);
        let vnet_name = |k: &str| topology.vnets.get(k).map(|v| v.name.clone()).unwrap_or_else(|| k.to_string());
        if let Client::Vnet { vnet, .. } = client {
            let reach = match topology.reachable(vnet, &endpoint.vnet) {
                Reach::PeeringBlocksAccess if !self.peering_flag_blocks_endpoints => Reach::Peered,
                reach => reach,
            };
            if !reach.allows() {
                let why = match reach {
                    Reach::PeeringBlocksAccess => "the peering does not allow virtual network access",
                    Reach::PeeringNotConnected => "the peering is not Connected",
                    _ => "they are not peered",
                };
                return refuse(
                    route,
                    RefusalKind::Unreachable,
                    format!(
                        "{} cannot reach {} where private endpoint {} is: {why}",
                        vnet_name(vnet),
                        vnet_name(&endpoint.vnet),
                        endpoint.name
                    ),
                );
            }
        }
        if endpoint.status != "Approved" {
            return refuse(
                route,
                RefusalKind::NotAllowed,
                format!("connection {} of private endpoint {}", endpoint.status, endpoint.name),
            );
        }
        let ports = topology.ports_of(endpoint);
        if !ports.contains(&port) {
            let list: Vec<String> = ports.iter().map(u16::to_string).collect();
            return refuse(
                route,
                RefusalKind::Refused,
                format!("private endpoint {} serves port(s) {}, not {port}", endpoint.name, list.join(", ")),
            );
        }
        if let (Client::Vnet { address: Some(source), .. }, Some(subnet)) =
            (client, topology.subnets.get(&endpoint.subnet))
        {
            if let (true, Some(nsg_key)) = (subnet.applies_nsg_to_endpoints(), &subnet.nsg) {
                let space = topology.virtual_network_space(&endpoint.vnet);
                let destination = endpoint.addresses.first().copied().unwrap_or(*source);
                let (allowed, by) = nsg::evaluate_inbound(
                    &topology.rules_of(nsg_key),
                    *source,
                    destination,
                    port,
                    &nsg::Tags { virtual_network: &space },
                );
                if !allowed {
                    let nsg_name = nsg_key.rsplit('/').next().unwrap_or_default();
                    return refuse(
                        route,
                        RefusalKind::NotAllowed,
                        format!("network security group {nsg_name} rule {by} denies {source} → {destination}:{port}"),
                    );
                }
            }
        }
        match topology.backend_of(endpoint) {
            Some(backend) => Decision::Forward { route: key.to_string(), backend },
            None => refuse(
                route,
                RefusalKind::Refused,
                format!(
                    "no backend is bound to {} (privlink backend set {} {}<host:port>)",
                    endpoint.target,
                    endpoint.target,
                    if endpoint.group.is_empty() { String::new() } else { format!("--group {} ", endpoint.group) }
                ),
            ),
        }
    }

    /// The group a public connection is for: the one whose member name the client asked for,
    /// else the first with a backend serving the port.
    fn public_group(target: &Target, host: &Host, port: u16) -> Option<&'static catalogue::Group> {
        if let Host::Name(name) = host {
            for group in target.kind.groups {
                for member in group.members {
                    let public = catalogue::expand(member.fqdn, &target.name, &target.region);
                    let private = catalogue::private_name(group, &public, &target.name, &target.region)
                        .map(|(zone, record)| format!("{record}.{zone}"));
                    if public == *name || private.as_deref() == Some(name.as_str()) {
                        return Some(group);
                    }
                }
            }
        }
        target.kind.groups.iter().find(|g| {
            catalogue::service_ports(target.kind, g).contains(&port)
                && backends::for_group(&target.backends, g.id).is_some()
        })
    }

    fn decide_public(
        &self,
        topology: &Topology,
        client: &Client,
        key: &str,
        target: &Target,
        host: &Host,
        port: u16,
    ) -> Decision {
        let route = public_route(key);
        let route = Some(route.as_str());
        let what = format!("{} {}", target.kind.display_name, target.name);
        match target.public_network_access.as_str() {
            "Disabled" => {
                return refuse(route, RefusalKind::NotAllowed, format!("{what} has publicNetworkAccess Disabled"))
            }
            "SecuredByPerimeter" => {
                return refuse(
                    route,
                    RefusalKind::NotAllowed,
                    format!("{what} is secured by a network security perimeter, which privlink does not model"),
                )
            }
            _ => {}
        }
        if let Some(firewall) = target.firewall.as_ref().filter(|f| f.default_deny) {
            let allowed = match client {
                Client::Vnet { subnet: Some(subnet), .. } => firewall.subnet_rules.contains(subnet),
                Client::Vnet { subnet: None, .. } | Client::EndpointSubnet => false,
                Client::Internet { address, trusted } => {
                    firewall.ip_rules.iter().any(|r| r.contains(address))
                        || (*trusted && firewall.bypass_azure_services)
                }
            };
            if !allowed {
                let who = match client {
                    Client::Vnet { vnet, subnet, .. } => {
                        let subnet = subnet
                            .as_deref()
                            .and_then(|s| topology.subnets.get(s))
                            .map(|s| s.name.clone())
                            .unwrap_or_default();
                        format!("{}/{subnet}", topology.vnets.get(vnet).map(|v| v.name.clone()).unwrap_or_default())
                    }
                    Client::Internet { address, trusted: true } => format!("a trusted Azure service ({address})"),
                    Client::Internet { address, .. } => address.to_string(),
                    Client::EndpointSubnet => "an endpoint's subnet".into(),
                };
                return refuse(
                    route,
                    RefusalKind::NotAllowed,
                    format!("the firewall of {what} denies {who} (default action Deny, no rule allows it)"),
                );
            }
        }
        let Some(group) = Self::public_group(target, host, port) else {
            return refuse(
                route,
                RefusalKind::Refused,
                format!("no sub-resource of {what} with a backend serves port {port}"),
            );
        };
        if !catalogue::service_ports(target.kind, group).contains(&port) {
            return refuse(route, RefusalKind::Refused, format!("{what}'s {} does not serve port {port}", group.id));
        }
        match backends::for_group(&target.backends, group.id) {
            Some(backend) => Decision::Forward { route: public_route(key), backend },
            None => refuse(
                route,
                RefusalKind::Refused,
                format!(
                    "no backend is bound to {what}'s {} (privlink backend set {} --group {} <host:port>)",
                    group.id, target.id, group.id
                ),
            ),
        }
    }

    /// A connection to `ip:port` from `client`.
    fn decide_address(&self, topology: &Topology, client: &Client, host: &Host, ip: IpAddr, port: u16) -> Decision {
        if let IpAddr::V4(v4) = ip {
            if let Some((key, target)) = topology.target_with_public_address(v4) {
                return self.decide_public(topology, client, key, target, host, port);
            }
        }
        let candidates: Vec<(&str, &Endpoint)> =
            topology.endpoints_at(ip).into_iter().filter_map(|k| topology.endpoints.get(k).map(|e| (k, e))).collect();
        let from = match client {
            Client::Vnet { vnet, .. } => Some(vnet.as_str()),
            _ => None,
        };
        let Some(from) = from else {
            return refuse(
                None,
                RefusalKind::Unreachable,
                format!("{ip} is a private address: only clients in a virtual network reach it"),
            );
        };
        // The endpoint in the client's own VNet, else one it reaches, else any (to say why not).
        let best = candidates
            .iter()
            .find(|(_, e)| e.vnet == from)
            .or_else(|| candidates.iter().find(|(_, e)| topology.reachable(from, &e.vnet).allows()))
            .or_else(|| candidates.first());
        match best {
            Some((key, endpoint)) => self.decide_endpoint(topology, client, key, endpoint, port),
            None => {
                let vnet = topology.vnets.get(from).map(|v| v.name.clone()).unwrap_or_default();
                refuse(
                    None,
                    RefusalKind::Unreachable,
                    format!("no private endpoint has {ip} in any network {vnet} reaches"),
                )
            }
        }
    }
}

impl Policy for TopologyPolicy {
    fn decide(&self, request: &ConnectRequest) -> Decision {
        let topology = self.topology.read();
        match &request.origin {
            Origin::Direct { listener, .. } => match self.listeners.read().get(listener) {
                Some(Stands::Endpoint { key, port }) => match topology.endpoints.get(key) {
                    Some(endpoint) => self.decide_endpoint(&topology, &Client::EndpointSubnet, key, endpoint, *port),
                    None => refuse(Some(key), RefusalKind::Unreachable, "the private endpoint is gone"),
                },
                Some(Stands::Public { key, port }) => match topology.targets.get(key) {
                    Some(target) => {
                        let client = Client::Internet { address: DEFAULT_INTERNET_CLIENT, trusted: false };
                        self.decide_public(&topology, &client, key, target, &request.host, *port)
                    }
                    None => refuse(Some(&public_route(key)), RefusalKind::Unreachable, "the target is gone"),
                },
                None => refuse(None, RefusalKind::Unreachable, "no such listener"),
            },
            Origin::Proxy { view, user, .. } => {
                let client = match self.client(&topology, view, user.as_deref()) {
                    Ok(c) => c,
                    Err(refusal) => return refusal,
                };
                let resolved = match request.pinned {
                    Some(ip) => Ok(ip),
                    None => self.resolve(view, &request.host),
                };
                let ip = match resolved {
                    Ok(ip) => ip,
                    Err(refusal) => return refusal,
                };
                if ip.is_loopback() {
                    let addr = SocketAddr::new(ip, request.port);
                    // One of the gateway's own listeners: as if connected to it directly.
                    if let Some(id) = self.listener_at.read().get(&addr).cloned() {
                        drop(topology);
                        let direct = ConnectRequest {
                            origin: Origin::Direct { listener: id, peer: SocketAddr::from(([127, 0, 0, 1], 0)) },
                            host: Host::Ip(ip),
                            port: request.port,
                            pinned: None,
                        };
                        return self.decide(&direct);
                    }
                    return Decision::Passthrough { addr };
                }
                self.decide_address(&topology, &client, &request.host, ip, request.port)
            }
        }
    }

    /// A proxied name is looked up once, when the connection arrives (see `decide`).
    fn pin(&self, request: &ConnectRequest) -> Option<IpAddr> {
        match (&request.origin, &request.host) {
            (Origin::Proxy { view, .. }, Host::Name(_)) => self.resolve(view, &request.host).ok(),
            _ => None,
        }
    }
}

/// A listener an owner should have: its id, what it stands for (for the policy and for
/// people) and where it should listen (or why it cannot).
struct WantedListener {
    id: String,
    stands: Stands,
    stands_for: String,
    address: Result<SocketAddr, String>,
}

/// One listener or proxy as the plane wants it and as it is.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Bound {
    /// The route (an endpoint's key, `public:{target key}`) or the VNet it serves.
    pub owner: String,
    /// What it stands for, for people: `10.1.1.4:443`, `198.18.0.3:443`, `vnet1`.
    pub stands_for: String,
    pub address: Option<SocketAddr>,
    pub error: Option<String>,
}

pub struct GatewayPlane {
    pub settings: GatewaySettings,
    dns: DnsSettings,
    pub gateway: Arc<Gateway>,
    policy: Arc<TopologyPolicy>,
    /// Route listeners by owner key (an endpoint's or a target's key), then by listener id.
    listeners: Mutex<HashMap<String, HashMap<String, Bound>>>,
    proxies: Mutex<HashMap<String, Bound>>,
    /// The descriptors of each proxy and each listener (one socket per gateway worker), by view
    /// or listener id.
    descriptors: Arc<Budget>,
    reservations: Mutex<HashMap<String, Reservation>>,
}

impl GatewayPlane {
    pub fn new(
        settings: GatewaySettings,
        dns: &DnsSettings,
        topology: Arc<RwLock<Topology>>,
        catalog: Arc<RwLock<Catalog>>,
        descriptors: Arc<Budget>,
    ) -> Arc<GatewayPlane> {
        let policy = Arc::new(TopologyPolicy {
            peering_flag_blocks_endpoints: settings.peering_flag_blocks_endpoints,
            topology,
            catalog,
            listeners: RwLock::new(HashMap::new()),
            listener_at: RwLock::new(HashMap::new()),
        });
        let gateway = Gateway::new(policy.clone(), GatewayConfig::default());
        Arc::new(GatewayPlane {
            settings,
            dns: dns.clone(),
            gateway,
            policy,
            listeners: Mutex::new(HashMap::new()),
            proxies: Mutex::new(HashMap::new()),
            descriptors,
            reservations: Mutex::new(HashMap::new()),
        })
    }

    /// The descriptors of `id` (a view or a listener), kept until [`Self::release`].
    fn reserve(&self, id: &str) -> Result<(), String> {
        if self.reservations.lock().contains_key(id) {
            return Ok(());
        }
        let reservation = self.descriptors.take(self.gateway.sockets_per_listener())?;
        self.reservations.lock().insert(id.to_string(), reservation);
        Ok(())
    }

    fn release(&self, id: &str) {
        self.reservations.lock().remove(id);
    }

    /// Where a VNet's proxy listens.
    fn proxy_address(&self, slot: u32) -> Result<SocketAddr, String> {
        slot_address(SocketAddr::new(self.dns.listen.ip(), self.settings.proxy_port), self.dns.per_vnet, slot)
    }

    /// The loopback address a listener numbered `slot` from `base` gets (only 127.0.0.1 with
    /// `per-vnet = "port"`, where no other loopback address is assumed to exist).
    fn listener_ip(&self, base: Ipv4Addr, slot: u32) -> Result<IpAddr, String> {
        match self.dns.per_vnet {
            PerVnet::Address => {
                slot_address(SocketAddr::new(IpAddr::V4(base), 0), PerVnet::Address, slot).map(|a| a.ip())
            }
            PerVnet::Port => Ok(self.dns.listen.ip()),
        }
    }

    /// The internet's proxy.
    pub async fn start(&self) {
        if !self.settings.enabled {
            return;
        }
        let state = self.bind_proxy(INTERNET_VIEW, self.settings.internet_proxy).await;
        self.proxies.lock().insert(
            INTERNET_VIEW.to_string(),
            Bound { owner: INTERNET_VIEW.into(), stands_for: "the internet".into(), ..state },
        );
    }

    async fn bind_proxy(&self, view: &str, wanted: SocketAddr) -> Bound {
        if let Err(e) = self.reserve(view) {
            tracing::warn!(view, error = %e, "not listening for the proxy");
            return Bound { owner: view.into(), stands_for: String::new(), address: None, error: Some(e) };
        }
        match self.gateway.serve_proxy(view, wanted).await {
            Ok(bound) => Bound { owner: view.into(), stands_for: String::new(), address: Some(bound), error: None },
            Err(e) => {
                tracing::warn!(view, address = %wanted, error = %e, "cannot listen for the proxy");
                self.release(view);
                Bound { owner: view.into(), stands_for: String::new(), address: None, error: Some(e.to_string()) }
            }
        }
    }

    /// Bind or stop the proxy of the VNet `key` (`vnet`: its name and slot, `None` when gone).
    pub async fn reconcile_proxy(&self, key: &str, vnet: Option<(String, Option<u32>)>) {
        if !self.settings.enabled {
            return;
        }
        let Some((name, slot)) = vnet else {
            self.gateway.stop_proxy(key).await;
            self.proxies.lock().remove(key);
            self.release(key);
            return;
        };
        let wanted = match slot.map(|s| self.proxy_address(s)) {
            Some(Ok(a)) => a,
            Some(Err(e)) => {
                self.proxies
                    .lock()
                    .insert(key.into(), Bound { owner: key.into(), stands_for: name, address: None, error: Some(e) });
                return;
            }
            None => return,
        };
        let current = self.proxies.lock().get(key).cloned();
        let same = current
            .as_ref()
            .and_then(|c| c.address)
            .is_some_and(|a| a == wanted || (wanted.port() == 0 && a.ip() == wanted.ip()));
        if same {
            return;
        }
        let bound = self.bind_proxy(key, wanted).await;
        self.proxies.lock().insert(key.into(), Bound { stands_for: name, ..bound });
    }

    /// The listeners `owner` (an endpoint, target or private link service key) should have now.
    fn wanted_listeners(&self, topology: &Topology, owner: &str) -> Vec<WantedListener> {
        let mut out = Vec::new();
        if let Some(endpoint) = topology.endpoints.get(owner) {
            if topology.backend_of(endpoint).is_some() {
                let ip = endpoint
                    .gateway_slot
                    .ok_or_else(|| "no gateway slot".to_string())
                    .and_then(|s| self.listener_ip(self.settings.endpoint_base, s));
                let private = endpoint.addresses.first().map(|a| a.to_string()).unwrap_or_default();
                for port in topology.ports_of(endpoint) {
                    out.push(WantedListener {
                        id: format!("endpoint|{owner}|{port}"),
                        stands: Stands::Endpoint { key: owner.into(), port },
                        stands_for: format!("{private}:{port}"),
                        address: ip.clone().map(|ip| SocketAddr::new(ip, 0)),
                    });
                }
            }
        }
        if let Some(target) = topology.targets.get(owner) {
            if let (Some(address), false) = (target.public_address, target.backends.is_empty()) {
                let ip = platform::public_offset(address)
                    .ok_or_else(|| "public address out of range".to_string())
                    .and_then(|o| self.listener_ip(self.settings.public_base, o));
                let mut ports: Vec<u16> = target
                    .kind
                    .groups
                    .iter()
                    .filter(|g| backends::for_group(&target.backends, g.id).is_some())
                    .flat_map(|g| catalogue::service_ports(target.kind, g).iter().copied())
                    .collect();
                ports.sort_unstable();
                ports.dedup();
                for port in ports {
                    out.push(WantedListener {
                        id: format!("public|{owner}|{port}"),
                        stands: Stands::Public { key: owner.into(), port },
                        stands_for: format!("{address}:{port}"),
                        address: ip.clone().map(|ip| SocketAddr::new(ip, 0)),
                    });
                }
            }
        }
        out
    }

    /// Bring the listeners of `keys` (and of the endpoints of any target among them) in line
    /// with the topology.
    pub async fn reconcile_routes(&self, keys: &[String]) {
        if !self.settings.enabled || keys.is_empty() {
            return;
        }
        let wanted: Vec<(String, Vec<WantedListener>)> = {
            let topology = self.policy.topology.read();
            let mut owners: Vec<String> = keys.to_vec();
            for key in keys {
                owners.extend(topology.endpoints_of(key).into_iter().map(str::to_string));
            }
            owners.sort();
            owners.dedup();
            owners
                .into_iter()
                .map(|o| {
                    let w = self.wanted_listeners(&topology, &o);
                    (o, w)
                })
                .collect()
        };
        for (owner, listeners) in wanted {
            let current: HashMap<String, Bound> = self.listeners.lock().get(&owner).cloned().unwrap_or_default();
            let mut next: HashMap<String, Bound> = HashMap::new();
            for WantedListener { id, stands, stands_for, address: addr } in listeners {
                self.policy.listeners.write().insert(id.clone(), stands);
                if let Some(existing) = current.get(&id).filter(|b| b.address.is_some()) {
                    next.insert(id, existing.clone());
                    continue;
                }
                let bound = match addr.and_then(|addr| self.reserve(&id).map(|()| addr)) {
                    Ok(addr) => match self.gateway.listen(&id, addr).await {
                        Ok(bound) => {
                            self.policy.listener_at.write().insert(bound, id.clone());
                            Bound { owner: owner.clone(), stands_for, address: Some(bound), error: None }
                        }
                        Err(e) => {
                            self.release(&id);
                            Bound { owner: owner.clone(), stands_for, address: None, error: Some(e.to_string()) }
                        }
                    },
                    Err(e) => Bound { owner: owner.clone(), stands_for, address: None, error: Some(e) },
                };
                next.insert(id, bound);
            }
            for (id, old) in current.iter().filter(|(id, _)| !next.contains_key(*id)) {
                self.gateway.close_listener(id).await;
                self.release(id);
                self.policy.listeners.write().remove(id);
                if let Some(addr) = old.address {
                    self.policy.listener_at.write().remove(&addr);
                }
            }
            let mut all = self.listeners.lock();
            if next.is_empty() {
                all.remove(&owner);
            } else {
                all.insert(owner, next);
            }
        }
    }

    /// What the gateway would do with a connection to `host:port` from a client in `view` (a
    /// VNet's key) through its proxy, for explanations.
    pub fn decide_for(&self, view: &str, host: &str, port: u16) -> Decision {
        let Some(host) = Host::parse(host) else {
            return refuse(None, RefusalKind::Unreachable, format!("'{host}' is not a host name or address"));
        };
        let request = ConnectRequest {
            origin: Origin::Proxy { view: view.to_string(), user: None, peer: SocketAddr::from(([127, 0, 0, 1], 0)) },
            host,
            port,
            pinned: None,
        };
        self.policy.decide(&request)
    }

    /// Decide every open tunnel again (after the topology changed).
    pub fn reauthorize(&self) {
        if self.settings.enabled {
            self.gateway.reauthorize();
        }
    }

    pub fn listeners(&self) -> Vec<Bound> {
        let mut out: Vec<Bound> = self.listeners.lock().values().flat_map(|m| m.values().cloned()).collect();
        out.sort_by(|a, b| (&a.owner, &a.stands_for).cmp(&(&b.owner, &b.stands_for)));
        out
    }

    pub fn proxies(&self) -> Vec<Bound> {
        let mut out: Vec<Bound> = self.proxies.lock().values().cloned().collect();
        out.sort_by(|a, b| a.owner.cmp(&b.owner));
        out
    }

    /// VNets whose proxy is not listening (for want of descriptors, or a bind that failed).
    pub fn waiting_for_descriptors(&self) -> Vec<String> {
        let proxies = self.proxies.lock();
        proxies.iter().filter(|(k, p)| p.address.is_none() && *k != INTERNET_VIEW).map(|(k, _)| k.clone()).collect()
    }

    pub fn proxy_of(&self, vnet_key: &str) -> Option<Bound> {
        self.proxies.lock().get(vnet_key).cloned()
    }

    pub async fn shutdown(&self) {
        self.gateway.shutdown().await;
    }
}
