//! Microsoft.Storage/storageAccounts specifics: `kind` (private endpoints only on StorageV2 /
//! general-purpose v2 and the premium kinds that support them), `sku`, `networkAcls` (the
//! firewall the data plane enforces) and `primaryEndpoints`.

use std::net::IpAddr;

use ipnet::IpNet;
use privlink_store::ResourceRow;
use serde_json::{json, Map, Value};

use super::Specifics;
use crate::arm::json::Obj;
use crate::arm::names::NameRule;
use crate::arm::{ArmError, ArmResult};
use crate::providers::{Lro, PutInput};

pub struct Storage;

const KINDS: &[&str] = &["StorageV2", "Storage", "BlobStorage", "FileStorage", "BlockBlobStorage"];
const SKUS: &[&str] = &[
    "Standard_LRS",
    "Standard_GRS",
    "Standard_RAGRS",
    "Standard_ZRS",
    "Premium_LRS",
    "Premium_ZRS",
    "Standard_GZRS",
    "Standard_RAGZRS",
];

impl Specifics for Storage {
    fn name_rule(&self) -> NameRule {
        NameRule::StorageAccount
    }

    fn put_style(&self) -> Lro {
        // The SDK's begin_create takes 200 or 202 only.
        Lro::Sync
    }

    fn validate(&self, input: &PutInput<'_>, body: Obj<'_>, props: &mut Map<String, Value>) -> ArmResult<()> {
        let kind = input.body.one_of("kind", KINDS)?.ok_or_else(|| {
            ArmError::invalid_at("InvalidRequestFormat", "kind", "Storage accounts need a kind, e.g. StorageV2.")
        })?;
        let sku = match input.body.obj("sku")? {
            Some(s) => Obj::new(s, "sku").one_of("name", SKUS)?.ok_or_else(|| {
                ArmError::invalid_at(
                    "InvalidRequestFormat",
                    "sku.name",
                    "Storage accounts need sku.name, e.g. Standard_LRS.",
                )
            })?,
            None => {
                return Err(ArmError::invalid_at(
                    "InvalidRequestFormat",
                    "sku",
                    "Storage accounts need a sku, e.g. {\"name\": \"Standard_LRS\"}.",
                ))
            }
        };
        if let Some(existing) = input.existing {
            let old = kind_of(existing);
            if old != kind && !(old == "Storage" && kind == "StorageV2") {
                return Err(ArmError::invalid(
                    "StorageAccountKindCannotBeChanged",
                    format!("The kind of storage account {} cannot change from {old} to {kind}.", input.id.name()),
                ));
            }
        }
        props.insert("privlinkKind".into(), json!(kind));
        props.insert("privlinkSku".into(), json!(sku));
        props.insert("networkAcls".into(), network_acls(body)?);
        props.insert(
            "minimumTlsVersion".into(),
            json!(body.one_of("minimumTlsVersion", &["TLS1_0", "TLS1_1", "TLS1_2", "TLS1_3"])?.unwrap_or("TLS1_2")),
        );
        props.insert("allowBlobPublicAccess".into(), json!(body.bool("allowBlobPublicAccess")?.unwrap_or(false)));
        props.insert("supportsHttpsTrafficOnly".into(), json!(body.bool("supportsHttpsTrafficOnly")?.unwrap_or(true)));
        if let Some(hns) = body.bool("isHnsEnabled")? {
            props.insert("isHnsEnabled".into(), json!(hns));
        }
        Ok(())
    }

    fn check_endpoint(&self, target: &ResourceRow, group: &str) -> ArmResult<()> {
        let kind = kind_of(target);
        let supported = match kind {
            "StorageV2" | "BlockBlobStorage" => true,
            "FileStorage" => group.starts_with("file"),
            _ => false,
        };
        if !supported {
            return Err(ArmError::invalid(
                "PrivateEndpointNotSupportedForStorageAccountKind",
                format!("Private endpoints are supported only on general-purpose v2 (StorageV2) accounts, premium block blob and premium file accounts; storage account {} is of kind {kind}. Upgrade it to StorageV2 first.", target.id),
            ));
        }
        Ok(())
    }

    fn render_top_level(&self, row: &ResourceRow, out: &mut Map<String, Value>) {
        out.insert("kind".into(), json!(kind_of(row)));
        let sku =
            crate::providers::properties(row).get("privlinkSku").and_then(Value::as_str).unwrap_or("Standard_LRS");
        let tier = if sku.starts_with("Premium") { "Premium" } else { "Standard" };
        out.insert("sku".into(), json!({ "name": sku, "tier": tier }));
    }

