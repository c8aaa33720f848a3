//! The generic resource flow every ARM resource type shares: scope checks, preconditions,
//! PUT/GET/PATCH/DELETE/list, long-running operations and the response envelope.

use axum::response::Response;
use http::StatusCode;
use privlink_store::{ListQuery, OperationRow, ResourceRow, Scope, Tx, WorkItem};
use serde_json::{json, Map, Value};

use crate::arm::id::RESOURCE_GROUP_TYPE;
use crate::arm::json::{self, Obj};
use crate::arm::{self, api_version, ArmError, ArmRequest, ArmResult, ResourceId};
use crate::providers::authorization::rbac;
use crate::providers::resources::{locations, providers as registration};
use crate::providers::{location, Lro, PutInput, Registry, ResourceType, Write};
use crate::reconciler::{WORK_DELETE, WORK_PROVISION};
use crate::state::AppState;

/// Look up the type `id` addresses and check the api-version for it.
pub fn resolve_type<'r>(
    registry: &'r Registry,
    req: &ArmRequest,
    type_name: &str,
) -> ArmResult<&'r std::sync::Arc<dyn ResourceType>> {
    let namespace = type_name.split('/').next().unwrap_or("");
    match registry.get(&type_name.to_ascii_lowercase()) {
        Some(ty) => {
            api_version::check(req.api_version(), ty.type_name(), ty.api_versions())?;
            Ok(ty)
        }
        None => {
            if req.api_version().is_none() {
                return Err(ArmError::MissingApiVersion);
            }
            if registry.namespaces().iter().any(|ns| ns.eq_ignore_ascii_case(namespace)) {
                Err(ArmError::InvalidResourceType {
                    type_name: type_name.to_string(),
                    version: req.api_version().unwrap_or("").to_string(),
                })
            } else {
                Err(ArmError::InvalidResourceNamespace { namespace: namespace.to_string() })
            }
        }
    }
}

/// The RBAC action for `verb` (`read`, `write`, `delete`) on a resource of `type_name`.
pub fn action(type_name: &str, verb: &str) -> String {
    if type_name.eq_ignore_ascii_case(RESOURCE_GROUP_TYPE) {
        return format!("Microsoft.Resources/subscriptions/resourceGroups/{verb}");
    }
    format!("{type_name}/{verb}")
}

/// The caller must hold `verb` on `id` (403 `AuthorizationFailed` otherwise, before anything
/// else is looked at, as ARM does).
fn authorize(tx: &mut dyn Tx, req: &ArmRequest, type_name: &str, verb: &str, id: &ResourceId) -> ArmResult<()> {
    rbac::require(tx, &req.caller, &action(type_name, verb), &id.to_string())
}

/// The subscription, resource group and parent `id` lives in must exist.
pub fn ensure_scope(tx: &mut dyn Tx, id: &ResourceId) -> ArmResult<()> {
    if id.provider.is_some() && id.resource_group.is_none() {
        // Every provider resource privlink serves lives in a resource group.
        return Err(ArmError::InvalidResourceType {
            type_name: id.type_name(),
            version: "any (it is not a subscription-level type)".into(),
        });
    }
    let sub = ResourceId::subscription(&id.subscription);
    if tx.get(&sub.key())?.is_none() {
        return Err(ArmError::SubscriptionNotFound { subscription: id.subscription.clone() });
    }
    if let (Some(rg), true) = (&id.resource_group, id.provider.is_some()) {
        if tx.get(&ResourceId::resource_group(&id.subscription, rg).key())?.is_none() {
            return Err(ArmError::ResourceGroupNotFound { resource_group: rg.clone() });
        }
    }
    if let Some(parent) = id.parent() {
        if tx.get(&parent.key())?.is_none() {
            return Err(ArmError::ParentResourceNotFound { parent: parent.name().to_string() });
        }
    }
    Ok(())
}

