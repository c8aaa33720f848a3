//! Role assignments: rows stored under their scope's key
//! (`{scope}/providers/microsoft.authorization/roleassignments/{guid}`), so that removing a
//! scope's tree removes its assignments, and so that the assignments at one scope are one
//! prefix scan away for `rbac::check`.

use std::collections::{HashMap, HashSet};

use http::StatusCode;
use privlink_store::{ResourceRow, Scope, Tx};
use serde_json::{json, Map, Value};

use crate::arm::json::Obj;
use crate::arm::{rfc3339, ArmError, ArmResult};
use crate::identity::Caller;
use crate::providers::Write;

use super::filter::{self, Clause};
use super::rbac::{self, ASSIGNMENTS_INFIX};
use super::role_definitions;
use super::scope::{self, ScopeId};
use super::{is_guid, list_all};

pub const TYPE: &str = "Microsoft.Authorization/roleAssignments";
pub const TYPE_KEY: &str = "microsoft.authorization/roleassignments";
pub const READ: &str = "Microsoft.Authorization/roleAssignments/read";
pub const WRITE: &str = "Microsoft.Authorization/roleAssignments/write";
pub const DELETE: &str = "Microsoft.Authorization/roleAssignments/delete";

const PRINCIPAL_TYPES: &[&str] = &["User", "ServicePrincipal", "Group", "ForeignGroup", "Device"];
const DEFAULT_PRINCIPAL_TYPE: &str = "ServicePrincipal";

/// Build an assignment row. `scope_id` is "" or "/" for the root; a root-scope row counts only
/// once its body carries a `tenantId` (see [`with_tenant`]).
#[allow(clippy::too_many_arguments)]
pub fn row(
    scope: &ScopeId,
    name: &str,
    role_definition_id: &str,
    principal_id: &str,
    principal_type: &str,
    description: Option<&str>,
    created: (&str, i64),
    updated: (&str, i64),
) -> ResourceRow {
    let id = format!("{}/providers/Microsoft.Authorization/roleAssignments/{name}", scope.id());
    let (created_by, created_at) = created;
    let (updated_by, updated_at) = updated;
    ResourceRow {
        key: id.to_ascii_lowercase(),
        id,
        type_key: TYPE_KEY.into(),
        subscription: scope.subscription().unwrap_or_default().to_ascii_lowercase(),
        resource_group: scope.resource_group().unwrap_or_default().to_ascii_lowercase(),
        parent_key: String::new(),
        body: json!({
            "properties": {
                "roleDefinitionId": role_definition_id,
                "principalId": principal_id.to_ascii_lowercase(),
                "principalType": principal_type,
                "scope": scope.display(),
                "description": description,
                "condition": null,
                "conditionVersion": null,
                "createdOn": rfc3339(created_at),
                "updatedOn": rfc3339(updated_at),
                "createdBy": created_by,
                "updatedBy": updated_by,
            }
        }),
        etag: String::new(),
        created_at,
        updated_at,
    }
}

/// Record the tenant an assignment belongs to (what makes a root-scope assignment count).
pub fn with_tenant(mut row: ResourceRow, tenant_id: &str) -> ResourceRow {
    if let Value::Object(body) = &mut row.body {
        body.insert("tenantId".into(), json!(tenant_id.to_ascii_lowercase()));
    }
    row
}

fn props_of(row: &ResourceRow) -> &Map<String, Value> {
    crate::providers::properties(row)
}

/// The principal an assignment names.
pub fn principal_of(row: &ResourceRow) -> Option<&str> {
    props_of(row).get("principalId").and_then(Value::as_str)
}

/// The GUID at the end of the assignment's `roleDefinitionId`.
pub fn role_guid_of(row: &ResourceRow) -> Option<&str> {
    props_of(row).get("roleDefinitionId").and_then(Value::as_str).and_then(|id| id.rsplit('/').next())
}

/// The lower-cased key of the assignment's scope ("" = the root).
pub fn scope_key_of(row: &ResourceRow) -> String {
    row.key.rfind(ASSIGNMENTS_INFIX).map(|i| row.key[..i].to_string()).unwrap_or_default()
}

