//! The scope an authorization request addresses (`/`, a subscription, a resource group or a
//! resource), and the checks every handler makes on it.

use privlink_store::Tx;

use crate::arm::{ArmError, ArmResult, ResourceId};
use crate::identity::Caller;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeId {
    /// `/`: the tenant root.
    Root,
    Resource(ResourceId),
}

impl ScopeId {
    /// Parse a scope as it appears before `/providers/Microsoft.Authorization/` ("" or "/" is the root).
    pub fn parse(scope: &str) -> ArmResult<ScopeId> {
        let trimmed = scope.trim_end_matches('/');
        if trimmed.is_empty() {
            return Ok(ScopeId::Root);
        }
        if trimmed.to_ascii_lowercase().starts_with("/providers/microsoft.management/") {
            return Err(ArmError::NotImplemented { what: "management group scopes".into() });
        }
        ResourceId::parse(trimmed).map(ScopeId::Resource).ok_or_else(|| invalid_scope(scope))
    }

    /// The scope's id as rendered inside other ids: "" for the root.
    pub fn id(&self) -> String {
        match self {
            ScopeId::Root => String::new(),
            ScopeId::Resource(id) => id.to_string(),
        }
    }

    /// The lower-cased id ("" for the root): the prefix of the keys stored under it.
    pub fn key(&self) -> String {
        self.id().to_ascii_lowercase()
    }

    /// How ARM writes the scope in `properties.scope` and in error messages: "/" for the root.
    pub fn display(&self) -> String {
        match self {
            ScopeId::Root => "/".into(),
            ScopeId::Resource(id) => id.to_string(),
        }
    }

    pub fn subscription(&self) -> Option<&str> {
        match self {
            ScopeId::Root => None,
            ScopeId::Resource(id) => Some(&id.subscription),
        }
    }

    pub fn resource_group(&self) -> Option<&str> {
        match self {
            ScopeId::Root => None,
            ScopeId::Resource(id) => id.resource_group.as_deref(),
        }
    }
}

pub fn invalid_scope(scope: &str) -> ArmError {
    ArmError::invalid(
        "InvalidScope",
        format!("The scope '{scope}' is not valid. A scope is '/', '/subscriptions/{{subscriptionId}}', '/subscriptions/{{subscriptionId}}/resourceGroups/{{resourceGroupName}}' or the id of a resource."),
    )
}

/// The scope's subscription exists and belongs to the caller's tenant; otherwise
/// `SubscriptionNotFound`, or `AuthorizationFailed` for `action` (a principal of another tenant
/// holds nothing here, as ARM refuses its token). The root is every tenant's.
pub fn ensure_caller_tenant(tx: &mut dyn Tx, caller: &Caller, scope: &ScopeId, action: &str) -> ArmResult<()> {
    let Some(subscription) = scope.subscription() else { return Ok(()) };
    match crate::providers::resources::subscriptions::tenant_of(tx, subscription)? {
        None => Err(ArmError::SubscriptionNotFound { subscription: subscription.to_string() }),
        Some(tenant) if tenant.eq_ignore_ascii_case(&caller.tenant_id) => Ok(()),
        Some(_) => Err(denied(caller, action, &scope.display())),
    }
}

pub fn denied(caller: &Caller, action: &str, scope: &str) -> ArmError {
    ArmError::AuthorizationFailed {
        client: caller.display.clone(),
        object_id: caller.object_id.clone(),
        action: action.to_string(),
        scope: scope.to_string(),
    }
}

/// The resource group or resource the scope names exists (the subscription is checked by
/// [`ensure_caller_tenant`]).
pub fn ensure_exists(tx: &mut dyn Tx, scope: &ScopeId) -> ArmResult<()> {
    let ScopeId::Resource(id) = scope else { return Ok(()) };
    if let Some(rg) = &id.resource_group {
        let rg_key = ResourceId::resource_group(&id.subscription, rg).key();
        if tx.get(&rg_key)?.is_none() {
            return Err(ArmError::ResourceGroupNotFound { resource_group: rg.clone() });
        }
    }
    let Some(provider) = &id.provider else { return Ok(()) };
    if tx.get(&id.key())?.is_some() {
        return Ok(());
    }
    // ARM names a nested resource by its whole type/name path.
    let mut type_name = provider.namespace.clone();
    let last = provider.pairs.len().saturating_sub(1);
    for (i, (ty, name)) in provider.pairs.iter().enumerate() {
        type_name.push('/');
        type_name.push_str(ty);
        if i < last {
            type_name.push('/');
            type_name.push_str(name);
        }
    }
    Err(ArmError::ResourceNotFound {
        type_name,
        name: id.name().to_string(),
        resource_group: id.resource_group.clone(),
    })
}

/// Whether `inner` is `outer` or below it (both lower-cased keys; "" is the root).
pub fn is_at_or_below(inner: &str, outer: &str) -> bool {
    outer.is_empty() || inner == outer || (inner.starts_with(outer) && inner.as_bytes().get(outer.len()) == Some(&b'/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_scopes() {
        assert_eq!(ScopeId::parse("").unwrap(), ScopeId::Root);
        assert_eq!(ScopeId::parse("/").unwrap(), ScopeId::Root);
        let rg = ScopeId::parse("/subscriptions/S1/resourcegroups/RG/").unwrap();
        assert_eq!(rg.id(), "/subscriptions/S1/resourceGroups/RG");
        assert_eq!(rg.key(), "/subscriptions/s1/resourcegroups/rg");
        assert_eq!(rg.subscription(), Some("S1"));
        assert_eq!(rg.resource_group(), Some("RG"));
        assert_eq!(ScopeId::Root.display(), "/");
        assert!(matches!(
            ScopeId::parse("/subscriptions/s/resourceGroups"),
            Err(ArmError::InvalidProperty { code: "InvalidScope", .. })
        ));
        assert!(matches!(
            ScopeId::parse("/providers/Microsoft.Management/managementGroups/mg"),
            Err(ArmError::NotImplemented { .. })
        ));
    }

    #[test]
    fn at_or_below_respects_segment_boundaries() {
        assert!(is_at_or_below("/subscriptions/s1", ""));
        assert!(is_at_or_below("/subscriptions/s1", "/subscriptions/s1"));
        assert!(is_at_or_below("/subscriptions/s1/resourcegroups/rg", "/subscriptions/s1"));
        assert!(!is_at_or_below("/subscriptions/s10", "/subscriptions/s1"));
        assert!(!is_at_or_below("/subscriptions/s1", "/subscriptions/s1/resourcegroups/rg"));
    }
}
