//! Microsoft.Authorization: role definitions, role assignments and their evaluation (RBAC).
//!
//! Unlike the other providers this one does not go through the generic engine: its paths are
//! *extension* paths (`{any scope}/providers/Microsoft.Authorization/...`), its writes are
//! synchronous and carry no ETag or provisioning state, and its errors are its own. The router
//! recognises a path with [`split_path`] and calls [`handle_read`] inside a read transaction or
//! [`handle_write`] inside a write transaction.
//!
//! Storage:
//! - an assignment is a row under its scope's key,
//!   `{scope}/providers/microsoft.authorization/roleassignments/{guid}` (root scope:
//!   `/providers/...`), so deleting the scope's tree deletes it. Its body is
//!   `{"tenantId", "properties": {roleDefinitionId, principalId, principalType, scope, ...}}`.
//!   Note that subscription- and group-wide listings without a type (and `list_prefix` of a
//!   resource's key) therefore see assignment rows too.
//! - a custom role is a tenant-wide row `/providers/microsoft.authorization/roledefinitions/{guid}`
//!   whose body names its tenant. Built-in roles are static data ([`builtin`]).
//!
//! Evaluation ([`rbac::check`]) honours an assignment only when the scope's subscription
//! belongs to the caller's tenant (root-scope assignments: when their own `tenantId` does).
//! Groups, deny assignments, conditions (ABAC) and data actions are not evaluated; creating an
//! assignment with a `condition` is refused (501) rather than silently granting more.

pub mod builtin;
mod filter;
pub mod rbac;
pub mod role_assignments;
pub mod role_definitions;
pub mod scope;

use std::collections::HashMap;

use bytes::Bytes;
use http::{Method, StatusCode};
use privlink_store::{ListQuery, ResourceRow, Scope, Tx};
use serde_json::{json, Map, Value};

use crate::arm::{ArmError, ArmResult};
use crate::identity::Caller;
use crate::providers::Write;

pub use builtin::{
    CONTRIBUTOR, NETWORK_CONTRIBUTOR, OWNER, PRIVATE_DNS_ZONE_CONTRIBUTOR, READER, STORAGE_ACCOUNT_CONTRIBUTOR,
    USER_ACCESS_ADMINISTRATOR,
};
pub use scope::ScopeId;

pub const NAMESPACE: &str = "Microsoft.Authorization";

/// api-versions clients use for these APIs (the Azure CLI: 2022-04-01 for assignments,
/// 2022-05-01-preview for definitions). The shapes served are those of 2022-04-01.
pub const API_VERSIONS: &[&str] = &[
    "2015-07-01",
    "2018-01-01-preview",
    "2018-07-01",
    "2018-09-01-preview",
    "2020-04-01-preview",
    "2020-08-01-preview",
    "2020-10-01-preview",
    "2021-01-01-preview",
    "2022-04-01",
    "2022-05-01-preview",
];

/// Which Microsoft.Authorization collection a path addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collection {
    RoleAssignments,
    RoleDefinitions,
    /// `{scope}/providers/Microsoft.Authorization/permissions`: the caller's own permissions.
    Permissions,
}

/// A request path split at its last `/providers/Microsoft.Authorization/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationPath {
    /// The scope as written, no trailing '/'; "" for the root scope "/".
    pub scope: String,
    pub collection: Collection,
    /// The role assignment or definition name (a GUID); `None` for a list.
    pub name: Option<String>,
}

const MARKER: &str = "/providers/microsoft.authorization/";

/// Split a request path at its last `/providers/Microsoft.Authorization/` (case-insensitive).
/// `None` when the path is not one this module serves: no such segment, another collection
/// (policy assignments, locks, ...), or more segments than `{collection}/{name}`.
pub fn split_path(raw_path: &str) -> Option<AuthorizationPath> {
    let path = raw_path.split('?').next().unwrap_or_default();
    // ASCII lower-casing keeps byte offsets, so an index into `lower` is one into `path`.
    let at = path.to_ascii_lowercase().rfind(MARKER)?;
    let scope = path[..at].trim_end_matches('/');
    // Some clients send the swagger's `/{scope}` with the scope's own leading slash: `//subscriptions`.
    let scope = if scope.is_empty() { String::new() } else { format!("/{}", scope.trim_start_matches('/')) };
    let rest: Vec<&str> = path[at + MARKER.len()..].trim_end_matches('/').split('/').collect();
    let collection = match rest.first().map(|c| c.to_ascii_lowercase()).as_deref() {
        Some("roleassignments") => Collection::RoleAssignments,
        Some("roledefinitions") => Collection::RoleDefinitions,
        Some("permissions") => Collection::Permissions,
        _ => return None,
    };
    let name = match rest.as_slice() {
        [_] => None,
        [_, name] if !name.is_empty() && collection != Collection::Permissions => Some(name.to_string()),
        _ => return None,
    };
    Some(AuthorizationPath { scope, collection, name })
}

