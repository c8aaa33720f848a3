//! The directory: each tenant's service principals (with client secrets) and users (with
//! passwords). Kept as rows under the tenant's key, apart from ARM resources:
//! `/tenants/{tid}/serviceprincipals/{appId}` and `/tenants/{tid}/users/{upn}`.
//!
//! Secrets are stored as salted HMAC-SHA256 digests, never in clear. Generated secrets carry
//! about 230 bits of entropy, so a fast keyed hash is enough (no password stretching); user
//! passwords are chosen by people, so they are stretched with PBKDF2.

use std::num::NonZeroU32;

use base64::Engine as _;
use privlink_store::{ResourceRow, Tx};
use rand::Rng as _;
use serde_json::{json, Value};

use crate::arm::{ArmError, ArmResult};

pub const SERVICE_PRINCIPAL_TYPE_KEY: &str = "privlink.directory/serviceprincipals";
pub const USER_TYPE_KEY: &str = "privlink.directory/users";
const PBKDF2_ROUNDS: u32 = 10_000;

pub fn tenant_key(tenant: &str) -> String {
    format!("/tenants/{tenant}").to_ascii_lowercase()
}

pub fn service_principal_key(tenant: &str, app_id: &str) -> String {
    format!("/tenants/{tenant}/serviceprincipals/{app_id}").to_ascii_lowercase()
}

pub fn user_key(tenant: &str, upn: &str) -> String {
    format!("/tenants/{tenant}/users/{upn}").to_ascii_lowercase()
}

/// A new client secret in Entra's shape (`abc8Q~` + 34 characters).
pub fn new_secret() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~";
    let mut rng = rand::rng();
    let body: String = (0..37).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect();
    format!("{}8Q~{}", &body[..3], &body[3..])
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes)
}

fn random_salt() -> String {
    let mut salt = [0u8; 16];
    rand::rng().fill(&mut salt);
    b64(&salt)
}

fn secret_digest(salt: &str, secret: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, salt.as_bytes());
    b64(ring::hmac::sign(&key, secret.as_bytes()).as_ref())
}

/// Whether `secret` matches the stored digest (compared in constant time by ring).
fn secret_matches(salt: &str, secret: &str, digest: &str) -> bool {
    let Ok(expected) = base64::engine::general_purpose::STANDARD_NO_PAD.decode(digest) else { return false };
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, salt.as_bytes());
    ring::hmac::verify(&key, secret.as_bytes(), &expected).is_ok()
}

fn rounds() -> NonZeroU32 {
    NonZeroU32::new(PBKDF2_ROUNDS).unwrap_or(NonZeroU32::MIN)
}

fn password_digest(salt: &str, password: &str) -> String {
    let mut out = [0u8; 32];
    ring::pbkdf2::derive(ring::pbkdf2::PBKDF2_HMAC_SHA256, rounds(), salt.as_bytes(), password.as_bytes(), &mut out);
    b64(&out)
}

fn password_matches(salt: &str, password: &str, digest: &str) -> bool {
    let Ok(expected) = base64::engine::general_purpose::STANDARD_NO_PAD.decode(digest) else { return false };
    ring::pbkdf2::verify(ring::pbkdf2::PBKDF2_HMAC_SHA256, rounds(), salt.as_bytes(), password.as_bytes(), &expected)
        .is_ok()
}

fn directory_row(key: String, id: String, type_key: &str, body: Value, now: i64) -> ResourceRow {
    ResourceRow {
        key,
        id,
        type_key: type_key.into(),
        subscription: String::new(),
        resource_group: String::new(),
        parent_key: String::new(),
        body,
        etag: String::new(),
        created_at: now,
        updated_at: now,
    }
}

/// A service principal with one client secret; returns the row and the secret (shown once).
pub fn create_service_principal(
    tx: &mut dyn Tx,
    tenant: &str,
    display_name: &str,
    admin: bool,
    now: i64,
) -> ArmResult<(ResourceRow, String)> {
    if tx.get(&tenant_key(tenant))?.is_none() {
        return Err(ArmError::invalid("TenantNotFound", format!("Tenant '{tenant}' does not exist.")));
    }
    let app_id = uuid::Uuid::new_v4().to_string();
    let object_id = uuid::Uuid::new_v4().to_string();
    let secret = new_secret();
    let salt = random_salt();
    let body = json!({
        "appId": app_id, "objectId": object_id, "displayName": display_name, "tenantId": tenant.to_ascii_lowercase(),
        "admin": admin,
        "secrets": [{ "keyId": uuid::Uuid::new_v4().to_string(), "hint": &secret[..3], "salt": salt,
                      "digest": secret_digest(&salt, &secret), "createdAt": now }],
    });
    let key = service_principal_key(tenant, &app_id);
    let row = directory_row(
        key,
        format!("/tenants/{tenant}/servicePrincipals/{app_id}"),
        SERVICE_PRINCIPAL_TYPE_KEY,
        body,
        now,
    );
    tx.put(&row)?;
    Ok((row, secret))
}

