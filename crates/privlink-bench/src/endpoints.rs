//! `privlink-bench endpoints`: "private endpoint create to Succeeded" on an empty store, with
//! endpoints already present, and across a whole subscription's worth of endpoints.
//!
//! Setup (untimed): a resource group; one StorageV2 storage account (its PUT answers 200), the
//! target of every endpoint (group id `blob`); VNets `pev-000`, `pev-001`, ..., each
//! 10.0.0.0/16 with one /20 subnet `s` (4,091 usable addresses). Endpoint number i
//! (`pe-00000`, ...) goes into VNet i / per_vnet: with 1,000 per VNet (Azure's default limit per
//! VNet) VNet k holds endpoints k*1000 .. k*1000+999. VNets overlap in address space: they are
//! not peered.
//!
//! One op = PUT the endpoint (201 + `Azure-AsyncOperation`; the PUT allocates its IP, creates
//! its read-only NIC and the connection on the storage account), then poll the operation until
//! `Succeeded` (the first poll is immediate, then every `--poll-interval-ms`).
//!
//! - default: create `prefill` endpoints first (untimed, `fill_concurrency` at once), then run
//!   `concurrency` workers for `duration` (at most `max_ops` ops), starting on a fresh VNet.
//! - `--scale N`: create endpoints 0..N at `concurrency`, keep each op's latency by its number
//!   (creation order = the order the ops were started), and compare the deciles, last 10% vs
//!   first 10%. The run projects its total time after `estimate_after` and stops early (and says
//!   so) if the projection is over `budget`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::http::{run_workers, Arm, Bounds, NETWORK_API, RESOURCES_API, STORAGE_API};
use crate::stats::{histogram, micros, ms, report, round2, Recorder};

/// Usable addresses of a /20 subnet (Azure keeps the first four and the last).
const SUBNET_CAPACITY: u64 = 4096 - 5;
/// Most VNets one run creates.
const MAX_VNETS: u64 = 1000;
/// The project's flatness target: the last 10% of a scale run no slower than this many times
/// the first 10%.
pub const FLAT_TARGET: f64 = 1.3;
/// How often a long fill prints its progress.
const PROGRESS_EVERY: Duration = Duration::from_secs(15);

pub struct Settings {
    pub concurrency: usize,
    pub duration: Duration,
    pub max_ops: u64,
    pub prefill: u64,
    pub fill_concurrency: usize,
    pub per_vnet: u64,
    /// `Some(n)`: the scale run instead of the timed one.
    pub scale: Option<u64>,
    pub budget: Duration,
    pub estimate_after: Duration,
    pub storage_account: String,
}

struct Layout {
    arm: Arm,
    target_id: String,
    per_vnet: u64,
}

impl Layout {
    fn vnet(&self, v: u64) -> String {
        format!("pev-{v:03}")
    }

    fn endpoint_path(&self, i: u64) -> String {
        format!("{}/providers/Microsoft.Network/privateEndpoints/pe-{i:05}", self.arm.rg_path())
    }

    fn endpoint_body(&self, i: u64) -> Value {
        let subnet = self.arm.subnet_id(&self.vnet(i / self.per_vnet), "s");
        json!({
            "location": self.arm.location,
            "properties": {
                "subnet": { "id": subnet },
                "privateLinkServiceConnections": [
                    { "name": "c", "properties": { "privateLinkServiceId": self.target_id, "groupIds": ["blob"] } }
                ]
            }
        })
    }

    async fn create_vnet(&self, v: u64, rec: &mut Recorder) -> Result<()> {
        let body = json!({
            "location": self.arm.location,
            "properties": {
                "addressSpace": { "addressPrefixes": ["10.0.0.0/16"] },
                "subnets": [ { "name": "s", "properties": { "addressPrefix": "10.0.0.0/20" } } ]
            }
        });
        self.arm.put(&self.arm.vnet_id(&self.vnet(v)), &body, rec, true).await.map(|_| ())
    }

    /// One op: PUT endpoint i (expecting 201 and an operation URL), then poll to Succeeded.
    async fn create(&self, i: u64, rec: &mut Recorder) -> Result<()> {
        let path = self.endpoint_path(i);
        let started = Instant::now();
        let resp = self.arm.put_raw(&path, NETWORK_API, &self.endpoint_body(i), rec).await?;
        if resp.status != reqwest::StatusCode::CREATED {
            bail!("PUT {path}: expected 201 Created, got {}: {}", resp.status, resp.excerpt());
        }
        let op = resp.operation.with_context(|| format!("PUT {path}: 201 without an Azure-AsyncOperation header"))?;
        let put_done = Instant::now();
        rec.step("put", put_done - started);
        self.arm.poll(&op, rec).await?;
        rec.step("poll", put_done.elapsed());
        Ok(())
    }
}

