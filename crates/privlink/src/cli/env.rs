//! `privlink env`: the environment an Azure SDK (or any client) needs to talk to this server as
//! its administrator; `privlink identity env <resource>`: the environment a process needs to act
//! as a resource's managed identity (App Service style).

use std::path::Path;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use serde_json::Value;

use super::client::{encode, Client, Connect, Credentials, Endpoint};
use super::shell::{self, Shell};

#[derive(Args, Debug)]
pub struct EnvArgs {
    #[command(flatten)]
    pub connect: Connect,
    /// How to print the variables: sh (`export K='v'`, for `eval "$(privlink env)"`), json or
    /// powershell.
    #[arg(long, value_enum, default_value = "sh")]
    pub shell: Shell,
}

#[derive(Subcommand, Debug)]
pub enum IdentityCommand {
    /// Print IDENTITY_ENDPOINT and IDENTITY_HEADER for acting as a resource's managed identity
    /// (or a user-assigned identity): `eval "$(privlink identity env <resource id>)"`, then
    /// ManagedIdentityCredential / DefaultAzureCredential / `az login --identity` use it.
    Env {
        /// The resource id (a resource with `identity`, or a userAssignedIdentities resource).
        resource: String,
        #[arg(long, value_enum, default_value = "sh")]
        shell: Shell,
    },
}

/// The variables `privlink env` prints, in order. `ca` is absolute; `None` on plain HTTP.
pub fn sdk_vars(url: &str, ca: Option<&Path>, c: &Credentials, subscription: &str) -> Vec<(&'static str, String)> {
    let mut vars = vec![
        ("AZURE_TENANT_ID", c.tenant_id.clone()),
        ("AZURE_CLIENT_ID", c.client_id.clone()),
        ("AZURE_CLIENT_SECRET", c.client_secret.clone()),
        ("AZURE_SUBSCRIPTION_ID", subscription.to_string()),
        ("AZURE_AUTHORITY_HOST", url.to_string()),
        ("AZURE_RESOURCE_MANAGER_URL", url.to_string()),
    ];
    if let Some(ca) = ca {
        let ca = ca.display().to_string();
        for name in ["REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS"] {
            vars.push((name, ca.clone()));
        }
    }
    vars
}

/// The comment lines after the variables: how to build a credential and a client from them.
pub fn sdk_comments(has_ca: bool) -> Vec<String> {
    let mut out = vec![
        "python: credential = ClientSecretCredential(os.environ[\"AZURE_TENANT_ID\"], os.environ[\"AZURE_CLIENT_ID\"], \
         os.environ[\"AZURE_CLIENT_SECRET\"], authority=os.environ[\"AZURE_AUTHORITY_HOST\"], \
         disable_instance_discovery=True)"
            .to_string(),
        "python: NetworkManagementClient(credential, os.environ[\"AZURE_SUBSCRIPTION_ID\"], \
         base_url=os.environ[\"AZURE_RESOURCE_MANAGER_URL\"])"
            .to_string(),
    ];
    if has_ca {
        out.push(
            "the CA variables make Python, OpenSSL and Node trust privlink's CA instead of the system's: unset them \
             for other HTTPS work in this shell"
                .to_string(),
        );
    } else {
        out.push("WARNING: the server speaks plain HTTP; the Azure CLI and SDKs will not send tokens to it".into());
    }
    out
}

pub fn env(args: EnvArgs) -> anyhow::Result<()> {
    let endpoint = Endpoint::resolve(&args.connect)?;
    let credentials = Credentials::from_data_dir(&args.connect.data_dir)?;
    let subscription = credentials
        .subscription_id
        .clone()
        .or_else(|| endpoint.subscription_id.clone())
        .context("neither credentials.json nor endpoint.json names a subscription")?;
    if let Some(ca) = &endpoint.ca {
        if !ca.exists() {
            bail!("the CA file {} does not exist; pass --ca", ca.display());
        }
    }
    let vars = sdk_vars(&endpoint.url, endpoint.ca.as_deref(), &credentials, &subscription);
    print!("{}", shell::render(args.shell, &vars, &sdk_comments(endpoint.ca.is_some())));
    Ok(())
}

