//! `privlink-bench`: load generator for privlink's management API, and the same kind of load
//! against Moto's EC2 API for comparison; privlink's DNS resolver against unbound; and its
//! gateway against a direct connection and haproxy. Every run
//! is bounded in time and in operations, prints one human line and one JSON line (see
//! `bench/run.sh`, `bench/dns.sh`, `bench/gateway.sh` and `docs/benchmarks.md`).

#[macro_use]
mod out;

mod arm;
mod cpu;
mod dns;
mod endpoints;
mod gateway;
mod http;
mod ipam;
mod moto;
mod os;
mod pacing;
mod stats;
mod summary;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use serde_json::Value;

use crate::http::Arm;

#[derive(Parser)]
#[command(
    name = "privlink-bench",
    version,
    about = "Load generator for privlink (ARM API, DNS, gateway) and its peers (Moto, unbound, haproxy)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Load privlink's ARM API with VNet/subnet operations.
    Arm(ArmArgs),
    /// The comparable load against Moto's server: CreateVpc + CreateSubnet + CreateVpcEndpoint.
    Moto(MotoArgs),
    /// Allocation cost as a /16 subnet fills: store level and/or NIC PUTs over HTTP.
    Ipam(IpamArgs),
    /// Private endpoint create to Succeeded: timed after a prefill, or `--scale N` by decile.
    Endpoints(EndpointsArgs),
    /// privlink's per-VNet DNS resolver against unbound with the same records: setup, answer
    /// check, paced latency load, dnsperf.
    #[command(subcommand)]
    Dns(dns::DnsCommand),
    /// privlink's gateway against a direct connection and haproxy (TCP mode) to the same
    /// backend: setup, bulk throughput, connections/s, paced latency, approval to first byte.
    #[command(subcommand)]
    Gateway(gateway::GatewayCommand),
    /// Print a Markdown summary of the JSON lines in FILEs.
    Summary { files: Vec<PathBuf> },
}

/// Where privlink is: `--endpoint DIR/endpoint.json`, or `--url`, `--ca` and `--subscription`.
#[derive(Args, Clone)]
struct Target {
    /// privlink's endpoint.json (gives url, caFile and subscriptionId).
    #[arg(long)]
    endpoint: Option<PathBuf>,
    /// Base URL, e.g. https://127.0.0.1:8443.
    #[arg(long)]
    url: Option<String>,
    /// PEM file of the CA that signed the server's certificate.
    #[arg(long)]
    ca: Option<PathBuf>,
    #[arg(long)]
    subscription: Option<String>,
    /// A bearer token to send (default: one from the token endpoint for the service principal
    /// in the credentials file endpoint.json names).
    #[arg(long, env = "PRIVLINK_TOKEN")]
    token: Option<String>,
    /// Resource group the run works in (default: a new one per run).
    #[arg(long)]
    resource_group: Option<String>,
    #[arg(long, default_value = "westeurope")]
    location: String,
    /// Pause between polls of an operation that is still running (the first poll is immediate).
    #[arg(long, default_value_t = 10)]
    poll_interval_ms: u64,
    /// Give up on an operation after this many polls.
    #[arg(long, default_value_t = 2000)]
    max_polls: u32,
    /// Allow HTTP/2 (default: HTTP/1.1 keep-alive, as the Azure SDKs use).
    #[arg(long)]
    http2: bool,
}

#[derive(Args)]
struct ArmArgs {
    #[command(flatten)]
    target: Target,
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Seconds to keep starting operations.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Stop after this many operations even if time is left.
    #[arg(long, default_value_t = 5_000_000)]
    max_ops: u64,
    #[arg(long, value_enum, default_value = "vnet-subnet")]
    scenario: arm::Scenario,
}

#[derive(Args)]
struct MotoArgs {
    /// Moto server URL, e.g. http://127.0.0.1:5000.
    #[arg(long)]
    url: String,
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    #[arg(long, default_value_t = 5_000_000)]
    max_ops: u64,
    /// Reset Moto's state (POST /moto-api/reset) before the run.
    #[arg(long)]
    reset: bool,
}

#[derive(Args)]
struct IpamArgs {
    #[command(flatten)]
    target: Target,
    /// Only the store-level measurement (no server needed).
    #[arg(long)]
    store_only: bool,
    /// Only the HTTP measurement.
    #[arg(long, conflicts_with = "store_only")]
    http_only: bool,
    /// Allocations timed while the pool is nearly empty, and again once filled.
    #[arg(long, default_value_t = 1000)]
    sample: u64,
    /// Addresses in use when the second sample is timed.
    #[arg(long, default_value_t = 60_000)]
    fill_to: u64,
    /// Concurrent NIC PUTs while filling over HTTP.
    #[arg(long, default_value_t = 16)]
    fill_concurrency: usize,
    /// Longest the HTTP fill may take, in seconds.
    #[arg(long, default_value_t = 170)]
    fill_budget_secs: u64,
    /// Seconds into the fill at which its total time is projected (and the fill cut short
    /// if the projection is over budget).
    #[arg(long, default_value_t = 5)]
    estimate_secs: u64,
}