/// Replace every secret of the service principal `app_id` by a new one; returns it.
pub fn replace_secret(tx: &mut dyn Tx, tenant: &str, app_id: &str, now: i64) -> ArmResult<String> {
    let key = service_principal_key(tenant, app_id);
    let mut row = tx.get(&key)?.ok_or_else(|| {
        ArmError::invalid("ServicePrincipalNotFound", format!("No service principal '{app_id}' in tenant '{tenant}'."))
    })?;
    let secret = new_secret();
    let salt = random_salt();
    row.body["secrets"] = json!([{ "keyId": uuid::Uuid::new_v4().to_string(), "hint": &secret[..3], "salt": salt,
                                    "digest": secret_digest(&salt, &secret), "createdAt": now }]);
    row.updated_at = now;
    tx.put(&row)?;
    Ok(secret)
}

/// A user with a password; `upn` must be unique in the tenant.
pub fn create_user(
    tx: &mut dyn Tx,
    tenant: &str,
    upn: &str,
    display_name: &str,
    password: &str,
    admin: bool,
    now: i64,
) -> ArmResult<ResourceRow> {
    if tx.get(&tenant_key(tenant))?.is_none() {
        return Err(ArmError::invalid("TenantNotFound", format!("Tenant '{tenant}' does not exist.")));
    }
    let valid_upn = upn.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty()
            && domain.contains('.')
            && upn.chars().all(|c| c.is_ascii_alphanumeric() || "@._-".contains(c))
    });
    if !valid_upn {
        return Err(ArmError::invalid(
            "InvalidUserPrincipalName",
            format!("'{upn}' is not a user principal name (name@domain.example)."),
        ));
    }
    if password.chars().count() < 8 {
        return Err(ArmError::invalid("PasswordTooShort", "A user's password needs at least 8 characters."));
    }
    let key = user_key(tenant, upn);
    if tx.get(&key)?.is_some() {
        return Err(ArmError::Conflict {
            code: "UserAlreadyExists",
            message: format!("A user '{upn}' already exists in tenant '{tenant}'."),
        });
    }
    let salt = random_salt();
    let body = json!({
        "userPrincipalName": upn, "objectId": uuid::Uuid::new_v4().to_string(), "displayName": display_name,
        "tenantId": tenant.to_ascii_lowercase(), "admin": admin, "salt": salt, "digest": password_digest(&salt, password),
    });
    let row = directory_row(key, format!("/tenants/{tenant}/users/{upn}"), USER_TYPE_KEY, body, now);
    tx.put(&row)?;
    Ok(row)
}

/// The service principal `app_id` of `tenant` if `secret` is one of its secrets.
pub fn verify_client_secret(tx: &mut dyn Tx, tenant: &str, app_id: &str, secret: &str) -> ArmResult<Verified> {
    let Some(row) = tx.get(&service_principal_key(tenant, app_id))? else { return Ok(Verified::Unknown) };
    let ok = row.body.get("secrets").and_then(Value::as_array).into_iter().flatten().any(|s| {
        let salt = s.get("salt").and_then(Value::as_str).unwrap_or("");
        let digest = s.get("digest").and_then(Value::as_str).unwrap_or("");
        secret_matches(salt, secret, digest)
    });
    Ok(if ok { Verified::Ok(Box::new(row)) } else { Verified::WrongSecret })
}

/// The user `upn` of `tenant` if `password` is theirs.
pub fn verify_password(tx: &mut dyn Tx, tenant: &str, upn: &str, password: &str) -> ArmResult<Verified> {
    let Some(row) = tx.get(&user_key(tenant, upn))? else { return Ok(Verified::Unknown) };
    let salt = row.body.get("salt").and_then(Value::as_str).unwrap_or("");
    let digest = row.body.get("digest").and_then(Value::as_str).unwrap_or("");
    Ok(if password_matches(salt, password, digest) { Verified::Ok(Box::new(row)) } else { Verified::WrongSecret })
}

pub enum Verified {
    Ok(Box<ResourceRow>),
    Unknown,
    WrongSecret,
}

/// What the admin API shows of a principal: never a digest or salt.
pub fn render(row: &ResourceRow) -> Value {
    let b = &row.body;
    let mut out = json!({
        "objectId": b.get("objectId"), "displayName": b.get("displayName"), "tenantId": b.get("tenantId"),
        "admin": b.get("admin").and_then(Value::as_bool).unwrap_or(false),
    });
    if row.type_key == SERVICE_PRINCIPAL_TYPE_KEY {
        out["type"] = json!("ServicePrincipal");
        out["appId"] = b.get("appId").cloned().unwrap_or(Value::Null);
        let secrets: Vec<Value> = b
            .get("secrets")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|s| json!({ "keyId": s.get("keyId"), "hint": s.get("hint") }))
            .collect();
        out["secrets"] = json!(secrets);
    } else {
        out["type"] = json!("User");
        out["userPrincipalName"] = b.get("userPrincipalName").cloned().unwrap_or(Value::Null);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_look_like_entra_secrets_and_digests_verify() {
        let s = new_secret();
        assert_eq!(s.len(), 40);
        assert_eq!(&s[3..6], "8Q~");
        let salt = random_salt();
        assert!(secret_matches(&salt, &s, &secret_digest(&salt, &s)));
        assert!(!secret_matches(&salt, "other", &secret_digest(&salt, &s)));
        assert!(password_matches(&salt, "pw123456", &password_digest(&salt, "pw123456")));
        assert!(!password_matches(&salt, "pw1234567", &password_digest(&salt, "pw123456")));
    }
}
