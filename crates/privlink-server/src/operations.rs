//! Long-running-operation polling: `.../providers/{ns}/locations/{loc}/operations/{id}`
//! (the `Azure-AsyncOperation` URL: always 200 with a status body) and
//! `.../operationResults/{id}` (the `Location` URL: 202 while running, then the result).

use axum::response::Response;
use http::StatusCode;
use serde_json::json;

use crate::arm::{self, ArmError, ArmRequest, ArmResult, ResourceId};
use crate::state::AppState;

async fn load(state: &AppState, subscription: &str, operation_id: &str) -> ArmResult<privlink_store::OperationRow> {
    let reconciler = state.reconciler.clone();
    let id = operation_id.to_string();
    // With immediate timing, the first poll already sees the terminal state.
    tokio::task::spawn_blocking(move || reconciler.drive_operation(&id)).await.map_err(|_| ArmError::Internal)??;
    let id = operation_id.to_string();
    let sub = subscription.to_ascii_lowercase();
    let op = state
        .read(move |tx| {
            let op = tx.operation_get(&id)?.filter(|op| op.subscription == sub);
            op.ok_or_else(|| ArmError::OperationNotFound { id: id.clone() })
        })
        .await?;
    // Whatever the status just read says is done (the reconciler may have finished it a moment
    // ago, on its own thread) reaches the data planes before the client hears of it.
    if op.status != "InProgress" {
        state.planes.sync().await;
    }
    Ok(op)
}

/// `GET .../operations/{id}`
pub async fn status(state: &AppState, id: &ResourceId) -> ArmResult<Response> {
    let op = load(state, &id.subscription, id.name()).await?;
    let mut body = json!({
        "id": format!("{}", id),
        "name": op.id,
        "status": op.status,
        "startTime": crate::arm::rfc3339(op.created_at),
    });
    if op.status != "InProgress" {
        body["endTime"] = json!(crate::arm::rfc3339(op.updated_at));
        body["percentComplete"] = json!(100);
    }
    if let Some(error) = &op.error {
        body["error"] = error.clone();
    }
    let mut headers = vec![];
    if op.status == "InProgress" {
        headers.push(("retry-after", "1".to_string()));
    }
    Ok(arm::json_response(StatusCode::OK, &body, &headers))
}

/// `GET .../operationResults/{id}`
pub async fn result(state: &AppState, req: &ArmRequest, id: &ResourceId) -> ArmResult<Response> {
    let op = load(state, &id.subscription, id.name()).await?;
    match op.status.as_str() {
        "InProgress" => Ok(arm::empty_response(
            StatusCode::ACCEPTED,
            &[
                (
                    "location",
                    format!("{}{}?api-version={}", req.base_url, req.raw_path, req.api_version().unwrap_or_default()),
                ),
                ("retry-after", "1".into()),
            ],
        )),
        "Succeeded" if op.kind == "delete" => Ok(arm::empty_response(StatusCode::NO_CONTENT, &[])),
        "Succeeded" => {
            let registry = state.registry.clone();
            let key = op.resource_key.clone();
            let body = state
                .read(move |tx| match tx.get(&key)? {
                    Some(row) => crate::engine::render(tx, &registry, &row).map(Some),
                    None => Ok(None),
                })
                .await?;
            Ok(match body {
                Some(body) => arm::json_response(StatusCode::OK, &body, &[]),
                None => arm::empty_response(StatusCode::NO_CONTENT, &[]),
            })
        }
        _ => {
            let error = op.error.clone().unwrap_or_else(|| ArmError::Internal.body());
            Ok(arm::json_response(StatusCode::BAD_REQUEST, &json!({ "error": error }), &[]))
        }
    }
}

/// Whether `id` addresses an operation endpoint: `{ns}/locations/operations|operationResults`.
pub fn kind(id: &ResourceId) -> Option<&'static str> {
    let p = id.provider.as_ref()?;
    if id.resource_group.is_some() || p.pairs.len() != 2 || !p.pairs[0].0.eq_ignore_ascii_case("locations") {
        return None;
    }
    let t = p.pairs[1].0.to_ascii_lowercase();
    match t.as_str() {
        "operations" | "operationstatuses" | "asyncoperations" => Some("status"),
        "operationresults" => Some("result"),
        _ => None,
    }
}