#[derive(Args)]
struct EndpointsArgs {
    #[command(flatten)]
    target: Target,
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Seconds to keep starting operations in the timed run.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Stop the timed run after this many operations even if time is left (VNets for this many
    /// are created up front).
    #[arg(long, default_value_t = 20_000)]
    max_ops: u64,
    /// Endpoints created, untimed, before the timed run.
    #[arg(long, default_value_t = 0)]
    prefill: u64,
    /// Concurrent creates during the prefill.
    #[arg(long, default_value_t = 16)]
    fill_concurrency: usize,
    /// Endpoints per VNet (Azure's default limit is 1,000); each VNet has one /20 subnet.
    #[arg(long, default_value_t = 1000)]
    per_vnet: u64,
    /// Instead of the timed run: create N endpoints at --concurrency, recording each one's
    /// latency in creation order, and compare the deciles (last 10% vs first 10%).
    #[arg(long, conflicts_with_all = ["prefill", "duration", "max_ops"])]
    scale: Option<u64>,
    /// Longest the prefill or the scale run may take, in seconds.
    #[arg(long, default_value_t = 360)]
    budget_secs: u64,
    /// Seconds into the prefill or scale run at which its total time is projected (and the
    /// run stopped early if the projection is over budget).
    #[arg(long, default_value_t = 10)]
    estimate_secs: u64,
    /// Name of the target storage account (default: plbench + a run id).
    #[arg(long)]
    storage_account: Option<String>,
}

fn duration(secs: f64) -> Result<Duration> {
    if !(secs.is_finite() && secs > 0.0 && secs <= 86_400.0) {
        bail!("duration must be between 0 and 86400 seconds");
    }
    Ok(Duration::from_secs_f64(secs))
}

fn read_endpoint(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
}

impl Target {
    async fn arm(&self, pool: usize, default_rg: &str) -> Result<Arm> {
        let endpoint = match &self.endpoint {
            Some(p) => Some(read_endpoint(p)?),
            None => None,
        };
        let from_endpoint =
            |k: &str| endpoint.as_ref().and_then(|e| e.get(k)).and_then(Value::as_str).map(str::to_string);
        let url = self.url.clone().or_else(|| from_endpoint("url")).context("--url or --endpoint is required")?;
        let ca = self.ca.clone().or_else(|| from_endpoint("caFile").map(PathBuf::from));
        let subscription = self
            .subscription
            .clone()
            .or_else(|| from_endpoint("subscriptionId"))
            .context("--subscription or --endpoint is required")?;
        if url.starts_with("https://") && ca.is_none() {
            bail!("--ca (or --endpoint) is required for an https URL");
        }
        let client = http::client(ca.as_deref(), pool, self.http2)?;
        let base = url.trim_end_matches('/').to_string();
        let token = match (&self.token, from_endpoint("credentialsFile")) {
            (Some(t), _) => t.clone(),
            (None, Some(file)) => http::token(&client, &base, Path::new(&file)).await?,
            (None, None) => bail!("--token or an --endpoint whose endpoint.json names a credentials file is required"),
        };
        Ok(Arm {
            client,
            token,
            base,
            subscription,
            resource_group: self.resource_group.clone().unwrap_or_else(|| default_rg.to_string()),
            location: self.location.clone(),
            poll_interval: Duration::from_millis(self.poll_interval_ms),
            max_polls: self.max_polls.max(1),
        })
    }
}

fn run_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_string()
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Arm(a) => {
            if a.concurrency == 0 {
                bail!("--concurrency must be at least 1");
            }
            let rg = format!("bench-{}-{}", a.scenario.name(), run_id());
            // One runtime for the token request and the run: pooled connections belong to it.
            let rt = runtime()?;
            let arm = rt.block_on(a.target.arm(a.concurrency, &rg))?;
            let settings = arm::Settings {
                concurrency: a.concurrency,
                duration: duration(a.duration)?,
                max_ops: a.max_ops,
                scenario: a.scenario,
            };
            rt.block_on(arm::run(arm, settings))?;
        }
        Command::Moto(m) => {
            if m.concurrency == 0 {
                bail!("--concurrency must be at least 1");
            }
            let client = http::client(None, m.concurrency, false)?;
            let settings = moto::Settings {
                concurrency: m.concurrency,
                duration: duration(m.duration)?,
                max_ops: m.max_ops,
                reset: m.reset,
            };
            runtime()?.block_on(moto::run(moto::Moto { client, url: m.url }, settings))?;
        }
        Command::Ipam(i) => {
            let plan = ipam::Plan { sample: i.sample, fill_to: i.fill_to };
            if !i.http_only {
                ipam::store_level(&plan)?;
            }
            if !i.store_only {
                let rt = runtime()?;
                let arm = rt.block_on(i.target.arm(i.fill_concurrency, &format!("bench-ipam-{}", run_id())))?;
                let hp = ipam::HttpPlan {
                    plan,
                    fill_concurrency: i.fill_concurrency.max(1),
                    fill_budget: Duration::from_secs(i.fill_budget_secs.max(1)),
                    estimate_after: Duration::from_secs(i.estimate_secs.max(1)),
                };
                rt.block_on(ipam::http_level(arm, hp))?;
            }
        }
        Command::Endpoints(e) => {
            if e.concurrency == 0 || e.fill_concurrency == 0 {
                bail!("--concurrency and --fill-concurrency must be at least 1");
            }
            let id = run_id();
            let rt = runtime()?;
            let arm =
                rt.block_on(e.target.arm(e.concurrency.max(e.fill_concurrency), &format!("bench-endpoints-{id}")))?;
            let settings = endpoints::Settings {
                concurrency: e.concurrency,
                duration: duration(e.duration)?,
                max_ops: e.max_ops,
                prefill: e.prefill,
                fill_concurrency: e.fill_concurrency,
                per_vnet: e.per_vnet,
                scale: e.scale,
                budget: Duration::from_secs(e.budget_secs.max(1)),
                estimate_after: Duration::from_secs(e.estimate_secs.max(1)),
                storage_account: e.storage_account.unwrap_or_else(|| format!("plbench{id}")),
            };
            rt.block_on(endpoints::run(arm, settings))?;
        }
        Command::Dns(d) => dns::run(d)?,
        Command::Gateway(g) => gateway::run(g)?,
        Command::Summary { files } => summary::run(&files)?,
    }
    Ok(())
}
