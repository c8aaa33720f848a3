//! Request dispatch: every ARM path goes through [`arm_fallback`], which parses the path
//! case-insensitively and hands it to the engine, a Microsoft.Resources handler or the
//! operation endpoints. Non-ARM paths (`/metadata`, `/privlink/...`) are ordinary routes.

use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use http::{Method, Request, StatusCode};
use serde_json::json;

use crate::arm::{self, api_version, ArmError, ArmPath, ArmRequest, ArmResult, ResourceId};
use crate::identity::endpoints;
use crate::providers::authorization::{self, rbac};
use crate::providers::resources::{locations, providers as registration, subscriptions};
use crate::state::AppState;
use crate::{admin, diagnostics, engine, identity, observability, operations, private_link};

pub fn build(state: AppState) -> Router {
    Router::new()
        .route("/metadata/endpoints", get(metadata_endpoints))
        .route("/{tenant}/v2.0/.well-known/openid-configuration", get(endpoints::openid_configuration_v2))
        .route("/{tenant}/.well-known/openid-configuration", get(endpoints::openid_configuration_v1))
        .route("/{tenant}/discovery/v2.0/keys", get(endpoints::jwks))
        .route("/{tenant}/discovery/keys", get(endpoints::jwks))
        .route("/{tenant}/oauth2/v2.0/token", post(endpoints::token_v2))
        .route("/{tenant}/oauth2/token", post(endpoints::token_v1))
        .route("/msi/token", get(endpoints::managed_identity_token))
        .route("/privlink/info", get(admin::info))
        .route("/privlink/reconciler/step", post(admin::step))
        .route("/privlink/reconciler/pending", get(admin::pending))
        .route("/privlink/admin/tenants", get(admin::list_tenants).post(admin::create_tenant))
        .route("/privlink/admin/tenants/{tenant}/principals", get(admin::list_principals))
        .route("/privlink/admin/tenants/{tenant}/servicePrincipals", post(admin::create_service_principal))
        .route("/privlink/admin/tenants/{tenant}/users", post(admin::create_user))
        .route("/privlink/admin/subscriptions/{subscription_id}", axum::routing::put(admin::put_subscription))
        .route("/privlink/admin/identity-env", get(admin::identity_env))
        .route("/privlink/dns/resolvers", get(diagnostics::resolvers))
        .route("/privlink/dns/query", get(diagnostics::query))
        .route("/privlink/diagnose", get(diagnostics::diagnose))
        .route("/privlink/gateway/proxies", get(observability::proxies))
        .route("/privlink/gateway/listeners", get(observability::listeners))
        .route("/privlink/gateway/stats", get(observability::stats))
        .route("/metrics", get(observability::metrics))
        .fallback(arm_fallback)
        .layer(axum::middleware::from_fn(arm::standard_headers))
        .with_state(state)
}

/// Upper bound on a request body: ARM's own limit is far lower for these resources.
const MAX_BODY: usize = 8 * 1024 * 1024;

async fn arm_fallback(State(state): State<AppState>, request: Request<Body>) -> Response {
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return ArmError::InvalidRequestContent {
                message: "The request body is too large or could not be read.".into(),
            }
            .into_response()
        }
    };
    let base_url = arm::base_url(&parts.headers, &parts.uri, state.defaults.insecure_http);
    let raw_path = parts.uri.path().to_string();
    if let Some(auth_path) = authorization::split_path(&raw_path) {
        return match authorization_request(&state, &parts, &base_url, &auth_path, body).await {
            Ok(r) => r,
            Err(e) => e.into_response(),
        };
    }
    let path = match ArmPath::parse(&raw_path) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let subscription = match &path {
        ArmPath::Resource(id) | ArmPath::Collection { scope: id, .. } => Some(id.subscription.as_str()),
        ArmPath::Providers { subscription, .. } | ArmPath::ProviderAction { subscription, .. } => {
            Some(subscription.as_str())
        }
        ArmPath::Subscriptions | ArmPath::Tenants | ArmPath::TenantProviders => None,
    };
    let caller = match authenticate(&state, &parts.headers, &base_url, subscription).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let req = ArmRequest {
        caller,
        method: parts.method.clone(),
        path,
        raw_path,
        query: arm::parse_query(parts.uri.query()),
        if_match: header("if-match"),
        if_none_match: header("if-none-match"),
        base_url,
        body,
    };
    let started = std::time::Instant::now();
    let response = match dispatch(&state, &req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    tracing::debug!(method = %req.method, path = %req.raw_path, status = response.status().as_u16(), micros = started.elapsed().as_micros() as u64, "arm request");
    response
}