/// Writes need a resource group that is not being deleted.
fn ensure_group_writable(tx: &mut dyn Tx, id: &ResourceId) -> ArmResult<()> {
    let (Some(rg), true) = (&id.resource_group, id.provider.is_some()) else { return Ok(()) };
    let group = tx.get(&ResourceId::resource_group(&id.subscription, rg).key())?;
    if group.as_ref().and_then(|g| crate::providers::properties(g).get("provisioningState")).and_then(Value::as_str)
        == Some("Deleting")
    {
        return Err(ArmError::Conflict {
            code: "ResourceGroupBeingDeleted",
            message: format!("The resource group '{rg}' is in deprovisioning state and cannot perform this operation."),
        });
    }
    Ok(())
}

/// A row in a non-terminal state blocks further writes, as in Azure; the error names the
/// operation to poll.
fn ensure_idle(tx: &mut dyn Tx, row: &ResourceRow, req: &ArmRequest) -> ArmResult<()> {
    let state =
        crate::providers::properties(row).get("provisioningState").and_then(Value::as_str).unwrap_or("Succeeded");
    if matches!(state, "Succeeded" | "Failed" | "Canceled") {
        return Ok(());
    }
    // The row's own operation, or (for a child) its parent's.
    let mut pending = tx.work_for_resource(&row.key)?.into_iter().next();
    if pending.is_none() && !row.parent_key.is_empty() {
        pending = tx.work_for_resource(&row.parent_key)?.into_iter().next();
    }
    let operation_url = match (pending, ResourceId::parse(&row.id)) {
        (Some(work), Some(id)) => {
            let location = operation_location(tx, &id, location(row))?;
            arm::operation_urls(
                &req.base_url,
                &id.subscription,
                &row_namespace(row),
                &location,
                &work.operation_id,
                req.api_version().unwrap_or_default(),
            )
            .async_operation
        }
        _ => String::new(),
    };
    Err(ArmError::AnotherOperationInProgress { id: row.id.clone(), operation_url })
}

/// The region a resource's operations are reported in: its own, or its root parent's.
pub fn operation_location(tx: &mut dyn Tx, id: &ResourceId, own: Option<&str>) -> ArmResult<String> {
    if let Some(loc) = own {
        return Ok(loc.to_string());
    }
    let mut cursor = id.parent();
    while let Some(p) = cursor {
        if let Some(row) = tx.get(&p.key())? {
            if let Some(loc) = location(&row) {
                return Ok(loc.to_string());
            }
        }
        cursor = p.parent();
    }
    if let Some(rg) = &id.resource_group {
        if let Some(row) = tx.get(&ResourceId::resource_group(&id.subscription, rg).key())? {
            if let Some(loc) = location(&row) {
                return Ok(loc.to_string());
            }
        }
    }
    Ok("global".into())
}

/// Record an operation and the durable work that finishes it, in the caller's transaction.
pub fn start_operation(
    w: &mut Write<'_>,
    reconciler: &crate::reconciler::Reconciler,
    id: &ResourceId,
    kind: &str,
    payload: Value,
) -> ArmResult<String> {
    let operation_id = uuid::Uuid::new_v4().to_string();
    w.tx.operation_put(&OperationRow {
        id: operation_id.clone(),
        subscription: id.subscription.to_ascii_lowercase(),
        resource_key: id.key(),
        kind: kind.into(),
        status: "InProgress".into(),
        error: None,
        created_at: w.now,
        updated_at: w.now,
    })?;
    w.tx.work_enqueue(&WorkItem {
        id: uuid::Uuid::new_v4().to_string(),
        kind: if kind == "delete" { WORK_DELETE } else { WORK_PROVISION }.into(),
        resource_key: id.key(),
        operation_id: operation_id.clone(),
        payload,
        not_before: reconciler.due_time(w.now),
        attempts: 0,
    })?;
    Ok(operation_id)
}

