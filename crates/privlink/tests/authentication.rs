//! Authentication: every ARM request carries a bearer JWT that privlink issued (RS256, its
//! `kid`), still valid (60 s leeway), from its own issuer and for a management audience;
//! otherwise ARM's 401 with a `WWW-Authenticate: Bearer authorization_uri=...` challenge and
//! the code Azure uses for that fault. The token endpoints answer in Entra ID's OAuth error
//! shape, the OpenID documents and JWKS let any client verify tokens, and the administrator's
//! credentials stay out of the log.
//!
//! Forged tokens are made from a real one by changing exactly one claim and signing again with
//! the server's own `signing-key.pem`, so each is refused for that one property only (a control
//! re-signed with no change is accepted).

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use common::{expect_error, jwt_claims, jwt_header, Principal, Resp, Server, LOCATION};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use reqwest::Method;
use serde_json::{json, Value};

const ARM: &str = "https://management.azure.com/";
/// The Azure CLI's public client id, which `az login` sends with the password grant.
const AZURE_CLI: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
const READER: &str = "acdd72a7-3385-48ef-bd42-f606fba81ae7";

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs() as i64
}

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The key the server signs tokens with (`signing-key.pem` in its data directory).
fn server_key(s: &Server) -> EncodingKey {
    let pem = std::fs::read(s.data_dir().join("signing-key.pem")).expect("reading signing-key.pem");
    EncodingKey::from_rsa_pem(&pem).expect("signing-key.pem is an RSA key")
}

/// Another RSA key, unknown to the server.
fn other_key() -> EncodingKey {
    use rsa::pkcs8::{EncodePrivateKey, LineEnding};
    let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).expect("generating an RSA key");
    let pem = key.to_pkcs8_pem(LineEnding::LF).expect("PEM");
    EncodingKey::from_rsa_pem(pem.as_bytes()).expect("RSA key")
}

/// `token`'s claims after `edit`, signed with `key` under the same header (`kid` included).
fn resign(token: &str, key: &EncodingKey, edit: impl FnOnce(&mut Value)) -> String {
    let mut claims = jwt_claims(token);
    edit(&mut claims);
    let mut header = Header::new(Algorithm::RS256);
    header.kid = jwt_header(token)["kid"].as_str().map(str::to_string);
    header.typ = Some("JWT".into());
    jsonwebtoken::encode(&header, &claims, key).expect("signing")
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// PUT resource group `rg` with exactly this `Authorization` header value ("" sends none).
async fn put_rg_with(s: &Server, rg: &str, authorization: &str) -> Resp {
    let body = json!({ "location": LOCATION });
    s.request(Method::PUT, &s.rg(rg), Some(&body), &[("authorization", authorization)]).await
}

/// The PUT of resource group `rg` with `authorization` is 401 `code` with a bearer challenge
/// naming the tenant's authority, and nothing was stored (the administrator finds no such
/// group). Returns the refusal.
async fn assert_refused(s: &Server, rg: &str, authorization: &str, code: &str) -> Resp {
    let r = put_rg_with(s, rg, authorization).await;
    expect_error(&r, 401, code);
    let challenge = r.header("www-authenticate").unwrap_or_else(|| panic!("401 without WWW-Authenticate: {r}"));
    let authority = format!("Bearer authorization_uri=\"{}/{}\"", s.url, s.tenant);
    assert!(challenge.starts_with(&authority), "challenge {challenge:?} should start with {authority:?}");
    if !authorization.is_empty() && authorization.starts_with("Bearer ") {
        assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    }
    expect_error(&s.get(&s.rg(rg)).await, 404, "ResourceGroupNotFound");
    r
}

fn message(r: &Resp) -> String {
    r.json["error"]["message"].as_str().unwrap_or_default().to_string()
}

/// A form POST to the token endpoint `path` (`/{tenant}/oauth2/v2.0/token` or `/oauth2/token`).
async fn token_request(s: &Server, path: &str, form: &[(&str, &str)]) -> Resp {
    s.post_form(path, form, &[]).await
}

fn client_credentials<'a>(p: &'a Principal, secret: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "client_credentials"),
        ("client_id", p.app_id.as_str()),
        ("client_secret", secret),
        ("scope", "https://management.azure.com/.default"),
    ]
}

