//! `privlink az-login`: set up the Azure CLI for this server in one step, in a configuration
//! directory of its own (`AZURE_CONFIG_DIR`, default `<data-dir>/azure-cli`), so the user's real
//! Azure CLI profile is never touched.
//!
//! The steps: forget earlier logins (MSAL caches tokens by host without the port, so a token of
//! an earlier server on another port would be reused; see [`forget_logins`]), register (or update, since the port can
//! change between runs) the `privlink` cloud, switch to it, turn off instance discovery (MSAL
//! would ask login.microsoftonline.com about the authority) and telemetry, log in as the
//! administrator service principal and select the default subscription.
//!
//! Progress goes to stderr; stdout carries only `export` lines, for `eval "$(privlink az-login)"`.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{bail, Context};
use clap::Args;

use super::client::{Connect, Credentials, Endpoint};
use super::shell::{self, Shell};

/// The name of the cloud privlink registers in the Azure CLI.
pub const CLOUD: &str = "privlink";

#[derive(Args, Debug)]
pub struct AzLoginArgs {
    #[command(flatten)]
    pub connect: Connect,
    /// The Azure CLI to run (default: $AZ, else `az` on the PATH).
    #[arg(long)]
    pub az: Option<PathBuf>,
    /// The Azure CLI configuration directory to set up (default: <data-dir>/azure-cli).
    #[arg(long)]
    pub config_dir: Option<PathBuf>,
    /// How to print AZURE_CONFIG_DIR and REQUESTS_CA_BUNDLE: sh, json or powershell.
    #[arg(long, value_enum, default_value = "sh")]
    pub shell: Shell,
}

/// One `az` invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub args: Vec<String>,
    /// The index in `args` of a secret, left out when the command is shown.
    pub secret: Option<usize>,
    /// A failure is reported and ignored.
    pub optional: bool,
}

impl Step {
    fn new(args: &[&str]) -> Step {
        Step { args: args.iter().map(|a| a.to_string()).collect(), secret: None, optional: false }
    }

    fn optional(mut self) -> Step {
        self.optional = true;
        self
    }

    /// The command line as shown to people: the secret (and its option) left out.
    pub fn display(&self) -> String {
        let mut words = vec!["az".to_string()];
        for (i, a) in self.args.iter().enumerate() {
            match self.secret {
                Some(s) if i == s => {}
                Some(s) if i + 1 == s => {}
                _ => words.push(a.clone()),
            }
        }
        words.join(" ")
    }
}

/// `az cloud register|update` for a server at `url`.
pub fn cloud_step(verb: &str, url: &str) -> Step {
    let url = url.trim_end_matches('/');
    Step {
        args: vec![
            "cloud".into(),
            verb.into(),
            "-n".into(),
            CLOUD.into(),
            "--endpoint-resource-manager".into(),
            format!("{url}/"),
            "--endpoint-active-directory".into(),
            url.into(),
            "--endpoint-active-directory-resource-id".into(),
            "https://management.core.windows.net/".into(),
            "--endpoint-active-directory-graph-resource-id".into(),
            format!("{url}/"),
            "--skip-endpoint-discovery".into(),
        ],
        secret: None,
        optional: false,
    }
}

/// The steps after the cloud is registered or updated. The secret reaches az as `@file` (az
/// reads the argument from that file), never on a command line other processes can read.
pub fn login_steps(c: &Credentials, secret_file: &Path, subscription: &str) -> Vec<Step> {
    vec![
        Step::new(&["cloud", "set", "-n", CLOUD]),
        Step::new(&["config", "set", "core.instance_discovery=false"]),
        Step::new(&["config", "set", "core.collect_telemetry=false"]).optional(),
        Step {
            args: vec![
                "login".into(),
                "--service-principal".into(),
                "--username".into(),
                c.client_id.clone(),
                "--password".into(),
                format!("@{}", secret_file.display()),
                "--tenant".into(),
                c.tenant_id.clone(),
                "--output".into(),
                "none".into(),
            ],
            secret: Some(5),
            optional: false,
        },
        Step::new(&["account", "set", "--subscription", subscription]),
    ]
}

/// The environment every `az` run gets.
pub fn az_env(config_dir: &Path, ca: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("AZURE_CONFIG_DIR", config_dir.display().to_string()),
        ("REQUESTS_CA_BUNDLE", ca.display().to_string()),
        ("AZURE_CORE_COLLECT_TELEMETRY", "false".into()),
    ]
}

/// The files in an Azure CLI configuration directory that hold logins: the subscriptions
/// (`azureProfile.json`), MSAL's token cache, the service principal entries (plain or encrypted)
/// and MSAL's HTTP cache of OpenID documents.
pub fn is_login_state(file_name: &str) -> bool {
    file_name == "azureProfile.json"
        || ["msal_token_cache.", "service_principal_entries.", "msal_http_cache."]
            .iter()
            .any(|p| file_name.starts_with(p))
}

