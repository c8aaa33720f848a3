//! Network security group evaluation for traffic to a private endpoint (inbound to its subnet),
//! as Azure evaluates it: rules by ascending priority, the first that matches decides; after the
//! custom rules come the default ones (allow from VirtualNetwork, allow from AzureLoadBalancer,
//! deny everything else). Pure: the caller gives the rules and what `VirtualNetwork` means here.
//!
//! One of seed 001's documented limitations for endpoint traffic is reproduced: a rule with
//! several destination port ranges does not work as written. An allow rule honours only its
//! first range; a deny rule denies every port.

use std::net::IpAddr;

use ipnet::IpNet;
use serde_json::{Map, Value};

/// One inbound rule, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub name: String,
    pub priority: i64,
    pub allow: bool,
    pub inbound: bool,
    /// `Tcp` or `*` match TCP.
    pub tcp: bool,
    pub sources: Vec<String>,
    pub destinations: Vec<String>,
    pub destination_ports: Vec<String>,
}

impl Rule {
    /// A rule from a stored `securityRules` row's properties (`None` when malformed: stored rules
    /// were validated, so this only guards against hand-edited stores).
    pub fn from_properties(name: &str, props: &Map<String, Value>) -> Option<Rule> {
        let text = |k: &str| props.get(k).and_then(Value::as_str);
        let list = |single: &str, many: &str| -> Vec<String> {
            match text(single) {
                Some(v) => vec![v.to_string()],
                None => props
                    .get(many)
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect(),
            }
        };
        Some(Rule {
            name: name.to_string(),
            priority: props.get("priority")?.as_i64()?,
            allow: text("access")? == "Allow",
            inbound: text("direction")? == "Inbound",
            tcp: matches!(text("protocol")?, "Tcp" | "*"),
            sources: list("sourceAddressPrefix", "sourceAddressPrefixes"),
            destinations: list("destinationAddressPrefix", "destinationAddressPrefixes"),
            destination_ports: list("destinationPortRange", "destinationPortRanges"),
        })
    }
}

/// Azure's default inbound rules, after every custom one.
fn default_rules() -> Vec<Rule> {
    let rule = |name: &str, priority, allow, source: &str, destination: &str| Rule {
        name: name.into(),
        priority,
        allow,
        inbound: true,
        tcp: true,
        sources: vec![source.into()],
        destinations: vec![destination.into()],
        destination_ports: vec!["*".into()],
    };
    vec![
        rule("AllowVnetInBound", 65000, true, "VirtualNetwork", "VirtualNetwork"),
        rule("AllowAzureLoadBalancerInBound", 65001, true, "AzureLoadBalancer", "*"),
        rule("DenyAllInBound", 65500, false, "*", "*"),
    ]
}

/// What `VirtualNetwork` and `Internet` mean for one evaluation.
pub struct Tags<'a> {
    /// The address spaces of the endpoint's VNet and of the VNets peered with it.
    pub virtual_network: &'a [IpNet],
}

/// Azure's platform address, which `AzureLoadBalancer` stands for.
const AZURE_PLATFORM: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(168, 63, 129, 16));

fn prefix_matches(prefix: &str, address: IpAddr, tags: &Tags<'_>) -> bool {
    let in_vnet = || tags.virtual_network.iter().any(|p| p.contains(&address));
    match prefix {
        "*" | "Any" => true,
        p if p.eq_ignore_ascii_case("VirtualNetwork") => in_vnet(),
        p if p.eq_ignore_ascii_case("Internet") => !in_vnet() && address != AZURE_PLATFORM,
        p if p.eq_ignore_ascii_case("AzureLoadBalancer") => address == AZURE_PLATFORM,
        p => match (p.parse::<IpNet>(), p.parse::<IpAddr>()) {
            (Ok(net), _) => net.contains(&address),
            (_, Ok(ip)) => ip == address,
            // Other service tags (Storage, Sql, …) stand for Azure services, never for a client
            // in a virtual network.
            _ => false,
        },
    }
}

fn port_matches(range: &str, port: u16) -> bool {
    crate::providers::network::security_rules::parse_port_range(range).is_some_and(|(a, b)| (a..=b).contains(&port))
}

