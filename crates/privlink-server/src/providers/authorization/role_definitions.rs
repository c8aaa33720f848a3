//! Role definitions: the built-ins (readable at every scope) and custom roles, which are
//! tenant-wide rows `/providers/microsoft.authorization/roledefinitions/{guid}` carrying their
//! tenant, validated on PUT and refused on DELETE while assignments still use them.

use std::collections::HashSet;

use http::StatusCode;
use privlink_store::{ResourceRow, Scope, Tx};
use serde_json::{json, Map, Value};

use crate::arm::json::Obj;
use crate::arm::{rfc3339, ArmError, ArmResult};
use crate::identity::Caller;
use crate::providers::Write;

use super::builtin::{self, BuiltinRole, BUILTIN_TIMESTAMP};
use super::filter::{self, Clause};
use super::scope::{self, ScopeId};
use super::{is_guid, list_all, rbac, role_assignments, role_definition_id};

pub const TYPE: &str = "Microsoft.Authorization/roleDefinitions";
pub const TYPE_KEY: &str = "microsoft.authorization/roledefinitions";
pub const READ: &str = "Microsoft.Authorization/roleDefinitions/read";
pub const WRITE: &str = "Microsoft.Authorization/roleDefinitions/write";
pub const DELETE: &str = "Microsoft.Authorization/roleDefinitions/delete";

const BUILT_IN: &str = "BuiltInRole";
const CUSTOM: &str = "CustomRole";

/// The store key of a custom role.
pub fn custom_key(guid: &str) -> String {
    format!("/providers/microsoft.authorization/roledefinitions/{}", guid.to_ascii_lowercase())
}

/// A role definition as found: static data, or a custom role's row.
#[derive(Debug, Clone)]
pub enum Definition {
    Builtin(&'static BuiltinRole),
    Custom(Box<ResourceRow>),
}

impl Definition {
    /// The lower-cased GUID.
    pub fn guid(&self) -> String {
        match self {
            Definition::Builtin(b) => b.guid.to_string(),
            Definition::Custom(row) => row.key.rsplit('/').next().unwrap_or_default().to_string(),
        }
    }

    pub fn role_name(&self) -> &str {
        match self {
            Definition::Builtin(b) => b.name,
            Definition::Custom(row) => custom_props(row).get("roleName").and_then(Value::as_str).unwrap_or_default(),
        }
    }

    pub fn is_custom(&self) -> bool {
        matches!(self, Definition::Custom(_))
    }

    /// Whether any permissions block grants the (control-plane) action.
    pub fn grants(&self, action: &str) -> bool {
        match self {
            Definition::Builtin(b) => rbac::grants(b.actions, b.not_actions, action),
            // Read straight from the stored JSON: this runs on the authorization hot path.
            Definition::Custom(row) => permission_blocks(row).any(|block| {
                strings(block, "actions").any(|p| rbac::matches(p, action))
                    && !strings(block, "notActions").any(|p| rbac::matches(p, action))
            }),
        }
    }

    /// The permissions blocks as rendered.
    pub fn permissions_json(&self) -> Vec<Value> {
        match self {
            Definition::Builtin(b) => vec![json!({
                "actions": b.actions,
                "notActions": b.not_actions,
                "dataActions": [],
                "notDataActions": [],
            })],
            Definition::Custom(row) => permission_blocks(row).map(|b| Value::Object(b.clone())).collect(),
        }
    }

    /// Lower-cased keys of the assignable scopes ("" = the root).
    pub fn assignable_scope_keys(&self) -> Vec<String> {
        match self {
            Definition::Builtin(_) => vec![String::new()],
            Definition::Custom(row) => custom_props(row)
                .get("assignableScopes")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(|s| s.trim_end_matches('/').to_ascii_lowercase())
                .collect(),
        }
    }

