//! Microsoft.Network/networkSecurityGroups, with security rules inline (replacing the current
//! set, as a PUT does in Azure) or as child resources.

use privlink_store::{ResourceRow, Tx};
use serde_json::{json, Map, Value};

use super::{children, in_subscription, inline_child, security_rules, subnets};
use crate::arm::api_version::NETWORK;
use crate::arm::names::NameRule;
use crate::arm::{ArmError, ArmResult, ResourceId};
use crate::providers::{properties, PutInput, ResourceType, Write};

pub const TYPE: &str = "Microsoft.Network/networkSecurityGroups";
const NIC_TYPE_KEY: &str = "microsoft.network/networkinterfaces";

pub struct NetworkSecurityGroups;

/// Rows of `type_key` (subnets, network interfaces) whose `networkSecurityGroup` is `nsg`.
fn users_of(tx: &mut dyn Tx, nsg: &ResourceRow, type_key: &str) -> ArmResult<Vec<ResourceRow>> {
    Ok(in_subscription(tx, &nsg.subscription, type_key)?
        .into_iter()
        .filter(|s| {
            properties(s)
                .get("networkSecurityGroup")
                .and_then(|r| r.get("id"))
                .and_then(Value::as_str)
                .is_some_and(|id| id.eq_ignore_ascii_case(&nsg.id))
        })
        .collect())
}

impl ResourceType for NetworkSecurityGroups {
    fn type_name(&self) -> &'static str {
        TYPE
    }
    fn api_versions(&self) -> &'static [&'static str] {
        NETWORK
    }
    fn tracked(&self) -> bool {
        true
    }

    fn put(&self, w: &mut Write<'_>, input: &PutInput<'_>) -> ArmResult<Map<String, Value>> {
        let id = input.id;
        let body = input.properties();
        let requested = body.named("securityRules", NameRule::Network, "security rule", &id.to_string())?;
        if requested.len() as u64 > w.settings.limits.rules_per_nsg {
            return Err(ArmError::invalid(
                "SecurityRulesPerNetworkSecurityGroupLimitReached",
                format!("A network security group may have at most {} rules.", w.settings.limits.rules_per_nsg),
            ));
        }
        let rules = requested
            .iter()
            .map(|r| Ok((r.name.clone(), security_rules::validate(&r.name, r.properties())?)))
            .collect::<ArmResult<Vec<_>>>()?;
        security_rules::check_priorities(&rules, &[])?;
        let resource_guid = input
            .existing
            .and_then(|e| properties(e).get("resourceGuid").cloned())
            .unwrap_or_else(|| json!(uuid::Uuid::new_v4().to_string()));
        if input.existing.is_none() {
            // The NSG row must exist before its rules (children) are stored.
            w.put_provisional(id, input.location, Map::new())?;
        }
        for old in children(w.tx, &id.key(), security_rules::TYPE_KEY)? {
            let name = old.id.rsplit('/').next().unwrap_or_default();
            if !rules.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
                w.remove_tree(&old.key)?;
            }
        }
        for (name, rule) in rules {
            let rid = id.child("securityRules", &name);
            let existing = w.get(&rid.key())?;
            w.save(&rid, existing.as_ref(), Map::from_iter([("properties".to_string(), Value::Object(rule))]))?;
        }
        Ok(Map::from_iter([("resourceGuid".to_string(), resource_guid)]))
    }

    fn check_delete(&self, w: &mut Write<'_>, row: &ResourceRow, root_key: &str) -> ArmResult<()> {
        // Subnets and NICs outside the tree being deleted keep it alive.
        let mut users = users_of(w.tx, row, subnets::TYPE_KEY)?;
        users.extend(users_of(w.tx, row, NIC_TYPE_KEY)?);
        if let Some(user) = users.iter().find(|u| !u.key.starts_with(&format!("{root_key}/"))) {
            let name = ResourceId::parse(&row.id).map(|i| i.name().to_string()).unwrap_or_default();
            return Err(ArmError::InUse {
                code: "InUseNetworkSecurityGroupCannotBeDeleted",
                message: format!("Network security group {name} cannot be deleted because it is in use by the following resources: {}. In order to delete the Network security group, remove the association with the resource(s).", user.id),
            });
        }
        Ok(())
    }

    fn render_properties(&self, tx: &mut dyn Tx, row: &ResourceRow, props: &mut Map<String, Value>) -> ArmResult<()> {
        let rules: Vec<Value> = children(tx, &row.key, security_rules::TYPE_KEY)?
            .iter()
            .map(|r| inline_child(r, security_rules::TYPE, properties(r).clone(), |_| {}))
            .collect();
        props.insert("securityRules".into(), Value::Array(rules));
        let id = ResourceId::parse(&row.id).ok_or(ArmError::Internal)?;
        props.insert("defaultSecurityRules".into(), security_rules::default_rules(&id));
        let subnet_refs: Vec<Value> =
            users_of(tx, row, subnets::TYPE_KEY)?.iter().map(|s| json!({ "id": s.id })).collect();
        if !subnet_refs.is_empty() {
            props.insert("subnets".into(), Value::Array(subnet_refs));
        }
        Ok(())
    }
}
