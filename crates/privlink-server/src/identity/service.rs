//! The identity service shared by the request path: the signing key, the authentication mode,
//! and the bases (URLs) tokens may be issued under.

use std::sync::OnceLock;

use http::HeaderMap;

use super::keys::SigningKey;
use super::tokens::{self, Expected, Rejection, Subject};
use super::Caller;

/// How management requests are authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthMode {
    /// Bearer JWTs issued by privlink: signature, expiry, issuer and audience are checked.
    #[default]
    Strict,
    /// Any bearer token acts as the administrator. For quick experiments only.
    Permissive,
}

impl std::str::FromStr for AuthMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "strict" => Ok(AuthMode::Strict),
            "permissive" => Ok(AuthMode::Permissive),
            other => Err(format!("invalid auth mode '{other}': use strict or permissive")),
        }
    }
}

pub struct IdentityService {
    pub key: SigningKey,
    pub mode: AuthMode,
    /// The server's own URL (`https://127.0.0.1:8443`), known once the listener is bound.
    server_url: OnceLock<String>,
    /// Who a permissive-mode request acts as.
    pub administrator: Subject,
    /// Keys the `IDENTITY_HEADER` values handed to processes acting as managed identities.
    header_key: ring::hmac::Key,
    /// Tokens already validated, by request base and token, until they expire: clients send
    /// the same token for an hour, and an RSA verification per request is the costliest step
    /// of authentication.
    validated: parking_lot::Mutex<std::collections::HashMap<String, (Caller, i64)>>,
}

/// Bound on remembered tokens; past it the memory starts over.
const VALIDATED_CAPACITY: usize = 10_000;

impl IdentityService {
    pub fn new(key: SigningKey, mode: AuthMode, administrator: Subject) -> IdentityService {
        let header_key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key.derived_secret(b"managed-identity-header"));
        IdentityService {
            key,
            mode,
            server_url: OnceLock::new(),
            administrator,
            header_key,
            validated: Default::default(),
        }
    }

    pub fn set_server_url(&self, url: &str) {
        let _ = self.server_url.set(url.trim_end_matches('/').to_string());
    }

    pub fn server_url(&self) -> Option<&str> {
        self.server_url.get().map(String::as_str)
    }

    /// Authenticate a management request reached at `request_base`.
    pub fn authenticate(&self, headers: &HeaderMap, request_base: &str) -> Result<Caller, Rejection> {
        let token = bearer(headers).ok_or(Rejection::Missing)?;
        if self.mode == AuthMode::Permissive {
            return Ok(self.administrator_caller());
        }
        let now = now_secs();
        let memo_key = format!("{request_base} {token}");
        if let Some((caller, expires)) = self.validated.lock().get(&memo_key) {
            if now <= *expires {
                return Ok(caller.clone());
            }
        }
        let mut bases = vec![request_base];
        if let Some(own) = self.server_url() {
            bases.push(own);
        }
        let (caller, expires) = tokens::validate(&self.key, token, &Expected { bases: &bases }, now)?;
        let mut memo = self.validated.lock();
        if memo.len() >= VALIDATED_CAPACITY {
            memo.clear();
        }
        memo.insert(memo_key, (caller.clone(), expires));
        Ok(caller)
    }

    pub fn administrator_caller(&self) -> Caller {
        let a = &self.administrator;
        Caller {
            tenant_id: a.tenant_id.clone(),
            object_id: a.object_id.clone(),
            client_id: a.client_id.clone(),
            display: a.client_id.clone(),
            kind: a.kind,
            admin: true,
        }
    }

    /// The `IDENTITY_HEADER` that lets a process act as the identities of `resource_key`.
    pub fn identity_header(&self, resource_key: &str) -> String {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mac = ring::hmac::sign(&self.header_key, resource_key.as_bytes());
        format!("{}.{}", b64.encode(resource_key), b64.encode(mac.as_ref()))
    }

    /// The resource key an `IDENTITY_HEADER` was issued for, if it is genuine.
    pub fn resource_of_header(&self, header: &str) -> Option<String> {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let (key_part, mac_part) = header.split_once('.')?;
        let key = String::from_utf8(b64.decode(key_part).ok()?).ok()?;
        let mac = b64.decode(mac_part).ok()?;
        ring::hmac::verify(&self.header_key, key.as_bytes(), &mac).ok()?;
        Some(key)
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

pub fn now_secs() -> i64 {
    crate::providers::now_millis() / 1000
}