    /// Whether the role may be assigned at `scope_key` (at or below one of its assignable scopes).
    pub fn assignable_at(&self, scope_key: &str) -> bool {
        self.assignable_scope_keys().iter().any(|a| scope::is_at_or_below(scope_key, a))
    }

    /// The ARM rendering, with the id under `subscription` (or tenant-level without one).
    pub fn render(&self, subscription: Option<&str>) -> Value {
        let guid = self.guid();
        let properties = match self {
            Definition::Builtin(b) => json!({
                "roleName": b.name,
                "type": BUILT_IN,
                "description": b.description,
                "assignableScopes": ["/"],
                "permissions": self.permissions_json(),
                "createdOn": BUILTIN_TIMESTAMP,
                "updatedOn": BUILTIN_TIMESTAMP,
                "createdBy": null,
                "updatedBy": null,
            }),
            Definition::Custom(row) => Value::Object(custom_props(row).clone()),
        };
        json!({ "id": role_definition_id(subscription, &guid), "name": guid, "type": TYPE, "properties": properties })
    }
}

fn custom_props(row: &ResourceRow) -> &Map<String, Value> {
    crate::providers::properties(row)
}

fn permission_blocks(row: &ResourceRow) -> impl Iterator<Item = &Map<String, Value>> {
    custom_props(row).get("permissions").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_object)
}

fn strings<'a>(block: &'a Map<String, Value>, key: &str) -> impl Iterator<Item = &'a str> {
    block.get(key).and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str)
}

fn tenant_of_row(row: &ResourceRow) -> Option<&str> {
    row.body.get("tenantId").and_then(Value::as_str)
}

/// The role definition `guid` as the caller's tenant sees it: a built-in, or one of the
/// tenant's custom roles.
pub fn find(tx: &mut dyn Tx, tenant_id: &str, guid: &str) -> ArmResult<Option<Definition>> {
    if let Some(b) = builtin::find(guid) {
        return Ok(Some(Definition::Builtin(b)));
    }
    if !is_guid(guid) {
        return Ok(None);
    }
    Ok(tx
        .get(&custom_key(guid))?
        .filter(|row| tenant_of_row(row).is_some_and(|t| t.eq_ignore_ascii_case(tenant_id)))
        .map(|row| Definition::Custom(Box::new(row))))
}

/// The custom roles of one tenant.
pub fn customs_in_tenant(tx: &mut dyn Tx, tenant_id: &str) -> ArmResult<Vec<ResourceRow>> {
    let mut rows = list_all(tx, Scope::All, TYPE_KEY)?;
    rows.retain(|row| tenant_of_row(row).is_some_and(|t| t.eq_ignore_ascii_case(tenant_id)));
    Ok(rows)
}

fn not_found(guid: &str) -> ArmError {
    ArmError::ResourceNotFound { type_name: TYPE.into(), name: guid.to_string(), resource_group: None }
}

fn invalid_id(name: &str) -> ArmError {
    ArmError::invalid(
        "InvalidRoleDefinitionId",
        format!("The role definition ID '{name}' is not valid. The role definition ID must be a GUID."),
    )
}

fn built_in_read_only(b: &BuiltinRole) -> ArmError {
    ArmError::invalid(
        "CannotModifyBuiltInRole",
        format!(
            "The role definition '{}' ({}) is a built-in role; built-in roles cannot be created, updated or deleted.",
            b.name, b.guid
        ),
    )
}

/// `GET {scope}/providers/Microsoft.Authorization/roleDefinitions/{guid}`.
pub fn get(tx: &mut dyn Tx, caller: &Caller, scope: &ScopeId, name: &str) -> ArmResult<Value> {
    scope::ensure_caller_tenant(tx, caller, scope, READ)?;
    let definition = find(tx, &caller.tenant_id, name)?.ok_or_else(|| not_found(name))?;
    Ok(definition.render(scope.subscription()))
}

