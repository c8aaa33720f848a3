//! Microsoft.ManagedIdentity: user-assigned identities.

pub mod user_assigned_identities;

use super::Registry;

pub fn register(registry: &mut Registry) {
    registry.add(user_assigned_identities::UserAssignedIdentities);
}