/// The assignment's scope as rendered.
pub fn scope_display_of(row: &ResourceRow) -> String {
    props_of(row).get("scope").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| "/".into())
}

fn name_of(row: &ResourceRow) -> &str {
    row.id.rsplit('/').next().unwrap_or_default()
}

pub fn render(row: &ResourceRow) -> Value {
    let p = props_of(row);
    let field = |k: &str| p.get(k).cloned().unwrap_or(Value::Null);
    json!({
        "id": row.id,
        "name": name_of(row),
        "type": TYPE,
        "properties": {
            "roleDefinitionId": field("roleDefinitionId"),
            "principalId": field("principalId"),
            "principalType": field("principalType"),
            "scope": field("scope"),
            "condition": field("condition"),
            "conditionVersion": field("conditionVersion"),
            "description": field("description"),
            "createdOn": field("createdOn"),
            "updatedOn": field("updatedOn"),
            "createdBy": field("createdBy"),
            "updatedBy": field("updatedBy"),
            "delegatedManagedIdentityResourceId": null,
        }
    })
}

/// Every assignment (of any tenant) that uses the role `guid`.
pub fn using_role(tx: &mut dyn Tx, guid: &str) -> ArmResult<Vec<ResourceRow>> {
    let mut rows = list_all(tx, Scope::All, TYPE_KEY)?;
    rows.retain(|row| role_guid_of(row).is_some_and(|g| g.eq_ignore_ascii_case(guid)));
    Ok(rows)
}

fn invalid_name(name: &str) -> ArmError {
    ArmError::invalid(
        "InvalidRoleAssignmentId",
        format!("The role assignment ID '{name}' is not valid. The role assignment ID must be a GUID."),
    )
}

fn not_found(name: &str, scope: &ScopeId) -> ArmError {
    ArmError::ResourceNotFound {
        type_name: TYPE.into(),
        name: name.to_string(),
        resource_group: scope.resource_group().map(str::to_string),
    }
}

fn key_at(scope: &ScopeId, name: &str) -> String {
    format!("{}{ASSIGNMENTS_INFIX}{}", scope.key(), name.to_ascii_lowercase())
}

/// `GET {scope}/providers/Microsoft.Authorization/roleAssignments/{guid}`.
pub fn get(tx: &mut dyn Tx, caller: &Caller, scope: &ScopeId, name: &str) -> ArmResult<Value> {
    scope::ensure_caller_tenant(tx, caller, scope, READ)?;
    if !is_guid(name) {
        return Err(not_found(name, scope));
    }
    let row = tx
        .get(&key_at(scope, name))?
        .filter(|row| visible_at_root(row, caller))
        .ok_or_else(|| not_found(name, scope))?;
    Ok(render(&row))
}

/// Root-scope assignments belong to the tenant recorded on them; others to their subscription's.
fn visible_at_root(row: &ResourceRow, caller: &Caller) -> bool {
    !row.key.starts_with("/providers/")
        || row.body.get("tenantId").and_then(Value::as_str).is_some_and(|t| t.eq_ignore_ascii_case(&caller.tenant_id))
}

/// What a role assignment list's `$filter` asks for.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct AssignmentFilter {
    /// `atScope()`: only the scope and its ancestors, not what lies below.
    pub at_scope: bool,
    /// `principalId eq '{id}'` / `assignedTo('{id}')`, lower-cased.
    pub principal: Option<String>,
}

