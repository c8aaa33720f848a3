//! Resource providers. Each resource type is one module implementing [`ResourceType`]; the
//! generic engine (`crate::engine`) does everything ARM-shaped around it (scope checks,
//! preconditions, LROs, envelopes, paging) so a provider only validates input, keeps its
//! invariants and renders its properties.

pub mod approval;
pub mod authorization;
pub mod managed_identity;
pub mod network;
pub mod private_dns;
pub mod resources;
pub mod targets;

use std::collections::HashMap;
use std::sync::Arc;

use privlink_store::{ResourceRow, Tx};
use serde_json::{json, Map, Value};

use crate::arm::json::Obj;
use crate::arm::names::NameRule;
use crate::arm::{new_etag, ArmError, ArmResult, ResourceId};
use crate::config::Settings;

/// How PUT and DELETE answer for a type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lro {
    /// 201/200 with a non-terminal `provisioningState` and `Azure-AsyncOperation`.
    Async,
    /// Finished in the response.
    Sync,
}

/// What a provider receives for a PUT.
pub struct PutInput<'a> {
    /// The id addressed, with canonical type casing and the client's name casing.
    pub id: &'a ResourceId,
    pub existing: Option<&'a ResourceRow>,
    pub body: Obj<'a>,
    /// The body's `properties` object (empty when absent), checked to be an object.
    pub properties: &'a Map<String, Value>,
    /// The validated location for tracked types (the parent's for child types).
    pub location: Option<&'a str>,
}

impl PutInput<'_> {
    /// `properties`, with paths for error messages.
    pub fn properties(&self) -> Obj<'_> {
        Obj::new(self.properties, "properties")
    }
}

pub trait ResourceType: Send + Sync + 'static {
    /// Canonical full type name, e.g. `Microsoft.Network/virtualNetworks/subnets`.
    fn type_name(&self) -> &'static str;
    fn api_versions(&self) -> &'static [&'static str];
    /// Tracked resources carry `location` and `tags`; child (proxy) resources don't.
    fn tracked(&self) -> bool;
    fn name_rule(&self) -> NameRule {
        NameRule::Network
    }
    fn put_style(&self) -> Lro {
        Lro::Async
    }
    fn delete_style(&self) -> Lro {
        Lro::Async
    }
    /// Whether responses carry `systemData` (Network does not declare it; most newer RPs do).
    fn system_data(&self) -> bool {
        false
    }
    /// Status of a PUT that created the resource (Storage's SDK only takes 200).
    fn create_status(&self) -> http::StatusCode {
        http::StatusCode::CREATED
    }
    /// Whether the resource may carry a managed `identity` (system- and user-assigned).
    fn supports_identity(&self) -> bool {
        false
    }
    /// Top-level fields beyond the envelope (`kind`, `sku`).
    fn render_top_level(&self, _row: &ResourceRow, _out: &mut Map<String, Value>) {}
    /// Whether list responses page with `nextLink`. Some RPs' lists declare no paging, and their
    /// SDKs would silently stop after the first page, so those lists come whole.
    fn pageable(&self) -> bool {
        true
    }
    /// Whether responses carry an `etag`.
    fn etag(&self) -> bool {
        true
    }
    /// A new ETag for a write (Network's are weak `W/"guid"`, Private DNS's bare GUIDs).
    fn new_etag(&self) -> String {
        new_etag()
    }
    /// Whether the resource's own name is stored lower-cased (Private DNS record sets).
    fn lowercase_name(&self) -> bool {
        false
    }
    /// Whether PATCH merges `properties` (and tags) and revalidates through `put`, instead of
    /// touching tags only.
    fn patch_merges_properties(&self) -> bool {
        false
    }
    /// Refuse tags the type gives a meaning to when they are malformed (privlink's backend tags,
    /// which only targets and private link services take).
    fn check_tags(&self, tags: &Map<String, Value>) -> ArmResult<()> {
        targets::backends::refuse_on(self.type_name(), tags)
    }
    /// Validate the request and return the `properties` to store. Runs inside the write
    /// transaction; may write other rows through `w` (e.g. subnets given inline in a VNet).
    fn put(&self, w: &mut Write<'_>, input: &PutInput<'_>) -> ArmResult<Map<String, Value>>;
    /// Refuse a delete while something outside the tree being deleted (rooted at `root_key`)
    /// depends on the resource.
    fn check_delete(&self, _w: &mut Write<'_>, _row: &ResourceRow, _root_key: &str) -> ArmResult<()> {
        Ok(())
    }
    /// Effects on other resources once this one is gone (runs in the deleting transaction).
    fn on_deleted(&self, _w: &mut Write<'_>, _row: &ResourceRow) -> ArmResult<()> {
        Ok(())
    }
    /// Add derived, read-only properties (children inline, back-references).
    fn render_properties(
        &self,
        _tx: &mut dyn Tx,
        _row: &ResourceRow,
        _props: &mut Map<String, Value>,
    ) -> ArmResult<()> {
        Ok(())
    }
}

