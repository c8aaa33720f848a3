//! The HTTP proxy handshake as pure functions: finding the end of a request head, reading it
//! (`CONNECT host:port`, or an absolute-form request such as `GET http://host/path`), rewriting
//! an absolute-form head for the backend, and the responses the gateway sends.
//!
//! Parsing is strict where leniency would let two readers disagree (methods and versions are
//! case-sensitive, no line folding, no bare CR, no whitespace before a header's colon) and
//! lenient where it costs nothing (bare LF line ends, any method in absolute form). An
//! absolute-form request is forwarded as one request per connection: the request line becomes
//! origin-form, `Host` is set from the URL, `Proxy-*`, `Connection` and `Keep-Alive` are dropped
//! and `Connection: close` is added; the body, if any, follows unchanged.

use base64::Engine as _;

use crate::policy::{Host, RefusalKind};

/// What the client asked the proxy for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// `CONNECT host:port`: answer `200 Connection established`, then splice.
    Connect,
    /// An absolute-form request: send `head` (rewritten) to the backend, then splice.
    Forward { head: Vec<u8> },
}

/// A proxy request head, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyRequest {
    pub kind: Kind,
    pub host: Host,
    pub port: u16,
    /// The user of `Proxy-Authorization: Basic` (`None` without one, or with another scheme).
    pub user: Option<String>,
}

/// Why a head is not a proxy request the gateway serves.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    #[error("the request head is larger than {0} bytes")]
    TooLarge(usize),
    #[error("malformed request line")]
    RequestLine,
    #[error("invalid method")]
    Method,
    #[error("unsupported HTTP version {0:?} (HTTP/1.0 and HTTP/1.1 are)")]
    Version(String),
    #[error("CONNECT needs host:port, got {0:?}")]
    ConnectTarget(String),
    #[error("not a proxy request: {0:?} (send CONNECT host:port, or an absolute http:// URL)")]
    NotAbsolute(String),
    #[error("only http:// URLs are forwarded (use CONNECT for https): {0:?}")]
    Scheme(String),
    #[error("invalid host in {0:?}")]
    Host(String),
    #[error("invalid port in {0:?}")]
    Port(String),
    #[error("user information in URLs is not supported")]
    UserInfo,
    #[error("malformed header line")]
    Header,
    #[error("obsolete header line folding is not supported")]
    Folding,
    #[error("malformed Proxy-Authorization (Basic needs base64 of user:password)")]
    ProxyAuthorization,
}

impl HttpError {
    /// The status line's code and reason for this error.
    pub fn status(&self) -> (u16, &'static str) {
        match self {
            HttpError::TooLarge(_) => (431, "Request Header Fields Too Large"),
            HttpError::Version(_) => (505, "HTTP Version Not Supported"),
            _ => (400, "Bad Request"),
        }
    }
}

/// The longest piece of client input quoted in an error message.
const QUOTE_MAX: usize = 200;

fn quote(text: &str) -> String {
    text.chars().take(QUOTE_MAX).collect()
}

/// Where the head in `buf` ends: the index just past the empty line that closes it (CRLF or bare
/// LF line ends). `from` is how much of `buf` was searched by an earlier call, so reading a head
/// a byte at a time costs linear time.
pub fn head_end(buf: &[u8], from: usize) -> Option<usize> {
    let start = from.saturating_sub(2).min(buf.len());
    let mut index = start;
    while let Some(offset) = buf.get(index..)?.iter().position(|&b| b == b'\n') {
        let newline = index + offset;
        match buf.get(newline + 1) {
            Some(b'\n') => return Some(newline + 2),
            Some(b'\r') if buf.get(newline + 2) == Some(&b'\n') => return Some(newline + 3),
            _ => index = newline + 1,
        }
    }
    None
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_token(text: &[u8]) -> bool {
    !text.is_empty() && text.iter().all(|&b| is_tchar(b))
}

/// A header value's bytes: visible ASCII, space, tab, and obs-text.
fn is_value_byte(b: u8) -> bool {
    b == b'\t' || b == b' ' || b.is_ascii_graphic() || b >= 0x80
}

/// One header line, split.
struct Header<'a> {
    name: &'a [u8],
    value: &'a [u8],
}

