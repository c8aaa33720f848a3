//! ARM resource ids: parsing request paths, case-insensitive keys, canonical rendering.
//!
//! An id is a scope (subscription, optionally a resource group) plus, for provider resources, a
//! namespace and a chain of `(type, name)` pairs. The *key* is the lower-cased id: every lookup
//! uses it, so ids match case-insensitively while the stored id keeps the casing last written.

use super::error::ArmError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceId {
    pub subscription: String,
    pub resource_group: Option<String>,
    /// Provider namespace and `(type, name)` pairs; `None` for a subscription or resource group.
    pub provider: Option<ProviderPath>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderPath {
    pub namespace: String,
    pub pairs: Vec<(String, String)>,
}

/// What a request path addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArmPath {
    /// `/subscriptions`
    Subscriptions,
    /// `/tenants`
    Tenants,
    /// `/providers` (tenant level)
    TenantProviders,
    /// One resource: a subscription, resource group or provider resource.
    Resource(ResourceId),
    /// A collection of `type_path` (e.g. `Microsoft.Network/virtualNetworks/subnets`) under `scope`.
    /// Also how a POST action on a resource is addressed (the action is the last type segment).
    Collection { scope: ResourceId, namespace: Option<String>, types: Vec<String> },
    /// `/subscriptions/{s}/providers` and `/subscriptions/{s}/providers/{ns}`.
    Providers { subscription: String, namespace: Option<String> },
    /// `/subscriptions/{s}/providers/{ns}/{action}` with no further segment (register, unregister).
    ProviderAction { subscription: String, namespace: String, action: String },
}

pub const SUBSCRIPTION_TYPE: &str = "Microsoft.Resources/subscriptions";
pub const RESOURCE_GROUP_TYPE: &str = "Microsoft.Resources/resourceGroups";

fn bad_path(path: &str) -> ArmError {
    ArmError::InvalidRequestContent { message: format!("The request path '{path}' is not a valid resource address.") }
}

fn decode(segment: &str) -> Result<String, ()> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = segment.get(i + 1..i + 3).ok_or(())?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| ())?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| ())
}

/// Split a request path into decoded segments.
fn segments(path: &str) -> Result<Vec<String>, ArmError> {
    let trimmed = path.trim_end_matches('/');
    if !trimmed.starts_with('/') {
        return Err(bad_path(path));
    }
    trimmed[1..]
        .split('/')
        .map(|s| match decode(s) {
            // An encoded '/' would let one segment stand for several (another resource's path).
            Ok(d) if !d.is_empty() && !d.contains('/') => Ok(d),
            _ => Err(bad_path(path)),
        })
        .collect()
}

impl ArmPath {
    pub fn parse(path: &str) -> Result<ArmPath, ArmError> {
        let segs = segments(path)?;
        let lower: Vec<String> = segs.iter().map(|s| s.to_ascii_lowercase()).collect();
        let l = |i: usize| lower.get(i).map(String::as_str);
        match (l(0), segs.len()) {
            (Some("subscriptions"), 1) => return Ok(ArmPath::Subscriptions),
            (Some("tenants"), 1) => return Ok(ArmPath::Tenants),
            (Some("providers"), 1) => return Ok(ArmPath::TenantProviders),
            (Some("subscriptions"), _) => {}
            _ => return Err(bad_path(path)),
        }
        let subscription = segs[1].clone();
        let sub_scope = ResourceId { subscription: subscription.clone(), resource_group: None, provider: None };
        let mut i = 2;
        let mut scope = sub_scope;
        if l(i) == Some("resourcegroups") {
            match segs.get(i + 1) {
                None => {
                    return Ok(ArmPath::Collection { scope, namespace: None, types: vec!["resourceGroups".into()] })
                }
                Some(rg) => {
                    scope.resource_group = Some(rg.clone());
                    i += 2;
                }
            }
        }
        if i == segs.len() {
            return Ok(ArmPath::Resource(scope));
        }
        if l(i) != Some("providers") {
            // `/subscriptions/{s}/locations`, `/subscriptions/{s}/resourceGroups/{rg}/resources`, ...
            if segs.len() == i + 1 {
                return Ok(ArmPath::Collection { scope, namespace: None, types: vec![segs[i].clone()] });
            }
            return Err(bad_path(path));
        }
        let Some(namespace) = segs.get(i + 1).cloned() else {
            return match scope.resource_group {
                None => Ok(ArmPath::Providers { subscription, namespace: None }),
                Some(_) => Err(bad_path(path)),
            };
        };
        let rest = &segs[i + 2..];
        if rest.is_empty() {
            return match scope.resource_group {
                None => Ok(ArmPath::Providers { subscription, namespace: Some(namespace) }),
                Some(_) => Err(bad_path(path)),
            };
        }
        if scope.resource_group.is_none() && rest.len() == 1 {
            let action = rest[0].to_ascii_lowercase();
            if action == "register" || action == "unregister" {
                return Ok(ArmPath::ProviderAction { subscription, namespace, action });
            }
        }
        let pairs: Vec<(String, String)> =
            rest.chunks(2).filter(|c| c.len() == 2).map(|c| (c[0].clone(), c[1].clone())).collect();
        if rest.len() % 2 == 0 {
            scope.provider = Some(ProviderPath { namespace, pairs });
            Ok(ArmPath::Resource(scope))
        } else {
            let types: Vec<String> = rest.iter().step_by(2).cloned().collect();
            if !pairs.is_empty() {
                scope.provider = Some(ProviderPath { namespace: namespace.clone(), pairs });
            }
            Ok(ArmPath::Collection { scope, namespace: Some(namespace), types })
        }
    }
}

