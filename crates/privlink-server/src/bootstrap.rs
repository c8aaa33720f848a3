//! First start: the default tenant and subscription, and the administrator service principal
//! (Owner of the default subscription), created once and stable across restarts.

use std::path::Path;

use privlink_store::Store;
use serde_json::json;

use crate::arm::{ArmError, ArmResult};
use crate::identity::directory;
use crate::providers::authorization;
use crate::providers::now_millis;
use crate::providers::resources::subscriptions;

/// Where the administrator's credentials are written (mode 0600), once.
pub const CREDENTIALS_FILE: &str = "credentials.json";

#[derive(Debug, Clone)]
pub struct Defaults {
    pub tenant_id: String,
    pub subscription_id: String,
    /// The administrator service principal: application (client) id and object id.
    pub admin_client_id: String,
    pub admin_object_id: String,
    /// Whether the API is served over plain HTTP (absolute URLs we hand out follow it).
    pub insecure_http: bool,
}

/// Create what is missing. Returns the defaults and, when the administrator was created now or
/// its credentials file is gone (`credentials_present` false), a new secret to write there
/// (shown once, never logged): losing the file never locks the administrator out.
pub fn ensure_defaults(
    store: &dyn Store,
    insecure_http: bool,
    credentials_present: bool,
) -> ArmResult<(Defaults, Option<String>)> {
    privlink_store::write(store, |tx| {
        let now = now_millis();
        crate::platform::ensure_pools(tx)?;
        let tenant_id = match tx.meta_get("default_tenant")? {
            Some(t) => t,
            None => {
                let t = uuid::Uuid::new_v4().to_string();
                tx.put(&subscriptions::tenant_row(&t, "privlink default tenant", now))?;
                tx.meta_put("default_tenant", &t)?;
                t
            }
        };
        let subscription_id = match tx.meta_get("default_subscription")? {
            Some(s) => s,
            None => {
                let s = uuid::Uuid::new_v4().to_string();
                tx.put(&subscriptions::subscription_row(&s, &tenant_id, "privlink default subscription", now))?;
                tx.meta_put("default_subscription", &s)?;
                s
            }
        };
        let (admin_client_id, admin_object_id, secret) =
            match (tx.meta_get("admin_client_id")?, tx.meta_get("admin_object_id")?) {
                (Some(c), Some(o)) if credentials_present => (c, o, None),
                (Some(c), Some(o)) => {
                    let secret = directory::replace_secret(tx, &tenant_id, &c, now)?;
                    (c, o, Some(secret))
                }
                _ => {
                    let (row, secret) =
                        directory::create_service_principal(tx, &tenant_id, "privlink administrator", true, now)?;
                    let text = |k: &str| row.body.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
                    let (client, object) = (text("appId"), text("objectId"));
                    let scope = format!("/subscriptions/{subscription_id}");
                    tx.put(&authorization::assignment_row(
                        &scope,
                        &uuid::Uuid::new_v4().to_string(),
                        authorization::OWNER,
                        &object,
                        "ServicePrincipal",
                        &object,
                        now,
                    )?)?;
                    tx.meta_put("admin_client_id", &client)?;
                    tx.meta_put("admin_object_id", &object)?;
                    (client, object, Some(secret))
                }
            };
        Ok::<_, ArmError>((
            Defaults { tenant_id, subscription_id, admin_client_id, admin_object_id, insecure_http },
            secret,
        ))
    })
}

/// Write the administrator's credentials for `privlink env`, `privlink az-login` and scripts.
pub fn write_credentials(data_dir: &Path, defaults: &Defaults, secret: &str) -> anyhow::Result<()> {
    let doc = json!({
        "tenantId": defaults.tenant_id,
        "subscriptionId": defaults.subscription_id,
        "clientId": defaults.admin_client_id,
        "objectId": defaults.admin_object_id,
        "clientSecret": secret,
    });
    // Written whole or not at all: a torn file would hide the only copy of the secret.
    let tmp = data_dir.join(format!("{CREDENTIALS_FILE}.tmp"));
    crate::tls::write_private(&tmp, &serde_json::to_string_pretty(&doc)?)?;
    std::fs::rename(&tmp, data_dir.join(CREDENTIALS_FILE))?;
    Ok(())
}
