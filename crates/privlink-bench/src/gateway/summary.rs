//! The gateway part of `privlink-bench summary`: every path against the direct one and against
//! haproxy, averaged over the rounds, and the targets: bulk throughput at least 0.9x
//! direct and 1.0x haproxy, connections/s at least haproxy's (through the listener, which
//! forwards like haproxy does; the proxy adds a CONNECT round trip), at most 100 us added p99
//! per request/response, and approval to first byte under 10 ms.
//!
//! Paths named `haproxy…` are haproxy configurations (with and without splicing); privlink is
//! compared with the best of them in each measurement.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::summary::{f, print_disturbed, s};

const DIRECT: &str = "direct";
/// The prefix of haproxy paths.
const HAPROXY: &str = "haproxy";
/// privlink's paths: an endpoint's listener and the VNet's proxy.
const PRIVLINK: [&str; 2] = ["listener", "proxy"];
const TARGET_VS_DIRECT: f64 = 0.9;
const TARGET_VS_HAPROXY: f64 = 1.0;
const TARGET_ADDED_P99_US: f64 = 100.0;
const TARGET_APPROVAL_MS: f64 = 10.0;

fn is_haproxy(path: &str) -> bool {
    path.starts_with(HAPROXY)
}

/// The server process a path goes through (whose CPU the measurement charges to the path):
/// `bench/gateway.sh` names each haproxy's process as its path.
fn forwarder(path: &str) -> Option<&str> {
    match path {
        DIRECT => None,
        p if is_haproxy(p) => Some(p),
        p if p.starts_with("base-") => Some("privlink-base"),
        _ => Some("privlink"),
    }
}

/// The haproxy path with the best mean of `k` (the highest, or the lowest when `lower`).
fn best_haproxy(by: &ByPath<'_>, k: &str, lower: bool) -> Option<String> {
    let means = by.iter().filter(|(p, _)| is_haproxy(p)).filter_map(|(p, runs)| Some((p.clone(), mean(runs, k)?)));
    let better = |a: &(String, f64), b: &(String, f64)| if lower { b.1.total_cmp(&a.1) } else { a.1.total_cmp(&b.1) };
    means.max_by(better).map(|(p, _)| p)
}

/// The runs of one measurement, by path, in round order.
type ByPath<'a> = BTreeMap<String, Vec<&'a Value>>;

fn mean(runs: &[&Value], k: &str) -> Option<f64> {
    (!runs.is_empty()).then(|| runs.iter().map(|d| f(d, k)).sum::<f64>() / runs.len() as f64)
}

/// The value of `k` in round `round` of `path`.
fn in_round(by: &ByPath<'_>, path: &str, round: f64, k: &str) -> Option<f64> {
    by.get(path)?.iter().find(|d| f(d, "round") == round).map(|d| f(d, k))
}

/// `mean(path) ÷ mean(base)` and the same per round, e.g. "0.93x (0.91, 0.95)".
fn ratio(by: &ByPath<'_>, path: &str, base: &str, k: &str) -> (Option<f64>, String) {
    let (Some(runs), Some(base_runs)) = (by.get(path), by.get(base)) else { return (None, "-".into()) };
    let (Some(a), Some(b)) = (mean(runs, k), mean(base_runs, k)) else { return (None, "-".into()) };
    if b <= 0.0 || path == base {
        return (None, "-".into());
    }
    let rounds: Vec<String> = runs
        .iter()
        .filter_map(|d| {
            let other = in_round(by, base, f(d, "round"), k)?;
            (other > 0.0).then(|| format!("{:.2}", f(d, k) / other))
        })
        .collect();
    let r = a / b;
    (Some(r), format!("{r:.2}x ({})", rounds.join(", ")))
}

/// [`ratio`] against `peer`, for paths that are not haproxy's themselves.
fn versus(by: &ByPath<'_>, path: &str, peer: Option<&str>, k: &str) -> (Option<f64>, String) {
    match peer {
        Some(peer) if !is_haproxy(path) => ratio(by, path, peer, k),
        _ => (None, "-".into()),
    }
}

/// Mean over rounds of `path − direct` in the same round, and the worst round.
fn added(by: &ByPath<'_>, path: &str, k: &str) -> Option<(f64, f64)> {
    let diffs: Vec<f64> =
        by.get(path)?.iter().filter_map(|d| Some(f(d, k) - in_round(by, DIRECT, f(d, "round"), k)?)).collect();
    if diffs.is_empty() {
        return None;
    }
    let worst = diffs.iter().copied().fold(f64::MIN, f64::max);
    Some((diffs.iter().sum::<f64>() / diffs.len() as f64, worst))
}