    fn render(&self, row: &ResourceRow, props: &mut Map<String, Value>) {
        let name = row.id.rsplit('/').next().unwrap_or_default().to_ascii_lowercase();
        props.remove("privlinkKind");
        props.remove("privlinkSku");
        let endpoint = |service: &str| format!("https://{name}.{service}.core.windows.net/");
        props.insert(
            "primaryEndpoints".into(),
            json!({ "blob": endpoint("blob"), "queue": endpoint("queue"), "table": endpoint("table"), "file": endpoint("file"), "dfs": endpoint("dfs"), "web": format!("https://{name}.z1.web.core.windows.net/") }),
        );
        props.insert("primaryLocation".into(), json!(crate::providers::location(row)));
        props.insert("statusOfPrimary".into(), json!("available"));
        props.insert("creationTime".into(), json!(crate::arm::rfc3339(row.created_at)));
    }
}

/// The account's kind as stored.
pub fn kind_of(row: &ResourceRow) -> &str {
    crate::providers::properties(row).get("privlinkKind").and_then(Value::as_str).unwrap_or("StorageV2")
}

fn network_acls(body: Obj<'_>) -> ArmResult<Value> {
    let Some(acls) = body.obj("networkAcls")? else {
        return Ok(
            json!({ "bypass": "AzureServices", "defaultAction": "Allow", "ipRules": [], "virtualNetworkRules": [], "resourceAccessRules": [] }),
        );
    };
    let a = Obj::new(acls, "properties.networkAcls");
    let default_action = a.one_of("defaultAction", &["Allow", "Deny"])?.ok_or_else(|| {
        ArmError::invalid_at(
            "InvalidRequestFormat",
            "properties.networkAcls.defaultAction",
            "networkAcls.defaultAction is required (Allow or Deny).",
        )
    })?;
    let bypass = a.str("bypass")?.unwrap_or("AzureServices");
    for part in bypass.split(',').map(str::trim) {
        if !["None", "AzureServices", "Logging", "Metrics"].iter().any(|b| b.eq_ignore_ascii_case(part)) {
            return Err(ArmError::invalid("InvalidNetworkAclsBypass", format!("networkAcls.bypass '{bypass}' is invalid: use None or a comma-separated list of AzureServices, Logging, Metrics.")));
        }
    }
    let mut ip_rules = Vec::new();
    for (path, rule) in a.objects("ipRules")? {
        let r = Obj::new(rule, &path);
        let value = r.str("value")?.ok_or_else(|| {
            ArmError::invalid_at(
                "InvalidRequestFormat",
                &path,
                "Each IP rule needs a value (an IP address or CIDR range).",
            )
        })?;
        if value.parse::<IpAddr>().is_err() && value.parse::<IpNet>().is_err() {
            return Err(ArmError::invalid(
                "InvalidIpRule",
                format!("IP rule value '{value}' is not an IP address or CIDR range."),
            ));
        }
        ip_rules.push(json!({ "value": value, "action": "Allow" }));
    }
    let mut vnet_rules = Vec::new();
    for (path, rule) in a.objects("virtualNetworkRules")? {
        let r = Obj::new(rule, &path);
        let id = r.str("id")?.ok_or_else(|| {
            ArmError::invalid_at("InvalidRequestFormat", &path, "Each virtual network rule needs the subnet id.")
        })?;
        vnet_rules.push(json!({ "id": id, "action": "Allow", "state": "Succeeded" }));
    }
    Ok(
        json!({ "bypass": bypass, "defaultAction": default_action, "ipRules": ip_rules, "virtualNetworkRules": vnet_rules, "resourceAccessRules": [] }),
    )
}

/// `POST /subscriptions/{s}/providers/Microsoft.Storage/checkNameAvailability` with
/// `{"name", "type"}`: storage account names are global, so any account anywhere takes it
/// (`az storage account create` asks this first).
pub fn check_name_availability(tx: &mut dyn privlink_store::Tx, body: Obj<'_>) -> ArmResult<Value> {
    let name = body
        .str("name")?
        .ok_or_else(|| ArmError::invalid_at("InvalidRequestFormat", "name", "The body needs the name to check."))?;
    if NameRule::StorageAccount.check(name, "Microsoft.Storage/storageAccounts").is_err() {
        return Ok(json!({
            "nameAvailable": false,
            "reason": "AccountNameInvalid",
            "message": format!("{name} is not a valid storage account name. Storage account name must be between 3 and 24 characters in length and use numbers and lower-case letters only."),
        }));
    }
    let suffix = format!("/providers/microsoft.storage/storageaccounts/{}", name.to_ascii_lowercase());
    let mut after: Option<String> = None;
    loop {
        let page = tx.list(&privlink_store::ListQuery {
            scope: privlink_store::Scope::All,
            type_key: Some("microsoft.storage/storageaccounts"),
            after: after.as_deref(),
            limit: 500,
        })?;
        if page.iter().any(|r| r.key.ends_with(&suffix)) {
            return Ok(json!({
                "nameAvailable": false,
                "reason": "AlreadyExists",
                "message": format!("The storage account named {name} is already taken."),
            }));
        }
        match page.last() {
            Some(last) if page.len() == 500 => after = Some(last.key.clone()),
            _ => return Ok(json!({ "nameAvailable": true })),
        }
    }
}