fn trim_ows(mut value: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = value {
        value = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = value {
        value = rest;
    }
    value
}

fn parse_header(line: &[u8]) -> Result<Header<'_>, HttpError> {
    if matches!(line.first(), Some(b' ' | b'\t')) {
        return Err(HttpError::Folding);
    }
    let colon = line.iter().position(|&b| b == b':').ok_or(HttpError::Header)?;
    let name = &line[..colon];
    let value = trim_ows(&line[colon + 1..]);
    if !is_token(name) || !value.iter().all(|&b| is_value_byte(b)) {
        return Err(HttpError::Header);
    }
    Ok(Header { name, value })
}

/// Reads a whole head (as delimited by [`head_end`]) as a proxy request.
pub fn parse_head(head: &[u8]) -> Result<ProxyRequest, HttpError> {
    // Lines end with LF, optionally preceded by CR; the head ends with an empty line.
    let mut lines = head.split(|&b| b == b'\n').map(|line| line.strip_suffix(b"\r").unwrap_or(line));
    let request_line = lines.next().ok_or(HttpError::RequestLine)?;
    if !request_line.iter().all(|&b| b == b' ' || b.is_ascii_graphic()) {
        return Err(HttpError::RequestLine);
    }
    // Visible ASCII only, so this is UTF-8.
    let request_line = std::str::from_utf8(request_line).map_err(|_| HttpError::RequestLine)?;
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(HttpError::RequestLine);
    };
    if !is_token(method.as_bytes()) {
        return Err(HttpError::Method);
    }
    if target.is_empty() {
        return Err(HttpError::RequestLine);
    }
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        return Err(HttpError::Version(quote(version)));
    }
    let mut headers = Vec::new();
    for line in lines {
        if line.is_empty() {
            break;
        }
        if line.contains(&b'\r') {
            return Err(HttpError::Header);
        }
        headers.push(parse_header(line)?);
    }
    let user = proxy_user(&headers)?;

    if method == "CONNECT" {
        let (host, port, _) = parse_authority(target, None).map_err(|_| HttpError::ConnectTarget(quote(target)))?;
        return Ok(ProxyRequest { kind: Kind::Connect, host, port, user });
    }
    let Some(scheme_end) = target.find("://") else { return Err(HttpError::NotAbsolute(quote(target))) };
    if !target[..scheme_end].eq_ignore_ascii_case("http") {
        return Err(HttpError::Scheme(quote(target)));
    }
    let rest = &target[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let (host, port, authority) = parse_authority(authority, Some(80))?;
    let path = path.split('#').next().unwrap_or_default();
    let origin_form = match path.as_bytes().first() {
        Some(b'/') => path.to_string(),
        _ => format!("/{path}"),
    };
    let head = forward_head(method, &origin_form, version, authority, &headers);
    Ok(ProxyRequest { kind: Kind::Forward { head }, host, port, user })
}

/// `host[:port]` with `[v6]` hosts; `default_port` makes the port optional (an empty one too, as
/// RFC 3986 allows). Returns the host, the port and the authority as it should go into `Host`.
fn parse_authority(text: &str, default_port: Option<u16>) -> Result<(Host, u16, &str), HttpError> {
    if text.contains('@') {
        return Err(HttpError::UserInfo);
    }
    let (host_text, port_text) = if text.starts_with('[') {
        let close = text.find(']').ok_or_else(|| HttpError::Host(quote(text)))?;
        let (host, rest) = text.split_at(close + 1);
        match rest.strip_prefix(':') {
            Some(port) => (host, Some(port)),
            None if rest.is_empty() => (host, None),
            None => return Err(HttpError::Host(quote(text))),
        }
    } else {
        match text.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        }
    };
    let host = Host::parse(host_text).ok_or_else(|| HttpError::Host(quote(text)))?;
    let port = match (port_text, default_port) {
        (None | Some(""), Some(default)) => default,
        (Some(port), _) => parse_port(port).ok_or_else(|| HttpError::Port(quote(text)))?,
        (None, None) => return Err(HttpError::Port(quote(text))),
    };
    let authority = match port_text {
        Some("") => host_text,
        _ => text,
    };
    Ok((host, port, authority))
}

