//! The HTTP side shared by every load run: one pooled keep-alive client, the worker loop
//! bounded in time and count, and an ARM client that behaves like an SDK (PUT/DELETE, then
//! poll the `Azure-AsyncOperation` URL until a terminal status).

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::Value;
use tokio::time::Instant;

use crate::stats::Recorder;

pub const NETWORK_API: &str = "2024-07-01";
pub const RESOURCES_API: &str = "2025-04-01";
pub const STORAGE_API: &str = "2023-01-01";

/// One client for the whole run: a pool of keep-alive connections shared by all workers.
pub fn client(ca: Option<&Path>, pool: usize, http2: bool) -> Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .pool_max_idle_per_host(pool.max(1))
        .pool_idle_timeout(Duration::from_secs(90))
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(60));
    if !http2 {
        // Like the Azure SDKs and the CLI (HTTP/1.1), one request per connection at a time.
        builder = builder.http1_only();
    }
    if let Some(ca) = ca {
        let pem = std::fs::read(ca).with_context(|| format!("reading CA file {}", ca.display()))?;
        let cert = reqwest::Certificate::from_pem(&pem).with_context(|| format!("parsing CA file {}", ca.display()))?;
        builder = builder.tls_built_in_root_certs(false).add_root_certificate(cert);
    }
    builder.build().context("building the HTTP client")
}

/// Shared bounds of a run: stop starting operations at `deadline` or after `max_ops`.
#[derive(Clone)]
pub struct Bounds {
    pub deadline: Instant,
    pub started: Arc<AtomicU64>,
    pub max_ops: u64,
}

impl Bounds {
    pub fn new(duration: Duration, max_ops: u64) -> Self {
        Bounds { deadline: Instant::now() + duration, started: Arc::new(AtomicU64::new(0)), max_ops }
    }

    /// Whether a worker may start one more operation (and counts it).
    pub fn next(&self) -> bool {
        self.claim().is_some()
    }

    /// Like `next`, giving the operation's number in start order (0, 1, 2, ...).
    pub fn claim(&self) -> Option<u64> {
        if Instant::now() >= self.deadline {
            return None;
        }
        let n = self.started.fetch_add(1, Ordering::Relaxed);
        (n < self.max_ops).then_some(n)
    }
}

/// Run `concurrency` workers to completion and merge what they recorded.
pub async fn run_workers<F, Fut>(concurrency: usize, make: F) -> Result<(Recorder, Duration)>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Recorder> + Send + 'static,
{
    let started = Instant::now();
    let mut handles = Vec::with_capacity(concurrency);
    for worker in 0..concurrency {
        handles.push(tokio::spawn(make(worker)));
    }
    let mut total = Recorder::default();
    for h in handles {
        total.merge(h.await.context("a worker task panicked")?);
    }
    Ok((total, started.elapsed()))
}

fn excerpt(text: &str) -> String {
    let t: String = text.chars().take(300).collect();
    t.replace('\n', " ")
}

/// An ARM endpoint and the resource group a run works in.
pub struct Arm {
    pub client: reqwest::Client,
    pub base: String,
    pub subscription: String,
    pub resource_group: String,
    pub location: String,
    pub poll_interval: Duration,
    pub max_polls: u32,
    /// The bearer token every request carries (from privlink's token endpoint).
    pub token: String,
}

impl Arm {
    pub fn rg_path(&self) -> String {
        format!("/subscriptions/{}/resourceGroups/{}", self.subscription, self.resource_group)
    }

    pub fn vnet_id(&self, vnet: &str) -> String {
        format!("{}/providers/Microsoft.Network/virtualNetworks/{vnet}", self.rg_path())
    }

    pub fn subnet_id(&self, vnet: &str, subnet: &str) -> String {
        format!("{}/subnets/{subnet}", self.vnet_id(vnet))
    }

    pub fn nic_id(&self, nic: &str) -> String {
        format!("{}/providers/Microsoft.Network/networkInterfaces/{nic}", self.rg_path())
    }

    pub fn url(&self, path: &str, api: &str) -> String {
        format!("{}{path}?api-version={api}", self.base)
    }

    pub fn vnets_url(&self) -> String {
        self.url(&format!("{}/providers/Microsoft.Network/virtualNetworks", self.rg_path()), NETWORK_API)
    }

