//! The harness shared by privlink's integration tests.
//!
//! Every test starts its own `privlink serve` (the real binary) on `127.0.0.1:0` in a fresh
//! data directory, reads `endpoint.json`, and talks to it over HTTPS with a reqwest client
//! that trusts only the server's own CA. The store is SQLite by default; with
//! `PRIVLINK_TEST_STORE=postgres` and `PRIVLINK_TEST_POSTGRES_URL` set, every server uses its
//! own schema (`?schema=t_<uuid>`) in that database instead, so the same suite runs on both.
//! A failing test prints the tail of its server's log; `PRIVLINK_TEST_KEEP=1` keeps every data
//! directory (and PostgreSQL schema) for a closer look.
#![allow(dead_code)]

use std::fmt;
use std::io::{Read as _, Seek as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::{json, Value};

pub mod dns;
pub mod gateway;
pub mod private_link;

/// The Microsoft.Network api-version the helpers send unless a path names one.
pub const NET_API: &str = "2024-07-01";
/// The Private DNS api-version the helpers send for `privateDnsZones` paths.
pub const DNS_API: &str = "2024-06-01";
/// The Microsoft.Resources api-version the helpers send unless a path names one.
pub const RES_API: &str = "2025-04-01";
pub const LOCATION: &str = "westeurope";

/// How long to wait for a server to come up, or for an operation to finish.
const START_TIMEOUT: Duration = Duration::from_secs(30);
const OPERATION_TIMEOUT: Duration = Duration::from_secs(30);

/// One HTTP response: status, headers and the body as JSON (`Null` when empty, a JSON string
/// holding the raw text when it is not JSON).
pub struct Resp {
    pub status: u16,
    pub version: reqwest::Version,
    pub headers: HeaderMap,
    pub json: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The ARM error code, or "" when the body carries none.
    pub fn code(&self) -> &str {
        self.json["error"]["code"].as_str().unwrap_or("")
    }

    pub fn etag(&self) -> Option<&str> {
        self.header("etag")
    }

    /// `properties.provisioningState`.
    pub fn state(&self) -> &str {
        self.json["properties"]["provisioningState"].as_str().unwrap_or("")
    }
}

impl fmt::Debug for Resp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {} {}", self.status, self.json)
    }
}

impl fmt::Display for Resp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Assert an ARM error response: the status, the code, and the `{"error":{"code","message"}}` shape.
#[track_caller]
pub fn expect_error(r: &Resp, status: u16, code: &str) {
    assert_eq!(r.status, status, "expected HTTP {status} {code}, got {r}");
    assert_eq!(r.code(), code, "expected error code {code}, got {r}");
    let message = r.json["error"]["message"].as_str().unwrap_or("");
    assert!(!message.is_empty(), "error without a message: {r}");
    assert!(r.json.as_object().is_some_and(|o| o.len() == 1), "error body has more than `error`: {r}");
}

/// Which store servers use.
fn postgres_base_url() -> Option<String> {
    let wanted = std::env::var("PRIVLINK_TEST_STORE").unwrap_or_default();
    if !wanted.eq_ignore_ascii_case("postgres") {
        return None;
    }
    match std::env::var("PRIVLINK_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => panic!("PRIVLINK_TEST_STORE=postgres needs PRIVLINK_TEST_POSTGRES_URL (e.g. postgres://postgres@127.0.0.1:5432/test)"),
    }
}

pub fn using_postgres() -> bool {
    postgres_base_url().is_some()
}

/// What a `privlink` CLI run printed, and its exit code (`None` when killed by a signal).
pub struct CliOutput {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl fmt::Debug for CliOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "exit {:?}\n--- stdout ---\n{}--- stderr ---\n{}", self.code, self.stdout, self.stderr)
    }
}