/// The resource group, the storage account and `vnets` VNets.
async fn setup(arm: Arm, settings: &Settings, vnets: u64) -> Result<Arc<Layout>> {
    if settings.per_vnet == 0 || settings.per_vnet > SUBNET_CAPACITY {
        bail!("--per-vnet must be between 1 and {SUBNET_CAPACITY} (the usable addresses of the /20 subnet)");
    }
    if vnets > MAX_VNETS {
        bail!("this run would need {vnets} VNets; at most {MAX_VNETS}");
    }
    let started = Instant::now();
    arm.ensure_resource_group().await?;
    let mut rec = Recorder::default();
    let target_id =
        format!("{}/providers/Microsoft.Storage/storageAccounts/{}", arm.rg_path(), settings.storage_account);
    let body = json!({ "location": arm.location, "kind": "StorageV2", "sku": { "name": "Standard_LRS" } });
    let resp = arm.put_raw(&target_id, STORAGE_API, &body, &mut rec).await?;
    if !resp.status.is_success() {
        bail!("PUT {target_id}: {}: {}", resp.status, resp.excerpt());
    }
    let storage_status = resp.status.as_u16();
    if let Some(op) = &resp.operation {
        arm.poll(op, &mut rec).await?;
    }
    let layout = Arc::new(Layout { arm, target_id, per_vnet: settings.per_vnet });
    for v in 0..vnets {
        layout.create_vnet(v, &mut rec).await.with_context(|| format!("creating VNet {}", layout.vnet(v)))?;
    }
    out!(
        "endpoints: setup: resource group {}, storage account {} (PUT {storage_status}), {vnets} VNets with one /20 subnet each, in {:.1} s",
        layout.arm.resource_group,
        settings.storage_account,
        started.elapsed().as_secs_f64()
    );
    Ok(layout)
}

/// Open `n` keep-alive connections (TLS handshakes) before the clock starts, with GETs of the
/// resource group: nothing is created.
async fn warm_connections(layout: &Arc<Layout>, n: usize) -> Result<()> {
    let url = layout.arm.url(&layout.arm.rg_path(), RESOURCES_API);
    let mut tasks = Vec::with_capacity(n);
    for _ in 0..n.max(1) {
        let (layout, url) = (layout.clone(), url.clone());
        tasks.push(tokio::spawn(async move { layout.arm.get(&url, &mut Recorder::default()).await }));
    }
    for t in tasks {
        t.await.context("a warm-up task panicked")?.context("warm-up GET")?;
    }
    Ok(())
}

/// One op of a counted run.
struct Sample {
    index: u64,
    /// From the start of the run.
    start_us: u64,
    took_us: u64,
    ok: bool,
}

struct RangeRun {
    samples: Vec<Sample>,
    rec: Recorder,
    secs: f64,
    created: u64,
    complete: bool,
    projected_secs: Option<f64>,
}

