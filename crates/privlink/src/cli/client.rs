//! A small client of privlink's own HTTP API, for the CLI. It finds the server through the data
//! directory's `endpoint.json` (URL, CA file, default subscription) unless told otherwise.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde_json::Value;

pub const NETWORK_API: &str = "2024-07-01";
pub const TARGET_API: &str = "2023-01-01";
pub const RESOURCES_API: &str = "2022-12-01";

#[derive(clap::Args, Debug, Clone)]
pub struct Connect {
    /// The data directory of the server to talk to (its endpoint.json says where it listens).
    #[arg(long, env = "PRIVLINK_DATA_DIR", default_value = ".privlink", global = true)]
    pub data_dir: PathBuf,
    /// The server URL (default: from endpoint.json).
    #[arg(long, env = "PRIVLINK_URL", global = true)]
    pub url: Option<String>,
    /// CA certificate to trust (default: from endpoint.json).
    #[arg(long, env = "PRIVLINK_CA", global = true)]
    pub ca: Option<PathBuf>,
}

pub struct Client {
    http: reqwest::Client,
    pub base: String,
}

impl Client {
    pub fn connect(c: &Connect) -> anyhow::Result<Client> {
        let endpoint = read_endpoint(&c.data_dir);
        let base = match (&c.url, &endpoint) {
            (Some(url), _) => url.trim_end_matches('/').to_string(),
            (None, Ok(doc)) => doc.get("url").and_then(Value::as_str).context("endpoint.json has no url")?.to_string(),
            (None, Err(e)) => bail!(
                "cannot find a running privlink server: {e:#}. Start one with `privlink serve` or pass --url and --ca"
            ),
        };
        let ca: Option<PathBuf> = c.ca.clone().or_else(|| {
            endpoint.as_ref().ok().and_then(|d| d.get("caFile").and_then(Value::as_str)).map(|p| {
                let path = PathBuf::from(p);
                if path.is_relative() {
                    std::env::current_dir().map(|d| d.join(&path)).unwrap_or(path)
                } else {
                    path
                }
            })
        });
        let mut builder = reqwest::Client::builder().use_rustls_tls();
        if let Some(ca) = ca {
            let pem = std::fs::read(&ca).with_context(|| format!("reading CA file {}", ca.display()))?;
            builder =
                builder.tls_built_in_root_certs(false).add_root_certificate(reqwest::Certificate::from_pem(&pem)?);
        }
        Ok(Client { http: builder.build()?, base })
    }

    fn url(&self, path: &str, api_version: &str) -> String {
        if path.starts_with("http") {
            return path.to_string();
        }
        let sep = if path.contains('?') { '&' } else { '?' };
        format!("{}{path}{sep}api-version={api_version}", self.base)
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        let response = request.bearer_auth("privlink-cli").send().await.context("contacting the privlink server")?;
        let status = response.status();
        let text = response.text().await?;
        let body: Value =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        if !status.is_success() {
            let code = body.pointer("/error/code").and_then(Value::as_str).unwrap_or("Error");
            let message = body.pointer("/error/message").and_then(Value::as_str).unwrap_or("");
            bail!("{} {code}: {message}", status.as_u16());
        }
        Ok(body)
    }

    pub async fn get(&self, path: &str, api_version: &str) -> anyhow::Result<Value> {
        self.send(self.http.get(self.url(path, api_version))).await
    }

    pub async fn put(&self, path: &str, api_version: &str, body: &Value) -> anyhow::Result<Value> {
        self.send(self.http.put(self.url(path, api_version)).json(body)).await
    }

    /// Every item of a paged list, following `nextLink`.
    pub async fn list(&self, path: &str, api_version: &str) -> anyhow::Result<Vec<Value>> {
        let mut out = Vec::new();
        let mut next = Some(self.url(path, api_version));
        while let Some(url) = next.take() {
            let page = self.send(self.http.get(&url)).await?;
            if let Some(items) = page.get("value").and_then(Value::as_array) {
                out.extend(items.iter().cloned());
            }
            next = page.get("nextLink").and_then(Value::as_str).map(str::to_string);
        }
        Ok(out)
    }

    /// The subscriptions to look at: the one asked for, or all the server has.
    pub async fn subscriptions(&self, only: Option<&str>) -> anyhow::Result<Vec<String>> {
        if let Some(s) = only {
            return Ok(vec![s.to_string()]);
        }
        Ok(self
            .list("/subscriptions", RESOURCES_API)
            .await?
            .iter()
            .filter_map(|s| s.get("subscriptionId").and_then(Value::as_str).map(str::to_string))
            .collect())
    }
}

fn read_endpoint(data_dir: &Path) -> anyhow::Result<Value> {
    let path = data_dir.join("endpoint.json");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok(serde_json::from_str(&text)?)
}
