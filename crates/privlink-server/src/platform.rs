//! Addresses the platform hands out beyond subnets' IPAM: every private-link target's public
//! address (what its public name resolves to outside private DNS), every virtual network's slot
//! (which loopback address its resolver and its proxy get) and every private endpoint's gateway
//! slot (which loopback address stands for its private IP).
//!
//! Both come from store IP pools, so they are unique, survive restarts and are released with
//! the resource (`Write::remove_tree` releases whatever a row owns). They are kept in the row's
//! `internal` document, never rendered: Azure shows neither.

use std::net::Ipv4Addr;

use privlink_store::{ListQuery, Scope, Tx};
use serde_json::{json, Value};

use crate::arm::{ArmError, ArmResult};
use crate::providers::Registry;

/// Public addresses come from 198.18.0.0/15, RFC 2544's benchmarking range: never routed on
/// the internet, so nothing privlink answers can send a client to a stranger's host.
const PUBLIC_BASE: u32 = u32::from_be_bytes([198, 18, 0, 0]);
const PUBLIC_SIZE: i64 = 1 << 17;
const PUBLIC_POOL: &str = "privlink/public-addresses";

/// One slot per VNet (its resolver and its proxy listen at the address the slot gives, see
/// `dataplane::slots`), and one per private endpoint (its gateway listeners).
const RESOLVER_POOL: &str = "privlink/dns-resolvers";
const ENDPOINT_POOL: &str = "privlink/gateway-endpoints";
pub const SLOTS: i64 = 65_534;

/// Each pool with its free range; offsets of the public pool skip the range's first and last
/// address.
const POOLS: &[(&str, i64, i64)] =
    &[(PUBLIC_POOL, 1, PUBLIC_SIZE - 2), (RESOLVER_POOL, 0, SLOTS - 1), (ENDPOINT_POOL, 0, SLOTS - 1)];

/// Create each pool once (re-creating would reset its allocations).
pub fn ensure_pools(tx: &mut dyn Tx) -> ArmResult<()> {
    for (pool, first, last) in POOLS {
        let marker = format!("pools/created/{pool}");
        if tx.meta_get(&marker)?.is_none() {
            tx.ip_pool_create(pool, *first, *last)?;
            tx.meta_put(&marker, "1")?;
        }
    }
    Ok(())
}

fn exhausted(what: &str) -> ArmError {
    ArmError::Conflict { code: "PlatformAddressesExhausted", message: format!("privlink has no {what} left.") }
}

/// A new public address for the target `owner_key`.
pub fn allocate_public_address(tx: &mut dyn Tx, owner_key: &str) -> ArmResult<Ipv4Addr> {
    let offset = tx.ip_allocate(PUBLIC_POOL, owner_key)?.ok_or_else(|| exhausted("public addresses"))?;
    Ok(Ipv4Addr::from(PUBLIC_BASE + offset as u32))
}

/// A new resolver slot for the virtual network `owner_key`.
pub fn allocate_resolver_slot(tx: &mut dyn Tx, owner_key: &str) -> ArmResult<u32> {
    let offset = tx.ip_allocate(RESOLVER_POOL, owner_key)?.ok_or_else(|| exhausted("resolver slots"))?;
    Ok(offset as u32)
}

/// A new gateway slot for the private endpoint `owner_key`.
pub fn allocate_endpoint_slot(tx: &mut dyn Tx, owner_key: &str) -> ArmResult<u32> {
    let offset =
        tx.ip_allocate(ENDPOINT_POOL, owner_key)?.ok_or_else(|| exhausted("private endpoint gateway slots"))?;
    Ok(offset as u32)
}

/// The gateway slot kept in a private endpoint row's `internal`.
pub fn endpoint_slot(row: &privlink_store::ResourceRow) -> Option<u32> {
    row.body.get("internal")?.get("gatewaySlot")?.as_u64().and_then(|v| u32::try_from(v).ok())
}

/// The offset of a public address in its range (a target's public listener address is derived
/// from it).
pub fn public_offset(address: Ipv4Addr) -> Option<u32> {
    u32::from(address).checked_sub(PUBLIC_BASE).filter(|o| i64::from(*o) < PUBLIC_SIZE)
}

/// The public address kept in a target row's `internal`.
pub fn public_address(row: &privlink_store::ResourceRow) -> Option<Ipv4Addr> {
    row.body.get("internal")?.get("publicAddress")?.as_str()?.parse().ok()
}

/// The resolver slot kept in a VNet row's `internal`.
pub fn resolver_slot(row: &privlink_store::ResourceRow) -> Option<u32> {
    row.body.get("internal")?.get("resolverSlot")?.as_u64().and_then(|v| u32::try_from(v).ok())
}

/// Give every target, VNet and private endpoint written before these addresses existed its
/// own, once per store.
pub fn backfill(tx: &mut dyn Tx, registry: &Registry) -> ArmResult<()> {
    const DONE: &str = "pools/platform-backfill-v2";
    if tx.meta_get(DONE)?.is_some() {
        return Ok(());
    }
    let vnets = crate::providers::network::virtual_networks::TYPE_KEY.to_string();
    let endpoints = crate::providers::network::private_endpoints::TYPE_KEY.to_string();
    let mut types: Vec<String> = crate::catalogue::KINDS.iter().map(|k| k.type_name.to_ascii_lowercase()).collect();
    types.push(vnets.clone());
    types.push(endpoints.clone());
    for type_key in types.iter().filter(|t| registry.get(t).is_some()) {
        let query = ListQuery { scope: Scope::All, type_key: Some(type_key), after: None, limit: usize::MAX >> 1 };
        for mut row in tx.list(&query)? {
            let (key, value) = if *type_key == vnets {
                if resolver_slot(&row).is_some() {
                    continue;
                }
                ("resolverSlot", json!(allocate_resolver_slot(tx, &row.key)?))
            } else if *type_key == endpoints {
                if endpoint_slot(&row).is_some() {
                    continue;
                }
                ("gatewaySlot", json!(allocate_endpoint_slot(tx, &row.key)?))
            } else {
                if public_address(&row).is_some() {
                    continue;
                }
                ("publicAddress", json!(allocate_public_address(tx, &row.key)?.to_string()))
            };
            set_internal(&mut row.body, key, value);
            tx.put(&row)?;
        }
    }
    tx.meta_put(DONE, "1")?;
    Ok(())
}

/// Set one key of a body's `internal` document, keeping the others.
pub fn set_internal(body: &mut Value, key: &str, value: Value) {
    if let Value::Object(map) = body {
        let internal = map.entry("internal").or_insert_with(|| json!({}));
        if !internal.is_object() {
            *internal = json!({});
        }
        if let Value::Object(i) = internal {
            i.insert(key.to_string(), value);
        }
    }
}
