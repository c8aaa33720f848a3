//! The token issuer's HTTP surface, shaped like Entra ID's: per-tenant OpenID configuration
//! (v2 and v1), JWKS, the token endpoints (client credentials with a secret, and password for
//! users), and the managed-identity endpoint in App Service's shape.
//!
//! Errors follow Entra's OAuth shape (`{"error", "error_description", "error_codes"}`), which is
//! what MSAL and azure-identity parse, not ARM's.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::{HeaderMap, StatusCode, Uri};
use serde_json::{json, Value};

use super::directory::{self, Verified};
use super::managed::{self, Selector};
use super::service::now_secs;
use super::tokens::{self, Subject, TokenVersion};
use super::PrincipalKind;
use crate::arm;
use crate::state::AppState;

fn base(state: &AppState, headers: &HeaderMap, uri: &Uri) -> String {
    arm::base_url(headers, uri, state.defaults.insecure_http)
}

/// Entra's OAuth error body.
fn oauth_error(status: StatusCode, error: &str, code: u32, description: &str) -> Response {
    let now = arm::rfc3339(crate::providers::now_millis());
    let trace = uuid::Uuid::new_v4();
    let body = json!({
        "error": error,
        "error_description": format!("AADSTS{code}: {description} Trace ID: {trace} Correlation ID: {trace} Timestamp: {now}"),
        "error_codes": [code],
        "timestamp": now,
        "trace_id": trace.to_string(),
        "correlation_id": trace.to_string(),
    });
    (status, Json(body)).into_response()
}

fn tenant_missing(tenant: &str) -> Response {
    oauth_error(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        90002,
        &format!("Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."),
    )
}

/// Entra's multi-tenant authorities: their documents exist (MSAL reads them, e.g. on
/// `az account clear`), with `{tenantid}` in the issuer; tokens always name a real tenant.
fn is_multi_tenant(tenant: &str) -> bool {
    matches!(tenant.to_ascii_lowercase().as_str(), "common" | "organizations" | "consumers")
}

async fn tenant_exists(state: &AppState, tenant: &str) -> bool {
    let key = directory::tenant_key(tenant);
    uuid::Uuid::parse_str(tenant).is_ok() && matches!(state.read(move |tx| Ok(tx.get(&key)?.is_some())).await, Ok(true))
}

/// `GET /{tenant}/v2.0/.well-known/openid-configuration`
pub async fn openid_configuration_v2(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    openid_configuration(&state, &tenant, &headers, &uri, TokenVersion::V2).await
}

/// `GET /{tenant}/.well-known/openid-configuration` (the v1 form).
pub async fn openid_configuration_v1(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    openid_configuration(&state, &tenant, &headers, &uri, TokenVersion::V1).await
}

