//! `privlink-bench summary FILE...`: read the JSON lines of earlier runs and print a Markdown
//! table comparing privlink with Moto, and whether the project's targets are met.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde_json::Value;

/// Targets named by the project.
const TARGET_RATIO_AT: u64 = 16;
const TARGET_RATIO: f64 = 20.0;
const TARGET_P99_US: u64 = 10_000;
/// "Flat": the late allocations' median is at most this many times the early ones'.
const FLAT_RATIO: f64 = 1.5;

fn f(v: &Value, k: &str) -> f64 {
    v.get(k).and_then(Value::as_f64).unwrap_or(0.0)
}

fn u(v: &Value, k: &str) -> u64 {
    v.get(k).and_then(Value::as_u64).unwrap_or(0)
}

fn ms(us: u64) -> String {
    format!("{:.2}", us as f64 / 1000.0)
}

pub fn run(files: &[PathBuf]) -> Result<()> {
    let mut docs = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        for line in text.lines().filter(|l| l.trim_start().starts_with('{')) {
            if let Ok(doc) = serde_json::from_str::<Value>(line) {
                docs.push(doc);
            }
        }
    }
    let bench = |d: &Value| d.get("bench").and_then(Value::as_str).unwrap_or("").to_string();
    let scenario = |d: &Value| d.get("scenario").and_then(Value::as_str).unwrap_or("").to_string();
    // The last run of each (bench, scenario, concurrency) wins.
    let mut arm: BTreeMap<(String, u64), Value> = BTreeMap::new();
    let mut moto: BTreeMap<u64, Value> = BTreeMap::new();
    let mut ipam: Vec<Value> = Vec::new();
    for d in docs {
        match bench(&d).as_str() {
            "arm" => {
                arm.insert((scenario(&d), u(&d, "concurrency")), d);
            }
            "moto" => {
                moto.insert(u(&d, "concurrency"), d);
            }
            "ipam" => ipam.push(d),
            _ => {}
        }
    }

    println!("| scenario | conc. | privlink ops/s | req/s | p50 ms | p99 ms | max ms | errors | Moto ops/s | Moto req/s | Moto p50 ms | Moto p99 ms | Moto errors | ops/s ratio |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut p99_over = Vec::new();
    let mut ratio_at_target = Vec::new();
    for ((scn, c), d) in &arm {
        let m = moto.get(c);
        let ratio = m.map(|m| f(d, "ops_per_s") / f(m, "ops_per_s").max(1e-9));
        if *c == TARGET_RATIO_AT {
            ratio_at_target.push((scn.clone(), ratio));
        }
        if u(d, "p99_us") >= TARGET_P99_US {
            p99_over.push(format!("{scn} c={c}: {} ms", ms(u(d, "p99_us"))));
        }
        let (mo, mr, m50, m99, me) = match m {
            Some(m) => (
                format!("{:.1}", f(m, "ops_per_s")),
                format!("{:.1}", f(m, "requests_per_s")),
                ms(u(m, "p50_us")),
                ms(u(m, "p99_us")),
                u(m, "errors").to_string(),
            ),
            None => ("-".into(), "-".into(), "-".into(), "-".into(), "-".into()),
        };
        println!(
            "| {scn} | {c} | {:.1} | {:.1} | {} | {} | {} | {} | {mo} | {mr} | {m50} | {m99} | {me} | {} |",
            f(d, "ops_per_s"),
            f(d, "requests_per_s"),
            ms(u(d, "p50_us")),
            ms(u(d, "p99_us")),
            ms(u(d, "max_us")),
            u(d, "errors"),
            ratio.map(|r| format!("{r:.1}x")).unwrap_or_else(|| "-".into()),
        );
    }
    println!();
    println!("Targets:");
    for (scn, ratio) in &ratio_at_target {
        match ratio {
            Some(r) => println!(
                "- >= {TARGET_RATIO}x Moto's throughput at concurrency {TARGET_RATIO_AT} ({scn}): {r:.1}x -> {}",
                if *r >= TARGET_RATIO { "MET" } else { "NOT MET" }
            ),
            None => {
                println!("- >= {TARGET_RATIO}x Moto at concurrency {TARGET_RATIO_AT} ({scn}): no Moto run to compare")
            }
        }
    }
    if arm.is_empty() {
        println!("- p99 under {} ms: no privlink runs", TARGET_P99_US / 1000);
    } else if p99_over.is_empty() {
        println!("- p99 under {} ms in every privlink run: MET", TARGET_P99_US / 1000);
    } else {
        println!("- p99 under {} ms: NOT MET in {}", TARGET_P99_US / 1000, p99_over.join("; "));
    }
    for d in &ipam {
        let target = d.get("target").and_then(Value::as_str).unwrap_or("?");
        let first = d.get("first").cloned().unwrap_or(Value::Null);
        let after = d.get("after").cloned().unwrap_or(Value::Null);
        let r50 = f(d, "ratio_p50");
        let complete = d.pointer("/fill/complete").and_then(Value::as_bool).unwrap_or(true);
        println!(
            "- allocation flat from empty to {} used ({target}): first {} p50 {} ms / p99 {} ms, after p50 {} ms / p99 {} ms, ratio p50 {r50:.2}x p99 {:.2}x -> {}{}",
            u(d, "used_before_after"),
            u(&first, "n"),
            ms(u(&first, "p50_us")),
            ms(u(&first, "p99_us")),
            ms(u(&after, "p50_us")),
            ms(u(&after, "p99_us")),
            f(d, "ratio_p99"),
            if r50 <= FLAT_RATIO { "MET" } else { "NOT MET" },
            if complete { "" } else { " (fill incomplete: see the JSON)" },
        );
        if let Some(get) = d.get("subnet_get_us") {
            println!(
                "  (GET of that subnet: {} ms empty, {} ms full, {} bytes)",
                ms(u(get, "empty")),
                ms(u(get, "full")),
                u(get, "full_bytes")
            );
        }
    }
    println!("(flat = p50 after the fill at most {FLAT_RATIO}x the p50 of the first allocations)");
    Ok(())
}
