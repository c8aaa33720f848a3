//! A small client of privlink's own HTTP API, for the CLI. It finds the server through the data
//! directory's `endpoint.json` (URL, CA file, default subscription) unless told otherwise, and
//! authenticates like any Azure client: a bearer token from privlink's token endpoint.
//!
//! Who the CLI acts as, first match wins:
//! 1. `PRIVLINK_TOKEN`: a raw bearer token, sent as is;
//! 2. `AZURE_TENANT_ID`, `AZURE_CLIENT_ID` and `AZURE_CLIENT_SECRET` (all three set): that
//!    service principal, with the client-credentials grant;
//! 3. the administrator in the data directory's `credentials.json` (written on the server's
//!    first start).
//!
//! Secrets and tokens are never printed.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde_json::Value;

pub const NETWORK_API: &str = "2024-07-01";
pub const TARGET_API: &str = "2023-01-01";
pub const RESOURCES_API: &str = "2022-12-01";
pub const AUTHORIZATION_API: &str = "2022-04-01";

/// The scope the CLI asks tokens for (ARM's; privlink accepts both of ARM's audiences).
pub const ARM_SCOPE: &str = "https://management.azure.com/.default";

/// The file the server writes the administrator's credentials to, in its data directory.
pub const CREDENTIALS_FILE: &str = "credentials.json";

#[derive(clap::Args, Debug, Clone)]
pub struct Connect {
    /// The data directory of the server to talk to (its endpoint.json says where it listens;
    /// its credentials.json holds the administrator's credentials).
    #[arg(long, env = "PRIVLINK_DATA_DIR", default_value = ".privlink", global = true)]
    pub data_dir: PathBuf,
    /// The server URL (default: from endpoint.json).
    #[arg(long, env = "PRIVLINK_URL", global = true)]
    pub url: Option<String>,
    /// CA certificate to trust (default: from endpoint.json).
    #[arg(long, env = "PRIVLINK_CA", global = true)]
    pub ca: Option<PathBuf>,
}

/// Where the server is: its URL, the CA to trust (absolute; none for plain HTTP) and its
/// defaults, from `endpoint.json` and the `--url`/`--ca` overrides.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub url: String,
    pub ca: Option<PathBuf>,
    pub tenant_id: Option<String>,
    pub subscription_id: Option<String>,
}

fn absolute(path: PathBuf) -> PathBuf {
    let joined = if path.is_relative() { std::env::current_dir().map(|d| d.join(&path)).unwrap_or(path) } else { path };
    std::fs::canonicalize(&joined).unwrap_or(joined)
}

impl Endpoint {
    pub fn resolve(c: &Connect) -> anyhow::Result<Endpoint> {
        let doc = read_endpoint(&c.data_dir);
        let url = match (&c.url, &doc) {
            (Some(url), _) => url.trim_end_matches('/').to_string(),
            (None, Ok(doc)) => doc
                .get("url")
                .and_then(Value::as_str)
                .context("endpoint.json has no url")?
                .trim_end_matches('/')
                .to_string(),
            (None, Err(e)) => bail!(
                "cannot find a running privlink server: {e:#}. Start one with `privlink serve`, pass the \
                 --data-dir it uses, or pass --url and --ca"
            ),
        };
        let field = |k: &str| doc.as_ref().ok().and_then(|d| d.get(k)).and_then(Value::as_str).map(str::to_string);
        let ca = c.ca.clone().or_else(|| field("caFile").map(PathBuf::from)).map(absolute);
        Ok(Endpoint { url, ca, tenant_id: field("tenantId"), subscription_id: field("subscriptionId") })
    }
}

fn read_endpoint(data_dir: &Path) -> anyhow::Result<Value> {
    let path = data_dir.join("endpoint.json");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok(serde_json::from_str(&text)?)
}

/// A service principal's credentials. `Debug` leaves the secret out.
#[derive(Clone)]
pub struct Credentials {
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: String,
    pub object_id: Option<String>,
    pub subscription_id: Option<String>,
    /// Where they came from, for messages (`credentials.json in …`, `AZURE_CLIENT_ID…`).
    pub source: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("client_secret", &"***")
            .field("object_id", &self.object_id)
            .field("subscription_id", &self.subscription_id)
            .field("source", &self.source)
            .finish()
    }
}