    /// Create (or keep) the run's resource group: a synchronous PUT.
    pub async fn ensure_resource_group(&self) -> Result<()> {
        let url = self.url(&self.rg_path(), RESOURCES_API);
        let body = serde_json::json!({ "location": self.location });
        let resp =
            self.client.put(&url).bearer_auth(&self.token).json(&body).send().await.context("PUT resource group")?;
        let status = resp.status();
        let text = resp.text().await.context("reading the resource group response")?;
        if !status.is_success() {
            bail!("PUT {url}: {status}: {}", excerpt(&text));
        }
        Ok(())
    }

    /// The run's resource group and in it VNet `vnet` (10.1.0.0/16) with one subnet `subnet`
    /// (10.1.1.0/24), polled to Succeeded: where the DNS and gateway worlds start. Returns the
    /// VNet's id.
    pub async fn create_vnet_with_subnet(&self, vnet: &str, subnet: &str, rec: &mut Recorder) -> Result<String> {
        self.ensure_resource_group().await?;
        let id = self.vnet_id(vnet);
        let body = serde_json::json!({
            "location": self.location,
            "properties": {
                "addressSpace": { "addressPrefixes": ["10.1.0.0/16"] },
                "subnets": [ { "name": subnet, "properties": { "addressPrefix": "10.1.1.0/24" } } ]
            }
        });
        self.put(&id, &body, rec, true).await.context("creating the VNet")?;
        Ok(id)
    }

    /// PUT a resource and, if the answer carries an operation and `poll` is set, poll it to a
    /// terminal status. Returns the PUT's response body.
    pub async fn put(&self, path: &str, body: &Value, rec: &mut Recorder, poll: bool) -> Result<Value> {
        let (doc, op) = self.put_only(path, body, rec).await?;
        if let (true, Some(op)) = (poll, op) {
            self.poll(&op, rec).await?;
        }
        Ok(doc)
    }

    /// PUT a resource; returns the response body and the `Azure-AsyncOperation` URL, if any.
    pub async fn put_only(&self, path: &str, body: &Value, rec: &mut Recorder) -> Result<(Value, Option<String>)> {
        let resp = self.put_raw(path, NETWORK_API, body, rec).await?;
        if !resp.status.is_success() {
            bail!("PUT {path}: {}: {}", resp.status, resp.excerpt());
        }
        let doc = resp.json().with_context(|| format!("PUT {path}: response is not JSON"))?;
        Ok((doc, resp.operation))
    }

    /// PUT a resource with the given api-version and return the answer whatever its status
    /// (only a transport failure is an error).
    pub async fn put_raw(&self, path: &str, api: &str, body: &Value, rec: &mut Recorder) -> Result<PutResponse> {
        let url = self.url(path, api);
        rec.requests += 1;
        let resp = self.client.put(&url).bearer_auth(&self.token).json(body).send().await.context("PUT")?;
        let status = resp.status();
        let operation = header(&resp, "azure-asyncoperation");
        let body = resp.bytes().await.context("reading PUT response")?.to_vec();
        Ok(PutResponse { status, body, operation })
    }

    /// PUT with the given api-version and, when the answer carries an operation, poll it to
    /// Succeeded. Returns the PUT's response body (null when it is not JSON).
    pub async fn put_lro(&self, path: &str, api: &str, body: &Value, rec: &mut Recorder) -> Result<Value> {
        let resp = self.put_raw(path, api, body, rec).await?;
        if !resp.status.is_success() {
            bail!("PUT {path}: {}: {}", resp.status, resp.excerpt());
        }
        if let Some(op) = &resp.operation {
            self.poll(op, rec).await?;
        }
        Ok(resp.json().unwrap_or(Value::Null))
    }

    /// GET a URL (ARM or privlink's own API) and parse the answer as JSON; any other status
    /// than success is an error.
    pub async fn get_json(&self, url: &str) -> Result<Value> {
        let resp = self.client.get(url).bearer_auth(&self.token).send().await.with_context(|| format!("GET {url}"))?;
        let status = resp.status();
        let text = resp.text().await.context("reading a GET response")?;
        if !status.is_success() {
            bail!("GET {url}: {status}: {}", excerpt(&text));
        }
        serde_json::from_str(&text).with_context(|| format!("GET {url}: not JSON"))
    }