impl AssignmentFilter {
    pub fn parse(text: &str) -> ArmResult<AssignmentFilter> {
        let bad = |why: String| {
            ArmError::invalid(
                "InvalidFilter",
                format!("The $filter '{text}' is not supported: {why}. Supported: atScope(), principalId eq '{{id}}', assignedTo('{{id}}'), joined with 'and'."),
            )
        };
        let mut out = AssignmentFilter::default();
        for clause in filter::parse(text).map_err(bad)? {
            let principal = match clause {
                Clause::Call { name, arg: None } if name.eq_ignore_ascii_case("atScope") => {
                    out.at_scope = true;
                    continue;
                }
                Clause::Call { name, arg: Some(id) } if name.eq_ignore_ascii_case("assignedTo") => id,
                Clause::Eq { field, value } if field.eq_ignore_ascii_case("principalId") => value,
                other => return Err(bad(format!("'{other}' is not understood"))),
            };
            let principal = principal.to_ascii_lowercase();
            if out.principal.as_ref().is_some_and(|p| *p != principal) {
                return Err(bad("it names two different principals".into()));
            }
            out.principal = Some(principal);
        }
        Ok(out)
    }
}

/// `GET {scope}/providers/Microsoft.Authorization/roleAssignments`: the assignments at the
/// scope and inherited from above it, and (without `atScope()`) those below it, in the caller's
/// tenant.
pub fn list(tx: &mut dyn Tx, caller: &Caller, scope: &ScopeId, filter_text: &str) -> ArmResult<Value> {
    let filter = AssignmentFilter::parse(filter_text)?;
    scope::ensure_caller_tenant(tx, caller, scope, READ)?;
    scope::ensure_exists(tx, scope)?;
    let scope_key = scope.key();
    let mut rows = Vec::new();
    for level in std::iter::once(String::new()).chain(rbac::ancestors(&scope_key)) {
        rows.extend(rbac::assignments_at(tx, &level)?);
    }
    if !filter.at_scope {
        rows.extend(below(tx, caller, scope)?);
    }
    let mut seen = HashSet::new();
    let value: Vec<Value> = rows
        .iter()
        .filter(|row| seen.insert(row.key.clone()))
        .filter(|row| visible_at_root(row, caller))
        .filter(|row| {
            filter.principal.as_deref().is_none_or(|p| principal_of(row).is_some_and(|q| q.eq_ignore_ascii_case(p)))
        })
        .map(render)
        .collect();
    Ok(json!({ "value": value }))
}

/// The assignments at or below the scope.
fn below(tx: &mut dyn Tx, caller: &Caller, scope: &ScopeId) -> ArmResult<Vec<ResourceRow>> {
    let ScopeId::Resource(id) = scope else {
        // Below the root: every subscription of the caller's tenant.
        let mut in_tenant: HashMap<String, bool> = HashMap::new();
        let mut out = Vec::new();
        for row in list_all(tx, Scope::All, TYPE_KEY)? {
            if row.subscription.is_empty() {
                continue;
            }
            let ok = match in_tenant.get(&row.subscription) {
                Some(ok) => *ok,
                None => {
                    let ok = crate::providers::resources::subscriptions::tenant_of(tx, &row.subscription)?
                        .is_some_and(|t| t.eq_ignore_ascii_case(&caller.tenant_id));
                    in_tenant.insert(row.subscription.clone(), ok);
                    ok
                }
            };
            if ok {
                out.push(row);
            }
        }
        return Ok(out);
    };
    let subscription = id.subscription.to_ascii_lowercase();
    match (&id.resource_group, &id.provider) {
        (None, None) => list_all(tx, Scope::Subscription { subscription: &subscription }, TYPE_KEY),
        (Some(rg), None) => {
            let rg = rg.to_ascii_lowercase();
            list_all(tx, Scope::ResourceGroup { subscription: &subscription, resource_group: &rg }, TYPE_KEY)
        }
        (_, Some(_)) => {
            let mut rows = tx.list_prefix(&format!("{}/", scope.key()))?;
            rows.retain(|row| row.type_key == TYPE_KEY);
            Ok(rows)
        }
    }
}

/// The GUID of a `roleDefinitionId` such as
/// `/subscriptions/{s}/providers/Microsoft.Authorization/roleDefinitions/{guid}`.
pub fn parse_role_definition_id(id: &str) -> Option<&str> {
    const INFIX: &str = "/providers/microsoft.authorization/roledefinitions/";
    let at = id.to_ascii_lowercase().rfind(INFIX)?;
    let prefix = &id[..at];
    let guid = &id[at + INFIX.len()..];
    (is_guid(guid) && ScopeId::parse(prefix).is_ok()).then_some(guid)
}