/// The OpenID configuration document of `tenant`; v2 endpoints carry `/v2.0` in their paths.
async fn openid_configuration(
    state: &AppState,
    tenant: &str,
    headers: &HeaderMap,
    uri: &Uri,
    version: TokenVersion,
) -> Response {
    if !is_multi_tenant(tenant) && !tenant_exists(state, tenant).await {
        return tenant_missing(tenant);
    }
    let b = base(state, headers, uri);
    let issuer_tenant = if is_multi_tenant(tenant) { "{tenantid}" } else { tenant };
    let v = if version == TokenVersion::V2 { "/v2.0" } else { "" };
    Json(json!({
        "issuer": tokens::issuer(&b, issuer_tenant, version),
        "authorization_endpoint": format!("{b}/{tenant}/oauth2{v}/authorize"),
        "token_endpoint": format!("{b}/{tenant}/oauth2{v}/token"),
        "device_authorization_endpoint": format!("{b}/{tenant}/oauth2{v}/devicecode"),
        "end_session_endpoint": format!("{b}/{tenant}/oauth2{v}/logout"),
        "jwks_uri": format!("{b}/{tenant}/discovery{v}/keys"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "grant_types_supported": ["client_credentials", "password"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "tid", "oid", "azp", "appid", "idtyp", "ver"],
        "tenant_region_scope": "EU",
        "cloud_instance_name": "privlink.local",
        "request_uri_parameter_supported": false,
    }))
    .into_response()
}

/// `GET /{tenant}/discovery/v2.0/keys`, `/{tenant}/discovery/keys`: one key for all tenants.
pub async fn jwks(State(state): State<AppState>) -> Response {
    Json(state.identity.key.jwks()).into_response()
}

/// `POST /{tenant}/oauth2/v2.0/token`
pub async fn token_v2(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    token(state, tenant, headers, uri, body, TokenVersion::V2).await
}

/// `POST /{tenant}/oauth2/token`
pub async fn token_v1(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    token(state, tenant, headers, uri, body, TokenVersion::V1).await
}

/// An OAuth error not yet rendered (kept small; see [`oauth_error`]).
struct Refusal {
    status: StatusCode,
    error: &'static str,
    code: u32,
    description: String,
}

impl Refusal {
    fn new(status: StatusCode, error: &'static str, code: u32, description: impl Into<String>) -> Refusal {
        Refusal { status, error, code, description: description.into() }
    }

    fn into_response(self) -> Response {
        oauth_error(self.status, self.error, self.code, &self.description)
    }
}

/// The audience a request asks for: v2's `scope` (`{resource}/.default`, or a delegated
/// `{resource}/{permission}` for users) or v1's `resource`.
fn audience(
    form: &std::collections::HashMap<String, String>,
    version: TokenVersion,
    grant: &str,
) -> Result<String, Refusal> {
    let invalid_scope = |what: &str| {
        Refusal::new(StatusCode::BAD_REQUEST, "invalid_scope", 1002012, format!("The provided value for scope '{what}' is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."))
    };
    let missing = |name: &str| {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            format!("The request body must contain the following parameter: '{name}'."),
        )
    };
    match version {
        TokenVersion::V1 => form.get("resource").filter(|r| !r.is_empty()).cloned().ok_or_else(|| missing("resource")),
        TokenVersion::V2 => {
            let scope = form.get("scope").map(String::as_str).unwrap_or("");
            let resource_scopes: Vec<&str> = scope
                .split(' ')
                .filter(|s| !s.is_empty() && !matches!(*s, "openid" | "profile" | "offline_access" | "email"))
                .collect();
            let [one] = resource_scopes.as_slice() else {
                return Err(if scope.is_empty() { missing("scope") } else { invalid_scope(scope) });
            };
            match one.strip_suffix("/.default") {
                Some(resource) if !resource.is_empty() => Ok(resource.to_string()),
                _ if grant == "password" => match one.rsplit_once('/') {
                    Some((resource, _)) if !resource.is_empty() => Ok(resource.to_string()),
                    _ => Err(invalid_scope(one)),
                },
                _ => Err(invalid_scope(one)),
            }
        }
    }
}

async fn token(
    state: AppState,
    tenant: String,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
    version: TokenVersion,
) -> Response {
    if !tenant_exists(&state, &tenant).await {
        return tenant_missing(&tenant);
    }
    let form = arm::parse_query(std::str::from_utf8(&body).ok());
    let field = |name: &str| form.get(name).filter(|v| !v.is_empty()).cloned();
    let grant = field("grant_type").unwrap_or_default();
    let resource = match audience(&form, version, &grant) {
        Ok(r) => r,
        Err(refusal) => return refusal.into_response(),
    };
    // client_secret_basic: the id and secret may come in an Authorization: Basic header.
    let (basic_id, basic_secret) = basic_credentials(&headers);
    let client_id = field("client_id").or(basic_id);
    let tenant_l = tenant.to_ascii_lowercase();
    let verified = match grant.as_str() {
        "client_credentials" => {
            let (Some(client_id), Some(secret)) = (client_id.clone(), field("client_secret").or(basic_secret)) else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    900144,
                    "The request body must contain the following parameters: 'client_id' and 'client_secret'.",
                );
            };
            let t = tenant_l.clone();
            state.read(move |tx| directory::verify_client_secret(tx, &t, &client_id, &secret)).await
        }
        "password" => {
            let (Some(username), Some(password)) = (field("username"), field("password")) else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    900144,
                    "The request body must contain the following parameters: 'username' and 'password'.",
                );
            };
            let t = tenant_l.clone();
            state.read(move |tx| directory::verify_password(tx, &t, &username, &password)).await
        }
        other => {
            return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", 70003, &format!("The app requested an unsupported grant type '{other}'. privlink supports client_credentials (with client_secret) and password."));
        }
    };
    let row = match verified {
        Ok(Verified::Ok(row)) => row,
        Ok(Verified::Unknown | Verified::WrongSecret) if grant == "password" => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                50126,
                "Error validating credentials due to invalid username or password.",
            );
        }
        Ok(Verified::Unknown) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unauthorized_client",
                700016,
                &format!(
                    "Application with identifier '{}' was not found in the directory '{tenant}'.",
                    client_id.unwrap_or_default()
                ),
            );
        }
        Ok(Verified::WrongSecret) => {
            return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.");
        }
        Err(_) => {
            return oauth_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                90033,
                "A transient error has occurred. Please try again.",
            )
        }
    };
    let b = row.body.clone();
    let text = |k: &str| b.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let subject = if grant == "password" {
        Subject {
            tenant_id: tenant_l,
            object_id: text("objectId"),
            client_id: client_id.unwrap_or_else(|| "04b07795-8ddb-461a-bbee-02f9e1bf7b46".into()),
            kind: PrincipalKind::User,
            upn: Some(text("userPrincipalName")),
            display_name: Some(text("displayName")),
            mi_resource_id: None,
            admin: b.get("admin").and_then(Value::as_bool).unwrap_or(false),
        }
    } else {
        Subject {
            tenant_id: tenant_l,
            object_id: text("objectId"),
            client_id: text("appId"),
            kind: PrincipalKind::ServicePrincipal,
            upn: None,
            display_name: Some(text("displayName")),
            mi_resource_id: None,
            admin: b.get("admin").and_then(Value::as_bool).unwrap_or(false),
        }
    };
    let base = base(&state, &headers, &uri);
    issue_response(&state, &base, &subject, &resource, version, grant == "password")
}