/// Forget every earlier login in `config_dir`, as `az account clear` would. MSAL keys its token
/// cache by host without the port, so a token from an earlier server on 127.0.0.1 would be
/// reused and refused. (`az account clear` itself cannot be used: it asks the authority for the
/// `organizations` tenant's OpenID document, which neither privlink nor, offline,
/// login.microsoftonline.com answers, and stops before clearing the token cache.)
fn forget_logins(config_dir: &Path) -> anyhow::Result<Vec<String>> {
    let mut removed = Vec::new();
    for entry in std::fs::read_dir(config_dir).with_context(|| format!("reading {}", config_dir.display()))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if is_login_state(&name) && entry.file_type()?.is_file() {
            std::fs::remove_file(entry.path()).with_context(|| format!("removing {}", entry.path().display()))?;
            removed.push(name);
        }
    }
    removed.sort();
    Ok(removed)
}

/// Whether `az cloud register` failed because the cloud exists already.
pub fn already_registered(stderr: &str) -> bool {
    let s = stderr.to_ascii_lowercase();
    s.contains("already registered") || s.contains("already exists")
}

/// The last `n` lines of `text` (az prints whole tracebacks).
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(n);
    let skipped = if start > 0 { format!("[… {start} lines]\n") } else { String::new() };
    format!("{skipped}{}", lines[start..].join("\n"))
}

