//! First start: the default tenant and subscription, created once and stable across restarts.

use privlink_store::Store;

use crate::arm::{ArmError, ArmResult};
use crate::providers::now_millis;
use crate::providers::resources::subscriptions;

#[derive(Debug, Clone)]
pub struct Defaults {
    pub tenant_id: String,
    pub subscription_id: String,
    /// Whether the API is served over plain HTTP (absolute URLs we hand out follow it).
    pub insecure_http: bool,
}

pub fn ensure_defaults(store: &dyn Store, insecure_http: bool) -> ArmResult<Defaults> {
    privlink_store::write(store, |tx| {
        let tenant = tx.meta_get("default_tenant")?;
        let subscription = tx.meta_get("default_subscription")?;
        if let (Some(tenant_id), Some(subscription_id)) = (tenant, subscription) {
            return Ok(Defaults { tenant_id, subscription_id, insecure_http });
        }
        let tenant_id = uuid::Uuid::new_v4().to_string();
        let subscription_id = uuid::Uuid::new_v4().to_string();
        let now = now_millis();
        tx.put(&subscriptions::tenant_row(&tenant_id, "privlink default tenant", now))?;
        tx.put(&subscriptions::subscription_row(&subscription_id, &tenant_id, "privlink default subscription", now))?;
        tx.meta_put("default_tenant", &tenant_id)?;
        tx.meta_put("default_subscription", &subscription_id)?;
        Ok::<_, ArmError>(Defaults { tenant_id, subscription_id, insecure_http })
    })
}
