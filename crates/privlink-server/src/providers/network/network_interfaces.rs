//! Microsoft.Network/networkInterfaces: IP configurations on subnets, with addresses from the
//! subnet's IPAM pool (dynamic: the lowest free address; static: exactly the one asked for).
//!
//! An address is owned by `{nic key}/ipconfigurations/{name}` and stays the same for as long as
//! that IP configuration exists on the same subnet; it is released when the configuration or the
//! NIC goes.

use std::net::IpAddr;

use ipnet::IpNet;
use privlink_store::{Claim, ResourceRow};
use serde_json::{json, Map, Value};

use super::address::{ip_to_offset, offset_to_ip, pool_key, pool_prefix};
use super::{subnets, virtual_networks};
use crate::arm::api_version::NETWORK;
use crate::arm::json::{Named, Obj};
use crate::arm::names::NameRule;
use crate::arm::{ArmError, ArmResult, ResourceId};
use crate::providers::{properties, referenced, PutInput, ResourceType, Write};

pub const TYPE: &str = "Microsoft.Network/networkInterfaces";

pub struct NetworkInterfaces;

/// The IP configuration name as written, from its lower-cased owner suffix.
pub fn config_name(nic: &ResourceRow, lower: &str) -> Option<String> {
    properties(nic)
        .get("ipConfigurations")
        .and_then(Value::as_array)?
        .iter()
        .filter_map(|c| c.get("name").and_then(Value::as_str))
        .find(|n| n.eq_ignore_ascii_case(lower))
        .map(str::to_string)
}

/// The private endpoint a NIC belongs to, for the read-only NICs endpoints create.
pub fn managed_by(row: &ResourceRow) -> Option<&str> {
    row.body.get("internal").and_then(|i| i.get("managedBy")).and_then(Value::as_str)
}