/// Server CPU seconds of `path`'s forwarder, the backend's and the client's, summed over its
/// runs, divided by `per` (the work the runs did).
fn cpu_per(runs: &[&Value], path: &str, per: f64) -> String {
    let sum = |pointer: &str| runs.iter().filter_map(|d| d.pointer(pointer).and_then(Value::as_f64)).sum::<f64>();
    let fwd = forwarder(path).map_or(0.0, |name| sum(&format!("/cpu/servers/{name}")));
    let backend = sum("/cpu/servers/backend");
    let client = sum("/cpu/client_s");
    if per <= 0.0 {
        return "-".into();
    }
    format!("{:.2} / {:.2} / {:.2}", fwd / per, backend / per, client / per)
}

fn worst_other(runs: &[&Value]) -> String {
    runs.iter()
        .filter_map(|d| d.pointer("/cpu/other_pct").and_then(Value::as_f64))
        .reduce(f64::max)
        .map_or_else(|| "-".into(), |p| format!("{p:.0}%"))
}

/// Paths in the order tables show them: direct, privlink's, haproxy's, then any others.
fn ordered(by: &ByPath<'_>) -> Vec<String> {
    let mut names: Vec<String> = [DIRECT].iter().chain(&PRIVLINK).map(|s| s.to_string()).collect();
    names.retain(|n| by.contains_key(n));
    names.extend(by.keys().filter(|k| is_haproxy(k)).cloned());
    let others: Vec<String> = by.keys().filter(|k| !names.contains(k)).cloned().collect();
    names.extend(others);
    names
}

