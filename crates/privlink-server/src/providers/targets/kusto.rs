//! Microsoft.Kusto/clusters specifics: the cluster and ingestion URIs clients connect to, the
//! SKU, and the cluster state.

use privlink_store::ResourceRow;
use serde_json::{json, Map, Value};

use super::Specifics;
use crate::arm::json::Obj;
use crate::arm::names::NameRule;
use crate::arm::{ArmError, ArmResult};
use crate::providers::PutInput;

pub struct Kusto;

impl Specifics for Kusto {
    fn name_rule(&self) -> NameRule {
        NameRule::KustoCluster
    }

    fn validate(&self, input: &PutInput<'_>, body: Obj<'_>, props: &mut Map<String, Value>) -> ArmResult<()> {
        let sku = input.body.obj("sku")?.ok_or_else(|| {
            ArmError::invalid_at(
                "InvalidRequestFormat",
                "sku",
                "Kusto clusters need a sku, e.g. {\"name\": \"Dev(No SLA)_Standard_E2a_v4\", \"tier\": \"Basic\"}.",
            )
        })?;
        let sku = Obj::new(sku, "sku");
        let name = sku
            .str("name")?
            .ok_or_else(|| ArmError::invalid_at("InvalidRequestFormat", "sku.name", "sku.name is required."))?;
        let tier = sku.one_of("tier", &["Basic", "Standard"])?.unwrap_or("Standard");
        props.insert(
            "privlinkSku".into(),
            json!({ "name": name, "tier": tier, "capacity": sku.i64("capacity")?.unwrap_or(2) }),
        );
        props.insert("enableStreamingIngest".into(), json!(body.bool("enableStreamingIngest")?.unwrap_or(false)));
        props.insert("enablePurge".into(), json!(body.bool("enablePurge")?.unwrap_or(false)));
        Ok(())
    }

    fn render_top_level(&self, row: &ResourceRow, out: &mut Map<String, Value>) {
        if let Some(sku) = crate::providers::properties(row).get("privlinkSku") {
            out.insert("sku".into(), sku.clone());
        }
    }

    fn render(&self, row: &ResourceRow, props: &mut Map<String, Value>) {
        let name = row.id.rsplit('/').next().unwrap_or_default().to_ascii_lowercase();
        let region = crate::providers::location(row).unwrap_or_default();
        props.remove("privlinkSku");
        props.insert("uri".into(), json!(format!("https://{name}.{region}.kusto.windows.net")));
        props.insert("dataIngestionUri".into(), json!(format!("https://ingest-{name}.{region}.kusto.windows.net")));
        let provisioning = props.get("provisioningState").and_then(Value::as_str).unwrap_or("Succeeded");
        props.insert("state".into(), json!(if provisioning == "Updating" { "Creating" } else { "Running" }));
    }
}
