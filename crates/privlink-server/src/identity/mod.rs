//! Identity: who is calling. The token issuer (OpenID documents, JWKS, token endpoints), the
//! directory of tenants' principals (service principals with secrets, users), managed
//! identities and their token endpoint, and the authentication of every management request.
//!
//! Authorization (what a caller may do) lives in `crate::providers::authorization`.

/// What kind of principal a token belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalKind {
    ServicePrincipal,
    User,
    ManagedIdentity,
}

/// The authenticated caller of a request, taken from a validated token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Lower-cased tenant id (`tid`).
    pub tenant_id: String,
    /// Lower-cased object id (`oid`): what role assignments name.
    pub object_id: String,
    /// The application (client) id (`appid` / `azp`); for users, the client they signed in with.
    pub client_id: String,
    /// How error messages name the caller: the app id for applications, the UPN for users.
    pub display: String,
    pub kind: PrincipalKind,
    /// A privlink administrator: may use the `/privlink/admin` surface across tenants.
    pub admin: bool,
}

pub mod directory;
pub mod endpoints;
pub mod keys;
pub mod managed;
pub mod service;
pub mod tokens;

pub use service::{AuthMode, IdentityService};

use crate::arm::ArmError;
use tokens::Rejection;

/// ARM's 401 for a refused token. `authority` is where a good token comes from.
pub fn unauthenticated(rejection: &Rejection, authority: &str) -> ArmError {
    let (code, message) = match rejection {
        Rejection::Missing => ("AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing or is not a bearer token.".to_string()),
        Rejection::Malformed => ("InvalidAuthenticationToken", "The access token is invalid.".to_string()),
        Rejection::BadSignature => ("InvalidAuthenticationToken", "The access token has an invalid signature.".to_string()),
        Rejection::NotYetValid => ("InvalidAuthenticationToken", "The access token is not valid yet (nbf is in the future).".to_string()),
        Rejection::Expired { exp, now } => ("ExpiredAuthenticationToken", format!(
            "The access token expiry UTC time '{}' is earlier than current UTC time '{}'.",
            crate::arm::rfc3339(exp * 1000), crate::arm::rfc3339(now * 1000)
        )),
        Rejection::WrongAudience { audience } => ("InvalidAuthenticationTokenAudience", format!(
            "The access token has been obtained for wrong audience or resource '{audience}'. It should exactly match with one of the allowed audiences 'https://management.core.windows.net/','https://management.azure.com/' or privlink's own URL."
        )),
        Rejection::WrongIssuer { issuer } => ("InvalidAuthenticationToken", format!(
            "The access token is from an issuer privlink does not know: '{issuer}'. Get tokens from privlink's token endpoint ({authority})."
        )),
    };
    ArmError::Unauthenticated { code, message, authority: authority.to_string() }
}

/// ARM's 401 when the token's tenant is not the one the subscription belongs to.
pub fn wrong_tenant(token_tenant: &str, subscription_tenant: &str, base: &str) -> ArmError {
    ArmError::Unauthenticated {
        code: "InvalidAuthenticationTokenTenant",
        message: format!(
            "The access token is from the wrong issuer '{base}/{token_tenant}/'. It must match the tenant '{base}/{subscription_tenant}/' associated with this subscription. Please use the authority (URL) '{base}/{subscription_tenant}' to get the token."
        ),
        authority: format!("{base}/{subscription_tenant}"),
    }
}