/// What a role definition list's `$filter` asks for.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct DefinitionFilter {
    pub role_name: Option<String>,
    /// `Some(true)` for `type eq 'CustomRole'`, `Some(false)` for `'BuiltInRole'`.
    pub custom: Option<bool>,
}

impl DefinitionFilter {
    pub fn parse(text: &str) -> ArmResult<DefinitionFilter> {
        let bad = |why: String| {
            ArmError::invalid(
                "InvalidFilter",
                format!("The $filter '{text}' is not supported: {why}. Supported: roleName eq '{{name}}', type eq 'BuiltInRole' or 'CustomRole', atScopeAndBelow(), joined with 'and'."),
            )
        };
        let mut out = DefinitionFilter::default();
        for clause in filter::parse(text).map_err(bad)? {
            match clause {
                Clause::Eq { field, value } if field.eq_ignore_ascii_case("roleName") => out.role_name = Some(value),
                Clause::Eq { field, value } if field.eq_ignore_ascii_case("type") => {
                    out.custom = Some(if value.eq_ignore_ascii_case(CUSTOM) {
                        true
                    } else if value.eq_ignore_ascii_case(BUILT_IN) {
                        false
                    } else {
                        return Err(bad(format!("the type '{value}' is neither '{BUILT_IN}' nor '{CUSTOM}'")));
                    })
                }
                // Custom roles assignable below the scope are listed anyway.
                Clause::Call { name, arg: None } if name.eq_ignore_ascii_case("atScopeAndBelow") => {}
                other => return Err(bad(format!("'{other}' is not understood"))),
            }
        }
        Ok(out)
    }

    fn keeps(&self, definition: &Definition) -> bool {
        self.custom.is_none_or(|c| c == definition.is_custom())
            && self.role_name.as_deref().is_none_or(|n| n.eq_ignore_ascii_case(definition.role_name()))
    }
}

/// `GET {scope}/providers/Microsoft.Authorization/roleDefinitions`: the built-ins and the
/// tenant's custom roles assignable at, above or below the scope.
pub fn list(tx: &mut dyn Tx, caller: &Caller, scope: &ScopeId, filter_text: &str) -> ArmResult<Value> {
    let filter = DefinitionFilter::parse(filter_text)?;
    scope::ensure_caller_tenant(tx, caller, scope, READ)?;
    let scope_key = scope.key();
    let mut value: Vec<Value> = Vec::new();
    let builtins = builtin::BUILTIN_ROLES.iter().map(Definition::Builtin);
    let customs = if filter.custom == Some(false) { Vec::new() } else { customs_in_tenant(tx, &caller.tenant_id)? };
    for definition in builtins.chain(customs.into_iter().map(|row| Definition::Custom(Box::new(row)))) {
        let related = definition
            .assignable_scope_keys()
            .iter()
            .any(|a| scope::is_at_or_below(&scope_key, a) || scope::is_at_or_below(a, &scope_key));
        if related && filter.keeps(&definition) {
            value.push(definition.render(scope.subscription()));
        }
    }
    Ok(json!({ "value": value }))
}

/// A valid action pattern: `*`, or `{namespace}/{segment}/...` where any segment may use `*`.
pub fn valid_action(action: &str) -> bool {
    if action == "*" {
        return true;
    }
    let mut segments = action.split('/');
    let namespace_ok = segments.next().is_some_and(|ns| {
        ns == "*" || (ns.contains('.') && ns.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '*'))
    });
    let rest: Vec<&str> = segments.collect();
    namespace_ok
        && !rest.is_empty()
        && rest.iter().all(|s| {
            !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '*' | '_' | '-'))
        })
}