impl ResourceId {
    pub fn subscription(subscription: &str) -> Self {
        ResourceId { subscription: subscription.to_string(), resource_group: None, provider: None }
    }

    pub fn resource_group(subscription: &str, rg: &str) -> Self {
        ResourceId { subscription: subscription.to_string(), resource_group: Some(rg.to_string()), provider: None }
    }

    /// Parse a full id as found in a request body (e.g. `properties.subnet.id`).
    pub fn parse(id: &str) -> Option<ResourceId> {
        match ArmPath::parse(id).ok()? {
            ArmPath::Resource(rid) => Some(rid),
            _ => None,
        }
    }

    /// The full type name as written, e.g. `Microsoft.Network/virtualNetworks/subnets`.
    pub fn type_name(&self) -> String {
        match (&self.provider, &self.resource_group) {
            (Some(p), _) => {
                let mut t = p.namespace.clone();
                for (ty, _) in &p.pairs {
                    t.push('/');
                    t.push_str(ty);
                }
                t
            }
            (None, Some(_)) => RESOURCE_GROUP_TYPE.to_string(),
            (None, None) => SUBSCRIPTION_TYPE.to_string(),
        }
    }

    pub fn type_key(&self) -> String {
        self.type_name().to_ascii_lowercase()
    }

    /// The resource's own name.
    pub fn name(&self) -> &str {
        match (&self.provider, &self.resource_group) {
            (Some(p), _) => p.pairs.last().map(|(_, n)| n.as_str()).unwrap_or(""),
            (None, Some(rg)) => rg,
            (None, None) => &self.subscription,
        }
    }

    /// The parent resource for nested types (`virtualNetworks/v1` for `.../subnets/s1`).
    pub fn parent(&self) -> Option<ResourceId> {
        let p = self.provider.as_ref()?;
        if p.pairs.len() < 2 {
            return None;
        }
        let mut parent = self.clone();
        if let Some(pp) = parent.provider.as_mut() {
            pp.pairs.pop();
        }
        Some(parent)
    }

    /// The scope that holds this resource: its resource group, or the subscription.
    pub fn container(&self) -> ResourceId {
        ResourceId {
            subscription: self.subscription.clone(),
            resource_group: self.resource_group.clone(),
            provider: None,
        }
    }

    /// A provider resource directly in this scope: `self/providers/{namespace}/{type}/{name}`.
    pub fn with_provider(&self, namespace: &str, type_name: &str, name: &str) -> ResourceId {
        ResourceId {
            subscription: self.subscription.clone(),
            resource_group: self.resource_group.clone(),
            provider: Some(ProviderPath {
                namespace: namespace.to_string(),
                pairs: vec![(type_name.to_string(), name.to_string())],
            }),
        }
    }

    /// A child id: `self/{child_type}/{name}`.
    pub fn child(&self, child_type: &str, name: &str) -> ResourceId {
        let mut id = self.clone();
        if let Some(p) = id.provider.as_mut() {
            p.pairs.push((child_type.to_string(), name.to_string()));
        }
        id
    }

    /// Rewrite the namespace and type segments with their canonical casing
    /// (`canonical` is e.g. `Microsoft.Network/virtualNetworks/subnets`).
    pub fn with_canonical_type(mut self, canonical: &str) -> ResourceId {
        if let Some(p) = self.provider.as_mut() {
            let mut parts = canonical.split('/');
            if let Some(ns) = parts.next() {
                p.namespace = ns.to_string();
            }
            for ((ty, _), canon) in p.pairs.iter_mut().zip(parts) {
                *ty = canon.to_string();
            }
        }
        self
    }

