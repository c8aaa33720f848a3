//! `privlink gateway …`: where clients get in (each VNet's proxy, the internet's), the private
//! endpoints' and targets' listeners, and per-endpoint traffic and refusals (clients of
//! `/privlink/gateway/*`).

use clap::Subcommand;
use serde_json::Value;

use super::client::Client;
use super::dns::DnsCommon;
use super::private_link::Output;
use super::table::{self, text};

#[derive(Subcommand, Debug)]
pub enum GatewayCommand {
    /// Each virtual network's proxy (HTTP CONNECT and SOCKS5): set HTTPS_PROXY / ALL_PROXY to
    /// one to sit in that VNet.
    Proxies,
    /// The listeners standing for private endpoints' IPs and targets' public addresses.
    Listeners,
    /// Connections, bytes and refusals per private endpoint and public endpoint.
    Stats,
}

fn last_segment(id: &str) -> String {
    id.rsplit('/').next().unwrap_or(id).to_string()
}

fn address_or_error(v: &Value) -> String {
    v["address"].as_str().map(str::to_string).unwrap_or_else(|| format!("not listening: {}", text(v, "error")))
}

/// How one listing is fetched and shown: its path, its table's headers and a row per item.
type Listing = (&'static str, &'static [&'static str], fn(&Value) -> Vec<String>);

pub async fn gateway(common: DnsCommon, command: GatewayCommand) -> anyhow::Result<()> {
    let client = Client::connect(&common.connect)?;
    let (path, headers, row): Listing = match command {
        GatewayCommand::Proxies => ("/privlink/gateway/proxies", &["NETWORK", "PROXY"], |v| {
            vec![last_segment(&text(v, "virtualNetwork")), address_or_error(v)]
        }),
        GatewayCommand::Listeners => {
            ("/privlink/gateway/listeners", &["RESOURCE", "KIND", "STANDS FOR", "LISTENER"], |v| {
                vec![last_segment(&text(v, "resource")), text(v, "kind"), text(v, "standsFor"), address_or_error(v)]
            })
        }
        GatewayCommand::Stats => (
            "/privlink/gateway/stats",
            &["RESOURCE", "KIND", "CONNECTIONS", "OPEN", "BYTES IN", "BYTES OUT", "REFUSED", "LAST REFUSAL"],
            |v| {
                let last = match &v["lastRefusal"] {
                    Value::Object(l) => format!(
                        "{}: {}",
                        l.get("at").and_then(Value::as_str).unwrap_or_default(),
                        l.get("reason").and_then(Value::as_str).unwrap_or_default()
                    ),
                    _ => String::new(),
                };
                vec![
                    last_segment(&text(v, "resource")),
                    text(v, "kind"),
                    v["connections"].to_string(),
                    v["open"].to_string(),
                    v["bytesFromClients"].to_string(),
                    v["bytesToClients"].to_string(),
                    v["refusals"].to_string(),
                    last,
                ]
            },
        ),
    };
    let body = client.get_plain(path).await?;
    match common.output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&body)?),
        Output::Table => {
            let rows: Vec<Vec<String>> = body["value"].as_array().into_iter().flatten().map(row).collect();
            print!("{}", table::render(headers, &rows));
        }
    }
    Ok(())
}
