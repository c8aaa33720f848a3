//! `Microsoft.ManagedIdentity/userAssignedIdentities`: an identity of its own, attached to
//! resources by id. Its `tenantId`, `principalId` and `clientId` are read-only and stable.

use serde_json::{json, Map, Value};

use crate::arm::names::NameRule;
use crate::arm::ArmResult;
use crate::providers::resources::subscriptions::tenant_of;
use crate::providers::{Lro, PutInput, ResourceType, Write};

pub struct UserAssignedIdentities;

impl ResourceType for UserAssignedIdentities {
    fn type_name(&self) -> &'static str {
        "Microsoft.ManagedIdentity/userAssignedIdentities"
    }
    fn api_versions(&self) -> &'static [&'static str] {
        &[
            "2015-08-31-preview",
            "2018-11-30",
            "2021-09-30-preview",
            "2022-01-31-preview",
            "2023-01-31",
            "2023-07-31-preview",
            "2024-11-30",
            "2025-01-31-preview",
        ]
    }
    fn tracked(&self) -> bool {
        true
    }
    fn name_rule(&self) -> NameRule {
        NameRule::Generic
    }
    fn put_style(&self) -> Lro {
        Lro::Sync
    }
    fn delete_style(&self) -> Lro {
        Lro::Sync
    }
    fn system_data(&self) -> bool {
        true
    }
    fn etag(&self) -> bool {
        false
    }
    fn put(&self, w: &mut Write<'_>, input: &PutInput<'_>) -> ArmResult<Map<String, Value>> {
        let previous = input.existing.map(crate::providers::properties);
        let keep = |field: &str| {
            previous
                .and_then(|p| p.get(field))
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
        };
        let tenant = tenant_of(w.tx, &input.id.subscription)?.unwrap_or_default();
        let mut props = Map::new();
        props.insert("tenantId".into(), json!(tenant));
        props.insert("principalId".into(), json!(keep("principalId")));
        props.insert("clientId".into(), json!(keep("clientId")));
        Ok(props)
    }
}
