//! Backends: the real local service a target's traffic goes to (Azurite for a storage account's
//! blob, a PostgreSQL server, privlink's own Data Explorer endpoint, …). A privlink convention on
//! the target's tags, so Azure's property names stay Azure's and IaC tools can set it too:
//!
//! - `privlink:backend:{groupId}` = `host:port` binds one sub-resource
//!   (`privlink:backend:blob` = `127.0.0.1:10000`);
//! - `privlink:backend` = `host:port` binds every sub-resource without a binding of its own
//!   (and is how a private link service names its backend).
//!
//! Backends live on loopback (127.0.0.0/8, ::1, or `localhost`): privlink never sends traffic
//! anywhere else.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use privlink_store::ResourceRow;
use serde_json::{Map, Value};

use crate::arm::{ArmError, ArmResult};
use crate::catalogue::TargetKind;

pub const TAG: &str = "privlink:backend";

/// A backend address as written in a tag: loopback only, a real port.
pub fn parse_address(text: &str) -> Option<SocketAddr> {
    let text = text.trim();
    let addr: SocketAddr = match text.strip_prefix("localhost:") {
        Some(port) => SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port.parse().ok()?),
        None => text.parse().ok()?,
    };
    (addr.ip().is_loopback() && addr.port() != 0).then_some(addr)
}

/// The group a backend tag key binds: `Some("")` for every group, `Some(group)`, or `None` when
/// the key is not a backend tag.
fn group_of(key: &str) -> Option<&str> {
    let rest = key.get(..TAG.len()).filter(|p| p.eq_ignore_ascii_case(TAG)).map(|_| &key[TAG.len()..])?;
    match rest {
        "" => Some(""),
        _ => rest.strip_prefix(':'),
    }
}

/// Refuse backend tags on a type that has no traffic to send to a backend (anything but a
/// private-link target or a private link service): stored, they would bind nothing.
pub fn refuse_on(type_name: &str, tags: &Map<String, Value>) -> ArmResult<()> {
    match tags.keys().find(|key| group_of(key).is_some()) {
        Some(key) => Err(ArmError::invalid(
            "InvalidPrivlinkBackend",
            format!(
                "Tag '{key}' binds a backend, but a {type_name} has no traffic to send to one: backends go on private-link targets (a storage account, a Data Explorer cluster, …) and private link services."
            ),
        )),
        None => Ok(()),
    }
}

/// Refuse backend tags that name no group of `kind` (any group for `None`: a private link
/// service has none) or no loopback address.
pub fn check(kind: Option<&TargetKind>, tags: &Map<String, Value>) -> ArmResult<()> {
    for (key, value) in tags {
        let Some(group) = group_of(key) else { continue };
        if !group.is_empty() {
            match kind {
                Some(kind) if kind.group(group).is_some() => {}
                Some(kind) => {
                    return Err(ArmError::invalid(
                        "InvalidPrivlinkBackend",
                        format!(
                        "Tag '{key}' binds sub-resource '{group}', which {} does not have; its sub-resources are: {}.",
                        kind.type_name,
                        kind.group_ids().join(", ")
                    ),
                    ))
                }
                None => {
                    return Err(ArmError::invalid(
                        "InvalidPrivlinkBackend",
                        format!("Tag '{key}': a private link service has no sub-resources; use the tag '{TAG}'."),
                    ))
                }
            }
        }
        let text = value.as_str().unwrap_or_default();
        if parse_address(text).is_none() {
            return Err(ArmError::invalid(
                "InvalidPrivlinkBackend",
                format!("Tag '{key}' = '{text}' is not a loopback address with a port (e.g. 127.0.0.1:10000): privlink sends traffic only to local services."),
            ));
        }
    }
    Ok(())
}

/// The backends a row's tags bind: `(group lower-cased, or "" for every group, address)`.
pub fn of_row(row: &ResourceRow) -> Vec<(String, SocketAddr)> {
    let Some(tags) = row.body.get("tags").and_then(Value::as_object) else { return Vec::new() };
    tags.iter()
        .filter_map(|(key, value)| {
            let group = group_of(key)?;
            Some((group.to_ascii_lowercase(), parse_address(value.as_str()?)?))
        })
        .collect()
}

/// The backend for `group` among `bound` (its own binding, else the catch-all one).
pub fn for_group(bound: &[(String, SocketAddr)], group: &str) -> Option<SocketAddr> {
    let group = group.to_ascii_lowercase();
    bound.iter().find(|(g, _)| *g == group).or_else(|| bound.iter().find(|(g, _)| g.is_empty())).map(|(_, a)| *a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn backend_tags_bind_groups_to_loopback_services() {
        let storage = crate::catalogue::find("Microsoft.Storage/storageAccounts").unwrap();
        let ok =
            json!({ "privlink:backend:blob": "127.0.0.1:10000", "Privlink:Backend": "localhost:9000", "team": "x" });
        assert!(check(Some(storage), ok.as_object().unwrap()).is_ok());
        for bad in [
            json!({ "privlink:backend:nope": "127.0.0.1:1" }),
            json!({ "privlink:backend:blob": "10.0.0.1:443" }),
            json!({ "privlink:backend:blob": "127.0.0.1" }),
            json!({ "privlink:backend:blob": "127.0.0.1:0" }),
            json!({ "privlink:backend": "example.com:443" }),
        ] {
            assert!(check(Some(storage), bad.as_object().unwrap()).is_err(), "{bad}");
        }
        assert!(check(None, json!({ "privlink:backend:x": "127.0.0.1:1" }).as_object().unwrap()).is_err());
        let row = ResourceRow {
            key: "k".into(),
            id: "i".into(),
            type_key: "t".into(),
            subscription: String::new(),
            resource_group: String::new(),
            parent_key: String::new(),
            body: json!({ "tags": ok }),
            etag: String::new(),
            created_at: 0,
            updated_at: 0,
        };
        let bound = of_row(&row);
        assert_eq!(for_group(&bound, "BLOB"), Some("127.0.0.1:10000".parse().unwrap()));
        assert_eq!(for_group(&bound, "file"), Some("127.0.0.1:9000".parse().unwrap()));
        assert!(group_of("privlink:backendx").is_none());
    }
}