pub fn print(docs: &[Value]) {
    if docs.is_empty() {
        return;
    }
    // (tool, mode) → path → runs.
    let mut groups: BTreeMap<(String, String), ByPath<'_>> = BTreeMap::new();
    for d in docs.iter().filter(|d| matches!(s(d, "tool"), "bulk" | "connections" | "latency")) {
        let key = (s(d, "tool").to_string(), s(d, "mode").to_string());
        groups.entry(key).or_default().entry(s(d, "path").to_string()).or_default().push(d);
    }
    let mut targets: Vec<String> = Vec::new();
    let verdict = |ok: bool| if ok { "MET" } else { "NOT MET" };

    out!();
    out!("Gateway: privlink vs direct vs haproxy, same run (means over the rounds; per-round ratios in brackets):");
    for d in docs.iter().filter(|d| s(d, "tool") == "setup") {
        let haproxies: Vec<String> = d
            .get("haproxies")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|h| {
                format!(
                    "{} on {} (nbthread {}, splice {})",
                    s(h, "name"),
                    s(h, "listen"),
                    f(h, "nbthread"),
                    s(h, "splice")
                )
            })
            .collect();
        out!(
            "- world: endpoint {} ({}:443) with its listener {}, proxy {}, backend {}{}",
            s(d, "endpoint_ip"),
            s(d, "name"),
            s(d, "listener"),
            s(d, "proxy"),
            s(d, "backend"),
            if haproxies.is_empty() { String::new() } else { format!("; {}", haproxies.join(", ")) },
        );
    }

    out!();
    out!("| bulk | path | rounds | MB/s | ÷ direct | ÷ best haproxy | CPU s per GB (forwarder / backend / client) | other load, worst run |");
    out!("|---|---|---:|---:|---|---|---|---:|");
    for ((_, mode), by) in groups.iter().filter(|((t, _), _)| t == "bulk") {
        let best = best_haproxy(by, "mb_per_s", false);
        for path in ordered(by) {
            let runs = &by[&path];
            let gb = runs.iter().map(|d| f(d, "bytes")).sum::<f64>() / 1e9;
            let (vs_direct, direct_text) = ratio(by, &path, DIRECT, "mb_per_s");
            let (vs_haproxy, haproxy_text) = versus(by, &path, best.as_deref(), "mb_per_s");
            out!(
                "| {mode} | {path} | {} | {:.0} | {direct_text} | {haproxy_text} | {} | {} |",
                runs.len(),
                mean(runs, "mb_per_s").unwrap_or(0.0),
                cpu_per(runs, &path, gb),
                worst_other(runs),
            );
            if PRIVLINK.contains(&path.as_str()) {
                if let Some(r) = vs_direct {
                    targets.push(format!(
                        "- {mode}, {path}: >= {TARGET_VS_DIRECT:.1}x direct: {r:.2}x -> {}",
                        verdict(r >= TARGET_VS_DIRECT)
                    ));
                }
                if let (Some(r), Some(best)) = (vs_haproxy, &best) {
                    targets.push(format!(
                        "- {mode}, {path}: >= {TARGET_VS_HAPROXY:.1}x haproxy (its best here: {best}): {r:.2}x -> {}",
                        verdict(r >= TARGET_VS_HAPROXY)
                    ));
                }
            }
        }
    }

    out!();
    out!("| connections | path | rounds | connections/s | ÷ direct | ÷ best haproxy | each p50 / p99 us | errors | CPU us per connection (forwarder / backend / client) | other load, worst run |");
    out!("|---|---|---:|---:|---|---|---|---:|---|---:|");
    for ((_, mode), by) in groups.iter().filter(|((t, _), _)| t == "connections") {
        let best = best_haproxy(by, "conn_per_s", false);
        for path in ordered(by) {
            let runs = &by[&path];
            let n = runs.iter().map(|d| f(d, "connections")).sum::<f64>();
            let (_, direct_text) = ratio(by, &path, DIRECT, "conn_per_s");
            let (vs_haproxy, haproxy_text) = versus(by, &path, best.as_deref(), "conn_per_s");
            out!(
                "| {mode} | {path} | {} | {:.0} | {direct_text} | {haproxy_text} | {:.0} / {:.0} | {} | {} | {} |",
                runs.len(),
                mean(runs, "conn_per_s").unwrap_or(0.0),
                mean(runs, "p50_us").unwrap_or(0.0),
                mean(runs, "p99_us").unwrap_or(0.0),
                runs.iter().map(|d| f(d, "errors")).sum::<f64>(),
                cpu_per(runs, &path, n / 1e6),
                worst_other(runs),
            );
            if let (Some(r), Some(best), true) = (vs_haproxy, &best, PRIVLINK.contains(&path.as_str())) {
                let line = format!("- {mode}, {path}: >= {TARGET_VS_HAPROXY:.1}x haproxy's connections/s (its best here: {best}): {r:.2}x");
                if path == "proxy" {
                    targets.push(format!("{line} (for information: a CONNECT round trip more per connection)"));
                } else {
                    targets.push(format!("{line} -> {}", verdict(r >= TARGET_VS_HAPROXY)));
                }
            }
        }
    }

    out!();
    out!("| latency | path | rounds | p50 / p99 / p99.9 us | added vs direct p50 / p99 / p99.9 us (worst round's p99) | unanswered | sender behind p99 us | CPU us per message (forwarder / backend / client) | other load, worst run |");
    out!("|---|---|---:|---|---|---:|---:|---|---:|");
    for ((_, mode), by) in groups.iter().filter(|((t, _), _)| t == "latency") {
        for path in ordered(by) {
            let runs = &by[&path];
            let q = |k: &str| mean(runs, k).map_or_else(|| "-".into(), |x| format!("{x:.1}"));
            let add = |k: &str| added(by, &path, k);
            let added_text = if path == DIRECT {
                "-".to_string()
            } else {
                let cell = |x: Option<(f64, f64)>| x.map_or_else(|| "-".into(), |(m, _)| format!("{m:+.1}"));
                format!(
                    "{} / {} / {} ({})",
                    cell(add("p50_us")),
                    cell(add("p99_us")),
                    cell(add("p999_us")),
                    add("p99_us").map_or_else(|| "-".into(), |(_, w)| format!("{w:+.1}"))
                )
            };
            let messages = runs.iter().map(|d| f(d, "answered")).sum::<f64>();
            out!(
                "| {mode} | {path} | {} | {} / {} / {} | {added_text} | {} | {} | {} | {} |",
                runs.len(),
                q("p50_us"),
                q("p99_us"),
                q("p999_us"),
                runs.iter().map(|d| f(d, "unanswered")).sum::<f64>(),
                q("sender_lag_p99_us"),
                cpu_per(runs, &path, messages / 1e6),
                worst_other(runs),
            );
            if let (Some((m, worst)), true) = (add("p99_us"), PRIVLINK.contains(&path.as_str())) {
                targets.push(format!(
                    "- {mode}, {path}: added p99 <= {TARGET_ADDED_P99_US:.0} us (mean of the rounds): {m:+.1} us (worst round {worst:+.1} us) -> {}",
                    verdict(m <= TARGET_ADDED_P99_US)
                ));
            }
        }
    }

    for d in docs.iter().filter(|d| s(d, "tool") == "approval") {
        let samples: Vec<String> = d
            .get("first_byte_ms")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_f64)
            .map(|x| format!("{x:.1}"))
            .collect();
        out!();
        out!(
            "Approval PUT sent → first echoed byte through the proxy ({} samples, a try every {} us): p50 {:.2} ms, max {:.2} ms (each: {} ms); the PUT was answered after p50 {:.2} ms, max {:.2} ms",
            f(d, "samples"),
            f(d, "retry_us"),
            f(d, "first_byte_p50_ms"),
            f(d, "first_byte_max_ms"),
            samples.join(", "),
            f(d, "put_p50_ms"),
            f(d, "put_max_ms"),
        );
        let worst = f(d, "first_byte_max_ms");
        targets.push(format!(
            "- approval to first allowed byte under {TARGET_APPROVAL_MS:.0} ms (every sample): max {worst:.2} ms -> {}",
            verdict(worst < TARGET_APPROVAL_MS)
        ));
    }

    print_disturbed(docs.iter().filter(|d| s(d, "bench") == "gateway"), "path");
    out!("(MB = 10^6 bytes, per direction; forwarder = privlink for its paths, haproxy for haproxy's, nothing for direct; other load: the machine's busy time not used by the servers or the client, as a share of all its CPUs)");
    out!();
    out!("Targets:");
    if targets.is_empty() {
        out!("- no gateway measurements of both privlink and its peers");
    }
    for t in targets {
        out!("{t}");
    }
}