/// Who is calling: a valid token whose tenant owns the subscription addressed (ARM answers a
/// token from another tenant with 401 `InvalidAuthenticationTokenTenant`).
async fn authenticate(
    state: &AppState,
    headers: &http::HeaderMap,
    base_url: &str,
    subscription: Option<&str>,
) -> ArmResult<identity::Caller> {
    let authority = format!("{base_url}/{}", state.defaults.tenant_id);
    let caller = state.identity.authenticate(headers).map_err(|r| identity::unauthenticated(&r, &authority))?;
    if let Some(sub) = subscription {
        if let Some(tenant) = state.tenant_of(sub).await? {
            if tenant != caller.tenant_id {
                return Err(identity::wrong_tenant(&caller.tenant_id, &tenant, base_url));
            }
        }
    }
    Ok(caller)
}

/// Role definitions and assignments: extension resources at any scope (`/`, a subscription, a
/// resource group or a resource), served by `providers::authorization`.
async fn authorization_request(
    state: &AppState,
    parts: &http::request::Parts,
    base_url: &str,
    path: &authorization::AuthorizationPath,
    body: bytes::Bytes,
) -> ArmResult<Response> {
    let scope_id = if path.scope.is_empty() { None } else { ResourceId::parse(&path.scope) };
    if !path.scope.is_empty() && scope_id.is_none() {
        return Err(ArmError::InvalidRequestContent {
            message: format!("The scope '{}' is not a valid resource address.", path.scope),
        });
    }
    let caller =
        authenticate(state, &parts.headers, base_url, scope_id.as_ref().map(|id| id.subscription.as_str())).await?;
    let query = arm::parse_query(parts.uri.query());
    let collection = match path.collection {
        authorization::Collection::RoleAssignments => "Microsoft.Authorization/roleAssignments",
        authorization::Collection::RoleDefinitions => "Microsoft.Authorization/roleDefinitions",
        authorization::Collection::Permissions => "Microsoft.Authorization/permissions",
    };
    api_version::check(query.get("api-version").map(String::as_str), collection, authorization::API_VERSIONS)?;
    let path = path.clone();
    let (status, value) = match parts.method {
        Method::GET => {
            let value = state.read(move |tx| authorization::handle_read(tx, &caller, &path, &query)).await?;
            (StatusCode::OK, value)
        }
        Method::PUT | Method::DELETE => {
            let method = parts.method.clone();
            state
                .write(false, move |w| {
                    w.caller = Some(caller.clone());
                    authorization::handle_write(w, &caller, &method, &path, &body)
                })
                .await?
        }
        ref other => return Err(ArmError::MethodNotAllowed { method: other.to_string() }),
    };
    Ok(if value.is_null() { arm::empty_response(status, &[]) } else { arm::json_response(status, &value, &[]) })
}

