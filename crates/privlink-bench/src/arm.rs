//! `privlink-bench arm`: load against privlink's ARM API.
//!
//! - `vnet-subnet`: one op = PUT a VNet and poll its operation, then PUT a subnet child and
//!   poll its operation (4 requests with immediate provisioning).
//! - `crud-mix`: one op = one of create (PUT VNet + poll), get, list (one page) or delete
//!   (DELETE + poll) on the worker's own VNets, in proportions 25/35/15/25.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::http::{run_workers, Arm, Bounds, NETWORK_API};
use crate::stats::{report, Recorder};

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Scenario {
    VnetSubnet,
    CrudMix,
}

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Scenario::VnetSubnet => "vnet-subnet",
            Scenario::CrudMix => "crud-mix",
        }
    }
}

pub struct Settings {
    pub concurrency: usize,
    pub duration: Duration,
    pub max_ops: u64,
    pub scenario: Scenario,
}

/// A small deterministic generator (xorshift64*): enough to pick operations, no dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    }
}

fn vnet_body(location: &str, inline_subnet: bool) -> Value {
    let mut props = json!({ "addressSpace": { "addressPrefixes": ["10.1.0.0/16"] } });
    if inline_subnet {
        props["subnets"] = json!([{ "name": "a", "properties": { "addressPrefix": "10.1.0.0/24" } }]);
    }
    json!({ "location": location, "properties": props })
}

pub async fn run(arm: Arm, settings: Settings) -> Result<Value> {
    arm.ensure_resource_group().await?;
    // One untimed VNet + subnet first (TLS handshake, first statements prepared).
    let mut warm = Recorder::default();
    arm.put(&arm.vnet_id("warmup"), &vnet_body(&arm.location, false), &mut warm, true).await?;
    arm.put(
        &arm.subnet_id("warmup", "s1"),
        &json!({ "properties": { "addressPrefix": "10.1.0.0/24" } }),
        &mut warm,
        true,
    )
    .await?;
    let arm = Arc::new(arm);
    let bounds = Bounds::new(settings.duration, settings.max_ops);
    let run_id = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    let scenario = settings.scenario;
    let (rec, elapsed) = run_workers(settings.concurrency, |worker| {
        let (arm, bounds, run_id) = (arm.clone(), bounds.clone(), run_id.clone());
        async move {
            match scenario {
                Scenario::VnetSubnet => vnet_subnet_worker(arm, bounds, run_id, worker).await,
                Scenario::CrudMix => crud_mix_worker(arm, bounds, run_id, worker).await,
            }
        }
    })
    .await?;
    let labels = json!({
        "bench": "arm",
        "target": "privlink",
        "scenario": scenario.name(),
        "concurrency": settings.concurrency,
        "duration_s": settings.duration.as_secs_f64(),
    });
    Ok(report(labels, &rec, elapsed))
}

async fn vnet_subnet_worker(arm: Arc<Arm>, bounds: Bounds, run_id: String, worker: usize) -> Recorder {
    let mut rec = Recorder::default();
    let mut seq = 0u64;
    let vnet_body = vnet_body(&arm.location, false);
    let subnet_body = json!({ "properties": { "addressPrefix": "10.1.0.0/24" } });
    while bounds.next() {
        seq += 1;
        let vnet = format!("vs-{run_id}-{worker}-{seq}");
        let started = Instant::now();
        let result: Result<()> = async {
            arm.put(&arm.vnet_id(&vnet), &vnet_body, &mut rec, true).await?;
            let vnet_done = Instant::now();
            rec.step("vnet", vnet_done - started);
            arm.put(&arm.subnet_id(&vnet, "s1"), &subnet_body, &mut rec, true).await?;
            rec.step("subnet", vnet_done.elapsed());
            Ok(())
        }
        .await;
        match result {
            Ok(()) => rec.ok("op", started.elapsed()),
            Err(e) => rec.error("op", &e),
        }
    }
    rec
}

async fn crud_mix_worker(arm: Arc<Arm>, bounds: Bounds, run_id: String, worker: usize) -> Recorder {
    let mut rec = Recorder::default();
    let mut rng = Rng::new(worker as u64 + 1);
    let mut mine: Vec<String> = Vec::new();
    let mut seq = 0u64;
    let body = vnet_body(&arm.location, true);
    let list_url = arm.vnets_url();
    while bounds.next() {
        let roll = rng.below(100);
        let kind = match roll {
            _ if mine.is_empty() => "create",
            0..=24 => "create",
            25..=59 => "get",
            60..=74 => "list",
            _ => "delete",
        };
        let started = Instant::now();
        let result: Result<()> = match kind {
            "create" => {
                seq += 1;
                let name = format!("cm-{run_id}-{worker}-{seq}");
                let r = arm.put(&arm.vnet_id(&name), &body, &mut rec, true).await.map(|_| ());
                if r.is_ok() {
                    mine.push(name);
                }
                r
            }
            "get" => {
                let name = &mine[rng.below(mine.len() as u64) as usize];
                arm.get(&arm.url(&arm.vnet_id(name), NETWORK_API), &mut rec).await.map(|_| ())
            }
            "list" => arm.get(&list_url, &mut rec).await.map(|_| ()),
            _ => {
                let name = mine.swap_remove(rng.below(mine.len() as u64) as usize);
                arm.delete(&arm.vnet_id(&name), &mut rec).await
            }
        };
        match result {
            Ok(()) => rec.ok(kind, started.elapsed()),
            Err(e) => rec.error(kind, &e),
        }
    }
    rec
}
