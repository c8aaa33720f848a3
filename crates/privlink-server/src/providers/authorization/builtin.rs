//! Azure's built-in role definitions that privlink serves, as data: their real GUIDs, names,
//! descriptions and action lists (checked against Microsoft's published definitions).

/// One built-in role. Built-ins have a single permissions block and no data actions here.
#[derive(Debug)]
pub struct BuiltinRole {
    /// The role's GUID: the last segment of its role definition id.
    pub guid: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub actions: &'static [&'static str],
    pub not_actions: &'static [&'static str],
}

pub const OWNER: &str = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";
pub const CONTRIBUTOR: &str = "b24988ac-6180-42a0-ab88-20f7382dd24c";
pub const READER: &str = "acdd72a7-3385-48ef-bd42-f606fba81ae7";
pub const NETWORK_CONTRIBUTOR: &str = "4d97b98b-1d4f-4787-a291-c67834d212e7";
pub const USER_ACCESS_ADMINISTRATOR: &str = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9";
pub const PRIVATE_DNS_ZONE_CONTRIBUTOR: &str = "b12aa53e-6015-4669-85d0-8515ebb3ae7f";
pub const STORAGE_ACCOUNT_CONTRIBUTOR: &str = "17d1049b-9a84-46fb-8f53-869881c3d3ab";

/// `createdOn` / `updatedOn` of every built-in: a fixed date, so responses are stable.
pub const BUILTIN_TIMESTAMP: &str = "2015-02-02T21:55:09.8806423Z";

pub static BUILTIN_ROLES: &[BuiltinRole] = &[
    BuiltinRole {
        guid: OWNER,
        name: "Owner",
        description: "Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.",
        actions: &["*"],
        not_actions: &[],
    },
    BuiltinRole {
        guid: CONTRIBUTOR,
        name: "Contributor",
        description: "Grants full access to manage all resources, but does not allow you to assign roles in Azure RBAC, manage assignments in Azure Blueprints, or share image galleries.",
        actions: &["*"],
        not_actions: &[
            "Microsoft.Authorization/*/Delete",
            "Microsoft.Authorization/*/Write",
            "Microsoft.Authorization/elevateAccess/Action",
            "Microsoft.Blueprint/blueprintAssignments/write",
            "Microsoft.Blueprint/blueprintAssignments/delete",
            "Microsoft.Compute/galleries/share/action",
            "Microsoft.Purview/consents/write",
            "Microsoft.Purview/consents/delete",
            "Microsoft.Resources/deploymentStacks/manageDenySetting/action",
            "Microsoft.Subscription/cancel/action",
            "Microsoft.Subscription/enable/action",
        ],
    },
    BuiltinRole {
        guid: READER,
        name: "Reader",
        description: "View all resources, but does not allow you to make any changes.",
        actions: &["*/read"],
        not_actions: &[],
    },
    BuiltinRole {
        guid: NETWORK_CONTRIBUTOR,
        name: "Network Contributor",
        description: "Lets you manage networks, but not access to them.",
        actions: &[
            "Microsoft.Authorization/*/read",
            "Microsoft.Insights/alertRules/*",
            "Microsoft.Network/*",
            "Microsoft.ResourceHealth/availabilityStatuses/read",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Support/*",
        ],
        not_actions: &[],
    },
    BuiltinRole {
        guid: USER_ACCESS_ADMINISTRATOR,
        name: "User Access Administrator",
        description: "Lets you manage user access to Azure resources.",
        actions: &["*/read", "Microsoft.Authorization/*", "Microsoft.Support/*"],
        not_actions: &[],
    },
    BuiltinRole {
        guid: PRIVATE_DNS_ZONE_CONTRIBUTOR,
        name: "Private DNS Zone Contributor",
        description: "Lets you manage private DNS zone resources, but not the virtual networks they are linked to.",
        actions: &[
            "Microsoft.Insights/alertRules/*",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Support/*",
            "Microsoft.Network/privateDnsZones/*",
            "Microsoft.Network/privateDnsOperationResults/*",
            "Microsoft.Network/privateDnsOperationStatuses/*",
            "Microsoft.Network/virtualNetworks/read",
            "Microsoft.Network/virtualNetworks/join/action",
            "Microsoft.Authorization/*/read",
        ],
        not_actions: &[],
    },
    BuiltinRole {
        guid: STORAGE_ACCOUNT_CONTRIBUTOR,
        name: "Storage Account Contributor",
        description: "Lets you manage storage accounts, including accessing storage account keys which provide full access to storage account data.",
        actions: &[
            "Microsoft.Authorization/*/read",
            "Microsoft.Insights/alertRules/*",
            "Microsoft.Insights/diagnosticSettings/*",
            "Microsoft.Network/virtualNetworks/subnets/joinViaServiceEndpoint/action",
            "Microsoft.ResourceHealth/availabilityStatuses/read",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Storage/storageAccounts/*",
            "Microsoft.Support/*",
        ],
        not_actions: &[],
    },
];

/// The built-in role with this GUID (any casing).
pub fn find(guid: &str) -> Option<&'static BuiltinRole> {
    BUILTIN_ROLES.iter().find(|r| r.guid.eq_ignore_ascii_case(guid))
}

/// The built-in role with this name (any casing, as ARM compares role names).
pub fn find_by_name(name: &str) -> Option<&'static BuiltinRole> {
    BUILTIN_ROLES.iter().find(|r| r.name.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guids_and_names_are_unique_and_found_in_any_casing() {
        for (i, a) in BUILTIN_ROLES.iter().enumerate() {
            assert!(super::super::is_guid(a.guid), "{}", a.name);
            for b in &BUILTIN_ROLES[i + 1..] {
                assert_ne!(a.guid, b.guid);
                assert_ne!(a.name, b.name);
            }
        }
        assert_eq!(find(&OWNER.to_uppercase()).map(|r| r.name), Some("Owner"));
        assert_eq!(find_by_name("network contributor").map(|r| r.guid), Some(NETWORK_CONTRIBUTOR));
        assert!(find("00000000-0000-0000-0000-000000000000").is_none());
    }
}