/// A running `privlink serve`.
pub struct Server {
    dir: PathBuf,
    /// `--store` value, when not the default SQLite file in the data directory.
    store: Option<String>,
    /// `(database url, schema)` to drop when the server goes away.
    schema: Option<(String, String)>,
    child: Option<Child>,
    /// HTTP/2 (negotiated by ALPN) or HTTP/1.1, as the server offers.
    client: reqwest::Client,
    /// HTTP/1.1 only, for what depends on the `Host` header.
    client_http1: reqwest::Client,
    /// `https://127.0.0.1:<port>` of the current process.
    pub url: String,
    pub subscription: String,
    pub tenant: String,
    /// The `endpoint.json` the current process wrote.
    pub endpoint: Value,
    /// The administrator's credentials (`credentials.json`).
    pub credentials: Value,
    /// The bearer token requests carry unless they name their own `authorization` header:
    /// the administrator's, or whoever [`Server::act_as`] chose.
    token: std::sync::Mutex<String>,
    admin_token: String,
    /// Principals made by helpers, by the name they were given.
    named: std::sync::Mutex<std::collections::HashMap<String, Principal>>,
    /// Tokens already obtained for the current process, by app id (tokens name the URL they
    /// were issued at, so a restart forgets them).
    tokens: std::sync::Mutex<std::collections::HashMap<String, String>>,
    /// The principal that owns each subscription a helper made (lower-cased id), for reads
    /// that inspect a subscription whoever currently acts (see [`Server::get_as_owner`]).
    owners: std::sync::Mutex<std::collections::HashMap<String, Principal>>,
}

/// A service principal made through the admin API, with its secret.
#[derive(Debug, Clone)]
pub struct Principal {
    pub tenant: String,
    pub app_id: String,
    pub object_id: String,
    pub secret: String,
}

impl Server {
    /// A server with default settings (immediate provisioning).
    pub async fn start() -> Server {
        Server::start_with(&[]).await
    }

    /// A server with extra `serve` flags, e.g. `["--provisioning", "manual"]`.
    pub async fn start_with(args: &[&str]) -> Server {
        Server::start_configured(None, args).await
    }

    /// A server whose data directory holds `privlink.toml` with `toml` (e.g.
    /// `"[limits]\nprivate-endpoints-per-vnet = 2\n"`) before it starts.
    pub async fn start_with_config(toml: &str) -> Server {
        Server::start_configured(Some(toml), &[]).await
    }

