//! The catalogue of private-link resource types: every type a private endpoint can target, its
//! sub-resources (group ids), the members each group needs an IP for, their public FQDNs and the
//! recommended `privatelink.*` DNS zones. Data, kept in one place: providers, DNS and the
//! gateway read it; nothing else hard-codes a group id or a zone name.
//!
//! Patterns: `{name}` is the resource name (lower-cased), `{region}` its region.

use std::sync::OnceLock;

/// How a resource provider answers a PUT on one of its private endpoint connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionPut {
    /// 200 with the final body (Storage, Network's private link services, most RPs).
    Sync,
    /// A long-running operation (Kusto).
    Async,
}

#[derive(Debug)]
pub struct Member {
    pub name: &'static str,
    /// Public FQDN pattern of this member, e.g. `{name}.blob.core.windows.net`.
    pub fqdn: &'static str,
}

#[derive(Debug)]
pub struct Group {
    pub id: &'static str,
    pub members: &'static [Member],
    /// Recommended private DNS zones, e.g. `privatelink.blob.core.windows.net`.
    pub zones: &'static [&'static str],
}

#[derive(Debug)]
pub struct TargetKind {
    /// Canonical type, e.g. `Microsoft.Storage/storageAccounts`.
    pub type_name: &'static str,
    pub display_name: &'static str,
    pub groups: &'static [Group],
    pub connection_put: ConnectionPut,
    /// Storage spells the connection-state field `actionRequired`.
    pub action_required_singular: bool,
    /// Responses carry `systemData` (most RPs newer than Network do).
    pub system_data: bool,
}

impl TargetKind {
    pub fn group(&self, id: &str) -> Option<&'static Group> {
        self.groups.iter().find(|g| g.id.eq_ignore_ascii_case(id))
    }

    pub fn group_ids(&self) -> Vec<&'static str> {
        self.groups.iter().map(|g| g.id).collect()
    }

    /// The RBAC action that lets a caller approve connections to this type.
    pub fn approval_action(&self) -> String {
        format!("{}/privateEndpointConnectionsApproval/action", self.type_name)
    }
}

/// Fill a pattern for one resource.
pub fn expand(pattern: &str, name: &str, region: &str) -> String {
    pattern.replace("{name}", &name.to_ascii_lowercase()).replace("{region}", &region.to_ascii_lowercase())
}

macro_rules! members {
    ($($name:literal => $fqdn:literal),* $(,)?) => { &[$(Member { name: $name, fqdn: $fqdn }),*] };
}

macro_rules! group {
    ($id:literal, [$($m:literal => $f:literal),* $(,)?], [$($z:literal),* $(,)?]) => {
        Group { id: $id, members: members!($($m => $f),*), zones: &[$($z),*] }
    };
}

/// A group whose single member has the group's own name.
macro_rules! simple {
    ($id:literal, $fqdn:literal, $zone:literal) => {
        Group { id: $id, members: &[Member { name: $id, fqdn: $fqdn }], zones: &[$zone] }
    };
}

const fn kind(type_name: &'static str, display_name: &'static str, groups: &'static [Group]) -> TargetKind {
    TargetKind {
        type_name,
        display_name,
        groups,
        connection_put: ConnectionPut::Sync,
        action_required_singular: false,
        system_data: true,
    }
}