fn issue_response(
    state: &AppState,
    base: &str,
    subject: &Subject,
    resource: &str,
    version: TokenVersion,
    user: bool,
) -> Response {
    let now = now_secs();
    let Ok((token, exp)) = tokens::issue(&state.identity.key, base, subject, resource, version, now) else {
        return oauth_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", 90033, "The token could not be signed.");
    };
    let expires_in = exp - now;
    let mut body = json!({ "token_type": "Bearer", "expires_in": expires_in, "ext_expires_in": expires_in, "access_token": token });
    if version == TokenVersion::V1 {
        body["expires_on"] = json!(exp.to_string());
        body["not_before"] = json!(now.to_string());
        body["resource"] = json!(resource);
    }
    if user {
        body["scope"] = json!(format!("{resource}/.default"));
    }
    tracing::info!(tenant = %subject.tenant_id, object_id = %subject.object_id, audience = %resource, "token issued");
    Json(body).into_response()
}

fn basic_credentials(headers: &HeaderMap) -> (Option<String>, Option<String>) {
    use base64::Engine as _;
    let decoded = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic ").or_else(|| v.strip_prefix("basic ")))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b.trim()).ok())
        .and_then(|b| String::from_utf8(b).ok());
    match decoded.as_deref().and_then(|d| d.split_once(':')) {
        Some((id, secret)) => (Some(id.to_string()), Some(secret.to_string())),
        None => (None, None),
    }
}

/// `GET /msi/token`: App Service's managed-identity endpoint. The `X-IDENTITY-HEADER` (or
/// `secret` for api-version 2017-09-01) names the resource whose identity the process acts as;
/// `client_id`, `principal_id` / `object_id` or `mi_res_id` pick one of its identities.
pub async fn managed_identity_token(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let msi_error = |status: StatusCode, error: &str, description: String| {
        (status, Json(json!({ "error": error, "error_description": description }))).into_response()
    };
    let query = arm::parse_query(uri.query());
    let header = headers
        .get("x-identity-header")
        .or_else(|| headers.get("secret"))
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let Some((resource_key, created_at)) = header.as_deref().and_then(|h| state.identity.resource_of_header(h)) else {
        return msi_error(StatusCode::UNAUTHORIZED, "invalid_request", "The X-IDENTITY-HEADER is missing or was not issued by this server. Get the environment with `privlink identity env <resource-id>`.".into());
    };
    let Some(resource) = query.get("resource").filter(|r| !r.is_empty()).cloned() else {
        return msi_error(StatusCode::BAD_REQUEST, "invalid_request", "The 'resource' parameter is required.".into());
    };
    let pick = |k: &str| query.get(k).filter(|v| !v.is_empty()).cloned();
    let selector = Selector {
        client_id: pick("client_id"),
        principal_id: pick("principal_id").or_else(|| pick("object_id")),
        resource_id: pick("mi_res_id").or_else(|| pick("msi_res_id")),
    };
    let resolved = state.read(move |tx| Ok(managed::resolve(tx, &resource_key, created_at, &selector))).await;
    let subject = match resolved {
        Ok(Ok(s)) => s,
        Ok(Err(why)) => {
            return msi_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                format!("Unable to load the requested managed identity: {why}."),
            )
        }
        Err(_) => {
            return msi_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "The store could not be read.".into())
        }
    };
    let b = base(&state, &headers, &uri);
    let now = now_secs();
    let Ok((token, exp)) = tokens::issue(&state.identity.key, &b, &subject, &resource, TokenVersion::V1, now) else {
        return msi_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "The token could not be signed.".into());
    };
    Json(json!({
        "access_token": token,
        // App Service sends expires_on; IMDS-style readers want expires_in. Both satisfy every
        // azure-identity flavour.
        "expires_on": exp.to_string(),
        "expires_in": (exp - now).to_string(),
        "not_before": now.to_string(),
        "resource": resource,
        "token_type": "Bearer",
        "client_id": subject.client_id,
    }))
    .into_response()
}
