//! Microsoft.Resources/resourceGroups. PUT is synchronous; DELETE is a long-running operation
//! that removes everything in the group (the reconciler's generic tree removal).

use serde_json::{json, Map, Value};

use crate::arm::api_version::RESOURCES;
use crate::arm::names::NameRule;
use crate::arm::ArmResult;
use crate::providers::{Lro, PutInput, ResourceType, Write};

pub struct ResourceGroups;

impl ResourceType for ResourceGroups {
    fn type_name(&self) -> &'static str {
        crate::arm::id::RESOURCE_GROUP_TYPE
    }
    fn api_versions(&self) -> &'static [&'static str] {
        RESOURCES
    }
    fn tracked(&self) -> bool {
        true
    }
    fn name_rule(&self) -> NameRule {
        NameRule::ResourceGroup
    }
    fn put_style(&self) -> Lro {
        Lro::Sync
    }
    fn etag(&self) -> bool {
        false
    }

    fn render_top_level(&self, row: &privlink_store::ResourceRow, out: &mut Map<String, Value>) {
        if let Some(managed_by) = row.body.get("internal").and_then(|i| i.get("managedBy")) {
            out.insert("managedBy".into(), managed_by.clone());
        }
    }

    fn put(&self, w: &mut Write<'_>, input: &PutInput<'_>) -> ArmResult<Map<String, Value>> {
        let props = Map::new();
        // `managedBy` is a top-level field of a resource group, kept beside its properties.
        w.internal = input.body.str("managedBy")?.map(|m| json!({ "managedBy": m }));
        Ok(props)
    }
}