/// `PUT {scope}/providers/Microsoft.Authorization/roleAssignments/{guid}`: 201 when created,
/// 200 when the same assignment is PUT again.
pub fn put(
    w: &mut Write<'_>,
    caller: &Caller,
    scope: &ScopeId,
    name: &str,
    body: &Map<String, Value>,
) -> ArmResult<(StatusCode, Value)> {
    if !is_guid(name) {
        return Err(invalid_name(name));
    }
    scope::ensure_caller_tenant(w.tx, caller, scope, WRITE)?;
    rbac::require(w.tx, caller, WRITE, &scope.display())?;
    scope::ensure_exists(w.tx, scope)?;

    let props_map = Obj::new(body, "").obj("properties")?.ok_or_else(|| ArmError::InvalidRequestContent {
        message: "The request content must be a role assignment: {\"properties\": {\"roleDefinitionId\": ..., \"principalId\": ...}}.".into(),
    })?;
    let props = Obj::new(props_map, "properties");
    let role_definition_id = props.str("roleDefinitionId")?.ok_or_else(|| {
        ArmError::invalid_at(
            "InvalidRoleDefinitionId",
            "properties.roleDefinitionId",
            "A role assignment needs 'properties.roleDefinitionId'.",
        )
    })?;
    let role_guid = parse_role_definition_id(role_definition_id).ok_or_else(|| {
        ArmError::invalid_at(
            "InvalidRoleDefinitionId",
            "properties.roleDefinitionId",
            format!("The role definition ID '{role_definition_id}' is not valid. Expected '/subscriptions/{{subscriptionId}}/providers/Microsoft.Authorization/roleDefinitions/{{guid}}' or '/providers/Microsoft.Authorization/roleDefinitions/{{guid}}'."),
        )
    })?;
    let principal_id = props.str("principalId")?.filter(|p| is_guid(p)).ok_or_else(|| {
        ArmError::invalid_at(
            "InvalidPrincipalId",
            "properties.principalId",
            "A valid principal ID (a GUID) must be provided for role assignment.",
        )
    })?;
    let principal_id = principal_id.to_ascii_lowercase();
    let principal_type = props.one_of("principalType", PRINCIPAL_TYPES)?.unwrap_or(DEFAULT_PRINCIPAL_TYPE);
    let description = props.str("description")?;
    if props.get("condition").is_some() {
        // Unevaluated conditions would grant more than the client asked for.
        return Err(ArmError::NotImplemented { what: "role assignment conditions (ABAC)".into() });
    }

    let scope_key = scope.key();
    let definition = role_definitions::find(w.tx, &caller.tenant_id, role_guid)?.ok_or_else(|| {
        ArmError::invalid_at(
            "RoleDefinitionDoesNotExist",
            "properties.roleDefinitionId",
            format!("The specified role definition with ID '{role_guid}' does not exist."),
        )
    })?;
    if !definition.assignable_at(&scope_key) {
        return Err(ArmError::invalid_at(
            "RoleDefinitionNotAssignableAtScope",
            "properties.roleDefinitionId",
            format!("The role '{}' cannot be assigned at '{}': it is not one of the role's assignable scopes nor below one.", definition.role_name(), scope.display()),
        ));
    }
    let same = |row: &ResourceRow| {
        principal_of(row).is_some_and(|p| p.eq_ignore_ascii_case(&principal_id))
            && role_guid_of(row).is_some_and(|g| g.eq_ignore_ascii_case(role_guid))
    };

    let key = key_at(scope, name);
    let existing = w.tx.get(&key)?;
    if let Some(row) = &existing {
        if !same(row) {
            return Err(ArmError::Conflict {
                code: "RoleAssignmentUpdateNotPermitted",
                message: format!(
                    "The role assignment '{name}' already exists with principal '{}' and role definition '{}'; the principal, role definition and scope of an assignment cannot be updated. Delete it and create a new one.",
                    principal_of(row).unwrap_or_default(),
                    role_guid_of(row).unwrap_or_default()
                ),
            });
        }
    }
    for other in rbac::assignments_at(w.tx, &scope_key)? {
        if other.key != key && same(&other) && visible_at_root(&other, caller) {
            return Err(ArmError::Conflict {
                code: "RoleAssignmentExists",
                message: format!(
                    "The role assignment already exists. The ID of the existing role assignment is {}.",
                    name_of(&other)
                ),
            });
        }
    }

    let created = existing.as_ref().map_or((caller.object_id.clone(), w.now), |e| {
        let by = props_of(e).get("createdBy").and_then(Value::as_str).unwrap_or_default().to_string();
        (by, e.created_at)
    });
    let new_row = with_tenant(
        row(
            scope,
            name,
            role_definition_id,
            &principal_id,
            principal_type,
            description,
            (&created.0, created.1),
            (&caller.object_id, w.now),
        ),
        &caller.tenant_id,
    );
    w.tx.put(&new_row)?;
    let status = if existing.is_some() { StatusCode::OK } else { StatusCode::CREATED };
    Ok((status, render(&new_row)))
}