/// One validated permissions block, stored with all four arrays.
fn permission_block(path: &str, block: &Map<String, Value>) -> ArmResult<Value> {
    let obj = Obj::new(block, path);
    let mut out = Map::new();
    for key in ["actions", "notActions", "dataActions", "notDataActions"] {
        let items = obj.strings(key)?.unwrap_or_default();
        for (i, action) in items.iter().enumerate() {
            if !valid_action(action) {
                return Err(ArmError::invalid_at(
                    "InvalidActionOrNotAction",
                    &format!("{path}.{key}[{i}]"),
                    format!("The action '{action}' in '{path}.{key}' is not valid: an action is '*' or '{{Namespace}}/{{resourceType}}/.../{{operation}}', where a segment may use the wildcard '*'."),
                ));
            }
        }
        out.insert(key.into(), json!(items));
    }
    Ok(Value::Object(out))
}

fn invalid_scopes(message: String) -> ArmError {
    ArmError::invalid_at("InvalidAssignableScopes", "properties.assignableScopes", message)
}

/// The assignable scopes, each an existing subscription, resource group or resource of the
/// caller's tenant, deduplicated.
fn assignable_scopes(tx: &mut dyn Tx, caller: &Caller, props: Obj<'_>) -> ArmResult<Vec<ScopeId>> {
    let given = props.strings("assignableScopes")?.unwrap_or_default();
    if given.is_empty() {
        return Err(invalid_scopes(
            "A custom role needs at least one assignable scope in 'properties.assignableScopes'.".into(),
        ));
    }
    let mut out: Vec<ScopeId> = Vec::new();
    for text in given {
        let parsed = ScopeId::parse(text).map_err(|_| {
            invalid_scopes(format!(
                "The assignable scope '{text}' is not a subscription, resource group or resource id."
            ))
        })?;
        if parsed == ScopeId::Root {
            return Err(invalid_scopes(
                "'/' cannot be an assignable scope of a custom role; use subscriptions, resource groups or resources."
                    .into(),
            ));
        }
        let missing = || invalid_scopes(format!("The assignable scope '{text}' does not exist."));
        match scope::ensure_caller_tenant(tx, caller, &parsed, WRITE) {
            Err(ArmError::SubscriptionNotFound { .. }) => return Err(missing()),
            other => other?,
        }
        match scope::ensure_exists(tx, &parsed) {
            Err(ArmError::ResourceGroupNotFound { .. } | ArmError::ResourceNotFound { .. }) => return Err(missing()),
            other => other?,
        }
        if !out.iter().any(|s| s.key() == parsed.key()) {
            out.push(parsed);
        }
    }
    Ok(out)
}

