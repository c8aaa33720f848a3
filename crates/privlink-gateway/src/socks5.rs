//! The SOCKS5 handshake (RFC 1928, with RFC 1929 user/password authentication) as pure parsers
//! over the bytes received so far, and the replies the gateway sends.
//!
//! Every parser returns `Ok(None)` while the message is incomplete, `Ok(Some((value, used)))` once
//! it is whole (`used` bytes of `buf` belong to it; anything after is the next message, or data
//! a client sent ahead of the reply), and an error for bytes that can never become a valid message.
//! Messages are small by construction (at most 513 bytes), so callers bound their buffer.
//!
//! Only CONNECT is supported; authentication is no-auth (0x00) or user/password (0x02, preferred
//! when offered so that the user name reaches the policy). The password is skipped unread.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::policy::{Host, RefusalKind};

pub const VERSION: u8 = 0x05;
pub const AUTH_VERSION: u8 = 0x01;
pub const METHOD_NO_AUTH: u8 = 0x00;
pub const METHOD_USER_PASSWORD: u8 = 0x02;
pub const METHOD_NONE_ACCEPTABLE: u8 = 0xff;
pub const CMD_CONNECT: u8 = 0x01;
pub const ATYP_IPV4: u8 = 0x01;
pub const ATYP_DOMAIN: u8 = 0x03;
pub const ATYP_IPV6: u8 = 0x04;

/// Reply codes (RFC 1928 section 6).
pub mod reply_code {
    pub const SUCCEEDED: u8 = 0x00;
    pub const GENERAL_FAILURE: u8 = 0x01;
    pub const NOT_ALLOWED: u8 = 0x02;
    pub const HOST_UNREACHABLE: u8 = 0x04;
    pub const CONNECTION_REFUSED: u8 = 0x05;
    pub const COMMAND_NOT_SUPPORTED: u8 = 0x07;
    pub const ADDRESS_TYPE_NOT_SUPPORTED: u8 = 0x08;
}

/// A parser's answer: incomplete (`None`), or the value and the number of bytes it used.
pub type Parsed<T> = Result<Option<(T, usize)>, Socks5Error>;

/// Bytes that can never become a valid SOCKS5 message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Socks5Error {
    #[error("not SOCKS version 5 (version byte {0:#04x})")]
    Version(u8),
    #[error("the greeting offers no authentication method")]
    NoMethods,
    #[error("user/password sub-negotiation version {0:#04x} (expected 0x01)")]
    AuthVersion(u8),
    #[error("the user name is not UTF-8")]
    UserNotUtf8,
    #[error("command {0:#04x} is not supported (only CONNECT)")]
    Command(u8),
    #[error("address type {0:#04x} is not supported")]
    AddressType(u8),
    #[error("the domain name is not a host name")]
    BadDomain,
    #[error("port 0")]
    PortZero,
}

impl Socks5Error {
    /// The reply code to send for a request that failed to parse.
    pub fn reply_code(&self) -> u8 {
        match self {
            Socks5Error::Command(_) => reply_code::COMMAND_NOT_SUPPORTED,
            Socks5Error::AddressType(_) => reply_code::ADDRESS_TYPE_NOT_SUPPORTED,
            _ => reply_code::GENERAL_FAILURE,
        }
    }
}

/// A CONNECT request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub host: Host,
    pub port: u16,
}

/// The greeting `VER NMETHODS METHODS...`: the methods offered.
pub fn parse_greeting(buf: &[u8]) -> Parsed<Vec<u8>> {
    let Some(&version) = buf.first() else { return Ok(None) };
    if version != VERSION {
        return Err(Socks5Error::Version(version));
    }
    let Some(&count) = buf.get(1) else { return Ok(None) };
    if count == 0 {
        return Err(Socks5Error::NoMethods);
    }
    let end = 2 + usize::from(count);
    match buf.get(2..end) {
        Some(methods) => Ok(Some((methods.to_vec(), end))),
        None => Ok(None),
    }
}

/// The method the gateway picks among those offered: user/password first (it carries the user
/// name), then no-auth; `None` when neither is offered.
pub fn choose_method(methods: &[u8]) -> Option<u8> {
    [METHOD_USER_PASSWORD, METHOD_NO_AUTH].into_iter().find(|method| methods.contains(method))
}

