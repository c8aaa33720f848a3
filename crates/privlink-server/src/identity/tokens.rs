//! Access tokens: signed RS256 JWTs shaped like Entra ID's, issued by the token endpoints and
//! validated on every management request.

use jsonwebtoken::{Algorithm, Header, Validation};
use serde::{Deserialize, Serialize};

use super::keys::SigningKey;
use super::{Caller, PrincipalKind};

/// How long an issued token is valid (Entra's default is 60-90 minutes).
pub const LIFETIME_SECS: i64 = 3600;
/// Clock skew tolerated on `exp` / `nbf`.
const LEEWAY_SECS: u64 = 60;

/// The audiences the management API accepts besides privlink's own URL.
pub const MANAGEMENT_AUDIENCES: [&str; 2] = ["https://management.azure.com/", "https://management.core.windows.net/"];

/// Which token endpoint a token came from; it decides the issuer form and `ver`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenVersion {
    V1,
    V2,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub aud: String,
    pub iss: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub tid: String,
    pub oid: String,
    pub sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azp: Option<String>,
    /// `app` or `user`.
    pub idtyp: String,
    pub ver: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// For managed identities: the resource id of the identity (as Entra's `xms_mirid`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xms_mirid: Option<String>,
    /// Set on the privlink administrator's tokens (privlink's own claim).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub privlink_admin: bool,
    pub uti: String,
}

/// The subject a token is issued to.
#[derive(Debug, Clone)]
pub struct Subject {
    pub tenant_id: String,
    pub object_id: String,
    pub client_id: String,
    pub kind: PrincipalKind,
    pub upn: Option<String>,
    pub display_name: Option<String>,
    pub mi_resource_id: Option<String>,
    pub admin: bool,
}

/// `{base}/{tenant}/v2.0` or `{base}/{tenant}/`.
pub fn issuer(base: &str, tenant: &str, version: TokenVersion) -> String {
    match version {
        TokenVersion::V2 => format!("{base}/{tenant}/v2.0"),
        TokenVersion::V1 => format!("{base}/{tenant}/"),
    }
}

/// Sign a token for `subject` with audience `audience`. Returns the token and its expiry
/// (unix seconds).
pub fn issue(
    key: &SigningKey,
    base: &str,
    subject: &Subject,
    audience: &str,
    version: TokenVersion,
    now: i64,
) -> anyhow::Result<(String, i64)> {
    let exp = now + LIFETIME_SECS;
    let (appid, azp, ver) = match version {
        TokenVersion::V1 => (Some(subject.client_id.clone()), None, "1.0"),
        TokenVersion::V2 => (None, Some(subject.client_id.clone()), "2.0"),
    };
    let claims = Claims {
        aud: audience.to_string(),
        iss: issuer(base, &subject.tenant_id, version),
        iat: now,
        nbf: now,
        exp,
        tid: subject.tenant_id.clone(),
        oid: subject.object_id.clone(),
        sub: subject.object_id.clone(),
        appid,
        azp,
        idtyp: if subject.kind == PrincipalKind::User { "user" } else { "app" }.into(),
        ver: ver.into(),
        upn: subject.upn.clone(),
        name: subject.display_name.clone(),
        xms_mirid: subject.mi_resource_id.clone(),
        privlink_admin: subject.admin,
        uti: uuid::Uuid::new_v4().simple().to_string(),
    };
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(key.kid.clone());
    header.typ = Some("JWT".into());
    Ok((jsonwebtoken::encode(&header, &claims, key.encoding())?, exp))
}

/// Why a token was refused; each maps to ARM's 401 code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    Missing,
    Malformed,
    BadSignature,
    Expired { exp: i64, now: i64 },
    NotYetValid,
    WrongAudience { audience: String },
    WrongIssuer { issuer: String },
}

/// Where a token may have been issued: the bases privlink is reachable at.
pub struct Expected<'a> {
    /// `https://host:port` as this request reached us, and the server's own URL.
    pub bases: &'a [&'a str],
}

