//! `privlink-bench ipam`: does allocating a private IP get slower as a subnet fills?
//!
//! Two measurements, each timing `sample` allocations one at a time while the pool is nearly
//! empty, filling it to `fill_to` addresses, then timing `sample` more:
//! - store level: `ip_allocate` in its own write transaction on a SQLite store in a temp dir
//!   (the cost of the allocator itself, no HTTP, no JSON);
//! - HTTP level: NIC PUTs (dynamic IP) against a privlink server, in a /16 subnet, filled with
//!   `fill_concurrency` concurrent PUTs (each polled to Succeeded, as a client would). The fill is given a time budget: after `estimate`
//!   seconds its rate is projected, and it is cut short if it would not finish in time.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use hdrhistogram::Histogram;
use privlink_store::SqliteStore;
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::http::{Arm, NETWORK_API};
use crate::stats::{histogram, micros, ms, round2, Recorder};

/// The pool of a /16 subnet: offsets 4..=65534 (Azure keeps the first four and the last).
const POOL_FIRST: i64 = 4;
const POOL_LAST: i64 = 65_534;

fn figures(h: &Histogram<u64>) -> Value {
    json!({
        "n": h.len(),
        "p50_us": h.value_at_quantile(0.50),
        "p99_us": h.value_at_quantile(0.99),
        "max_us": h.max(),
        "mean_us": round2(h.mean()),
    })
}

fn ratio(after: &Histogram<u64>, first: &Histogram<u64>, q: f64) -> f64 {
    round2(after.value_at_quantile(q) as f64 / first.value_at_quantile(q).max(1) as f64)
}

fn print_pair(what: &str, first: &Histogram<u64>, after: &Histogram<u64>, used_after: u64) {
    out!(
        "{what}: first {}: p50 {}, p99 {} | after {used_after} used: p50 {}, p99 {} | ratio p50 {:.2}x, p99 {:.2}x",
        first.len(),
        ms(first.value_at_quantile(0.5)),
        ms(first.value_at_quantile(0.99)),
        ms(after.value_at_quantile(0.5)),
        ms(after.value_at_quantile(0.99)),
        ratio(after, first, 0.5),
        ratio(after, first, 0.99),
    );
}

pub struct Plan {
    pub sample: u64,
    pub fill_to: u64,
}

impl Plan {
    fn check(&self) -> Result<()> {
        let capacity = (POOL_LAST - POOL_FIRST + 1) as u64;
        if self.sample == 0 || self.fill_to < self.sample || self.fill_to + self.sample > capacity {
            bail!("need 0 < sample <= fill-to and fill-to + sample <= {capacity} (the usable addresses of a /16)");
        }
        Ok(())
    }
}