/// Create endpoints `from..to` with `concurrency` workers, within `budget`; after
/// `estimate_after`, project the total time and stop early if it is over budget.
async fn create_range(
    layout: &Arc<Layout>,
    label: &str,
    (from, to): (u64, u64),
    concurrency: usize,
    budget: Duration,
    estimate_after: Duration,
) -> Result<RangeRun> {
    let total = to.saturating_sub(from);
    let next = Arc::new(AtomicU64::new(from));
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let deadline = started + budget;
    let mut workers = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (layout, next, done, stop) = (layout.clone(), next.clone(), done.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            let mut rec = Recorder::default();
            let mut samples = Vec::new();
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= to {
                    break;
                }
                let op_started = Instant::now();
                let result = layout.create(i, &mut rec).await;
                let took = op_started.elapsed();
                let ok = match result {
                    Ok(()) => {
                        rec.ok("op", took);
                        true
                    }
                    Err(e) => {
                        rec.error("op", &e);
                        false
                    }
                };
                done.fetch_add(1, Ordering::Relaxed);
                let start_us = (op_started - started).as_micros() as u64;
                samples.push(Sample { index: i, start_us, took_us: micros(took), ok });
            }
            (rec, samples)
        }));
    }
    let mut projected_secs = None;
    let mut estimated = false;
    let mut next_progress = started + PROGRESS_EVERY;
    while !workers.iter().all(|w| w.is_finished()) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let n = done.load(Ordering::Relaxed);
        let elapsed = started.elapsed().as_secs_f64();
        if !estimated && started.elapsed() >= estimate_after && n < total {
            estimated = true;
            let projection = elapsed * total as f64 / n.max(1) as f64;
            projected_secs = Some(round2(projection));
            out!(
                "{label}: {n} endpoints in {elapsed:.1} s ({:.0}/s); projected {projection:.0} s for {total} (budget {} s)",
                n as f64 / elapsed.max(1e-9),
                budget.as_secs()
            );
            if projection > budget.as_secs_f64() {
                out!("{label}: projection over budget: stopping early, reporting what was created");
                stop.store(true, Ordering::Relaxed);
            }
        }
        if Instant::now() >= next_progress {
            next_progress += PROGRESS_EVERY;
            out!("{label}: {n}/{total} after {elapsed:.0} s ({:.0}/s)", n as f64 / elapsed.max(1e-9));
        }
    }
    let mut rec = Recorder::default();
    let mut samples = Vec::with_capacity(total as usize);
    for w in workers {
        let (r, s) = w.await.context("a worker task panicked")?;
        rec.merge(r);
        samples.extend(s);
    }
    let secs = started.elapsed().as_secs_f64();
    let created = samples.iter().filter(|s| s.ok).count() as u64;
    samples.sort_by_key(|s| s.index);
    Ok(RangeRun { complete: created == total, samples, rec, secs, created, projected_secs })
}

fn fill_summary(run: &RangeRun, target: u64, concurrency: usize) -> Value {
    json!({
        "target": target,
        "created": run.created,
        "complete": run.complete,
        "concurrency": concurrency,
        "secs": round2(run.secs),
        "per_s": round2(run.created as f64 / run.secs.max(1e-9)),
        "p50_us": run.rec.all.value_at_quantile(0.5),
        "p99_us": run.rec.all.value_at_quantile(0.99),
        "errors": run.rec.errors,
        "projected_secs": run.projected_secs,
    })
}

pub async fn run(arm: Arm, settings: Settings) -> Result<Value> {
    match settings.scale {
        None => run_timed(arm, &settings).await,
        Some(n) => run_scale(arm, &settings, n).await,
    }
}

/// Prefill (untimed), then a timed run at `concurrency` starting on a fresh VNet.
async fn run_timed(arm: Arm, s: &Settings) -> Result<Value> {
    let per_vnet = s.per_vnet.max(1);
    let timed_from = s.prefill.div_ceil(per_vnet) * per_vnet;
    let vnets = (timed_from + s.max_ops).div_ceil(per_vnet);
    let layout = setup(arm, s, vnets).await?;
    warm_connections(&layout, s.concurrency.max(s.fill_concurrency)).await?;
    let mut prefill = Value::Null;
    let mut present = 0;
    if s.prefill > 0 {
        let label = "endpoints prefill";
        let fill = create_range(&layout, label, (0, s.prefill), s.fill_concurrency, s.budget, s.estimate_after).await?;
        out!(
            "{label}: created {} endpoints in {:.1} s ({:.0}/s at concurrency {}; p50 {}, p99 {}, errors {}){}",
            fill.created,
            fill.secs,
            fill.created as f64 / fill.secs.max(1e-9),
            s.fill_concurrency,
            ms(fill.rec.all.value_at_quantile(0.5)),
            ms(fill.rec.all.value_at_quantile(0.99)),
            fill.rec.errors,
            if fill.complete { "" } else { " -- prefill incomplete" }
        );
        for e in &fill.rec.first_errors {
            err!("    error: {e}");
        }
        present = fill.created;
        prefill = fill_summary(&fill, s.prefill, s.fill_concurrency);
    }
    let bounds = Bounds::new(s.duration, s.max_ops);
    let (rec, elapsed) = run_workers(s.concurrency, |_worker| {
        let (layout, bounds) = (layout.clone(), bounds.clone());
        async move {
            let mut rec = Recorder::default();
            while let Some(n) = bounds.claim() {
                let started = Instant::now();
                match layout.create(timed_from + n, &mut rec).await {
                    Ok(()) => rec.ok("op", started.elapsed()),
                    Err(e) => rec.error("op", &e),
                }
            }
            rec
        }
    })
    .await?;
    let labels = json!({
        "bench": "endpoints",
        "target": "privlink",
        "scenario": "pe-create",
        "concurrency": s.concurrency,
        "duration_s": s.duration.as_secs_f64(),
        "present_before": present,
        "per_vnet": per_vnet,
        "prefill": prefill,
    });
    Ok(report(labels, &rec, elapsed))
}