/// The id (as written) of the private endpoint a managed NIC belongs to.
fn endpoint_id(row: &ResourceRow) -> String {
    properties(row)
        .get("privateEndpoint")
        .and_then(|p| p.get("id"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

pub fn owner_key(nic_key: &str, config: &str) -> String {
    format!("{nic_key}/ipconfigurations/{}", config.to_ascii_lowercase())
}

impl ResourceType for NetworkInterfaces {
    fn type_name(&self) -> &'static str {
        TYPE
    }
    fn api_versions(&self) -> &'static [&'static str] {
        NETWORK
    }
    fn tracked(&self) -> bool {
        true
    }

    fn put(&self, w: &mut Write<'_>, input: &PutInput<'_>) -> ArmResult<Map<String, Value>> {
        let id = input.id;
        if let Some(existing) = input.existing.filter(|e| managed_by(e).is_some()) {
            return Err(ArmError::invalid(
                "CannotModifyNicAttachedToPrivateEndpoint",
                format!("Network interface {id} belongs to private endpoint {} and is read-only; change the private endpoint instead.", endpoint_id(existing)),
            ));
        }
        let nic_key = id.key();
        let body = input.properties();
        let configs = body.named("ipConfigurations", NameRule::Network, "IP configuration", &id.to_string())?;
        if configs.is_empty() {
            return Err(ArmError::invalid(
                "NetworkInterfaceMustHaveAtLeastOneIpConfiguration",
                format!("Network interface {id} must have at least one IP configuration."),
            ));
        }
        let mut props = Map::new();
        let mut vnet_key: Option<String> = None;
        let mut out_configs = Vec::new();
        let requests =
            configs.iter().map(|c| IpConfigRequest::parse(w, id, input.location, c)).collect::<ArmResult<Vec<_>>>()?;
        let primaries = requests.iter().filter(|r| r.primary == Some(true)).count();
        if primaries > 1 {
            return Err(ArmError::invalid(
                "MultiplePrimaryIpConfigurations",
                format!("Network interface {id} has more than one primary IP configuration."),
            ));
        }
        for (index, request) in requests.iter().enumerate() {
            match &vnet_key {
                Some(k) if *k != request.vnet.key => {
                    return Err(ArmError::invalid(
                        "IpConfigurationsOnSameNicCannotUseDifferentVnets",
                        format!(
                            "IP configurations of {id} refer to subnets of different virtual networks ({} and {}).",
                            k,
                            virtual_networks::name_of(&request.vnet)
                        ),
                    ));
                }
                _ => vnet_key = Some(request.vnet.key.clone()),
            }
            let address = request.allocate(w, &owner_key(&nic_key, &request.name))?;
            out_configs.push(json!({
                "name": request.name,
                "properties": {
                    "privateIPAddress": address.to_string(),
                    "privateIPAllocationMethod": request.method,
                    "privateIPAddressVersion": request.version,
                    "subnet": { "id": request.subnet_id.to_string() },
                    "primary": request.primary.unwrap_or(primaries == 0 && index == 0),
                }
            }));
        }
        // Configurations dropped by this PUT give their addresses back.
        if let Some(existing) = input.existing {
            for old in properties(existing).get("ipConfigurations").and_then(Value::as_array).into_iter().flatten() {
                if let Some(old_name) = old.get("name").and_then(Value::as_str) {
                    if !configs.iter().any(|c| c.name.eq_ignore_ascii_case(old_name)) {
                        w.tx.ip_release_owner(&owner_key(&nic_key, old_name))?;
                    }
                }
            }
        }
        props.insert("ipConfigurations".into(), Value::Array(out_configs));
        if let Some(nsg) = body.reference("networkSecurityGroup")? {
            let (nsg_id, _) = referenced(w, nsg, super::network_security_groups::TYPE, id)?;
            props.insert("networkSecurityGroup".into(), json!({ "id": nsg_id.to_string() }));
        }
        if let Some(dns) = body.obj("dnsSettings")? {
            let servers = Obj::new(dns, "properties.dnsSettings").strings("dnsServers")?.unwrap_or_default();
            if let Some(bad) = servers.iter().find(|s| s.parse::<IpAddr>().is_err()) {
                return Err(ArmError::invalid(
                    "InvalidDnsServerAddress",
                    format!("DNS server address '{bad}' of {id} is not a valid IP address."),
                ));
            }
            props.insert("dnsSettings".into(), json!({ "dnsServers": servers, "appliedDnsServers": servers }));
        }
        props.insert(
            "enableAcceleratedNetworking".into(),
            json!(body.bool("enableAcceleratedNetworking")?.unwrap_or(false)),
        );
        props.insert("enableIPForwarding".into(), json!(body.bool("enableIPForwarding")?.unwrap_or(false)));
        props.insert("nicType".into(), json!("Standard"));
        let guid = input
            .existing
            .and_then(|e| properties(e).get("resourceGuid").cloned())
            .unwrap_or_else(|| json!(uuid::Uuid::new_v4().to_string()));
        props.insert("resourceGuid".into(), guid);
        Ok(props)
    }

    fn check_delete(&self, _w: &mut Write<'_>, row: &ResourceRow, root_key: &str) -> ArmResult<()> {
        match managed_by(row) {
            // Deleting the endpoint (or a scope holding it) takes the NIC along; on its own, no.
            Some(owner) if owner != root_key && !owner.starts_with(&format!("{root_key}/")) => Err(ArmError::InUse {
                code: "CannotDeleteNicAttachedToPrivateEndpoint",
                message: format!("Network interface {} is used by private endpoint {} and cannot be deleted on its own; delete the private endpoint.", row.id, endpoint_id(row)),
            }),
            _ => Ok(()),
        }
    }

    fn render_properties(
        &self,
        _tx: &mut dyn privlink_store::Tx,
        row: &ResourceRow,
        props: &mut Map<String, Value>,
    ) -> ArmResult<()> {
        let state = props.get("provisioningState").cloned().unwrap_or(json!("Succeeded"));
        if let Some(Value::Array(configs)) = props.get_mut("ipConfigurations") {
            for config in configs.iter_mut() {
                let name = config.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
                if let Value::Object(c) = config {
                    c.insert("id".into(), json!(format!("{}/ipConfigurations/{name}", row.id)));
                    c.insert("type".into(), json!("Microsoft.Network/networkInterfaces/ipConfigurations"));
                    c.insert("etag".into(), json!(row.etag));
                    if let Some(Value::Object(p)) = c.get_mut("properties") {
                        p.insert("provisioningState".into(), state.clone());
                    }
                }
            }
        }
        Ok(())
    }
}

/// An IP configuration as asked for: NICs and private link services take the same shape.
pub struct IpConfigRequest {
    pub name: String,
    pub subnet_id: ResourceId,
    pub subnet: ResourceRow,
    pub vnet: ResourceRow,
    pub method: &'static str,
    pub address: Option<IpAddr>,
    pub version: &'static str,
    pub primary: Option<bool>,
}

impl IpConfigRequest {
    /// Validate one configuration of `owner` (in `location`): its subnet exists in the same
    /// region, and the allocation method, address and version are consistent.
    pub fn parse(
        w: &mut Write<'_>,
        owner: &ResourceId,
        location: Option<&str>,
        item: &Named,
    ) -> ArmResult<IpConfigRequest> {
        let name = &item.name;
        let cp = item.properties();
        let subnet_text = cp.reference("subnet")?.ok_or_else(|| {
            ArmError::invalid(
                "IpConfigurationSubnetMissing",
                format!("IP configuration {name} of {owner} needs properties.subnet.id."),
            )
        })?;
        let (subnet_id, subnet) = referenced(w, subnet_text, subnets::TYPE, owner)?;
        let own_action = format!("{}/write", owner.type_name());
        w.require_linked(&own_action, owner, subnets::JOIN_ACTION, &subnet_id)?;
        let vnet = w.get(&subnet.parent_key)?.ok_or(ArmError::Internal)?;
        if crate::providers::location(&vnet) != location {
            return Err(ArmError::invalid(
                "InvalidResourceReference",
                format!("Resource {subnet_id} referenced by resource {owner} was not found. Please make sure that the referenced resource exists, and that both resources are in the same region."),
            ));
        }
        let version = cp.one_of("privateIPAddressVersion", &["IPv4", "IPv6"])?.unwrap_or("IPv4");
        let method = cp.one_of("privateIPAllocationMethod", &["Dynamic", "Static"])?.unwrap_or("Dynamic");
        let address = match cp.str("privateIPAddress")? {
            Some(text) => Some(text.parse::<IpAddr>().map_err(|_| {
                ArmError::invalid(
                    "InvalidPrivateIPAddressFormat",
                    format!("Private IP address '{text}' of IP configuration {name} is not a valid IP address."),
                )
            })?),
            None => None,
        };
        if method == "Static" && address.is_none() {
            return Err(ArmError::invalid(
                "PrivateIPAddressRequired",
                format!("IP configuration {name} of {owner} uses Static allocation and must set properties.privateIPAddress."),
            ));
        }
        let primary = cp.bool("primary")?;
        Ok(IpConfigRequest { name: name.clone(), subnet_id, subnet, vnet, method, address, version, primary })
    }

    /// The subnet prefix of this configuration's IP version.
    pub fn prefix(&self) -> ArmResult<IpNet> {
        subnets::prefixes_of(&self.subnet)?
            .into_iter()
            .find(|p| matches!((p, self.version), (IpNet::V4(_), "IPv4") | (IpNet::V6(_), "IPv6")))
            .ok_or_else(|| {
                ArmError::invalid(
                    "SubnetDoesNotSupportIpVersion",
                    format!(
                        "Subnet {} has no {} prefix for IP configuration {}.",
                        self.subnet_id, self.version, self.name
                    ),
                )
            })
    }

    /// Give `owner` its address: the one it holds when it still fits, else a new one.
    pub fn allocate(&self, w: &mut Write<'_>, owner: &str) -> ArmResult<IpAddr> {
        allocate(w, &self.subnet_id, &self.subnet.key, &self.prefix()?, owner, self.method, self.address, &self.name)
    }
}

/// Give `owner` an address in `prefix` of the subnet: keep the one it has when it still fits
/// the request, otherwise release it and take a new one.
#[allow(clippy::too_many_arguments)]
pub(crate) fn allocate(
    w: &mut Write<'_>,
    subnet_id: &ResourceId,
    subnet_key: &str,
    prefix: &IpNet,
    owner: &str,
    method: &str,
    requested: Option<IpAddr>,
    config: &str,
) -> ArmResult<IpAddr> {
    let pool = pool_key(subnet_key, prefix);
    let held = w.tx.ip_owned(owner)?;
    let current = held.iter().find(|(p, _)| *p == pool).and_then(|(_, o)| offset_to_ip(prefix, *o));
    match (method, requested) {
        ("Static", Some(ip)) => {
            if current == Some(ip) {
                return Ok(ip);
            }
            let offset = ip_to_offset(prefix, ip).ok_or_else(|| {
                ArmError::invalid("PrivateIPAddressNotInSubnet", format!("IP configuration {config} is in subnet {subnet_id} which has address prefix {prefix}. The private IP address {ip} is not within that range."))
            })?;
            w.tx.ip_release_owner(owner)?;
            match w.tx.ip_claim(&pool, offset, owner)? {
                Claim::Claimed => Ok(ip),
                Claim::Taken { owner: holder } => Err(ArmError::invalid(
                    "PrivateIPAddressInUse",
                    format!("IP configuration {config} cannot use private IP address {ip} because the address is already in use by {holder}."),
                )),
                Claim::Unavailable => Err(ArmError::invalid(
                    "PrivateIPAddressInReservedRange",
                    format!("Private IP address {ip} of IP configuration {config} is in the reserved range of subnet {subnet_id}: Azure reserves the first four addresses and the last address of every subnet."),
                )),
            }
        }
        _ => {
            if let Some(ip) = current {
                return Ok(ip);
            }
            for (other_pool, _) in &held {
                if pool_prefix(other_pool).is_some() {
                    w.tx.ip_release_owner(owner)?;
                    break;
                }
            }
            let offset = w.tx.ip_allocate(&pool, owner)?.ok_or_else(|| {
                ArmError::invalid(
                    "SubnetIsFull",
                    format!(
                        "Subnet {} with address prefix {prefix} does not have enough capacity for 1 IP addresses.",
                        subnet_id.name()
                    ),
                )
            })?;
            offset_to_ip(prefix, offset).ok_or(ArmError::Internal)
        }
    }
}
