//! Resource provider registration per subscription (`/subscriptions/{s}/providers[/{ns}]`).
//! Every namespace starts Registered, so clients never trip over registration; unregistering
//! one makes writes to it answer `MissingSubscriptionRegistration`, as in Azure.

use privlink_store::{ResourceRow, Tx};
use serde_json::{json, Value};

use crate::arm::{ArmError, ArmResult, ResourceId};
use crate::providers::Registry;

const TYPE_KEY: &str = "microsoft.resources/providers";

fn key(subscription: &str, namespace: &str) -> String {
    format!("/subscriptions/{subscription}/providers/{namespace}").to_ascii_lowercase()
}

pub fn state(tx: &mut dyn Tx, subscription: &str, namespace: &str) -> ArmResult<String> {
    Ok(tx
        .get(&key(subscription, namespace))?
        .and_then(|r| r.body.get("registrationState").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| "Registered".into()))
}

pub fn ensure_registered(tx: &mut dyn Tx, id: &ResourceId) -> ArmResult<()> {
    let Some(p) = &id.provider else { return Ok(()) };
    if state(tx, &id.subscription, &p.namespace)? == "Unregistered" {
        return Err(ArmError::MissingSubscriptionRegistration { namespace: p.namespace.clone() });
    }
    Ok(())
}

pub fn set_state(tx: &mut dyn Tx, subscription: &str, namespace: &str, registered: bool, now: i64) -> ArmResult<()> {
    let state = if registered { "Registered" } else { "Unregistered" };
    tx.put(&ResourceRow {
        key: key(subscription, namespace),
        id: format!("/subscriptions/{subscription}/providers/{namespace}"),
        type_key: TYPE_KEY.into(),
        subscription: subscription.to_ascii_lowercase(),
        resource_group: String::new(),
        parent_key: String::new(),
        body: json!({ "registrationState": state }),
        etag: String::new(),
        created_at: now,
        updated_at: now,
    })?;
    Ok(())
}

/// The provider document: its resource types, api-versions and locations.
pub fn render(registry: &Registry, subscription: Option<&str>, namespace: &str, state: Option<&str>) -> Value {
    let types: Vec<Value> = registry
        .types_in(namespace)
        .into_iter()
        .map(|t| {
            let name = t.type_name().split_once('/').map(|(_, rest)| rest).unwrap_or_default();
            let mut versions: Vec<&str> = t.api_versions().to_vec();
            versions.reverse();
            let locations: Vec<&str> =
                if t.tracked() { super::locations::REGIONS.iter().map(|r| r.display_name).collect() } else { vec![] };
            json!({ "resourceType": name, "locations": locations, "apiVersions": versions, "capabilities": "None" })
        })
        .collect();
    let mut doc = json!({ "namespace": namespace, "resourceTypes": types });
    if let Some(sub) = subscription {
        doc["id"] = json!(format!("/subscriptions/{sub}/providers/{namespace}"));
        doc["registrationPolicy"] = json!("RegistrationRequired");
    } else {
        doc["id"] = json!(format!("/providers/{namespace}"));
    }
    if let Some(state) = state {
        doc["registrationState"] = json!(state);
    }
    doc
}
