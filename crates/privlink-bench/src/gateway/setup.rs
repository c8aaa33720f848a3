//! The world the gateway benchmark runs through, created through privlink's ARM API, and
//! haproxy's config for the same backend.
//!
//! privlink: a resource group; VNet `gwbench` (10.1.0.0/16, subnet `pe` 10.1.1.0/24); the
//! private DNS zone privatelink.blob.core.windows.net linked to it; a StorageV2 account whose
//! blob is bound to the bench backend (tag `privlink:backend:blob`); and a private endpoint to
//! it (automatic, so Approved) with a zone group, so the account's name resolves to the
//! endpoint's address inside the VNet. The gateway then has a proxy for the VNet and a
//! listener standing for the endpoint's `ip:443`.
//!
//! Written into `--out`: `paths` (one `NAME=SPEC` line per path, see [`super::wire::path`]),
//! `world.json` (what the approval measurement needs to add endpoints) and a config for each
//! haproxy asked for, `{name}.cfg`.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::dns::setup::{linked_zone, zone_group};
use crate::http::{Arm, NETWORK_API, STORAGE_API};
use crate::stats::Recorder;

pub const VNET: &str = "gwbench";
pub const SUBNET: &str = "pe";
/// The port the endpoint's listener stands for (blob over HTTPS).
pub const PORT: u16 = 443;
/// How long the gateway may take to publish the VNet's proxy and the endpoint's listener.
const PUBLISH_WAIT: Duration = Duration::from_secs(10);

pub struct Settings {
    pub backend: SocketAddr,
    pub out: PathBuf,
    pub account: String,
    /// The haproxy configs wanted (each a path of its own).
    pub haproxies: Vec<Haproxy>,
    /// haproxy's nbthread.
    pub haproxy_threads: usize,
}

/// One haproxy to compare with: `NAME=IP:PORT` or `NAME=IP:PORT/SPLICE`.
#[derive(Clone, Debug)]
pub struct Haproxy {
    pub name: String,
    pub listen: SocketAddr,
    pub splice: Splice,
}

/// Whether haproxy moves bytes with splice(2) between its sockets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Splice {
    /// Never: copies through its buffers.
    Never,
    /// `option splice-auto`: when haproxy judges a transfer large.
    Auto,
    /// `option splice-request` and `option splice-response`: always.
    Always,
}

impl Splice {
    pub fn name(self) -> &'static str {
        match self {
            Splice::Never => "never",
            Splice::Auto => "auto",
            Splice::Always => "always",
        }
    }
}

pub fn haproxy(text: &str) -> Result<Haproxy, String> {
    let (name, rest) = text.split_once('=').ok_or("expected NAME=IP:PORT[/never|auto|always]")?;
    let (addr, splice) = match rest.split_once('/') {
        Some((addr, "never")) => (addr, Splice::Never),
        Some((addr, "auto")) => (addr, Splice::Auto),
        Some((addr, "always")) => (addr, Splice::Always),
        Some((_, other)) => return Err(format!("splice {other:?}: expected never, auto or always")),
        None => (rest, Splice::Always),
    };
    let listen: SocketAddr = addr.parse().map_err(|e| format!("{addr}: {e}"))?;
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(format!("{name:?}: a haproxy's name is letters, digits and dashes"));
    }
    if !listen.ip().is_loopback() {
        return Err(format!("{listen} is not a loopback address"));
    }
    Ok(Haproxy { name: name.to_string(), listen, splice })
}

/// What setup produced.
pub struct World {
    pub proxy: SocketAddr,
    pub listener: SocketAddr,
    pub endpoint_ip: String,
    pub name: String,
    pub secs: f64,
}