    async fn start_configured(config: Option<&str>, args: &[&str]) -> Server {
        let dir = std::env::temp_dir().join(format!("privlink-test-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("creating the data directory");
        if let Some(toml) = config {
            std::fs::write(dir.join("privlink.toml"), toml).expect("writing privlink.toml");
        }
        let (store, schema) = match postgres_base_url() {
            Some(base) => {
                let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
                let sep = if base.contains('?') { '&' } else { '?' };
                (Some(format!("{base}{sep}schema={schema}")), Some((base, schema)))
            }
            None => (None, None),
        };
        let mut server = Server {
            dir,
            store,
            schema,
            child: None,
            client: reqwest::Client::new(),
            client_http1: reqwest::Client::new(),
            url: String::new(),
            subscription: String::new(),
            tenant: String::new(),
            endpoint: Value::Null,
            credentials: Value::Null,
            token: std::sync::Mutex::new(String::new()),
            admin_token: String::new(),
            named: Default::default(),
            tokens: Default::default(),
            owners: Default::default(),
        };
        server.spawn(args).await;
        server
    }

    pub fn data_dir(&self) -> &Path {
        &self.dir
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("server.log")
    }

    async fn spawn(&mut self, args: &[&str]) {
        assert!(self.child.is_none(), "the server is already running");
        let endpoint_file = self.dir.join("endpoint.json");
        let _ = std::fs::remove_file(&endpoint_file);
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.log_path()).expect("server.log");
        let mut command = Command::new(env!("CARGO_BIN_EXE_privlink"));
        command.arg("serve").arg("--data-dir").arg(&self.dir).arg("--listen").arg("127.0.0.1:0");
        if let Some(store) = &self.store {
            command.arg("--store").arg(store);
        }
        // Every VNet's resolver on its own free port: servers of parallel tests never collide.
        command.arg("--dns-listen").arg("127.77.0.1:0");
        command.arg("--proxy-port").arg("0").arg("--internet-proxy").arg("127.77.255.254:0");
        command.args(args);
        for var in [
            "PRIVLINK_DATA_DIR",
            "PRIVLINK_STORE",
            "PRIVLINK_LISTEN",
            "PRIVLINK_PROVISIONING",
            "PRIVLINK_DNS_LISTEN",
            "PRIVLINK_DNS_PER_VNET",
            "PRIVLINK_DNS_UPSTREAM",
            "PRIVLINK_PROXY_PORT",
            "PRIVLINK_INTERNET_PROXY",
        ] {
            command.env_remove(var);
        }
        command.env("PRIVLINK_LOG", "info");
        command.stdin(Stdio::null()).stdout(log.try_clone().expect("log handle")).stderr(log);
        let mut child = command.spawn().expect("spawning privlink serve");
        let pid = child.id();
        let started = Instant::now();
        let endpoint = loop {
            if let Some(status) = child.try_wait().expect("polling the server process") {
                panic!("privlink serve exited with {status} before it was ready:\n{}", self.log_tail());
            }
            if let Ok(text) = std::fs::read_to_string(&endpoint_file) {
                if let Ok(doc) = serde_json::from_str::<Value>(&text) {
                    if doc["pid"].as_u64() == Some(u64::from(pid)) {
                        break doc;
                    }
                }
            }
            if started.elapsed() > START_TIMEOUT {
                let _ = child.kill();
                let _ = child.wait();
                panic!("privlink serve did not write endpoint.json within {START_TIMEOUT:?}:\n{}", self.log_tail());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        self.child = Some(child);
        self.url = endpoint["url"].as_str().expect("endpoint.json url").to_string();
        self.subscription = endpoint["subscriptionId"].as_str().expect("endpoint.json subscriptionId").to_string();
        self.tenant = endpoint["tenantId"].as_str().expect("endpoint.json tenantId").to_string();
        let ca_file = endpoint["caFile"].as_str().expect("endpoint.json caFile");
        let ca = std::fs::read(ca_file).expect("reading ca.pem");
        let client = |http1_only: bool| {
            let mut builder = reqwest::Client::builder()
                .use_rustls_tls()
                .tls_built_in_root_certs(false)
                .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("parsing ca.pem"))
                .no_proxy()
                .timeout(Duration::from_secs(120));
            if http1_only {
                builder = builder.http1_only();
            }
            builder.build().expect("building the HTTPS client")
        };
        self.client = client(false);
        self.client_http1 = client(true);
        self.endpoint = endpoint;
        assert!(self.url.starts_with("https://127.0.0.1:"), "unexpected url {}", self.url);
        let credentials = std::fs::read_to_string(self.dir.join("credentials.json")).expect("reading credentials.json");
        self.credentials = serde_json::from_str(&credentials).expect("parsing credentials.json");
        let c = &self.credentials;
        let admin = Principal {
            tenant: c["tenantId"].as_str().expect("tenantId").to_string(),
            app_id: c["clientId"].as_str().expect("clientId").to_string(),
            object_id: c["objectId"].as_str().expect("objectId").to_string(),
            secret: c["clientSecret"].as_str().expect("clientSecret").to_string(),
        };
        // Tokens name the URL they were issued at, which changes with the port on restart.
        self.tokens.lock().expect("tokens lock").clear();
        self.admin_token = self.token_for(&admin).await;
        self.act_as_token(&self.admin_token.clone());
    }

    // ---- identity ----------------------------------------------------------------------------

    /// The administrator (Owner of the default subscription, privlink admin).
    pub fn admin_token(&self) -> String {
        self.admin_token.clone()
    }

    /// From now on, requests carry `token` (see [`Server::act_as_admin`]).
    pub fn act_as_token(&self, token: &str) {
        *self.token.lock().expect("token lock") = token.to_string();
    }

    /// From now on, requests act as `principal`.
    pub async fn act_as(&self, principal: &Principal) {
        let token = self.cached_token_for(principal).await;
        self.act_as_token(&token);
    }

    /// The administrator as a [`Principal`] (from `credentials.json`).
    pub fn admin(&self) -> Principal {
        let c = &self.credentials;
        let text = |k: &str| c[k].as_str().unwrap_or_else(|| panic!("credentials.json without {k}")).to_string();
        Principal {
            tenant: text("tenantId"),
            app_id: text("clientId"),
            object_id: text("objectId"),
            secret: text("clientSecret"),
        }
    }

    /// [`Server::token_for`], asked once per principal and server process.
    pub async fn cached_token_for(&self, principal: &Principal) -> String {
        if let Some(t) = self.tokens.lock().expect("tokens lock").get(&principal.app_id) {
            return t.clone();
        }
        let token = self.token_for(principal).await;
        self.tokens.lock().expect("tokens lock").insert(principal.app_id.clone(), token.clone());
        token
    }

    /// Record `owner` as the principal owning `subscription` (see [`Server::get_as_owner`]).
    pub fn remember_owner(&self, subscription: &str, owner: Principal) {
        self.owners.lock().expect("owners lock").insert(subscription.to_ascii_lowercase(), owner);
    }

    /// GET `path` as the owner of the subscription it names: the administrator for the default
    /// subscription, the owner a helper recorded for the others, else whoever currently acts.
    /// For assertions that look at both sides of something spanning subscriptions (a private
    /// endpoint and its target), each side read by someone allowed to read it.
    pub async fn get_as_owner(&self, path: &str) -> Resp {
        let sub = path
            .split('/')
            .skip_while(|seg| !seg.eq_ignore_ascii_case("subscriptions"))
            .nth(1)
            .unwrap_or_default()
            .to_ascii_lowercase();
        let owner = self.owners.lock().expect("owners lock").get(&sub).cloned();
        let token = match owner {
            _ if sub.eq_ignore_ascii_case(&self.subscription) => self.admin_token.clone(),
            Some(p) => self.cached_token_for(&p).await,
            None => self.token.lock().expect("token lock").clone(),
        };
        let auth = format!("Bearer {token}");
        self.request(Method::GET, path, None, &[("authorization", &auth)]).await
    }

    /// Keep `principal` under `name` for [`Server::act_as_named`].
    pub fn remember(&self, name: &str, principal: Principal) {
        self.named.lock().expect("principals lock").insert(name.to_string(), principal);
    }

    pub fn principal(&self, name: &str) -> Principal {
        self.named.lock().expect("principals lock").get(name).cloned().unwrap_or_else(|| panic!("no principal {name}"))
    }

    /// From now on, requests act as the principal remembered under `name`.
    pub async fn act_as_named(&self, name: &str) {
        let p = self.principal(name);
        self.act_as(&p).await;
    }

    pub fn act_as_admin(&self) {
        self.act_as_token(&self.admin_token.clone());
    }

    /// A token for `principal` from the token endpoint (client credentials, ARM's scope).
    pub async fn token_for(&self, principal: &Principal) -> String {
        let url = format!("{}/{}/oauth2/v2.0/token", self.url, principal.tenant);
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", principal.app_id.as_str()),
            ("client_secret", principal.secret.as_str()),
            ("scope", "https://management.azure.com/.default"),
        ];
        let response = self.client.post(&url).form(&form).send().await.expect("token request");
        let status = response.status();
        let body: Value = response.json().await.expect("token response");
        assert!(status.is_success(), "token for {}: {status} {body}", principal.app_id);
        body["access_token"].as_str().expect("access_token").to_string()
    }

    /// `POST /privlink/admin/tenants`: a new tenant's id.
    pub async fn create_tenant(&self, name: &str) -> String {
        let r = self.admin_send(Method::POST, "/privlink/admin/tenants", &json!({ "displayName": name })).await;
        assert_eq!(r.status, 201, "creating tenant {name}: {r}");
        r.json["tenantId"].as_str().expect("tenantId").to_string()
    }

    /// A service principal in `tenant` (the default tenant when `None`).
    pub async fn create_principal(&self, tenant: Option<&str>, name: &str) -> Principal {
        let tenant = tenant.unwrap_or(&self.tenant).to_string();
        let path = format!("/privlink/admin/tenants/{tenant}/servicePrincipals");
        let r = self.admin_send(Method::POST, &path, &json!({ "displayName": name })).await;
        assert_eq!(r.status, 201, "creating service principal {name}: {r}");
        Principal {
            tenant,
            app_id: r.json["appId"].as_str().expect("appId").to_string(),
            object_id: r.json["objectId"].as_str().expect("objectId").to_string(),
            secret: r.json["clientSecret"].as_str().expect("clientSecret").to_string(),
        }
    }

    /// `PUT /privlink/admin/subscriptions/{new id}` in `tenant`, owned by `owner` (object id).
    pub async fn create_subscription_for(&self, tenant: Option<&str>, owner: &str) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        let tenant = tenant.unwrap_or(&self.tenant).to_string();
        let body = json!({ "displayName": format!("owned by {owner}"), "tenantId": tenant, "owner": owner });
        let r = self.admin_send(Method::PUT, &format!("/privlink/admin/subscriptions/{id}"), &body).await;
        assert_eq!(r.status, 201, "creating subscription {id}: {r}");
        id
    }

