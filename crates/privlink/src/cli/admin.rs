//! `privlink admin …`: the directory and subscriptions, over privlink's admin API (an
//! administrator's token is needed): tenants, subscriptions, service principals (optionally with
//! a role assignment, made through ARM), users, and the principals of a tenant.

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use serde_json::{json, Value};

use super::client::{encode, is_guid, new_guid, ApiError, Client, Connect, AUTHORIZATION_API, RESOURCES_API};
use super::private_link::Output;
use super::table;

#[derive(Args, Debug)]
pub struct AdminCommon {
    #[command(flatten)]
    pub connect: Connect,
    #[arg(long, short = 'o', value_enum, default_value = "table", global = true)]
    pub output: Output,
}

#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Tenants (directories).
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// Subscriptions.
    Subscription {
        #[command(subcommand)]
        command: SubscriptionCommand,
    },
    /// Service principals (applications that sign in with a client secret).
    Sp {
        #[command(subcommand)]
        command: SpCommand,
    },
    /// Users (who sign in with a password).
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// List the service principals and users of a tenant.
    Principals {
        /// The tenant (default: the server's default tenant).
        #[arg(long)]
        tenant: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum TenantCommand {
    /// Create a tenant.
    Create {
        /// Its display name.
        #[arg(long)]
        name: Option<String>,
    },
    /// List every tenant.
    List,
}

#[derive(Subcommand, Debug)]
pub enum SubscriptionCommand {
    /// Create (or update) a subscription.
    Create {
        /// The subscription id (default: a new GUID).
        #[arg(long)]
        id: Option<String>,
        /// The tenant it belongs to (default: the server's default tenant).
        #[arg(long)]
        tenant: Option<String>,
        /// Its display name.
        #[arg(long)]
        name: Option<String>,
        /// The object id of a principal to make Owner of it.
        #[arg(long)]
        owner: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum SpCommand {
    /// Create a service principal with a new client secret (shown once).
    Create {
        /// The tenant (default: the server's default tenant).
        #[arg(long)]
        tenant: Option<String>,
        /// Its display name.
        #[arg(long)]
        name: Option<String>,
        /// Make it a privlink administrator (may use `privlink admin`).
        #[arg(long)]
        admin: bool,
        /// Assign it this role (a name such as Reader, Contributor, Owner, "Network Contributor",
        /// or a role definition GUID) at --scope.
        #[arg(long, requires = "scope")]
        role: Option<String>,
        /// The scope of the role assignment, e.g. /subscriptions/{id}[/resourceGroups/{rg}].
        #[arg(long, requires = "role")]
        scope: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a user who signs in with a password.
    Create {
        /// The tenant (default: the server's default tenant).
        #[arg(long)]
        tenant: Option<String>,
        /// The user principal name, e.g. alice@privlink.local.
        #[arg(long)]
        upn: String,
        /// The password.
        #[arg(long)]
        password: String,
        /// The display name (default: the UPN).
        #[arg(long)]
        name: Option<String>,
        /// Make the user a privlink administrator.
        #[arg(long)]
        admin: bool,
    },
}

/// Built-in role names and their definition GUIDs (used when the server cannot be asked).
pub const BUILTIN_ROLES: &[(&str, &str)] = &[
    ("Owner", "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"),
    ("Contributor", "b24988ac-6180-42a0-ab88-20f7382dd24c"),
    ("Reader", "acdd72a7-3385-48ef-bd42-f606fba81ae7"),
    ("Network Contributor", "4d97b98b-1d4f-4787-a291-c67834d212e7"),
];

fn text(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn print(output: Output, headers: &[&str], rows: Vec<Vec<String>>, raw: Value) -> anyhow::Result<()> {
    match output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&raw)?),
        Output::Table => print!("{}", table::render(headers, &rows)),
    }
    Ok(())
}

/// The subscription id at the start of a scope (`/subscriptions/{id}/…`).
pub fn scope_subscription(scope: &str) -> Option<String> {
    let mut parts = scope.trim_start_matches('/').split('/');
    match (parts.next(), parts.next()) {
        (Some(s), Some(id)) if s.eq_ignore_ascii_case("subscriptions") && !id.is_empty() => Some(id.to_string()),
        _ => None,
    }
}

/// The resource group of a scope that is exactly `/subscriptions/{id}/resourceGroups/{name}`.
pub fn scope_resource_group(scope: &str) -> Option<String> {
    let parts: Vec<&str> = scope.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        [s, _, r, name] if s.eq_ignore_ascii_case("subscriptions") && r.eq_ignore_ascii_case("resourceGroups") => {
            Some(name.to_string())
        }
        _ => None,
    }
}

/// The role definition id for a role assignment at `scope` in subscription `sub`.
pub fn role_definition_id(sub: &str, role_guid: &str) -> String {
    format!("/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{role_guid}")
}

/// The body of a role assignment PUT.
pub fn assignment_body(role_definition_id: &str, principal_id: &str, principal_type: &str) -> Value {
    json!({ "properties": {
        "roleDefinitionId": role_definition_id,
        "principalId": principal_id,
        "principalType": principal_type,
    } })
}

fn builtin_role(name: &str) -> Option<&'static str> {
    BUILTIN_ROLES.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, g)| *g)
}