impl Credentials {
    /// The administrator's credentials from `<data_dir>/credentials.json`.
    pub fn from_data_dir(data_dir: &Path) -> anyhow::Result<Credentials> {
        let path = data_dir.join(CREDENTIALS_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
                "no credentials: {} does not exist. It is created on the server's first start in {}; pass \
                 --data-dir <the server's data directory>",
                path.display(),
                data_dir.display()
            ),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        Credentials::parse(&text, &format!("{}", path.display()))
    }

    fn parse(text: &str, source: &str) -> anyhow::Result<Credentials> {
        let doc: Value = serde_json::from_str(text).with_context(|| format!("{source} is not JSON"))?;
        let field = |k: &str| doc.get(k).and_then(Value::as_str).filter(|v| !v.is_empty()).map(str::to_string);
        let need = |k: &str| field(k).with_context(|| format!("{source} has no \"{k}\""));
        Ok(Credentials {
            tenant_id: need("tenantId")?,
            client_id: need("clientId")?,
            client_secret: need("clientSecret")?,
            object_id: field("objectId"),
            subscription_id: field("subscriptionId"),
            source: source.to_string(),
        })
    }
}

/// How requests are authenticated.
#[derive(Debug, Clone)]
pub enum Auth {
    /// `PRIVLINK_TOKEN`: sent as is.
    Token,
    /// A token obtained with these credentials (once per process).
    ClientSecret(Credentials),
}

