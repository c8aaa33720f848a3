//! The world both DNS servers answer for, created through privlink's ARM API, and the same
//! records written out for unbound.
//!
//! privlink: a resource group; VNet `dnsbench` (10.1.0.0/16, subnet `pe` 10.1.1.0/24); the
//! private DNS zone privatelink.blob.core.windows.net linked to it; `records` A record sets
//! `r00000`, `r00001`, ... (TTL 300, one address each in 10.200.0.0/16); and `storage_accounts`
//! StorageV2 accounts, each with a private endpoint in `pe` and a DNS zone group, so the zone
//! also holds `{account}` (the endpoint's address, TTL 10) and the account's public name is a
//! CNAME to its `privatelink.` name.
//!
//! unbound gets what privlink then *holds*, not what was asked for: the zone's A record sets are
//! read back through the API (`.../ALL`), and the public CNAMEs as privlink's resolver answers
//! them. The query file lists every record set's name and every public name once (type A).

use std::fmt::Write as _;
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use tokio::time::Instant;

use super::wire::{self, QType, Question};
use crate::http::{Arm, NETWORK_API, STORAGE_API};
use crate::stats::Recorder;

pub const ZONE: &str = "privatelink.blob.core.windows.net";
const PUBLIC_SUFFIX: &str = "blob.core.windows.net";
const PRIVATE_DNS_API: &str = "2024-06-01";
const VNET: &str = "dnsbench";
const SUBNET: &str = "pe";
/// How long the VNet's resolver may take to appear in `/privlink/dns/resolvers`.
const RESOLVER_WAIT: Duration = Duration::from_secs(10);

pub struct Settings {
    pub records: u64,
    pub storage_accounts: u64,
    /// Concurrent record set PUTs.
    pub concurrency: usize,
    pub out: PathBuf,
    pub unbound_listen: SocketAddr,
    pub unbound_threads: usize,
    /// Prefix of the storage account names (lower-case letters and digits, unique per run).
    pub account_prefix: String,
}

/// What setup produced.
pub struct World {
    pub resolver: SocketAddr,
    pub a_records: usize,
    pub cnames: usize,
    pub queries: usize,
    pub secs: f64,
}

