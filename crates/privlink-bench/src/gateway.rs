//! `privlink-bench gateway`: privlink's data plane against a direct connection to the same
//! backend and against haproxy in TCP mode, measured by the same client in the same run (see
//! `bench/gateway.sh` and docs/benchmarks.md).
//!
//! - `backend`: the echo/source/sink server every path leads to, a process of its own
//!   ([`backend`]);
//! - `setup`: the world through privlink's ARM API (an Approved private endpoint whose target's
//!   blob is bound to the backend), the paths to measure and haproxy's config ([`setup`]);
//! - `bulk`, `connections`, `latency`: throughput, connections per second and paced
//!   request/response latency, each over every `--path` in turn, the order reversed every other
//!   round ([`bulk`], [`churn`], [`latency`]);
//! - `approval`: approval PUT to first allowed byte ([`approval`]).
//!
//! Every measurement prints one human line and one JSON line (`"bench": "gateway"`), which
//! `privlink-bench summary` turns into ratios against the direct path and against haproxy.

mod approval;
mod backend;
mod bulk;
mod churn;
mod latency;
mod setup;
pub mod summary;
mod wire;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use serde_json::{json, Map, Value};

use crate::stats::round2;
use crate::{cpu, pacing};
use wire::Path;

#[derive(Subcommand)]
pub enum GatewayCommand {
    /// Serve the bench backend (echo, source, sink) until stopped.
    Backend(BackendArgs),
    /// Create the world through the ARM API; write paths, world.json and haproxy configs into
    /// --out.
    Setup(SetupArgs),
    /// Bulk throughput over each path: N streams of X MiB, one way or both.
    Bulk(BulkArgs),
    /// Connections per second over each path: open, one small exchange, close.
    Connections(ConnectionsArgs),
    /// Paced request/response latency on long-lived connections over each path.
    Latency(LatencyArgs),
    /// Approval PUT to the first byte through the proxy, for new manual endpoints.
    Approval(ApprovalArgs),
}

#[derive(Args)]
pub struct BackendArgs {
    /// Where to listen (loopback; port 0 for a free one).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Runtime worker threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Write the bound address into this file once listening.
    #[arg(long)]
    addr_file: Option<PathBuf>,
}

#[derive(Args)]
pub struct SetupArgs {
    #[command(flatten)]
    target: crate::Target,
    /// The bench backend's address (bound to the storage account's blob).
    #[arg(long)]
    backend: SocketAddr,
    /// Where to write paths, world.json and the haproxy configs.
    #[arg(long)]
    out: PathBuf,
    /// A haproxy to compare with, `NAME=IP:PORT[/never|auto|always]` (its frontend on loopback,
    /// and whether it splices; default always): NAME.cfg is written and NAME becomes a path.
    #[arg(long = "haproxy", value_parser = setup::haproxy)]
    haproxies: Vec<setup::Haproxy>,
    /// haproxy's nbthread (as many as privlink's gateway has workers: one per core).
    #[arg(long, default_value_t = 2)]
    haproxy_threads: usize,
    /// The storage account's name (default: gwb + a run id).
    #[arg(long)]
    account: Option<String>,
}

/// What every measurement over paths shares.
#[derive(Args)]
pub struct Over {
    /// `NAME=IP:PORT` or `NAME=HOST:PORT@PROXY_IP:PORT` (CONNECT through a proxy), once or more;
    /// measured in turn, the order reversed every other round.
    #[arg(long = "path", value_parser = wire::path, required = true)]
    paths: Vec<Path>,
    #[arg(long, default_value_t = 3)]
    rounds: u32,
    /// `NAME=PID` of a server process whose CPU time to record with each measurement.
    #[arg(long = "pid", value_parser = cpu::pid)]
    pids: Vec<cpu::Pid>,
    /// Seconds to wait for an idle machine (under 10% busy) before each measurement.
    #[arg(long, default_value_t = 0)]
    quiet_wait: u64,
}

#[derive(Args)]
pub struct BulkArgs {
    #[command(flatten)]
    over: Over,
    #[arg(long, default_value_t = 4)]
    streams: usize,
    /// MiB each stream moves (each way).
    #[arg(long, default_value_t = 256)]
    mib: u64,
    #[arg(long, value_enum, default_value = "down")]
    direction: bulk::Direction,
}

