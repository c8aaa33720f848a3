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

/// Fill a pattern for one resource. `{regionCode}` is the short geo code a few services put in
/// their host and zone names (Backup, Site Recovery, Automation): see [`region_code`].
pub fn expand(pattern: &str, name: &str, region: &str) -> String {
    let out = pattern.replace("{name}", &name.to_ascii_lowercase()).replace("{region}", &region.to_ascii_lowercase());
    if out.contains("{regionCode}") {
        out.replace("{regionCode}", &region_code(region))
    } else {
        out
    }
}

/// Whether `name` is `domain` or a name under it (compared case-insensitively, on label
/// boundaries).
pub fn is_within(name: &str, domain: &str) -> bool {
    let (name, domain) = (name.trim_end_matches('.'), domain.trim_end_matches('.'));
    name.eq_ignore_ascii_case(domain)
        || (name.len() > domain.len()
            && name.as_bytes()[name.len() - domain.len() - 1] == b'.'
            && name[name.len() - domain.len()..].eq_ignore_ascii_case(domain))
}

/// The public domain a `privatelink.` zone stands for (`privatelink.blob.core.windows.net` →
/// `blob.core.windows.net`).
pub fn public_domain(zone: &str) -> Option<&str> {
    zone.strip_prefix("privatelink.").filter(|rest| !rest.is_empty())
}

/// The record `fqdn` gets in `zone`, relative to it (`@` for the apex): the name's labels in
/// front of the zone itself, or in front of the public domain a `privatelink.` zone stands for
/// (`sa1.blob.core.windows.net` → `sa1` in privatelink.blob.core.windows.net).
pub fn record_in_zone(fqdn: &str, zone: &str) -> Option<String> {
    let fqdn = fqdn.trim_end_matches('.').to_ascii_lowercase();
    let zone = zone.trim_end_matches('.').to_ascii_lowercase();
    for domain in [Some(zone.as_str()), public_domain(&zone)].into_iter().flatten() {
        if fqdn == domain {
            return Some("@".into());
        }
        if is_within(&fqdn, domain) {
            return Some(fqdn[..fqdn.len() - domain.len() - 1].to_string());
        }
    }
    None
}

/// Where one of a group's member names lives privately: `(zone, record)`. The zone is the
/// group's recommended zone whose public domain holds `fqdn` (the longest such domain); a name
/// under none of them (Key Vault's `{name}.vault.azure.net` for privatelink.vaultcore.azure.net)
/// puts its first label into the group's first zone, as Azure does. `None` for groups without a
/// recommended zone.
pub fn private_name(group: &Group, fqdn: &str, resource_name: &str, region: &str) -> Option<(String, String)> {
    let zones: Vec<String> = group.zones.iter().map(|z| expand(z, resource_name, region)).collect();
    let best = zones
        .iter()
        .filter_map(|z| public_domain(z).filter(|d| is_within(fqdn, d)).map(|d| (z, d.len())))
        .max_by_key(|(_, len)| *len);
    match best {
        Some((zone, _)) => record_in_zone(fqdn, zone).map(|r| (zone.clone(), r)),
        None => {
            let zone = zones.first()?;
            let first = fqdn.split('.').next().filter(|l| !l.is_empty())?;
            Some((zone.clone(), first.to_ascii_lowercase()))
        }
    }
}

