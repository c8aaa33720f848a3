//! `privlink-bench dns`: privlink's per-VNet resolver against unbound serving the same records,
//! measured by the same clients in the same run (see `bench/dns.sh` and docs/benchmarks.md).
//!
//! - `setup`: the world through privlink's ARM API, and unbound's config and the query file
//!   from what privlink then holds ([`setup`]);
//! - `check`: every name asked once from each server, answers compared (they differ by design
//!   in places; this says where);
//! - `load`: a paced UDP load with each query's latency recorded ([`paced`]), alternating
//!   between the servers, at each rate, for a number of rounds;
//! - `dnsperf`: Debian's dnsperf against one server, its statistics as a JSON line.
//!
//! Every measurement prints one human line and one JSON line (`"bench": "dns"`), which
//! `privlink-bench summary` turns into the privlink ÷ unbound table.

mod dnsperf;
mod paced;
pub mod setup;
pub mod summary;
mod wire;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use serde_json::{json, Map, Value};

use crate::cpu::{self, text as cpu_text};
use crate::pacing;
use crate::stats::round2;
use wire::Question;

#[derive(Subcommand)]
pub enum DnsCommand {
    /// Create the world through the ARM API; write queries.txt, unbound.conf and resolver
    /// (privlink's resolver address) into --out.
    Setup(SetupArgs),
    /// Ask every name of the query file once from each server and compare the answers.
    Check(CheckArgs),
    /// Paced UDP load with each query's latency recorded, alternating between the servers.
    Load(LoadArgs),
    /// Run dnsperf against one server and record its figures.
    Dnsperf(DnsperfArgs),
}

#[derive(Args)]
pub struct SetupArgs {
    #[command(flatten)]
    pub target: crate::Target,
    /// A record sets created in the zone (besides the storage accounts' records).
    #[arg(long, default_value_t = 1000)]
    pub records: u64,
    /// Storage accounts with a private endpoint and a zone group: public names that are CNAMEs
    /// into the zone.
    #[arg(long, default_value_t = 4)]
    pub storage_accounts: u64,
    /// Concurrent record set PUTs.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Where to write queries.txt, unbound.conf and resolver.
    #[arg(long)]
    pub out: PathBuf,
    /// The address unbound's config listens on (loopback).
    #[arg(long)]
    pub unbound_listen: SocketAddr,
    /// unbound's num-threads (one per core is unbound's own advice).
    #[arg(long, default_value_t = 2)]
    pub unbound_threads: usize,
    /// Storage account names are this plus 0, 1, ... (default: dnsb + a run id). Give the same
    /// prefix to set up identical worlds in several servers.
    #[arg(long)]
    pub account_prefix: Option<String>,
}

/// A server to measure: `NAME=IP:PORT`.
#[derive(Clone, Debug)]
pub struct Server {
    name: String,
    addr: SocketAddr,
}

fn server(text: &str) -> Result<Server, String> {
    let (name, addr) = text.split_once('=').ok_or("expected NAME=IP:PORT")?;
    let addr: SocketAddr = addr.parse().map_err(|e| format!("{addr}: {e}"))?;
    if !addr.ip().is_loopback() {
        return Err(format!("{addr} is not a loopback address: the benchmark stays on this machine"));
    }
    Ok(Server { name: name.to_string(), addr })
}

#[derive(Args)]
pub struct CheckArgs {
    /// `NAME=IP:PORT`, twice or more; the first is the reference (privlink).
    #[arg(long = "server", value_parser = server, required = true)]
    servers: Vec<Server>,
    #[arg(long)]
    queries: PathBuf,
    /// How long to wait for each server to answer at all (it may still be starting).
    #[arg(long, default_value_t = 10)]
    wait_secs: u64,
}

#[derive(Args)]
pub struct LoadArgs {
    /// `NAME=IP:PORT`, once or more; measured in turn, the order reversed every other round.
    #[arg(long = "server", value_parser = server, required = true)]
    servers: Vec<Server>,
    #[arg(long)]
    queries: PathBuf,
    /// Target rates, queries per second.
    #[arg(long, value_delimiter = ',', default_values_t = [20_000.0, 50_000.0])]
    rates: Vec<f64>,
    /// Seconds measured per server and rate (after the warm-up).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds of load before measuring.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    #[arg(long, default_value_t = 2)]
    rounds: u32,
    /// Client sockets (queries spread round-robin).
    #[arg(long, default_value_t = 4)]
    sockets: usize,
    /// Shortest pause of the sender, in microseconds: queries due meanwhile leave together.
    #[arg(long, default_value_t = 100)]
    tick_us: u64,
    /// `NAME=PID` of a server process whose CPU time to record with each measurement.
    #[arg(long = "pid", value_parser = cpu::pid)]
    pids: Vec<cpu::Pid>,
}