/// `role` (a name or a GUID) as a role definition id usable at `scope`.
async fn resolve_role(client: &Client, scope: &str, sub: &str, role: &str) -> anyhow::Result<String> {
    if is_guid(role) {
        return Ok(role_definition_id(sub, role));
    }
    let path = format!(
        "{}/providers/Microsoft.Authorization/roleDefinitions?$filter={}",
        scope.trim_end_matches('/'),
        encode(&format!("roleName eq '{}'", role.replace('\'', "''")))
    );
    match client.list(&path, AUTHORIZATION_API).await {
        Ok(found) => match found.first().and_then(|d| d.get("id")).and_then(Value::as_str) {
            Some(id) => Ok(id.to_string()),
            None => bail!("there is no role named '{role}' at {scope} (built-in: Owner, Contributor, Reader, Network Contributor, …)"),
        },
        Err(e) => match builtin_role(role) {
            Some(guid) => Ok(role_definition_id(sub, guid)),
            None => Err(e).with_context(|| format!("looking up the role '{role}' at {scope}")),
        },
    }
}

async fn default_tenant(client: &Client, tenant: Option<String>) -> anyhow::Result<String> {
    match tenant.or_else(|| client.endpoint.tenant_id.clone()) {
        Some(t) => Ok(t),
        None => bail!("pass --tenant (endpoint.json names no default tenant)"),
    }
}

fn principal_row(p: &Value) -> Vec<String> {
    let name = if text(p, "type") == "User" { text(p, "userPrincipalName") } else { text(p, "appId") };
    vec![text(p, "type"), text(p, "objectId"), name, text(p, "displayName"), text(p, "tenantId"), text(p, "admin")]
}

const PRINCIPAL_HEADERS: &[&str] = &["TYPE", "OBJECT ID", "APP ID / UPN", "DISPLAY NAME", "TENANT", "ADMIN"];

pub async fn admin(common: AdminCommon, command: AdminCommand) -> anyhow::Result<()> {
    let client = Client::connect(&common.connect)?;
    let output = common.output;
    match command {
        AdminCommand::Tenant { command: TenantCommand::Create { name } } => {
            let mut body = json!({});
            if let Some(n) = name {
                body["displayName"] = json!(n);
            }
            let t = client.post_plain("/privlink/admin/tenants", &body).await.context("creating a tenant")?;
            print(output, &["TENANT ID", "DISPLAY NAME"], vec![vec![text(&t, "tenantId"), text(&t, "displayName")]], t)
        }
        AdminCommand::Tenant { command: TenantCommand::List } => {
            let list = client.get_plain("/privlink/admin/tenants").await.context("listing tenants")?;
            let items = list.get("value").and_then(Value::as_array).cloned().unwrap_or_default();
            let default = client.endpoint.tenant_id.clone().unwrap_or_default();
            let rows = items
                .iter()
                .map(|t| {
                    let id = text(t, "tenantId");
                    let mark = if id.eq_ignore_ascii_case(&default) { "yes" } else { "" };
                    vec![id, text(t, "displayName"), mark.to_string()]
                })
                .collect();
            print(output, &["TENANT ID", "DISPLAY NAME", "DEFAULT"], rows, Value::Array(items))
        }
        AdminCommand::Subscription { command: SubscriptionCommand::Create { id, tenant, name, owner } } => {
            let id = id.unwrap_or_else(new_guid);
            if !is_guid(&id) {
                bail!("--id '{id}' is not a GUID");
            }
            let mut body = json!({});
            for (k, v) in [("displayName", name), ("tenantId", tenant), ("owner", owner.clone())] {
                if let Some(v) = v {
                    body[k] = json!(v);
                }
            }
            let s = client
                .put_plain(&format!("/privlink/admin/subscriptions/{id}"), &body)
                .await
                .with_context(|| format!("creating subscription {id}"))?;
            let row = vec![
                text(&s, "subscriptionId"),
                text(&s, "displayName"),
                text(&s, "tenantId"),
                text(&s, "state"),
                owner.unwrap_or_default(),
            ];
            print(output, &["SUBSCRIPTION ID", "DISPLAY NAME", "TENANT", "STATE", "OWNER"], vec![row], s)
        }
        AdminCommand::Sp { command: SpCommand::Create { tenant, name, admin, role, scope } } => {
            let tenant = default_tenant(&client, tenant).await?;
            sp_create(&client, output, &tenant, name, admin, role.zip(scope)).await
        }
        AdminCommand::User { command: UserCommand::Create { tenant, upn, password, name, admin } } => {
            let tenant = default_tenant(&client, tenant).await?;
            let mut body = json!({ "userPrincipalName": upn, "password": password, "admin": admin });
            if let Some(n) = name {
                body["displayName"] = json!(n);
            }
            let u = client
                .post_plain(&format!("/privlink/admin/tenants/{tenant}/users"), &body)
                .await
                .with_context(|| format!("creating user {upn} in tenant {tenant}"))?;
            print(output, PRINCIPAL_HEADERS, vec![principal_row(&u)], u)
        }
        AdminCommand::Principals { tenant } => {
            let tenant = default_tenant(&client, tenant).await?;
            let list = client
                .get_plain(&format!("/privlink/admin/tenants/{tenant}/principals"))
                .await
                .with_context(|| format!("listing the principals of tenant {tenant}"))?;
            let items = list.get("value").and_then(Value::as_array).cloned().unwrap_or_default();
            print(output, PRINCIPAL_HEADERS, items.iter().map(principal_row).collect(), Value::Array(items))
        }
    }
}