/// The variables of `privlink identity env` from the server's answer.
pub fn identity_vars(answer: &Value, ca: Option<&Path>) -> anyhow::Result<Vec<(&'static str, String)>> {
    let get = |name: &str| {
        answer
            .pointer(&format!("/env/{name}"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .with_context(|| format!("the server's answer has no env.{name}: {answer}"))
    };
    let mut vars = vec![("IDENTITY_ENDPOINT", get("IDENTITY_ENDPOINT")?), ("IDENTITY_HEADER", get("IDENTITY_HEADER")?)];
    if let Some(ca) = ca {
        vars.push(("REQUESTS_CA_BUNDLE", ca.display().to_string()));
    }
    Ok(vars)
}

pub async fn identity(connect: Connect, command: IdentityCommand) -> anyhow::Result<()> {
    let IdentityCommand::Env { resource, shell } = command;
    let client = Client::connect(&connect)?;
    let answer = client
        .get_plain(&format!("/privlink/admin/identity-env?resource={}", encode(&resource)))
        .await
        .with_context(|| format!("asking for the managed-identity environment of {resource}"))?;
    let vars = identity_vars(&answer, client.endpoint.ca.as_deref())?;
    let comments = vec![format!(
        "acting as the managed identity of {}: ManagedIdentityCredential(), DefaultAzureCredential() and `az login \
         --identity` read these",
        answer.get("resource").and_then(Value::as_str).unwrap_or(&resource)
    )];
    print!("{}", shell::render(shell, &vars, &comments));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn credentials() -> Credentials {
        Credentials {
            tenant_id: "t".into(),
            client_id: "c".into(),
            client_secret: "it's~secret".into(),
            object_id: None,
            subscription_id: Some("s".into()),
            source: "test".into(),
        }
    }

    #[test]
    fn sdk_environment_lists_every_variable() {
        let vars = sdk_vars("https://127.0.0.1:8443", Some(Path::new("/d/ca.pem")), &credentials(), "s");
        let names: Vec<&str> = vars.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "AZURE_TENANT_ID",
                "AZURE_CLIENT_ID",
                "AZURE_CLIENT_SECRET",
                "AZURE_SUBSCRIPTION_ID",
                "AZURE_AUTHORITY_HOST",
                "AZURE_RESOURCE_MANAGER_URL",
                "REQUESTS_CA_BUNDLE",
                "SSL_CERT_FILE",
                "NODE_EXTRA_CA_CERTS"
            ]
        );
        let text = shell::render(Shell::Sh, &vars, &sdk_comments(true));
        assert!(text.contains("export AZURE_CLIENT_SECRET='it'\\''s~secret'\n"), "{text}");
        assert!(text.contains("export AZURE_AUTHORITY_HOST='https://127.0.0.1:8443'\n"), "{text}");
        assert!(text.contains("export NODE_EXTRA_CA_CERTS='/d/ca.pem'\n"), "{text}");
        assert!(text.contains("disable_instance_discovery=True"), "{text}");
        assert!(text.lines().filter(|l| !l.starts_with("export ")).all(|l| l.starts_with("# ")), "{text}");
        // Plain HTTP: no CA variables.
        let plain = sdk_vars("http://127.0.0.1:8080", None, &credentials(), "s");
        assert!(plain.iter().all(|(n, _)| !n.contains("CA") && *n != "SSL_CERT_FILE"));
    }

    #[test]
    fn identity_environment_from_the_answer() {
        let answer =
            json!({"resource": "/x", "env": {"IDENTITY_ENDPOINT": "https://h/msi/token", "IDENTITY_HEADER": "h1"}});
        let vars = identity_vars(&answer, Some(Path::new("/ca.pem"))).unwrap();
        assert_eq!(
            shell::render(Shell::Sh, &vars, &[]),
            "export IDENTITY_ENDPOINT='https://h/msi/token'\nexport IDENTITY_HEADER='h1'\nexport REQUESTS_CA_BUNDLE='/ca.pem'\n"
        );
        assert!(identity_vars(&json!({}), None).is_err());
    }
}
