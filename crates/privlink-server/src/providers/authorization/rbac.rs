//! Evaluation: whether a caller holds an action at a scope. This runs on every authorized
//! request, so it reads only what it needs: the subscription row (for its tenant), then the
//! assignments stored at each level from the root down to the scope (one indexed prefix scan
//! per level), stopping at the first that grants. Built-in roles are static data; custom roles
//! are read by key.

use privlink_store::{ListQuery, ResourceRow, Scope, Tx};
use serde_json::Value;

use crate::arm::ArmResult;
use crate::identity::Caller;

use super::role_assignments::{self, TYPE_KEY as ASSIGNMENT_TYPE_KEY};
use super::role_definitions::{self, Definition};
use super::scope::denied;
use crate::providers::resources::subscriptions::tenant_of;

/// What follows a scope's key in the keys of the assignments stored at it.
pub const ASSIGNMENTS_INFIX: &str = "/providers/microsoft.authorization/roleassignments/";

/// Whether `caller` holds `action` on `scope_key` (a lower-cased resource id key like
/// "/subscriptions/s/resourcegroups/rg/providers/microsoft.network/virtualnetworks/v/subnets/a";
/// "" or "/" is the root). Assignments count only in the caller's own tenant.
pub fn check(tx: &mut dyn Tx, caller: &Caller, action: &str, scope_key: &str) -> ArmResult<bool> {
    let scope_key = scope_key.trim_end_matches('/').to_ascii_lowercase();
    if !scope_key.is_empty() {
        let Some(subscription) = subscription_of(&scope_key) else { return Ok(false) };
        if !in_callers_tenant(tx, caller, subscription)? {
            return Ok(false);
        }
    }
    let levels = ancestors(&scope_key);
    for level in std::iter::once("").chain(levels.iter().map(String::as_str)) {
        for row in assignments_at(tx, level)? {
            if names_caller(&row, caller, level.is_empty())
                && role_of(tx, caller, &row)?.is_some_and(|r| r.grants(action))
            {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// [`check`], or `AuthorizationFailed` naming `scope_id` (the scope as the client wrote it).
pub fn require(tx: &mut dyn Tx, caller: &Caller, action: &str, scope_id: &str) -> ArmResult<()> {
    if check(tx, caller, action, scope_id)? {
        return Ok(());
    }
    // ARM answers a subscription that does not exist with 404 whoever asks.
    if let Some(subscription) = subscription_of(&scope_id.to_ascii_lowercase()) {
        if tenant_of(tx, subscription)?.is_none() {
            return Err(crate::arm::ArmError::SubscriptionNotFound { subscription: subscription.to_string() });
        }
    }
    let shown = if scope_id.trim_end_matches('/').is_empty() { "/" } else { scope_id };
    Err(denied(caller, action, shown))
}

/// Whether the caller has any role assignment at, above or below the subscription: which
/// subscriptions `GET /subscriptions` lists, and whether a subscription GET is allowed.
pub fn has_any_access(tx: &mut dyn Tx, caller: &Caller, subscription: &str) -> ArmResult<bool> {
    if !in_callers_tenant(tx, caller, subscription)? {
        return Ok(false);
    }
    if assignments_at(tx, "")?.iter().any(|row| names_caller(row, caller, true)) {
        return Ok(true);
    }
    let subscription = subscription.to_ascii_lowercase();
    let mut after = String::new();
    loop {
        let page = tx.list(&ListQuery {
            scope: Scope::Subscription { subscription: &subscription },
            type_key: Some(ASSIGNMENT_TYPE_KEY),
            after: Some(&after),
            limit: 500,
        })?;
        if page.iter().any(|row| names_caller(row, caller, false)) {
            return Ok(true);
        }
        match page.last() {
            Some(last) if page.len() == 500 => after = last.key.clone(),
            _ => return Ok(false),
        }
    }
}

/// The permission blocks of every role the caller holds at the scope or above it (the
/// `Microsoft.Authorization/permissions` API), each role once.
pub fn effective_permissions(tx: &mut dyn Tx, caller: &Caller, scope_key: &str) -> ArmResult<Vec<Value>> {
    let scope_key = scope_key.trim_end_matches('/').to_ascii_lowercase();
    if !scope_key.is_empty() {
        let Some(subscription) = subscription_of(&scope_key) else { return Ok(Vec::new()) };
        if !in_callers_tenant(tx, caller, subscription)? {
            return Ok(Vec::new());
        }
    }
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for level in std::iter::once(String::new()).chain(ancestors(&scope_key)) {
        for row in assignments_at(tx, &level)? {
            if !names_caller(&row, caller, level.is_empty()) {
                continue;
            }
            if let Some(role) = role_of(tx, caller, &row)? {
                if !seen.contains(&role.guid()) {
                    seen.push(role.guid());
                    out.extend(role.permissions_json());
                }
            }
        }
    }
    Ok(out)
}

/// The keys of every scope an assignment can be inherited from, top-down, ending with the scope
/// itself: the subscription, the resource group, then each (nested or extension) resource.
/// The root ("") is not included. Takes a lower-cased key; a malformed tail is ignored.
pub fn ancestors(scope_key: &str) -> Vec<String> {
    let key = scope_key.trim_end_matches('/');
    let segs: Vec<&str> = key.strip_prefix('/').unwrap_or(key).split('/').collect();
    let mut out = Vec::new();
    if segs.len() < 2 || segs[0] != "subscriptions" || segs[1].is_empty() {
        return out;
    }
    let prefix = |n: usize| format!("/{}", segs[..n].join("/"));
    out.push(prefix(2));
    let mut i = 2;
    if segs.get(i) == Some(&"resourcegroups") && segs.get(i + 1).is_some_and(|s| !s.is_empty()) {
        i += 2;
        out.push(prefix(i));
    }
    let mut in_provider = false;
    while i + 1 < segs.len() {
        if segs[i].is_empty() || segs[i + 1].is_empty() {
            break;
        }
        if segs[i] == "providers" {
            // `providers/{namespace}`, then `{type}/{name}` pairs; an extension resource starts
            // another `providers/{namespace}` below a resource.
            in_provider = true;
            i += 2;
            continue;
        }
        if !in_provider {
            break;
        }
        i += 2;
        out.push(prefix(i));
    }
    out
}

/// Whether `pattern` (an action pattern from a role) matches `action`: case-insensitive, `*`
/// matching any run of characters, `/` included.
pub fn matches(pattern: &str, action: &str) -> bool {
    let (p, a) = (pattern.as_bytes(), action.as_bytes());
    let (mut pi, mut ai) = (0, 0);
    // The last `*` seen and the action position it currently covers up to, for backtracking.
    let mut star: Option<(usize, usize)> = None;
    while ai < a.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ai));
            pi += 1;
        } else if pi < p.len() && p[pi].eq_ignore_ascii_case(&a[ai]) {
            pi += 1;
            ai += 1;
        } else if let Some((sp, sa)) = star {
            pi = sp + 1;
            ai = sa + 1;
            star = Some((sp, sa + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// Whether one permissions block grants `action`: one of `actions` matches and none of
/// `not_actions` does.
pub fn grants<S: AsRef<str>>(actions: &[S], not_actions: &[S], action: &str) -> bool {
    actions.iter().any(|p| matches(p.as_ref(), action)) && !not_actions.iter().any(|p| matches(p.as_ref(), action))
}

/// `/subscriptions/{s}/...` → `s`.
fn subscription_of(scope_key: &str) -> Option<&str> {
    let rest = scope_key.strip_prefix("/subscriptions/")?;
    let sub = rest.split('/').next()?;
    (!sub.is_empty()).then_some(sub)
}

fn in_callers_tenant(tx: &mut dyn Tx, caller: &Caller, subscription: &str) -> ArmResult<bool> {
    Ok(tenant_of(tx, subscription)?.is_some_and(|t| t.eq_ignore_ascii_case(&caller.tenant_id)))
}

/// The assignments stored exactly at `level` ("" = the root).
pub(super) fn assignments_at(tx: &mut dyn Tx, level: &str) -> ArmResult<Vec<ResourceRow>> {
    Ok(tx.list_prefix(&format!("{level}{ASSIGNMENTS_INFIX}"))?)
}

/// Whether the assignment names the caller. At the root, where no subscription says which
/// tenant an assignment belongs to, its own `tenantId` must be the caller's.
pub(super) fn names_caller(row: &ResourceRow, caller: &Caller, at_root: bool) -> bool {
    role_assignments::principal_of(row).is_some_and(|p| p.eq_ignore_ascii_case(&caller.object_id))
        && (!at_root
            || row
                .body
                .get("tenantId")
                .and_then(Value::as_str)
                .is_some_and(|t| t.eq_ignore_ascii_case(&caller.tenant_id)))
}

fn role_of(tx: &mut dyn Tx, caller: &Caller, row: &ResourceRow) -> ArmResult<Option<Definition>> {
    match role_assignments::role_guid_of(row) {
        Some(guid) => role_definitions::find(tx, &caller.tenant_id, guid),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::super::builtin::{self, BuiltinRole};
    use super::*;

    fn role(guid: &str) -> &'static BuiltinRole {
        builtin::find(guid).expect("built-in")
    }

    fn holds(guid: &str, action: &str) -> bool {
        let r = role(guid);
        grants(r.actions, r.not_actions, action)
    }

    const PE_WRITE: &str = "Microsoft.Network/privateEndpoints/write";
    const APPROVE: &str = "Microsoft.Storage/storageAccounts/privateEndpointConnectionsApproval/action";
    const ASSIGN: &str = "Microsoft.Authorization/roleAssignments/write";
    const JOIN: &str = "Microsoft.Network/virtualNetworks/subnets/join/action";
    const RG_READ: &str = "Microsoft.Resources/subscriptions/resourceGroups/read";

    #[test]
    fn built_in_roles_grant_what_azure_grants() {
        use builtin::*;
        for action in [PE_WRITE, APPROVE, ASSIGN, JOIN, RG_READ] {
            assert!(holds(OWNER, action), "Owner {action}");
        }
        assert!(holds(CONTRIBUTOR, PE_WRITE));
        assert!(holds(CONTRIBUTOR, APPROVE));
        assert!(holds(CONTRIBUTOR, JOIN));
        assert!(holds(CONTRIBUTOR, RG_READ));
        assert!(!holds(CONTRIBUTOR, ASSIGN));
        assert!(!holds(CONTRIBUTOR, "microsoft.authorization/roleassignments/DELETE"));
        assert!(holds(CONTRIBUTOR, "Microsoft.Authorization/roleAssignments/read"));

        assert!(holds(READER, RG_READ));
        assert!(holds(READER, "Microsoft.Network/virtualNetworks/subnets/read"));
        for action in [PE_WRITE, APPROVE, ASSIGN, JOIN] {
            assert!(!holds(READER, action), "Reader {action}");
        }

        assert!(holds(NETWORK_CONTRIBUTOR, PE_WRITE));
        assert!(holds(NETWORK_CONTRIBUTOR, JOIN));
        assert!(holds(NETWORK_CONTRIBUTOR, RG_READ));
        assert!(!holds(NETWORK_CONTRIBUTOR, APPROVE));
        assert!(!holds(NETWORK_CONTRIBUTOR, ASSIGN));

        assert!(holds(USER_ACCESS_ADMINISTRATOR, ASSIGN));
        assert!(!holds(USER_ACCESS_ADMINISTRATOR, PE_WRITE));
        assert!(holds(STORAGE_ACCOUNT_CONTRIBUTOR, APPROVE));
        assert!(!holds(STORAGE_ACCOUNT_CONTRIBUTOR, PE_WRITE));
        assert!(holds(PRIVATE_DNS_ZONE_CONTRIBUTOR, "Microsoft.Network/privateDnsZones/A/write"));
        assert!(!holds(PRIVATE_DNS_ZONE_CONTRIBUTOR, JOIN));
    }

    #[test]
    fn wildcards_match_any_run_case_insensitively() {
        assert!(matches("*", "anything/at/all"));
        assert!(matches("*/read", "Microsoft.Network/virtualNetworks/subnets/read"));
        assert!(!matches("*/read", "Microsoft.Network/virtualNetworks/write"));
        assert!(!matches("*/read", "Microsoft.Network/virtualNetworks/readx"));
        assert!(matches("Microsoft.Authorization/*/Write", "microsoft.authorization/roleAssignments/write"));
        assert!(matches("Microsoft.Authorization/*/read", "Microsoft.Authorization/a/b/read"));
        assert!(matches("a*b*c", "aXXbYYc"));
        assert!(matches("a*b*c", "abbc"));
        assert!(!matches("a*b*c", "acb"));
        assert!(matches("Microsoft.Network/*", "Microsoft.Network/"));
        assert!(!matches("Microsoft.Network/*", "Microsoft.NetworkX/y"));
        assert!(!matches("", "x"));
        assert!(matches("", ""));
        assert!(matches("**", ""));
    }

    #[test]
    fn ancestors_walk_scope_group_and_each_resource() {
        assert_eq!(ancestors("/subscriptions/s"), ["/subscriptions/s"]);
        assert_eq!(
            ancestors("/subscriptions/s/resourcegroups/rg/"),
            ["/subscriptions/s", "/subscriptions/s/resourcegroups/rg"]
        );
        let rg = "/subscriptions/s/resourcegroups/rg";
        let vnet = format!("{rg}/providers/microsoft.network/virtualnetworks/v");
        let subnet = format!("{vnet}/subnets/a");
        assert_eq!(
            ancestors(&subnet),
            vec!["/subscriptions/s".to_string(), rg.to_string(), vnet.clone(), subnet.clone()]
        );
        // An extension resource sits below the resource it extends.
        let ext = format!("{vnet}/providers/microsoft.insights/diagnosticsettings/d");
        assert_eq!(ancestors(&ext).last(), Some(&ext));
        assert_eq!(ancestors(&ext).len(), 4);
        // A subscription-level provider resource.
        assert_eq!(
            ancestors("/subscriptions/s/providers/microsoft.network/networkwatchers/w"),
            ["/subscriptions/s", "/subscriptions/s/providers/microsoft.network/networkwatchers/w"]
        );
        // Malformed tails stop the walk.
        assert_eq!(ancestors(&format!("{vnet}/subnets")).len(), 3);
        assert_eq!(ancestors("/subscriptions/s/locations/x"), ["/subscriptions/s"]);
        assert!(ancestors("").is_empty());
        assert!(ancestors("/tenants/t").is_empty());
    }
}
