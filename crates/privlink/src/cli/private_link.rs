//! `privlink endpoints …` and `privlink connections …`: what a person uses without az: the
//! private endpoints with their connection state, the pending connections across every target
//! (the portal's "Private Link Center"), and approving or rejecting one by id.

use anyhow::{bail, Context};
use clap::{Args, Subcommand, ValueEnum};
use privlink_server::catalogue;
use serde_json::{json, Value};

use super::client::{Client, Connect, NETWORK_API, TARGET_API};
use super::table;

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Output {
    Table,
    Json,
}

#[derive(Args, Debug)]
pub struct Common {
    #[command(flatten)]
    pub connect: Connect,
    /// Only this subscription (default: every subscription).
    #[arg(long, global = true)]
    pub subscription: Option<String>,
    #[arg(long, short = 'o', value_enum, default_value = "table", global = true)]
    pub output: Output,
}

#[derive(Subcommand, Debug)]
pub enum EndpointsCommand {
    /// List private endpoints with their IPs, target and connection state.
    List,
}

#[derive(Subcommand, Debug)]
pub enum ConnectionsCommand {
    /// List the connections of every private-link target (all, or only the pending ones).
    List {
        #[arg(long)]
        pending: bool,
    },
    /// Approve a connection, by its id (`{target}/privateEndpointConnections/{name}`).
    Approve {
        id: String,
        #[arg(long, default_value = "Approved with privlink")]
        description: String,
    },
    /// Reject a connection, by its id.
    Reject {
        id: String,
        #[arg(long, default_value = "Rejected with privlink")]
        description: String,
    },
}

fn text(v: &Value, pointer: &str) -> String {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("").to_string()
}

fn segment_after(id: &str, marker: &str) -> String {
    let parts: Vec<&str> = id.split('/').collect();
    parts
        .iter()
        .position(|p| p.eq_ignore_ascii_case(marker))
        .and_then(|i| parts.get(i + 1))
        .map(|s| s.to_string())
        .unwrap_or_default()
}

fn print(output: Output, headers: &[&str], rows: Vec<Vec<String>>, raw: Vec<Value>) -> anyhow::Result<()> {
    match output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&Value::Array(raw))?),
        Output::Table => print!("{}", table::render(headers, &rows)),
    }
    Ok(())
}