fn parse_port(text: &str) -> Option<u16> {
    if text.is_empty() || text.len() > 5 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u16>().ok().filter(|&port| port != 0)
}

/// The user of the first `Proxy-Authorization` header, when it is `Basic`.
fn proxy_user(headers: &[Header<'_>]) -> Result<Option<String>, HttpError> {
    let Some(header) = headers.iter().find(|h| h.name.eq_ignore_ascii_case(b"proxy-authorization")) else {
        return Ok(None);
    };
    let value = header.value;
    let space = value.iter().position(|&b| b == b' ').unwrap_or(value.len());
    if !value[..space].eq_ignore_ascii_case(b"basic") {
        return Ok(None);
    }
    let credentials = trim_ows(&value[space..]);
    let decoded =
        base64::engine::general_purpose::STANDARD.decode(credentials).map_err(|_| HttpError::ProxyAuthorization)?;
    let colon = decoded.iter().position(|&b| b == b':').ok_or(HttpError::ProxyAuthorization)?;
    let user = std::str::from_utf8(&decoded[..colon]).map_err(|_| HttpError::ProxyAuthorization)?;
    Ok((!user.is_empty()).then(|| user.to_string()))
}

/// Whether a header is the proxy's alone (never sent to the backend).
fn is_hop_header(name: &[u8]) -> bool {
    name.eq_ignore_ascii_case(b"connection")
        || name.eq_ignore_ascii_case(b"keep-alive")
        || name.eq_ignore_ascii_case(b"host")
        || (name.len() >= 6 && name[..6].eq_ignore_ascii_case(b"proxy-"))
}

fn forward_head(method: &str, origin_form: &str, version: &str, authority: &str, headers: &[Header<'_>]) -> Vec<u8> {
    let mut head = Vec::with_capacity(256);
    for piece in [method, " ", origin_form, " ", version, "\r\nHost: ", authority, "\r\n"] {
        head.extend_from_slice(piece.as_bytes());
    }
    for header in headers.iter().filter(|h| !is_hop_header(h.name)) {
        head.extend_from_slice(header.name);
        head.extend_from_slice(b": ");
        head.extend_from_slice(header.value);
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"Connection: close\r\n\r\n");
    head
}

/// `200 Connection established`, the answer to a CONNECT whose backend is connected.
pub const CONNECT_ESTABLISHED: &[u8] = b"HTTP/1.1 200 Connection established\r\n\r\n";

/// The status for a refusal.
pub fn refusal_status(kind: RefusalKind) -> (u16, &'static str) {
    match kind {
        RefusalKind::NotAllowed => (403, "Forbidden"),
        RefusalKind::Unreachable | RefusalKind::Refused => (502, "Bad Gateway"),
    }
}

/// `reason` as one line of printable ASCII (control characters become spaces, other characters
/// `?`), safe in a header and in a one-line body.
pub fn one_line(reason: &str) -> String {
    reason
        .chars()
        .map(|c| match c {
            ' '..='~' => c,
            c if c.is_control() => ' ',
            _ => '?',
        })
        .collect()
}

/// A refusal: `status`, a one-line plain-text body giving the reason, the reason again in
/// `X-Privlink-Refusal`, and `Connection: close`.
pub fn refusal_response(kind: RefusalKind, reason: &str) -> Vec<u8> {
    response(refusal_status(kind), reason, true)
}

/// The answer to a head the gateway cannot serve.
pub fn error_response(error: &HttpError) -> Vec<u8> {
    response(error.status(), &error.to_string(), false)
}

fn response((code, status): (u16, &str), message: &str, refusal: bool) -> Vec<u8> {
    let line = one_line(message);
    let body = format!("{line}\n");
    let refusal_header = if refusal { format!("X-Privlink-Refusal: {line}\r\n") } else { String::new() };
    format!(
        "HTTP/1.1 {code} {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n{refusal_header}\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests;