async fn dispatch(state: &AppState, req: &ArmRequest) -> ArmResult<Response> {
    let m = &req.method;
    match &req.path {
        ArmPath::Subscriptions if m == Method::GET => {
            api_version::check(req.api_version(), "Microsoft.Resources/subscriptions", api_version::RESOURCES)?;
            list_tenant_level(state, req, subscriptions::SUBSCRIPTION_TYPE_KEY, subscriptions::render_subscription)
                .await
        }
        ArmPath::Tenants if m == Method::GET => {
            api_version::check(req.api_version(), "Microsoft.Resources/tenants", api_version::RESOURCES)?;
            list_tenant_level(state, req, subscriptions::TENANT_TYPE_KEY, subscriptions::render_tenant).await
        }
        ArmPath::TenantProviders if m == Method::GET => {
            api_version::check(req.api_version(), "Microsoft.Resources/providers", api_version::RESOURCES)?;
            let value: Vec<_> = state
                .registry
                .namespaces()
                .into_iter()
                .map(|ns| registration::render(&state.registry, None, ns, None))
                .collect();
            Ok(arm::json_response(StatusCode::OK, &json!({ "value": value }), &[]))
        }
        ArmPath::Providers { subscription, namespace } if m == Method::GET => {
            api_version::check(req.api_version(), "Microsoft.Resources/providers", api_version::RESOURCES)?;
            providers_get(state, subscription, namespace.as_deref()).await
        }
        ArmPath::ProviderAction { subscription, namespace, action } if m == Method::POST => {
            api_version::check(req.api_version(), "Microsoft.Resources/providers", api_version::RESOURCES)?;
            provider_register(state, req, subscription, namespace, action == "register").await
        }
        ArmPath::Resource(id) if id.provider.is_none() && id.resource_group.is_none() => {
            if m != Method::GET {
                return Err(ArmError::MethodNotAllowed { method: m.to_string() });
            }
            api_version::check(req.api_version(), "Microsoft.Resources/subscriptions", api_version::RESOURCES)?;
            let key = id.key();
            let sub = id.subscription.clone();
            let caller = req.caller.clone();
            let row = state
                .read(move |tx| {
                    let Some(row) = tx.get(&key)? else { return Ok(None) };
                    if !rbac::has_any_access(tx, &caller, &sub)? {
                        return Err(ArmError::AuthorizationFailed {
                            client: caller.display.clone(),
                            object_id: caller.object_id.clone(),
                            action: "Microsoft.Resources/subscriptions/read".into(),
                            scope: row.id.clone(),
                        });
                    }
                    Ok(Some(row))
                })
                .await?;
            let row = row.ok_or(ArmError::SubscriptionNotFound { subscription: id.subscription.clone() })?;
            Ok(arm::json_response(StatusCode::OK, &subscriptions::render_subscription(&row), &[]))
        }
        ArmPath::Resource(id) if is_link_resource(id) => {
            if m != Method::GET {
                return Err(ArmError::MethodNotAllowed { method: m.to_string() });
            }
            let parent = id.parent().ok_or(ArmError::Internal)?;
            private_link::link_resources(state, req, parent, Some(id.name().to_string())).await
        }
        ArmPath::Resource(id) => {
            if let Some(kind) = operations::kind(id) {
                api_version_for_namespace(state, req, id)?;
                if m != Method::GET {
                    return Err(ArmError::MethodNotAllowed { method: m.to_string() });
                }
                return match kind {
                    "status" => operations::status(state, id).await,
                    _ => operations::result(state, req, id).await,
                };
            }
            let id = id.clone();
            match *m {
                Method::PUT => engine::put(state, req, id).await,
                Method::GET => engine::get(state, req, id).await,
                Method::HEAD => {
                    let r = engine::get(state, req, id).await;
                    Ok(match r {
                        Ok(_) => arm::empty_response(StatusCode::NO_CONTENT, &[]),
                        Err(ArmError::ResourceGroupNotFound { .. }) | Err(ArmError::ResourceNotFound { .. }) => {
                            arm::empty_response(StatusCode::NOT_FOUND, &[])
                        }
                        Err(e) => return Err(e),
                    })
                }
                Method::PATCH => engine::patch(state, req, id).await,
                Method::DELETE => engine::delete(state, req, id).await,
                _ => Err(ArmError::MethodNotAllowed { method: m.to_string() }),
            }
        }
        ArmPath::Collection { scope, types, .. }
            if types.last().is_some_and(|t| t.eq_ignore_ascii_case("privateLinkResources"))
                && scope.provider.is_some() =>
        {
            if m != Method::GET {
                return Err(ArmError::MethodNotAllowed { method: m.to_string() });
            }
            private_link::link_resources(state, req, scope.clone(), None).await
        }
        ArmPath::Collection { scope, namespace: Some(ns), types }
            if ns.eq_ignore_ascii_case("Microsoft.Storage")
                && scope.resource_group.is_none()
                && scope.provider.is_none()
                && matches!(types.as_slice(), [t] if t.eq_ignore_ascii_case("checkNameAvailability")) =>
        {
            if m != Method::POST {
                return Err(ArmError::MethodNotAllowed { method: m.to_string() });
            }
            api_version::check(
                req.api_version(),
                "Microsoft.Storage/checkNameAvailability",
                crate::catalogue::api_versions(),
            )?;
            let body = req.body_object()?;
            let (caller, scope_id) = (req.caller.clone(), scope.to_string());
            let answer = state
                .read(move |tx| {
                    rbac::require(tx, &caller, "Microsoft.Storage/checknameavailability/read", &scope_id)?;
                    crate::providers::targets::storage::check_name_availability(
                        tx,
                        crate::arm::json::Obj::new(&body, ""),
                    )
                })
                .await?;
            Ok(arm::json_response(StatusCode::OK, &answer, &[]))
        }
        ArmPath::Collection { scope, namespace: Some(ns), types }
            if ns.eq_ignore_ascii_case("Microsoft.Network")
                && matches!(types.as_slice(), [z, all] if z.eq_ignore_ascii_case("privateDnsZones") && all.eq_ignore_ascii_case("ALL"))
                && scope.provider.is_some() =>
        {
            if m != Method::GET {
                return Err(ArmError::MethodNotAllowed { method: m.to_string() });
            }
            crate::providers::private_dns::record_sets::list_all(state, req, scope.clone()).await
        }
        ArmPath::Collection { scope, namespace: Some(ns), types }
            if ns.eq_ignore_ascii_case("Microsoft.Network")
                && types.len() == 2
                && types[0].eq_ignore_ascii_case("locations") =>
        {
            match (types[1].to_ascii_lowercase().as_str(), m) {
                ("availableprivateendpointtypes", &Method::GET) => {
                    private_link::available_types(state, req, scope).await
                }
                ("checkprivatelinkservicevisibility", &Method::POST) => {
                    private_link::check_visibility(state, req, scope).await
                }
                _ => Err(ArmError::MethodNotAllowed { method: m.to_string() }),
            }
        }
        ArmPath::Collection { scope, namespace, types } => {
            if m != Method::GET {
                return Err(ArmError::MethodNotAllowed { method: m.to_string() });
            }
            match (namespace, types.as_slice()) {
                (None, [t]) if t.eq_ignore_ascii_case("resourceGroups") => {
                    engine::list(state, req, scope.clone(), crate::arm::id::RESOURCE_GROUP_TYPE.into()).await
                }
                (None, [t]) if t.eq_ignore_ascii_case("locations") && scope.resource_group.is_none() => {
                    api_version::check(req.api_version(), "Microsoft.Resources/locations", api_version::RESOURCES)?;
                    Ok(arm::json_response(
                        StatusCode::OK,
                        &json!({ "value": locations::render(&scope.subscription) }),
                        &[],
                    ))
                }
                (Some(ns), _) => {
                    let type_name = format!("{ns}/{}", types.join("/"));
                    let list_scope = match &scope.provider {
                        Some(_) => scope.clone().with_canonical_type(&parent_type(state, &type_name)),
                        None => scope.clone(),
                    };
                    engine::list(state, req, list_scope, type_name).await
                }
                _ => Err(ArmError::InvalidRequestContent {
                    message: format!("The request path '{}' is not a valid resource address.", req.raw_path),
                }),
            }
        }
        _ => Err(ArmError::MethodNotAllowed { method: m.to_string() }),
    }
}

