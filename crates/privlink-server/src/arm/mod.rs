//! The ARM contract, in one place: resource ids and routing, api-versions, the error shape,
//! standard headers, ETag preconditions, paging and long-running-operation URLs.
//!
//! Resource providers (`crate::providers`) never build ARM envelopes, error bodies or headers
//! themselves; they return properties and typed errors and this module does the rest.

pub mod api_version;
pub mod error;
pub mod id;
pub mod json;
pub mod names;

use std::collections::HashMap;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use serde_json::Value;

pub use error::{ArmError, ArmResult};
pub use id::{ArmPath, ResourceId};

/// Everything a handler needs from an ARM request.
#[derive(Debug, Clone)]
pub struct ArmRequest {
    pub method: Method,
    pub path: ArmPath,
    /// The request path as sent (used to build `nextLink`).
    pub raw_path: String,
    /// Query parameters, keys lower-cased.
    pub query: HashMap<String, String>,
    pub if_match: Option<String>,
    pub if_none_match: Option<String>,
    /// `https://host:port` as the client reached us: the base of absolute URLs we hand out.
    pub base_url: String,
    pub body: Bytes,
    /// Who is asking (authenticated before dispatch).
    pub caller: crate::identity::Caller,
}

impl ArmRequest {
    pub fn api_version(&self) -> Option<&str> {
        self.query.get("api-version").map(String::as_str)
    }

    /// The body as a JSON object; ARM's `InvalidRequestContent` otherwise.
    pub fn body_object(&self) -> ArmResult<serde_json::Map<String, Value>> {
        if self.body.iter().all(|b| b.is_ascii_whitespace()) {
            return Err(ArmError::InvalidRequestContent {
                message: "The request content was invalid and could not be deserialized: the body is empty.".into(),
            });
        }
        match serde_json::from_slice::<Value>(&self.body) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(other) => Err(ArmError::InvalidRequestContent {
                message: format!(
                    "The request content was invalid and could not be deserialized: expected a JSON object, found {}.",
                    json::kind(&other)
                ),
            }),
            Err(e) => Err(ArmError::InvalidRequestContent {
                message: format!("The request content was invalid and could not be deserialized: {e}."),
            }),
        }
    }
}

pub fn parse_query(query: Option<&str>) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| {
            let s = s.replace('+', " ");
            percent_decode(&s)
        };
        out.insert(decode(k).to_ascii_lowercase(), decode(v));
    }
    out
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let Some(v) = s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `scheme://host:port` as the client reached us: `Host` for HTTP/1.1, the URI authority for
/// HTTP/2. The base of every absolute URL handed out (operation URLs, `nextLink`).
pub fn base_url(headers: &HeaderMap, uri: &http::Uri, insecure_http: bool) -> String {
    let host = headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| uri.authority().map(|a| a.to_string()))
        .unwrap_or_else(|| "127.0.0.1".into());
    let scheme = if insecure_http { "http" } else { "https" };
    format!("{scheme}://{host}")
}