    /// Assign `role` (a built-in role's GUID) at `scope` to `principal_id`, acting as whoever
    /// requests currently act as.
    pub async fn assign_role(&self, scope: &str, role: &str, principal_id: &str) -> Resp {
        let sub = scope.split('/').nth(2).unwrap_or_default();
        let body = json!({ "properties": {
            "roleDefinitionId": format!("/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{role}"),
            "principalId": principal_id,
            "principalType": "ServicePrincipal",
        }});
        let path = format!(
            "{scope}/providers/Microsoft.Authorization/roleAssignments/{}?api-version=2022-04-01",
            uuid::Uuid::new_v4()
        );
        self.send(Method::PUT, &path, Some(body.to_string().into_bytes()), &[]).await
    }

    /// A request to the admin API with the administrator's token.
    pub async fn admin_send(&self, method: Method, path: &str, body: &Value) -> Resp {
        let auth = format!("Bearer {}", self.admin_token);
        self.send(method, path, Some(body.to_string().into_bytes()), &[("authorization", &auth)]).await
    }

    /// `kill -9` the server (no graceful shutdown), and wait for it to be gone.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Child::kill sends SIGKILL on Unix.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// `kill -9` the server if it runs, then start it again on the same data directory and
    /// store with `args`. The port changes: see [`Server::rebase`].
    pub async fn restart(&mut self, args: &[&str]) {
        self.kill9();
        self.spawn(args).await;
    }

