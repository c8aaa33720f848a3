//! `privlink serve` configuration: defaults, an optional TOML file, then command-line flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// How fast the reconciler moves resources to their terminal state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timing {
    /// Done before the first poll (the default).
    Immediate,
    /// Each operation completes this long after it was accepted (e.g. realistic minutes).
    Delay(Duration),
    /// Operations wait until stepped through `POST /privlink/reconciler/step`.
    Manual,
}

impl std::str::FromStr for Timing {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "immediate" => Ok(Timing::Immediate),
            "manual" => Ok(Timing::Manual),
            other => match other.strip_prefix("delay=") {
                Some(d) => parse_duration(d).map(Timing::Delay),
                None => Err(format!(
                    "invalid provisioning timing '{other}': use immediate, manual or delay=<duration> (e.g. delay=90s)"
                )),
            },
        }
    }
}

impl std::fmt::Display for Timing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Timing::Immediate => write!(f, "immediate"),
            Timing::Manual => write!(f, "manual"),
            Timing::Delay(d) => write!(f, "delay={}ms", d.as_millis()),
        }
    }
}

/// `250ms`, `10s`, `3m`, `1h`, or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (number, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(s.len()));
    let value: f64 = number.parse().map_err(|_| format!("invalid duration '{s}'"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("invalid duration unit in '{s}': use ms, s, m or h")),
    };
    if !seconds.is_finite() || !(0.0..=86_400.0 * 7.0).contains(&seconds) {
        return Err(format!("duration '{s}' is out of range"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// Service limits a platform team may want to lower to test their handling.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Limits {
    pub subnets_per_vnet: u64,
    pub peerings_per_vnet: u64,
    pub address_prefixes_per_vnet: u64,
    pub rules_per_nsg: u64,
    pub private_endpoints_per_vnet: u64,
    pub private_endpoints_per_subscription: u64,
    pub private_link_services_per_subscription: u64,
    /// A private DNS zone's `maxNumberOfRecordSets`, `maxNumberOfVirtualNetworkLinks` and
    /// `maxNumberOfVirtualNetworkLinksWithRegistration`, fixed when the zone is created.
    pub record_sets_per_private_dns_zone: u64,
    pub virtual_network_links_per_private_dns_zone: u64,
    pub registration_links_per_private_dns_zone: u64,
    pub page_size: usize,
    /// File descriptors the data planes may hold for resolvers, proxies and listeners (default:
    /// the process's `ulimit -n` less 1,024 kept for the API).
    pub data_plane_descriptors: Option<usize>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            subnets_per_vnet: 3000,
            peerings_per_vnet: 500,
            address_prefixes_per_vnet: 200,
            rules_per_nsg: 1000,
            private_endpoints_per_vnet: 1000,
            private_endpoints_per_subscription: 64_000,
            private_link_services_per_subscription: 800,
            record_sets_per_private_dns_zone: 5000,
            virtual_network_links_per_private_dns_zone: 100,
            registration_links_per_private_dns_zone: 50,
            page_size: 100,
            data_plane_descriptors: None,
        }
    }
}

/// Settings the running server consults.
#[derive(Debug, Clone)]
pub struct Settings {
    pub timing: Timing,
    pub limits: Limits,
    /// See `FileConfig::legacy_private_endpoint_network_policies`.
    pub legacy_network_policies: bool,
}

/// The config file (`privlink.toml` in the data directory, or `--config`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct FileConfig {
    pub listen: Option<SocketAddr>,
    pub store: Option<String>,
    pub insecure_http: Option<bool>,
    /// `strict` (the default) or `permissive`.
    pub auth: Option<String>,
    pub provisioning: Option<String>,
    pub limits: Option<Limits>,
    /// Azure's pre-2022 rule: no private endpoint in a subnet whose
    /// `privateEndpointNetworkPolicies` are enabled, and no enabling them while endpoints exist.
    pub legacy_private_endpoint_network_policies: Option<bool>,
    pub dns: Option<DnsFileConfig>,
    pub gateway: Option<GatewayFileConfig>,
}

/// `[gateway]`: the per-VNet proxies and the private endpoints' and targets' listeners (see
/// `dataplane::gateway`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct GatewayFileConfig {
    pub enabled: Option<bool>,
    /// Each VNet's proxy port, on the VNet's address (default 3128).
    pub proxy_port: Option<u16>,
    /// The proxy standing for the internet (default 127.77.255.254:3128).
    pub internet_proxy: Option<SocketAddr>,
    /// The first private endpoint's listener address (default 127.78.0.1).
    pub endpoint_listen: Option<std::net::Ipv4Addr>,
    /// Where 198.18.0.0, the first public address, gets its listeners (default 127.79.0.0).
    pub public_listen: Option<std::net::Ipv4Addr>,
    /// `false` reproduces Azure's documented limitation: a peering's `allowVirtualNetworkAccess`
    /// false does not stop traffic to private endpoints (default true: it does).
    pub peering_flag_blocks_endpoints: Option<bool>,
}

/// `[dns]`: the per-VNet resolvers (see `dataplane::dns`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct DnsFileConfig {
    pub enabled: Option<bool>,
    /// The first VNet's resolver address (default 127.77.0.1:1053).
    pub listen: Option<SocketAddr>,
    /// `address` (next loopback address per VNet) or `port` (next port per VNet).
    pub per_vnet: Option<crate::dataplane::dns::PerVnet>,
    /// Where names privlink does not answer for are forwarded.
    pub upstream: Option<SocketAddr>,
}

impl FileConfig {
    pub fn load(path: &Path) -> anyhow::Result<FileConfig> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("reading config file {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("config file {}: {e}", path.display()))
    }
}

/// Everything `privlink serve` needs, resolved.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// A SQLite path or a `postgres://` URL.
    pub store: String,
    pub insecure_http: bool,
    /// How management requests are authenticated (strict unless asked otherwise).
    pub auth: crate::identity::AuthMode,
    pub settings: Settings,
    pub dns: crate::dataplane::dns::DnsSettings,
    pub gateway: crate::dataplane::gateway::GatewaySettings,
}

pub const DEFAULT_PORT: u16 = 8443;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timing_and_durations_parse() {
        assert_eq!("immediate".parse::<Timing>().unwrap(), Timing::Immediate);
        assert_eq!("manual".parse::<Timing>().unwrap(), Timing::Manual);
        assert_eq!("delay=90s".parse::<Timing>().unwrap(), Timing::Delay(Duration::from_secs(90)));
        assert_eq!("delay=250ms".parse::<Timing>().unwrap(), Timing::Delay(Duration::from_millis(250)));
        assert_eq!("delay=2m".parse::<Timing>().unwrap(), Timing::Delay(Duration::from_secs(120)));
        assert!("delay=abc".parse::<Timing>().is_err());
        assert!("soon".parse::<Timing>().is_err());
    }

    #[test]
    fn config_file_rejects_unknown_keys() {
        assert!(toml::from_str::<FileConfig>("listen = \"127.0.0.1:9000\"\nprovisioning = \"manual\"").is_ok());
        assert!(toml::from_str::<FileConfig>("lisen = 1").is_err());
    }
}