#[derive(Args)]
pub struct DnsperfArgs {
    /// `NAME=IP:PORT`.
    #[arg(long, value_parser = server)]
    server: Server,
    #[arg(long)]
    queries: PathBuf,
    /// Which round of an alternating series this is (recorded only).
    #[arg(long, default_value_t = 1)]
    round: u32,
    /// `NAME=PID` of a server process whose CPU time to record.
    #[arg(long = "pid", value_parser = cpu::pid)]
    pids: Vec<cpu::Pid>,
    /// dnsperf's options, after `--` (e.g. `-- -c 8 -T 2 -l 10`).
    #[arg(last = true, required = true)]
    args: Vec<String>,
}

pub fn run(command: DnsCommand) -> Result<()> {
    match command {
        DnsCommand::Setup(a) => run_setup(a),
        DnsCommand::Check(a) => check(&a),
        DnsCommand::Load(a) => load(&a),
        DnsCommand::Dnsperf(a) => run_dnsperf(&a),
    }
}

fn run_setup(a: SetupArgs) -> Result<()> {
    if !a.unbound_listen.ip().is_loopback() {
        bail!("--unbound-listen must be a loopback address");
    }
    let id = crate::run_id();
    let rt = crate::runtime()?;
    let arm = rt.block_on(a.target.arm(a.concurrency.max(1), &format!("bench-dns-{id}")))?;
    let rg = arm.resource_group.clone();
    let settings = setup::Settings {
        records: a.records,
        storage_accounts: a.storage_accounts,
        concurrency: a.concurrency,
        out: a.out,
        unbound_listen: a.unbound_listen,
        unbound_threads: a.unbound_threads,
        account_prefix: a.account_prefix.unwrap_or_else(|| format!("dnsb{id}")),
    };
    let world = rt.block_on(setup::run(arm, &settings))?;
    out!(
        "dns setup: resource group {rg}, zone {} linked to VNet dnsbench, {} A record sets ({} created + {} from zone groups), {} public CNAMEs; privlink's resolver {}; {} questions in {}; in {:.1} s",
        setup::ZONE,
        world.a_records,
        a.records,
        world.a_records as u64 - a.records.min(world.a_records as u64),
        world.cnames,
        world.resolver,
        world.queries,
        settings.out.join("queries.txt").display(),
        world.secs,
    );
    out!(
        "{}",
        json!({
            "bench": "dns", "tool": "setup", "zone": setup::ZONE, "resource_group": rg,
            "a_record_sets": world.a_records, "records_created": a.records,
            "storage_accounts": a.storage_accounts, "cnames": world.cnames, "questions": world.queries,
            "resolver": world.resolver.to_string(), "unbound": settings.unbound_listen.to_string(),
            "unbound_threads": settings.unbound_threads, "secs": round2(world.secs),
        })
    );
    Ok(())
}

fn questions(path: &Path) -> Result<Vec<Question>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    wire::read_questions(&text).with_context(|| format!("in {}", path.display()))
}

/// How one server's answer compares with the reference's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Comparison {
    Same,
    /// Same response code; this server's records are a strict subset of the reference's (e.g.
    /// unbound gives only the CNAME of a local-data CNAME, privlink the whole chain).
    Fewer,
    /// Same response code; a strict superset.
    More,
    Different,
}

fn compare(reference: &wire::Reply, other: &wire::Reply) -> Comparison {
    let (mut a, mut b) = (reference.answers.clone(), other.answers.clone());
    a.sort();
    b.sort();
    if reference.rcode != other.rcode {
        Comparison::Different
    } else if a == b {
        Comparison::Same
    } else if b.iter().all(|r| a.contains(r)) {
        Comparison::Fewer
    } else if a.iter().all(|r| b.contains(r)) {
        Comparison::More
    } else {
        Comparison::Different
    }
}