#[derive(Args)]
pub struct ConnectionsArgs {
    #[command(flatten)]
    over: Over,
    /// Client threads opening connections back to back.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Seconds per path and round.
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Bytes sent and echoed per connection.
    #[arg(long, default_value_t = 32)]
    message: usize,
}

#[derive(Args)]
pub struct LatencyArgs {
    #[command(flatten)]
    over: Over,
    /// Messages per second, all connections together.
    #[arg(long, default_value_t = 5000.0)]
    rate: f64,
    /// Long-lived connections the messages are spread over (round-robin).
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// Bytes per message (echoed).
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// Seconds measured per path and round (after the warm-up).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds of load before measuring.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Shortest pause of the sender, in microseconds: messages due meanwhile leave together.
    #[arg(long, default_value_t = 100)]
    tick_us: u64,
}

#[derive(Args)]
pub struct ApprovalArgs {
    #[command(flatten)]
    target: crate::Target,
    /// The world.json `gateway setup` wrote (the resource group, proxy and storage account).
    #[arg(long)]
    world: PathBuf,
    #[arg(long, default_value_t = 10)]
    samples: usize,
    /// Microseconds between two tries of the prober.
    #[arg(long, default_value_t = 500)]
    retry_us: u64,
    /// `NAME=PID` of a server process whose CPU time to record.
    #[arg(long = "pid", value_parser = cpu::pid)]
    pids: Vec<cpu::Pid>,
}

pub fn run(command: GatewayCommand) -> Result<()> {
    match command {
        GatewayCommand::Backend(a) => backend::run(a.listen, a.threads, a.addr_file.as_deref()),
        GatewayCommand::Setup(a) => run_setup(a),
        GatewayCommand::Bulk(a) => run_bulk(&a),
        GatewayCommand::Connections(a) => run_connections(&a),
        GatewayCommand::Latency(a) => run_latency(&a),
        GatewayCommand::Approval(a) => run_approval(a),
    }
}

fn run_setup(a: SetupArgs) -> Result<()> {
    if !a.backend.ip().is_loopback() {
        bail!("--backend must be a loopback address");
    }
    let id = crate::run_id();
    let rt = crate::runtime()?;
    let arm = rt.block_on(a.target.arm(4, &format!("bench-gateway-{id}")))?;
    let rg = arm.resource_group.clone();
    let settings = setup::Settings {
        backend: a.backend,
        out: a.out,
        account: a.account.unwrap_or_else(|| format!("gwb{id}")),
        haproxies: a.haproxies,
        haproxy_threads: a.haproxy_threads,
    };
    let world = rt.block_on(setup::run(arm, &settings))?;
    out!(
        "gateway setup: resource group {rg}, endpoint {} (Approved) to {}'s blob bound to {}; proxy {}, listener {}; in {:.1} s",
        world.endpoint_ip,
        world.name,
        settings.backend,
        world.proxy,
        world.listener,
        world.secs,
    );
    out!(
        "{}",
        json!({
            "bench": "gateway", "tool": "setup", "resource_group": rg, "backend": settings.backend.to_string(),
            "proxy": world.proxy.to_string(), "listener": world.listener.to_string(),
            "endpoint_ip": world.endpoint_ip, "name": world.name,
            "haproxies": settings.haproxies.iter().map(|h| json!({
                "name": h.name, "listen": h.listen.to_string(), "nbthread": settings.haproxy_threads,
                "splice": h.splice.name(),
            })).collect::<Vec<_>>(),
            "secs": round2(world.secs),
        })
    );
    Ok(())
}