/// Build the ARM representation of a stored row.
pub fn render(tx: &mut dyn Tx, registry: &Registry, row: &ResourceRow) -> ArmResult<Value> {
    let ty = registry.get(&row.type_key).ok_or(ArmError::Internal)?;
    let id = ResourceId::parse(&row.id);
    let name = id.as_ref().map(|i| i.name().to_string()).unwrap_or_default();
    let mut out = Map::new();
    out.insert("id".into(), json!(row.id));
    out.insert("name".into(), json!(name));
    out.insert("type".into(), json!(ty.type_name()));
    if ty.etag() {
        out.insert("etag".into(), json!(row.etag));
    }
    if ty.tracked() {
        if let Some(loc) = row.body.get("location") {
            out.insert("location".into(), loc.clone());
        }
        out.insert("tags".into(), row.body.get("tags").cloned().unwrap_or_else(|| json!({})));
    }
    let mut props = crate::providers::properties(row).clone();
    ty.render_properties(tx, row, &mut props)?;
    out.insert("properties".into(), Value::Object(props));
    if ty.system_data() {
        out.insert("systemData".into(), system_data(row));
    }
    ty.render_top_level(row, &mut out);
    if let Some(identity) = row.body.get("identity") {
        out.insert("identity".into(), crate::identity::managed::render(identity));
    }
    Ok(Value::Object(out))
}

pub fn system_data(row: &ResourceRow) -> Value {
    let by = row.body.get("systemData").cloned().unwrap_or(Value::Null);
    json!({
        "createdBy": by.get("createdBy").cloned().unwrap_or(json!("privlink")),
        "createdByType": by.get("createdByType").cloned().unwrap_or(json!("Application")),
        "createdAt": crate::arm::rfc3339(row.created_at),
        "lastModifiedBy": by.get("lastModifiedBy").cloned().unwrap_or(json!("privlink")),
        "lastModifiedByType": by.get("lastModifiedByType").cloned().unwrap_or(json!("Application")),
        "lastModifiedAt": crate::arm::rfc3339(row.updated_at),
    })
}

fn etag_header(ty: &dyn ResourceType, row: &ResourceRow) -> Vec<(&'static str, String)> {
    if ty.etag() {
        vec![("etag", row.etag.clone())]
    } else {
        vec![]
    }
}

/// Validate the name of every level of `id` against its type's rule.
fn check_names(registry: &Registry, id: &ResourceId) -> ArmResult<()> {
    let mut cursor = Some(id.clone());
    while let Some(level) = cursor {
        if let Some(ty) = registry.get(&level.type_key()) {
            ty.name_rule().check(level.name(), ty.type_name())?;
        }
        cursor = level.parent();
    }
    Ok(())
}

/// How a write's body relates to what is stored.
#[derive(Clone, Copy, PartialEq, Eq)]
enum WriteMode {
    /// PUT: the body is the whole desired state.
    Put,
    /// PATCH of a type that merges properties: the body's `tags` and `properties` keys replace
    /// the stored ones; the resource must exist.
    Patch,
}

/// PUT: create or replace.
pub async fn put(state: &AppState, req: &ArmRequest, id: ResourceId) -> ArmResult<Response> {
    write_document(state, req, id, WriteMode::Put).await
}