/// Entra's OAuth error: `error`, `error_codes` and an `AADSTS{code}:` description.
#[track_caller]
fn expect_oauth_error(r: &Resp, status: u16, error: &str, code: u64) {
    assert_eq!(r.status, status, "expected {status} {error}: {r}");
    assert_eq!(r.json["error"], error, "{r}");
    assert_eq!(r.json["error_codes"], json!([code]), "{r}");
    let description = r.json["error_description"].as_str().unwrap_or_default();
    assert!(description.starts_with(&format!("AADSTS{code}: ")), "{r}");
    for field in ["timestamp", "trace_id", "correlation_id"] {
        assert!(r.json[field].as_str().is_some_and(|v| !v.is_empty()), "no {field}: {r}");
    }
}

// ---- refused requests ----------------------------------------------------------------------------

/// ARM answers a request without a bearer token `401 AuthenticationFailed` (an `Authorization`
/// header of another scheme counts as none) and does nothing.
#[tokio::test]
async fn a_request_without_a_bearer_token_is_401_authentication_failed() {
    let s = Server::start().await;
    let r = assert_refused(&s, "rg-none", "", "AuthenticationFailed").await;
    assert!(message(&r).contains("Authorization"), "{r}");
    assert_refused(&s, "rg-basic", "Basic YWRtaW46c2VjcmV0", "AuthenticationFailed").await;
    assert_refused(&s, "rg-empty", "Bearer ", "AuthenticationFailed").await;
    // GETs and lists are refused the same way.
    let r = s.send(Method::GET, "/subscriptions?api-version=2022-12-01", None, &[("authorization", "")]).await;
    expect_error(&r, 401, "AuthenticationFailed");
}