/// Why a role cannot be assigned with the administrator's token at `scope`, when it cannot: the
/// scope's subscription belongs to another tenant (its token is valid only in its own).
async fn other_tenant(client: &Client, sub: &str) -> anyhow::Result<Option<String>> {
    match client.get(&format!("/subscriptions/{sub}"), RESOURCES_API).await {
        Ok(s) => {
            let scope_tenant = text(&s, "tenantId");
            match client.caller_tenant() {
                Some(mine) if !scope_tenant.is_empty() && !scope_tenant.eq_ignore_ascii_case(mine) => {
                    Ok(Some(scope_tenant))
                }
                _ => Ok(None),
            }
        }
        Err(e) => match e.downcast_ref::<ApiError>() {
            Some(api) if api.code == "InvalidAuthenticationTokenTenant" => {
                // "... It must match the tenant '{base}/{tenant}/' associated with this subscription."
                let tenant = api
                    .message
                    .split("tenant '")
                    .nth(1)
                    .and_then(|rest| rest.split('\'').next())
                    .map(|t| t.trim_end_matches('/').rsplit('/').next().unwrap_or(t).to_string())
                    .unwrap_or_else(|| "another tenant".into());
                Ok(Some(tenant))
            }
            _ => Err(e).with_context(|| format!("reading subscription {sub}")),
        },
    }
}

/// The `az` command a principal of the scope's tenant runs to assign the role (by object id:
/// privlink has no Graph API for az to resolve an app id with).
fn owner_hint(object_id: &str, role: &str, scope: &str) -> String {
    format!(
        "az role assignment create --assignee-object-id {object_id} --assignee-principal-type ServicePrincipal \
         --role {} --scope {scope}",
        super::shell::sh_quote(role)
    )
}

