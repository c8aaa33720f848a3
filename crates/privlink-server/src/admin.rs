//! privlink's own endpoints under `/privlink/`, apart from ARM paths: server facts, the
//! reconciler controls used with `manual` timing, and the administration of the directory
//! (tenants, subscriptions, service principals, users) and of managed-identity environments.
//!
//! Everything but `/privlink/info` needs a privlink administrator's token.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::{HeaderMap, StatusCode, Uri};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::arm::{self, ArmError, ArmResult, ResourceId};
use crate::identity::{self, directory, Caller};
use crate::providers::authorization;
use crate::providers::resources::subscriptions;
use crate::state::AppState;

pub async fn info(State(state): State<AppState>) -> Response {
    Json(json!({
        "tenantId": state.defaults.tenant_id,
        "subscriptionId": state.defaults.subscription_id,
        "store": state.store.backend(),
        "provisioning": state.settings.timing.to_string(),
        "auth": match state.identity.mode { identity::AuthMode::Strict => "strict", identity::AuthMode::Permissive => "permissive" },
        "version": env!("CARGO_PKG_VERSION"),
    }))
    .into_response()
}

/// The caller, who must be a privlink administrator.
fn administrator(state: &AppState, headers: &HeaderMap, uri: &Uri) -> ArmResult<Caller> {
    let base = arm::base_url(headers, uri, state.defaults.insecure_http);
    let authority = format!("{base}/{}", state.defaults.tenant_id);
    let caller = state.identity.authenticate(headers).map_err(|r| identity::unauthenticated(&r, &authority))?;
    if !caller.admin {
        return Err(ArmError::AuthorizationFailed {
            client: caller.display.clone(),
            object_id: caller.object_id.clone(),
            action: "privlink/administer/action".into(),
            scope: "/privlink/admin".into(),
        });
    }
    Ok(caller)
}

fn respond(result: ArmResult<(StatusCode, Value)>) -> Response {
    match result {
        Ok((status, body)) => (status, Json(body)).into_response(),
        Err(e) => e.into_response(),
    }
}

/// A JSON object body with only the fields `T` knows.
fn parse_body<T: serde::de::DeserializeOwned>(body: &Bytes) -> ArmResult<T> {
    let text = if body.iter().all(u8::is_ascii_whitespace) { &b"{}"[..] } else { &body[..] };
    serde_json::from_slice(text)
        .map_err(|e| ArmError::InvalidRequestContent { message: format!("The request content was invalid: {e}.") })
}

/// Complete up to `limit` (default: all) pending operations now.
pub async fn step(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    if let Err(e) = administrator(&state, &headers, &uri) {
        return e.into_response();
    }
    let limit = match arm::parse_query(uri.query()).get("limit").map(|l| l.parse::<usize>()) {
        None => 100_000,
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            return ArmError::invalid("InvalidQueryParameter", "limit must be a non-negative whole number.")
                .into_response()
        }
    };
    let reconciler = state.reconciler.clone();
    match tokio::task::spawn_blocking(move || reconciler.step(limit)).await {
        Ok(Ok(done)) => Json(json!({ "completed": done })).into_response(),
        Ok(Err(e)) => e.into_response(),
        Err(_) => ArmError::Internal.into_response(),
    }
}