pub static KINDS: &[TargetKind] = &[
    TargetKind {
        action_required_singular: true,
        ..kind(
            "Microsoft.Storage/storageAccounts",
            "Azure Storage",
            &[
                simple!("blob", "{name}.blob.core.windows.net", "privatelink.blob.core.windows.net"),
                simple!(
                    "blob_secondary",
                    "{name}-secondary.blob.core.windows.net",
                    "privatelink.blob.core.windows.net"
                ),
                simple!("table", "{name}.table.core.windows.net", "privatelink.table.core.windows.net"),
                simple!(
                    "table_secondary",
                    "{name}-secondary.table.core.windows.net",
                    "privatelink.table.core.windows.net"
                ),
                simple!("queue", "{name}.queue.core.windows.net", "privatelink.queue.core.windows.net"),
                simple!(
                    "queue_secondary",
                    "{name}-secondary.queue.core.windows.net",
                    "privatelink.queue.core.windows.net"
                ),
                simple!("file", "{name}.file.core.windows.net", "privatelink.file.core.windows.net"),
                simple!(
                    "file_secondary",
                    "{name}-secondary.file.core.windows.net",
                    "privatelink.file.core.windows.net"
                ),
                simple!("web", "{name}.z1.web.core.windows.net", "privatelink.web.core.windows.net"),
                simple!(
                    "web_secondary",
                    "{name}-secondary.z1.web.core.windows.net",
                    "privatelink.web.core.windows.net"
                ),
                simple!("dfs", "{name}.dfs.core.windows.net", "privatelink.dfs.core.windows.net"),
                simple!("dfs_secondary", "{name}-secondary.dfs.core.windows.net", "privatelink.dfs.core.windows.net"),
            ],
        )
    },
    TargetKind {
        connection_put: ConnectionPut::Async,
        ..kind(
            "Microsoft.Kusto/clusters",
            "Azure Data Explorer",
            &[group!(
                "cluster",
                ["Engine" => "{name}.{region}.kusto.windows.net", "DataManagement" => "ingest-{name}.{region}.kusto.windows.net"],
                ["privatelink.{region}.kusto.windows.net", "privatelink.blob.core.windows.net", "privatelink.queue.core.windows.net", "privatelink.table.core.windows.net"]
            )],
        )
    },
    kind(
        "Microsoft.KeyVault/vaults",
        "Azure Key Vault",
        &[group!("vault", ["default" => "{name}.vault.azure.net"], ["privatelink.vaultcore.azure.net"])],
    ),
    kind(
        "Microsoft.KeyVault/managedHSMs",
        "Azure Key Vault Managed HSM",
        &[group!("managedhsm", ["default" => "{name}.managedhsm.azure.net"], ["privatelink.managedhsm.azure.net"])],
    ),
    kind(
        "Microsoft.EventHub/namespaces",
        "Azure Event Hubs",
        &[simple!("namespace", "{name}.servicebus.windows.net", "privatelink.servicebus.windows.net")],
    ),
    kind(
        "Microsoft.ServiceBus/namespaces",
        "Azure Service Bus",
        &[simple!("namespace", "{name}.servicebus.windows.net", "privatelink.servicebus.windows.net")],
    ),
    kind(
        "Microsoft.Relay/namespaces",
        "Azure Relay",
        &[simple!("namespace", "{name}.servicebus.windows.net", "privatelink.servicebus.windows.net")],
    ),
    kind(
        "Microsoft.Sql/servers",
        "Azure SQL Database",
        &[simple!("sqlServer", "{name}.database.windows.net", "privatelink.database.windows.net")],
    ),
    kind(
        "Microsoft.Devices/IotHubs",
        "Azure IoT Hub",
        &[group!(
            "iotHub",
            ["iotHub" => "{name}.azure-devices.net", "eventHub" => "{name}.servicebus.windows.net"],
            ["privatelink.azure-devices.net", "privatelink.servicebus.windows.net"]
        )],
    ),
    kind(
        "Microsoft.Devices/provisioningServices",
        "Azure IoT Hub Device Provisioning Service",
        &[simple!("iotDps", "{name}.azure-devices-provisioning.net", "privatelink.azure-devices-provisioning.net")],
    ),
    kind(
        "Microsoft.DigitalTwins/digitalTwinsInstances",
        "Azure Digital Twins",
        &[
            group!("API", ["API" => "{name}.api.{region}.digitaltwins.azure.net"], ["privatelink.digitaltwins.azure.net"]),
        ],
    ),
    kind(
        "Microsoft.Synapse/workspaces",
        "Azure Synapse Analytics",
        &[
            simple!("Sql", "{name}.sql.azuresynapse.net", "privatelink.sql.azuresynapse.net"),
            simple!("SqlOnDemand", "{name}-ondemand.sql.azuresynapse.net", "privatelink.sql.azuresynapse.net"),
            simple!("Dev", "{name}.dev.azuresynapse.net", "privatelink.dev.azuresynapse.net"),
        ],
    ),
    kind(
        "Microsoft.Synapse/privateLinkHubs",
        "Azure Synapse private link hub",
        &[simple!("Web", "{name}.azuresynapse.net", "privatelink.azuresynapse.net")],
    ),
    kind(
        "Microsoft.DataFactory/factories",
        "Azure Data Factory",
        &[
            simple!("dataFactory", "{name}.{region}.datafactory.azure.net", "privatelink.datafactory.azure.net"),
            simple!("portal", "{name}.adf.azure.com", "privatelink.adf.azure.com"),
        ],
    ),
    kind(
        "Microsoft.DeviceUpdate/accounts",
        "Device Update for IoT Hub",
        &[simple!("DeviceUpdate", "{name}.api.adu.microsoft.com", "privatelink.api.adu.microsoft.com")],
    ),
    kind(
        "Microsoft.DocumentDB/databaseAccounts",
        "Azure Cosmos DB",
        &[
            group!("Sql", ["{name}" => "{name}.documents.azure.com", "{name}-{region}" => "{name}-{region}.documents.azure.com"], ["privatelink.documents.azure.com"]),
            group!("MongoDB", ["{name}" => "{name}.mongo.cosmos.azure.com", "{name}-{region}" => "{name}-{region}.mongo.cosmos.azure.com"], ["privatelink.mongo.cosmos.azure.com"]),
            group!("Cassandra", ["{name}" => "{name}.cassandra.cosmos.azure.com", "{name}-{region}" => "{name}-{region}.cassandra.cosmos.azure.com"], ["privatelink.cassandra.cosmos.azure.com"]),
            group!("Gremlin", ["{name}" => "{name}.gremlin.cosmos.azure.com", "{name}-{region}" => "{name}-{region}.gremlin.cosmos.azure.com"], ["privatelink.gremlin.cosmos.azure.com"]),
            group!("Table", ["{name}" => "{name}.table.cosmos.azure.com", "{name}-{region}" => "{name}-{region}.table.cosmos.azure.com"], ["privatelink.table.cosmos.azure.com"]),
        ],
    ),
];