fn check(a: &CheckArgs) -> Result<()> {
    let questions = questions(&a.queries)?;
    for s in &a.servers {
        let deadline = std::time::Instant::now() + Duration::from_secs(a.wait_secs);
        while let Err(e) = setup::ask(s.addr, &questions[0]) {
            if std::time::Instant::now() >= deadline {
                return Err(e.context(format!("{} ({}) does not answer", s.name, s.addr)));
            }
        }
    }
    let reference = &a.servers[0];
    let mut doc = Map::new();
    doc.insert("bench".into(), json!("dns"));
    doc.insert("tool".into(), json!("check"));
    doc.insert("reference".into(), json!(reference.name));
    doc.insert("questions".into(), json!(questions.len()));
    let mut replies: Vec<Vec<wire::Reply>> = Vec::new();
    for s in &a.servers {
        let r: Result<Vec<_>> = questions.iter().map(|q| setup::ask(s.addr, q)).collect();
        replies.push(r.with_context(|| format!("asking {}", s.name))?);
    }
    for (s, rs) in a.servers.iter().zip(&replies) {
        let mut rcodes: BTreeMap<&str, u64> = BTreeMap::new();
        for r in rs {
            *rcodes.entry(wire::rcode_name(r.rcode)).or_default() += 1;
        }
        let authoritative = rs.iter().filter(|r| r.authoritative).count();
        let records: usize = rs.iter().map(|r| r.answers.len()).sum();
        out!("dns check {}: {:?}, {records} answer records, AA set in {authoritative} replies", s.name, rcodes);
        doc.insert(
            s.name.clone(),
            json!({ "rcodes": rcodes, "answer_records": records, "authoritative": authoritative }),
        );
    }
    for (s, rs) in a.servers.iter().zip(&replies).skip(1) {
        let mut counts: BTreeMap<Comparison, u64> = BTreeMap::new();
        let mut examples = Vec::new();
        for ((q, mine), theirs) in questions.iter().zip(&replies[0]).zip(rs) {
            let c = compare(mine, theirs);
            *counts.entry(c).or_default() += 1;
            if c != Comparison::Same && examples.len() < 3 {
                let show = |r: &wire::Reply| {
                    let records: Vec<String> = r.answers.iter().map(|x| x.to_string()).collect();
                    format!("{} [{}]", wire::rcode_name(r.rcode), records.join("; "))
                };
                examples.push(format!("{q}: {} {} vs {} {}", reference.name, show(mine), s.name, show(theirs)));
            }
        }
        let count = |c| counts.get(&c).copied().unwrap_or(0);
        out!(
            "dns check {} vs {}: {} of {} answers the same, {} with fewer records, {} with more, {} different",
            s.name,
            reference.name,
            count(Comparison::Same),
            questions.len(),
            count(Comparison::Fewer),
            count(Comparison::More),
            count(Comparison::Different),
        );
        for e in &examples {
            out!("    e.g. {e}");
        }
        doc.insert(
            format!("{}_vs_{}", s.name, reference.name),
            json!({
                "same": count(Comparison::Same), "fewer_records": count(Comparison::Fewer),
                "more_records": count(Comparison::More), "different": count(Comparison::Different),
                "examples": examples,
            }),
        );
    }
    out!("{}", Value::Object(doc));
    Ok(())
}

fn load(a: &LoadArgs) -> Result<()> {
    let questions = questions(&a.queries)?;
    let packets = questions.iter().map(wire::query).collect::<Result<Vec<_>>>()?;
    let duration = crate::duration(a.duration)?;
    let warmup = if a.warmup > 0.0 { crate::duration(a.warmup)? } else { Duration::ZERO };
    let plan = |rate: f64| paced::Plan {
        rate,
        warmup,
        duration,
        sockets: a.sockets.max(1),
        tick: Duration::from_micros(a.tick_us),
        grace: Duration::from_secs(1),
    };
    for round in 1..=a.rounds.max(1) {
        for &rate in &a.rates {
            let mut order: Vec<&Server> = a.servers.iter().collect();
            if round % 2 == 0 {
                order.reverse();
            }
            for s in order {
                let before = cpu::snapshot(&a.pids);
                let outcome = paced::run(s.addr, &packets, &plan(rate))?;
                let cpu = cpu::since(&before, &a.pids);
                report_paced(s, round, rate, a, questions.len(), &outcome, cpu);
            }
        }
    }
    Ok(())
}

fn rcode_map(rcodes: &[u64]) -> Map<String, Value> {
    let mut m = Map::new();
    for (code, n) in rcodes.iter().enumerate().filter(|(_, n)| **n > 0) {
        let name = match u8::try_from(code).map(wire::rcode_name) {
            Ok("OTHER") | Err(_) => format!("RCODE{code}"),
            Ok(name) => name.to_string(),
        };
        m.insert(name, json!(n));
    }
    m
}