/// Whether a tenant or subscription row shows in the caller's listing.
fn visible_to(
    tx: &mut dyn privlink_store::Tx,
    caller: &identity::Caller,
    row: &privlink_store::ResourceRow,
) -> ArmResult<bool> {
    if row.type_key == subscriptions::TENANT_TYPE_KEY {
        return Ok(row.key.trim_start_matches("/tenants/") == caller.tenant_id);
    }
    let tenant = row.body.get("tenantId").and_then(|t| t.as_str()).unwrap_or("");
    Ok(tenant.eq_ignore_ascii_case(&caller.tenant_id) && rbac::has_any_access(tx, caller, &row.subscription)?)
}

fn is_link_resource(id: &ResourceId) -> bool {
    id.provider.as_ref().is_some_and(|p| {
        p.pairs.len() >= 2 && p.pairs.last().is_some_and(|(t, _)| t.eq_ignore_ascii_case("privateLinkResources"))
    })
}

/// The canonical type of a collection's parent (`.../virtualNetworks` for `.../subnets`).
fn parent_type(state: &AppState, type_name: &str) -> String {
    let parent = type_name.rsplit_once('/').map(|(p, _)| p).unwrap_or(type_name);
    state
        .registry
        .get(&parent.to_ascii_lowercase())
        .map(|t| t.type_name().to_string())
        .unwrap_or_else(|| parent.to_string())
}