/// A token that is not a JWT, or not an RS256 JWT (`alg: none`, HS256), is
/// `401 InvalidAuthenticationToken`.
#[tokio::test]
async fn a_malformed_token_is_401_invalid_authentication_token() {
    let s = Server::start().await;
    assert_refused(&s, "rg-text", "Bearer not-a-jwt", "InvalidAuthenticationToken").await;
    assert_refused(&s, "rg-dots", "Bearer a.b.c", "InvalidAuthenticationToken").await;

    let claims = b64url(jwt_claims(&s.admin_token()).to_string().as_bytes());
    let unsigned = format!("{}.{claims}.", b64url(br#"{"alg":"none","typ":"JWT"}"#));
    assert_refused(&s, "rg-none", &bearer(&unsigned), "InvalidAuthenticationToken").await;
    // HS256 "signed" with the public modulus: the classic algorithm confusion.
    let jwks = s.send(Method::GET, &format!("/{}/discovery/v2.0/keys", s.tenant), None, &[]).await;
    let n = jwks.json["keys"][0]["n"].as_str().expect("n").to_string();
    let mut header = Header::new(Algorithm::HS256);
    header.kid = jwt_header(&s.admin_token())["kid"].as_str().map(str::to_string);
    let hs = jsonwebtoken::encode(&header, &jwt_claims(&s.admin_token()), &EncodingKey::from_secret(n.as_bytes()))
        .expect("HS256");
    assert_refused(&s, "rg-hs256", &bearer(&hs), "InvalidAuthenticationToken").await;
}

/// A real token whose claims were changed after signing (here: another object id, as someone
/// trying to act as another principal would) fails its signature: `InvalidAuthenticationToken`.
#[tokio::test]
async fn a_tampered_token_is_401_invalid_authentication_token() {
    let s = Server::start().await;
    let token = s.admin_token();
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "{token}");
    let mut claims = jwt_claims(&token);
    claims["oid"] = json!(uuid::Uuid::new_v4().to_string());
    let tampered = format!("{}.{}.{}", parts[0], b64url(claims.to_string().as_bytes()), parts[2]);
    let r = assert_refused(&s, "rg-tampered", &bearer(&tampered), "InvalidAuthenticationToken").await;
    assert!(message(&r).contains("signature"), "{r}");
    // The untouched token works.
    assert_eq!(put_rg_with(&s, "rg-real", &bearer(&token)).await.status, 201);
}

/// The same claims signed by a key privlink does not hold (under privlink's own `kid`) are
/// refused: `InvalidAuthenticationToken`.
#[tokio::test]
async fn a_token_signed_by_another_key_is_401_invalid_authentication_token() {
    let s = Server::start().await;
    let forged = resign(&s.admin_token(), &other_key(), |_| {});
    let r = assert_refused(&s, "rg-forged", &bearer(&forged), "InvalidAuthenticationToken").await;
    assert!(message(&r).contains("signature"), "{r}");
    // The control: the same claims re-signed with the server's key are accepted.
    let control = resign(&s.admin_token(), &server_key(&s), |_| {});
    assert_eq!(put_rg_with(&s, "rg-control", &bearer(&control)).await.status, 201);
}

/// `exp` in the past beyond the 60 s clock-skew leeway: `401 ExpiredAuthenticationToken`
/// ("The access token expiry UTC time ... is earlier than current UTC time ..."); within the
/// leeway the token still works.
#[tokio::test]
async fn an_expired_token_is_401_expired_authentication_token() {
    let s = Server::start().await;
    let key = server_key(&s);
    let t = now();
    let expired = resign(&s.admin_token(), &key, |c| {
        c["iat"] = json!(t - 7200);
        c["nbf"] = json!(t - 7200);
        c["exp"] = json!(t - 3600);
    });
    let r = assert_refused(&s, "rg-expired", &bearer(&expired), "ExpiredAuthenticationToken").await;
    assert!(message(&r).contains("expiry"), "{r}");
    let lenient = resign(&s.admin_token(), &key, |c| {
        c["iat"] = json!(t - 3600);
        c["nbf"] = json!(t - 3600);
        c["exp"] = json!(t - 20);
    });
    assert_eq!(put_rg_with(&s, "rg-leeway", &bearer(&lenient)).await.status, 201, "20 s past exp is within leeway");
}

/// `nbf` in the future beyond the leeway: `401 InvalidAuthenticationToken`; 20 s ahead is
/// tolerated.
#[tokio::test]
async fn a_token_not_yet_valid_is_401_invalid_authentication_token() {
    let s = Server::start().await;
    let key = server_key(&s);
    let t = now();
    let early = resign(&s.admin_token(), &key, |c| {
        c["iat"] = json!(t + 3600);
        c["nbf"] = json!(t + 3600);
        c["exp"] = json!(t + 7200);
    });
    assert_refused(&s, "rg-early", &bearer(&early), "InvalidAuthenticationToken").await;
    let skewed = resign(&s.admin_token(), &key, |c| {
        c["iat"] = json!(t + 20);
        c["nbf"] = json!(t + 20);
    });
    assert_eq!(put_rg_with(&s, "rg-skew", &bearer(&skewed)).await.status, 201, "20 s of skew is tolerated");
}

/// A token for another resource (Key Vault) is `401 InvalidAuthenticationTokenAudience`, whether
/// forged or issued by the token endpoint; ARM's two audiences (with or without the trailing
/// slash) and privlink's own URL are accepted.
#[tokio::test]
async fn a_token_for_another_audience_is_401_invalid_authentication_token_audience() {
    let s = Server::start().await;
    let key = server_key(&s);
    let vault = resign(&s.admin_token(), &key, |c| c["aud"] = json!("https://vault.azure.net"));
    let r = assert_refused(&s, "rg-vault", &bearer(&vault), "InvalidAuthenticationTokenAudience").await;
    assert!(message(&r).contains("'https://vault.azure.net'"), "the message names the audience: {r}");

    // A genuine token, asked for Key Vault's scope.
    let admin = s.admin();
    let mut form = client_credentials(&admin, &admin.secret);
    form[3] = ("scope", "https://vault.azure.net/.default");
    let issued = token_request(&s, &format!("/{}/oauth2/v2.0/token", s.tenant), &form).await;
    assert_eq!(issued.status, 200, "{issued}");
    let issued = issued.json["access_token"].as_str().expect("access_token").to_string();
    assert_eq!(jwt_claims(&issued)["aud"], "https://vault.azure.net");
    assert_refused(&s, "rg-vault2", &bearer(&issued), "InvalidAuthenticationTokenAudience").await;

    let own = format!("{}/", s.url);
    for (i, aud) in
        ["https://management.azure.com", ARM, "https://management.core.windows.net/", &s.url, &own].iter().enumerate()
    {
        let token = resign(&s.admin_token(), &key, |c| c["aud"] = json!(aud));
        let r = put_rg_with(&s, &format!("rg-aud{i}"), &bearer(&token)).await;
        assert_eq!(r.status, 201, "audience {aud} should be accepted: {r}");
    }
}

/// Issuer and audience are checked against privlink's own URL, never against what a request's
/// `Host` header claims: a Key Vault token sent with `Host: vault.azure.net` stays refused, on
/// ARM and on the admin API.
#[tokio::test]
async fn the_host_header_does_not_widen_the_accepted_audiences() {
    let s = Server::start().await;
    let admin = s.admin();
    let mut form = client_credentials(&admin, &admin.secret);
    form[3] = ("scope", "https://vault.azure.net/.default");
    let issued = token_request(&s, &format!("/{}/oauth2/v2.0/token", s.tenant), &form).await;
    let vault = bearer(issued.json["access_token"].as_str().expect("access_token"));
    let sub = format!("{}?api-version=2022-12-01", s.sub());
    for path in [sub.as_str(), "/privlink/admin/tenants"] {
        let r = s.send_http1(Method::GET, path, None, &[("host", "vault.azure.net"), ("authorization", &vault)]).await;
        expect_error(&r, 401, "InvalidAuthenticationTokenAudience");
    }
    // The same request with the administrator's own token and the real host works.
    let r = s.send_http1(Method::GET, &sub, None, &[]).await;
    assert_eq!(r.status, 200, "{r}");
}

/// A token from another issuer (Entra's own, or another tenant's path on this server for a
/// token whose `tid` is this tenant) is `401 InvalidAuthenticationToken` naming the issuer.
#[tokio::test]
async fn a_token_from_another_issuer_is_401_invalid_authentication_token() {
    let s = Server::start().await;
    let key = server_key(&s);
    let entra = format!("https://login.microsoftonline.com/{}/v2.0", s.tenant);
    let token = resign(&s.admin_token(), &key, |c| c["iss"] = json!(entra));
    let r = assert_refused(&s, "rg-entra", &bearer(&token), "InvalidAuthenticationToken").await;
    assert!(message(&r).contains(&entra), "the message names the issuer: {r}");

    let elsewhere = format!("{}/{}/v2.0", s.url, uuid::Uuid::new_v4());
    let token = resign(&s.admin_token(), &key, |c| c["iss"] = json!(elsewhere));
    assert_refused(&s, "rg-other-tenant", &bearer(&token), "InvalidAuthenticationToken").await;

    // Both issuer forms of this server and tenant are accepted.
    for (i, iss) in [format!("{}/{}/v2.0", s.url, s.tenant), format!("{}/{}/", s.url, s.tenant)].iter().enumerate() {
        let token = resign(&s.admin_token(), &key, |c| c["iss"] = json!(iss));
        assert_eq!(put_rg_with(&s, &format!("rg-iss{i}"), &bearer(&token)).await.status, 201, "issuer {iss}");
    }
}

// ---- the token endpoints ---------------------------------------------------------------------------

/// Entra's client-credentials errors: a wrong secret is `401 invalid_client` (AADSTS7000215),
/// an unknown application `400 unauthorized_client` (AADSTS700016), an unknown tenant
/// `400 invalid_request` (AADSTS90002), no scope `400 invalid_request` (AADSTS900144), a scope
/// without `/.default` `400 invalid_scope` (AADSTS1002012), another grant
/// `400 unsupported_grant_type` (AADSTS70003).
#[tokio::test]
async fn token_endpoint_errors_have_entra_oauth_fields() {
    let s = Server::start().await;
    let admin = s.admin();
    let v2 = format!("/{}/oauth2/v2.0/token", s.tenant);

    let r = token_request(&s, &v2, &client_credentials(&admin, "not-the-secret")).await;
    expect_oauth_error(&r, 401, "invalid_client", 7000215);

    let stranger = Principal { app_id: uuid::Uuid::new_v4().to_string(), ..admin.clone() };
    let r = token_request(&s, &v2, &client_credentials(&stranger, &admin.secret)).await;
    expect_oauth_error(&r, 400, "unauthorized_client", 700016);
    assert!(r.json["error_description"].as_str().is_some_and(|d| d.contains(&stranger.app_id)), "{r}");

    let nowhere = uuid::Uuid::new_v4().to_string();
    let r =
        token_request(&s, &format!("/{nowhere}/oauth2/v2.0/token"), &client_credentials(&admin, &admin.secret)).await;
    expect_oauth_error(&r, 400, "invalid_request", 90002);
    assert!(r.json["error_description"].as_str().is_some_and(|d| d.contains(&nowhere)), "{r}");

    let mut no_scope = client_credentials(&admin, &admin.secret);
    no_scope.pop();
    expect_oauth_error(&token_request(&s, &v2, &no_scope).await, 400, "invalid_request", 900144);

    let mut delegated = client_credentials(&admin, &admin.secret);
    delegated[3] = ("scope", "https://management.azure.com/user_impersonation");
    expect_oauth_error(&token_request(&s, &v2, &delegated).await, 400, "invalid_scope", 1002012);

    let mut code = client_credentials(&admin, &admin.secret);
    code[0] = ("grant_type", "authorization_code");
    expect_oauth_error(&token_request(&s, &v2, &code).await, 400, "unsupported_grant_type", 70003);

    // The right secret, as a form field or as client_secret_basic.
    let r = token_request(&s, &v2, &client_credentials(&admin, &admin.secret)).await;
    assert_eq!(r.status, 200, "{r}");
    assert_eq!(r.json["token_type"], "Bearer");
    assert!(r.json["expires_in"].as_i64().is_some_and(|e| e > 3000), "{r}");
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", admin.app_id, admin.secret));
    let form = [("grant_type", "client_credentials"), ("scope", "https://management.azure.com/.default")];
    let r = s.post_form(&v2, &form, &[("authorization", &format!("Basic {basic}"))]).await;
    assert_eq!(r.status, 200, "client_secret_basic: {r}");
}

/// The OpenID configuration (v2 and v1) points at this server's token endpoint and JWKS; the
/// JWKS key verifies a real token (`n`/`e` into an RSA public key) with the advertised issuer
/// and refuses a tampered one; an unknown tenant's documents are AADSTS90002.
#[tokio::test]
async fn openid_documents_and_jwks_verify_real_tokens() {
    let s = Server::start().await;
    let (url, tenant) = (&s.url, &s.tenant);
    let v2 = s.send(Method::GET, &format!("/{tenant}/v2.0/.well-known/openid-configuration"), None, &[]).await;
    assert_eq!(v2.status, 200, "{v2}");
    assert_eq!(v2.json["issuer"], format!("{url}/{tenant}/v2.0"));
    assert_eq!(v2.json["token_endpoint"], format!("{url}/{tenant}/oauth2/v2.0/token"));
    assert_eq!(v2.json["jwks_uri"], format!("{url}/{tenant}/discovery/v2.0/keys"));
    assert!(v2.json["id_token_signing_alg_values_supported"].as_array().is_some_and(|a| a.contains(&json!("RS256"))));
    let v1 = s.send(Method::GET, &format!("/{tenant}/.well-known/openid-configuration"), None, &[]).await;
    assert_eq!(v1.status, 200, "{v1}");
    assert_eq!(v1.json["issuer"], format!("{url}/{tenant}/"));
    assert_eq!(v1.json["token_endpoint"], format!("{url}/{tenant}/oauth2/token"));

    let jwks_uri = v2.json["jwks_uri"].as_str().expect("jwks_uri").to_string();
    let jwks = s.send(Method::GET, &jwks_uri, None, &[("authorization", "")]).await;
    assert_eq!(jwks.status, 200, "{jwks}");
    let keys = jwks.json["keys"].as_array().cloned().unwrap_or_default();
    assert_eq!(keys.len(), 1, "{jwks}");
    let jwk = &keys[0];
    assert_eq!(
        (jwk["kty"].as_str(), jwk["use"].as_str(), jwk["alg"].as_str()),
        (Some("RSA"), Some("sig"), Some("RS256"))
    );
    let v1_jwks_uri = v1.json["jwks_uri"].as_str().expect("v1 jwks_uri").to_string();
    assert_eq!(s.send(Method::GET, &v1_jwks_uri, None, &[]).await.json, jwks.json, "one key for both versions");

    let token = s.admin_token();
    assert_eq!(jwt_header(&token)["kid"], jwk["kid"], "tokens name the published key");
    assert_eq!(jwt_header(&token)["alg"], "RS256");
    let key = DecodingKey::from_rsa_components(jwk["n"].as_str().expect("n"), jwk["e"].as_str().expect("e"))
        .expect("an RSA public key from n and e");
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[v2.json["issuer"].as_str().expect("issuer")]);
    validation.set_audience(&["https://management.azure.com"]);
    let data = jsonwebtoken::decode::<Value>(&token, &key, &validation).expect("the JWKS key verifies a real token");
    let c = &data.claims;
    assert_eq!(c["tid"], s.tenant.as_str());
    assert_eq!(c["oid"], s.credentials["objectId"]);
    assert_eq!(c["azp"], s.credentials["clientId"]);
    assert_eq!(c["ver"], "2.0");
    assert_eq!(c["idtyp"], "app");
    assert!(c["exp"].as_i64().unwrap_or(0) > now(), "{c}");

    let parts: Vec<&str> = token.split('.').collect();
    let mut claims = jwt_claims(&token);
    claims["oid"] = json!(uuid::Uuid::new_v4().to_string());
    let tampered = format!("{}.{}.{}", parts[0], b64url(claims.to_string().as_bytes()), parts[2]);
    assert!(jsonwebtoken::decode::<Value>(&tampered, &key, &validation).is_err(), "a tampered token must not verify");

    let nowhere = uuid::Uuid::new_v4();
    let r = s.send(Method::GET, &format!("/{nowhere}/v2.0/.well-known/openid-configuration"), None, &[]).await;
    expect_oauth_error(&r, 400, "invalid_request", 90002);
}

