//! Microsoft.Network/networkSecurityGroups, with security rules inline (replacing the current
//! set, as a PUT does in Azure) or as child resources.

use std::collections::HashSet;

use privlink_store::{ResourceRow, Tx};
use serde_json::{json, Map, Value};

use super::{children, in_subscription, inline_child, security_rules, subnets};
use crate::arm::api_version::NETWORK;
use crate::arm::json::Obj;
use crate::arm::{ArmError, ArmResult, ResourceId};
use crate::providers::{properties, PutInput, ResourceType, Write};

pub const TYPE: &str = "Microsoft.Network/networkSecurityGroups";

pub struct NetworkSecurityGroups;

fn subnets_using(tx: &mut dyn Tx, nsg: &ResourceRow) -> ArmResult<Vec<ResourceRow>> {
    Ok(in_subscription(tx, &nsg.subscription, subnets::TYPE_KEY)?
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
        let body_props = input.body.obj("properties")?.cloned().unwrap_or_default();
        let body = Obj::new(&body_props, "properties");
        let requested = body.objects("securityRules")?;
        if requested.len() as u64 > w.settings.limits.rules_per_nsg {
            return Err(ArmError::invalid(
                "SecurityRulesPerNetworkSecurityGroupLimitReached",
                format!("A network security group may have at most {} rules.", w.settings.limits.rules_per_nsg),
            ));
        }
        let mut rules = Vec::new();
        let mut names = HashSet::new();
        for (path, item) in &requested {
            let r = Obj::new(item, path);
            let name = r.str("name")?.ok_or_else(|| {
                ArmError::invalid_at(
                    "InvalidRequestFormat",
                    path,
                    format!("Cannot parse the request: {path}.name is required."),
                )
            })?;
            crate::arm::names::NameRule::Network.check(name, security_rules::TYPE)?;
            if !names.insert(name.to_ascii_lowercase()) {
                return Err(ArmError::invalid(
                    "DuplicateResourceName",
                    format!("Security rule name {name} appears more than once in {id}."),
                ));
            }
            let rp = r.obj("properties")?.cloned().unwrap_or_default();
            rules.push((
                name.to_string(),
                security_rules::validate(name, Obj::new(&rp, &format!("{path}.properties")))?,
            ));
        }
        security_rules::check_priorities(&rules, &[])?;
        let resource_guid = input
            .existing
            .and_then(|e| properties(e).get("resourceGuid").cloned())
            .unwrap_or_else(|| json!(uuid::Uuid::new_v4().to_string()));
        if input.existing.is_none() {
            // The NSG row must exist before its rules (children) are stored.
            let mut provisional = Map::new();
            provisional.insert("location".into(), json!(input.location));
            provisional.insert("properties".into(), json!({ "provisioningState": "Updating" }));
            w.tx.put(&ResourceRow {
                key: id.key(),
                id: id.to_string(),
                type_key: id.type_key(),
                subscription: id.subscription.to_ascii_lowercase(),
                resource_group: id.resource_group.as_deref().unwrap_or_default().to_ascii_lowercase(),
                parent_key: String::new(),
                body: Value::Object(provisional),
                etag: String::new(),
                created_at: w.now,
                updated_at: w.now,
            })?;
        }
        for old in children(w.tx, &id.key(), security_rules::TYPE_KEY)? {
            if !names.contains(old.id.rsplit('/').next().unwrap_or_default().to_ascii_lowercase().as_str()) {
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
        let outside: Vec<ResourceRow> =
            subnets_using(w.tx, row)?.into_iter().filter(|s| !s.key.starts_with(&format!("{root_key}/"))).collect();
        if let Some(subnet) = outside.first() {
            let name = ResourceId::parse(&row.id).map(|i| i.name().to_string()).unwrap_or_default();
            return Err(ArmError::InUse {
                code: "InUseNetworkSecurityGroupCannotBeDeleted",
                message: format!("Network security group {name} cannot be deleted because it is in use by the following resources: {}. In order to delete the Network security group, remove the association with the resource(s).", subnet.id),
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
        let subnet_refs: Vec<Value> = subnets_using(tx, row)?.iter().map(|s| json!({ "id": s.id })).collect();
        if !subnet_refs.is_empty() {
            props.insert("subnets".into(), Value::Array(subnet_refs));
        }
        Ok(())
    }
}