/// The user/password sub-negotiation `VER ULEN UNAME PLEN PASSWD`: the user name (`None` when
/// empty). The password is not kept.
pub fn parse_auth(buf: &[u8]) -> Parsed<Option<String>> {
    let Some(&version) = buf.first() else { return Ok(None) };
    if version != AUTH_VERSION {
        return Err(Socks5Error::AuthVersion(version));
    }
    let Some(&user_len) = buf.get(1) else { return Ok(None) };
    let user_end = 2 + usize::from(user_len);
    let Some(user) = buf.get(2..user_end) else { return Ok(None) };
    let Some(&password_len) = buf.get(user_end) else { return Ok(None) };
    let end = user_end + 1 + usize::from(password_len);
    if buf.len() < end {
        return Ok(None);
    }
    let user = std::str::from_utf8(user).map_err(|_| Socks5Error::UserNotUtf8)?;
    Ok(Some(((!user.is_empty()).then(|| user.to_string()), end)))
}

/// The request `VER CMD RSV ATYP DST.ADDR DST.PORT`; only CONNECT is accepted. The reserved
/// byte is not checked (some clients send garbage there).
pub fn parse_request(buf: &[u8]) -> Parsed<Request> {
    let Some(&version) = buf.first() else { return Ok(None) };
    if version != VERSION {
        return Err(Socks5Error::Version(version));
    }
    let Some(&command) = buf.get(1) else { return Ok(None) };
    if command != CMD_CONNECT {
        return Err(Socks5Error::Command(command));
    }
    let Some(&address_type) = buf.get(3) else { return Ok(None) };
    let (host, address_end) = match address_type {
        ATYP_IPV4 => {
            let Some(octets) = array::<4>(buf, 4) else { return Ok(None) };
            (Host::Ip(IpAddr::V4(Ipv4Addr::from(octets))), 8)
        }
        ATYP_IPV6 => {
            let Some(octets) = array::<16>(buf, 4) else { return Ok(None) };
            (Host::Ip(IpAddr::V6(Ipv6Addr::from(octets))), 20)
        }
        ATYP_DOMAIN => {
            let Some(&len) = buf.get(4) else { return Ok(None) };
            let end = 5 + usize::from(len);
            let Some(name) = buf.get(5..end) else { return Ok(None) };
            let host = std::str::from_utf8(name).ok().and_then(Host::parse).ok_or(Socks5Error::BadDomain)?;
            (host, end)
        }
        other => return Err(Socks5Error::AddressType(other)),
    };
    let Some(port) = array::<2>(buf, address_end) else { return Ok(None) };
    let port = u16::from_be_bytes(port);
    if port == 0 {
        return Err(Socks5Error::PortZero);
    }
    Ok(Some((Request { host, port }, address_end + 2)))
}

/// The `N` bytes at `at`, if `buf` holds them.
fn array<const N: usize>(buf: &[u8], at: usize) -> Option<[u8; N]> {
    buf.get(at..at.checked_add(N)?)?.try_into().ok()
}

/// The method-selection reply.
pub fn method_reply(method: u8) -> [u8; 2] {
    [VERSION, method]
}

/// The user/password sub-negotiation reply.
pub fn auth_reply(success: bool) -> [u8; 2] {
    [AUTH_VERSION, if success { 0x00 } else { 0x01 }]
}

/// The reply to a request: `code` and the address the gateway connected from (all zeros when
/// there is none).
pub fn reply(code: u8, bound: Option<SocketAddr>) -> Vec<u8> {
    let bound = bound.unwrap_or_else(|| SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)));
    let mut reply = vec![VERSION, code, 0x00];
    match bound.ip() {
        IpAddr::V4(ip) => {
            reply.push(ATYP_IPV4);
            reply.extend_from_slice(&ip.octets());
        }
        IpAddr::V6(ip) => {
            reply.push(ATYP_IPV6);
            reply.extend_from_slice(&ip.octets());
        }
    }
    reply.extend_from_slice(&bound.port().to_be_bytes());
    reply
}

/// The reply code for a refusal.
pub fn refusal_code(kind: RefusalKind) -> u8 {
    match kind {
        RefusalKind::NotAllowed => reply_code::NOT_ALLOWED,
        RefusalKind::Unreachable => reply_code::HOST_UNREACHABLE,
        RefusalKind::Refused => reply_code::CONNECTION_REFUSED,
    }
}

#[cfg(test)]
mod tests;