/// The v1 endpoint (`/oauth2/token` with `resource=`) issues a v1 token (`ver` 1.0, issuer
/// `{authority}/`, `appid`) that ARM accepts; without `resource` it is AADSTS900144.
#[tokio::test]
async fn a_token_from_the_v1_endpoint_also_works() {
    let s = Server::start().await;
    let admin = s.admin();
    let v1 = format!("/{}/oauth2/token", s.tenant);
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", admin.app_id.as_str()),
        ("client_secret", admin.secret.as_str()),
        ("resource", "https://management.core.windows.net/"),
    ];
    let r = token_request(&s, &v1, &form).await;
    assert_eq!(r.status, 200, "{r}");
    assert_eq!(r.json["resource"], "https://management.core.windows.net/");
    assert!(r.json["expires_on"].as_str().and_then(|e| e.parse::<i64>().ok()).is_some_and(|e| e > now()), "{r}");
    let token = r.json["access_token"].as_str().expect("access_token").to_string();
    let c = jwt_claims(&token);
    assert_eq!(c["ver"], "1.0");
    assert_eq!(c["iss"], format!("{}/{}/", s.url, s.tenant));
    assert_eq!(c["appid"], admin.app_id.as_str());
    assert_eq!(c["aud"], "https://management.core.windows.net/");
    let put = put_rg_with(&s, "rg-v1", &bearer(&token)).await;
    assert_eq!(put.status, 201, "{put}");
    expect_oauth_error(&token_request(&s, &v1, &form[..3]).await, 400, "invalid_request", 900144);
}

