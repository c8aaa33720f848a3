//! `privlink dns …` and `privlink diagnose …`: what a VNet's resolver answers and why, and what
//! stands behind the address (clients of `/privlink/dns/*` and `/privlink/diagnose`).

use clap::{Args, Subcommand};
use serde_json::Value;

use super::client::{encode, Client, Connect};
use super::private_link::Output;
use super::table::{self, text};

#[derive(Args, Debug)]
pub struct DnsCommon {
    #[command(flatten)]
    pub connect: Connect,
    #[arg(long, short = 'o', value_enum, default_value = "table", global = true)]
    pub output: Output,
}

#[derive(Subcommand, Debug)]
pub enum DnsCommand {
    /// Resolve a name as a virtual network's resolver does, and explain the answer.
    Query {
        name: String,
        /// The virtual network: its resource id or its name.
        #[arg(long)]
        vnet: String,
        /// Record type (A, AAAA, CNAME, MX, PTR, SOA, SRV, TXT, ANY).
        #[arg(long = "type", short = 't', default_value = "A")]
        record_type: String,
    },
    /// Where each virtual network's resolver listens.
    Resolvers,
}

#[derive(Args, Debug)]
pub struct DiagnoseArgs {
    #[command(flatten)]
    pub common: DnsCommon,
    /// The name a client in the VNet would connect to, e.g. sa1.blob.core.windows.net.
    pub name: String,
    /// The virtual network the client sits in: its resource id or its name.
    #[arg(long)]
    pub vnet: String,
    /// The TCP port the client connects to.
    #[arg(long, default_value_t = 443)]
    pub port: u16,
}

fn print_answer(body: &Value) {
    let query = &body["query"];
    println!(
        "{} {} in {}: {}",
        text(query, "name"),
        text(query, "type"),
        text(query, "virtualNetwork").rsplit('/').next().unwrap_or_default(),
        body["rcode"].as_str().unwrap_or_default()
    );
    let rows: Vec<Vec<String>> = body["answers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| vec![text(a, "name"), a["ttl"].to_string(), text(a, "type"), text(a, "data")])
        .collect();
    if !rows.is_empty() {
        println!();
        print!("{}", table::render(&["NAME", "TTL", "TYPE", "DATA"], &rows));
    }
    println!();
    println!("How:");
    for (i, step) in body["steps"].as_array().into_iter().flatten().enumerate() {
        println!("  {}. {}", i + 1, text(step, "message"));
        for source in step["sources"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            println!("       {source}");
        }
    }
    for note in body["notes"].as_array().into_iter().flatten().filter_map(Value::as_str) {
        println!("Note: {note}");
    }
}

pub async fn dns(common: DnsCommon, command: DnsCommand) -> anyhow::Result<()> {
    let client = Client::connect(&common.connect)?;
    match command {
        DnsCommand::Query { name, vnet, record_type } => {
            let path = format!(
                "/privlink/dns/query?name={}&type={}&vnet={}",
                encode(&name),
                encode(&record_type),
                encode(&vnet)
            );
            let body = client.get_plain(&path).await?;
            match common.output {
                Output::Json => println!("{}", serde_json::to_string_pretty(&body)?),
                Output::Table => print_answer(&body),
            }
        }
        DnsCommand::Resolvers => {
            let body = client.get_plain("/privlink/dns/resolvers").await?;
            match common.output {
                Output::Json => println!("{}", serde_json::to_string_pretty(&body)?),
                Output::Table => {
                    if body["enabled"] == Value::Bool(false) {
                        println!("DNS is off on this server (--no-dns).");
                    }
                    let rows: Vec<Vec<String>> = body["value"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|r| {
                            let id = text(r, "virtualNetwork");
                            let rg = id.split('/').nth(4).unwrap_or_default().to_string();
                            let address = r["address"].as_str().map(str::to_string).unwrap_or_else(|| {
                                format!("not listening: {}", r["error"].as_str().unwrap_or("unknown"))
                            });
                            vec![id.rsplit('/').next().unwrap_or_default().to_string(), rg, address]
                        })
                        .collect();
                    print!("{}", table::render(&["VNET", "RESOURCE GROUP", "RESOLVER (168.63.129.16)"], &rows));
                }
            }
        }
    }
    Ok(())
}

pub async fn diagnose(args: DiagnoseArgs) -> anyhow::Result<()> {
    let client = Client::connect(&args.common.connect)?;
    let path = format!("/privlink/diagnose?name={}&vnet={}&port={}", encode(&args.name), encode(&args.vnet), args.port);
    let body = client.get_plain(&path).await?;
    match args.common.output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&body)?),
        Output::Table => {
            print_answer(&body);
            println!();
            for b in body["behind"].as_array().into_iter().flatten() {
                println!("{}", text(b, "verdict"));
            }
            if body["behind"].as_array().is_none_or(|b| b.is_empty()) {
                println!("{}", text(&body, "summary"));
            } else if let Some(gateway) = body["gateway"]["verdict"].as_str() {
                println!("{gateway}");
            }
        }
    }
    Ok(())
}
