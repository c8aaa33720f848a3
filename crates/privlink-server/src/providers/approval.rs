//! The private endpoint connection state machine, shared by every target type.
//!
//! A connection has two sides that always agree: the entry in the private endpoint's
//! `privateLinkServiceConnections` / `manualPrivateLinkServiceConnections`, and the
//! `privateEndpointConnections/{name}` child of the target. Every transition updates both in the
//! caller's transaction.
//!
//! | provider action | consumer state |
//! |---|---|
//! | none (manual request) | Pending |
//! | approve (or automatic with the approval permission) | Approved |
//! | reject | Rejected |
//! | remove (DELETE of the target's connection) | Disconnected |

use privlink_store::ResourceRow;
use serde_json::{json, Value};

use crate::arm::{new_etag, ArmError, ArmResult};
use crate::providers::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pending,
    Approved,
    Rejected,
    Disconnected,
}

impl Status {
    pub fn parse(s: &str) -> Option<Status> {
        match s.to_ascii_lowercase().as_str() {
            "pending" => Some(Status::Pending),
            "approved" => Some(Status::Approved),
            "rejected" => Some(Status::Rejected),
            "disconnected" => Some(Status::Disconnected),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "Pending",
            Status::Approved => "Approved",
            Status::Rejected => "Rejected",
            Status::Disconnected => "Disconnected",
        }
    }
}

/// What the provider may do to a connection in `current` state by asking for `requested`.
/// Pending can become Approved or Rejected, Approved can be Rejected, Rejected can be approved
/// again; nothing goes back to Pending, and Disconnected (removal) is reached only by DELETE.
pub fn provider_transition(current: Status, requested: Status) -> ArmResult<Status> {
    use Status::*;
    match (current, requested) {
        (Disconnected, _) => Err(ArmError::invalid(
            "PrivateEndpointConnectionDisconnected",
            "The private endpoint connection was removed (Disconnected); the private endpoint must be deleted and created again.",
        )),
        (_, Disconnected) => Err(ArmError::invalid(
            "InvalidPrivateEndpointConnectionStatus",
            "A connection is disconnected by deleting it (DELETE .../privateEndpointConnections/{name}), not by setting its status.",
        )),
        (Pending, Pending) => Ok(Pending),
        (_, Pending) => Err(ArmError::invalid(
            "InvalidPrivateEndpointConnectionStatus",
            format!("A connection in state {} cannot go back to Pending.", current.as_str()),
        )),
        (_, to) => Ok(to),
    }
}

/// `privateLinkServiceConnectionState` in the shape most RPs use.
pub fn state_json(status: Status, description: &str, actions_required: &str) -> Value {
    json!({ "status": status.as_str(), "description": description, "actionsRequired": actions_required })
}

pub fn status_of(state: &Value) -> Option<Status> {
    state.get("status").and_then(Value::as_str).and_then(Status::parse)
}

/// Internal links kept beside the stored properties (never rendered).
pub fn internal(row: &ResourceRow) -> &Value {
    row.body.get("internal").unwrap_or(&Value::Null)
}

/// Set the state of the connection whose target-side row is `pec` on both sides.
pub fn set_state(
    w: &mut Write<'_>,
    pec: &ResourceRow,
    status: Status,
    description: &str,
    actions_required: &str,
) -> ArmResult<ResourceRow> {
    let mut pec = pec.clone();
    let state = state_json(status, description, actions_required);
    if let Some(Value::Object(props)) = pec.body.get_mut("properties") {
        props.insert("privateLinkServiceConnectionState".into(), state.clone());
    }
    pec.etag = new_etag();
    pec.updated_at = w.now;
    w.tx.put(&pec)?;
    if let Some(pe_key) = internal(&pec).get("privateEndpoint").and_then(Value::as_str).map(str::to_string) {
        update_endpoint_side(w, &pe_key, &pec.key, state)?;
    }
    Ok(pec)
}

/// The target side went away (its connection was deleted, or the target itself): the
/// endpoint's connection becomes Disconnected.
pub fn target_side_removed(w: &mut Write<'_>, pec: &ResourceRow) -> ArmResult<()> {
    let Some(pe_key) = internal(pec).get("privateEndpoint").and_then(Value::as_str).map(str::to_string) else {
        return Ok(());
    };
    let description = "The private endpoint connection was removed by the owner of the resource.";
    update_endpoint_side(w, &pe_key, &pec.key, state_json(Status::Disconnected, description, "None"))
}

fn update_endpoint_side(w: &mut Write<'_>, pe_key: &str, pec_key: &str, state: Value) -> ArmResult<()> {
    let Some(mut pe) = w.get(pe_key)? else { return Ok(()) };
    let mut changed = false;
    if let Some(Value::Object(props)) = pe.body.get_mut("properties") {
        for list in ["privateLinkServiceConnections", "manualPrivateLinkServiceConnections"] {
            let Some(Value::Array(connections)) = props.get_mut(list) else { continue };
            for connection in connections.iter_mut() {
                let linked = connection.get("internal").and_then(|i| i.get("connection")).and_then(Value::as_str)
                    == Some(pec_key);
                if linked {
                    if let Some(Value::Object(cp)) = connection.get_mut("properties") {
                        cp.insert("privateLinkServiceConnectionState".into(), state.clone());
                        changed = true;
                    }
                }
            }
        }
    }
    if changed {
        pe.etag = new_etag();
        pe.updated_at = w.now;
        w.tx.put(&pe)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Status::*;
    use super::*;

    #[test]
    fn provider_transitions_follow_the_table() {
        assert_eq!(provider_transition(Pending, Approved).unwrap(), Approved);
        assert_eq!(provider_transition(Pending, Rejected).unwrap(), Rejected);
        assert_eq!(provider_transition(Approved, Rejected).unwrap(), Rejected);
        assert_eq!(provider_transition(Rejected, Approved).unwrap(), Approved);
        assert_eq!(provider_transition(Approved, Approved).unwrap(), Approved);
        assert!(provider_transition(Approved, Pending).is_err());
        assert!(provider_transition(Pending, Disconnected).is_err());
        assert!(provider_transition(Disconnected, Approved).is_err());
        assert_eq!(Status::parse("approved"), Some(Approved));
        assert_eq!(Status::parse("nope"), None);
    }
}
