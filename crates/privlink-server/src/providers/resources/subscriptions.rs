//! Tenants and subscriptions: created on first start (see `crate::bootstrap`), read-only
//! through ARM.

use privlink_store::ResourceRow;
use serde_json::{json, Value};

pub const SUBSCRIPTION_TYPE_KEY: &str = "microsoft.resources/subscriptions";
pub const TENANT_TYPE_KEY: &str = "microsoft.resources/tenants";

pub fn subscription_row(subscription_id: &str, tenant_id: &str, display_name: &str, now: i64) -> ResourceRow {
    ResourceRow {
        key: format!("/subscriptions/{subscription_id}").to_ascii_lowercase(),
        id: format!("/subscriptions/{subscription_id}"),
        type_key: SUBSCRIPTION_TYPE_KEY.into(),
        subscription: subscription_id.to_ascii_lowercase(),
        resource_group: String::new(),
        parent_key: String::new(),
        body: json!({ "displayName": display_name, "state": "Enabled", "tenantId": tenant_id }),
        etag: String::new(),
        created_at: now,
        updated_at: now,
    }
}

/// The tenant a subscription belongs to (lower-cased): `tenantId` on its row. The one place
/// this is answered (the request path caches it in `AppState::tenant_of`).
pub fn tenant_of(tx: &mut dyn privlink_store::Tx, subscription: &str) -> crate::arm::ArmResult<Option<String>> {
    let key = format!("/subscriptions/{subscription}").to_ascii_lowercase();
    Ok(tx.get(&key)?.and_then(|row| row.body.get("tenantId").and_then(Value::as_str).map(str::to_ascii_lowercase)))
}

pub fn tenant_row(tenant_id: &str, display_name: &str, now: i64) -> ResourceRow {
    ResourceRow {
        key: format!("/tenants/{tenant_id}").to_ascii_lowercase(),
        id: format!("/tenants/{tenant_id}"),
        type_key: TENANT_TYPE_KEY.into(),
        subscription: String::new(),
        resource_group: String::new(),
        parent_key: String::new(),
        body: json!({ "displayName": display_name }),
        etag: String::new(),
        created_at: now,
        updated_at: now,
    }
}

pub fn render_subscription(row: &ResourceRow) -> Value {
    let sub_id = row.id.trim_start_matches("/subscriptions/");
    json!({
        "id": row.id,
        "subscriptionId": sub_id,
        "tenantId": row.body.get("tenantId"),
        "displayName": row.body.get("displayName"),
        "state": row.body.get("state").cloned().unwrap_or(json!("Enabled")),
        "authorizationSource": "RoleBased",
        "managedByTenants": [],
        "subscriptionPolicies": { "locationPlacementId": "Public_2014-09-01", "quotaId": "PayAsYouGo_2014-09-01", "spendingLimit": "Off" },
    })
}

pub fn render_tenant(row: &ResourceRow) -> Value {
    let tenant_id = row.id.trim_start_matches("/tenants/");
    json!({
        "id": row.id,
        "tenantId": tenant_id,
        "tenantCategory": "Home",
        "displayName": row.body.get("displayName"),
        "defaultDomain": "privlink.local",
        "domains": ["privlink.local"],
    })
}