/// Operation polls carry the api-version of the request that started them: any version one of
/// the namespace's types accepts (Private DNS and Network share `Microsoft.Network`).
fn api_version_for_namespace(state: &AppState, req: &ArmRequest, id: &ResourceId) -> ArmResult<()> {
    let ns = id.provider.as_ref().map(|p| p.namespace.clone()).unwrap_or_default();
    let types = state.registry.types_in(&ns);
    let what = format!("{ns}/locations/operations");
    if types.iter().any(|t| api_version::check(req.api_version(), &what, t.api_versions()).is_ok()) {
        return Ok(());
    }
    let versions = types.first().map(|t| t.api_versions()).unwrap_or(api_version::RESOURCES);
    api_version::check(req.api_version(), &what, versions)
}

/// `GET /subscriptions` and `GET /tenants`: only the caller's tenant, and only subscriptions
/// where the caller holds some role.
async fn list_tenant_level(
    state: &AppState,
    req: &ArmRequest,
    type_key: &'static str,
    render: fn(&privlink_store::ResourceRow) -> serde_json::Value,
) -> ArmResult<Response> {
    let caller = req.caller.clone();
    let limit = arm::page_size(req, state.settings.limits.page_size)?;
    let after = match req.query.get("$skiptoken") {
        Some(t) => Some(arm::decode_skip_token(t)?),
        None => None,
    };
    let (rows, more) = state
        .read(move |tx| {
            let mut rows = Vec::new();
            let mut cursor = after.clone();
            // Keyset pages over every tenant's rows, keeping the caller's, until a page is full.
            loop {
                let page = tx.list(&privlink_store::ListQuery {
                    scope: privlink_store::Scope::All,
                    type_key: Some(type_key),
                    after: cursor.as_deref(),
                    limit: 500,
                })?;
                let exhausted = page.len() < 500;
                cursor = page.last().map(|r| r.key.clone());
                for row in page {
                    if visible_to(tx, &caller, &row)? {
                        rows.push(row);
                    }
                }
                if exhausted || rows.len() > limit {
                    break;
                }
            }
            let more = rows.len() > limit;
            Ok((rows.into_iter().take(limit).collect::<Vec<_>>(), more))
        })
        .await?;
    let mut body = json!({ "value": rows.iter().map(render).collect::<Vec<_>>() });
    if let (true, Some(last)) = (more, rows.last()) {
        body["nextLink"] = json!(arm::next_link(req, &last.key));
    }
    Ok(arm::json_response(StatusCode::OK, &body, &[]))
}