struct Az {
    program: PathBuf,
    env: Vec<(&'static str, String)>,
}

struct Outcome {
    ok: bool,
    code: Option<i32>,
    stderr: String,
}

impl Az {
    async fn run(&self, step: &Step) -> anyhow::Result<Outcome> {
        eprintln!("privlink az-login: {}", step.display());
        let mut command = tokio::process::Command::new(&self.program);
        command.args(&step.args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        for (k, v) in &self.env {
            command.env(k, v);
        }
        let out = match command.output().await {
            Ok(out) => out,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
                "cannot run the Azure CLI '{}': not found. Install it (e.g. `pip install azure-cli` in a venv) and \
                 pass --az <path to az>, or set AZ",
                self.program.display()
            ),
            Err(e) => return Err(e).with_context(|| format!("running {}", self.program.display())),
        };
        Ok(Outcome {
            ok: out.status.success(),
            code: out.status.code(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }

    /// Run `step`; a failure of a required step ends az-login with az's own error output.
    async fn must(&self, step: &Step) -> anyhow::Result<()> {
        let outcome = self.run(step).await?;
        if outcome.ok {
            return Ok(());
        }
        if step.optional {
            let last = outcome.stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("");
            eprintln!("privlink az-login: (ignored) `{}` failed: {last}", step.display());
            return Ok(());
        }
        bail!(
            "`{}` failed (exit {}):\n{}",
            step.display(),
            outcome.code.map_or("by signal".to_string(), |c| c.to_string()),
            tail(&outcome.stderr, 25)
        )
    }
}

pub async fn az_login(args: AzLoginArgs) -> anyhow::Result<()> {
    let data_dir = &args.connect.data_dir;
    let endpoint = Endpoint::resolve(&args.connect)?;
    if !endpoint.url.starts_with("https://") {
        bail!("the server at {} speaks plain HTTP; the Azure CLI sends tokens only over HTTPS", endpoint.url);
    }
    let ca = endpoint.ca.clone().context("endpoint.json names no CA file; pass --ca")?;
    if !ca.exists() {
        bail!("the CA file {} does not exist; pass --ca", ca.display());
    }
    let credentials = Credentials::from_data_dir(data_dir)?;
    let subscription = credentials
        .subscription_id
        .clone()
        .or_else(|| endpoint.subscription_id.clone())
        .context("neither credentials.json nor endpoint.json names a subscription")?;
    let config_dir = args.config_dir.clone().unwrap_or_else(|| data_dir.join("azure-cli"));
    std::fs::create_dir_all(&config_dir).with_context(|| format!("creating {}", config_dir.display()))?;
    let config_dir = std::fs::canonicalize(&config_dir).unwrap_or(config_dir);
    if let Some(home) = std::env::var_os("HOME").map(PathBuf::from) {
        if std::fs::canonicalize(home.join(".azure")).is_ok_and(|own| own == config_dir) {
            bail!(
                "{} is your own Azure CLI profile: az-login would switch its cloud and log you out. Use the default \
                 (<data-dir>/azure-cli) or another --config-dir",
                config_dir.display()
            );
        }
    }
    let program = args
        .az
        .clone()
        .or_else(|| std::env::var_os("AZ").filter(|v| !v.is_empty()).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("az"));
    let az = Az { program, env: az_env(&config_dir, &ca) };

    eprintln!("privlink az-login: setting up the Azure CLI in {} for {}", config_dir.display(), endpoint.url);
    let removed = forget_logins(&config_dir)?;
    if !removed.is_empty() {
        eprintln!("privlink az-login: forgot earlier logins (removed {})", removed.join(", "));
    }
    let register = cloud_step("register", &endpoint.url);
    let outcome = az.run(&register).await?;
    if !outcome.ok {
        if !already_registered(&outcome.stderr) {
            bail!("`{}` failed:\n{}", register.display(), tail(&outcome.stderr, 25));
        }
        az.must(&cloud_step("update", &endpoint.url)).await?;
    }
    let secret_file = config_dir.join(".privlink-login-secret");
    privlink_server::tls::write_private(&secret_file, &credentials.client_secret)?;
    let mut result = Ok(());
    for step in login_steps(&credentials, &secret_file, &subscription) {
        result = az.must(&step).await;
        if result.is_err() {
            break;
        }
    }
    let _ = std::fs::remove_file(&secret_file);
    result?;

    let exports =
        [("AZURE_CONFIG_DIR", config_dir.display().to_string()), ("REQUESTS_CA_BUNDLE", ca.display().to_string())];
    print!("{}", shell::render(args.shell, &exports, &[]));
    eprintln!(
        "privlink az-login: logged in as service principal {} (from {}) in tenant {}; default subscription {}.",
        credentials.client_id, credentials.source, credentials.tenant_id, subscription
    );
    eprintln!(
        "  With AZURE_CONFIG_DIR={} and REQUESTS_CA_BUNDLE={} set (eval \"$(privlink az-login)\" sets them), try: \
         az network vnet list -o table",
        shell::sh_quote(&config_dir.display().to_string()),
        shell::sh_quote(&ca.display().to_string())
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credentials() -> Credentials {
        Credentials {
            tenant_id: "tid".into(),
            client_id: "cid".into(),
            client_secret: "s3cr8Q~et".into(),
            object_id: None,
            subscription_id: Some("sub".into()),
            source: "test".into(),
        }
    }

    #[test]
    fn the_cloud_points_at_the_server() {
        let step = cloud_step("register", "https://127.0.0.1:8443/");
        assert_eq!(
            step.display(),
            "az cloud register -n privlink --endpoint-resource-manager https://127.0.0.1:8443/ \
             --endpoint-active-directory https://127.0.0.1:8443 --endpoint-active-directory-resource-id \
             https://management.core.windows.net/ --endpoint-active-directory-graph-resource-id \
             https://127.0.0.1:8443/ --skip-endpoint-discovery"
        );
        assert_eq!(cloud_step("update", "https://h:1").args[1], "update");
    }

    #[test]
    fn login_passes_the_secret_but_never_shows_it() {
        let steps = login_steps(&credentials(), Path::new("/cfg/secret"), "sub");
        let login = steps.iter().find(|s| s.args[0] == "login").unwrap();
        let i = login.args.iter().position(|a| a == "--password").unwrap();
        assert_eq!(login.args[i + 1], "@/cfg/secret");
        assert!(steps.iter().all(|s| s.args.iter().all(|a| !a.contains("s3cr8Q~et"))));
        assert_eq!(login.display(), "az login --service-principal --username cid --tenant tid --output none");
        for s in &steps {
            assert!(!s.display().contains("s3cr8Q~et"), "{}", s.display());
        }
        let shown: Vec<String> = steps.iter().map(Step::display).collect();
        assert_eq!(
            shown,
            [
                "az cloud set -n privlink",
                "az config set core.instance_discovery=false",
                "az config set core.collect_telemetry=false",
                "az login --service-principal --username cid --tenant tid --output none",
                "az account set --subscription sub",
            ]
        );
        assert!(steps[2].optional && !steps[3].optional);
    }

    #[test]
    fn environment_and_registration_errors() {
        let env = az_env(Path::new("/d/azure-cli"), Path::new("/d/ca.pem"));
        assert_eq!(env[0], ("AZURE_CONFIG_DIR", "/d/azure-cli".to_string()));
        assert_eq!(env[1], ("REQUESTS_CA_BUNDLE", "/d/ca.pem".to_string()));
        assert!(env.contains(&("AZURE_CORE_COLLECT_TELEMETRY", "false".to_string())));
        assert!(already_registered("ERROR: The cloud 'privlink' is already registered."));
        assert!(!already_registered("ERROR: something else"));
        for f in [
            "azureProfile.json",
            "msal_token_cache.json",
            "msal_token_cache.bin",
            "service_principal_entries.json",
            "msal_http_cache.bin",
        ] {
            assert!(is_login_state(f), "{f}");
        }
        for f in ["config", "clouds.config", "az.json", "commandIndex.json"] {
            assert!(!is_login_state(f), "{f}");
        }
    }
}
