//! Managed identities: the `identity` block of resources that declare one (system-assigned,
//! user-assigned or both) and which identity a token request acts as.
//!
//! A system-assigned identity lives and dies with its resource; its principal id stays stable
//! across PUTs. A user-assigned identity is a resource of its own
//! (`Microsoft.ManagedIdentity/userAssignedIdentities`) attached by id.

use privlink_store::{ResourceRow, Tx};
use serde_json::{json, Map, Value};

use super::tokens::Subject;
use super::PrincipalKind;
use crate::arm::{ArmError, ArmResult, ResourceId};
use crate::providers::resources::subscriptions::tenant_of;
use crate::providers::Write;

pub const USER_ASSIGNED_TYPE_KEY: &str = "microsoft.managedidentity/userassignedidentities";
const ASSIGN_ACTION: &str = "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action";

/// Validate the `identity` of a PUT body and return what to store (None: no identity).
pub fn apply(
    w: &mut Write<'_>,
    id: &ResourceId,
    existing: Option<&ResourceRow>,
    given: &Value,
) -> ArmResult<Option<Value>> {
    let Value::Object(given) = given else {
        return Err(ArmError::wrong_type("identity", "an object"));
    };
    let kind = given.get("type").and_then(Value::as_str).unwrap_or("None");
    let normalized: String = kind.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_lowercase();
    let (system, user) = match normalized.as_str() {
        "none" => (false, false),
        "systemassigned" => (true, false),
        "userassigned" => (false, true),
        "systemassigned,userassigned" => (true, true),
        _ => {
            return Err(ArmError::invalid_at(
                "InvalidIdentityType",
                "identity.type",
                format!("The identity type '{kind}' is not valid: use None, SystemAssigned, UserAssigned or 'SystemAssigned, UserAssigned'."),
            ))
        }
    };
    let previous = existing.and_then(|e| e.body.get("identity"));
    let tenant = tenant_of(w.tx, &id.subscription)?.unwrap_or_default();
    let mut out = Map::new();
    out.insert(
        "type".into(),
        json!(match (system, user) {
            (false, false) => return Ok(None),
            (true, false) => "SystemAssigned",
            (false, true) => "UserAssigned",
            (true, true) => "SystemAssigned, UserAssigned",
        }),
    );
    if system {
        // Stable across PUTs: the same identity until it is switched off.
        let keep = |field: &str| previous.and_then(|p| p.get(field)).and_then(Value::as_str).map(str::to_string);
        let principal = keep("principalId").unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let client = keep("clientId").unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        out.insert("principalId".into(), json!(principal));
        out.insert("clientId".into(), json!(client));
        out.insert("tenantId".into(), json!(tenant));
    }
    let listed = given.get("userAssignedIdentities");
    match (user, listed) {
        (true, Some(Value::Object(map))) if !map.is_empty() => {
            let mut attached = Map::new();
            for identity_id in map.keys() {
                let (uid, row) = crate::providers::referenced(
                    w,
                    identity_id,
                    "Microsoft.ManagedIdentity/userAssignedIdentities",
                    id,
                )
                .map_err(|_| {
                    ArmError::invalid_at(
                        "InvalidUserAssignedIdentity",
                        "identity.userAssignedIdentities",
                        format!("The user-assigned identity '{identity_id}' does not exist."),
                    )
                })?;
                w.require_linked(&format!("{}/write", id.type_name()), id, ASSIGN_ACTION, &uid)?;
                let props = crate::providers::properties(&row);
                attached.insert(
                    row.id.clone(),
                    json!({ "principalId": props.get("principalId"), "clientId": props.get("clientId") }),
                );
            }
            out.insert("userAssignedIdentities".into(), Value::Object(attached));
        }
        (true, _) => {
            return Err(ArmError::invalid_at(
                "InvalidIdentityValues",
                "identity.userAssignedIdentities",
                "The identity type includes UserAssigned, so userAssignedIdentities must name at least one identity.",
            ))
        }
        (false, Some(Value::Object(map))) if !map.is_empty() => {
            return Err(ArmError::invalid_at(
                "InvalidIdentityValues",
                "identity.userAssignedIdentities",
                "userAssignedIdentities is only allowed when the identity type includes UserAssigned.",
            ))
        }
        _ => {}
    }
    Ok(Some(Value::Object(out)))
}

