//! `{target}/privateEndpointConnections/{name}`: the target owner's side of a connection.
//! Created only by a private endpoint (a PUT here approves or rejects an existing connection;
//! the read-only fields clients echo back from a GET are accepted and ignored). DELETE removes
//! it and leaves the endpoint's side Disconnected.

use privlink_store::{ResourceRow, Tx};
use serde_json::{json, Map, Value};

use crate::arm::json::Obj;
use crate::arm::{ArmError, ArmResult};
use crate::catalogue::{ConnectionPut, TargetKind};
use crate::providers::approval::{self, Status};
use crate::providers::network::children;
use crate::providers::{properties, Lro, PutInput, ResourceType, Write};

/// The shape a resource provider gives its connections.
#[derive(Clone, Copy)]
pub enum Shape {
    /// Common types v5: `groupIds`, `actionsRequired` (Storage: `actionRequired`).
    Common { action_required_singular: bool },
    /// Kusto: `groupId` as a string.
    Kusto,
    /// Network private link services: adds `linkIdentifier`, `privateEndpointLocation`.
    Network,
}

pub struct ConnectionType {
    pub type_name: &'static str,
    pub shape: Shape,
    pub put: ConnectionPut,
    pub system_data: bool,
}

impl ConnectionType {
    pub fn for_kind(kind: &'static TargetKind) -> ConnectionType {
        let shape = if kind.type_name == "Microsoft.Kusto/clusters" {
            Shape::Kusto
        } else {
            Shape::Common { action_required_singular: kind.action_required_singular }
        };
        ConnectionType {
            type_name: Box::leak(format!("{}/privateEndpointConnections", kind.type_name).into_boxed_str()),
            shape,
            put: kind.connection_put,
            system_data: kind.system_data,
        }
    }
}

/// Render one connection row in the RP's shape (used for GET, list and inline in the target).
pub fn render_props(row: &ResourceRow, shape: Shape) -> Map<String, Value> {
    let mut props = properties(row).clone();
    let state = props.get("privateLinkServiceConnectionState").cloned().unwrap_or(Value::Null);
    let status = state.get("status").cloned().unwrap_or(json!("Pending"));
    let description = state.get("description").cloned().unwrap_or(json!(""));
    let actions = state.get("actionsRequired").cloned().unwrap_or(json!("None"));
    let group_ids = props.remove("groupIds").unwrap_or(json!([]));
    match shape {
        Shape::Common { action_required_singular } => {
            let key = if action_required_singular { "actionRequired" } else { "actionsRequired" };
            props.insert(
                "privateLinkServiceConnectionState".into(),
                json!({ "status": status, "description": description, key: actions }),
            );
            props.insert("groupIds".into(), group_ids);
        }
        Shape::Kusto => {
            props.insert(
                "privateLinkServiceConnectionState".into(),
                json!({ "status": status, "description": description, "actionsRequired": actions }),
            );
            props.insert("groupId".into(), group_ids.get(0).cloned().unwrap_or(json!("cluster")));
        }
        Shape::Network => {
            props.insert(
                "privateLinkServiceConnectionState".into(),
                json!({ "status": status, "description": description, "actionsRequired": actions }),
            );
        }
    }
    props
}

/// The connections of a target, rendered for inclusion in its `properties`.
pub fn list_rendered(tx: &mut dyn Tx, target: &ResourceRow, target_type: &str) -> ArmResult<Vec<Value>> {
    let type_key = format!("{target_type}/privateEndpointConnections").to_ascii_lowercase();
    let shape = match crate::catalogue::find(target_type) {
        Some(kind) => ConnectionType::for_kind_shape(kind),
        None => Shape::Network,
    };
    Ok(children(tx, &target.key, &type_key)?
        .iter()
        .map(|row| {
            let name = row.id.rsplit('/').next().unwrap_or_default();
            json!({ "id": row.id, "name": name, "type": format!("{target_type}/privateEndpointConnections"), "properties": render_props(row, shape) })
        })
        .collect())
}

