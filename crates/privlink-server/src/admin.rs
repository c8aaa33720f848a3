//! privlink's own endpoints under `/privlink/`, apart from ARM paths: server facts and the
//! reconciler controls used with `manual` timing.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use crate::arm::ArmError;
use crate::state::AppState;

pub async fn info(State(state): State<AppState>) -> Response {
    Json(json!({
        "tenantId": state.defaults.tenant_id,
        "subscriptionId": state.defaults.subscription_id,
        "store": state.store.backend(),
        "provisioning": state.settings.timing.to_string(),
        "version": env!("CARGO_PKG_VERSION"),
    }))
    .into_response()
}

#[derive(Deserialize)]
pub struct StepParams {
    limit: Option<usize>,
}

/// Complete up to `limit` (default: all) pending operations now.
pub async fn step(State(state): State<AppState>, Query(params): Query<StepParams>) -> Response {
    let reconciler = state.reconciler.clone();
    let limit = params.limit.unwrap_or(100_000);
    match tokio::task::spawn_blocking(move || reconciler.step(limit)).await {
        Ok(Ok(done)) => Json(json!({ "completed": done })).into_response(),
        Ok(Err(e)) => e.into_response(),
        Err(_) => ArmError::Internal.into_response(),
    }
}

pub async fn pending(State(state): State<AppState>) -> Response {
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
pub struct SubscriptionBody {
    display_name: Option<String>,
    tenant_id: Option<String>,
    /// The principal that owns the subscription (and may approve connections to what is in it).
    owner: Option<String>,
}

/// `PUT /privlink/subscriptions/{id}`: create or update a subscription (privlink's own admin
/// surface; ARM has no such operation).
pub async fn put_subscription(
    State(state): State<AppState>,
    axum::extract::Path(subscription_id): axum::extract::Path<String>,
    body: Result<Json<SubscriptionBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Json(body) = match body {
        Ok(b) => b,
        Err(e) => {
            return ArmError::InvalidRequestContent { message: format!("The request content was invalid: {e}.") }
                .into_response()
        }
    };
    if uuid::Uuid::parse_str(&subscription_id).is_err() {
        return ArmError::invalid(
            "InvalidSubscriptionId",
            format!("'{subscription_id}' is not a subscription id (a GUID)."),
        )
        .into_response();
    }
    let tenant = body.tenant_id.clone().unwrap_or_else(|| state.defaults.tenant_id.clone());
    let result = state
        .write(false, move |w| {
            let tenant_key = format!("/tenants/{tenant}").to_ascii_lowercase();
            if w.tx.get(&tenant_key)?.is_none() {
                return Err(ArmError::invalid("TenantNotFound", format!("Tenant {tenant} does not exist.")));
            }
            let key = format!("/subscriptions/{subscription_id}").to_ascii_lowercase();
            let existing = w.tx.get(&key)?;
            let display = body
                .display_name
                .clone()
                .or_else(|| {
                    existing
                        .as_ref()
                        .and_then(|e| e.body.get("displayName").and_then(|v| v.as_str()).map(str::to_string))
                })
                .unwrap_or_else(|| subscription_id.clone());
            let mut row = crate::providers::resources::subscriptions::subscription_row(
                &subscription_id,
                &tenant,
                &display,
                w.now,
            );
            let owner = body
                .owner
                .clone()
                .or_else(|| {
                    existing.as_ref().and_then(|e| e.body.get("owner").and_then(|v| v.as_str()).map(str::to_string))
                })
                .unwrap_or_else(|| crate::providers::approval::DEFAULT_OWNER.to_string());
            row.body["owner"] = json!(owner);
            if let Some(e) = &existing {
                row.created_at = e.created_at;
            }
            w.tx.put(&row)?;
            Ok((existing.is_none(), crate::providers::resources::subscriptions::render_subscription(&row)))
        })
        .await;
    match result {
        Ok((created, doc)) => {
            let status = if created { http::StatusCode::CREATED } else { http::StatusCode::OK };
            (status, Json(doc)).into_response()
        }
        Err(e) => e.into_response(),
    }
}
