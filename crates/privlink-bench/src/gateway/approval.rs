//! Approval to first allowed byte: how soon traffic flows once a Pending connection is approved.
//!
//! For each sample (untimed first): a manual private endpoint to the bench storage account's
//! blob, which stays Pending; its connection on the storage account, read back. A prober then
//! tries `CONNECT {endpoint ip}:443` through the VNet's proxy until it is refused once (so the
//! way is shut, as Pending must be). The clock starts just before the approval PUT is sent; the
//! prober keeps trying, `retry` apart, and the clock stops when the first byte comes back
//! through the tunnel from the echo backend. The PUT's own answer time (and its operation's, if
//! it has one) is recorded alongside: privlink answers a write only once the data planes have
//! applied it, so the first byte should arrive at most one retry after the answer.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout, Instant};

use super::setup::{endpoint_body, endpoint_ip, PORT};
use super::wire::{self, Command};
use crate::http::{Arm, NETWORK_API, STORAGE_API};
use crate::stats::Recorder;

pub struct Plan {
    pub samples: usize,
    /// Pause between two tries of the prober.
    pub retry: Duration,
    /// Longest a sample may wait for its first byte.
    pub limit: Duration,
    /// Names the endpoints (unique per run).
    pub run_id: String,
}

/// Where the world of `gateway setup` is (its world.json).
pub struct World {
    pub proxy: SocketAddr,
    pub storage_account: String,
}

pub struct Sample {
    /// PUT sent → first echoed byte.
    pub first_byte: Duration,
    /// PUT sent → its answer (and its operation's end, when it had one).
    pub put: Duration,
    /// Tries the prober made after the PUT was sent, the successful one included.
    pub tries: u64,
}

pub async fn run(arm: &Arm, world: &World, plan: &Plan) -> Result<Vec<Sample>> {
    let mut samples = Vec::with_capacity(plan.samples);
    let mut rec = Recorder::default();
    for i in 0..plan.samples {
        let sample = one(arm, world, plan, &format!("gwa-{}-{i:03}", plan.run_id), &mut rec)
            .await
            .with_context(|| format!("approval sample {}", i + 1))?;
        out!(
            "gateway approval sample {}: first byte {:.2} ms after the PUT was sent (PUT answered after {:.2} ms), {} tries",
            i + 1,
            ms(sample.first_byte),
            ms(sample.put),
            sample.tries
        );
        samples.push(sample);
    }
    Ok(samples)
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn one(arm: &Arm, world: &World, plan: &Plan, name: &str, rec: &mut Recorder) -> Result<Sample> {
    let pe = format!("{}/providers/Microsoft.Network/privateEndpoints/{name}", arm.rg_path());
    let doc = arm.put_lro(&pe, NETWORK_API, &endpoint_body(arm, &world.storage_account, true), rec).await?;
    let ip = endpoint_ip(&doc).with_context(|| format!("no private IP in {doc}"))?;
    let pe_id = doc.get("id").and_then(Value::as_str).unwrap_or(&pe).to_string();
    let (connection, mut body) = connection_of(arm, &world.storage_account, &pe_id).await?;
    let target = format!("{ip}:{PORT}");
    match probe(world.proxy, &target).await? {
        // 403: the policy forbids it, as a Pending connection must.
        Probe::Refused(403) => {}
        Probe::Refused(status) => bail!("{target} before approval: the proxy answered {status}, not 403"),
        Probe::Through => bail!("{target} carried traffic before its connection was approved"),
    }
    // As a portal or CLI approval does: the connection as read, with its state changed.
    let state = &mut body["properties"]["privateLinkServiceConnectionState"];
    state["status"] = json!("Approved");
    state["description"] = json!("approved by privlink-bench");

    let started = Instant::now();
    let put = {
        let url = arm.url(&connection, STORAGE_API);
        let request = arm.client.put(&url).bearer_auth(&arm.token).json(&body).send();
        let (client, token) = (arm.client.clone(), arm.token.clone());
        tokio::spawn(async move {
            let resp = request.await.context("PUT of the approval")?;
            let status = resp.status();
            let operation =
                resp.headers().get("azure-asyncoperation").and_then(|v| v.to_str().ok()).map(str::to_string);
            let text = resp.text().await.unwrap_or_default();
            if !status.is_success() {
                bail!("approving: {status}: {}", text.chars().take(300).collect::<String>());
            }
            if let Some(op) = operation {
                poll(&client, &token, &op).await?;
            }
            Ok::<Instant, anyhow::Error>(Instant::now())
        })
    };
    let mut tries = 0u64;
    let first_byte = loop {
        tries += 1;
        if let Probe::Through = probe(world.proxy, &target).await? {
            break started.elapsed();
        }
        if started.elapsed() > plan.limit {
            bail!("no byte through {target} {} s after the approval", plan.limit.as_secs());
        }
        tokio::time::sleep(plan.retry).await;
    };
    let answered = put.await.context("the approval task panicked")??;
    Ok(Sample { first_byte, put: answered.duration_since(started), tries })
}

/// The storage account's connection from endpoint `pe_id`: its id and its document.
async fn connection_of(arm: &Arm, account: &str, pe_id: &str) -> Result<(String, Value)> {
    let list = arm.get_json(&arm.url(&format!("{account}/privateEndpointConnections"), STORAGE_API)).await?;
    let found = list.get("value").and_then(Value::as_array).into_iter().flatten().find(|c| {
        c.pointer("/properties/privateEndpoint/id")
            .and_then(Value::as_str)
            .is_some_and(|id| id.eq_ignore_ascii_case(pe_id))
    });
    let found = found.with_context(|| format!("{account} has no connection from {pe_id}: {list}"))?;
    let id = found.get("id").and_then(Value::as_str).context("a connection without an id")?.to_string();
    Ok((id, found.clone()))
}

async fn poll(client: &reqwest::Client, token: &str, url: &str) -> Result<()> {
    for _ in 0..1000 {
        let doc: Value = client.get(url).bearer_auth(token).send().await?.json().await?;
        match doc.get("status").and_then(Value::as_str) {
            Some("Succeeded") => return Ok(()),
            Some("Failed") | Some("Canceled") => bail!("the approval's operation ended {doc}"),
            _ => tokio::time::sleep(Duration::from_millis(1)).await,
        }
    }
    bail!("the approval's operation did not end")
}

enum Probe {
    /// The proxy refused (its status).
    Refused(u16),
    /// A byte went to the backend and came back.
    Through,
}

/// One try: CONNECT through the proxy and, when it answers 200, one byte there and back.
async fn probe(proxy: SocketAddr, target: &str) -> Result<Probe> {
    let attempt = async {
        let mut stream = TcpStream::connect(proxy).await?;
        stream.set_nodelay(true)?;
        stream.write_all(wire::connect_request(target).as_bytes()).await?;
        let mut head = Vec::with_capacity(256);
        let mut chunk = [0u8; 512];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&chunk[..n]);
        }
        let status = wire::status_of(&head);
        if status != 200 {
            return Ok::<Probe, anyhow::Error>(Probe::Refused(status));
        }
        let mut request = wire::header(Command::Echo, 0).to_vec();
        request.push(b'x');
        stream.write_all(&request).await?;
        let mut byte = [0u8; 1];
        stream.read_exact(&mut byte).await?;
        Ok(Probe::Through)
    };
    timeout(wire::CONNECT_TIMEOUT, attempt).await.with_context(|| format!("probing {target} through {proxy}"))?
}