    /// The same id with its own name lower-cased (Private DNS record sets keep names that way).
    pub fn with_lowercase_name(mut self) -> ResourceId {
        if let Some((_, name)) = self.provider.as_mut().and_then(|p| p.pairs.last_mut()) {
            *name = name.to_ascii_lowercase();
        }
        self
    }

    pub fn key(&self) -> String {
        self.to_string().to_ascii_lowercase()
    }
}

impl std::fmt::Display for ResourceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "/subscriptions/{}", self.subscription)?;
        if let Some(rg) = &self.resource_group {
            write!(f, "/resourceGroups/{rg}")?;
        }
        if let Some(p) = &self.provider {
            write!(f, "/providers/{}", p.namespace)?;
            for (ty, name) in &p.pairs {
                write!(f, "/{ty}/{name}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nested_resource_ids_case_insensitively() {
        let path = "/subscriptions/S1/resourcegroups/RG/providers/Microsoft.Network/virtualNetworks/V1/subnets/Snet";
        let ArmPath::Resource(id) = ArmPath::parse(path).unwrap() else { panic!("resource") };
        assert_eq!(id.type_name(), "Microsoft.Network/virtualNetworks/subnets");
        assert_eq!(id.name(), "Snet");
        assert_eq!(
            id.key(),
            "/subscriptions/s1/resourcegroups/rg/providers/microsoft.network/virtualnetworks/v1/subnets/snet"
        );
        assert_eq!(
            id.to_string(),
            "/subscriptions/S1/resourceGroups/RG/providers/Microsoft.Network/virtualNetworks/V1/subnets/Snet"
        );
        assert_eq!(id.parent().unwrap().name(), "V1");
        let upper = ArmPath::parse(&path.to_uppercase()).unwrap();
        let ArmPath::Resource(upper) = upper else { panic!() };
        assert_eq!(upper.key(), id.key());
    }

    #[test]
    fn classifies_collections_scopes_and_actions() {
        assert_eq!(ArmPath::parse("/subscriptions").unwrap(), ArmPath::Subscriptions);
        assert!(matches!(ArmPath::parse("/subscriptions/s/resourceGroups").unwrap(),
            ArmPath::Collection { ref types, .. } if types == &["resourceGroups"]));
        assert!(matches!(
            ArmPath::parse("/subscriptions/s/resourceGroups/rg").unwrap(),
            ArmPath::Resource(ResourceId { resource_group: Some(_), provider: None, .. })
        ));
        assert!(matches!(ArmPath::parse("/subscriptions/s/providers/Microsoft.Network/virtualNetworks").unwrap(),
            ArmPath::Collection { scope: ResourceId { resource_group: None, .. }, ref types, .. } if types == &["virtualNetworks"]));
        assert!(matches!(ArmPath::parse("/subscriptions/s/providers/Microsoft.Network/register").unwrap(),
            ArmPath::ProviderAction { ref action, .. } if action == "register"));
        assert!(matches!(
            ArmPath::parse("/subscriptions/s/providers").unwrap(),
            ArmPath::Providers { namespace: None, .. }
        ));
        assert!(matches!(ArmPath::parse("/subscriptions/s/locations").unwrap(),
            ArmPath::Collection { ref types, .. } if types == &["locations"]));
        let ArmPath::Collection { scope, types, .. } =
            ArmPath::parse("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets")
                .unwrap()
        else {
            panic!()
        };
        assert_eq!(types, ["virtualNetworks", "subnets"]);
        assert_eq!(scope.name(), "v");
        assert!(ArmPath::parse("/subscriptions/s//resourceGroups").is_err());
        assert!(ArmPath::parse("/other").is_err());
        assert!(ArmPath::parse("/subscriptions/s/resourceGroups/rg/%zz").is_err());
        assert!(ArmPath::parse(
            "/subscriptions/s/resourceGroups/rg%2Fproviders%2FMicrosoft.Network%2FvirtualNetworks%2Fv1"
        )
        .is_err());
    }

    #[test]
    fn body_ids_parse_and_canonicalise() {
        let id = ResourceId::parse("/subscriptions/s/resourceGroups/rg/providers/microsoft.network/VIRTUALNETWORKS/v")
            .unwrap();
        let id = id.with_canonical_type("Microsoft.Network/virtualNetworks");
        assert_eq!(id.to_string(), "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v");
        assert!(ResourceId::parse("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks")
            .is_none());
    }
}