/// Verify signature, expiry, issuer and audience; return the caller and until when (unix
/// seconds, leeway included) the token stays valid.
pub fn validate(key: &SigningKey, token: &str, expected: &Expected<'_>, now: i64) -> Result<(Caller, i64), Rejection> {
    let mut validation = Validation::new(Algorithm::RS256);
    validation.leeway = LEEWAY_SECS;
    validation.validate_aud = false;
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    let data = jsonwebtoken::decode::<Claims>(token, key.decoding(), &validation).map_err(|e| {
        use jsonwebtoken::errors::ErrorKind as K;
        match e.kind() {
            K::InvalidSignature | K::InvalidAlgorithm | K::InvalidKeyFormat => Rejection::BadSignature,
            _ => Rejection::Malformed,
        }
    })?;
    let c = data.claims;
    let leeway = LEEWAY_SECS as i64;
    if c.exp + leeway < now {
        return Err(Rejection::Expired { exp: c.exp, now });
    }
    if c.nbf - leeway > now {
        return Err(Rejection::NotYetValid);
    }
    let tenant = c.tid.to_ascii_lowercase();
    let issuer_ok = expected.bases.iter().any(|base| {
        [TokenVersion::V1, TokenVersion::V2].iter().any(|v| issuer(base, &tenant, *v).eq_ignore_ascii_case(&c.iss))
    });
    if !issuer_ok {
        return Err(Rejection::WrongIssuer { issuer: c.iss });
    }
    if !audience_ok(&c.aud, expected.bases) {
        return Err(Rejection::WrongAudience { audience: c.aud });
    }
    let kind = match (c.idtyp.as_str(), &c.xms_mirid) {
        ("user", _) => PrincipalKind::User,
        (_, Some(_)) => PrincipalKind::ManagedIdentity,
        _ => PrincipalKind::ServicePrincipal,
    };
    let client_id = c.appid.or(c.azp).unwrap_or_default().to_ascii_lowercase();
    let display = match (&kind, &c.upn) {
        (PrincipalKind::User, Some(upn)) => upn.clone(),
        _ => client_id.clone(),
    };
    let caller = Caller {
        tenant_id: tenant,
        object_id: c.oid.to_ascii_lowercase(),
        client_id,
        display,
        kind,
        admin: c.privlink_admin,
    };
    Ok((caller, c.exp + leeway))
}

/// The management audiences, with or without the trailing slash, and privlink's own URLs.
fn audience_ok(aud: &str, bases: &[&str]) -> bool {
    let trimmed = aud.trim_end_matches('/');
    MANAGEMENT_AUDIENCES.iter().any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(trimmed))
        || bases.iter().any(|b| b.trim_end_matches('/').eq_ignore_ascii_case(trimmed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> &'static SigningKey {
        static KEY: std::sync::OnceLock<SigningKey> = std::sync::OnceLock::new();
        KEY.get_or_init(|| {
            let dir = std::env::temp_dir().join(format!("privlink-key-{}", uuid::Uuid::new_v4().simple()));
            std::fs::create_dir_all(&dir).expect("temp dir");
            SigningKey::load_or_create(&dir).expect("key")
        })
    }

    fn subject() -> Subject {
        Subject {
            tenant_id: "11111111-1111-1111-1111-111111111111".into(),
            object_id: "22222222-2222-2222-2222-222222222222".into(),
            client_id: "33333333-3333-3333-3333-333333333333".into(),
            kind: PrincipalKind::ServicePrincipal,
            upn: None,
            display_name: None,
            mi_resource_id: None,
            admin: false,
        }
    }

    const BASE: &str = "https://127.0.0.1:8443";

    #[test]
    fn a_token_round_trips_for_every_management_audience() {
        for aud in ["https://management.core.windows.net/", "https://management.azure.com", "https://127.0.0.1:8443/"] {
            for version in [TokenVersion::V1, TokenVersion::V2] {
                let (token, _) = issue(key(), BASE, &subject(), aud, version, 1_000).expect("issue");
                let (caller, _) = validate(key(), &token, &Expected { bases: &[BASE] }, 1_010).expect("valid");
                assert_eq!(caller.object_id, "22222222-2222-2222-2222-222222222222");
                assert_eq!(caller.client_id, "33333333-3333-3333-3333-333333333333");
                assert_eq!(caller.kind, PrincipalKind::ServicePrincipal);
            }
        }
    }

    #[test]
    fn expiry_issuer_audience_and_signature_are_checked() {
        let (token, _) =
            issue(key(), BASE, &subject(), "https://management.azure.com/", TokenVersion::V2, 1_000).expect("issue");
        let expected = Expected { bases: &[BASE] };
        assert!(matches!(validate(key(), &token, &expected, 1_000 + 3600 + 61), Err(Rejection::Expired { .. })));
        let elsewhere = Expected { bases: &["https://127.0.0.1:9999"] };
        assert!(matches!(validate(key(), &token, &elsewhere, 1_010), Err(Rejection::WrongIssuer { .. })));
        let (vault, _) =
            issue(key(), BASE, &subject(), "https://vault.azure.net", TokenVersion::V2, 1_000).expect("issue");
        assert!(matches!(validate(key(), &vault, &expected, 1_010), Err(Rejection::WrongAudience { .. })));
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = "eyJhbGciOiJSUzI1NiJ9";
        parts[0] = forged;
        assert_eq!(validate(key(), &parts.join("."), &expected, 1_010), Err(Rejection::BadSignature));
        assert_eq!(validate(key(), "not-a-jwt", &expected, 1_010), Err(Rejection::Malformed));
    }
}