pub async fn endpoints(common: Common, command: EndpointsCommand) -> anyhow::Result<()> {
    let EndpointsCommand::List = command;
    let client = Client::connect(&common.connect)?;
    let mut rows = Vec::new();
    let mut raw = Vec::new();
    for sub in client.subscriptions(common.subscription.as_deref()).await? {
        for pe in client
            .list(&format!("/subscriptions/{sub}/providers/Microsoft.Network/privateEndpoints"), NETWORK_API)
            .await?
        {
            let connection = pe
                .pointer("/properties/privateLinkServiceConnections/0")
                .or_else(|| pe.pointer("/properties/manualPrivateLinkServiceConnections/0"))
                .cloned()
                .unwrap_or(Value::Null);
            let ips: Vec<String> = pe
                .pointer("/properties/customDnsConfigs")
                .and_then(Value::as_array)
                .map(|c| {
                    c.iter()
                        .flat_map(|d| d.get("ipAddresses").and_then(Value::as_array).cloned().unwrap_or_default())
                        .filter_map(|i| i.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            let mut ips_unique = ips.clone();
            ips_unique.dedup();
            let target = text(&connection, "/properties/privateLinkServiceId");
            let target_name = target.rsplit('/').next().unwrap_or_default().to_string();
            let groups = connection
                .pointer("/properties/groupIds")
                .and_then(Value::as_array)
                .map(|g| g.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(","))
                .unwrap_or_default();
            rows.push(vec![
                text(&pe, "/name"),
                segment_after(&text(&pe, "/id"), "resourceGroups"),
                format!(
                    "{}/{}",
                    segment_after(&text(&pe, "/properties/subnet/id"), "virtualNetworks"),
                    segment_after(&text(&pe, "/properties/subnet/id"), "subnets")
                ),
                ips_unique.join(","),
                target_name,
                groups,
                text(&connection, "/properties/privateLinkServiceConnectionState/status"),
            ]);
            raw.push(pe);
        }
    }
    print(common.output, &["NAME", "RESOURCE GROUP", "SUBNET", "IP", "TARGET", "GROUP", "STATE"], rows, raw)
}

/// Every connection on every target the server knows, with the target's id.
async fn all_connections(client: &Client, subscription: Option<&str>) -> anyhow::Result<Vec<(String, Value)>> {
    let mut out = Vec::new();
    let types: Vec<&str> =
        catalogue::KINDS.iter().map(|k| k.type_name).chain(["Microsoft.Network/privateLinkServices"]).collect();
    for sub in client.subscriptions(subscription).await? {
        for type_name in &types {
            let api = if type_name.starts_with("Microsoft.Network/") { NETWORK_API } else { TARGET_API };
            for target in client.list(&format!("/subscriptions/{sub}/providers/{type_name}"), api).await? {
                let target_id = text(&target, "/id");
                for connection in target
                    .pointer("/properties/privateEndpointConnections")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
                {
                    out.push((target_id.clone(), connection));
                }
            }
        }
    }
    Ok(out)
}

pub async fn connections(common: Common, command: ConnectionsCommand) -> anyhow::Result<()> {
    let client = Client::connect(&common.connect)?;
    match command {
        ConnectionsCommand::List { pending } => {
            let mut rows = Vec::new();
            let mut raw = Vec::new();
            for (target, connection) in all_connections(&client, common.subscription.as_deref()).await? {
                let status = text(&connection, "/properties/privateLinkServiceConnectionState/status");
                if pending && status != "Pending" {
                    continue;
                }
                rows.push(vec![
                    text(&connection, "/id"),
                    target.rsplit('/').next().unwrap_or_default().to_string(),
                    text(&connection, "/properties/privateEndpoint/id")
                        .rsplit('/')
                        .next()
                        .unwrap_or_default()
                        .to_string(),
                    status,
                    text(&connection, "/properties/privateLinkServiceConnectionState/description"),
                ]);
                raw.push(connection);
            }
            print(common.output, &["CONNECTION", "TARGET", "PRIVATE ENDPOINT", "STATE", "DESCRIPTION"], rows, raw)
        }
        ConnectionsCommand::Approve { id, description } => {
            decide(&client, common.output, &id, "Approved", &description).await
        }
        ConnectionsCommand::Reject { id, description } => {
            decide(&client, common.output, &id, "Rejected", &description).await
        }
    }
}

async fn decide(client: &Client, output: Output, id: &str, status: &str, description: &str) -> anyhow::Result<()> {
    if !id.to_ascii_lowercase().contains("/privateendpointconnections/") {
        bail!("'{id}' is not a private endpoint connection id: expected …/{{target}}/privateEndpointConnections/{{name}} (see `privlink connections list`)");
    }
    let api = if id.to_ascii_lowercase().contains("/providers/microsoft.network/") { NETWORK_API } else { TARGET_API };
    let mut connection = client.get(id, api).await.with_context(|| format!("reading connection {id}"))?;
    let Some(state) =
        connection.pointer_mut("/properties/privateLinkServiceConnectionState").and_then(Value::as_object_mut)
    else {
        bail!("the server's answer for {id} has no privateLinkServiceConnectionState object");
    };
    state.insert("status".into(), json!(status));
    state.insert("description".into(), json!(description));
    let updated = client.put(id, api, &connection).await?;
    match output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&updated)?),
        Output::Table => println!(
            "{} {}: {}",
            text(&updated, "/name"),
            text(&updated, "/properties/privateLinkServiceConnectionState/status"),
            text(&updated, "/properties/privateLinkServiceConnectionState/description")
        ),
    }
    Ok(())
}