/// Every resource type privlink serves, by lower-cased type name.
pub struct Registry {
    types: HashMap<String, Arc<dyn ResourceType>>,
}

impl Registry {
    pub fn new() -> Registry {
        let mut registry = Registry { types: HashMap::new() };
        resources::register(&mut registry);
        network::register(&mut registry);
        private_dns::register(&mut registry);
        managed_identity::register(&mut registry);
        targets::register(&mut registry);
        registry
    }

    pub fn add(&mut self, ty: impl ResourceType) {
        self.types.insert(ty.type_name().to_ascii_lowercase(), Arc::new(ty));
    }

    pub fn get(&self, type_key: &str) -> Option<&Arc<dyn ResourceType>> {
        self.types.get(type_key)
    }

    /// Provider namespaces, canonical casing, sorted.
    pub fn namespaces(&self) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = self.types.values().filter_map(|t| t.type_name().split('/').next()).collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    pub fn types_in(&self, namespace: &str) -> Vec<&Arc<dyn ResourceType>> {
        let mut out: Vec<_> = self
            .types
            .values()
            .filter(|t| t.type_name().split('/').next().is_some_and(|ns| ns.eq_ignore_ascii_case(namespace)))
            .collect();
        out.sort_by_key(|t| t.type_name());
        out
    }
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

/// The context of one write transaction.
pub struct Write<'a> {
    pub tx: &'a mut dyn Tx,
    pub registry: &'a Registry,
    pub settings: &'a Settings,
    /// Unix milliseconds, fixed for the transaction.
    pub now: i64,
    /// Whether rows saved now start non-terminal (`Updating`) for the reconciler to finish.
    pub lro: bool,
    /// Keys saved in this transaction whose provisioning the reconciler completes.
    pub provisioning: Vec<String>,
    /// Provider-owned state for the row being PUT, stored beside its properties and never
    /// rendered (links between the two sides of a connection, the NIC of an endpoint).
    pub internal: Option<Value>,
    /// Who asked, for decisions that depend on the caller's rights on other resources (linked
    /// authorization, automatic approval). `None` for privlink's own work (the reconciler).
    pub caller: Option<crate::identity::Caller>,
}

impl<'a> Write<'a> {
    pub fn new(tx: &'a mut dyn Tx, registry: &'a Registry, settings: &'a Settings, lro: bool) -> Self {
        Write { tx, registry, settings, now: now_millis(), lro, provisioning: Vec::new(), internal: None, caller: None }
    }

    /// A write that reaches into another resource needs `linked_action` there too:
    /// 403 `LinkedAuthorizationFailed` otherwise (e.g. `subnets/join/action` on the subnet a
    /// private endpoint or NIC is placed in).
    pub fn require_linked(
        &mut self,
        own_action: &str,
        own_scope: &ResourceId,
        linked_action: &str,
        linked: &ResourceId,
    ) -> ArmResult<()> {
        let Some(caller) = self.caller.clone() else { return Ok(()) };
        if authorization::rbac::check(self.tx, &caller, linked_action, &linked.key())? {
            return Ok(());
        }
        Err(ArmError::LinkedAuthorizationFailed(Box::new(crate::arm::error::LinkedDenial {
            client: caller.display.clone(),
            object_id: caller.object_id.clone(),
            action: own_action.to_string(),
            scope: own_scope.to_string(),
            linked_action: linked_action.to_string(),
            linked_scope: linked.to_string(),
        })))
    }

    /// Store `id` with `body` (`location`/`tags`/`properties`), stamping `provisioningState`,
    /// the ETag and timestamps.
    pub fn save(
        &mut self,
        id: &ResourceId,
        existing: Option<&ResourceRow>,
        mut body: Map<String, Value>,
    ) -> ArmResult<ResourceRow> {
        let state = if self.lro { "Updating" } else { "Succeeded" };
        if let Some(Value::Object(props)) = body.get_mut("properties") {
            props.insert("provisioningState".into(), json!(state));
        }
        if !body.contains_key("internal") {
            if let Some(internal) = existing.and_then(|e| e.body.get("internal")) {
                body.insert("internal".into(), internal.clone());
            }
        }
        let etag = self.registry.get(&id.type_key()).map_or_else(new_etag, |t| t.new_etag());
        let row = self.row(id, body, etag, existing.map_or(self.now, |e| e.created_at));
        self.tx.put(&row)?;
        if self.lro {
            self.provisioning.push(row.key.clone());
        }
        Ok(row)
    }

    /// Store a row that has no provisioning state of its own (Private DNS record sets written
    /// on a resource's behalf), finished at once whatever the write's timing.
    pub fn save_finished(
        &mut self,
        id: &ResourceId,
        existing: Option<&ResourceRow>,
        body: Map<String, Value>,
    ) -> ArmResult<ResourceRow> {
        let etag = self.registry.get(&id.type_key()).map_or_else(new_etag, |t| t.new_etag());
        let row = self.row(id, body, etag, existing.map_or(self.now, |e| e.created_at));
        self.tx.put(&row)?;
        Ok(row)
    }