/// The rule that decides a TCP connection from `source` to `destination:port`, and whether it
/// allows it.
pub fn evaluate_inbound(
    custom: &[Rule],
    source: IpAddr,
    destination: IpAddr,
    port: u16,
    tags: &Tags<'_>,
) -> (bool, String) {
    let mut rules: Vec<&Rule> = custom.iter().filter(|r| r.inbound).collect();
    rules.sort_by_key(|r| r.priority);
    let defaults = default_rules();
    for rule in rules.into_iter().chain(defaults.iter()) {
        let ports = match (rule.destination_ports.len() > 1, rule.allow) {
            // Azure's endpoint data plane: several ranges on a deny rule deny every port, on an
            // allow rule only the first range counts.
            (true, false) => true,
            (true, true) => rule.destination_ports.first().is_some_and(|r| port_matches(r, port)),
            (false, _) => rule.destination_ports.iter().any(|r| port_matches(r, port)),
        };
        let matches = rule.tcp
            && rule.sources.iter().any(|p| prefix_matches(p, source, tags))
            && rule.destinations.iter().any(|p| prefix_matches(p, destination, tags))
            && ports;
        if matches {
            return (rule.allow, format!("{} (priority {})", rule.name, rule.priority));
        }
    }
    (false, "DenyAllInBound (priority 65500)".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(value: Value) -> Rule {
        Rule::from_properties("r", value.as_object().unwrap()).unwrap()
    }

    #[test]
    fn rules_decide_by_priority_then_the_defaults() {
        let space: Vec<IpNet> = vec!["10.1.0.0/16".parse().unwrap(), "10.3.0.0/16".parse().unwrap()];
        let tags = Tags { virtual_network: &space };
        let client: IpAddr = "10.1.0.254".parse().unwrap();
        let pe: IpAddr = "10.1.1.4".parse().unwrap();
        // Nothing custom: the default AllowVnetInBound lets VNet traffic in.
        assert!(evaluate_inbound(&[], client, pe, 443, &tags).0);
        // A client outside every VNet space is denied by DenyAllInBound.
        assert!(!evaluate_inbound(&[], "192.0.2.1".parse().unwrap(), pe, 443, &tags).0);
        let deny_443 = rule(json!({ "priority": 100, "access": "Deny", "direction": "Inbound", "protocol": "Tcp",
            "sourceAddressPrefix": "VirtualNetwork", "destinationAddressPrefix": "*", "destinationPortRange": "443" }));
        let (allowed, by) = evaluate_inbound(std::slice::from_ref(&deny_443), client, pe, 443, &tags);
        assert!(!allowed && by.contains("priority 100"), "{by}");
        assert!(evaluate_inbound(std::slice::from_ref(&deny_443), client, pe, 80, &tags).0);
        // A lower number wins.
        let allow_first = rule(json!({ "priority": 90, "access": "Allow", "direction": "Inbound", "protocol": "*",
            "sourceAddressPrefixes": ["10.1.0.0/24"], "destinationAddressPrefix": "10.1.1.4", "destinationPortRanges": ["400-500"] }));
        assert!(evaluate_inbound(&[deny_443.clone(), allow_first], client, pe, 443, &tags).0);
        // Seed 001's limitation: several destination ranges on a deny rule deny every port...
        let deny_two = rule(json!({ "priority": 100, "access": "Deny", "direction": "Inbound", "protocol": "Tcp",
            "sourceAddressPrefix": "*", "destinationAddressPrefix": "*", "destinationPortRanges": ["120-130", "140-150"] }));
        assert!(!evaluate_inbound(std::slice::from_ref(&deny_two), client, pe, 443, &tags).0);
        // ...and on an allow rule only the first range is honoured.
        let allow_two = rule(json!({ "priority": 100, "access": "Allow", "direction": "Inbound", "protocol": "Tcp",
            "sourceAddressPrefix": "192.0.2.0/24", "destinationAddressPrefix": "*", "destinationPortRanges": ["14-15", "443"] }));
        let outside: IpAddr = "192.0.2.9".parse().unwrap();
        assert!(evaluate_inbound(std::slice::from_ref(&allow_two), outside, pe, 14, &tags).0);
        assert!(!evaluate_inbound(std::slice::from_ref(&allow_two), outside, pe, 443, &tags).0);
        // Outbound and UDP rules do not touch inbound TCP.
        let udp = rule(json!({ "priority": 80, "access": "Deny", "direction": "Inbound", "protocol": "Udp",
            "sourceAddressPrefix": "*", "destinationAddressPrefix": "*", "destinationPortRange": "*" }));
        let outbound = rule(json!({ "priority": 81, "access": "Deny", "direction": "Outbound", "protocol": "*",
            "sourceAddressPrefix": "*", "destinationAddressPrefix": "*", "destinationPortRange": "*" }));
        assert!(evaluate_inbound(&[udp, outbound], client, pe, 443, &tags).0);
        // Internet is everything outside the VNet spaces.
        let deny_internet = rule(json!({ "priority": 100, "access": "Deny", "direction": "Inbound", "protocol": "*",
            "sourceAddressPrefix": "Internet", "destinationAddressPrefix": "*", "destinationPortRange": "*" }));
        assert!(evaluate_inbound(std::slice::from_ref(&deny_internet), client, pe, 443, &tags).0);
    }
}
