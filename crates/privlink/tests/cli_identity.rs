//! The CLI's identity side: how it authenticates (the administrator's credentials.json, the
//! AZURE_* variables, PRIVLINK_TOKEN), `privlink env`, `privlink identity env`, `privlink admin …`
//! and `privlink az-login` (against a stand-in `az` that records what it is asked to do; with
//! PRIVLINK_TEST_AZ=<path to az>, also against the real Azure CLI).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::Server;
use serde_json::{json, Value};

/// Variables that would change who the CLI acts as or which server it talks to.
const CLIENT_VARS: &[&str] = &[
    "PRIVLINK_DATA_DIR",
    "PRIVLINK_URL",
    "PRIVLINK_CA",
    "PRIVLINK_TOKEN",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_SUBSCRIPTION_ID",
    "AZ",
];

/// What a CLI run printed, and its exit code.
#[derive(Debug)]
struct CliOutput {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Run the CLI against `data_dir` with exactly the client variables in `env`.
fn cli_in(data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> CliOutput {
    let mut command = Command::new(env!("CARGO_BIN_EXE_privlink"));
    command.args(args).arg("--data-dir").arg(data_dir);
    for var in CLIENT_VARS {
        command.env_remove(var);
    }
    for (k, v) in env {
        command.env(k, v);
    }
    let out = command.stdin(Stdio::null()).output().expect("running the privlink CLI");
    CliOutput {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn cli_as(s: &Server, args: &[&str], env: &[(&str, &str)]) -> CliOutput {
    cli_in(s.data_dir(), args, env)
}

#[track_caller]
fn ok(out: &CliOutput) -> &str {
    assert_eq!(out.code, Some(0), "{out:?}");
    &out.stdout
}

#[track_caller]
fn json_out(out: &CliOutput) -> Value {
    serde_json::from_str(ok(out)).unwrap_or_else(|e| panic!("not JSON ({e}): {out:?}"))
}

fn credentials(s: &Server) -> Value {
    let text = std::fs::read_to_string(s.data_dir().join("credentials.json")).expect("credentials.json");
    serde_json::from_str(&text).expect("credentials.json is JSON")
}

fn endpoint(s: &Server) -> Value {
    let text = std::fs::read_to_string(s.data_dir().join("endpoint.json")).expect("endpoint.json");
    serde_json::from_str(&text).expect("endpoint.json is JSON")
}

/// What `sh` makes of `script` (`export` lines): the values of `names`.
fn eval_in_sh(script: &str, names: &[&str]) -> Vec<String> {
    let mut full = String::from("eval \"$PL_SCRIPT\"\n");
    for n in names {
        full.push_str(&format!("printf '%s\\0' \"${n}\"\n"));
    }
    let out = Command::new("sh").arg("-c").arg(&full).env("PL_SCRIPT", script).output().expect("running sh");
    assert!(out.status.success(), "sh: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8").split('\0').filter(|s| !s.is_empty()).map(str::to_string).collect()
}

#[tokio::test]
async fn env_prints_what_sdk_clients_need() {
    let s = Server::start().await;
    let c = credentials(&s);
    let e = endpoint(&s);
    let out = cli_as(&s, &["env"], &[]);
    let script = ok(&out);
    let names = [
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_ID",
        "AZURE_CLIENT_SECRET",
        "AZURE_SUBSCRIPTION_ID",
        "AZURE_AUTHORITY_HOST",
        "AZURE_RESOURCE_MANAGER_URL",
        "PRIVLINK_URL",
        "REQUESTS_CA_BUNDLE",
        "SSL_CERT_FILE",
        "NODE_EXTRA_CA_CERTS",
    ];
    let values = eval_in_sh(script, &names);
    let ca = e["caFile"].as_str().unwrap();
    assert!(Path::new(ca).is_absolute(), "{ca}");
    let expected = [
        c["tenantId"].as_str().unwrap(),
        c["clientId"].as_str().unwrap(),
        c["clientSecret"].as_str().unwrap(),
        c["subscriptionId"].as_str().unwrap(),
        &s.url,
        &s.url,
        ca,
        ca,
        ca,
    ];
    assert_eq!(values, expected, "{script}");
    assert!(script.contains("disable_instance_discovery=True"), "{script}");
    assert!(script.lines().all(|l| l.starts_with("export ") || l.starts_with("# ")), "{script}");

    let json = json_out(&cli_as(&s, &["env", "--shell", "json"], &[]));
    assert_eq!(json["AZURE_CLIENT_ID"], c["clientId"]);
    assert_eq!(json["AZURE_AUTHORITY_HOST"], s.url.as_str());
    let ps = cli_as(&s, &["env", "--shell", "powershell"], &[]);
    assert!(ok(&ps).starts_with(&format!("$env:AZURE_TENANT_ID = '{}'\n", c["tenantId"].as_str().unwrap())));
}

#[tokio::test]
async fn the_cli_authenticates_with_the_administrators_credentials() {
    let s = Server::start().await;
    let out = cli_as(&s, &["endpoints", "list", "-o", "json"], &[]);
    assert_eq!(json_out(&out), json!([]));
    let secret = credentials(&s)["clientSecret"].as_str().unwrap().to_string();
    assert!(!out.stderr.contains(&secret), "{out:?}");

    // Without credentials.json, the error says where it comes from.
    let elsewhere = std::env::temp_dir().join(format!("privlink-cli-nocreds-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::copy(s.data_dir().join("endpoint.json"), elsewhere.join("endpoint.json")).unwrap();
    let out = cli_in(&elsewhere, &["endpoints", "list"], &[]);
    assert_ne!(out.code, Some(0), "{out:?}");
    assert!(out.stderr.contains("created on the server's first start in"), "{out:?}");
    assert!(out.stderr.contains("--data-dir"), "{out:?}");
    std::fs::remove_dir_all(&elsewhere).unwrap();
}

#[tokio::test]
async fn environment_credentials_and_raw_tokens_override_the_file() {
    let s = Server::start().await;
    let c = credentials(&s);
    let tenant = c["tenantId"].as_str().unwrap();
    let client = c["clientId"].as_str().unwrap();

    // A refused secret: Entra's description, and neither secret shown.
    let wrong = "wrong8Q~secret-value";
    let out = cli_as(
        &s,
        &["endpoints", "list"],
        &[("AZURE_TENANT_ID", tenant), ("AZURE_CLIENT_ID", client), ("AZURE_CLIENT_SECRET", wrong)],
    );
    assert_ne!(out.code, Some(0), "{out:?}");
    assert!(out.stderr.contains("invalid_client"), "{out:?}");
    assert!(out.stderr.contains("AZURE_CLIENT_ID"), "{out:?}");
    assert!(!out.stderr.contains(wrong) && !out.stderr.contains(c["clientSecret"].as_str().unwrap()), "{out:?}");

    // Two of the three variables are not enough: the file is used.
    ok(&cli_as(&s, &["endpoints", "list"], &[("AZURE_TENANT_ID", tenant), ("AZURE_CLIENT_SECRET", wrong)]));

    // A service principal made with `admin sp create`, as a Reader of the default subscription.
    let sub_scope = format!("/subscriptions/{}", c["subscriptionId"].as_str().unwrap());
    let sp = json_out(&cli_as(
        &s,
        &["admin", "sp", "create", "--name", "reader", "--role", "Reader", "--scope", &sub_scope, "-o", "json"],
        &[],
    ));
    let sp_secret = sp["clientSecret"].as_str().expect("clientSecret").to_string();
    let sp_id = sp["appId"].as_str().unwrap().to_string();
    assert!(sp["roleAssignment"]["properties"]["roleDefinitionId"]
        .as_str()
        .is_some_and(|r| r.ends_with("acdd72a7-3385-48ef-bd42-f606fba81ae7")));
    let as_reader =
        [("AZURE_TENANT_ID", tenant), ("AZURE_CLIENT_ID", sp_id.as_str()), ("AZURE_CLIENT_SECRET", &sp_secret)];
    ok(&cli_as(&s, &["endpoints", "list"], &as_reader));
    let out = cli_as(&s, &["admin", "tenant", "list"], &as_reader);
    assert_ne!(out.code, Some(0), "a reader is no administrator: {out:?}");
    assert!(out.stderr.contains("403"), "{out:?}");

    // PRIVLINK_TOKEN is sent as is.
    let out = cli_as(&s, &["endpoints", "list"], &[("PRIVLINK_TOKEN", "not-a-token")]);
    assert_ne!(out.code, Some(0), "{out:?}");
    assert!(out.stderr.contains("401") && out.stderr.contains("PRIVLINK_TOKEN"), "{out:?}");
}

#[tokio::test]
async fn admin_commands_manage_tenants_subscriptions_and_principals() {
    let s = Server::start().await;
    let c = credentials(&s);
    let tenant = json_out(&cli_as(&s, &["admin", "tenant", "create", "--name", "second", "-o", "json"], &[]));
    let t2 = tenant["tenantId"].as_str().expect("tenantId").to_string();
    let table = cli_as(&s, &["admin", "tenant", "list"], &[]);
    assert!(ok(&table).contains(&t2) && table.stdout.contains("second"), "{table:?}");
    assert!(table.stdout.contains(c["tenantId"].as_str().unwrap()), "{table:?}");

    // An owner in the second tenant and a subscription it owns.
    let owner =
        json_out(&cli_as(&s, &["admin", "sp", "create", "--tenant", &t2, "--name", "owner2", "-o", "json"], &[]));
    let owner_oid = owner["objectId"].as_str().unwrap();
    let sub2 = json_out(&cli_as(
        &s,
        &["admin", "subscription", "create", "--tenant", &t2, "--name", "sub2", "--owner", owner_oid, "-o", "json"],
        &[],
    ));
    assert_eq!(sub2["tenantId"], t2.as_str());
    let sub2_id = sub2["subscriptionId"].as_str().unwrap().to_string();

    // A role in the other tenant's subscription cannot be assigned with the administrator's token:
    // the principal is made, the secret shown, and the note says who can assign it.
    let out = cli_as(
        &s,
        &[
            "admin",
            "sp",
            "create",
            "--tenant",
            &t2,
            "--role",
            "Reader",
            "--scope",
            &format!("/subscriptions/{sub2_id}"),
        ],
        &[],
    );
    assert!(ok(&out).contains("CLIENT SECRET"), "{out:?}");
    assert!(out.stderr.contains("NOT assigned") && out.stderr.contains(&t2), "{out:?}");

    // Users, and the principals of a tenant.
    let user = cli_as(
        &s,
        &[
            "admin",
            "user",
            "create",
            "--tenant",
            &t2,
            "--upn",
            "alice@privlink.local",
            "--password",
            "correct horse 1",
            "--name",
            "Alice",
        ],
        &[],
    );
    assert!(ok(&user).contains("alice@privlink.local"), "{user:?}");
    let principals = json_out(&cli_as(&s, &["admin", "principals", "--tenant", &t2, "-o", "json"], &[]));
    let kinds: Vec<&str> = principals.as_array().unwrap().iter().filter_map(|p| p["type"].as_str()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "ServicePrincipal").count(), 2, "{principals}");
    assert_eq!(kinds.iter().filter(|k| **k == "User").count(), 1, "{principals}");
    assert!(principals.as_array().unwrap().iter().all(|p| p.get("clientSecret").is_none()), "{principals}");

    // A subscription with a given id, in the default tenant.
    let id = "0b5f6c1e-1111-4222-8333-444455556666";
    let out = cli_as(&s, &["admin", "subscription", "create", "--id", id, "--name", "fixed"], &[]);
    assert!(ok(&out).contains(id) && out.stdout.contains(c["tenantId"].as_str().unwrap()), "{out:?}");
}

/// A token for the administrator, and an HTTPS client trusting the server's CA.
async fn admin_client(s: &Server) -> (reqwest::Client, String) {
    let e = endpoint(s);
    let c = credentials(s);
    let ca = std::fs::read(e["caFile"].as_str().unwrap()).unwrap();
    let http = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .no_proxy()
        .build()
        .unwrap();
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", c["clientId"].as_str().unwrap()),
        ("client_secret", c["clientSecret"].as_str().unwrap()),
        ("scope", "https://management.azure.com/.default"),
    ];
    let url = format!("{}/{}/oauth2/v2.0/token", s.url, c["tenantId"].as_str().unwrap());
    let token: Value = http.post(&url).form(&form).send().await.unwrap().json().await.unwrap();
    (http, token["access_token"].as_str().expect("access_token").to_string())
}

#[tokio::test]
async fn identity_env_prints_the_managed_identity_environment() {
    let s = Server::start().await;
    let sub = credentials(&s)["subscriptionId"].as_str().unwrap().to_string();
    let (http, token) = admin_client(&s).await;
    let put = |path: String, api: &str| {
        let url = format!("{}{path}?api-version={api}", s.url);
        http.put(url).bearer_auth(&token).json(&json!({ "location": "westeurope" })).send()
    };
    let rg = put(format!("/subscriptions/{sub}/resourceGroups/rg1"), "2022-09-01").await.unwrap();
    assert!(rg.status().is_success(), "{:?}", rg.text().await);
    let id = format!(
        "/subscriptions/{sub}/resourceGroups/rg1/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1"
    );
    let r = put(id.clone(), "2023-01-31").await.unwrap();
    assert!(r.status().is_success(), "{:?}", r.text().await);

    let out = cli_as(&s, &["identity", "env", &id], &[]);
    let values = eval_in_sh(ok(&out), &["IDENTITY_ENDPOINT", "IDENTITY_HEADER", "REQUESTS_CA_BUNDLE"]);
    assert_eq!(values.len(), 3, "{out:?}");
    assert!(values[0].starts_with(&s.url), "{values:?}");
    assert!(!values[1].is_empty());
    assert_eq!(values[2], endpoint(&s)["caFile"].as_str().unwrap());

    // The token the environment gets is for that identity.
    let msi: Value = http
        .get(format!("{}?api-version=2019-08-01&resource=https://management.azure.com/", values[0]))
        .header("X-IDENTITY-HEADER", &values[1])
        .header("Metadata", "true")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(msi["access_token"].as_str().is_some_and(|t| !t.is_empty()), "{msi}");

    let json = json_out(&cli_as(&s, &["identity", "env", &id, "--shell", "json"], &[]));
    assert_eq!(json["IDENTITY_ENDPOINT"], values[0].as_str());
    let missing = cli_as(&s, &["identity", "env", &format!("/subscriptions/{sub}/resourceGroups/rg1/providers/Microsoft.ManagedIdentity/userAssignedIdentities/nope")], &[]);
    assert_ne!(missing.code, Some(0), "{missing:?}");
}

#[cfg(unix)]
/// A stand-in for `az` that records its arguments and environment, says a cloud registered
/// before is "already registered", and fails `login` when told to.
fn fake_az(dir: &Path) -> PathBuf {
    let path = dir.join("fake-az");
    let script = r#"#!/bin/sh
echo "ARGS $*" >> "$AZURE_CONFIG_DIR/calls.log"
echo "ENV REQUESTS_CA_BUNDLE=$REQUESTS_CA_BUNDLE AZURE_CORE_COLLECT_TELEMETRY=$AZURE_CORE_COLLECT_TELEMETRY" >> "$AZURE_CONFIG_DIR/calls.log"
case "$1 $2" in
  "cloud register")
    if [ -f "$AZURE_CONFIG_DIR/registered" ]; then echo "ERROR: The cloud 'privlink' is already registered." >&2; exit 1; fi
    touch "$AZURE_CONFIG_DIR/registered" ;;
  "login --service-principal")
    # The secret comes as --password @file: keep what az would read from it.
    cat "${6#@}" > "$AZURE_CONFIG_DIR/secret-seen"
    if [ -f "$AZURE_CONFIG_DIR/fail-login" ]; then echo "ERROR: AADSTS7000215: Invalid client secret provided." >&2; exit 1; fi ;;
esac
exit 0
"#;
    std::fs::write(&path, script).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    path
}

#[cfg(unix)]
#[tokio::test]
async fn az_login_sets_up_an_isolated_azure_cli() {
    let s = Server::start().await;
    let c = credentials(&s);
    let secret = c["clientSecret"].as_str().unwrap();
    let tools = std::env::temp_dir().join(format!("privlink-fake-az-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&tools).unwrap();
    let az = fake_az(&tools);
    let config_dir = s.data_dir().join("azure-cli");
    // A stale token cache from an earlier server is forgotten.
    std::fs::create_dir_all(&config_dir).unwrap();
    std::fs::write(config_dir.join("msal_token_cache.json"), "{}").unwrap();

    let out = cli_as(&s, &["az-login", "--az", az.to_str().unwrap()], &[]);
    let values = eval_in_sh(ok(&out), &["AZURE_CONFIG_DIR", "REQUESTS_CA_BUNDLE"]);
    let config_dir = std::fs::canonicalize(&config_dir).unwrap();
    assert_eq!(values, [config_dir.to_str().unwrap(), endpoint(&s)["caFile"].as_str().unwrap()], "{out:?}");
    assert!(!config_dir.join("msal_token_cache.json").exists());
    assert!(!out.stdout.contains(secret) && !out.stderr.contains(secret), "the secret was shown: {out:?}");
    assert!(out.stderr.contains("az network vnet list"), "{out:?}");

    let log = std::fs::read_to_string(config_dir.join("calls.log")).unwrap();
    let calls: Vec<&str> = log.lines().filter_map(|l| l.strip_prefix("ARGS ")).collect();
    let url = &s.url;
    assert_eq!(
        calls,
        [
            format!("cloud register -n privlink --endpoint-resource-manager {url}/ --endpoint-active-directory {url} --endpoint-active-directory-resource-id https://management.core.windows.net/ --endpoint-active-directory-graph-resource-id {url}/ --skip-endpoint-discovery"),
            "cloud set -n privlink".into(),
            "config set core.instance_discovery=false".into(),
            "config set core.collect_telemetry=false".into(),
            format!("login --service-principal --username {} --password @{} --tenant {} --output none", c["clientId"].as_str().unwrap(), config_dir.join(".privlink-login-secret").display(), c["tenantId"].as_str().unwrap()),
            format!("account set --subscription {}", c["subscriptionId"].as_str().unwrap()),
        ]
    );
    // az read the secret from a file, which is gone once the login is over.
    assert_eq!(std::fs::read_to_string(config_dir.join("secret-seen")).unwrap(), secret);
    assert!(!config_dir.join(".privlink-login-secret").exists());
    let ca = endpoint(&s)["caFile"].as_str().unwrap().to_string();
    assert!(
        log.lines()
            .filter(|l| l.starts_with("ENV "))
            .all(|l| l == format!("ENV REQUESTS_CA_BUNDLE={ca} AZURE_CORE_COLLECT_TELEMETRY=false")),
        "{log}"
    );

    // Again: the cloud exists, so it is updated (the port may have changed).
    std::fs::remove_file(config_dir.join("calls.log")).unwrap();
    ok(&cli_as(&s, &["az-login", "--az", az.to_str().unwrap()], &[]));
    let log = std::fs::read_to_string(config_dir.join("calls.log")).unwrap();
    assert!(log.contains("ARGS cloud update -n privlink --endpoint-resource-manager"), "{log}");

    // A refused login: az's error, a failure, and still no secret.
    std::fs::write(config_dir.join("fail-login"), "").unwrap();
    let out = cli_as(&s, &["az-login", "--az", az.to_str().unwrap()], &[]);
    assert_ne!(out.code, Some(0), "{out:?}");
    assert!(out.stderr.contains("AADSTS7000215"), "{out:?}");
    assert!(!out.stdout.contains(secret) && !out.stderr.contains(secret), "the secret was shown: {out:?}");
    assert!(out.stdout.is_empty(), "nothing to eval after a failure: {out:?}");

    // A missing az says how to get one.
    let out = cli_as(&s, &["az-login", "--az", tools.join("no-such-az").to_str().unwrap()], &[]);
    assert!(out.stderr.contains("--az"), "{out:?}");
    std::fs::remove_dir_all(&tools).unwrap();
}

/// With PRIVLINK_TEST_AZ=<path to az> (e.g. a venv's bin/az): the real Azure CLI, after
/// `privlink az-login`, lists and creates resources.
#[tokio::test]
async fn az_login_with_the_real_azure_cli() {
    let Some(az) = std::env::var_os("PRIVLINK_TEST_AZ") else {
        eprintln!("skipped: set PRIVLINK_TEST_AZ to an az binary to run this test");
        return;
    };
    let s = Server::start().await;
    let out = cli_as(&s, &["az-login", "--az", az.to_str().unwrap()], &[]);
    let values = eval_in_sh(ok(&out), &["AZURE_CONFIG_DIR", "REQUESTS_CA_BUNDLE"]);
    let run = |args: &[&str]| {
        let out = Command::new(&az)
            .args(args)
            .env("AZURE_CONFIG_DIR", &values[0])
            .env("REQUESTS_CA_BUNDLE", &values[1])
            .env("AZURE_CORE_COLLECT_TELEMETRY", "false")
            .output()
            .expect("running az");
        assert!(out.status.success(), "az {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    run(&["group", "create", "-n", "rg1", "-l", "westeurope", "-o", "none"]);
    run(&["network", "vnet", "create", "-g", "rg1", "-n", "v1", "--address-prefixes", "10.1.0.0/16", "-o", "none"]);
    let list: Value = serde_json::from_str(&run(&["network", "vnet", "list", "-g", "rg1", "-o", "json"])).unwrap();
    assert_eq!(list[0]["name"], "v1", "{list}");
}