    fn row(&self, id: &ResourceId, body: Map<String, Value>, etag: String, created_at: i64) -> ResourceRow {
        ResourceRow {
            key: id.key(),
            id: id.to_string(),
            type_key: id.type_key(),
            subscription: id.subscription.to_ascii_lowercase(),
            resource_group: id.resource_group.as_deref().map(str::to_ascii_lowercase).unwrap_or_default(),
            parent_key: id.parent().map(|p| p.key()).unwrap_or_default(),
            body: Value::Object(body),
            etag,
            created_at,
            updated_at: self.now,
        }
    }

    /// Store a parent's row (state `Updating`) before its inline children are written, so they
    /// find it; the engine replaces it with the final row at the end of the PUT.
    pub fn put_provisional(
        &mut self,
        id: &ResourceId,
        location: Option<&str>,
        mut props: Map<String, Value>,
    ) -> ArmResult<ResourceRow> {
        props.insert("provisioningState".into(), json!("Updating"));
        let mut body = Map::new();
        if let Some(location) = location {
            body.insert("location".into(), json!(location));
        }
        body.insert("properties".into(), Value::Object(props));
        let row = self.row(id, body, String::new(), self.now);
        self.tx.put(&row)?;
        Ok(row)
    }

    pub fn get(&mut self, key: &str) -> ArmResult<Option<ResourceRow>> {
        Ok(self.tx.get(key)?)
    }

    /// Every resource in the tree rooted at `root` must agree to be deleted.
    pub fn check_tree_deletable(&mut self, root: &ResourceRow) -> ArmResult<()> {
        let mut rows = self.tx.list_prefix(&format!("{}/", root.key))?;
        rows.push(root.clone());
        for row in &rows {
            if let Some(ty) = self.registry.get(&row.type_key).cloned() {
                ty.check_delete(self, row, &root.key)?;
            }
        }
        Ok(())
    }

    /// Remove `key` and everything below it: run each type's `on_deleted`, release the IP
    /// addresses held by anything in the tree, drop the address pools of subnets in it.
    pub fn remove_tree(&mut self, key: &str) -> ArmResult<()> {
        let mut rows = self.tx.list_prefix(&format!("{key}/"))?;
        if let Some(root) = self.tx.get(key)? {
            rows.push(root);
        }
        // Deepest first, so children go before their parents.
        rows.sort_by_key(|r| std::cmp::Reverse(r.key.len()));
        for row in &rows {
            if let Some(ty) = self.registry.get(&row.type_key).cloned() {
                ty.on_deleted(self, row)?;
            }
            self.tx.ip_release_owner(&row.key)?;
            self.tx.ip_release_prefix(&format!("{}/", row.key))?;
            self.tx.delete(&row.key)?;
        }
        Ok(())
    }
}

pub fn now_millis() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// The stored `properties` of a row (empty when missing).
pub fn properties(row: &ResourceRow) -> &Map<String, Value> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    row.body.get("properties").and_then(Value::as_object).unwrap_or_else(|| EMPTY.get_or_init(Map::new))
}

/// The stored location of a tracked row.
pub fn location(row: &ResourceRow) -> Option<&str> {
    row.body.get("location").and_then(Value::as_str)
}

/// Load the row `id` refers to, as `InvalidResourceReference` when it is missing.
pub fn referenced(
    w: &mut Write<'_>,
    id_text: &str,
    expected_type: &str,
    referrer: &ResourceId,
) -> ArmResult<(ResourceId, ResourceRow)> {
    let missing = || {
        ArmError::invalid(
            "InvalidResourceReference",
            format!("Resource {id_text} referenced by resource {referrer} was not found. Please make sure that the referenced resource exists, and that both resources are in the same region."),
        )
    };
    let id = ResourceId::parse(id_text).ok_or_else(|| {
        ArmError::invalid("LinkedInvalidPropertyId", format!("Property id '{id_text}' at path referenced by resource {referrer} is invalid. Expect fully qualified resource Id that start with '/subscriptions/{{subscriptionId}}'."))
    })?;
    if !id.type_name().eq_ignore_ascii_case(expected_type) {
        return Err(ArmError::invalid(
            "InvalidResourceReference",
            format!("Resource {id_text} referenced by resource {referrer} is not of type {expected_type}."),
        ));
    }
    let row = w.get(&id.key())?.ok_or_else(missing)?;
    let id = ResourceId::parse(&row.id).ok_or(ArmError::Internal)?;
    // A subnet whose VNet is being deleted is as unusable as the VNet itself.
    let mut cursor = Some(row.clone());
    while let Some(current) = cursor {
        if properties(&current).get("provisioningState").and_then(Value::as_str) == Some("Deleting") {
            return Err(ArmError::invalid(
                "ReferencedResourceNotProvisioned",
                format!("Cannot proceed with operation because resource {id} used by resource {referrer} is not in Succeeded state. Resource {} is in Deleting state.", current.id),
            ));
        }
        cursor = if current.parent_key.is_empty() { None } else { w.get(&current.parent_key)? };
    }
    Ok((id, row))
}