/// The store-level measurement. Blocking.
pub fn store_level(plan: &Plan) -> Result<Value> {
    plan.check()?;
    let dir = std::env::temp_dir().join(format!("privlink-bench-ipam-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let result = store_level_in(&dir, plan);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn store_level_in(dir: &std::path::Path, plan: &Plan) -> Result<Value> {
    let store = SqliteStore::open(&dir.join("ipam.db")).context("opening the SQLite store")?;
    let pool = "bench-pool";
    privlink_store::write(&store, |tx| tx.ip_pool_create(pool, POOL_FIRST, POOL_LAST))?;
    let mut used = 0u64;
    let allocate = |used: &mut u64| -> Result<Duration> {
        let owner = format!("owner-{used}");
        let started = std::time::Instant::now();
        let got = privlink_store::write(&store, |tx| tx.ip_allocate(pool, &owner))?;
        let took = started.elapsed();
        let expected = POOL_FIRST + *used as i64;
        match got {
            Some(offset) if offset == expected => {}
            Some(offset) => bail!("allocation {used} got offset {offset}, expected the lowest free ({expected})"),
            None => bail!("pool exhausted after {used} allocations"),
        }
        *used += 1;
        Ok(took)
    };
    let mut first = histogram();
    for _ in 0..plan.sample {
        first.saturating_record(micros(allocate(&mut used)?));
    }
    let fill_started = std::time::Instant::now();
    let mut fill = histogram();
    while used < plan.fill_to {
        fill.saturating_record(micros(allocate(&mut used)?));
    }
    let fill_secs = fill_started.elapsed().as_secs_f64();
    let used_before_after = used;
    let mut after = histogram();
    for _ in 0..plan.sample {
        after.saturating_record(micros(allocate(&mut used)?));
    }
    print_pair("ipam store (ip_allocate, one write tx each)", &first, &after, used_before_after);
    let doc = json!({
        "bench": "ipam",
        "target": "privlink-store",
        "scenario": "ip_allocate",
        "pool_size": POOL_LAST - POOL_FIRST + 1,
        "first": figures(&first),
        "after": figures(&after),
        "used_before_after": used_before_after,
        "ratio_p50": ratio(&after, &first, 0.5),
        "ratio_p99": ratio(&after, &first, 0.99),
        "fill": { "allocations": fill.len(), "secs": round2(fill_secs), "per_s": round2(fill.len() as f64 / fill_secs.max(1e-9)), "p50_us": fill.value_at_quantile(0.5), "p99_us": fill.value_at_quantile(0.99) },
    });
    out!("{doc}");
    Ok(doc)
}

pub struct HttpPlan {
    pub plan: Plan,
    pub fill_concurrency: usize,
    pub fill_budget: Duration,
    pub estimate_after: Duration,
}

fn nic_body(location: &str, subnet_id: &str) -> Value {
    json!({
        "location": location,
        "properties": { "ipConfigurations": [ { "name": "c1", "properties": { "subnet": { "id": subnet_id } } } ] }
    })
}

fn private_ip(nic: &Value) -> Option<&str> {
    nic.pointer("/properties/ipConfigurations/0/properties/privateIPAddress").and_then(Value::as_str)
}

/// Time `n` NIC PUTs one after the other (the PUT only: that is where the address is
/// allocated); returns the histogram, the first and last addresses and the loop's seconds.
async fn timed_nics(arm: &Arm, subnet_id: &str, from: u64, n: u64) -> Result<(Histogram<u64>, Vec<String>, f64)> {
    let loop_started = Instant::now();
    let mut h = histogram();
    let mut rec = Recorder::default();
    let mut ips = Vec::new();
    for i in from..from + n {
        let started = Instant::now();
        let (nic, op) =
            arm.put_only(&arm.nic_id(&format!("nic-{i}")), &nic_body(&arm.location, subnet_id), &mut rec).await?;
        h.saturating_record(micros(started.elapsed()));
        // Finish the operation as a client would, outside the timed part, so that no
        // provisioning work piles up behind the measurement.
        if let Some(op) = op {
            arm.poll(&op, &mut rec).await?;
        }
        if i == from || i + 1 == from + n {
            ips.push(private_ip(&nic).unwrap_or("?").to_string());
        }
    }
    Ok((h, ips, loop_started.elapsed().as_secs_f64()))
}

async fn timed_get(arm: &Arm, path: &str) -> Result<(u64, usize)> {
    let mut rec = Recorder::default();
    let started = Instant::now();
    let len = arm.get(&arm.url(path, NETWORK_API), &mut rec).await?;
    Ok((micros(started.elapsed()), len))
}

/// The HTTP-level measurement against a running server.
pub async fn http_level(arm: Arm, hp: HttpPlan) -> Result<Value> {
    hp.plan.check()?;
    let arm = Arc::new(arm);
    arm.ensure_resource_group().await?;
    let mut rec = Recorder::default();
    let vnet = "ipam";
    arm.put(
        &arm.vnet_id(vnet),
        &json!({ "location": arm.location, "properties": { "addressSpace": { "addressPrefixes": ["10.200.0.0/16"] } } }),
        &mut rec,
        true,
    )
    .await?;
    let subnet_path = arm.subnet_id(vnet, "big");
    arm.put(&subnet_path, &json!({ "properties": { "addressPrefix": "10.200.0.0/16" } }), &mut rec, true).await?;
    let subnet_id = subnet_path.clone();
    let (get_empty_us, _) = timed_get(&arm, &subnet_path).await?;

    let sample = hp.plan.sample;
    let (first, first_ips, first_secs) = timed_nics(&arm, &subnet_id, 0, sample).await?;
    out!(
        "ipam http: first {sample} NIC PUTs sequential: p50 {}, p99 {} ({:.0}/s)",
        ms(first.value_at_quantile(0.5)),
        ms(first.value_at_quantile(0.99)),
        sample as f64 / first_secs.max(1e-9)
    );

    // Fill with concurrent PUTs, bounded by the budget and cut short by the estimate.
    let target = hp.plan.fill_to - sample;
    let next = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let fill_started = Instant::now();
    let deadline = fill_started + hp.fill_budget;
    let mut workers = Vec::new();
    for _ in 0..hp.fill_concurrency.max(1) {
        let (arm, next, done, stop, subnet_id) =
            (arm.clone(), next.clone(), done.clone(), stop.clone(), subnet_id.clone());
        workers.push(tokio::spawn(async move {
            let mut rec = Recorder::default();
            let body = nic_body(&arm.location, &subnet_id);
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= target {
                    break;
                }
                let started = Instant::now();
                match arm.put(&arm.nic_id(&format!("nic-{}", sample + i)), &body, &mut rec, true).await {
                    Ok(_) => {
                        rec.ok("fill", started.elapsed());
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => rec.error("fill", &e),
                }
            }
            (rec, Instant::now())
        }));
    }
    // Wait for the estimate point (or the end of a fill shorter than that), then project.
    let mut projected_secs = None;
    let estimate_at = fill_started + hp.estimate_after.min(hp.fill_budget);
    while Instant::now() < estimate_at && done.load(Ordering::Relaxed) < target {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let so_far = done.load(Ordering::Relaxed);
    if so_far < target {
        let elapsed = fill_started.elapsed().as_secs_f64();
        let projection = elapsed * target as f64 / so_far.max(1) as f64;
        projected_secs = Some(round2(projection));
        out!(
            "ipam http: fill rate {:.0} NIC/s at concurrency {}; projected {projection:.0} s for {target} NICs (budget {} s)",
            so_far as f64 / elapsed,
            hp.fill_concurrency,
            hp.fill_budget.as_secs()
        );
        if projection > hp.fill_budget.as_secs_f64() {
            out!("ipam http: projection over budget: stopping the fill early, measuring at the level reached");
            stop.store(true, Ordering::Relaxed);
        }
    }
    let mut fill = Recorder::default();
    let mut fill_end = fill_started;
    for w in workers {
        let (rec, ended) = w.await.context("a fill worker panicked")?;
        fill.merge(rec);
        fill_end = fill_end.max(ended);
    }
    let fill_secs = (fill_end - fill_started).as_secs_f64();
    let filled = done.load(Ordering::Relaxed);
    let complete = filled >= target;
    let used_before_after = sample + filled;
    out!(
        "ipam http: filled {filled} NICs in {fill_secs:.1} s ({:.0}/s, p50 {}, p99 {}, errors {}){}",
        filled as f64 / fill_secs.max(1e-9),
        ms(fill.all.value_at_quantile(0.5)),
        ms(fill.all.value_at_quantile(0.99)),
        fill.errors,
        if complete { "" } else { " -- fill incomplete" }
    );
    for e in &fill.first_errors {
        err!("    error: {e}");
    }

    // The next `sample` NICs take the addresses after the filled ones (plus any gaps left by
    // failed fill PUTs, which the allocator hands out first).
    let (after, after_ips, _) = timed_nics(&arm, &subnet_id, sample + next.load(Ordering::Relaxed), sample).await?;
    let (get_full_us, get_full_bytes) = timed_get(&arm, &subnet_path).await?;
    print_pair("ipam http (NIC PUT, dynamic IP)", &first, &after, used_before_after);
    out!(
        "ipam http: GET subnet: empty {}, with {} NICs {} ({} bytes)",
        ms(get_empty_us),
        used_before_after + sample,
        ms(get_full_us),
        get_full_bytes
    );
    let doc = json!({
        "bench": "ipam",
        "target": "privlink-http",
        "scenario": "nic-put",
        "first": figures(&first),
        "after": figures(&after),
        "used_before_after": used_before_after,
        "ratio_p50": ratio(&after, &first, 0.5),
        "ratio_p99": ratio(&after, &first, 0.99),
        "first_ips": first_ips,
        "after_ips": after_ips,
        "fill": {
            "target": target,
            "nics": filled,
            "complete": complete,
            "concurrency": hp.fill_concurrency,
            "secs": round2(fill_secs),
            "per_s": round2(filled as f64 / fill_secs.max(1e-9)),
            "p50_us": fill.all.value_at_quantile(0.5),
            "p99_us": fill.all.value_at_quantile(0.99),
            "errors": fill.errors,
            "projected_secs": projected_secs,
        },
        "subnet_get_us": { "empty": get_empty_us, "full": get_full_us, "full_bytes": get_full_bytes },
    });
    out!("{doc}");
    Ok(doc)
}