/// Observed across a restart: the signing key (and so the JWKS) is kept, but the port changes
/// and tokens name the URL they were issued at in `iss`, so a token issued before the restart
/// is refused with `InvalidAuthenticationToken` (unknown issuer, naming the old URL); a token
/// issued by the restarted server works.
#[tokio::test]
async fn tokens_survive_a_restart_only_when_issued_for_the_new_url() {
    let mut s = Server::start().await;
    let (old_url, old_token) = (s.url.clone(), s.admin_token());
    let keys_before = s.send(Method::GET, &format!("/{}/discovery/v2.0/keys", s.tenant), None, &[]).await.json;
    s.restart(&[]).await;
    while s.url == old_url {
        // The OS handed out the same port again; the point is a new URL.
        s.restart(&[]).await;
    }
    let keys_after = s.send(Method::GET, &format!("/{}/discovery/v2.0/keys", s.tenant), None, &[]).await.json;
    assert_eq!(keys_before, keys_after, "the signing key survives the restart");

    let r = assert_refused(&s, "rg-old-token", &bearer(&old_token), "InvalidAuthenticationToken").await;
    assert!(message(&r).contains(&format!("{old_url}/{}/v2.0", s.tenant)), "names the old issuer: {r}");

    // The harness fetched a fresh token from the new URL on restart.
    let fresh = s.admin_token();
    assert_ne!(fresh, old_token);
    assert_eq!(jwt_claims(&fresh)["iss"], format!("{}/{}/v2.0", s.url, s.tenant));
    let r = put_rg_with(&s, "rg-fresh", &bearer(&fresh)).await;
    assert_eq!(r.status, 201, "{r}");
}