    /// The OS process id of the running server.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The last lines the server logged.
    pub fn log_tail(&self) -> String {
        let mut text = String::new();
        if let Ok(mut f) = std::fs::File::open(self.log_path()) {
            let len = f.metadata().map(|m| m.len()).unwrap_or(0);
            let _ = f.seek(std::io::SeekFrom::Start(len.saturating_sub(8000)));
            let _ = f.read_to_string(&mut text);
        }
        text
    }

    /// Run the `privlink` binary's client commands against this server (`--data-dir` is added:
    /// the CLI finds the server through its `endpoint.json`).
    pub fn cli(&self, args: &[&str]) -> CliOutput {
        let mut command = Command::new(env!("CARGO_BIN_EXE_privlink"));
        command.args(args).arg("--data-dir").arg(&self.dir);
        // The CLI's identity comes from the data directory, never from the developer's shell.
        for var in [
            "PRIVLINK_DATA_DIR",
            "PRIVLINK_URL",
            "PRIVLINK_CA",
            "PRIVLINK_STORE",
            "PRIVLINK_TOKEN",
            "AZURE_TENANT_ID",
            "AZURE_CLIENT_ID",
            "AZURE_CLIENT_SECRET",
        ] {
            command.env_remove(var);
        }
        let out = command.stdin(Stdio::null()).output().expect("running the privlink CLI");
        CliOutput {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    // ---- paths -------------------------------------------------------------------------------

    pub fn sub(&self) -> String {
        format!("/subscriptions/{}", self.subscription)
    }

    pub fn rg(&self, rg: &str) -> String {
        format!("{}/resourceGroups/{rg}", self.sub())
    }

    /// `.../resourceGroups/{rg}/providers/Microsoft.Network/{rest}`
    pub fn net(&self, rg: &str, rest: &str) -> String {
        format!("{}/providers/Microsoft.Network/{rest}", self.rg(rg))
    }

    pub fn vnet(&self, rg: &str, name: &str) -> String {
        self.net(rg, &format!("virtualNetworks/{name}"))
    }

    pub fn subnet(&self, rg: &str, vnet: &str, name: &str) -> String {
        format!("{}/subnets/{name}", self.vnet(rg, vnet))
    }

    pub fn peering(&self, rg: &str, vnet: &str, name: &str) -> String {
        format!("{}/virtualNetworkPeerings/{name}", self.vnet(rg, vnet))
    }

    pub fn nsg(&self, rg: &str, name: &str) -> String {
        self.net(rg, &format!("networkSecurityGroups/{name}"))
    }

    pub fn nic(&self, rg: &str, name: &str) -> String {
        self.net(rg, &format!("networkInterfaces/{name}"))
    }

    /// An absolute URL of this server for `url` (which may carry another server's origin, e.g.
    /// an operation URL handed out before a restart).
    pub fn rebase(&self, url: &str) -> String {
        let path = match url.split_once("://") {
            Some((_, rest)) => rest.find('/').map(|i| &rest[i..]).unwrap_or("/"),
            None => url,
        };
        format!("{}{path}", self.url)
    }

    /// `path` with the default api-version added when it names none.
    pub fn with_api(path: &str) -> String {
        if path.to_ascii_lowercase().contains("api-version=") {
            return path.to_string();
        }
        let lower = path.to_ascii_lowercase();
        let version = if lower.contains("/providers/microsoft.network/privatednszones") {
            DNS_API
        } else if lower.contains("/providers/microsoft.network/") {
            NET_API
        } else {
            RES_API
        };
        let sep = if path.contains('?') { '&' } else { '?' };
        format!("{path}{sep}api-version={version}")
    }

    // ---- requests ----------------------------------------------------------------------------

    /// Send exactly this request (`target` is a path or an absolute URL; no api-version added).
    pub async fn send(&self, method: Method, target: &str, body: Option<Vec<u8>>, headers: &[(&str, &str)]) -> Resp {
        self.send_on(&self.client, method, target, body, headers).await
    }

    /// [`Server::send`] over HTTP/1.1 (a `Host` header instead of HTTP/2's `:authority`).
    pub async fn send_http1(
        &self,
        method: Method,
        target: &str,
        body: Option<Vec<u8>>,
        headers: &[(&str, &str)],
    ) -> Resp {
        self.send_on(&self.client_http1, method, target, body, headers).await
    }

    async fn send_on(
        &self,
        client: &reqwest::Client,
        method: Method,
        target: &str,
        body: Option<Vec<u8>>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let url = if target.starts_with("http://") || target.starts_with("https://") {
            self.rebase(target)
        } else {
            format!("{}{target}", self.url)
        };
        let mut request = client.request(method.clone(), &url);
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body);
        }
        // The current token unless the caller names its own header ("" sends none).
        let own_auth = headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("authorization"));
        if !own_auth {
            let token = self.token.lock().expect("token lock").clone();
            if !token.is_empty() {
                request = request.bearer_auth(token);
            }
        }
        for (name, value) in headers {
            if name.eq_ignore_ascii_case("authorization") && value.is_empty() {
                continue;
            }
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap_or_else(|e| panic!("{method} {url}: {e}\n{}", self.log_tail()));
        Server::read_response(&method, &url, response).await
    }