async fn sp_create(
    client: &Client,
    output: Output,
    tenant: &str,
    name: Option<String>,
    admin: bool,
    role: Option<(String, String)>,
) -> anyhow::Result<()> {
    // Check what can be checked before anything is created.
    let mut blocked: Option<String> = None;
    let mut role_plan: Option<(String, String, String)> = None;
    if let Some((role, scope)) = &role {
        let Some(sub) = scope_subscription(scope) else {
            bail!("--scope '{scope}' is not a subscription or a scope inside one (/subscriptions/{{id}}/…)");
        };
        if let Some(scope_tenant) = other_tenant(client, &sub).await? {
            blocked = Some(scope_tenant);
        } else {
            if let Some(rg) = scope_resource_group(scope) {
                client
                    .get(&format!("/subscriptions/{sub}/resourceGroups/{rg}"), RESOURCES_API)
                    .await
                    .with_context(|| format!("checking the scope {scope}"))?;
            }
            let definition = resolve_role(client, scope, &sub, role).await?;
            role_plan = Some((role.clone(), scope.clone(), definition));
        }
    }
    let mut body = json!({ "admin": admin });
    if let Some(n) = name {
        body["displayName"] = json!(n);
    }
    let mut sp = client
        .post_plain(&format!("/privlink/admin/tenants/{tenant}/servicePrincipals"), &body)
        .await
        .with_context(|| format!("creating a service principal in tenant {tenant}"))?;
    let secret = text(&sp, "clientSecret");
    let app_id = text(&sp, "appId");
    let object_id = text(&sp, "objectId");

    let mut assignment_error = None;
    if let Some((role, scope, definition)) = &role_plan {
        let path =
            format!("{}/providers/Microsoft.Authorization/roleAssignments/{}", scope.trim_end_matches('/'), new_guid());
        match client.put(&path, AUTHORIZATION_API, &assignment_body(definition, &object_id, "ServicePrincipal")).await {
            Ok(a) => sp["roleAssignment"] = a,
            Err(e) => assignment_error = Some(format!("assigning {role} at {scope}: {e:#}")),
        }
    }

    match output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&sp)?),
        Output::Table => {
            let rows = vec![vec![
                app_id.clone(),
                object_id.clone(),
                text(&sp, "tenantId"),
                text(&sp, "displayName"),
                text(&sp, "admin"),
            ]];
            print!("{}", table::render(&["APP (CLIENT) ID", "OBJECT ID", "TENANT", "DISPLAY NAME", "ADMIN"], &rows));
            println!();
            println!("CLIENT SECRET (shown only this once; privlink keeps only a digest): {secret}");
            if let Some(a) = sp.get("roleAssignment") {
                let role = role_plan.as_ref().map(|(r, _, _)| r.as_str()).unwrap_or("");
                println!(
                    "ROLE: {role} at {} (assignment {})",
                    a.pointer("/properties/scope").and_then(Value::as_str).unwrap_or(""),
                    text(a, "name")
                );
            }
            println!();
            println!(
                "Sign in with it: AZURE_TENANT_ID={} AZURE_CLIENT_ID={app_id} AZURE_CLIENT_SECRET=<the secret>",
                text(&sp, "tenantId")
            );
        }
    }
    if let (Some(scope_tenant), Some((role, scope))) = (blocked, role) {
        eprintln!(
            "NOTE: the role {role} was NOT assigned: {scope} belongs to tenant {scope_tenant}, and the \
             administrator's token is valid only in its own tenant. A principal of tenant {scope_tenant} that may \
             assign roles there (e.g. the subscription's owner) must assign it, e.g. after `az login` as that \
             principal: {}",
            owner_hint(&object_id, &role, &scope)
        );
    }
    if let Some(e) = assignment_error {
        bail!("the service principal {app_id} was created, but {e}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_and_role_bodies() {
        assert_eq!(scope_subscription("/subscriptions/abc/resourceGroups/rg").as_deref(), Some("abc"));
        assert_eq!(scope_subscription("/Subscriptions/abc").as_deref(), Some("abc"));
        assert_eq!(scope_subscription("/providers/x"), None);
        assert_eq!(scope_subscription("/subscriptions/"), None);
        let id = role_definition_id("s", "acdd72a7-3385-48ef-bd42-f606fba81ae7");
        assert_eq!(
            id,
            "/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7"
        );
        assert_eq!(
            assignment_body(&id, "p", "ServicePrincipal"),
            json!({"properties": {"roleDefinitionId": id, "principalId": "p", "principalType": "ServicePrincipal"}})
        );
        assert_eq!(builtin_role("network contributor"), Some("4d97b98b-1d4f-4787-a291-c67834d212e7"));
        assert_eq!(builtin_role("Nobody"), None);
    }

    #[test]
    fn principal_rows_name_apps_by_app_id_and_users_by_upn() {
        let sp = json!({"type": "ServicePrincipal", "objectId": "o", "appId": "a", "displayName": "d", "tenantId": "t", "admin": true});
        assert_eq!(principal_row(&sp), ["ServicePrincipal", "o", "a", "d", "t", "true"]);
        let user = json!({"type": "User", "objectId": "o", "userPrincipalName": "u@x", "displayName": "U", "tenantId": "t", "admin": false});
        assert_eq!(principal_row(&user), ["User", "o", "u@x", "U", "t", "false"]);
        assert!(owner_hint("o", "Network Contributor", "/subscriptions/s").contains("--role 'Network Contributor'"));
        assert_eq!(scope_resource_group("/subscriptions/s/resourceGroups/rg1").as_deref(), Some("rg1"));
        assert_eq!(scope_resource_group("/subscriptions/s/resourceGroups/rg1/providers/x/y/z"), None);
        assert_eq!(scope_resource_group("/subscriptions/s"), None);
    }
}