/// `DELETE {scope}/providers/Microsoft.Authorization/roleAssignments/{guid}`: 200 with the
/// deleted assignment, 204 when there is none.
pub fn delete(w: &mut Write<'_>, caller: &Caller, scope: &ScopeId, name: &str) -> ArmResult<(StatusCode, Value)> {
    if !is_guid(name) {
        return Err(invalid_name(name));
    }
    scope::ensure_caller_tenant(w.tx, caller, scope, DELETE)?;
    rbac::require(w.tx, caller, DELETE, &scope.display())?;
    match w.tx.get(&key_at(scope, name))?.filter(|row| visible_at_root(row, caller)) {
        None => Ok((StatusCode::NO_CONTENT, Value::Null)),
        Some(row) => {
            w.tx.delete(&row.key)?;
            Ok((StatusCode::OK, render(&row)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_assignment_filters() {
        assert_eq!(AssignmentFilter::parse("").unwrap(), AssignmentFilter::default());
        assert_eq!(AssignmentFilter::parse("atScope()").unwrap(), AssignmentFilter { at_scope: true, principal: None });
        let p = "C0FFEE00-0000-0000-0000-000000000001";
        let expected = AssignmentFilter { at_scope: false, principal: Some(p.to_ascii_lowercase()) };
        assert_eq!(AssignmentFilter::parse(&format!("principalId eq '{p}'")).unwrap(), expected);
        assert_eq!(AssignmentFilter::parse(&format!("assignedTo('{p}')")).unwrap(), expected);
        assert_eq!(
            AssignmentFilter::parse(&format!("atScope() and assignedTo('{p}')")).unwrap(),
            AssignmentFilter { at_scope: true, principal: Some(p.to_ascii_lowercase()) }
        );
        assert!(AssignmentFilter::parse("roleName eq 'Reader'").is_err());
        assert!(AssignmentFilter::parse("principalId eq 'a' and principalId eq 'b'").is_err());
        assert!(AssignmentFilter::parse("atScope('x')").is_err());
    }

    #[test]
    fn role_definition_ids_resolve_to_their_guid() {
        let g = super::super::builtin::READER;
        assert_eq!(
            parse_role_definition_id(&format!(
                "/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/{g}"
            )),
            Some(g)
        );
        assert_eq!(
            parse_role_definition_id(&format!("/providers/microsoft.authorization/ROLEDEFINITIONS/{g}")),
            Some(g)
        );
        assert_eq!(parse_role_definition_id(g), None);
        assert_eq!(parse_role_definition_id("/providers/Microsoft.Authorization/roleDefinitions/reader"), None);
        assert_eq!(
            parse_role_definition_id(&format!("/nonsense/providers/Microsoft.Authorization/roleDefinitions/{g}")),
            None
        );
    }
}