/// The catalogue entry for a type (matched case-insensitively).
pub fn find(type_name: &str) -> Option<&'static TargetKind> {
    KINDS.iter().find(|k| k.type_name.eq_ignore_ascii_case(type_name))
}

/// api-versions accepted for target resources and their private-link children: every
/// first-of-month from 2015 to 2026, plus the odd dates today's clients send.
pub fn api_versions() -> &'static [&'static str] {
    static VERSIONS: OnceLock<Vec<&'static str>> = OnceLock::new();
    VERSIONS.get_or_init(|| {
        let mut out: Vec<&'static str> = Vec::new();
        for year in 2015..=2026 {
            for month in 1..=12 {
                out.push(Box::leak(format!("{year}-{month:02}-01").into_boxed_str()));
            }
        }
        out.extend_from_slice(&[
            "2017-05-10",
            "2018-09-18",
            "2019-09-07",
            "2020-01-13",
            "2020-09-18",
            "2020-09-30",
            "2021-01-27",
            "2021-05-20",
            "2021-08-27",
            "2022-02-14",
            "2022-04-02",
            "2022-10-15",
            "2022-12-29",
            "2023-05-02",
            "2023-08-15",
            "2024-04-13",
            "2024-10-15",
            "2025-02-14",
            "2020-03-30",
            "2019-10-17",
            "2018-06-01",
        ]);
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_well_formed() {
        let mut seen = std::collections::HashSet::new();
        for kind in KINDS {
            assert!(seen.insert(kind.type_name.to_ascii_lowercase()), "duplicate {}", kind.type_name);
            assert!(kind.type_name.contains('/'), "{}", kind.type_name);
            assert!(!kind.groups.is_empty(), "{} has no groups", kind.type_name);
            for group in kind.groups {
                assert!(!group.members.is_empty(), "{}/{} has no members", kind.type_name, group.id);
                assert!(!group.zones.is_empty(), "{}/{} has no zones", kind.type_name, group.id);
                for zone in group.zones {
                    assert!(zone.starts_with("privatelink") || zone.contains(".privatelink."), "{zone}");
                }
                for m in group.members {
                    assert!(m.fqdn.contains("{name}"), "{}: {}", kind.type_name, m.fqdn);
                }
            }
        }
    }

    #[test]
    fn lookups_expand_and_name_the_approval_action() {
        let storage = find("microsoft.storage/STORAGEACCOUNTS").unwrap();
        assert_eq!(storage.group("BLOB").unwrap().id, "blob");
        assert_eq!(
            expand(storage.group("blob").unwrap().members[0].fqdn, "SA1", "westeurope"),
            "sa1.blob.core.windows.net"
        );
        assert_eq!(
            storage.approval_action(),
            "Microsoft.Storage/storageAccounts/privateEndpointConnectionsApproval/action"
        );
        let kusto = find("Microsoft.Kusto/clusters").unwrap();
        assert_eq!(
            expand(kusto.groups[0].members[1].fqdn, "kc1", "WestEurope"),
            "ingest-kc1.westeurope.kusto.windows.net"
        );
        assert!(api_versions().contains(&"2021-08-27"));
        assert!(api_versions().contains(&"2026-09-01"));
    }
}