pub async fn run(arm: Arm, s: &Settings) -> Result<World> {
    let started = Instant::now();
    let mut rec = Recorder::default();
    let vnet = arm.create_vnet_with_subnet(VNET, SUBNET, &mut rec).await?;
    let (zone, zone_id) = linked_zone(&arm, VNET, &mut rec).await?;

    let arm = Arc::new(arm);
    create_records(&arm, &zone, s.records, s.concurrency).await?;
    let mut public_names = Vec::new();
    for j in 0..s.storage_accounts {
        let account = format!("{}{j}", s.account_prefix);
        endpoint_to(&arm, &account, &zone_id, &mut rec).await.with_context(|| format!("storage account {account}"))?;
        public_names.push(format!("{account}.{PUBLIC_SUFFIX}"));
    }

    let resolver = resolver_of(&arm, &vnet).await?;
    let a_records = list_a_records(&arm, &zone).await?;
    let mut cnames = Vec::new();
    for name in &public_names {
        let reply = ask(resolver, &Question { name: name.clone(), qtype: QType::A })?;
        let cname = reply.answers.iter().find(|r| r.rtype == 5 && r.name == *name);
        let cname = cname.with_context(|| format!("privlink answered {name} without a CNAME: {reply:?}"))?;
        cnames.push(cname.clone());
    }

    std::fs::create_dir_all(&s.out).with_context(|| format!("creating {}", s.out.display()))?;
    let mut queries = String::new();
    for (name, _, _) in &a_records {
        let _ = writeln!(queries, "{name}.{ZONE} A");
    }
    for name in &public_names {
        let _ = writeln!(queries, "{name} A");
    }
    write(&s.out.join("queries.txt"), &queries)?;
    write(&s.out.join("unbound.conf"), &unbound_conf(s, &a_records, &cnames))?;
    write(&s.out.join("resolver"), &format!("{resolver}\n"))?;
    Ok(World {
        resolver,
        a_records: a_records.len(),
        cnames: cnames.len(),
        queries: a_records.len() + public_names.len(),
        secs: started.elapsed().as_secs_f64(),
    })
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// The private DNS zone [`ZONE`] in the run's resource group, linked to VNet `vnet` (both
/// benchmarks' endpoints resolve through it). Returns the zone's path and its id.
pub async fn linked_zone(arm: &Arm, vnet: &str, rec: &mut Recorder) -> Result<(String, String)> {
    let zone = format!("{}/providers/Microsoft.Network/privateDnsZones/{ZONE}", arm.rg_path());
    let zone_doc = arm.put_lro(&zone, PRIVATE_DNS_API, &json!({ "location": "global" }), rec).await?;
    let zone_id = zone_doc.get("id").and_then(Value::as_str).unwrap_or(&zone).to_string();
    let link = json!({
        "location": "global",
        "properties": { "virtualNetwork": { "id": arm.vnet_id(vnet) }, "registrationEnabled": false }
    });
    arm.put_lro(&format!("{zone}/virtualNetworkLinks/{vnet}"), PRIVATE_DNS_API, &link, rec).await?;
    Ok((zone, zone_id))
}

/// The zone group of private endpoint `pe` that writes its address into the zone `zone_id`.
pub async fn zone_group(arm: &Arm, pe: &str, zone_id: &str, rec: &mut Recorder) -> Result<()> {
    let group = json!({
        "properties": { "privateDnsZoneConfigs": [ { "name": "blob", "properties": { "privateDnsZoneId": zone_id } } ] }
    });
    arm.put_lro(&format!("{pe}/privateDnsZoneGroups/default"), NETWORK_API, &group, rec).await?;
    Ok(())
}

/// `r00000` .. with one address each, `concurrency` PUTs at a time (synchronous: no polling).
async fn create_records(arm: &Arc<Arm>, zone: &str, n: u64, concurrency: usize) -> Result<()> {
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (arm, next, zone) = (arm.clone(), next.clone(), zone.to_string());
        tasks.push(tokio::spawn(async move {
            let mut rec = Recorder::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return Ok::<(), anyhow::Error>(());
                }
                let ip = format!("10.200.{}.{}", (i >> 8) & 0xff, i & 0xff);
                let body = json!({ "properties": { "ttl": 300, "aRecords": [ { "ipv4Address": ip } ] } });
                let path = format!("{zone}/A/r{i:05}");
                let resp = arm.put_raw(&path, PRIVATE_DNS_API, &body, &mut rec).await?;
                if !resp.status.is_success() {
                    bail!("PUT {path}: {}: {}", resp.status, resp.excerpt());
                }
            }
        }));
    }
    for t in tasks {
        t.await.context("a record set task panicked")??;
    }
    Ok(())
}

/// A storage account with a private endpoint (blob) in the VNet and a zone group writing its
/// address into the zone.
async fn endpoint_to(arm: &Arm, account: &str, zone_id: &str, rec: &mut Recorder) -> Result<()> {
    let target = format!("{}/providers/Microsoft.Storage/storageAccounts/{account}", arm.rg_path());
    let body = json!({ "location": arm.location, "kind": "StorageV2", "sku": { "name": "Standard_LRS" } });
    arm.put_lro(&target, STORAGE_API, &body, rec).await?;
    let pe = format!("{}/providers/Microsoft.Network/privateEndpoints/pe-{account}", arm.rg_path());
    let body = json!({
        "location": arm.location,
        "properties": {
            "subnet": { "id": arm.subnet_id(VNET, SUBNET) },
            "privateLinkServiceConnections": [
                { "name": "c", "properties": { "privateLinkServiceId": target, "groupIds": ["blob"] } }
            ]
        }
    });
    arm.put_lro(&pe, NETWORK_API, &body, rec).await?;
    zone_group(arm, &pe, zone_id, rec).await
}