    /// POST an `application/x-www-form-urlencoded` body (the token endpoints) with exactly
    /// `headers`: no bearer token is added.
    pub async fn post_form(&self, path: &str, form: &[(&str, &str)], headers: &[(&str, &str)]) -> Resp {
        let url = format!("{}{path}", self.url);
        let mut request = self.client.post(&url).form(form);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap_or_else(|e| panic!("POST {url}: {e}\n{}", self.log_tail()));
        Server::read_response(&Method::POST, &url, response).await
    }

    async fn read_response(method: &Method, url: &str, response: reqwest::Response) -> Resp {
        let status = response.status().as_u16();
        let version = response.version();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.unwrap_or_else(|e| panic!("{method} {url}: reading body: {e}"));
        let json = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Resp { status, version, headers, json }
    }

    /// A request with the default api-version added to `path` when it names none.
    pub async fn request(&self, method: Method, path: &str, body: Option<&Value>, headers: &[(&str, &str)]) -> Resp {
        let target = if path.starts_with("http") { path.to_string() } else { Server::with_api(path) };
        self.send(method, &target, body.map(|b| b.to_string().into_bytes()), headers).await
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.request(Method::GET, path, None, &[]).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Resp {
        self.request(Method::PUT, path, Some(body), &[]).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Resp {
        self.request(Method::PATCH, path, Some(body), &[]).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.request(Method::DELETE, path, None, &[]).await
    }

    pub async fn head(&self, path: &str) -> Resp {
        self.request(Method::HEAD, path, None, &[]).await
    }

    pub async fn post(&self, path: &str) -> Resp {
        self.request(Method::POST, path, None, &[]).await
    }

    /// PUT a raw body (malformed JSON and the like).
    pub async fn put_raw(&self, path: &str, body: &str) -> Resp {
        self.send(Method::PUT, &Server::with_api(path), Some(body.as_bytes().to_vec()), &[]).await
    }

    // ---- long-running operations -------------------------------------------------------------

    /// Poll the `Azure-AsyncOperation` URL of `r` until the operation leaves `InProgress`;
    /// returns the final status body.
    pub async fn wait_op(&self, r: &Resp) -> Value {
        let url = r
            .header("azure-asyncoperation")
            .unwrap_or_else(|| panic!("no Azure-AsyncOperation header on {r}"))
            .to_string();
        self.wait_op_url(url).await
    }

    /// Poll an `Azure-AsyncOperation` URL until the operation leaves `InProgress`.
    pub async fn wait_op_url(&self, url: String) -> Value {
        self.wait_op_url_within(url, OPERATION_TIMEOUT).await
    }

    /// [`Server::wait_op_url`] with its own time limit.
    pub async fn wait_op_url_within(&self, url: String, limit: Duration) -> Value {
        let started = Instant::now();
        loop {
            let r = self.send(Method::GET, &url, None, &[]).await;
            assert_eq!(r.status, 200, "polling {url}: {r}");
            match r.json["status"].as_str() {
                Some("InProgress") => {}
                Some(_) => return r.json,
                None => panic!("operation status without `status`: {r}"),
            }
            assert!(started.elapsed() < limit, "operation {url} still InProgress after {limit:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Create or replace `path`; asserts 200/201, waits for the operation when there is one,
    /// and returns the resource as a GET sees it afterwards (provisioningState Succeeded).
    pub async fn put_ok(&self, path: &str, body: &Value) -> Value {
        let r = self.put(path, body).await;
        assert!(r.status == 200 || r.status == 201, "PUT {path} failed: {r}\n{body}");
        if r.header("azure-asyncoperation").is_some() {
            let done = self.wait_op(&r).await;
            assert_eq!(done["status"], "Succeeded", "PUT {path}: operation {done}");
        }
        let g = self.get(path).await;
        assert_eq!(g.status, 200, "GET {path} after PUT: {g}");
        // A resource without a provisioning state (a Private DNS record set) counts as Succeeded.
        let stateless = g.json["properties"].get("provisioningState").is_none();
        assert!(stateless || g.state() == "Succeeded", "GET {path} after PUT: {g}");
        g.json
    }

    /// Delete `path` and wait until it is gone (GET answers 404).
    pub async fn delete_ok(&self, path: &str) {
        let r = self.delete(path).await;
        assert!(matches!(r.status, 200 | 202 | 204), "DELETE {path} failed: {r}");
        if r.status == 202 {
            let done = self.wait_op(&r).await;
            assert_eq!(done["status"], "Succeeded", "DELETE {path}: operation {done}");
        }
        let g = self.get(path).await;
        assert_eq!(g.status, 404, "GET {path} after DELETE: {g}");
    }

    /// The address a data-plane listing (`/privlink/dns/resolvers`, `/privlink/gateway/proxies`)
    /// gives for the VNet `vnet_id`, waiting up to 5 s for it to be bound.
    pub async fn listed_address(&self, listing: &str, vnet_id: &str) -> std::net::SocketAddr {
        let started = Instant::now();
        loop {
            let r = self.get(listing).await;
            assert_eq!(r.status, 200, "GET {listing}: {r}");
            let found = r.json["value"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|v| v["virtualNetwork"].as_str().is_some_and(|id| id.eq_ignore_ascii_case(vnet_id)));
            if let Some(address) = found.and_then(|v| v["address"].as_str()) {
                return address.parse().unwrap_or_else(|e| panic!("{listing}: address {address}: {e}"));
            }
            assert!(started.elapsed() < Duration::from_secs(5), "{listing}: nothing for {vnet_id}: {r}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `POST /privlink/reconciler/step`: complete pending operations now (manual timing).
    pub async fn step(&self) -> Value {
        let r = self.send(Method::POST, "/privlink/reconciler/step", None, &[]).await;
        assert_eq!(r.status, 200, "reconciler step: {r}");
        r.json
    }

    // ---- fixtures ----------------------------------------------------------------------------

    /// Create a resource group in [`LOCATION`].
    pub async fn create_rg(&self, rg: &str) -> Value {
        let r = self.put(&self.rg(rg), &json!({ "location": LOCATION })).await;
        assert_eq!(r.status, 201, "creating resource group {rg}: {r}");
        r.json
    }

    /// Create a VNet with an address space and inline subnets `(name, prefix)`; returns it as
    /// GET sees it.
    pub async fn create_vnet(&self, rg: &str, name: &str, space: &[&str], subnets: &[(&str, &str)]) -> Value {
        let path = self.vnet(rg, name);
        self.put_ok(&path, &vnet_body(space, subnets)).await
    }

    /// Create a NIC with one IP configuration on `subnet_id`; returns the raw PUT response
    /// after waiting for its operation when it was accepted.
    pub async fn create_nic(&self, rg: &str, name: &str, subnet_id: &str, static_ip: Option<&str>) -> Resp {
        let r = self.put(&self.nic(rg, name), &nic_body(subnet_id, static_ip)).await;
        if r.status == 201 || r.status == 200 {
            let done = self.wait_op(&r).await;
            assert_eq!(done["status"], "Succeeded", "NIC {name}: {done}");
        }
        r
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
        if std::thread::panicking() {
            eprintln!(
                "---- privlink serve log ({}) ----\n{}\n---- end of log ----",
                self.dir.display(),
                self.log_tail()
            );
        }
        if std::env::var_os("PRIVLINK_TEST_KEEP").is_some() {
            eprintln!("kept {} (PRIVLINK_TEST_KEEP is set)", self.dir.display());
            return;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some((url, schema)) = self.schema.take() {
            // The synchronous postgres client runs its own runtime: keep it off this one.
            let _ = std::thread::spawn(move || {
                if let Ok(mut client) = postgres::Client::connect(&url, postgres::NoTls) {
                    let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
                }
            })
            .join();
        }
    }
}

// ---- request bodies ------------------------------------------------------------------------------

/// A VNet PUT body.
pub fn vnet_body(space: &[&str], subnets: &[(&str, &str)]) -> Value {
    let subnets: Vec<Value> =
        subnets.iter().map(|(n, p)| json!({ "name": n, "properties": { "addressPrefix": p } })).collect();
    json!({
        "location": LOCATION,
        "properties": { "addressSpace": { "addressPrefixes": space }, "subnets": subnets },
    })
}

/// A NIC PUT body with one IP configuration `ipconfig1` on `subnet_id`.
pub fn nic_body(subnet_id: &str, static_ip: Option<&str>) -> Value {
    let mut props = json!({ "subnet": { "id": subnet_id } });
    match static_ip {
        Some(ip) => {
            props["privateIPAllocationMethod"] = json!("Static");
            props["privateIPAddress"] = json!(ip);
        }
        None => props["privateIPAllocationMethod"] = json!("Dynamic"),
    }
    json!({
        "location": LOCATION,
        "properties": { "ipConfigurations": [ { "name": "ipconfig1", "properties": props } ] },
    })
}

/// The private IP of a NIC's first IP configuration.
pub fn nic_ip(nic: &Value) -> String {
    nic["properties"]["ipConfigurations"][0]["properties"]["privateIPAddress"]
        .as_str()
        .unwrap_or_else(|| panic!("NIC without a private IP: {nic}"))
        .to_string()
}

/// The decoded JSON of one base64url part of a JWT (0: header, 1: claims).
fn jwt_part(token: &str, index: usize) -> Value {
    use base64::Engine as _;
    let part = token.split('.').nth(index).unwrap_or_else(|| panic!("not a JWT: {token}"));
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .unwrap_or_else(|e| panic!("JWT part {index} is not base64url: {e}"));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("JWT part {index} is not JSON: {e}"))
}

/// A JWT's header (`alg`, `kid`, `typ`), not verified.
pub fn jwt_header(token: &str) -> Value {
    jwt_part(token, 0)
}

/// A JWT's claims, not verified.
pub fn jwt_claims(token: &str) -> Value {
    jwt_part(token, 1)
}

/// The names in a list response's `value`.
pub fn names(list: &Value) -> Vec<String> {
    list["value"]
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|v| v["name"].as_str().unwrap_or_default().to_string())
        .collect()
}