pub async fn pending(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    if let Err(e) = administrator(&state, &headers, &uri) {
        return e.into_response();
    }
    let result = state
        .read(|tx| {
            Ok(tx
                .work_all(10_000)?
                .into_iter()
                .map(|w| json!({ "id": w.id, "kind": w.kind, "resource": w.resource_key, "operationId": w.operation_id, "notBefore": w.not_before, "attempts": w.attempts }))
                .collect::<Vec<_>>())
        })
        .await;
    match result {
        Ok(items) => Json(json!({ "value": items })).into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TenantBody {
    display_name: Option<String>,
}

/// `POST /privlink/admin/tenants`: a new tenant (directory).
pub async fn create_tenant(State(state): State<AppState>, headers: HeaderMap, uri: Uri, body: Bytes) -> Response {
    let result = async {
        administrator(&state, &headers, &uri)?;
        let body: TenantBody = parse_body(&body)?;
        let tenant = uuid::Uuid::new_v4().to_string();
        let display = body.display_name.unwrap_or_else(|| format!("tenant {tenant}"));
        let row = state
            .write(false, move |w| {
                let row = subscriptions::tenant_row(&tenant, &display, w.now);
                w.tx.put(&row)?;
                Ok(row)
            })
            .await?;
        Ok((StatusCode::CREATED, subscriptions::render_tenant(&row)))
    }
    .await;
    respond(result)
}

/// `GET /privlink/admin/tenants`: every tenant (ARM's `GET /tenants` shows only the caller's).
pub async fn list_tenants(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let result = async {
        administrator(&state, &headers, &uri)?;
        let rows = state
            .read(|tx| {
                Ok(tx.list(&privlink_store::ListQuery {
                    scope: privlink_store::Scope::All,
                    type_key: Some(subscriptions::TENANT_TYPE_KEY),
                    after: None,
                    limit: 100_000,
                })?)
            })
            .await?;
        Ok((StatusCode::OK, json!({ "value": rows.iter().map(subscriptions::render_tenant).collect::<Vec<_>>() })))
    }
    .await;
    respond(result)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SubscriptionBody {
    display_name: Option<String>,
    tenant_id: Option<String>,
    /// Object id of a principal that becomes Owner of the subscription.
    owner: Option<String>,
}

/// `PUT /privlink/admin/subscriptions/{id}`: create or update a subscription (ARM has no such
/// operation). With `owner`, that principal is made Owner of it.
pub async fn put_subscription(
    State(state): State<AppState>,
    Path(subscription_id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    let result = async {
        let caller = administrator(&state, &headers, &uri)?;
        let body: SubscriptionBody = parse_body(&body)?;
        if uuid::Uuid::parse_str(&subscription_id).is_err() {
            return Err(ArmError::invalid(
                "InvalidSubscriptionId",
                format!("'{subscription_id}' is not a subscription id (a GUID)."),
            ));
        }
        if let Some(owner) = &body.owner {
            if uuid::Uuid::parse_str(owner).is_err() {
                return Err(ArmError::invalid(
                    "InvalidPrincipalId",
                    format!("The owner '{owner}' is not an object id (a GUID)."),
                ));
            }
        }
        let tenant = body.tenant_id.clone().unwrap_or_else(|| state.defaults.tenant_id.clone()).to_ascii_lowercase();
        let sub = subscription_id.clone();
        let t = tenant.clone();
        let (created, doc) = state
            .write(false, move |w| {
                if w.tx.get(&directory::tenant_key(&t))?.is_none() {
                    return Err(ArmError::invalid("TenantNotFound", format!("Tenant {t} does not exist.")));
                }
                let key = ResourceId::subscription(&sub).key();
                let existing = w.tx.get(&key)?;
                let display = body
                    .display_name
                    .clone()
                    .or_else(|| {
                        existing
                            .as_ref()
                            .and_then(|e| e.body.get("displayName").and_then(Value::as_str).map(str::to_string))
                    })
                    .unwrap_or_else(|| sub.clone());
                let mut row = subscriptions::subscription_row(&sub, &t, &display, w.now);
                if let Some(e) = &existing {
                    row.created_at = e.created_at;
                }
                w.tx.put(&row)?;
                if let Some(owner) = &body.owner {
                    let scope = format!("/subscriptions/{sub}");
                    let prefix = format!("{}{}", scope.to_ascii_lowercase(), authorization::rbac::ASSIGNMENTS_INFIX);
                    let exists = w.tx.list_prefix(&prefix)?.iter().any(|a| {
                        let p = crate::providers::properties(a);
                        p.get("principalId").and_then(Value::as_str).is_some_and(|x| x.eq_ignore_ascii_case(owner))
                            && p.get("roleDefinitionId")
                                .and_then(Value::as_str)
                                .is_some_and(|r| r.to_ascii_lowercase().ends_with(authorization::OWNER))
                    });
                    if !exists {
                        let name = uuid::Uuid::new_v4().to_string();
                        let row = authorization::assignment_row(
                            &scope,
                            &name,
                            authorization::OWNER,
                            owner,
                            "ServicePrincipal",
                            &caller.object_id,
                            w.now,
                        )?;
                        w.tx.put(&row)?;
                    }
                }
                Ok((existing.is_none(), subscriptions::render_subscription(&row)))
            })
            .await?;
        state.subscription_tenants.write().insert(subscription_id.to_ascii_lowercase(), tenant);
        Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, doc))
    }
    .await;
    respond(result)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ServicePrincipalBody {
    display_name: Option<String>,
    #[serde(default)]
    admin: bool,
}

/// `POST /privlink/admin/tenants/{tenant}/servicePrincipals`: a service principal with a new
/// client secret (returned once, never stored in clear).
pub async fn create_service_principal(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    let result = async {
        administrator(&state, &headers, &uri)?;
        let body: ServicePrincipalBody = parse_body(&body)?;
        let display = body.display_name.unwrap_or_else(|| "service principal".into());
        let (row, secret) = state
            .write(false, move |w| directory::create_service_principal(w.tx, &tenant, &display, body.admin, w.now))
            .await?;
        let mut doc = directory::render(&row);
        doc["clientSecret"] = json!(secret);
        Ok((StatusCode::CREATED, doc))
    }
    .await;
    respond(result)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UserBody {
    user_principal_name: String,
    display_name: Option<String>,
    password: String,
    #[serde(default)]
    admin: bool,
}

/// `POST /privlink/admin/tenants/{tenant}/users`: a user who signs in with a password.
pub async fn create_user(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    let result = async {
        administrator(&state, &headers, &uri)?;
        let body: UserBody = parse_body(&body)?;
        let display = body.display_name.clone().unwrap_or_else(|| body.user_principal_name.clone());
        let row = state
            .write(false, move |w| {
                directory::create_user(
                    w.tx,
                    &tenant,
                    &body.user_principal_name,
                    &display,
                    &body.password,
                    body.admin,
                    w.now,
                )
            })
            .await?;
        Ok((StatusCode::CREATED, directory::render(&row)))
    }
    .await;
    respond(result)
}

/// `GET /privlink/admin/tenants/{tenant}/principals`: service principals and users.
pub async fn list_principals(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let result = async {
        administrator(&state, &headers, &uri)?;
        let rows = state
            .read(move |tx| {
                if tx.get(&directory::tenant_key(&tenant))?.is_none() {
                    return Err(ArmError::invalid("TenantNotFound", format!("Tenant {tenant} does not exist.")));
                }
                Ok(tx.list_prefix(&format!("{}/", directory::tenant_key(&tenant)))?)
            })
            .await?;
        let value: Vec<Value> = rows
            .iter()
            .filter(|r| r.type_key == directory::SERVICE_PRINCIPAL_TYPE_KEY || r.type_key == directory::USER_TYPE_KEY)
            .map(directory::render)
            .collect();
        Ok((StatusCode::OK, json!({ "value": value })))
    }
    .await;
    respond(result)
}

/// `GET /privlink/admin/identity-env?resource=<id>`: the environment a process needs to act as
/// the managed identities of a resource (or a user-assigned identity), App Service style.
pub async fn identity_env(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let result = async {
        administrator(&state, &headers, &uri)?;
        let resource = arm::parse_query(uri.query()).remove("resource").unwrap_or_default();
        let id = ResourceId::parse(&resource).ok_or_else(|| {
            ArmError::invalid("InvalidResourceId", format!("The query parameter resource='{resource}' is not a resource id."))
        })?;
        let key = id.key();
        let row = state.read(move |tx| Ok(tx.get(&key)?)).await?.ok_or_else(|| ArmError::ResourceNotFound {
            type_name: id.type_name(),
            name: id.name().to_string(),
            resource_group: id.resource_group.clone(),
        })?;
        let has_identity = row.type_key == identity::managed::USER_ASSIGNED_TYPE_KEY
            || row.body.get("identity").is_some_and(|i| i.get("type").is_some());
        if !has_identity {
            return Err(ArmError::invalid(
                "ResourceHasNoIdentity",
                format!("'{}' has no managed identity: PUT it with \"identity\": {{\"type\": \"SystemAssigned\"}} or attach a user-assigned identity.", row.id),
            ));
        }
        let base = arm::base_url(&headers, &uri, state.defaults.insecure_http);
        let endpoint = format!("{base}/msi/token");
        let header = state.identity.identity_header(&row.key, row.created_at);
        Ok((StatusCode::OK, json!({
            "resource": row.id,
            "env": { "IDENTITY_ENDPOINT": endpoint, "IDENTITY_HEADER": header },
        })))
    }
    .await;
    respond(result)
}
