//! Microsoft.Network/networkSecurityGroups/securityRules: validated and stored now; the data
//! plane evaluates them (priority, direction, ports, prefixes, service tags).

use std::net::IpAddr;

use ipnet::IpNet;
use privlink_store::ResourceRow;
use serde_json::{json, Map, Value};

use super::children;
use crate::arm::api_version::NETWORK;
use crate::arm::json::Obj;
use crate::arm::{ArmError, ArmResult, ResourceId};
use crate::providers::{properties, PutInput, ResourceType, Write};

pub const TYPE: &str = "Microsoft.Network/networkSecurityGroups/securityRules";
pub const TYPE_KEY: &str = "microsoft.network/networksecuritygroups/securityrules";

/// Service tags accepted in address prefixes (a region suffix such as `Storage.WestEurope` is
/// accepted for the regional ones).
const SERVICE_TAGS: &[&str] = &[
    "VirtualNetwork",
    "Internet",
    "AzureLoadBalancer",
    "AzureCloud",
    "Storage",
    "Sql",
    "AzureKeyVault",
    "EventHub",
    "ServiceBus",
    "AzureDataExplorerManagement",
    "AzureMonitor",
    "AzureActiveDirectory",
    "AzureResourceManager",
    "AzureFrontDoor.Frontend",
    "GatewayManager",
    "AzureTrafficManager",
    "AzureCosmosDB",
    "AzureContainerRegistry",
    "AppService",
    "DataFactory",
    "ApiManagement",
];

pub struct SecurityRules;

impl ResourceType for SecurityRules {
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
        let nsg_key = input.id.parent().ok_or(ArmError::Internal)?.key();
        let siblings: Vec<ResourceRow> =
            children(w.tx, &nsg_key, TYPE_KEY)?.into_iter().filter(|r| r.key != input.id.key()).collect();
        if input.existing.is_none() && siblings.len() as u64 >= w.settings.limits.rules_per_nsg {
            return Err(ArmError::invalid(
                "SecurityRulesPerNetworkSecurityGroupLimitReached",
                format!("A network security group may have at most {} rules.", w.settings.limits.rules_per_nsg),
            ));
        }
        let rule = validate(input.id.name(), input.properties())?;
        let others: Vec<(String, Map<String, Value>)> = siblings
            .iter()
            .map(|r| (r.id.rsplit('/').next().unwrap_or_default().to_string(), properties(r).clone()))
            .collect();
        check_priorities(&[(input.id.name().to_string(), rule.clone())], &others)?;
        Ok(rule)
    }
}

/// Rules may not share a priority within one direction.
pub fn check_priorities(
    new: &[(String, Map<String, Value>)],
    others: &[(String, Map<String, Value>)],
) -> ArmResult<()> {
    let all: Vec<&(String, Map<String, Value>)> = new.iter().chain(others.iter()).collect();
    for (i, (name, rule)) in all.iter().enumerate() {
        for (other_name, other) in all.iter().skip(i + 1) {
            if rule.get("priority") == other.get("priority") && rule.get("direction") == other.get("direction") {
                return Err(ArmError::invalid(
                    "SecurityRuleConflict",
                    format!("Security rule {name} conflicts with rule {other_name}. Rules cannot have the same Priority and Direction."),
                ));
            }
        }
    }
    Ok(())
}

/// A port range as rules write it (`*`, `443`, `1000-2000`), as its first and last port; `None`
/// when malformed. The one parser for validation and for the gateway's evaluation.
pub(crate) fn parse_port_range(value: &str) -> Option<(u16, u16)> {
    match value.trim() {
        "*" => Some((0, u16::MAX)),
        value => match value.split_once('-') {
            Some((a, b)) => match (a.trim().parse::<u16>(), b.trim().parse::<u16>()) {
                (Ok(a), Ok(b)) if a <= b => Some((a, b)),
                _ => None,
            },
            None => value.parse::<u16>().ok().map(|port| (port, port)),
        },
    }
}

fn port_range(rule: &str, value: &str) -> ArmResult<()> {
    if parse_port_range(value).is_some() {
        Ok(())
    } else {
        Err(ArmError::invalid("SecurityRuleInvalidPortRange", format!("Security rule {rule} has invalid port range '{value}'. Use '*', a port from 0 to 65535, or a range such as 1000-2000.")))
    }
}

