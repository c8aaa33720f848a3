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
    /// The URLs tokens may name as issuer and audience (see [`IdentityService::set_server_url`]).
    accepted_bases: OnceLock<Vec<String>>,
    /// Tokens already validated, by SHA-256 of the token, until they expire: clients send the
    /// same token for an hour, and an RSA verification per request is the costliest step of
    /// authentication.
    validated: parking_lot::Mutex<std::collections::HashMap<[u8; 32], (Caller, i64)>>,
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
            accepted_bases: OnceLock::new(),
            administrator,
            header_key,
            validated: Default::default(),
        }
    }

    /// The server's URL once the listener is bound. Tokens are accepted for it and, on a
    /// loopback address, for its `localhost` / `[::1]` spellings on the same port; never for
    /// whatever a request's `Host` header claims.
    pub fn set_server_url(&self, url: &str) {
        let url = url.trim_end_matches('/').to_string();
        let mut bases = vec![url.clone()];
        if let Some((scheme, rest)) = url.split_once("://") {
            if let Some((host, port)) = rest.rsplit_once(':') {
                if matches!(host, "127.0.0.1" | "localhost" | "[::1]") {
                    for alias in ["127.0.0.1", "localhost", "[::1]"] {
                        let base = format!("{scheme}://{alias}:{port}");
                        if !bases.contains(&base) {
                            bases.push(base);
                        }
                    }
                }
            }
        }
        let _ = self.server_url.set(url);
        let _ = self.accepted_bases.set(bases);
    }

    pub fn server_url(&self) -> Option<&str> {
        self.server_url.get().map(String::as_str)
    }

    /// Authenticate a management request.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, Rejection> {
        let token = bearer(headers).ok_or(Rejection::Missing)?;
        if self.mode == AuthMode::Permissive {
            return Ok(self.administrator_caller());
        }
        let now = now_secs();
        let memo_key: [u8; 32] = {
            let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
            let mut k = [0u8; 32];
            k.copy_from_slice(digest.as_ref());
            k
        };
        if let Some((caller, expires)) = self.validated.lock().get(&memo_key) {
            if now <= *expires {
                return Ok(caller.clone());
            }
        }
        let bases: Vec<&str> =
            self.accepted_bases.get().map(|b| b.iter().map(String::as_str).collect()).unwrap_or_default();
        let (caller, expires) = tokens::validate(&self.key, token, &Expected { bases: &bases }, now)?;
        let mut memo = self.validated.lock();
        if memo.len() >= VALIDATED_CAPACITY {
            memo.retain(|_, (_, exp)| *exp >= now);
            if memo.len() >= VALIDATED_CAPACITY {
                memo.clear();
            }
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

    /// The `IDENTITY_HEADER` that lets a process act as the identities of the resource
    /// `resource_key` created at `created_at`: bound to that incarnation, so a resource deleted
    /// and created again under the same id needs a new header.
    pub fn identity_header(&self, resource_key: &str, created_at: i64) -> String {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let subject = format!("{resource_key}\n{created_at}");
        let mac = ring::hmac::sign(&self.header_key, subject.as_bytes());
        format!("{}.{}", b64.encode(&subject), b64.encode(mac.as_ref()))
    }

    /// The resource key and creation time an `IDENTITY_HEADER` was issued for, if genuine.
    pub fn resource_of_header(&self, header: &str) -> Option<(String, i64)> {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let (subject_part, mac_part) = header.split_once('.')?;
        let subject = String::from_utf8(b64.decode(subject_part).ok()?).ok()?;
        let mac = b64.decode(mac_part).ok()?;
        ring::hmac::verify(&self.header_key, subject.as_bytes(), &mac).ok()?;
        let (key, created_at) = subject.rsplit_once('\n')?;
        Some((key.to_string(), created_at.parse().ok()?))
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