    /// DELETE a resource and poll its operation.
    pub async fn delete(&self, path: &str, rec: &mut Recorder) -> Result<()> {
        let url = self.url(path, NETWORK_API);
        rec.requests += 1;
        let resp = self.client.delete(&url).bearer_auth(&self.token).send().await.context("DELETE")?;
        let status = resp.status();
        let op = header(&resp, "azure-asyncoperation");
        let text = resp.text().await.context("reading DELETE response")?;
        if !status.is_success() {
            bail!("DELETE {path}: {status}: {}", excerpt(&text));
        }
        if let Some(op) = op {
            self.poll(&op, rec).await?;
        }
        Ok(())
    }

    /// GET a resource or a collection page; the body is read in full and its size returned.
    pub async fn get(&self, url: &str, rec: &mut Recorder) -> Result<usize> {
        rec.requests += 1;
        let resp = self.client.get(url).bearer_auth(&self.token).send().await.context("GET")?;
        let status = resp.status();
        let bytes = resp.bytes().await.context("reading GET response")?;
        if !status.is_success() {
            bail!("GET {url}: {status}: {}", excerpt(&String::from_utf8_lossy(&bytes)));
        }
        Ok(bytes.len())
    }

    /// Poll an `Azure-AsyncOperation` URL until Succeeded (immediately, then every
    /// `poll_interval`: the server's `Retry-After: 1` is ignored so that the run measures the
    /// server, not a client's sleep).
    pub async fn poll(&self, url: &str, rec: &mut Recorder) -> Result<()> {
        for attempt in 0..self.max_polls {
            if attempt > 0 {
                rec.extra_polls += 1;
                tokio::time::sleep(self.poll_interval).await;
            }
            rec.requests += 1;
            let resp = self.client.get(url).bearer_auth(&self.token).send().await.context("polling the operation")?;
            let status = resp.status();
            let bytes = resp.bytes().await.context("reading the operation status")?;
            if !status.is_success() {
                bail!("GET operation: {status}: {}", excerpt(&String::from_utf8_lossy(&bytes)));
            }
            let doc: Value = serde_json::from_slice(&bytes).context("operation status is not JSON")?;
            match doc.get("status").and_then(Value::as_str) {
                Some("Succeeded") => return Ok(()),
                Some("Failed") | Some("Canceled") => {
                    bail!("operation ended {}", excerpt(&doc.to_string()))
                }
                Some(_) => continue,
                None => bail!("operation status without a status field: {}", excerpt(&doc.to_string())),
            }
        }
        bail!("operation still running after {} polls", self.max_polls)
    }
}

/// What a PUT answered.
pub struct PutResponse {
    pub status: reqwest::StatusCode,
    pub body: Vec<u8>,
    /// The `Azure-AsyncOperation` header.
    pub operation: Option<String>,
}

impl PutResponse {
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The ARM error code of an error answer (`error.code`), if there is one.
    pub fn error_code(&self) -> Option<String> {
        self.json()?.pointer("/error/code").and_then(Value::as_str).map(str::to_string)
    }

    pub fn excerpt(&self) -> String {
        excerpt(&String::from_utf8_lossy(&self.body))
    }
}

fn header(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

/// A token from privlink's token endpoint for the service principal in `credentials.json`
/// (client credentials, ARM's scope), as an SDK's ClientSecretCredential would get one.
pub async fn token(client: &reqwest::Client, base: &str, credentials: &Path) -> Result<String> {
    let text = std::fs::read_to_string(credentials).with_context(|| format!("reading {}", credentials.display()))?;
    let c: Value = serde_json::from_str(&text).with_context(|| format!("{} is not JSON", credentials.display()))?;
    let field =
        |k: &str| c.get(k).and_then(Value::as_str).with_context(|| format!("{} has no {k}", credentials.display()));
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", field("clientId")?),
        ("client_secret", field("clientSecret")?),
        ("scope", "https://management.azure.com/.default"),
    ];
    let url = format!("{base}/{}/oauth2/v2.0/token", field("tenantId")?);
    let resp = client.post(&url).form(&form).send().await.context("requesting a token")?;
    let status = resp.status();
    let body: Value = resp.json().await.context("reading the token response")?;
    if !status.is_success() {
        bail!(
            "token endpoint answered {status}: {}",
            body.get("error_description").and_then(Value::as_str).unwrap_or("")
        );
    }
    Ok(body.get("access_token").and_then(Value::as_str).context("no access_token")?.to_string())
}