/// Serve a GET on an authorization path: one assignment or definition, or a list
/// (`{"value": [...]}`, unpaged). `query` has lower-cased keys (`$filter`), as
/// `crate::arm::parse_query` produces. Assignments need `roleAssignments/read` at the scope;
/// definitions and permissions only that the scope be in the caller's tenant.
pub fn handle_read(
    tx: &mut dyn Tx,
    caller: &Caller,
    path: &AuthorizationPath,
    query: &HashMap<String, String>,
) -> ArmResult<Value> {
    let scope = ScopeId::parse(&path.scope)?;
    let filter = query.get("$filter").map(String::as_str).unwrap_or_default();
    if path.collection == Collection::RoleAssignments {
        // Who holds what is itself protected (Reader and above have it through `*/read`).
        rbac::require(tx, caller, "Microsoft.Authorization/roleAssignments/read", &scope.display())?;
    }
    match (path.collection, path.name.as_deref()) {
        (Collection::RoleAssignments, Some(name)) => role_assignments::get(tx, caller, &scope, name),
        (Collection::RoleAssignments, None) => role_assignments::list(tx, caller, &scope, filter),
        (Collection::RoleDefinitions, Some(name)) => role_definitions::get(tx, caller, &scope, name),
        (Collection::RoleDefinitions, None) => role_definitions::list(tx, caller, &scope, filter),
        (Collection::Permissions, _) => {
            scope::ensure_caller_tenant(tx, caller, &scope, "Microsoft.Authorization/permissions/read")?;
            Ok(json!({ "value": rbac::effective_permissions(tx, caller, &scope.key())? }))
        }
    }
}

/// Serve a PUT or DELETE on an authorization path. Returns the status and the body
/// (`Value::Null` for an empty 204). Writes are synchronous: no operation, no work item.
pub fn handle_write(
    w: &mut Write<'_>,
    caller: &Caller,
    method: &Method,
    path: &AuthorizationPath,
    body: &Bytes,
) -> ArmResult<(StatusCode, Value)> {
    let not_allowed = || ArmError::MethodNotAllowed { method: method.to_string() };
    let Some(name) = path.name.as_deref() else { return Err(not_allowed()) };
    let scope = ScopeId::parse(&path.scope)?;
    match (path.collection, method) {
        (Collection::RoleAssignments, &Method::PUT) => {
            role_assignments::put(w, caller, &scope, name, &body_object(body)?)
        }
        (Collection::RoleAssignments, &Method::DELETE) => role_assignments::delete(w, caller, &scope, name),
        (Collection::RoleDefinitions, &Method::PUT) => {
            role_definitions::put(w, caller, &scope, name, &body_object(body)?)
        }
        (Collection::RoleDefinitions, &Method::DELETE) => role_definitions::delete(w, caller, &scope, name),
        _ => Err(not_allowed()),
    }
}

/// An assignment row for bootstrap and admin code (e.g. Owner for the administrator at the
/// default subscription), created by `created_by` at `now_ms`. `scope_id` is a subscription,
/// resource group or resource id, or "/" for the root; a root-scope row only counts once given
/// a tenant with [`role_assignments::with_tenant`].
pub fn assignment_row(
    scope_id: &str,
    name: &str,
    role_guid: &str,
    principal_id: &str,
    principal_type: &str,
    created_by: &str,
    now_ms: i64,
) -> ArmResult<ResourceRow> {
    let scope = ScopeId::parse(scope_id)?;
    let role_id = role_definition_id(scope.subscription(), role_guid);
    Ok(role_assignments::row(
        &scope,
        name,
        &role_id,
        principal_id,
        principal_type,
        None,
        (created_by, now_ms),
        (created_by, now_ms),
    ))
}

/// A role definition's id as ARM renders it: under the subscription when there is one,
/// tenant-level otherwise.
pub fn role_definition_id(subscription: Option<&str>, guid: &str) -> String {
    match subscription {
        Some(s) => format!("/subscriptions/{s}/providers/Microsoft.Authorization/roleDefinitions/{guid}"),
        None => format!("/providers/Microsoft.Authorization/roleDefinitions/{guid}"),
    }
}

/// A GUID in its hyphenated 8-4-4-4-12 form (either case), as role names must be.
pub fn is_guid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

fn body_object(body: &Bytes) -> ArmResult<Map<String, Value>> {
    let invalid = |why: String| ArmError::InvalidRequestContent {
        message: format!("The request content was invalid and could not be deserialized: {why}."),
    };
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(invalid("the body is empty".into()));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(invalid(format!("expected a JSON object, found {}", crate::arm::json::kind(&other)))),
        Err(e) => Err(invalid(e.to_string())),
    }
}

/// Every row of `type_key` in `scope`, page by page.
pub(crate) fn list_all(tx: &mut dyn Tx, scope: Scope<'_>, type_key: &str) -> ArmResult<Vec<ResourceRow>> {
    const PAGE: usize = 500;
    let mut out: Vec<ResourceRow> = Vec::new();
    loop {
        let after = out.last().map(|r| r.key.clone()).unwrap_or_default();
        let page = tx.list(&ListQuery { scope, type_key: Some(type_key), after: Some(&after), limit: PAGE })?;
        let done = page.len() < PAGE;
        out.extend(page);
        if done {
            return Ok(out);
        }
    }
}

#[cfg(test)]
mod tests;
