//! Microsoft.Resources: tenants, subscriptions, resource groups, provider registration and
//! locations: the scopes every other resource lives in.

pub mod locations;
pub mod providers;
pub mod resource_groups;
pub mod subscriptions;

use super::Registry;

pub fn register(registry: &mut Registry) {
    registry.add(resource_groups::ResourceGroups);
}
