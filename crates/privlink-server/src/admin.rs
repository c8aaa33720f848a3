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
