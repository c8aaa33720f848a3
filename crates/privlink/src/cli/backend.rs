//! `privlink backend set|unset`: bind a target's sub-resource (or a private link service) to the
//! real local service its traffic goes to, through the `privlink:backend[:{group}]` tag
//! convention (see `privlink_server::providers::targets::backends`), with an ordinary ARM PATCH
//! of the resource's tags, so IaC tools can do the same.

use anyhow::bail;
use clap::Subcommand;
use serde_json::{json, Map, Value};

use super::client::{Client, Connect, NETWORK_API, TARGET_API};

#[derive(Subcommand, Debug)]
pub enum BackendCommand {
    /// Send the traffic of RESOURCE_ID's sub-resource GROUP (all of them without --group) to
    /// ADDRESS, a loopback host:port (e.g. Azurite's blob service at 127.0.0.1:10000).
    Set {
        resource_id: String,
        address: String,
        #[arg(long)]
        group: Option<String>,
    },
    /// Remove a binding.
    Unset {
        resource_id: String,
        #[arg(long)]
        group: Option<String>,
    },
}

fn tag_key(group: Option<&str>) -> String {
    match group {
        Some(g) => format!("privlink:backend:{g}"),
        None => "privlink:backend".to_string(),
    }
}

fn api_version(resource_id: &str) -> &'static str {
    if resource_id.to_ascii_lowercase().contains("/providers/microsoft.network/") {
        NETWORK_API
    } else {
        TARGET_API
    }
}

pub async fn backend(connect: Connect, command: BackendCommand) -> anyhow::Result<()> {
    let client = Client::connect(&connect)?;
    let (resource_id, group, address) = match &command {
        BackendCommand::Set { resource_id, address, group } => (resource_id, group, Some(address)),
        BackendCommand::Unset { resource_id, group } => (resource_id, group, None),
    };
    if !resource_id.starts_with("/subscriptions/") {
        bail!("give the resource's full id (/subscriptions/…/providers/…)");
    }
    let api = api_version(resource_id);
    let current = client.get(resource_id, api).await?;
    let mut tags: Map<String, Value> = current.get("tags").and_then(Value::as_object).cloned().unwrap_or_default();
    let key = tag_key(group.as_deref());
    // Tags match case-insensitively: replace whatever spelling is there.
    tags.retain(|k, _| !k.eq_ignore_ascii_case(&key));
    if let Some(address) = address {
        tags.insert(key.clone(), json!(address));
    }
    client.patch(resource_id, api, &json!({ "tags": tags })).await?;
    match address {
        Some(a) => println!("{resource_id}: {key} = {a}"),
        None => println!("{resource_id}: {key} removed"),
    }
    Ok(())
}