/// The `identity` block as ARM renders it (a system-assigned identity's client id is not shown).
pub fn render(stored: &Value) -> Value {
    let mut out = stored.clone();
    if let Value::Object(map) = &mut out {
        map.remove("clientId");
    }
    out
}

/// Which of a resource's identities a token request names (`client_id`, `principal_id` /
/// `object_id`, `mi_res_id`); none means the system-assigned one.
#[derive(Debug, Default, Clone)]
pub struct Selector {
    pub client_id: Option<String>,
    pub principal_id: Option<String>,
    pub resource_id: Option<String>,
}

impl Selector {
    fn is_empty(&self) -> bool {
        self.client_id.is_none() && self.principal_id.is_none() && self.resource_id.is_none()
    }

    fn matches(&self, resource_id: &str, principal: &str, client: &str) -> bool {
        let eq = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w.eq_ignore_ascii_case(have));
        eq(&self.client_id, client) && eq(&self.principal_id, principal) && eq(&self.resource_id, resource_id)
    }
}

/// The identity `selector` picks among those of the resource `resource_key` (the incarnation
/// created at `created_at`).
pub fn resolve(tx: &mut dyn Tx, resource_key: &str, created_at: i64, selector: &Selector) -> Result<Subject, String> {
    let row = tx
        .get(resource_key)
        .map_err(|_| "the store could not be read".to_string())?
        .filter(|row| row.created_at == created_at)
        .ok_or_else(|| format!("the resource '{resource_key}' the identity header was issued for no longer exists"))?;
    let tenant = tenant_of(tx, &row.subscription).map_err(|e| e.to_string())?.unwrap_or_default();
    let subject = |principal: &str, client: &str, mi: &str| Subject {
        tenant_id: tenant.clone(),
        object_id: principal.to_ascii_lowercase(),
        client_id: client.to_ascii_lowercase(),
        kind: PrincipalKind::ManagedIdentity,
        upn: None,
        display_name: None,
        mi_resource_id: Some(mi.to_string()),
        admin: false,
    };
    let str_of = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    if row.type_key == USER_ASSIGNED_TYPE_KEY {
        let props = crate::providers::properties(&row);
        let (principal, client) = (
            props.get("principalId").and_then(Value::as_str).unwrap_or(""),
            props.get("clientId").and_then(Value::as_str).unwrap_or(""),
        );
        return if selector.matches(&row.id, principal, client) {
            Ok(subject(principal, client, &row.id))
        } else {
            Err("the requested identity is not this user-assigned identity".into())
        };
    }
    let identity = row.body.get("identity").cloned().unwrap_or(Value::Null);
    if selector.is_empty() {
        let principal = str_of(&identity, "principalId");
        if principal.is_empty() {
            return Err(format!("'{}' has no system-assigned identity; name a user-assigned one with client_id, principal_id or mi_res_id", row.id));
        }
        return Ok(subject(&principal, &str_of(&identity, "clientId"), &row.id));
    }
    let principal = str_of(&identity, "principalId");
    if !principal.is_empty() && selector.matches(&row.id, &principal, &str_of(&identity, "clientId")) {
        return Ok(subject(&principal, &str_of(&identity, "clientId"), &row.id));
    }
    if let Some(Value::Object(attached)) = identity.get("userAssignedIdentities") {
        for uid in attached.keys() {
            // The identity as it is now: a deleted one issues no more tokens.
            let Some(current) =
                tx.get(&uid.to_ascii_lowercase()).map_err(|_| "the store could not be read".to_string())?
            else {
                continue;
            };
            let props = Value::Object(crate::providers::properties(&current).clone());
            if selector.matches(uid, &str_of(&props, "principalId"), &str_of(&props, "clientId")) {
                return Ok(subject(&str_of(&props, "principalId"), &str_of(&props, "clientId"), uid));
            }
        }
    }
    Err(format!("no identity of '{}' matches the request", row.id))
}