/// `PUT {scope}/providers/Microsoft.Authorization/roleDefinitions/{guid}`: create or update a
/// custom role. Always 201, the only status the API declares.
pub fn put(
    w: &mut Write<'_>,
    caller: &Caller,
    scope: &ScopeId,
    name: &str,
    body: &Map<String, Value>,
) -> ArmResult<(StatusCode, Value)> {
    if !is_guid(name) {
        return Err(invalid_id(name));
    }
    if let Some(b) = builtin::find(name) {
        return Err(built_in_read_only(b));
    }
    scope::ensure_caller_tenant(w.tx, caller, scope, WRITE)?;
    rbac::require(w.tx, caller, WRITE, &scope.display())?;
    scope::ensure_exists(w.tx, scope)?;

    let empty = Map::new();
    let props_map = match Obj::new(body, "").obj("properties")? {
        Some(p) => p,
        None => &empty,
    };
    let props = Obj::new(props_map, "properties");
    let role_name = props.str("roleName")?.map(str::trim).filter(|n| !n.is_empty()).ok_or_else(|| {
        ArmError::invalid_at(
            "InvalidRoleDefinition",
            "properties.roleName",
            "A custom role needs a 'properties.roleName'.",
        )
    })?;
    let description = props.str("description")?;
    if let Some(t) = props.str("type")? {
        if !t.eq_ignore_ascii_case(CUSTOM) {
            return Err(ArmError::invalid_at(
                "InvalidRoleDefinition",
                "properties.type",
                format!("The role type '{t}' cannot be created; only '{CUSTOM}' roles can."),
            ));
        }
    }
    let blocks = props.objects("permissions")?;
    if blocks.is_empty() {
        return Err(ArmError::invalid_at(
            "InvalidRoleDefinition",
            "properties.permissions",
            "A custom role needs at least one entry in 'properties.permissions'.",
        ));
    }
    let permissions =
        blocks.iter().map(|(path, block)| permission_block(path, block)).collect::<ArmResult<Vec<_>>>()?;
    let scopes = assignable_scopes(w.tx, caller, props)?;
    let scope_key = scope.key();
    if !scopes.iter().any(|s| scope::is_at_or_below(&scope_key, &s.key())) {
        return Err(invalid_scopes(format!(
            "The role definition is written at '{}', which is not one of its assignable scopes nor below one.",
            scope.display()
        )));
    }
    for s in &scopes {
        rbac::require(w.tx, caller, WRITE, &s.display())?;
    }

    let guid = name.to_ascii_lowercase();
    let existing = w.tx.get(&custom_key(&guid))?;
    if let Some(row) = &existing {
        if !tenant_of_row(row).is_some_and(|t| t.eq_ignore_ascii_case(&caller.tenant_id)) {
            return Err(ArmError::Conflict {
                code: "RoleDefinitionIdInUse",
                message: format!("The role definition ID '{guid}' is already used by another tenant. Use a new GUID."),
            });
        }
    }
    let name_taken = builtin::find_by_name(role_name).is_some()
        || customs_in_tenant(w.tx, &caller.tenant_id)?
            .into_iter()
            .map(|row| Definition::Custom(Box::new(row)))
            .any(|d| d.guid() != guid && d.role_name().eq_ignore_ascii_case(role_name));
    if name_taken {
        return Err(ArmError::Conflict {
            code: "RoleDefinitionWithSameNameExists",
            message: format!(
                "A role with the name '{role_name}' already exists in this directory. Use a different name."
            ),
        });
    }
    if existing.is_some() {
        // Narrowing the assignable scopes must not strand existing assignments.
        for assignment in role_assignments::using_role(w.tx, &guid)? {
            let at = role_assignments::scope_key_of(&assignment);
            if !scopes.iter().any(|s| scope::is_at_or_below(&at, &s.key())) {
                return Err(invalid_scopes(format!(
                    "The role is assigned at '{}' ({}), which the new assignable scopes do not include. Delete that assignment first.",
                    role_assignments::scope_display_of(&assignment),
                    assignment.id
                )));
            }
        }
    }

    let now = rfc3339(w.now);
    let previous = existing.as_ref().map(custom_props);
    let created_on = previous.and_then(|p| p.get("createdOn")).cloned().unwrap_or_else(|| json!(now));
    let created_by = previous.and_then(|p| p.get("createdBy")).cloned().unwrap_or_else(|| json!(caller.object_id));
    let body = json!({
        "tenantId": caller.tenant_id.to_ascii_lowercase(),
        "properties": {
            "roleName": role_name,
            "type": CUSTOM,
            "description": description,
            "assignableScopes": scopes.iter().map(ScopeId::display).collect::<Vec<_>>(),
            "permissions": permissions,
            "createdOn": created_on,
            "updatedOn": now,
            "createdBy": created_by,
            "updatedBy": caller.object_id,
        },
    });
    let row = ResourceRow {
        key: custom_key(&guid),
        id: format!("/providers/Microsoft.Authorization/roleDefinitions/{guid}"),
        type_key: TYPE_KEY.into(),
        subscription: String::new(),
        resource_group: String::new(),
        parent_key: String::new(),
        body,
        etag: String::new(),
        created_at: existing.as_ref().map_or(w.now, |e| e.created_at),
        updated_at: w.now,
    };
    w.tx.put(&row)?;
    Ok((StatusCode::CREATED, Definition::Custom(Box::new(row)).render(scope.subscription())))
}