/// Pick the credentials from the environment (`var`) and the data directory, in the order the
/// module documentation gives. The `PRIVLINK_TOKEN` value itself is kept out of [`Auth`].
pub fn choose_auth(var: impl Fn(&str) -> Option<String>, data_dir: &Path) -> anyhow::Result<(Auth, Option<String>)> {
    let var = |k: &str| var(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    if let Some(token) = var("PRIVLINK_TOKEN") {
        return Ok((Auth::Token, Some(token)));
    }
    if let (Some(tenant_id), Some(client_id), Some(client_secret)) =
        (var("AZURE_TENANT_ID"), var("AZURE_CLIENT_ID"), var("AZURE_CLIENT_SECRET"))
    {
        return Ok((
            Auth::ClientSecret(Credentials {
                tenant_id,
                client_id,
                client_secret,
                object_id: None,
                subscription_id: var("AZURE_SUBSCRIPTION_ID"),
                source: "AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET".into(),
            }),
            None,
        ));
    }
    match Credentials::from_data_dir(data_dir) {
        Ok(c) => Ok((Auth::ClientSecret(c), None)),
        Err(e) => bail!("{e:#} (or set PRIVLINK_TOKEN, or AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET)"),
    }
}

/// An error answer of the API: status, ARM error code and message.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

/// Entra's `error_description` without its trailing trace/correlation ids and timestamp.
fn oauth_description(body: &Value) -> String {
    let description = body.get("error_description").and_then(Value::as_str).unwrap_or("");
    let description = description.split(" Trace ID:").next().unwrap_or(description).trim();
    let error = body.get("error").and_then(Value::as_str).unwrap_or("");
    match (error.is_empty(), description.is_empty()) {
        (_, false) if !error.is_empty() => format!("{error}: {description}"),
        (_, false) => description.to_string(),
        (false, true) => error.to_string(),
        (true, true) => body.to_string(),
    }
}

pub struct Client {
    http: reqwest::Client,
    pub base: String,
    pub endpoint: Endpoint,
    pub auth: Auth,
    /// `PRIVLINK_TOKEN`, or the token obtained on the first request.
    token: tokio::sync::OnceCell<String>,
}

impl Client {
    pub fn connect(c: &Connect) -> anyhow::Result<Client> {
        let endpoint = Endpoint::resolve(c)?;
        let (auth, token) = choose_auth(|k| std::env::var(k).ok(), &c.data_dir)?;
        let mut builder = reqwest::Client::builder().use_rustls_tls();
        if let Some(ca) = &endpoint.ca {
            let pem = std::fs::read(ca).with_context(|| format!("reading CA file {}", ca.display()))?;
            builder =
                builder.tls_built_in_root_certs(false).add_root_certificate(reqwest::Certificate::from_pem(&pem)?);
        }
        let cell = match token {
            Some(t) => tokio::sync::OnceCell::new_with(Some(t)),
            None => tokio::sync::OnceCell::new(),
        };
        Ok(Client { http: builder.build()?, base: endpoint.url.clone(), endpoint, auth, token: cell })
    }

    /// The tenant the caller's token is for, when known.
    pub fn caller_tenant(&self) -> Option<&str> {
        match &self.auth {
            Auth::ClientSecret(c) => Some(&c.tenant_id),
            Auth::Token => None,
        }
    }

    /// The bearer token: obtained once per process.
    pub async fn token(&self) -> anyhow::Result<&str> {
        let token = self
            .token
            .get_or_try_init(|| async {
                match &self.auth {
                    Auth::ClientSecret(credentials) => self.fetch_token(credentials).await,
                    Auth::Token => bail!("PRIVLINK_TOKEN is empty"),
                }
            })
            .await?;
        Ok(token.as_str())
    }

    /// The client-credentials grant at privlink's token endpoint.
    async fn fetch_token(&self, c: &Credentials) -> anyhow::Result<String> {
        let url = format!("{}/{}/oauth2/v2.0/token", self.base, c.tenant_id);
        let response = self
            .http
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[
                ("grant_type", "client_credentials"),
                ("client_id", &c.client_id),
                ("client_secret", &c.client_secret),
                ("scope", ARM_SCOPE),
            ]))
            .send()
            .await
            .with_context(|| format!("contacting the privlink token endpoint {url}"))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        match body.get("access_token").and_then(Value::as_str) {
            Some(token) if status.is_success() && !token.is_empty() => Ok(token.to_string()),
            _ => bail!(
                "the token endpoint {url} refused client {} (from {}): HTTP {} {}",
                c.client_id,
                c.source,
                status.as_u16(),
                oauth_description(&body)
            ),
        }
    }

    fn url(&self, path: &str, api_version: Option<&str>) -> String {
        let url = if path.starts_with("http") { path.to_string() } else { format!("{}{path}", self.base) };
        match api_version {
            Some(v) if !path.to_ascii_lowercase().contains("api-version=") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}api-version={v}")
            }
            _ => url,
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        let token = self.token().await?;
        let response = request.bearer_auth(token).send().await.context("contacting the privlink server")?;
        let status = response.status();
        let text = response.text().await?;
        let body: Value =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        if !status.is_success() {
            let code = body.pointer("/error/code").and_then(Value::as_str).unwrap_or("Error").to_string();
            let mut message = body.pointer("/error/message").and_then(Value::as_str).unwrap_or("").to_string();
            if status.as_u16() == 401 {
                let who = match &self.auth {
                    Auth::Token => "the PRIVLINK_TOKEN token".to_string(),
                    Auth::ClientSecret(c) => format!("client {} (from {})", c.client_id, c.source),
                };
                message = format!("{message} [authenticated as {who}]");
            }
            return Err(ApiError { status: status.as_u16(), code, message }.into());
        }
        Ok(body)
    }

    pub async fn get(&self, path: &str, api_version: &str) -> anyhow::Result<Value> {
        self.send(self.http.get(self.url(path, Some(api_version)))).await
    }

    pub async fn patch(&self, path: &str, api_version: &str, body: &Value) -> anyhow::Result<Value> {
        self.send(self.http.patch(self.url(path, Some(api_version))).json(body)).await
    }

    pub async fn put(&self, path: &str, api_version: &str, body: &Value) -> anyhow::Result<Value> {
        self.send(self.http.put(self.url(path, Some(api_version))).json(body)).await
    }

    /// A GET of privlink's own API (`/privlink/...`: no api-version).
    pub async fn get_plain(&self, path: &str) -> anyhow::Result<Value> {
        self.send(self.http.get(self.url(path, None))).await
    }

    /// A POST of privlink's own API with a JSON body.
    pub async fn post_plain(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.send(self.http.post(self.url(path, None)).json(body)).await
    }

    /// A PUT of privlink's own API with a JSON body.
    pub async fn put_plain(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.send(self.http.put(self.url(path, None)).json(body)).await
    }

    /// Every item of a paged list, following `nextLink`.
    pub async fn list(&self, path: &str, api_version: &str) -> anyhow::Result<Vec<Value>> {
        let mut out = Vec::new();
        let mut next = Some(self.url(path, Some(api_version)));
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

/// `application/x-www-form-urlencoded` of `pairs`.
pub fn form(pairs: &[(&str, &str)]) -> String {
    pairs.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&")
}

/// Percent-encoding of everything but RFC 3986's unreserved characters (a query value, a form
/// field).
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A new random GUID (version 4), for ids the client picks (subscriptions, role assignments).
/// Not for secrets.
pub fn new_guid() -> String {
    use std::hash::{BuildHasher, Hasher};
    let random = |salt: u64| {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(salt);
        h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
        h.write_u32(std::process::id());
        h.finish()
    };
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&random(1).to_le_bytes());
    bytes[8..].copy_from_slice(&random(2).to_le_bytes());
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

/// Whether `text` is a GUID (`8-4-4-4-12` hex digits).
pub fn is_guid(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.len() == 5
        && parts.iter().zip([8, 4, 4, 4, 12]).all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::HashMap;

    fn temp_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("privlink-cli-test-{}", new_guid()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    const CREDENTIALS: &str =
        r#"{"tenantId":"t1","subscriptionId":"s1","clientId":"c1","objectId":"o1","clientSecret":"abc8Q~secret"}"#;

    #[test]
    fn credentials_come_from_the_data_directory_by_default() {
        let dir = temp_dir();
        std::fs::write(dir.join(CREDENTIALS_FILE), CREDENTIALS).unwrap();
        let (auth, token) = choose_auth(|_| None, &dir).unwrap();
        let Auth::ClientSecret(c) = auth else { panic!("expected client credentials") };
        assert_eq!(
            (c.tenant_id.as_str(), c.client_id.as_str(), c.client_secret.as_str()),
            ("t1", "c1", "abc8Q~secret")
        );
        assert_eq!(c.subscription_id.as_deref(), Some("s1"));
        assert!(token.is_none());
        assert!(!format!("{c:?}").contains("secret\""), "Debug shows the secret: {c:?}");
        assert!(!format!("{c:?}").contains("abc8Q~"), "Debug shows the secret: {c:?}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_environment_overrides_the_file() {
        let dir = temp_dir();
        std::fs::write(dir.join(CREDENTIALS_FILE), CREDENTIALS).unwrap();
        let env: HashMap<&str, &str> =
            [("AZURE_TENANT_ID", "t2"), ("AZURE_CLIENT_ID", "c2"), ("AZURE_CLIENT_SECRET", "s2")].into();
        let (auth, _) = choose_auth(|k| env.get(k).map(|v| v.to_string()), &dir).unwrap();
        let Auth::ClientSecret(c) = auth else { panic!("expected client credentials") };
        assert_eq!((c.tenant_id.as_str(), c.client_id.as_str()), ("t2", "c2"));
        // Two of three are not enough: the file wins.
        let partial: HashMap<&str, &str> = [("AZURE_TENANT_ID", "t2"), ("AZURE_CLIENT_ID", "c2")].into();
        let (auth, _) = choose_auth(|k| partial.get(k).map(|v| v.to_string()), &dir).unwrap();
        let Auth::ClientSecret(c) = auth else { panic!("expected client credentials") };
        assert_eq!(c.client_id, "c1");
        // A raw token beats both.
        let with_token: HashMap<&str, &str> = [("PRIVLINK_TOKEN", "tok"), ("AZURE_TENANT_ID", "t2")].into();
        let (auth, token) = choose_auth(|k| with_token.get(k).map(|v| v.to_string()), &dir).unwrap();
        assert!(matches!(auth, Auth::Token));
        assert_eq!(token.as_deref(), Some("tok"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_missing_credentials_file_says_where_it_comes_from() {
        let dir = temp_dir();
        let e = choose_auth(|_| None, &dir).unwrap_err().to_string();
        assert!(e.contains("created on the server's first start in"), "{e}");
        assert!(e.contains("--data-dir"), "{e}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn entra_errors_lose_their_trace_ids() {
        let body = json!({"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided. Trace ID: x Correlation ID: y Timestamp: z"});
        assert_eq!(oauth_description(&body), "invalid_client: AADSTS7000215: Invalid client secret provided.");
        assert_eq!(oauth_description(&json!({"error": "x"})), "x");
    }

    #[test]
    fn encoding_and_guids() {
        assert_eq!(encode("roleName eq 'Reader'"), "roleName%20eq%20%27Reader%27");
        assert_eq!(encode("/subscriptions/a-b_c.d~"), "%2Fsubscriptions%2Fa-b_c.d~");
        assert_eq!(form(&[("a", "b c"), ("d", "e&f")]), "a=b%20c&d=e%26f");
        let g = new_guid();
        assert!(is_guid(&g), "{g}");
        assert_eq!(&g[14..15], "4");
        assert_ne!(new_guid(), new_guid());
        assert!(!is_guid("not-a-guid"));
    }
}