/// The PUT flow, shared by PATCH for types whose properties can be patched.
async fn write_document(state: &AppState, req: &ArmRequest, id: ResourceId, mode: WriteMode) -> ArmResult<Response> {
    let ty = resolve_type(&state.registry, req, &id.type_name())?.clone();
    let mut id = id.with_canonical_type(ty.type_name());
    check_names(&state.registry, &id)?;
    if ty.lowercase_name() {
        id = id.with_lowercase_name();
    }
    let request_body = req.body_object()?;
    let lro = ty.put_style() == Lro::Async;
    let (req2, reconciler) = (req.clone(), state.reconciler.clone());
    let api_version = req.api_version().unwrap_or_default().to_string();
    let (created, row, rendered, operation) = state
        .write(lro, move |w| {
            w.caller = Some(req2.caller.clone());
            authorize(w.tx, &req2, ty.type_name(), "write", &id)?;
            ensure_scope(w.tx, &id)?;
            ensure_group_writable(w.tx, &id)?;
            registration::ensure_registered(w.tx, &id)?;
            let key = id.key();
            let existing = w.get(&key)?;
            if mode == WriteMode::Patch && existing.is_none() {
                return Err(not_found(&id, ty.type_name()));
            }
            arm::check_preconditions(req2.if_match.as_deref(), req2.if_none_match.as_deref(), existing.as_ref().map(|r| r.etag.as_str()))?;
            if let Some(row) = &existing {
                ensure_idle(w.tx, row, &req2)?;
            }
            if let Some(parent) = id.parent() {
                if let Some(parent_row) = w.get(&parent.key())? {
                    ensure_idle(w.tx, &parent_row, &req2)?;
                }
            }
            let body = match (&existing, mode) {
                (Some(row), WriteMode::Patch) => merge_patch(&*ty, row, &request_body)?,
                _ => request_body.clone(),
            };
            let obj = Obj::new(&body, "");
            let mut stored = Map::new();
            let location = if ty.tracked() {
                let loc = locations::validate(obj, ty.type_name())?;
                if let Some(old) = existing.as_ref().and_then(|e| location(e).map(str::to_string)) {
                    if !locations::same(&old, &loc) && ty.type_name() == crate::arm::id::RESOURCE_GROUP_TYPE {
                        return Err(ArmError::InvalidResourceGroupLocation {
                            message: format!("Invalid resource group location '{loc}'. The Resource group already exists in location '{old}'."),
                        });
                    }
                    if !locations::same(&old, &loc) {
                        return Err(ArmError::Conflict {
                            code: "InvalidResourceLocation",
                            message: format!("The resource '{}' already exists in location '{old}' in resource group '{}'. A resource with the same name cannot be created in location '{loc}'. Please select a new resource name.", id.name(), id.resource_group.as_deref().unwrap_or("")),
                        });
                    }
                }
                stored.insert("location".into(), json!(loc));
                if let Some(tags) = json::tags(obj)? {
                    ty.check_tags(&tags)?;
                    stored.insert("tags".into(), Value::Object(tags));
                }
                Some(loc)
            } else {
                None
            };
            let no_properties = Map::new();
            let properties = obj.obj("properties")?.unwrap_or(&no_properties);
            let input =
                PutInput { id: &id, existing: existing.as_ref(), body: obj, properties, location: location.as_deref() };
            let properties = ty.put(w, &input)?;
            stored.insert("properties".into(), Value::Object(properties));
            match body.get("identity") {
                Some(given) if ty.supports_identity() => {
                    if let Some(identity) = crate::identity::managed::apply(w, &id, existing.as_ref(), given)? {
                        stored.insert("identity".into(), identity);
                    }
                }
                Some(given) if !given.is_null() && given.get("type").and_then(Value::as_str) != Some("None") => {
                    return Err(ArmError::invalid_at(
                        "InvalidIdentity",
                        "identity",
                        format!("Resources of type {} do not have managed identities.", ty.type_name()),
                    ));
                }
                _ => {}
            }
            if let Some(internal) = w.internal.take() {
                stored.insert("internal".into(), internal);
            }
            let row = w.save(&id, existing.as_ref(), stored)?;
            let operation = if lro {
                let keys = std::mem::take(&mut w.provisioning);
                Some(start_operation(w, &reconciler, &id, "put", json!({ "keys": keys }))?)
            } else {
                None
            };
            let rendered = render(w.tx, w.registry, &row)?;
            let op_location = match &operation {
                Some(_) => Some(operation_location(w.tx, &id, location.as_deref())?),
                None => None,
            };
            Ok((existing.is_none(), row, rendered, operation.zip(op_location)))
        })
        .await?;
    let ty = state.registry.get(&row.type_key).ok_or(ArmError::Internal)?;
    let status = if created { ty.create_status() } else { StatusCode::OK };
    let mut headers = etag_header(&**ty, &row);
    if let Some((op, loc)) = operation {
        let namespace = row_namespace(&row);
        let urls = arm::operation_urls(&req.base_url, &subscription_of(&row), &namespace, &loc, &op, &api_version);
        headers.push(("azure-asyncoperation", urls.async_operation));
        headers.push(("retry-after", "1".into()));
        headers.push(("x-ms-request-id", op));
    }
    Ok(arm::json_response(status, &rendered, &headers))
}