fn report_paced(s: &Server, round: u32, rate: f64, a: &LoadArgs, questions: usize, o: &paced::Outcome, cpu: Value) {
    let achieved = o.answered as f64 / o.send_secs.max(1e-9);
    let noerror = o.rcodes[0] as f64 / (o.answered.max(1)) as f64 * 100.0;
    out!(
        "dns paced {rate:.0}/s {} ({}) round {round}: {achieved:.0} answered/s, {}, lost {}, late {}, NOERROR {noerror:.1}%, sender behind p99 {} us; {}",
        s.name,
        s.addr,
        pacing::latency_text(&o.latency),
        o.lost,
        o.late,
        pacing::us(o.lag.value_at_quantile(0.99)),
        cpu_text(&cpu),
    );
    let mut doc = json!({
        "bench": "dns", "tool": "paced", "mode": format!("paced {rate:.0}/s"), "server": s.name,
        "address": s.addr.to_string(), "round": round, "target_qps": rate, "sockets": a.sockets.max(1),
        "questions": questions, "duration_s": a.duration, "warmup_s": a.warmup,
        "sent": o.sent, "answered": o.answered, "lost": o.lost, "late": o.late, "send_errors": o.send_errors,
        "achieved_qps": round2(achieved),
        "rcodes": rcode_map(&o.rcodes),
        "queries_in_window": o.sent_all, "cpu": cpu,
    });
    if let Some(fields) = doc.as_object_mut() {
        fields.extend(pacing::latency_fields(&o.latency, &o.lag));
    }
    out!("{doc}");
}

fn run_dnsperf(a: &DnsperfArgs) -> Result<()> {
    let before = cpu::snapshot(&a.pids);
    let (s, _) = dnsperf::run(a.server.addr, &a.queries, &a.args)?;
    let cpu = cpu::since(&before, &a.pids);
    let mode = format!("dnsperf {}", a.args.join(" "));
    let rcodes: Map<String, Value> = s.rcodes.iter().map(|(k, n)| (k.clone(), json!(n))).collect();
    out!(
        "dns {mode} {} ({}) round {}: {:.0} q/s, avg latency {:.1} us (min {:.1}, max {:.1}), {} lost of {}, {:?}; {}",
        a.server.name,
        a.server.addr,
        a.round,
        s.qps,
        s.avg_latency_s * 1e6,
        s.min_latency_s * 1e6,
        s.max_latency_s * 1e6,
        s.lost,
        s.sent,
        s.rcodes,
        cpu_text(&cpu),
    );
    let doc = json!({
        "bench": "dns", "tool": "dnsperf", "mode": mode, "server": a.server.name,
        "address": a.server.addr.to_string(), "round": a.round,
        "qps": round2(s.qps), "avg_latency_us": round2(s.avg_latency_s * 1e6),
        "min_latency_us": round2(s.min_latency_s * 1e6), "max_latency_us": round2(s.max_latency_s * 1e6),
        "stddev_latency_us": s.stddev_latency_s.map(|x| round2(x * 1e6)),
        "sent": s.sent, "completed": s.completed, "lost": s.lost, "run_s": s.run_secs, "rcodes": rcodes,
        "queries_in_window": s.completed, "cpu": cpu,
    });
    out!("{doc}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{compare, server, wire, Comparison};

    fn reply(rcode: u8, records: &[(&str, u16, &str)]) -> wire::Reply {
        let answers = records
            .iter()
            .map(|(name, rtype, data)| wire::Record {
                name: name.to_string(),
                ttl: 60,
                rtype: *rtype,
                data: data.to_string(),
            })
            .collect();
        wire::Reply { id: 1, rcode, authoritative: false, answers }
    }

    #[test]
    fn answers_compare_by_records_and_rcode() {
        let chain = reply(0, &[("sa.x", 5, "sa.pl.x"), ("sa.pl.x", 1, "10.0.0.4")]);
        let cname_only = reply(0, &[("sa.x", 5, "sa.pl.x")]);
        assert_eq!(compare(&chain, &chain), Comparison::Same);
        assert_eq!(compare(&chain, &cname_only), Comparison::Fewer);
        assert_eq!(compare(&cname_only, &chain), Comparison::More);
        assert_eq!(compare(&chain, &reply(3, &[])), Comparison::Different);
        assert_eq!(compare(&cname_only, &reply(0, &[("sa.x", 5, "other")])), Comparison::Different);
    }

    #[test]
    fn servers_are_loopback_only() {
        assert_eq!(server("u=127.78.0.1:53").unwrap().addr.port(), 53);
        assert!(server("u=10.0.0.1:53").is_err());
        assert!(server("127.0.0.1:53").is_err());
    }
}
