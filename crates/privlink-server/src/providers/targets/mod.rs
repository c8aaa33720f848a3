//! Private-link targets: every resource type of the catalogue (`crate::catalogue`) as a real
//! ARM resource, with its `privateEndpointConnections` children and `privateLinkResources`.
//!
//! The common shape (location, tags, `publicNetworkAccess`, connections) is generic; a type
//! with specifics (Storage's `kind` and `networkAcls`, Kusto's URIs) has a small module of its
//! own, reached through [`Specifics`].

pub mod backends;
pub mod connections;
pub mod kusto;
pub mod storage;

use privlink_store::{ResourceRow, Tx};
use serde_json::{json, Map, Value};

use crate::arm::json::Obj;
use crate::arm::names::NameRule;
use crate::arm::{ArmError, ArmResult};
use crate::catalogue::{self, TargetKind};
use crate::providers::{Lro, PutInput, Registry, ResourceType, Write};

/// Per-type behaviour beyond the common shape.
pub trait Specifics: Send + Sync {
    fn name_rule(&self) -> NameRule {
        NameRule::Generic
    }
    /// How a PUT answers: Storage finishes it at once (its SDK rejects a 201).
    fn put_style(&self) -> Lro {
        Lro::Async
    }
    fn validate(&self, _input: &PutInput<'_>, _body: Obj<'_>, _props: &mut Map<String, Value>) -> ArmResult<()> {
        Ok(())
    }
    /// Refuse a private endpoint to this resource and group (Storage: only on StorageV2).
    fn check_endpoint(&self, _target: &ResourceRow, _group: &str) -> ArmResult<()> {
        Ok(())
    }
    fn render(&self, _row: &ResourceRow, _props: &mut Map<String, Value>) {}
    /// Top-level fields such as `kind` and `sku`.
    fn render_top_level(&self, _row: &ResourceRow, _out: &mut Map<String, Value>) {}
}

struct Plain;
impl Specifics for Plain {}

pub fn specifics(kind: &TargetKind) -> &'static dyn Specifics {
    match kind.type_name {
        "Microsoft.Storage/storageAccounts" => &storage::Storage,
        "Microsoft.Kusto/clusters" => &kusto::Kusto,
        _ => &Plain,
    }
}

pub struct TargetType {
    pub kind: &'static TargetKind,
}

impl ResourceType for TargetType {
    fn type_name(&self) -> &'static str {
        self.kind.type_name
    }
    fn api_versions(&self) -> &'static [&'static str] {
        catalogue::api_versions()
    }
    fn tracked(&self) -> bool {
        true
    }
    fn supports_identity(&self) -> bool {
        true
    }
    fn name_rule(&self) -> NameRule {
        specifics(self.kind).name_rule()
    }
    fn put_style(&self) -> Lro {
        specifics(self.kind).put_style()
    }
    fn create_status(&self) -> http::StatusCode {
        match specifics(self.kind).put_style() {
            Lro::Sync => http::StatusCode::OK,
            Lro::Async => http::StatusCode::CREATED,
        }
    }
    fn system_data(&self) -> bool {
        self.kind.system_data
    }
    fn pageable(&self) -> bool {
        // Kusto's lists declare no nextLink (its SDK would stop after one page).
        self.kind.type_name != "Microsoft.Kusto/clusters"
    }
    fn etag(&self) -> bool {
        false
    }
    /// `az storage account update` and the SDKs' `update` PATCH properties (public network
    /// access, the firewall), not just tags.
    fn patch_merges_properties(&self) -> bool {
        true
    }
    fn check_tags(&self, tags: &Map<String, Value>) -> ArmResult<()> {
        backends::check(Some(self.kind), tags)
    }

    fn put(&self, w: &mut Write<'_>, input: &PutInput<'_>) -> ArmResult<Map<String, Value>> {
        if input.existing.is_none() {
            let address = crate::platform::allocate_public_address(w.tx, &input.id.key())?;
            w.internal = Some(json!({ "publicAddress": address.to_string() }));
        }
        let body = input.properties();
        let mut props = Map::new();
        let access =
            body.one_of("publicNetworkAccess", &["Enabled", "Disabled", "SecuredByPerimeter"])?.unwrap_or("Enabled");
        props.insert("publicNetworkAccess".into(), json!(access));
        specifics(self.kind).validate(input, body, &mut props)?;
        Ok(props)
    }

    fn render_top_level(&self, row: &ResourceRow, out: &mut Map<String, Value>) {
        specifics(self.kind).render_top_level(row, out);
    }

    fn render_properties(&self, tx: &mut dyn Tx, row: &ResourceRow, props: &mut Map<String, Value>) -> ArmResult<()> {
        specifics(self.kind).render(row, props);
        let connections = connections::list_rendered(tx, row, self.kind.type_name)?;
        props.insert("privateEndpointConnections".into(), Value::Array(connections));
        Ok(())
    }
}

/// Register every catalogued type, with its connections child type.
pub fn register(registry: &mut Registry) {
    for kind in catalogue::KINDS {
        registry.add(TargetType { kind });
        registry.add(connections::ConnectionType::for_kind(kind));
    }
}

/// `privateLinkResources` of a target: one entry per group, from the catalogue.
pub fn link_resources(target: &ResourceRow, kind: &TargetKind) -> Vec<Value> {
    let name = target.id.rsplit('/').next().unwrap_or_default();
    let region = crate::providers::location(target).unwrap_or_default();
    kind.groups
        .iter()
        .map(|g| {
            json!({
                "id": format!("{}/privateLinkResources/{}", target.id, g.id),
                "name": g.id,
                "type": format!("{}/privateLinkResources", kind.type_name),
                "properties": {
                    "groupId": g.id,
                    "requiredMembers": g.members.iter().map(|m| catalogue::expand(m.name, name, region)).collect::<Vec<_>>(),
                    "requiredZoneNames": g.zones.iter().map(|z| catalogue::expand(z, name, region)).collect::<Vec<_>>(),
                }
            })
        })
        .collect()
}

pub fn not_a_target(type_name: &str) -> ArmError {
    ArmError::invalid(
        "PrivateLinkNotSupported",
        format!("Resources of type {type_name} cannot be the target of a private endpoint."),
    )
}
