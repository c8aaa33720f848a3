//! The DNS part of `privlink-bench summary`: privlink ÷ unbound for every measurement made in
//! both, averaged over the rounds, and the targets (at least unbound's queries/s
//! unpaced; p99 under 1 ms paced).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::summary::{f, print_disturbed, s};

const PRIVLINK: &str = "privlink";
const PEER: &str = "unbound";
/// The targets: privlink's unpaced queries/s at least this many times unbound's, and its p99
/// under the paced loads below this.
const TARGET_QPS_RATIO: f64 = 1.0;
const TARGET_P99_US: f64 = 1000.0;

fn mean(runs: &[&Value], k: &str) -> f64 {
    runs.iter().map(|d| f(d, k)).sum::<f64>() / runs.len().max(1) as f64
}

/// The server's CPU time per query answered in the measurement's window, in microseconds
/// (mean over the runs that recorded it).
fn cpu_per_query(runs: &[&Value], server: &str) -> Option<f64> {
    let per: Vec<f64> = runs
        .iter()
        .filter_map(|d| {
            let secs = d.pointer(&format!("/cpu/servers/{server}")).and_then(Value::as_f64)?;
            let queries = f(d, "queries_in_window");
            (queries > 0.0).then(|| secs * 1e6 / queries)
        })
        .collect();
    (!per.is_empty()).then(|| per.iter().sum::<f64>() / per.len() as f64)
}

/// The largest share of the machine anything else used during one of the runs, in percent.
fn worst_other(runs: &BTreeMap<String, Vec<&Value>>) -> Option<f64> {
    runs.values().flatten().filter_map(|d| d.pointer("/cpu/other_pct").and_then(Value::as_f64)).reduce(f64::max)
}

/// `a ÷ b` as "1.23x", or "-" when either side is missing.
fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}x", a / b),
        _ => "-".into(),
    }
}

fn cell(x: Option<f64>, decimals: usize) -> String {
    x.map_or_else(|| "-".into(), |x| format!("{x:.decimals$}"))
}

/// The runs of one measurement (tool and mode, e.g. `dnsperf -c 8 -T 2 -l 10`), by server.
type Groups<'a> = BTreeMap<(String, String), BTreeMap<String, Vec<&'a Value>>>;