/// Runs `measure` over every path of `over`, round after round (the order reversed in even
/// rounds), recording the CPU of each measurement; `report` turns an outcome into its JSON
/// fields and human line.
fn over_paths<T>(
    over: &Over,
    mode: &str,
    tool: &str,
    mut measure: impl FnMut(&Path) -> Result<T>,
    report: impl Fn(&T) -> (Map<String, Value>, String),
) -> Result<()> {
    for round in 1..=over.rounds.max(1) {
        let mut order: Vec<&Path> = over.paths.iter().collect();
        if round % 2 == 0 {
            order.reverse();
        }
        for path in order {
            cpu::wait_quiet(Duration::from_secs(over.quiet_wait));
            let before = cpu::snapshot(&over.pids);
            let outcome = measure(path).with_context(|| format!("{mode} over {} ({path})", path.name))?;
            let cpu = cpu::since(&before, &over.pids);
            let (fields, line) = report(&outcome);
            out!("gateway {mode} {} ({path}) round {round}: {line}; {}", path.name, cpu::text(&cpu));
            let mut doc = Map::new();
            doc.insert("bench".into(), json!("gateway"));
            doc.insert("tool".into(), json!(tool));
            doc.insert("mode".into(), json!(mode));
            doc.insert("path".into(), json!(path.name));
            doc.insert("address".into(), json!(path.addr.to_string()));
            doc.insert("via".into(), json!(path.via));
            doc.insert("round".into(), json!(round));
            doc.extend(fields);
            doc.insert("cpu".into(), cpu);
            out!("{}", Value::Object(doc));
        }
    }
    Ok(())
}

fn run_bulk(a: &BulkArgs) -> Result<()> {
    let plan = bulk::Plan { streams: a.streams, bytes: a.mib << 20, direction: a.direction };
    bulk::check(&plan)?;
    let mode = format!("bulk {} {}x{}MiB", a.direction.name(), a.streams, a.mib);
    over_paths(
        &a.over,
        &mode,
        "bulk",
        |path| bulk::run(path, &plan),
        |o| {
            let mb_s = o.bytes as f64 / o.secs.max(1e-9) / 1e6;
            let slowest = o.stream_secs.iter().copied().fold(0.0, f64::max);
            let fastest = o.stream_secs.iter().copied().fold(f64::INFINITY, f64::min);
            let fields = json!({
                "direction": a.direction.name(), "streams": a.streams, "mib_per_stream": a.mib,
                "bytes": o.bytes, "secs": round2(o.secs * 1000.0) / 1000.0, "mb_per_s": round2(mb_s),
                "stream_secs_min": round2(fastest * 1000.0) / 1000.0, "stream_secs_max": round2(slowest * 1000.0) / 1000.0,
            });
            (
                object(fields),
                format!(
                    "{mb_s:.0} MB/s ({} MiB in {:.3} s; streams {fastest:.3}..{slowest:.3} s)",
                    o.bytes >> 20,
                    o.secs
                ),
            )
        },
    )
}

fn run_connections(a: &ConnectionsArgs) -> Result<()> {
    let plan = churn::Plan { concurrency: a.concurrency, duration: crate::duration(a.duration)?, message: a.message };
    let mode = format!("connections c={} {}B", a.concurrency, a.message);
    over_paths(
        &a.over,
        &mode,
        "connections",
        |path| churn::run(path, &plan),
        |o| {
            let per_s = o.completed as f64 / o.secs.max(1e-9);
            let h = &o.latency;
            let fields = json!({
                "concurrency": a.concurrency, "message": a.message, "duration_s": a.duration,
                "connections": o.completed, "errors": o.errors, "first_errors": o.first_errors,
                "conn_per_s": round2(per_s), "secs": round2(o.secs),
                "p50_us": h.value_at_quantile(0.5), "p99_us": h.value_at_quantile(0.99), "max_us": h.max(),
            });
            let mut line = format!(
                "{per_s:.0} connections/s ({} in {:.1} s), each p50 {} us, p99 {} us, errors {}",
                o.completed,
                o.secs,
                h.value_at_quantile(0.5),
                h.value_at_quantile(0.99),
                o.errors
            );
            if let Some(e) = o.first_errors.first() {
                line.push_str(&format!(" (e.g. {e})"));
            }
            (object(fields), line)
        },
    )
}