fn address_prefix(rule: &str, value: &str) -> ArmResult<()> {
    let tag_ok = SERVICE_TAGS.iter().any(|t| {
        value.eq_ignore_ascii_case(t)
            || value.split_once('.').is_some_and(|(base, _)| {
                base.eq_ignore_ascii_case(t) && !["VirtualNetwork", "Internet", "AzureLoadBalancer"].contains(t)
            })
    });
    if value == "*" || tag_ok || value.parse::<IpAddr>().is_ok() || value.parse::<IpNet>().is_ok() {
        Ok(())
    } else {
        Err(ArmError::invalid("SecurityRuleInvalidAddressPrefix", format!("Security rule {rule} has invalid address prefix '{value}'. Use '*', an IP address, a CIDR prefix or a service tag such as VirtualNetwork or Internet.")))
    }
}

/// One of a single value or a list: `sourcePortRange` / `sourcePortRanges`, …
fn single_or_list(
    rule: &str,
    body: Obj<'_>,
    single: &str,
    list: &str,
    check: fn(&str, &str) -> ArmResult<()>,
    props: &mut Map<String, Value>,
) -> ArmResult<()> {
    let one = body.str(single)?;
    let many = body.strings(list)?.unwrap_or_default();
    match (one, many.is_empty()) {
        (Some(_), false) => {
            return Err(ArmError::invalid(
                "SecurityRuleParameterContainsBothSingleAndListValues",
                format!("Security rule {rule} sets both {single} and {list}; use one."),
            ))
        }
        (Some(v), true) => {
            check(rule, v)?;
            props.insert(single.into(), json!(v));
        }
        (None, false) => {
            for v in &many {
                check(rule, v)?;
            }
            props.insert(list.into(), json!(many));
        }
        (None, true) => {
            return Err(ArmError::invalid(
                "SecurityRuleMissingParameter",
                format!("Security rule {rule} needs {single} or {list}."),
            ))
        }
    }
    Ok(())
}

/// Validate one rule's properties; returns them in canonical form.
pub fn validate(name: &str, body: Obj<'_>) -> ArmResult<Map<String, Value>> {
    let mut props = Map::new();
    let need = |v: Option<&'static str>, field: &str| {
        v.ok_or_else(|| {
            ArmError::invalid("SecurityRuleMissingParameter", format!("Security rule {name} needs properties.{field}."))
        })
    };
    props.insert(
        "protocol".into(),
        json!(need(body.one_of("protocol", &["Tcp", "Udp", "Icmp", "Esp", "Ah", "*"])?, "protocol")?),
    );
    props.insert("access".into(), json!(need(body.one_of("access", &["Allow", "Deny"])?, "access")?));
    props.insert("direction".into(), json!(need(body.one_of("direction", &["Inbound", "Outbound"])?, "direction")?));
    let priority = body.i64("priority")?.ok_or_else(|| {
        ArmError::invalid("SecurityRuleMissingParameter", format!("Security rule {name} needs properties.priority."))
    })?;
    if !(100..=4096).contains(&priority) {
        return Err(ArmError::invalid("SecurityRuleInvalidPriority", format!("Security rule {name} has invalid priority {priority}. Value provided: {priority} Allowed range 100-4096.")));
    }
    props.insert("priority".into(), json!(priority));
    if let Some(description) = body.str("description")? {
        if description.chars().count() > 140 {
            return Err(ArmError::invalid(
                "SecurityRuleDescriptionTooLong",
                format!("Security rule {name} has a description longer than 140 characters."),
            ));
        }
        props.insert("description".into(), json!(description));
    }
    single_or_list(name, body, "sourcePortRange", "sourcePortRanges", port_range, &mut props)?;
    single_or_list(name, body, "destinationPortRange", "destinationPortRanges", port_range, &mut props)?;
    single_or_list(name, body, "sourceAddressPrefix", "sourceAddressPrefixes", address_prefix, &mut props)?;
    single_or_list(name, body, "destinationAddressPrefix", "destinationAddressPrefixes", address_prefix, &mut props)?;
    for list in ["sourcePortRanges", "destinationPortRanges", "sourceAddressPrefixes", "destinationAddressPrefixes"] {
        props.entry(list).or_insert_with(|| json!([]));
    }
    Ok(props)
}