/// The short geo code of a region as Azure Backup, Site Recovery and Automation spell it in
/// host and zone names (`westeurope` → `we`, `eastus2` → `eus2`). Regions missing from this
/// table (the common ones are in it) fall back to their own lower-cased name.
pub fn region_code(region: &str) -> String {
    let region = region.to_ascii_lowercase().replace(' ', "");
    let code = match region.as_str() {
        "australiacentral" => "acl",
        "australiacentral2" => "acl2",
        "australiaeast" => "ae",
        "australiasoutheast" => "ase",
        "brazilsouth" => "brs",
        "brazilsoutheast" => "bse",
        "canadacentral" => "cnc",
        "canadaeast" => "cne",
        "centralindia" => "inc",
        "centralus" => "cus",
        "eastasia" => "ea",
        "eastus" => "eus",
        "eastus2" => "eus2",
        "francecentral" => "frc",
        "francesouth" => "frs",
        "germanynorth" => "gn",
        "germanywestcentral" => "gwc",
        "japaneast" => "jpe",
        "japanwest" => "jpw",
        "koreacentral" => "krc",
        "koreasouth" => "krs",
        "northcentralus" => "ncus",
        "northeurope" => "ne",
        "norwayeast" => "nwe",
        "norwaywest" => "nww",
        "southafricanorth" => "san",
        "southafricawest" => "saw",
        "southcentralus" => "scus",
        "southeastasia" => "sea",
        "southindia" => "ins",
        "swedencentral" => "sdc",
        "switzerlandnorth" => "szn",
        "switzerlandwest" => "szw",
        "uaecentral" => "uac",
        "uaenorth" => "uan",
        "uksouth" => "uks",
        "ukwest" => "ukw",
        "westcentralus" => "wcus",
        "westeurope" => "we",
        "westindia" => "inw",
        "westus" => "wus",
        "westus2" => "wus2",
        "westus3" => "wus3",
        _ => return region,
    };
    code.to_string()
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
    // ---- The rest of the private-endpoint overview's table (seed 001), then a few more types
    // the reference's zone table (§7.3) and the CLI's type list (§9.2) name. Group ids are the
    // ones the RPs' `privateLinkResources` return, not the table's display text. Real host names
    // often carry an id (a GUID, a hash) where the emulator puts `{name}`.
    kind(
        "Microsoft.AppConfiguration/configurationStores",
        "Azure App Configuration",
        &[simple!("configurationStores", "{name}.azconfig.io", "privatelink.azconfig.io")],
    ),
    kind(
        "Microsoft.Automation/automationAccounts",
        "Azure Automation",
        &[
            // Real hosts are `{accountId}.webhook|agentsvc|jrds.{regionCode}.azure-automation.net`.
            // The member names of DSCAndHybridWorker are not in the reference (assumed).
            simple!("Webhook", "{name}.webhook.{regionCode}.azure-automation.net", "privatelink.azure-automation.net"),
            group!(
                "DSCAndHybridWorker",
                [
                    "AgentService" => "{name}.agentsvc.{regionCode}.azure-automation.net",
                    "JRDS" => "{name}.jrds.{regionCode}.azure-automation.net",
                ],
                ["privatelink.azure-automation.net"]
            ),
        ],
    ),
    kind(
        "Microsoft.Batch/batchAccounts",
        "Azure Batch",
        &[
            simple!("batchAccount", "{name}.{region}.batch.azure.com", "privatelink.batch.azure.com"),
            simple!("nodeManagement", "{name}.{region}.service.batch.azure.com", "privatelink.batch.azure.com"),
        ],
    ),
    kind(
        "Microsoft.Cache/Redis",
        "Azure Cache for Redis",
        &[simple!("redisCache", "{name}.redis.cache.windows.net", "privatelink.redis.cache.windows.net")],
    ),
    // §7.3 spells the type `RedisEnterprise`; ARM's own spelling (and the seed's) is
    // `redisEnterprise` — lookups are case-insensitive either way. The same type backs Azure
    // Managed Redis (`{name}.{region}.redis.azure.net`, zone privatelink.redis.azure.net): both
    // zones are listed, the member is the Redis Enterprise host.
    kind(
        "Microsoft.Cache/redisEnterprise",
        "Azure Cache for Redis Enterprise",
        &[group!(
            "redisEnterprise",
            ["redisEnterprise" => "{name}.{region}.redisenterprise.cache.azure.net"],
            ["privatelink.redisenterprise.cache.azure.net", "privatelink.redis.azure.net"]
        )],
    ),
    kind(
        "Microsoft.CognitiveServices/accounts",
        "Azure AI services (Cognitive Services)",
        &[group!(
            "account",
            ["default" => "{name}.cognitiveservices.azure.com"],
            [
                "privatelink.cognitiveservices.azure.com",
                "privatelink.openai.azure.com",
                "privatelink.services.ai.azure.com",
            ]
        )],
    ),
    // Member `diskAccess_1` as the Compute RP returns it. The public host of a disk is
    // `md-{id}.z{n}.blob.storage.azure.net`, yet its record lives in privatelink.blob.core.windows.net:
    // one of the non-matching names the zone test lists.
    kind(
        "Microsoft.Compute/diskAccesses",
        "Azure Managed Disks",
        &[
            group!("disks", ["diskAccess_1" => "md-{name}.blob.storage.azure.net"], ["privatelink.blob.core.windows.net"]),
        ],
    ),
    kind(
        "Microsoft.ContainerRegistry/registries",
        "Azure Container Registry",
        &[group!(
            "registry",
            ["registry" => "{name}.azurecr.io", "registry_data_{region}" => "{name}.{region}.data.azurecr.io"],
            ["privatelink.azurecr.io"]
        )],
    ),
    // The API server's host is `{dnsPrefix}-{hash}.hcp.{region}.azmk8s.io`. §7.3's second zone,
    // `{subzone}.privatelink.{regionName}.azmk8s.io`, is for private clusters and is left out.
    kind(
        "Microsoft.ContainerService/managedClusters",
        "Azure Kubernetes Service - Kubernetes API",
        &[simple!("management", "{name}.hcp.{region}.azmk8s.io", "privatelink.{region}.azmk8s.io")],
    ),
    kind(
        "Microsoft.DBforMariaDB/servers",
        "Azure Database for MariaDB",
        &[simple!("mariadbServer", "{name}.mariadb.database.azure.com", "privatelink.mariadb.database.azure.com")],
    ),
    kind(
        "Microsoft.DBforMySQL/servers",
        "Azure Database for MySQL",
        &[simple!("mysqlServer", "{name}.mysql.database.azure.com", "privatelink.mysql.database.azure.com")],
    ),
    kind(
        "Microsoft.DBforMySQL/flexibleServers",
        "Azure Database for MySQL - Flexible Server",
        &[simple!("mysqlServer", "{name}.mysql.database.azure.com", "privatelink.mysql.database.azure.com")],
    ),
    kind(
        "Microsoft.DBforPostgreSQL/servers",
        "Azure Database for PostgreSQL - Single server",
        &[simple!("postgresqlServer", "{name}.postgres.database.azure.com", "privatelink.postgres.database.azure.com")],
    ),
    kind(
        "Microsoft.DBforPostgreSQL/flexibleServers",
        "Azure Database for PostgreSQL - Flexible Server",
        &[simple!("postgresqlServer", "{name}.postgres.database.azure.com", "privatelink.postgres.database.azure.com")],
    ),
    // Members are the names of the application and of the IoT hubs, Event Hubs and DPS it runs on
    // (`iotc-…` in Azure); the emulator derives them from the application's name.
    kind(
        "Microsoft.IoTCentral/IoTApps",
        "Azure IoT Central",
        &[group!(
            "iotApp",
            [
                "{name}" => "{name}.azureiotcentral.com",
                "iotc-dps-{name}" => "iotc-dps-{name}.azure-devices-provisioning.net",
                "iotc-{name}-1" => "iotc-{name}-1.azure-devices.net",
                "iotc-{name}-2" => "iotc-{name}-2.azure-devices.net",
                "iotc-eh-{name}-1" => "iotc-eh-{name}-1.servicebus.windows.net",
                "iotc-eh-{name}-2" => "iotc-eh-{name}-2.servicebus.windows.net",
            ],
            [
                "privatelink.azureiotcentral.com",
                "privatelink.azure-devices.net",
                "privatelink.servicebus.windows.net",
                "privatelink.azure-devices-provisioning.net",
            ]
        )],
    ),
    kind(
        "Microsoft.EventGrid/topics",
        "Azure Event Grid topic",
        &[simple!("topic", "{name}.{region}-1.eventgrid.azure.net", "privatelink.eventgrid.azure.net")],
    ),
    kind(
        "Microsoft.EventGrid/domains",
        "Azure Event Grid domain",
        &[simple!("domain", "{name}.{region}-1.eventgrid.azure.net", "privatelink.eventgrid.azure.net")],
    ),
    kind(
        "Microsoft.EventGrid/namespaces",
        "Azure Event Grid namespace",
        &[
            simple!("topic", "{name}.{region}-1.eventgrid.azure.net", "privatelink.eventgrid.azure.net"),
            simple!("topicSpace", "{name}.{region}-1.ts.eventgrid.azure.net", "privatelink.ts.eventgrid.azure.net"),
        ],
    ),
    kind(
        "Microsoft.EventGrid/partnerNamespaces",
        "Azure Event Grid partner namespace",
        &[simple!("partnernamespace", "{name}.{region}-1.eventgrid.azure.net", "privatelink.eventgrid.azure.net")],
    ),
    // The gateway's IP also answers for `{name}-int.azurehdinsight.net`; one member per group here.
    kind(
        "Microsoft.HDInsight/clusters",
        "Azure HDInsight",
        &[
            simple!("gateway", "{name}.azurehdinsight.net", "privatelink.azurehdinsight.net"),
            simple!("headnode", "{name}-ssh.azurehdinsight.net", "privatelink.azurehdinsight.net"),
        ],
    ),
    // §7.3 names privatelink.azurehealthcareapis.com for HealthcareApis workspaces; the
    // Azure API for FHIR (services) uses the same zone (assumed: the reference is silent).
    kind(
        "Microsoft.HealthcareApis/services",
        "Azure API for FHIR",
        &[simple!("fhir", "{name}.azurehealthcareapis.com", "privatelink.azurehealthcareapis.com")],
    ),
    // Real hosts carry the workspace id: `{id}.workspace.{region}.api.azureml.ms`,
    // `{id}.workspace.{region}.cert.api.azureml.ms`, `ml-{name}-{region}-{id}.{region}.notebooks.azure.net`.
    // The member names are not in the reference (assumed).
    kind(
        "Microsoft.MachineLearningServices/workspaces",
        "Azure Machine Learning",
        &[group!(
            "amlworkspace",
            [
                "api" => "{name}.workspace.{region}.api.azureml.ms",
                "cert" => "{name}.workspace.{region}.cert.api.azureml.ms",
                "notebook" => "ml-{name}-{region}.{region}.notebooks.azure.net",
            ],
            ["privatelink.api.azureml.ms", "privatelink.notebooks.azure.net"]
        )],
    ),
    // Azure Migrate: the group is `Default` for both project types; one member, host assumed
    // (real ones are `{id}-agent.{regionCode}.prod.migration.windowsazure.com` and siblings).
    kind(
        "Microsoft.Migrate/assessmentProjects",
        "Azure Migrate assessment project",
        &[simple!("Default", "{name}.prod.migration.windowsazure.com", "privatelink.prod.migration.windowsazure.com")],
    ),
    kind(
        "Microsoft.Migrate/migrateProjects",
        "Azure Migrate project",
        &[simple!("Default", "{name}.prod.migration.windowsazure.com", "privatelink.prod.migration.windowsazure.com")],
    ),
    // Private Application Gateway frontend: no Azure-provided private name and no recommended
    // zone. The member's FQDN is the public IP's DNS-label style name (an assumption), and the
    // Network RP answers without `systemData`.
    TargetKind {
        system_data: false,
        ..kind(
            "Microsoft.Network/applicationGateways",
            "Application Gateway",
            &[group!("appGwPrivateFrontendIp", ["appGwPrivateFrontendIp" => "{name}.{region}.cloudapp.azure.com"], [])],
        )
    },
    // Power BI's hosts carry the tenant id; one member per zone here (names assumed).
    kind(
        "Microsoft.PowerBI/privateLinkServicesForPowerBI",
        "Power BI",
        &[group!(
            "tenant",
            [
                "tenant" => "{name}-api.analysis.windows.net",
                "capacity" => "{name}.pbidedicated.windows.net",
                "powerquery" => "{name}.tip1.powerquery.microsoft.com",
            ],
            [
                "privatelink.analysis.windows.net",
                "privatelink.pbidedicated.windows.net",
                "privatelink.tip1.powerquery.microsoft.com",
            ]
        )],
    ),
    // The portal's real public host is the shared `web.purview.azure.com` (record `web` in
    // privatelink.purviewstudio.azure.com); a per-account name keeps two accounts' records apart.
    kind(
        "Microsoft.Purview/accounts",
        "Microsoft Purview",
        &[
            simple!("account", "{name}.purview.azure.com", "privatelink.purview.azure.com"),
            simple!("portal", "{name}.purviewstudio.azure.com", "privatelink.purviewstudio.azure.com"),
        ],
    ),
    // Members as the RP names them (backup-…, SiteRecovery-…); hosts are
    // `{vaultId}-ab-pod01-{x}.{regionCode}.backup.windowsazure.com` and
    // `{vaultId}-asr-pod01-{x}.{regionCode}.siterecovery.windowsazure.com`. `AzureBackup_secondary`
    // (cross-region restore, in the paired region) is not modelled.
    kind(
        "Microsoft.RecoveryServices/vaults",
        "Azure Backup and Site Recovery",
        &[
            group!(
                "AzureBackup",
                [
                    "backup-fab1" => "{name}-ab-pod01-fab1.{regionCode}.backup.windowsazure.com",
                    "backup-rec2" => "{name}-ab-pod01-rec2.{regionCode}.backup.windowsazure.com",
                    "backup-prot1" => "{name}-ab-pod01-prot1.{regionCode}.backup.windowsazure.com",
                    "backup-ecs1" => "{name}-ab-pod01-ecs1.{regionCode}.backup.windowsazure.com",
                    "backup-tel1" => "{name}-ab-pod01-tel1.{regionCode}.backup.windowsazure.com",
                    "backup-wbcm1" => "{name}-ab-pod01-wbcm1.{regionCode}.backup.windowsazure.com",
                    "backup-fc1" => "{name}-ab-pod01-fc1.{regionCode}.backup.windowsazure.com",
                    "backup-id1" => "{name}-ab-pod01-id1.{regionCode}.backup.windowsazure.com",
                ],
                [
                    "privatelink.{regionCode}.backup.windowsazure.com",
                    "privatelink.queue.core.windows.net",
                    "privatelink.blob.core.windows.net",
                ]
            ),
            group!(
                "AzureSiteRecovery",
                [
                    "SiteRecovery-tel1" => "{name}-asr-pod01-tel1.{regionCode}.siterecovery.windowsazure.com",
                    "SiteRecovery-prot2" => "{name}-asr-pod01-prot2.{regionCode}.siterecovery.windowsazure.com",
                    "SiteRecovery-srs1" => "{name}-asr-pod01-srs1.{regionCode}.siterecovery.windowsazure.com",
                    "SiteRecovery-rcm1" => "{name}-asr-pod01-rcm1.{regionCode}.siterecovery.windowsazure.com",
                    "SiteRecovery-id1" => "{name}-asr-pod01-id1.{regionCode}.siterecovery.windowsazure.com",
                ],
                ["privatelink.siterecovery.windowsazure.com"]
            ),
        ],
    ),
    kind(
        "Microsoft.Search/searchServices",
        "Azure AI Search",
        &[simple!("searchService", "{name}.search.windows.net", "privatelink.search.windows.net")],
    ),
    kind(
        "Microsoft.SignalRService/SignalR",
        "Azure SignalR Service",
        &[simple!("signalr", "{name}.service.signalr.net", "privatelink.service.signalr.net")],
    ),
    kind(
        "Microsoft.SignalRService/WebPubSub",
        "Azure Web PubSub",
        &[simple!("webpubsub", "{name}.webpubsub.azure.com", "privatelink.webpubsub.azure.com")],
    ),
    kind(
        "Microsoft.StorageSync/storageSyncServices",
        "Azure File Sync",
        &[simple!("afs", "{name}.{region}.afs.azure.net", "privatelink.afs.azure.net")],
    ),
    // Azure puts both names on one IP (one member, `sites`); a member here has one FQDN, so the
    // SCM site is a second member.
    kind(
        "Microsoft.Web/sites",
        "Azure App Service",
        &[group!(
            "sites",
            ["sites" => "{name}.azurewebsites.net", "scm" => "{name}.scm.azurewebsites.net"],
            ["privatelink.azurewebsites.net"]
        )],
    ),
    // The reference has no zone for App Service Environments: privatelink.appserviceenvironment.net
    // is assumed, after the environment's `{name}.appserviceenvironment.net` domain.
    kind(
        "Microsoft.Web/hostingEnvironments",
        "Azure App Service Environment",
        &[simple!("hostingEnvironments", "{name}.appserviceenvironment.net", "privatelink.appserviceenvironment.net")],
    ),
    // Newer sites get a partition (`{name}.{partitionId}.azurestaticapps.net`, zone
    // privatelink.{partitionId}.azurestaticapps.net); the emulator uses the partition-less form.
    kind(
        "Microsoft.Web/staticSites",
        "Azure Static Web Apps",
        &[simple!("staticSites", "{name}.azurestaticapps.net", "privatelink.azurestaticapps.net")],
    ),
    kind(
        "Microsoft.Media/mediaservices",
        "Azure Media Services",
        &[
            simple!("keydelivery", "{name}.keydelivery.{region}.media.azure.net", "privatelink.media.azure.net"),
            simple!("liveevent", "{name}.channel.media.azure.net", "privatelink.media.azure.net"),
            simple!("streamingendpoint", "{name}.streaming.media.azure.net", "privatelink.media.azure.net"),
        ],
    ),
    kind(
        "Microsoft.ApiManagement/service",
        "Azure API Management",
        &[simple!("Gateway", "{name}.azure-api.net", "privatelink.azure-api.net")],
    ),
    // The environment's default domain is `{adjective-hash}.{region}.azurecontainerapps.io`.
    kind(
        "Microsoft.App/managedEnvironments",
        "Azure Container Apps environment",
        &[simple!(
            "managedEnvironments",
            "{name}.{region}.azurecontainerapps.io",
            "privatelink.{region}.azurecontainerapps.io"
        )],
    ),
    kind(
        "Microsoft.DocumentDB/mongoClusters",
        "Azure Cosmos DB for MongoDB (vCore)",
        &[simple!("MongoCluster", "{name}.mongocluster.cosmos.azure.com", "privatelink.mongocluster.cosmos.azure.com")],
    ),
];