/// The body a merging PATCH stands for: the stored resource as a client would PUT it back
/// (location, tags, top-level fields such as `kind` and `sku`, its identity, its properties),
/// with the request's top-level fields and each of its `properties` keys replacing the stored
/// ones.
fn merge_patch(
    ty: &dyn ResourceType,
    existing: &ResourceRow,
    patch: &Map<String, Value>,
) -> ArmResult<Map<String, Value>> {
    let patch_obj = Obj::new(patch, "");
    let mut body = Map::new();
    ty.render_top_level(existing, &mut body);
    if let Some(identity) = existing.body.get("identity") {
        body.insert("identity".into(), crate::identity::managed::render(identity));
    }
    for (k, v) in patch {
        if !matches!(k.as_str(), "properties" | "tags" | "location") {
            body.insert(k.clone(), v.clone());
        }
    }
    if let Some(loc) = existing.body.get("location") {
        body.insert("location".into(), loc.clone());
    }
    match json::tags(patch_obj)? {
        Some(tags) => body.insert("tags".into(), Value::Object(tags)),
        None => body.insert("tags".into(), existing.body.get("tags").cloned().unwrap_or_else(|| json!({}))),
    };
    let mut props = crate::providers::properties(existing).clone();
    props.remove("provisioningState");
    if let Some(changes) = patch_obj.obj("properties")? {
        for (k, v) in changes {
            props.insert(k.clone(), v.clone());
        }
    }
    body.insert("properties".into(), Value::Object(props));
    Ok(body)
}

fn row_namespace(row: &ResourceRow) -> String {
    ResourceId::parse(&row.id)
        .and_then(|id| id.provider.map(|p| p.namespace))
        .unwrap_or_else(|| "Microsoft.Resources".into())
}

fn subscription_of(row: &ResourceRow) -> String {
    ResourceId::parse(&row.id).map(|id| id.subscription).unwrap_or_else(|| row.subscription.clone())
}

/// GET one resource.
pub async fn get(state: &AppState, req: &ArmRequest, id: ResourceId) -> ArmResult<Response> {
    let ty = resolve_type(&state.registry, req, &id.type_name())?.clone();
    let registry = state.registry.clone();
    let req2 = req.clone();
    let (row, body) = state
        .read(move |tx| {
            authorize(tx, &req2, ty.type_name(), "read", &id)?;
            ensure_scope(tx, &id)?;
            let row = tx.get(&id.key())?.ok_or_else(|| not_found(&id, ty.type_name()))?;
            let body = render(tx, &registry, &row)?;
            Ok((row, body))
        })
        .await?;
    let ty = state.registry.get(&row.type_key).ok_or(ArmError::Internal)?;
    Ok(arm::json_response(StatusCode::OK, &body, &etag_header(&**ty, &row)))
}

pub fn not_found(id: &ResourceId, type_name: &str) -> ArmError {
    if id.provider.is_none() && id.resource_group.is_some() {
        return ArmError::ResourceGroupNotFound { resource_group: id.name().to_string() };
    }
    // ARM names a nested resource with its types and names interleaved:
    // 'Microsoft.Network/virtualNetworks/v1/subnets/s1'.
    let mut canonical = type_name.split('/');
    let namespace = canonical.next().unwrap_or_default();
    let mut path = namespace.to_string();
    for (written, name) in id.provider.iter().flat_map(|p| p.pairs.iter()) {
        let ty = canonical.next().unwrap_or(written);
        path = format!("{path}/{ty}/{name}");
    }
    let (type_part, name_part) = match path.rsplit_once('/') {
        Some((t, n)) => (t.to_string(), n.to_string()),
        None => (type_name.to_string(), String::new()),
    };
    ArmError::ResourceNotFound { type_name: type_part, name: name_part, resource_group: id.resource_group.clone() }
}