/// Azure's six default rules, present on every NSG.
pub fn default_rules(nsg: &ResourceId) -> Value {
    let rule = |name: &str,
                priority: i64,
                direction: &str,
                access: &str,
                source: &str,
                destination: &str,
                description: &str| {
        json!({
            "id": format!("{nsg}/defaultSecurityRules/{name}"),
            "name": name,
            "type": "Microsoft.Network/networkSecurityGroups/defaultSecurityRules",
            "properties": {
                "description": description, "protocol": "*", "sourcePortRange": "*", "destinationPortRange": "*",
                "sourceAddressPrefix": source, "destinationAddressPrefix": destination, "access": access,
                "priority": priority, "direction": direction, "provisioningState": "Succeeded",
                "sourcePortRanges": [], "destinationPortRanges": [], "sourceAddressPrefixes": [], "destinationAddressPrefixes": [],
            }
        })
    };
    json!([
        rule(
            "AllowVnetInBound",
            65000,
            "Inbound",
            "Allow",
            "VirtualNetwork",
            "VirtualNetwork",
            "Allow inbound traffic from all VMs in VNET"
        ),
        rule(
            "AllowAzureLoadBalancerInBound",
            65001,
            "Inbound",
            "Allow",
            "AzureLoadBalancer",
            "*",
            "Allow inbound traffic from azure load balancer"
        ),
        rule("DenyAllInBound", 65500, "Inbound", "Deny", "*", "*", "Deny all inbound traffic"),
        rule(
            "AllowVnetOutBound",
            65000,
            "Outbound",
            "Allow",
            "VirtualNetwork",
            "VirtualNetwork",
            "Allow outbound traffic from all VMs to all VMs in VNET"
        ),
        rule(
            "AllowInternetOutBound",
            65001,
            "Outbound",
            "Allow",
            "*",
            "Internet",
            "Allow outbound traffic from all VMs to Internet"
        ),
        rule("DenyAllOutBound", 65500, "Outbound", "Deny", "*", "*", "Deny all outbound traffic"),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(v: Value) -> ArmResult<Map<String, Value>> {
        let map = v.as_object().cloned().unwrap();
        validate("r1", Obj::new(&map, "properties"))
    }

    #[test]
    fn rules_validate_ports_prefixes_tags_and_priority() {
        let ok = rule(json!({"protocol": "tcp", "access": "Deny", "direction": "Inbound", "priority": 100,
            "sourcePortRange": "*", "destinationPortRanges": ["443", "1000-2000"], "sourceAddressPrefix": "VirtualNetwork",
            "destinationAddressPrefix": "10.0.0.0/24"})).unwrap();
        assert_eq!(ok["protocol"], "Tcp");
        assert!(rule(json!({"protocol": "Tcp", "access": "Deny", "direction": "Inbound", "priority": 99,
            "sourcePortRange": "*", "destinationPortRange": "*", "sourceAddressPrefix": "*", "destinationAddressPrefix": "*"})).is_err());
        assert!(rule(json!({"protocol": "Tcp", "access": "Deny", "direction": "Inbound", "priority": 100,
            "sourcePortRange": "70000", "destinationPortRange": "*", "sourceAddressPrefix": "*", "destinationAddressPrefix": "*"})).is_err());
        assert!(rule(json!({"protocol": "Tcp", "access": "Deny", "direction": "Inbound", "priority": 100,
            "sourcePortRange": "*", "destinationPortRange": "*", "sourceAddressPrefix": "NotATag", "destinationAddressPrefix": "*"})).is_err());
        assert!(rule(json!({"protocol": "Gre", "access": "Deny", "direction": "Inbound", "priority": 100,
            "sourcePortRange": "*", "destinationPortRange": "*", "sourceAddressPrefix": "*", "destinationAddressPrefix": "*"})).is_err());
        let dup = vec![("a".to_string(), ok.clone()), ("b".to_string(), ok.clone())];
        assert!(check_priorities(&dup, &[]).is_err());
    }
}