pub fn print(docs: &[Value]) {
    if docs.is_empty() {
        return;
    }
    let mut groups: Groups<'_> = BTreeMap::new();
    for d in docs.iter().filter(|d| matches!(s(d, "tool"), "dnsperf" | "paced")) {
        let key = (s(d, "tool").to_string(), s(d, "mode").to_string());
        groups.entry(key).or_default().entry(s(d, "server").to_string()).or_default().push(d);
    }
    let side = |runs: &BTreeMap<String, Vec<&Value>>, server: &str, k: &str| {
        runs.get(server).filter(|r| !r.is_empty()).map(|r| mean(r, k))
    };
    let rounds = |runs: &BTreeMap<String, Vec<&Value>>| runs.values().map(Vec::len).max().unwrap_or(0);
    let cpu =
        |runs: &BTreeMap<String, Vec<&Value>>, server: &str| runs.get(server).and_then(|r| cpu_per_query(r, server));
    let other =
        |runs: &BTreeMap<String, Vec<&Value>>| worst_other(runs).map_or_else(|| "-".into(), |p| format!("{p:.0}%"));

    out!();
    out!("DNS: {PRIVLINK} vs {PEER}, same run (means over the rounds; a q/s ratio above 1 and a latency ratio below 1 favour {PRIVLINK}):");
    for d in docs.iter().filter(|d| s(d, "tool") == "setup") {
        out!(
            "- world: {} A record sets in {} ({} created, the rest from zone groups), {} public CNAMEs, {} questions; unbound {} threads",
            f(d, "a_record_sets"),
            s(d, "zone"),
            f(d, "records_created"),
            f(d, "cnames"),
            f(d, "questions"),
            f(d, "unbound_threads"),
        );
    }
    for d in docs.iter().filter(|d| s(d, "tool") == "check") {
        if let Some(c) = d.get(format!("{PEER}_vs_{PRIVLINK}")) {
            out!(
                "- answers: {} of {} the same; {} with fewer records in {PEER} (a local-data CNAME comes without its target's records), {} with more, {} different",
                f(c, "same"),
                f(d, "questions"),
                f(c, "fewer_records"),
                f(c, "more_records"),
                f(c, "different"),
            );
        }
    }

    out!();
    out!("| dnsperf | rounds | {PRIVLINK} q/s | {PEER} q/s | q/s ratio | {PRIVLINK} avg us | {PEER} avg us | avg ratio | server CPU us/query ({PRIVLINK} / {PEER}) | lost ({PRIVLINK} / {PEER}) | other load, worst run |");
    out!("|---|---:|---:|---:|---:|---:|---:|---:|---|---|---:|");
    let mut qps_ratios = Vec::new();
    for ((_, mode), runs) in groups.iter().filter(|((t, _), _)| t == "dnsperf") {
        let (pq, uq) = (side(runs, PRIVLINK, "qps"), side(runs, PEER, "qps"));
        let (pl, ul) = (side(runs, PRIVLINK, "avg_latency_us"), side(runs, PEER, "avg_latency_us"));
        let lost = |server: &str| runs.get(server).map_or(0.0, |r| r.iter().map(|d| f(d, "lost")).sum::<f64>());
        if !mode.contains("-Q") {
            if let (Some(p), Some(q)) = (pq, uq) {
                qps_ratios.push((mode.clone(), p / q.max(1e-9)));
            }
        }
        out!(
            "| {mode} | {} | {} | {} | {} | {} | {} | {} | {} / {} | {} / {} | {} |",
            rounds(runs),
            cell(pq, 0),
            cell(uq, 0),
            ratio(pq, uq),
            cell(pl, 1),
            cell(ul, 1),
            ratio(pl, ul),
            cell(cpu(runs, PRIVLINK), 1),
            cell(cpu(runs, PEER), 1),
            lost(PRIVLINK),
            lost(PEER),
            other(runs),
        );
    }

    out!();
    out!("| paced load | rounds | {PRIVLINK} answered/s | {PEER} answered/s | {PRIVLINK} p50 / p99 / p99.9 us | {PEER} p50 / p99 / p99.9 us | p50 ratio | p99 ratio | p99.9 ratio | server CPU us/query ({PRIVLINK} / {PEER}) | lost ({PRIVLINK} / {PEER}) | other load, worst run |");
    out!("|---|---:|---:|---:|---|---|---:|---:|---:|---|---|---:|");
    let mut worst_p99: Option<(f64, String)> = None;
    for ((_, mode), runs) in groups.iter().filter(|((t, _), _)| t == "paced") {
        let q = |server: &str, k: &str| side(runs, server, k);
        let lat = |server: &str| {
            format!(
                "{} / {} / {}",
                cell(q(server, "p50_us"), 1),
                cell(q(server, "p99_us"), 1),
                cell(q(server, "p999_us"), 1)
            )
        };
        for d in runs.get(PRIVLINK).into_iter().flatten() {
            let p99 = f(d, "p99_us");
            if worst_p99.as_ref().is_none_or(|(w, _)| p99 > *w) {
                worst_p99 = Some((p99, format!("{mode}, round {}", f(d, "round"))));
            }
        }
        let lost = |server: &str| runs.get(server).map_or(0.0, |r| r.iter().map(|d| f(d, "lost")).sum::<f64>());
        out!(
            "| {mode} | {} | {} | {} | {} | {} | {} | {} | {} | {} / {} | {} / {} | {} |",
            rounds(runs),
            cell(q(PRIVLINK, "achieved_qps"), 0),
            cell(q(PEER, "achieved_qps"), 0),
            lat(PRIVLINK),
            lat(PEER),
            ratio(q(PRIVLINK, "p50_us"), q(PEER, "p50_us")),
            ratio(q(PRIVLINK, "p99_us"), q(PEER, "p99_us")),
            ratio(q(PRIVLINK, "p999_us"), q(PEER, "p999_us")),
            cell(cpu(runs, PRIVLINK), 1),
            cell(cpu(runs, PEER), 1),
            lost(PRIVLINK),
            lost(PEER),
            other(runs),
        );
    }

    print_disturbed(docs, "server");
    out!("(server CPU us/query: the server process's user + system time over the queries of the run; other load: the machine's busy time not used by the servers or the client, as a share of all its CPUs)");

    out!();
    out!("Targets:");
    if qps_ratios.is_empty() {
        out!("- >= {TARGET_QPS_RATIO:.1}x {PEER}'s queries/s: no unpaced dnsperf runs of both");
    }
    for (mode, r) in &qps_ratios {
        let met = if *r >= TARGET_QPS_RATIO { "MET" } else { "NOT MET" };
        out!("- >= {TARGET_QPS_RATIO:.1}x {PEER}'s queries/s ({mode}): {r:.2}x -> {met}");
    }
    match worst_p99 {
        Some((p99, at)) => out!(
            "- {PRIVLINK} p99 under {TARGET_P99_US:.0} us in every paced run: worst {p99:.1} us ({at}) -> {}",
            if p99 < TARGET_P99_US { "MET" } else { "NOT MET" }
        ),
        None => out!("- {PRIVLINK} p99 under {TARGET_P99_US:.0} us: no paced runs"),
    }
}