fn run_latency(a: &LatencyArgs) -> Result<()> {
    let plan = latency::Plan {
        rate: a.rate,
        warmup: if a.warmup > 0.0 { crate::duration(a.warmup)? } else { Duration::ZERO },
        duration: crate::duration(a.duration)?,
        connections: a.connections,
        size: a.size,
        tick: Duration::from_micros(a.tick_us),
        grace: Duration::from_secs(1),
    };
    let mode = format!("latency {:.0}/s x{} {}B", a.rate, a.connections, a.size);
    over_paths(
        &a.over,
        &mode,
        "latency",
        |path| latency::run(path, &plan),
        |o| {
            let mut fields = object(json!({
                "rate": a.rate, "connections": a.connections, "size": a.size, "duration_s": a.duration,
                "warmup_s": a.warmup, "sent": o.sent, "answered": o.answered, "unanswered": o.unanswered,
                "achieved_per_s": round2(o.answered as f64 / o.send_secs.max(1e-9)),
            }));
            fields.extend(pacing::latency_fields(&o.latency, &o.lag));
            let line = format!(
                "{} answered, {}, unanswered {}, sender behind p99 {} us",
                o.answered,
                pacing::latency_text(&o.latency),
                o.unanswered,
                pacing::us(o.lag.value_at_quantile(0.99)),
            );
            (fields, line)
        },
    )
}

fn run_approval(a: ApprovalArgs) -> Result<()> {
    let text = std::fs::read_to_string(&a.world).with_context(|| format!("reading {}", a.world.display()))?;
    let doc: Value = serde_json::from_str(&text).with_context(|| format!("{} is not JSON", a.world.display()))?;
    let field =
        |k: &str| doc.get(k).and_then(Value::as_str).with_context(|| format!("{} has no {k}", a.world.display()));
    let proxy: SocketAddr = field("proxy")?.parse().context("the proxy address")?;
    if !proxy.ip().is_loopback() {
        bail!("the proxy {proxy} is not a loopback address");
    }
    let world = approval::World { proxy, storage_account: field("storageAccount")?.to_string() };
    let plan = approval::Plan {
        samples: a.samples.max(1),
        retry: Duration::from_micros(a.retry_us.max(1)),
        limit: Duration::from_secs(10),
        run_id: crate::run_id(),
    };
    let rt = crate::runtime()?;
    let arm = rt.block_on(a.target.arm(4, field("resourceGroup")?))?;
    let before = cpu::snapshot(&a.pids);
    let samples = rt.block_on(approval::run(&arm, &world, &plan))?;
    let cpu = cpu::since(&before, &a.pids);
    let mut first: Vec<f64> = samples.iter().map(|s| approval::ms(s.first_byte)).collect();
    let mut put: Vec<f64> = samples.iter().map(|s| approval::ms(s.put)).collect();
    let after_answer: Vec<f64> = samples.iter().map(|s| approval::ms(s.first_byte) - approval::ms(s.put)).collect();
    let tries: Vec<u64> = samples.iter().map(|s| s.tries).collect();
    let in_order = first.clone();
    first.sort_by(f64::total_cmp);
    put.sort_by(f64::total_cmp);
    let median = |v: &[f64]| v.get(v.len() / 2).copied().unwrap_or(0.0);
    let max = |v: &[f64]| v.last().copied().unwrap_or(0.0);
    out!(
        "gateway approval to first byte over {} samples (retry every {} us): p50 {:.2} ms, max {:.2} ms; PUT answered p50 {:.2} ms, max {:.2} ms; {}",
        samples.len(),
        a.retry_us,
        median(&first),
        max(&first),
        median(&put),
        max(&put),
        cpu::text(&cpu)
    );
    let r3 = |v: &[f64]| v.iter().map(|x| (x * 1000.0).round() / 1000.0).collect::<Vec<_>>();
    out!(
        "{}",
        json!({
            "bench": "gateway", "tool": "approval", "mode": "approval", "path": "proxy",
            "address": proxy.to_string(), "samples": samples.len(), "retry_us": a.retry_us,
            "first_byte_ms": r3(&in_order), "first_byte_p50_ms": round2(median(&first)), "first_byte_max_ms": round2(max(&first)),
            "put_p50_ms": round2(median(&put)), "put_max_ms": round2(max(&put)),
            "first_byte_after_answer_ms": r3(&after_answer), "tries": tries, "cpu": cpu,
        })
    );
    Ok(())
}

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}