/// `--auth permissive`: any bearer token acts as the administrator (even on the admin API),
/// but a request without one is still `401 AuthenticationFailed`.
#[tokio::test]
async fn permissive_mode_accepts_any_bearer_token_but_not_none() {
    let s = Server::start_with(&["--auth", "permissive"]).await;
    let info = s.send(Method::GET, "/privlink/info", None, &[("authorization", "")]).await;
    assert_eq!(info.json["auth"], "permissive", "{info}");

    let r = put_rg_with(&s, "rg-any", "Bearer anything-at-all").await;
    assert_eq!(r.status, 201, "{r}");
    let g = s.request(Method::GET, &s.rg("rg-any"), None, &[("authorization", "Bearer x")]).await;
    assert_eq!(g.status, 200, "{g}");
    let subs =
        s.send(Method::GET, "/subscriptions?api-version=2022-12-01", None, &[("authorization", "Bearer y")]).await;
    assert_eq!(subs.status, 200, "{subs}");
    assert_eq!(subs.json["value"][0]["subscriptionId"], s.subscription.as_str());
    let tenants =
        s.send(Method::GET, "/privlink/admin/tenants", None, &[("authorization", "Bearer not-even-a-jwt")]).await;
    assert_eq!(tenants.status, 200, "the administrator's surface too: {tenants}");

    assert_refused(&s, "rg-none", "", "AuthenticationFailed").await;
}