async fn providers_get(state: &AppState, subscription: &str, namespace: Option<&str>) -> ArmResult<Response> {
    let registry = state.registry.clone();
    let sub = subscription.to_string();
    let ns = namespace.map(str::to_string);
    let body = state
        .read(move |tx| {
            if tx.get(&ResourceId::subscription(&sub).key())?.is_none() {
                return Err(ArmError::SubscriptionNotFound { subscription: sub.clone() });
            }
            let namespaces: Vec<&str> = registry.namespaces();
            match &ns {
                Some(wanted) => {
                    let canonical = namespaces
                        .iter()
                        .find(|n| n.eq_ignore_ascii_case(wanted))
                        .ok_or_else(|| ArmError::InvalidResourceNamespace { namespace: wanted.clone() })?;
                    let state = registration::state(tx, &sub, canonical)?;
                    Ok(registration::render(&registry, Some(&sub), canonical, Some(&state)))
                }
                None => {
                    let mut value = Vec::new();
                    for n in namespaces {
                        let state = registration::state(tx, &sub, n)?;
                        value.push(registration::render(&registry, Some(&sub), n, Some(&state)));
                    }
                    Ok(json!({ "value": value }))
                }
            }
        })
        .await?;
    Ok(arm::json_response(StatusCode::OK, &body, &[]))
}

async fn provider_register(
    state: &AppState,
    req: &ArmRequest,
    subscription: &str,
    namespace: &str,
    register: bool,
) -> ArmResult<Response> {
    let registry = state.registry.clone();
    let sub = subscription.to_string();
    let ns = namespace.to_string();
    let caller = req.caller.clone();
    let body = state
        .write(false, move |w| {
            let Some(sub_row) = w.tx.get(&ResourceId::subscription(&sub).key())? else {
                return Err(ArmError::SubscriptionNotFound { subscription: sub.clone() });
            };
            let verb = if register { "register" } else { "unregister" };
            rbac::require(w.tx, &caller, &format!("{ns}/{verb}/action"), &sub_row.id)?;
            let canonical = registry
                .namespaces()
                .into_iter()
                .find(|n| n.eq_ignore_ascii_case(&ns))
                .ok_or_else(|| ArmError::InvalidResourceNamespace { namespace: ns.clone() })?;
            registration::set_state(w.tx, &sub, canonical, register, w.now)?;
            Ok(registration::render(
                &registry,
                Some(&sub),
                canonical,
                Some(if register { "Registered" } else { "Unregistered" }),
            ))
        })
        .await?;
    Ok(arm::json_response(StatusCode::OK, &body, &[]))
}

/// `GET /metadata/endpoints`: what `az cloud register` discovers. Carries both the 2015 keys and
/// the newer ones so either reader finds what it looks for.
async fn metadata_endpoints(State(state): State<AppState>, request: Request<Body>) -> Response {
    let query = arm::parse_query(request.uri().query());
    if let Err(e) =
        api_version::check(query.get("api-version").map(String::as_str), "metadata/endpoints", api_version::METADATA)
    {
        return e.into_response();
    }
    let base = arm::base_url(request.headers(), request.uri(), state.defaults.insecure_http);
    let audiences =
        json!(["https://management.core.windows.net/", "https://management.azure.com/", format!("{base}/")]);
    let body = json!({
        "galleryEndpoint": format!("{base}/"),
        "graphEndpoint": format!("{base}/"),
        "portalEndpoint": format!("{base}/"),
        "authentication": { "loginEndpoint": base, "audiences": audiences, "tenant": "common", "identityProvider": "AAD" },
        "name": "privlink",
        "resourceManager": format!("{base}/"),
        "portal": format!("{base}/"),
        "graph": format!("{base}/"),
        "graphAudience": format!("{base}/"),
        "microsoftGraphResourceId": format!("{base}/"),
        "media": format!("{base}/"),
        "sqlManagement": format!("{base}/"),
        "batch": format!("{base}/"),
        "activeDirectoryDataLake": format!("{base}/"),
        "suffixes": {
            "storage": "core.windows.net",
            "keyVaultDns": "vault.azure.net",
            "sqlServerHostname": "database.windows.net",
            "acrLoginServer": "azurecr.io",
            "azureDataLakeStoreFileSystem": "azuredatalakestore.net",
            "azureDataLakeAnalyticsCatalogAndJob": "azuredatalakeanalytics.net",
        },
    });
    arm::json_response(StatusCode::OK, &body, &[])
}