/// Unix milliseconds as ARM writes timestamps (RFC 3339, UTC).
pub fn rfc3339(millis: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

/// A fresh Network-style weak ETag.
pub fn new_etag() -> String {
    format!("W/\"{}\"", uuid::Uuid::new_v4())
}

fn etag_core(tag: &str) -> &str {
    tag.trim().trim_start_matches("W/").trim_matches('"')
}

/// ARM's `If-Match` / `If-None-Match` table (RPC): `current` is the stored ETag, if any.
pub fn check_preconditions(
    if_match: Option<&str>,
    if_none_match: Option<&str>,
    current: Option<&str>,
) -> ArmResult<()> {
    if let Some(wanted) = if_match.map(str::trim).filter(|v| !v.is_empty() && *v != "\"\"") {
        match current {
            None => {
                return Err(ArmError::PreconditionFailed {
                    message: "The condition specified using HTTP conditional header(s) is not met: If-Match was given and the resource does not exist.".into(),
                })
            }
            Some(tag) if wanted != "*" && etag_core(wanted) != etag_core(tag) => {
                return Err(ArmError::PreconditionFailed {
                    message: format!("The condition specified using HTTP conditional header(s) is not met: If-Match {wanted} does not match the current ETag {tag}."),
                })
            }
            _ => {}
        }
    }
    if if_none_match.map(str::trim) == Some("*") && current.is_some() {
        return Err(ArmError::PreconditionFailed {
            message: "The condition specified using HTTP conditional header(s) is not met: If-None-Match: * was given and the resource already exists.".into(),
        });
    }
    Ok(())
}

/// The two polling URLs of a long-running operation.
pub struct OperationUrls {
    pub async_operation: String,
    pub location: String,
}

pub fn operation_urls(
    base_url: &str,
    subscription: &str,
    namespace: &str,
    location: &str,
    operation_id: &str,
    api_version: &str,
) -> OperationUrls {
    let prefix = format!("{base_url}/subscriptions/{subscription}/providers/{namespace}/locations/{location}");
    OperationUrls {
        async_operation: format!("{prefix}/operations/{operation_id}?api-version={api_version}"),
        location: format!("{prefix}/operationResults/{operation_id}?api-version={api_version}"),
    }
}

/// Opaque `$skipToken`: the key the next page starts after, with a check value so that a token
/// privlink did not hand out is refused rather than silently cutting a list short.
pub fn encode_skip_token(last_key: &str) -> String {
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    format!("{}.{:016x}", engine.encode(last_key.as_bytes()), skip_token_check(last_key))
}

pub fn decode_skip_token(token: &str) -> ArmResult<String> {
    let invalid = || ArmError::invalid("InvalidSkipToken", format!("The $skipToken '{token}' is not valid."));
    let (encoded, check) = token.split_once('.').ok_or_else(invalid)?;
    let key = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(encoded.as_bytes())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(invalid)?;
    if u64::from_str_radix(check, 16).ok() != Some(skip_token_check(&key)) {
        return Err(invalid());
    }
    Ok(key)
}

/// FNV-1a over the key: enough to tell privlink's own tokens from made-up ones.
fn skip_token_check(key: &str) -> u64 {
    b"privlink-skip-token:"
        .iter()
        .chain(key.as_bytes())
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

/// Page size: `$top` when given (1-1000), else `default`.
pub fn page_size(req: &ArmRequest, default: usize) -> ArmResult<usize> {
    match req.query.get("$top") {
        None => Ok(default),
        Some(t) => match t.parse::<usize>() {
            Ok(n) if (1..=1000).contains(&n) => Ok(n),
            _ => Err(ArmError::invalid(
                "InvalidTopParameter",
                format!("The $top value '{t}' must be an integer from 1 to 1000."),
            )),
        },
    }
}

/// `nextLink` for the page after `last_key`.
pub fn next_link(req: &ArmRequest, last_key: &str) -> String {
    let mut link = format!("{}{}?api-version={}", req.base_url, req.raw_path, req.api_version().unwrap_or(""));
    if let Some(top) = req.query.get("$top") {
        link.push_str(&format!("&$top={top}"));
    }
    link.push_str(&format!("&$skipToken={}", encode_skip_token(last_key)));
    link
}

/// A JSON response with optional extra headers.
pub fn json_response(status: StatusCode, body: &Value, headers: &[(&'static str, String)]) -> Response {
    let mut response = Response::builder().status(status);
    if let Some(h) = response.headers_mut() {
        h.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
        add_headers(h, headers);
    }
    response.body(Body::from(body.to_string())).unwrap_or_else(|_| ArmError::Internal.into_response())
}

pub fn empty_response(status: StatusCode, headers: &[(&'static str, String)]) -> Response {
    let mut response = Response::builder().status(status);
    if let Some(h) = response.headers_mut() {
        add_headers(h, headers);
    }
    response.body(Body::empty()).unwrap_or_else(|_| ArmError::Internal.into_response())
}

fn add_headers(map: &mut HeaderMap, headers: &[(&'static str, String)]) {
    for (name, value) in headers {
        if let Ok(v) = HeaderValue::from_str(value) {
            map.insert(*name, v);
        }
    }
}

/// Standard ARM response headers on every response: request ids, the correlation id, the
/// client's request id echoed back, and ARM's no-cache headers.
pub async fn standard_headers(request: http::Request<Body>, next: axum::middleware::Next) -> Response {
    let client_request_id = request.headers().get("x-ms-client-request-id").cloned();
    let correlation = request.headers().get("x-ms-correlation-request-id").cloned().unwrap_or_else(|| {
        HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()).unwrap_or(HeaderValue::from_static("0"))
    });
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    if !h.contains_key("x-ms-request-id") {
        if let Ok(v) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
            h.insert("x-ms-request-id", v);
        }
    }
    h.insert("x-ms-correlation-request-id", correlation);
    if let Some(id) = client_request_id {
        h.insert("x-ms-client-request-id", id);
    }
    h.insert(http::header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(http::header::PRAGMA, HeaderValue::from_static("no-cache"));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preconditions_follow_the_rpc_table() {
        let tag = "W/\"abc\"";
        assert!(check_preconditions(None, None, None).is_ok());
        assert!(check_preconditions(Some("*"), None, None).is_err());
        assert!(check_preconditions(Some("*"), None, Some(tag)).is_ok());
        assert!(check_preconditions(Some("W/\"abc\""), None, Some(tag)).is_ok());
        assert!(check_preconditions(Some("\"abc\""), None, Some(tag)).is_ok());
        assert!(check_preconditions(Some("\"xyz\""), None, Some(tag)).is_err());
        assert!(check_preconditions(Some("\"xyz\""), None, None).is_err());
        assert!(check_preconditions(None, Some("*"), Some(tag)).is_err());
        assert!(check_preconditions(None, Some("*"), None).is_ok());
        assert!(check_preconditions(None, Some("\"other\""), Some(tag)).is_ok());
    }

    #[test]
    fn skip_tokens_round_trip_and_reject_garbage() {
        let key = "/subscriptions/s/resourcegroups/rg/x";
        assert_eq!(decode_skip_token(&encode_skip_token(key)).unwrap(), key);
        assert!(decode_skip_token("***").is_err());
        assert!(decode_skip_token("Zm9v").is_err(), "base64 of a made-up key");
        assert!(decode_skip_token("Zm9v.0000000000000000").is_err());
    }

    #[test]
    fn query_keys_are_case_insensitive_and_decoded() {
        let q = parse_query(Some("API-Version=2024-07-01&%24skipToken=a%2Fb"));
        assert_eq!(q.get("api-version").map(String::as_str), Some("2024-07-01"));
        assert_eq!(q.get("$skiptoken").map(String::as_str), Some("a/b"));
    }
}