/// A user created through the admin API signs in with the password grant (as `az login -u`
/// does) and gets a user token (`idtyp` user, `upn`); a wrong or unknown password is
/// `400 invalid_grant` (AADSTS50126). ARM names a user by UPN in `AuthorizationFailed`.
#[tokio::test]
async fn a_user_signs_in_with_a_password_and_a_bad_password_is_refused() {
    let s = Server::start().await;
    let upn = "alice@contoso.example";
    let password = "correct horse battery";
    let body = json!({ "userPrincipalName": upn, "password": password, "displayName": "Alice" });
    let created = s.admin_send(Method::POST, &format!("/privlink/admin/tenants/{}/users", s.tenant), &body).await;
    assert_eq!(created.status, 201, "{created}");
    assert_eq!(created.json["type"], "User");
    assert_eq!(created.json["userPrincipalName"], upn);
    let object_id = created.json["objectId"].as_str().expect("objectId").to_string();
    let shown = created.json.to_string();
    assert!(!shown.contains(password) && !shown.contains("digest") && !shown.contains("salt"), "{shown}");

    let v2 = format!("/{}/oauth2/v2.0/token", s.tenant);
    let sign_in = |pw: &'static str, user: &'static str| {
        vec![
            ("grant_type", "password"),
            ("client_id", AZURE_CLI),
            ("username", user),
            ("password", pw),
            ("scope", "https://management.azure.com/.default offline_access openid profile"),
        ]
    };
    expect_oauth_error(&token_request(&s, &v2, &sign_in("wrong password", upn)).await, 400, "invalid_grant", 50126);
    let unknown = sign_in(password, "mallory@contoso.example");
    expect_oauth_error(&token_request(&s, &v2, &unknown).await, 400, "invalid_grant", 50126);

    let r = token_request(&s, &v2, &sign_in("correct horse battery", upn)).await;
    assert_eq!(r.status, 200, "{r}");
    let token = r.json["access_token"].as_str().expect("access_token").to_string();
    let c = jwt_claims(&token);
    assert_eq!(c["idtyp"], "user");
    assert_eq!(c["upn"], upn);
    assert_eq!(c["oid"], object_id.as_str());
    assert_eq!(c["tid"], s.tenant.as_str());
    assert_eq!(c["azp"], AZURE_CLI);

    // Signed in, but without a role: no subscriptions, and writes are refused naming her UPN.
    s.act_as_token(&token);
    let subs = s.get("/subscriptions").await;
    assert_eq!(subs.status, 200, "{subs}");
    assert_eq!(subs.json["value"], json!([]), "{subs}");
    let r = s.put(&s.rg("rg-alice"), &json!({ "location": LOCATION })).await;
    expect_error(&r, 403, "AuthorizationFailed");
    assert!(message(&r).contains(&format!("'{upn}'")) && message(&r).contains(&object_id), "{r}");

    // Reader at the subscription (assigned by the administrator): she sees it.
    s.act_as_admin();
    assert_eq!(s.assign_role(&s.sub(), READER, &object_id).await.status, 201);
    s.act_as_token(&token);
    let subs = s.get("/subscriptions").await;
    assert_eq!(subs.json["value"][0]["subscriptionId"], s.subscription.as_str(), "{subs}");
}

