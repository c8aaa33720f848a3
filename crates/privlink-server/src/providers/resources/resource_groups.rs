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

    fn put(&self, _w: &mut Write<'_>, input: &PutInput<'_>) -> ArmResult<Map<String, Value>> {
        let mut props = Map::new();
        if let Some(managed_by) = input.body.str("managedBy")? {
            props.insert("managedBy".into(), json!(managed_by));
        }
        Ok(props)
    }
}
