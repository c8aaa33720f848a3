//! Address arithmetic for virtual networks: CIDR validation, overlap, and the mapping between
//! a subnet prefix and its IPAM pool (offsets from the network address).

use std::net::IpAddr;

use ipnet::IpNet;

use crate::arm::{ArmError, ArmResult};

/// Azure reserves the first four addresses of every subnet (network, gateway, two for DNS).
pub const FIRST_USABLE_OFFSET: i64 = 4;

/// Parse an address prefix; it must be in canonical CIDR form (no host bits set).
pub fn parse_prefix(text: &str, owner: &str) -> ArmResult<IpNet> {
    let net: IpNet = text.trim().parse().map_err(|_| {
        ArmError::invalid("InvalidAddressPrefixFormat", format!("Address prefix {text} of resource {owner} is not formatted correctly. It should follow CIDR notation, for example 10.0.0.0/24."))
    })?;
    if net.addr() != net.network() {
        return Err(ArmError::invalid(
            "InvalidCIDRNotation",
            format!("The address prefix {text} in resource {owner} has an invalid CIDR notation. For the given prefix length, the address prefix should be {}/{}.", net.network(), net.prefix_len()),
        ));
    }
    Ok(net)
}

pub fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// The IPAM pool of one subnet prefix.
pub fn pool_key(subnet_key: &str, prefix: &IpNet) -> String {
    format!("{subnet_key}#{prefix}")
}

/// The prefix a pool key stands for.
pub fn pool_prefix(pool: &str) -> Option<IpNet> {
    pool.rsplit_once('#').and_then(|(_, p)| p.parse().ok())
}

/// Allocatable offsets `[first, last]`: after the four reserved addresses, before the
/// broadcast address (IPv4). IPv6 pools are capped at `i64::MAX` offsets.
pub fn pool_range(prefix: &IpNet) -> (i64, i64) {
    let host_bits = u32::from(prefix.max_prefix_len() - prefix.prefix_len());
    let last = match prefix {
        IpNet::V4(_) => (1i64 << host_bits) - 2,
        IpNet::V6(_) => {
            if host_bits >= 63 {
                i64::MAX
            } else {
                (1i64 << host_bits) - 1
            }
        }
    };
    (FIRST_USABLE_OFFSET, last)
}

pub fn offset_to_ip(prefix: &IpNet, offset: i64) -> Option<IpAddr> {
    let offset = u128::try_from(offset).ok()?;
    match prefix {
        IpNet::V4(n) => {
            let base = u32::from(n.network());
            u32::try_from(offset).ok().and_then(|o| base.checked_add(o)).map(|v| IpAddr::V4(v.into()))
        }
        IpNet::V6(n) => u128::from(n.network()).checked_add(offset).map(|v| IpAddr::V6(v.into())),
    }
}

pub fn ip_to_offset(prefix: &IpNet, ip: IpAddr) -> Option<i64> {
    if !prefix.contains(&ip) {
        return None;
    }
    let diff = match (prefix, ip) {
        (IpNet::V4(n), IpAddr::V4(a)) => u128::from(u32::from(a) - u32::from(n.network())),
        (IpNet::V6(n), IpAddr::V6(a)) => u128::from(a) - u128::from(n.network()),
        _ => return None,
    };
    i64::try_from(diff).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_must_be_canonical_cidr() {
        assert!(parse_prefix("10.0.0.0/16", "r").is_ok());
        assert!(parse_prefix("fd00:db8::/64", "r").is_ok());
        let err = parse_prefix("10.0.0.1/16", "r").unwrap_err();
        assert!(matches!(err, ArmError::InvalidProperty { code: "InvalidCIDRNotation", .. }), "{err:?}");
        assert!(err.to_string().contains("10.0.0.0/16"));
        assert!(matches!(
            parse_prefix("10.0.0.0", "r"),
            Err(ArmError::InvalidProperty { code: "InvalidAddressPrefixFormat", .. })
        ));
        assert!(parse_prefix("not-a-cidr", "r").is_err());
    }

    #[test]
    fn pools_skip_reserved_addresses_and_map_offsets_both_ways() {
        let p: IpNet = "10.1.0.0/24".parse().unwrap();
        assert_eq!(pool_range(&p), (4, 254));
        assert_eq!(offset_to_ip(&p, 4).unwrap().to_string(), "10.1.0.4");
        assert_eq!(ip_to_offset(&p, "10.1.0.200".parse().unwrap()), Some(200));
        assert_eq!(ip_to_offset(&p, "10.1.1.1".parse().unwrap()), None);
        let small: IpNet = "10.1.0.0/29".parse().unwrap();
        assert_eq!(pool_range(&small), (4, 6));
        let v6: IpNet = "fd00::/64".parse().unwrap();
        assert_eq!(pool_range(&v6), (4, i64::MAX));
        assert_eq!(offset_to_ip(&v6, 5).unwrap().to_string(), "fd00::5");
        assert!(overlaps(&"10.0.0.0/16".parse().unwrap(), &"10.0.5.0/24".parse().unwrap()));
        assert!(!overlaps(&"10.0.0.0/24".parse().unwrap(), &"10.0.1.0/24".parse().unwrap()));
        assert_eq!(pool_prefix("/k#10.1.0.0/24"), Some(p));
    }
}