struct Decile {
    from: u64,
    to: u64,
    ok: u64,
    errors: u64,
    latency: Histogram<u64>,
    /// Successful ops per second between the first start and the last end in the decile.
    per_s: f64,
}

fn deciles(samples: &[Sample], n: u64) -> Vec<Decile> {
    (0..10u64)
        .map(|d| {
            let (from, to) = (d * n / 10, (d + 1) * n / 10);
            let mut latency = histogram();
            let (mut ok, mut errors, mut first, mut last) = (0, 0, u64::MAX, 0);
            for s in samples.iter().filter(|s| (from..to).contains(&s.index)) {
                if s.ok {
                    ok += 1;
                    latency.saturating_record(s.took_us);
                } else {
                    errors += 1;
                }
                first = first.min(s.start_us);
                last = last.max(s.start_us + s.took_us);
            }
            let span = last.saturating_sub(first) as f64 / 1e6;
            let per_s = if span > 0.0 { ok as f64 / span } else { 0.0 };
            Decile { from, to, ok, errors, latency, per_s }
        })
        .collect()
}

/// Create endpoints 0..n and compare the deciles in creation order.
async fn run_scale(arm: Arm, s: &Settings, n: u64) -> Result<Value> {
    if n < 10 {
        bail!("--scale needs at least 10 endpoints (one per decile)");
    }
    let per_vnet = s.per_vnet.max(1);
    let vnets = n.div_ceil(per_vnet);
    let layout = setup(arm, s, vnets).await?;
    warm_connections(&layout, s.concurrency).await?;
    let label = "endpoints scale";
    let run = create_range(&layout, label, (0, n), s.concurrency, s.budget, s.estimate_after).await?;
    let ds = deciles(&run.samples, n);
    out!(
        "{label} c={}: {} of {n} endpoints in {:.1} s ({:.1} ops/s, {:.1} req/s), p50 {}, p99 {}, max {}, errors {}{}",
        s.concurrency,
        run.created,
        run.secs,
        run.created as f64 / run.secs.max(1e-9),
        run.rec.requests as f64 / run.secs.max(1e-9),
        ms(run.rec.all.value_at_quantile(0.5)),
        ms(run.rec.all.value_at_quantile(0.99)),
        ms(run.rec.all.max()),
        run.rec.errors,
        if run.complete { "" } else { " -- INCOMPLETE" }
    );
    for e in &run.rec.first_errors {
        err!("    error: {e}");
    }
    out!("    decile  endpoints          ok  errors      ops/s        p50        p99       mean");
    for (d, x) in ds.iter().enumerate() {
        out!(
            "    {:>6}  {:>6}..{:<6} {:>6} {:>7} {:>10.1} {:>10} {:>10} {:>10}",
            d + 1,
            x.from,
            x.to,
            x.ok,
            x.errors,
            x.per_s,
            ms(x.latency.value_at_quantile(0.5)),
            ms(x.latency.value_at_quantile(0.99)),
            ms(x.latency.mean() as u64)
        );
    }
    let (first, last) = (&ds[0], &ds[9]);
    let slower =
        |q: f64| round2(last.latency.value_at_quantile(q) as f64 / first.latency.value_at_quantile(q).max(1) as f64);
    let ratio_p50 = slower(0.5);
    let ratio_p99 = slower(0.99);
    let ratio_mean = round2(last.latency.mean() / first.latency.mean().max(1.0));
    let ratio_throughput = round2(first.per_s / last.per_s.max(1e-9));
    let flat = run.complete && ratio_p50 <= FLAT_TARGET;
    out!(
        "{label}: last 10% vs first 10%: p50 {ratio_p50:.2}x, p99 {ratio_p99:.2}x, mean {ratio_mean:.2}x, time per op (1/throughput) {ratio_throughput:.2}x -> {} (target: p50 at most {FLAT_TARGET}x)",
        if flat { "flat" } else { "NOT flat" }
    );

    // One endpoint more, in a VNet of its own: the subscription limit should refuse it when n is
    // the limit (64,000 by default).
    let mut limit_check = Value::Null;
    if run.complete {
        let mut rec = Recorder::default();
        let v = vnets;
        layout.create_vnet(v, &mut rec).await.with_context(|| format!("creating VNet {}", layout.vnet(v)))?;
        let path = layout.endpoint_path(n);
        let resp = layout.arm.put_raw(&path, NETWORK_API, &layout.endpoint_body(v * per_vnet), &mut rec).await?;
        if let (true, Some(op)) = (resp.status.is_success(), &resp.operation) {
            layout.arm.poll(op, &mut rec).await?;
        }
        let code = resp.error_code();
        out!(
            "{label}: endpoint number {} (one more than the run): {}{}",
            n + 1,
            resp.status,
            code.as_deref().map(|c| format!(" {c}")).unwrap_or_default()
        );
        limit_check = json!({ "status": resp.status.as_u16(), "code": code });
    }

    let decile_docs: Vec<Value> = ds
        .iter()
        .enumerate()
        .map(|(d, x)| {
            json!({
                "decile": d + 1,
                "from": x.from,
                "to": x.to,
                "ok": x.ok,
                "errors": x.errors,
                "ops_per_s": round2(x.per_s),
                "p50_us": x.latency.value_at_quantile(0.5),
                "p99_us": x.latency.value_at_quantile(0.99),
                "mean_us": round2(x.latency.mean()),
                "max_us": x.latency.max(),
            })
        })
        .collect();
    let kinds: serde_json::Map<String, Value> = run
        .rec
        .by_kind
        .iter()
        .map(|(k, h)| {
            (k.to_string(), json!({ "p50_us": h.value_at_quantile(0.5), "p99_us": h.value_at_quantile(0.99) }))
        })
        .collect();
    let doc = json!({
        "bench": "endpoints",
        "target": "privlink",
        "scenario": "pe-scale",
        "concurrency": s.concurrency,
        "count": n,
        "per_vnet": per_vnet,
        "vnets": vnets,
        "created": run.created,
        "complete": run.complete,
        "elapsed_s": round2(run.secs),
        "ops_per_s": round2(run.created as f64 / run.secs.max(1e-9)),
        "requests": run.rec.requests,
        "requests_per_s": round2(run.rec.requests as f64 / run.secs.max(1e-9)),
        "p50_us": run.rec.all.value_at_quantile(0.5),
        "p99_us": run.rec.all.value_at_quantile(0.99),
        "max_us": run.rec.all.max(),
        "errors": run.rec.errors,
        "extra_polls": run.rec.extra_polls,
        "projected_secs": run.projected_secs,
        "budget_s": s.budget.as_secs(),
        "by_kind": kinds,
        "deciles": decile_docs,
        "last_vs_first": { "p50": ratio_p50, "p99": ratio_p99, "mean": ratio_mean, "time_per_op": ratio_throughput },
        "flat_target": FLAT_TARGET,
        "flat": flat,
        "limit_check": limit_check,
    });
    out!("{doc}");
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use super::{deciles, Sample};

    #[test]
    fn deciles_split_by_creation_index() {
        // 100 ops, one every 10 ms, op i taking i+1 ms; op 95 failed.
        let samples: Vec<Sample> = (0..100u64)
            .map(|i| Sample { index: i, start_us: i * 10_000, took_us: (i + 1) * 1000, ok: i != 95 })
            .collect();
        let ds = deciles(&samples, 100);
        assert_eq!(ds.len(), 10);
        assert_eq!((ds[0].from, ds[0].to, ds[0].ok, ds[0].errors), (0, 10, 10, 0));
        assert_eq!((ds[9].from, ds[9].to, ds[9].ok, ds[9].errors), (90, 100, 9, 1));
        // Histograms keep 3 significant figures: values come back as equivalents.
        assert!(ds[0].latency.max().abs_diff(10_000) < 20);
        assert!(ds[9].latency.min() >= 90_900);
        // First decile: 10 ops between 0 and 90 ms + 10 ms.
        assert!((ds[0].per_s - 100.0).abs() < 1.0, "{}", ds[0].per_s);
    }
}