/// The TCP ports a group serves (its private endpoint and public listeners take these): HTTPS
/// for most services, plus the protocol ports some speak (SMB, TDS, AMQP, MQTT, …), and plain
/// HTTP where the service allows it (Storage without secure transfer).
pub fn service_ports(kind: &TargetKind, group: &Group) -> &'static [u16] {
    match (kind.type_name, group.id) {
        ("Microsoft.Storage/storageAccounts", g) if g.starts_with("file") => &[443, 80, 445],
        ("Microsoft.Storage/storageAccounts", _) => &[443, 80],
        ("Microsoft.Sql/servers", _) => &[1433],
        ("Microsoft.Synapse/workspaces", "Sql" | "SqlOnDemand") => &[1433],
        ("Microsoft.DBforPostgreSQL/servers" | "Microsoft.DBforPostgreSQL/flexibleServers", _) => &[5432],
        ("Microsoft.DBforMySQL/servers" | "Microsoft.DBforMySQL/flexibleServers", _) => &[3306],
        ("Microsoft.DBforMariaDB/servers", _) => &[3306],
        ("Microsoft.Cache/Redis", _) => &[6380, 6379],
        ("Microsoft.Cache/redisEnterprise", _) => &[10000],
        ("Microsoft.EventHub/namespaces", _) => &[443, 5671, 5672, 9093],
        ("Microsoft.ServiceBus/namespaces" | "Microsoft.Relay/namespaces", _) => &[443, 5671, 5672],
        ("Microsoft.Devices/IotHubs", _) => &[443, 8883, 5671],
        ("Microsoft.DocumentDB/databaseAccounts", "MongoDB") => &[443, 10255],
        ("Microsoft.DocumentDB/databaseAccounts", "Cassandra") => &[443, 10350],
        ("Microsoft.DocumentDB/mongoClusters", _) => &[10260],
        ("Microsoft.HDInsight/clusters", "headnode") => &[22, 443],
        _ => &[443],
    }
}

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
                // A private Application Gateway frontend has no recommended zone.
                let zoneless = kind.type_name == "Microsoft.Network/applicationGateways";
                assert!(zoneless || !group.zones.is_empty(), "{}/{} has no zones", kind.type_name, group.id);
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

    #[test]
    fn private_names_follow_the_recommended_zones() {
        let blob = find("Microsoft.Storage/storageAccounts").unwrap().group("blob").unwrap();
        assert_eq!(
            private_name(blob, "sa1.blob.core.windows.net", "sa1", "westeurope"),
            Some(("privatelink.blob.core.windows.net".into(), "sa1".into()))
        );
        let vault = find("Microsoft.KeyVault/vaults").unwrap().group("vault").unwrap();
        assert_eq!(
            private_name(vault, "kv1.vault.azure.net", "kv1", "westeurope"),
            Some(("privatelink.vaultcore.azure.net".into(), "kv1".into()))
        );
        let kusto = find("Microsoft.Kusto/clusters").unwrap().group("cluster").unwrap();
        assert_eq!(
            private_name(kusto, "ingest-kc1.westeurope.kusto.windows.net", "kc1", "westeurope"),
            Some(("privatelink.westeurope.kusto.windows.net".into(), "ingest-kc1".into()))
        );
        let batch = find("Microsoft.Batch/batchAccounts").unwrap().group("batchAccount").unwrap();
        assert_eq!(
            private_name(batch, "b1.westeurope.batch.azure.com", "b1", "westeurope"),
            Some(("privatelink.batch.azure.com".into(), "b1.westeurope".into()))
        );
        let appgw = find("Microsoft.Network/applicationGateways").unwrap().group("appGwPrivateFrontendIp").unwrap();
        assert_eq!(private_name(appgw, "gw.westeurope.cloudapp.azure.com", "gw", "westeurope"), None);
        assert_eq!(record_in_zone("svc.contoso.internal", "contoso.internal"), Some("svc".into()));
        assert_eq!(record_in_zone("contoso.internal.", "contoso.internal"), Some("@".into()));
        assert_eq!(record_in_zone("a.b.other.net", "contoso.internal"), None);
        assert!(is_within("A.Blob.core.windows.net", "blob.core.windows.net"));
        assert!(!is_within("xblob.core.windows.net", "blob.core.windows.net"));
    }

    #[test]
    fn region_codes_expand() {
        assert_eq!(region_code("WestEurope"), "we");
        assert_eq!(region_code("east us 2"), "eus2");
        assert_eq!(region_code("narnia"), "narnia");
        let vault = find("Microsoft.RecoveryServices/vaults").unwrap();
        let backup = vault.group("azurebackup").unwrap();
        assert_eq!(expand(backup.zones[0], "v1", "westeurope"), "privatelink.we.backup.windowsazure.com");
        assert_eq!(expand(backup.members[6].fqdn, "V1", "eastus2"), "v1-ab-pod01-fc1.eus2.backup.windowsazure.com");
        let acr = find("microsoft.containerregistry/registries").unwrap();
        let members: Vec<String> =
            acr.group("registry").unwrap().members.iter().map(|m| expand(m.name, "cr1", "WestEurope")).collect();
        assert_eq!(members, ["registry", "registry_data_westeurope"]);
    }

    /// Every type of the private-endpoint overview's table (seed 001), by canonical name, plus
    /// Device Update and Data Factory.
    const SEED_001_TYPES: &[&str] = &[
        "Microsoft.AppConfiguration/configurationStores",
        "Microsoft.Automation/automationAccounts",
        "Microsoft.DocumentDB/databaseAccounts",
        "Microsoft.Batch/batchAccounts",
        "Microsoft.Cache/Redis",
        "Microsoft.Cache/redisEnterprise",
        "Microsoft.CognitiveServices/accounts",
        "Microsoft.Compute/diskAccesses",
        "Microsoft.ContainerRegistry/registries",
        "Microsoft.ContainerService/managedClusters",
        "Microsoft.DataFactory/factories",
        "Microsoft.Kusto/clusters",
        "Microsoft.DBforMariaDB/servers",
        "Microsoft.DBforMySQL/servers",
        "Microsoft.DBforPostgreSQL/servers",
        "Microsoft.Devices/provisioningServices",
        "Microsoft.Devices/IotHubs",
        "Microsoft.IoTCentral/IoTApps",
        "Microsoft.DigitalTwins/digitalTwinsInstances",
        "Microsoft.EventGrid/domains",
        "Microsoft.EventGrid/topics",
        "Microsoft.EventHub/namespaces",
        "Microsoft.HDInsight/clusters",
        "Microsoft.HealthcareApis/services",
        "Microsoft.KeyVault/managedHSMs",
        "Microsoft.KeyVault/vaults",
        "Microsoft.MachineLearningServices/workspaces",
        "Microsoft.Migrate/assessmentProjects",
        "Microsoft.Network/applicationGateways",
        "Microsoft.PowerBI/privateLinkServicesForPowerBI",
        "Microsoft.Purview/accounts",
        "Microsoft.RecoveryServices/vaults",
        "Microsoft.Relay/namespaces",
        "Microsoft.Search/searchServices",
        "Microsoft.ServiceBus/namespaces",
        "Microsoft.SignalRService/SignalR",
        "Microsoft.SignalRService/WebPubSub",
        "Microsoft.Sql/servers",
        "Microsoft.Storage/storageAccounts",
        "Microsoft.StorageSync/storageSyncServices",
        "Microsoft.Synapse/privateLinkHubs",
        "Microsoft.Synapse/workspaces",
        "Microsoft.Web/hostingEnvironments",
        "Microsoft.Web/sites",
        "Microsoft.Web/staticSites",
        "Microsoft.Media/mediaservices",
        "Microsoft.DeviceUpdate/accounts",
    ];

    #[test]
    fn the_catalogue_covers_the_overview_table() {
        assert!(KINDS.len() >= 50, "only {} types", KINDS.len());
        for type_name in SEED_001_TYPES {
            let kind = find(type_name).unwrap_or_else(|| panic!("{type_name} is not catalogued"));
            assert_eq!(kind.type_name, *type_name, "canonical spelling");
        }
        // Microsoft.Network/privateLinkServices (the table's "your own service") is the Network
        // provider's own type, not a catalogue entry.
        assert!(find("Microsoft.Network/privateLinkServices").is_none());
        let group_ids = |t: &str| find(t).unwrap().group_ids();
        assert_eq!(group_ids("Microsoft.Batch/batchAccounts"), ["batchAccount", "nodeManagement"]);
        assert_eq!(group_ids("Microsoft.RecoveryServices/vaults"), ["AzureBackup", "AzureSiteRecovery"]);
        assert_eq!(group_ids("Microsoft.Automation/automationAccounts"), ["Webhook", "DSCAndHybridWorker"]);
        assert_eq!(group_ids("Microsoft.Purview/accounts"), ["account", "portal"]);
        assert_eq!(group_ids("Microsoft.Media/mediaservices"), ["keydelivery", "liveevent", "streamingendpoint"]);
        assert_eq!(group_ids("Microsoft.Compute/diskAccesses"), ["disks"]);
        assert!(!find("Microsoft.Network/applicationGateways").unwrap().system_data);
    }

    /// Members whose public name is not under any of their group's zones' public domains; each
    /// is documented (the record still goes into the listed zone).
    const NOT_UNDER_THEIR_ZONE: &[(&str, &str)] = &[
        // `{name}.vault.azure.net` CNAMEs to `{name}.privatelink.vaultcore.azure.net`.
        ("Microsoft.KeyVault/vaults", "default"),
        // `md-….blob.storage.azure.net`, record in privatelink.blob.core.windows.net.
        ("Microsoft.Compute/diskAccesses", "diskAccess_1"),
    ];

    #[test]
    fn member_fqdns_sit_under_their_zones() {
        for kind in KINDS {
            for group in kind.groups {
                let domains: Vec<&str> = group.zones.iter().filter_map(|z| public_domain(z)).collect();
                if domains.is_empty() {
                    continue;
                }
                for m in group.members {
                    let under = domains.iter().any(|d| m.fqdn.ends_with(&format!(".{d}")));
                    let excepted = NOT_UNDER_THEIR_ZONE.contains(&(kind.type_name, m.name));
                    assert!(
                        under != excepted,
                        "{}/{} member {}: {} {} under {:?}",
                        kind.type_name,
                        group.id,
                        m.name,
                        m.fqdn,
                        if under { "is (drop the exception)" } else { "is not" },
                        domains
                    );
                }
            }
        }
    }

    /// Members whose public name has more than one label in front of its zone's domain: mapping
    /// `{first label}.privatelink.{rest}` does not land in the zone for these; Azure inserts
    /// `privatelink.` in front of the zone's domain instead (`a.b.batch.azure.com` →
    /// `a.b.privatelink.batch.azure.com`, record `a.b` in privatelink.batch.azure.com).
    const MULTI_LABEL: &[(&str, &str)] = &[
        ("Microsoft.Storage/storageAccounts", "web"),
        ("Microsoft.Storage/storageAccounts", "web_secondary"),
        ("Microsoft.DigitalTwins/digitalTwinsInstances", "API"),
        ("Microsoft.DataFactory/factories", "dataFactory"),
        ("Microsoft.Automation/automationAccounts", "Webhook"),
        ("Microsoft.Automation/automationAccounts", "AgentService"),
        ("Microsoft.Automation/automationAccounts", "JRDS"),
        ("Microsoft.Batch/batchAccounts", "batchAccount"),
        ("Microsoft.Batch/batchAccounts", "nodeManagement"),
        ("Microsoft.Cache/redisEnterprise", "redisEnterprise"),
        ("Microsoft.ContainerRegistry/registries", "registry_data_{region}"),
        ("Microsoft.ContainerService/managedClusters", "management"),
        ("Microsoft.EventGrid/topics", "topic"),
        ("Microsoft.EventGrid/domains", "domain"),
        ("Microsoft.EventGrid/namespaces", "topic"),
        ("Microsoft.EventGrid/namespaces", "topicSpace"),
        ("Microsoft.EventGrid/partnerNamespaces", "partnernamespace"),
        ("Microsoft.MachineLearningServices/workspaces", "api"),
        ("Microsoft.MachineLearningServices/workspaces", "cert"),
        ("Microsoft.MachineLearningServices/workspaces", "notebook"),
        ("Microsoft.RecoveryServices/vaults", "SiteRecovery-tel1"),
        ("Microsoft.RecoveryServices/vaults", "SiteRecovery-prot2"),
        ("Microsoft.RecoveryServices/vaults", "SiteRecovery-srs1"),
        ("Microsoft.RecoveryServices/vaults", "SiteRecovery-rcm1"),
        ("Microsoft.RecoveryServices/vaults", "SiteRecovery-id1"),
        ("Microsoft.StorageSync/storageSyncServices", "afs"),
        ("Microsoft.Web/sites", "scm"),
        ("Microsoft.Media/mediaservices", "keydelivery"),
        ("Microsoft.Media/mediaservices", "liveevent"),
        ("Microsoft.Media/mediaservices", "streamingendpoint"),
    ];

    #[test]
    fn first_label_mapping_lands_in_the_zone_except_for_multi_label_names() {
        let mut multi = Vec::new();
        for kind in KINDS {
            for group in kind.groups {
                let domains: Vec<&str> = group.zones.iter().filter_map(|z| public_domain(z)).collect();
                for m in group.members {
                    let Some(domain) = domains.iter().find(|d| m.fqdn.ends_with(&format!(".{d}"))) else {
                        continue;
                    };
                    let (first, rest) = m.fqdn.split_once('.').unwrap();
                    assert!(!first.is_empty(), "{}", m.fqdn);
                    if rest != *domain {
                        multi.push((kind.type_name, m.name));
                    }
                }
            }
        }
        let expected: Vec<(&str, &str)> = MULTI_LABEL.to_vec();
        for pair in &multi {
            assert!(expected.contains(pair), "{pair:?} has a multi-label name: add it to MULTI_LABEL");
        }
        for pair in &expected {
            assert!(multi.contains(pair), "{pair:?} is not multi-label: drop it from MULTI_LABEL");
        }
    }
}