/// The VNet's resolver address from `/privlink/dns/resolvers`.
async fn resolver_of(arm: &Arm, vnet: &str) -> Result<SocketAddr> {
    let url = format!("{}/privlink/dns/resolvers", arm.base);
    let deadline = Instant::now() + RESOLVER_WAIT;
    loop {
        let doc = arm.get_json(&url).await?;
        let entry =
            doc.get("value").and_then(Value::as_array).into_iter().flatten().find(|v| {
                v.get("virtualNetwork").and_then(Value::as_str).is_some_and(|id| id.eq_ignore_ascii_case(vnet))
            });
        if let Some(address) = entry.and_then(|e| e.get("address")).and_then(Value::as_str) {
            return address.parse().with_context(|| format!("resolver address {address}"));
        }
        if Instant::now() >= deadline {
            bail!("no resolver address for {vnet} after {} s: {doc}", RESOLVER_WAIT.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The zone's A record sets as privlink holds them: `(relative name, ttl, addresses)`.
async fn list_a_records(arm: &Arm, zone: &str) -> Result<Vec<(String, u64, Vec<String>)>> {
    let mut url = arm.url(&format!("{zone}/ALL"), PRIVATE_DNS_API);
    let mut out = Vec::new();
    loop {
        let page = arm.get_json(&url).await?;
        for set in page.get("value").and_then(Value::as_array).into_iter().flatten() {
            let rtype = set.get("type").and_then(Value::as_str).unwrap_or("");
            if !rtype.eq_ignore_ascii_case("Microsoft.Network/privateDnsZones/A") {
                continue;
            }
            let name = set.get("name").and_then(Value::as_str).context("a record set without a name")?;
            let props = set.get("properties").cloned().unwrap_or(Value::Null);
            let ttl = props.get("ttl").and_then(Value::as_u64).context("a record set without a ttl")?;
            let ips: Vec<String> = props
                .get("aRecords")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|r| r.get("ipv4Address").and_then(Value::as_str).map(str::to_string))
                .collect();
            out.push((name.to_ascii_lowercase(), ttl, ips));
        }
        match page.get("nextLink").and_then(Value::as_str) {
            Some(next) if !next.is_empty() => url = next.to_string(),
            _ => break,
        }
    }
    out.sort();
    Ok(out)
}

/// One question over UDP (three tries, one second each).
pub fn ask(server: SocketAddr, q: &Question) -> Result<wire::Reply> {
    let socket = UdpSocket::bind(SocketAddr::from(([127, 0, 0, 1], 0))).context("binding a socket")?;
    socket.connect(server)?;
    socket.set_read_timeout(Some(Duration::from_secs(1)))?;
    let mut packet = wire::query(q)?;
    let id = rand_id();
    packet[..2].copy_from_slice(&id.to_be_bytes());
    let mut buf = [0u8; 4096];
    for _ in 0..3 {
        socket.send(&packet)?;
        while let Ok(len) = socket.recv(&mut buf) {
            if let Ok(reply) = wire::parse_reply(&buf[..len]) {
                if reply.id == id {
                    return Ok(reply);
                }
            }
        }
    }
    bail!("{server} did not answer {q}")
}

/// An id that differs between calls (not security relevant: the socket is connected).
fn rand_id() -> u16 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    (nanos ^ (nanos >> 16)) as u16
}

/// unbound with the same data as local-data, answering only from it: unknown names under
/// blob.core.windows.net are NXDOMAIN (privlink is authoritative there), anything else REFUSED
/// (privlink has no upstream in the benchmark), and unbound never sends a query anywhere.
fn unbound_conf(s: &Settings, a_records: &[(String, u64, Vec<String>)], cnames: &[wire::Record]) -> String {
    let dir = s.out.display();
    let (ip, port) = (s.unbound_listen.ip(), s.unbound_listen.port());
    let mut c = format!(
        "# Generated by privlink-bench dns setup: the records privlink holds, as local-data.
server:
    interface: {ip}@{port}
    port: {port}
    do-ip6: no
    num-threads: {threads}
    so-reuseport: yes
    access-control: 127.0.0.0/8 allow
    chroot: \"\"
    username: \"\"
    directory: \"{dir}\"
    pidfile: \"{dir}/unbound.pid\"
    use-syslog: no
    logfile: \"\"
    verbosity: 0
    # No validator (no trust anchor to load); nothing here is ever resolved recursively.
    module-config: \"iterator\"
    outgoing-interface: 127.0.0.1
    local-zone: \".\" refuse
    local-zone: \"{PUBLIC_SUFFIX}.\" static
    local-zone: \"{ZONE}.\" static
",
        threads = s.unbound_threads.max(1),
    );
    for (name, ttl, ips) in a_records {
        for ip in ips {
            let _ = writeln!(c, "    local-data: \"{name}.{ZONE}. {ttl} IN A {ip}\"");
        }
    }
    for r in cnames {
        let _ = writeln!(c, "    local-data: \"{}. {} IN CNAME {}.\"", r.name, r.ttl, r.data);
    }
    c.push_str("remote-control:\n    control-enable: no\n");
    c
}