/// `credentials.json` and `signing-key.pem` are readable by their owner only (0600), and no
/// secret (the administrator's, a new service principal's, a user's password) nor an access
/// token ever reaches `server.log`.
#[tokio::test]
async fn credentials_are_private_and_secrets_never_reach_the_log() {
    use std::os::unix::fs::PermissionsExt as _;
    let s = Server::start().await;
    for file in ["credentials.json", "signing-key.pem"] {
        let mode = std::fs::metadata(s.data_dir().join(file)).expect(file).permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{file} has mode {mode:o}");
    }
    let c = &s.credentials;
    assert_eq!(c["tenantId"], s.tenant.as_str());
    assert_eq!(c["subscriptionId"], s.subscription.as_str());
    for field in ["clientId", "objectId"] {
        assert!(c[field].as_str().is_some_and(|v| uuid::Uuid::parse_str(v).is_ok()), "{field}: {c}");
    }
    let secret = c["clientSecret"].as_str().expect("clientSecret").to_string();
    assert!(secret.len() >= 32, "a client secret of {} characters", secret.len());

    // Use every path a secret travels: good and bad token requests, a new principal, a user.
    let admin = s.admin();
    let v2 = format!("/{}/oauth2/v2.0/token", s.tenant);
    let wrong = format!("{secret}x");
    assert_eq!(token_request(&s, &v2, &client_credentials(&admin, &wrong)).await.status, 401);
    let bob = s.create_principal(None, "bob").await;
    let bob_token = s.token_for(&bob).await;
    let password = "a very secret password";
    let user = json!({ "userPrincipalName": "carol@contoso.example", "password": password, "displayName": "Carol" });
    let r = s.admin_send(Method::POST, &format!("/privlink/admin/tenants/{}/users", s.tenant), &user).await;
    assert_eq!(r.status, 201, "{r}");
    let sign_in = [
        ("grant_type", "password"),
        ("username", "carol@contoso.example"),
        ("password", password),
        ("scope", "https://management.azure.com/.default"),
    ];
    assert_eq!(token_request(&s, &v2, &sign_in).await.status, 200);
    s.create_rg("rg-logged").await;

    let log = std::fs::read_to_string(s.data_dir().join("server.log")).expect("server.log");
    assert!(log.contains("token issued"), "the log records token issuance (without the token):\n{log}");
    for (what, value) in [
        ("the administrator's secret", secret.as_str()),
        ("a wrong secret", wrong.as_str()),
        ("bob's secret", bob.secret.as_str()),
        ("carol's password", password),
        ("the administrator's token", s.admin_token().as_str()),
        ("bob's token", bob_token.as_str()),
    ] {
        assert!(!log.contains(value), "{what} appears in server.log");
    }
}

/// Losing `credentials.json` does not lock the administrator out: the next start gives the same
/// service principal a new secret and writes it (0600); the old secret stops working.
#[tokio::test]
async fn a_lost_credentials_file_is_replaced_with_a_new_secret_on_restart() {
    let mut s = Server::start().await;
    let old = s.admin();
    std::fs::remove_file(s.data_dir().join("credentials.json")).expect("removing credentials.json");
    s.restart(&[]).await;
    let new = s.admin();
    assert_eq!((new.app_id.as_str(), new.object_id.as_str()), (old.app_id.as_str(), old.object_id.as_str()));
    assert_ne!(new.secret, old.secret, "a new secret");
    let r =
        token_request(&s, &format!("/{}/oauth2/v2.0/token", s.tenant), &client_credentials(&old, &old.secret)).await;
    expect_oauth_error(&r, 401, "invalid_client", 7000215);
    let r = s.get(&s.sub()).await;
    assert_eq!(r.status, 200, "the new secret works: {r}");
    // A restart with the file in place keeps the secret.
    s.restart(&[]).await;
    assert_eq!(s.admin().secret, new.secret);
}