/// `DELETE {scope}/providers/Microsoft.Authorization/roleDefinitions/{guid}`: 200 with the
/// deleted role, 204 when there is none; refused while assignments use it.
pub fn delete(w: &mut Write<'_>, caller: &Caller, scope: &ScopeId, name: &str) -> ArmResult<(StatusCode, Value)> {
    if !is_guid(name) {
        return Err(invalid_id(name));
    }
    if let Some(b) = builtin::find(name) {
        return Err(built_in_read_only(b));
    }
    scope::ensure_caller_tenant(w.tx, caller, scope, DELETE)?;
    rbac::require(w.tx, caller, DELETE, &scope.display())?;
    let Some(definition) = find(w.tx, &caller.tenant_id, name)? else {
        return Ok((StatusCode::NO_CONTENT, Value::Null));
    };
    let Definition::Custom(row) = &definition else { return Err(ArmError::Internal) };
    let mut checked = HashSet::new();
    let stored: Vec<String> = strings(custom_props(row), "assignableScopes").map(str::to_string).collect();
    for scope_id in stored {
        if checked.insert(scope_id.to_ascii_lowercase()) {
            rbac::require(w.tx, caller, DELETE, &scope_id)?;
        }
    }
    if let Some(assignment) = role_assignments::using_role(w.tx, &definition.guid())?.first() {
        return Err(ArmError::InUse {
            code: "RoleDefinitionHasAssignments",
            message: format!(
                "The role '{}' cannot be deleted: role assignments still reference it, for example '{}'. Delete them first.",
                definition.role_name(),
                assignment.id
            ),
        });
    }
    w.tx.delete(&row.key)?;
    Ok((StatusCode::OK, definition.render(scope.subscription())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_action_patterns() {
        for ok in [
            "*",
            "*/read",
            "Microsoft.Network/*",
            "Microsoft.Network/virtualNetworks/subnets/join/action",
            "Microsoft.Authorization/*/read",
            "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",
        ] {
            assert!(valid_action(ok), "{ok}");
        }
        for bad in [
            "",
            "read",
            "Microsoft.Network",
            "Microsoft.Network/",
            "Microsoft.Network//read",
            "Micro soft.X/y",
            "Microsoft.Network/a b",
            "Network/read",
        ] {
            assert!(!valid_action(bad), "{bad}");
        }
    }

    #[test]
    fn parses_role_definition_filters() {
        assert_eq!(DefinitionFilter::parse("").unwrap(), DefinitionFilter::default());
        assert_eq!(
            DefinitionFilter::parse("roleName eq 'Reader'").unwrap(),
            DefinitionFilter { role_name: Some("Reader".into()), custom: None }
        );
        assert_eq!(
            DefinitionFilter::parse("type eq 'CustomRole' and atScopeAndBelow()").unwrap(),
            DefinitionFilter { role_name: None, custom: Some(true) }
        );
        assert!(DefinitionFilter::parse("type eq 'Other'").is_err());
        assert!(DefinitionFilter::parse("principalId eq 'x'").is_err());
    }

    #[test]
    fn built_ins_render_under_the_scope_subscription() {
        let reader = Definition::Builtin(builtin::find(builtin::READER).unwrap());
        let at_sub = reader.render(Some("S1"));
        assert_eq!(
            at_sub["id"],
            format!("/subscriptions/S1/providers/Microsoft.Authorization/roleDefinitions/{}", builtin::READER)
        );
        assert_eq!(at_sub["properties"]["type"], "BuiltInRole");
        assert_eq!(at_sub["properties"]["permissions"][0]["actions"], json!(["*/read"]));
        assert_eq!(at_sub["properties"]["createdBy"], Value::Null);
        let at_root = reader.render(None);
        assert_eq!(at_root["id"], format!("/providers/Microsoft.Authorization/roleDefinitions/{}", builtin::READER));
        assert!(reader.assignable_at("/subscriptions/s1/resourcegroups/rg"));
    }
}
