//! Read-only private-link endpoints and actions that are not stored resources:
//! `{target}/privateLinkResources[/{group}]`, `availablePrivateEndpointTypes` and
//! `checkPrivateLinkServiceVisibility`.

use axum::response::Response;
use http::StatusCode;
use serde_json::{json, Value};

use crate::arm::json::Obj;
use crate::arm::{self, api_version, ArmError, ArmRequest, ArmResult, ResourceId};
use crate::catalogue;
use crate::engine::{ensure_scope, not_found};
use crate::providers::authorization::rbac;
use crate::providers::network::private_link_services as pls;
use crate::providers::targets;
use crate::state::AppState;

/// `GET {target}/privateLinkResources` and `GET {target}/privateLinkResources/{group}`.
pub async fn link_resources(
    state: &AppState,
    req: &ArmRequest,
    target: ResourceId,
    group: Option<String>,
) -> ArmResult<Response> {
    let type_name = target.type_name();
    let Some(kind) = catalogue::find(&type_name) else {
        if req.api_version().is_none() {
            return Err(ArmError::MissingApiVersion);
        }
        return Err(ArmError::InvalidResourceType {
            type_name: format!("{type_name}/privateLinkResources"),
            version: req.api_version().unwrap_or_default().to_string(),
        });
    };
    api_version::check(
        req.api_version(),
        &format!("{}/privateLinkResources", kind.type_name),
        catalogue::api_versions(),
    )?;
    let caller = req.caller.clone();
    let body = state
        .read(move |tx| {
            let action = format!("{}/privateLinkResources/read", kind.type_name);
            rbac::require(tx, &caller, &action, &target.to_string())?;
            ensure_scope(tx, &target)?;
            let row = tx.get(&target.key())?.ok_or_else(|| not_found(&target, kind.type_name))?;
            let all = targets::link_resources(&row, kind);
            match &group {
                None => Ok(json!({ "value": all })),
                Some(g) => all
                    .into_iter()
                    .find(|r| r.get("name").and_then(Value::as_str).is_some_and(|n| n.eq_ignore_ascii_case(g)))
                    .ok_or_else(|| ArmError::ResourceNotFound {
                        type_name: format!("{}/privateLinkResources", kind.type_name),
                        name: g.clone(),
                        resource_group: target.resource_group.clone(),
                    }),
            }
        })
        .await?;
    Ok(arm::json_response(StatusCode::OK, &body, &[]))
}

/// `GET .../providers/Microsoft.Network/locations/{location}/availablePrivateEndpointTypes`.
pub async fn available_types(state: &AppState, req: &ArmRequest, scope: &ResourceId) -> ArmResult<Response> {
    api_version::check(
        req.api_version(),
        "Microsoft.Network/locations/availablePrivateEndpointTypes",
        api_version::NETWORK,
    )?;
    let sub = scope.subscription.clone();
    let rg = scope.resource_group.clone();
    let (caller, scope_id) = (req.caller.clone(), scope.to_string());
    state
        .read(move |tx| {
            rbac::require(tx, &caller, "Microsoft.Network/locations/availablePrivateEndpointTypes/read", &scope_id)?;
            if tx.get(&ResourceId::subscription(&sub).key())?.is_none() {
                return Err(ArmError::SubscriptionNotFound { subscription: sub.clone() });
            }
            match &rg {
                Some(rg) if tx.get(&ResourceId::resource_group(&sub, rg).key())?.is_none() => {
                    Err(ArmError::ResourceGroupNotFound { resource_group: rg.clone() })
                }
                _ => Ok(()),
            }
        })
        .await?;
    let prefix = match &scope.resource_group {
        Some(rg) => format!("/subscriptions/{}/resourceGroups/{rg}", scope.subscription),
        None => format!("/subscriptions/{}", scope.subscription),
    };
    let mut value: Vec<Value> = catalogue::KINDS
        .iter()
        .map(|k| (k.type_name, k.display_name))
        .chain(std::iter::once((pls::TYPE, "Private link service")))
        .map(|(type_name, display)| {
            let dotted = type_name.replace('/', ".");
            json!({
                "id": format!("{prefix}/providers/Microsoft.Network/availablePrivateEndpointTypes/{dotted}"),
                "name": dotted,
                "type": "Microsoft.Network/availablePrivateEndpointTypes",
                "resourceName": type_name,
                "displayName": display,
            })
        })
        .collect();
    value.sort_by(|a, b| a["resourceName"].as_str().cmp(&b["resourceName"].as_str()));
    Ok(arm::json_response(StatusCode::OK, &json!({ "value": value }), &[]))
}

/// `POST .../locations/{location}/checkPrivateLinkServiceVisibility` with
/// `{"privateLinkServiceAlias": "..."}` → `{"visible": bool}`.
pub async fn check_visibility(state: &AppState, req: &ArmRequest, scope: &ResourceId) -> ArmResult<Response> {
    api_version::check(
        req.api_version(),
        "Microsoft.Network/locations/checkPrivateLinkServiceVisibility",
        api_version::NETWORK,
    )?;
    let body = req.body_object()?;
    let alias = Obj::new(&body, "")
        .str("privateLinkServiceAlias")?
        .ok_or_else(|| {
            ArmError::invalid_at(
                "InvalidRequestFormat",
                "privateLinkServiceAlias",
                "The body needs privateLinkServiceAlias.",
            )
        })?
        .to_string();
    let sub = scope.subscription.clone();
    let (caller, scope_id) = (req.caller.clone(), scope.to_string());
    let visible = state
        .read(move |tx| {
            let action = "Microsoft.Network/locations/checkPrivateLinkServiceVisibility/action";
            rbac::require(tx, &caller, action, &scope_id)?;
            if tx.get(&ResourceId::subscription(&sub).key())?.is_none() {
                return Err(ArmError::SubscriptionNotFound { subscription: sub.clone() });
            }
            pls::check_visibility(tx, &sub, &alias, &caller)
        })
        .await?;
    Ok(arm::json_response(StatusCode::OK, &json!({ "visible": visible }), &[]))
}