impl ConnectionType {
    fn for_kind_shape(kind: &TargetKind) -> Shape {
        if kind.type_name == "Microsoft.Kusto/clusters" {
            Shape::Kusto
        } else {
            Shape::Common { action_required_singular: kind.action_required_singular }
        }
    }
}

impl ResourceType for ConnectionType {
    fn type_name(&self) -> &'static str {
        self.type_name
    }
    fn api_versions(&self) -> &'static [&'static str] {
        if matches!(self.shape, Shape::Network) {
            crate::arm::api_version::NETWORK
        } else {
            crate::catalogue::api_versions()
        }
    }
    fn tracked(&self) -> bool {
        false
    }
    fn name_rule(&self) -> crate::arm::names::NameRule {
        crate::arm::names::NameRule::Generic
    }
    fn put_style(&self) -> Lro {
        match self.put {
            ConnectionPut::Sync => Lro::Sync,
            ConnectionPut::Async => Lro::Async,
        }
    }
    fn delete_style(&self) -> Lro {
        // Network's private link services answer DELETE as an operation; the others at once.
        match (self.shape, self.put) {
            (Shape::Network, _) | (_, ConnectionPut::Async) => Lro::Async,
            _ => Lro::Sync,
        }
    }
    fn system_data(&self) -> bool {
        self.system_data
    }
    fn pageable(&self) -> bool {
        // Common-types connection lists declare no nextLink; Network's do.
        matches!(self.shape, Shape::Network)
    }
    fn etag(&self) -> bool {
        matches!(self.shape, Shape::Network)
    }
    fn put(&self, w: &mut Write<'_>, input: &PutInput<'_>) -> ArmResult<Map<String, Value>> {
        // Connections are created by private endpoints only; one that was removed (or never
        // existed) cannot be approved into being.
        let existing = input.existing.ok_or_else(|| {
            ArmError::invalid(
                "PrivateEndpointConnectionDoesNotExist",
                format!("Private endpoint connection {} does not exist: it was removed (the endpoint shows Disconnected) or never created. Connections are created by private endpoints.", input.id.name()),
            )
        })?;
        let body = input.properties();
        let state = body.obj("privateLinkServiceConnectionState")?.ok_or_else(|| {
            ArmError::invalid_at("InvalidRequestFormat", "properties.privateLinkServiceConnectionState", "The request must carry properties.privateLinkServiceConnectionState with a status (Approved or Rejected).")
        })?;
        let s = Obj::new(state, "properties.privateLinkServiceConnectionState");
        let requested_text = s.str("status")?.ok_or_else(|| {
            ArmError::invalid_at(
                "InvalidRequestFormat",
                "properties.privateLinkServiceConnectionState.status",
                "privateLinkServiceConnectionState.status is required.",
            )
        })?;
        let requested = Status::parse(requested_text).ok_or_else(|| {
            ArmError::invalid(
                "InvalidPrivateEndpointConnectionStatus",
                format!("Status '{requested_text}' is invalid: use Approved or Rejected."),
            )
        })?;
        let description = s.str("description")?.unwrap_or("");
        if description.chars().count() > 140 {
            return Err(ArmError::invalid(
                "PrivateEndpointConnectionDescriptionTooLong",
                "The description may be at most 140 characters.",
            ));
        }
        let current =
            approval::status_of(properties(existing).get("privateLinkServiceConnectionState").unwrap_or(&Value::Null))
                .unwrap_or(Status::Pending);
        let next = approval::provider_transition(current, requested)?;
        let actions = s.str("actionsRequired")?.or(s.str("actionRequired")?).unwrap_or("None");
        let updated = approval::set_state(w, existing, next, description, actions)?;
        // The engine stores what we return over the row set_state just wrote.
        Ok(properties(&updated).clone())
    }

    fn on_deleted(&self, w: &mut Write<'_>, row: &ResourceRow) -> ArmResult<()> {
        approval::target_side_removed(w, row)
    }

    fn render_properties(&self, _tx: &mut dyn Tx, row: &ResourceRow, props: &mut Map<String, Value>) -> ArmResult<()> {
        *props = render_props(row, self.shape);
        Ok(())
    }
}