/// PATCH: tags only (Network's UpdateTags and ARM's resource-group PATCH), or, for types whose
/// properties can be patched (Private DNS), a merge of tags and properties run through PUT.
pub async fn patch(state: &AppState, req: &ArmRequest, id: ResourceId) -> ArmResult<Response> {
    let ty = resolve_type(&state.registry, req, &id.type_name())?.clone();
    if ty.patch_merges_properties() {
        return write_document(state, req, id, WriteMode::Patch).await;
    }
    let body = req.body_object()?;
    let req2 = req.clone();
    let (row, rendered) = state
        .write(false, move |w| {
            authorize(w.tx, &req2, ty.type_name(), "write", &id)?;
            ensure_scope(w.tx, &id)?;
            ensure_group_writable(w.tx, &id)?;
            let existing = w.get(&id.key())?.ok_or_else(|| not_found(&id, ty.type_name()))?;
            arm::check_preconditions(req2.if_match.as_deref(), req2.if_none_match.as_deref(), Some(&existing.etag))?;
            ensure_idle(w.tx, &existing, &req2)?;
            let obj = Obj::new(&body, "");
            let mut row = existing.clone();
            if let Some(tags) = json::tags(obj)? {
                if !ty.tracked() {
                    return Err(ArmError::invalid(
                        "InvalidRequestContent",
                        format!("Resources of type {} have no tags.", ty.type_name()),
                    ));
                }
                ty.check_tags(&tags)?;
                if let Value::Object(b) = &mut row.body {
                    b.insert("tags".into(), Value::Object(tags));
                }
            }
            row.etag = ty.new_etag();
            row.updated_at = w.now;
            w.tx.put(&row)?;
            let rendered = render(w.tx, w.registry, &row)?;
            Ok((row, rendered))
        })
        .await?;
    let ty = state.registry.get(&row.type_key).ok_or(ArmError::Internal)?;
    Ok(arm::json_response(StatusCode::OK, &rendered, &etag_header(&**ty, &row)))
}

/// DELETE: 202 and an operation for asynchronous types, 200 for synchronous ones, 204 when
/// there was nothing to delete.
pub async fn delete(state: &AppState, req: &ArmRequest, id: ResourceId) -> ArmResult<Response> {
    let ty = resolve_type(&state.registry, req, &id.type_name())?.clone();
    let lro = ty.delete_style() == Lro::Async;
    let (req2, reconciler) = (req.clone(), state.reconciler.clone());
    let outcome = state
        .write(lro, move |w| {
            w.caller = Some(req2.caller.clone());
            authorize(w.tx, &req2, ty.type_name(), "delete", &id)?;
            ensure_scope(w.tx, &id).or_else(|e| match e {
                // The parent is gone, so this resource is too.
                ArmError::ParentResourceNotFound { .. } => Ok(()),
                other => Err(other),
            })?;
            let Some(row) = w.get(&id.key())? else {
                if id.provider.is_none() && id.resource_group.is_some() {
                    return Err(not_found(&id, RESOURCE_GROUP_TYPE));
                }
                return Ok(None);
            };
            arm::check_preconditions(req2.if_match.as_deref(), None, Some(&row.etag))?;
            let state =
                crate::providers::properties(&row).get("provisioningState").and_then(Value::as_str).map(str::to_string);
            if state.as_deref() == Some("Deleting") {
                // Already being deleted: hand out the same operation.
                let pending = w.tx.work_for_resource(&row.key)?.into_iter().find(|i| i.kind == WORK_DELETE);
                if let Some(item) = pending {
                    let loc = operation_location(w.tx, &id, location(&row))?;
                    return Ok(Some((row, Some((item.operation_id, loc)))));
                }
            }
            ensure_idle(w.tx, &row, &req2)?;
            w.check_tree_deletable(&row)?;
            if !lro {
                w.remove_tree(&row.key)?;
                return Ok(Some((row, None)));
            }
            let mut marked = row.clone();
            if let Some(Value::Object(props)) = marked.body.get_mut("properties") {
                props.insert("provisioningState".into(), json!("Deleting"));
            }
            w.tx.put(&marked)?;
            let op = start_operation(w, &reconciler, &id, "delete", json!({}))?;
            let loc = operation_location(w.tx, &id, location(&row))?;
            Ok(Some((row, Some((op, loc)))))
        })
        .await?;
    match outcome {
        None => Ok(arm::empty_response(StatusCode::NO_CONTENT, &[])),
        Some((_, None)) => Ok(arm::empty_response(StatusCode::OK, &[])),
        Some((row, Some((op, loc)))) => {
            let urls = arm::operation_urls(
                &req.base_url,
                &subscription_of(&row),
                &row_namespace(&row),
                &loc,
                &op,
                req.api_version().unwrap_or_default(),
            );
            Ok(arm::empty_response(
                StatusCode::ACCEPTED,
                &[
                    ("location", urls.location),
                    ("azure-asyncoperation", urls.async_operation),
                    ("retry-after", "1".into()),
                    ("x-ms-request-id", op),
                ],
            ))
        }
    }
}