pub async fn run(arm: Arm, s: &Settings) -> Result<World> {
    let started = Instant::now();
    let mut rec = Recorder::default();
    let vnet = arm.create_vnet_with_subnet(VNET, SUBNET, &mut rec).await?;
    let (_, zone_id) = linked_zone(&arm, VNET, &mut rec).await?;

    let target = storage_account(&arm, &s.account, s.backend, &mut rec).await?;
    let pe = format!("{}/providers/Microsoft.Network/privateEndpoints/pe-{}", arm.rg_path(), s.account);
    let doc = arm.put_lro(&pe, NETWORK_API, &endpoint_body(&arm, &target, false), &mut rec).await?;
    let endpoint_ip = endpoint_ip(&doc).with_context(|| format!("no private IP in {doc}"))?;
    zone_group(&arm, &pe, &zone_id, &mut rec).await?;

    let proxy = published(&arm, "proxies", "virtualNetwork", &vnet).await?;
    let listener = published(&arm, "listeners", "standsFor", &format!("{endpoint_ip}:{PORT}")).await?;
    let name = format!("{}.blob.core.windows.net", s.account);

    std::fs::create_dir_all(&s.out).with_context(|| format!("creating {}", s.out.display()))?;
    let mut paths = format!("direct={}\nlistener={listener}\nproxy={name}:{PORT}@{proxy}\n", s.backend);
    for h in &s.haproxies {
        let _ = writeln!(paths, "{}={}", h.name, h.listen);
        write(&s.out.join(format!("{}.cfg", h.name)), &haproxy_conf(h, s.haproxy_threads, s.backend))?;
    }
    write(&s.out.join("paths"), &paths)?;
    let world = json!({
        "resourceGroup": arm.resource_group, "virtualNetwork": vnet, "subnet": arm.subnet_id(VNET, SUBNET),
        "storageAccount": target, "proxy": proxy.to_string(), "listener": listener.to_string(),
        "endpointIp": endpoint_ip, "name": name, "backend": s.backend.to_string(),
    });
    write(&s.out.join("world.json"), &format!("{world:#}\n"))?;
    Ok(World { proxy, listener, endpoint_ip, name, secs: started.elapsed().as_secs_f64() })
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// A StorageV2 account whose blob goes to `backend`; returns its id.
async fn storage_account(arm: &Arm, account: &str, backend: SocketAddr, rec: &mut Recorder) -> Result<String> {
    let target = format!("{}/providers/Microsoft.Storage/storageAccounts/{account}", arm.rg_path());
    let body = json!({ "location": arm.location, "kind": "StorageV2", "sku": { "name": "Standard_LRS" } });
    arm.put_lro(&target, STORAGE_API, &body, rec).await?;
    let url = arm.url(&target, STORAGE_API);
    let tags = json!({ "tags": { "privlink:backend:blob": backend.to_string() } });
    let resp = arm.client.patch(&url).bearer_auth(&arm.token).json(&tags).send().await.context("PATCH tags")?;
    let status = resp.status();
    if !status.is_success() {
        bail!("binding the backend (PATCH {target}): {status}: {}", resp.text().await.unwrap_or_default());
    }
    Ok(target)
}

/// A private endpoint in the bench subnet to `target`'s blob: automatic (Approved at once) or
/// manual (Pending until approved).
pub fn endpoint_body(arm: &Arm, target: &str, manual: bool) -> Value {
    let connection = json!({ "name": "c", "properties": { "privateLinkServiceId": target, "groupIds": ["blob"] } });
    let (automatic, manual) = if manual { (vec![], vec![connection]) } else { (vec![connection], vec![]) };
    json!({
        "location": arm.location,
        "properties": {
            "subnet": { "id": arm.subnet_id(VNET, SUBNET) },
            "privateLinkServiceConnections": automatic,
            "manualPrivateLinkServiceConnections": manual,
        }
    })
}

/// The private IP of an endpoint, from its PUT answer.
pub fn endpoint_ip(doc: &Value) -> Option<String> {
    doc.pointer("/properties/customDnsConfigs/0/ipAddresses/0").and_then(Value::as_str).map(str::to_string)
}

/// The address of the entry of `/privlink/gateway/{list}` whose `key` is `value` (ids compared
/// without case), waiting for the gateway to publish it.
async fn published(arm: &Arm, list: &str, key: &str, value: &str) -> Result<SocketAddr> {
    let url = format!("{}/privlink/gateway/{list}", arm.base);
    let deadline = Instant::now() + PUBLISH_WAIT;
    loop {
        let doc = arm.get_json(&url).await?;
        let entry = doc
            .get("value")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|v| v.get(key).and_then(Value::as_str).is_some_and(|x| x.eq_ignore_ascii_case(value)));
        if let Some(address) = entry.and_then(|e| e.get("address")).and_then(Value::as_str) {
            return address.parse().with_context(|| format!("{list} address {address}"));
        }
        if Instant::now() >= deadline {
            bail!("no {list} entry with {key} {value} after {} s: {doc}", PUBLISH_WAIT.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// haproxy in TCP mode in front of the same backend: one frontend, one server, as many threads
/// as privlink's runtime has workers, and nothing else on the path (no logging, no health
/// checks). Its connection limit is left to haproxy, which derives it from the descriptor limit
/// (20,000 descriptors allow about 10,000 connections; privlink's gateway allows 20,000).
pub fn haproxy_conf(h: &Haproxy, threads: usize, backend: SocketAddr) -> String {
    let splice = match h.splice {
        Splice::Never => "",
        Splice::Auto => {
            "    # splice(2) between the two sockets when haproxy judges a transfer large.\n    option splice-auto\n"
        }
        Splice::Always => {
            "    # splice(2) between the two sockets, always.\n    option splice-request\n    option splice-response\n"
        }
    };
    format!(
        "# Generated by privlink-bench gateway setup: TCP mode, the same backend as every other path.
global
    nbthread {threads}

defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
{splice}
frontend bench
    bind {listen}
    default_backend echo

backend echo
    server echo {backend}
",
        threads = threads.max(1),
        listen = h.listen,
    )
}