/// GET a collection, one page at a time.
pub async fn list(state: &AppState, req: &ArmRequest, scope: ResourceId, type_name: String) -> ArmResult<Response> {
    let ty = resolve_type(&state.registry, req, &type_name)?.clone();
    let limit = if ty.pageable() { arm::page_size(req, state.settings.limits.page_size)? } else { usize::MAX >> 1 };
    let after = match req.query.get("$skiptoken") {
        Some(token) => Some(arm::decode_skip_token(token)?),
        None => None,
    };
    let registry = state.registry.clone();
    let type_key = ty.type_name().to_ascii_lowercase();
    let req2 = req.clone();
    let (items, last) = state
        .read(move |tx| {
            authorize(tx, &req2, ty.type_name(), "read", &scope)?;
            ensure_scope(tx, &scope)?;
            let parent_key;
            let sub = scope.subscription.to_ascii_lowercase();
            let rg = scope.resource_group.as_deref().map(str::to_ascii_lowercase);
            let list_scope = if scope.provider.is_some() {
                parent_key = scope.key();
                if tx.get(&parent_key)?.is_none() {
                    return Err(not_found(&scope, &scope.type_name()));
                }
                Scope::Children { parent_key: &parent_key }
            } else if let Some(rg) = &rg {
                if tx.get(&ResourceId::resource_group(&scope.subscription, rg).key())?.is_none() {
                    return Err(ArmError::ResourceGroupNotFound {
                        resource_group: scope.resource_group.clone().unwrap_or_default(),
                    });
                }
                Scope::ResourceGroup { subscription: &sub, resource_group: rg }
            } else {
                Scope::Subscription { subscription: &sub }
            };
            let rows = tx.list(&ListQuery {
                scope: list_scope,
                type_key: Some(&type_key),
                after: after.as_deref(),
                limit: limit + 1,
            })?;
            let more = rows.len() > limit;
            let mut items = Vec::with_capacity(rows.len().min(limit));
            let mut last = None;
            for row in rows.iter().take(limit) {
                items.push(render(tx, &registry, row)?);
                last = Some(row.key.clone());
            }
            Ok((items, if more { last } else { None }))
        })
        .await?;
    let mut body = json!({ "value": items });
    if let Some(last) = last {
        body["nextLink"] = json!(arm::next_link(req, &last));
    }
    Ok(arm::json_response(StatusCode::OK, &body, &[]))
}
