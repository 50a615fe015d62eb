//! The claims of an authgate access token, as protected handlers read them.

use serde::{Deserialize, Serialize};

/// The `typ` header of access tokens (RFC 9068 §2.1), which keeps any other JWT the same key
/// might sign from being accepted as an access token.
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";

/// Verified claims of an access token: the typed payload a protected handler works with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Issuer: the `iss` this deployment signs with.
    pub iss: String,
    /// Subject: the user's id.
    pub sub: String,
    /// Audience: the API the token is for.
    pub aud: String,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// Not before, seconds since the epoch.
    pub nbf: i64,
    /// Expires at, seconds since the epoch.
    pub exp: i64,
    /// Unique token id.
    pub jti: String,
    /// The session (login) this token belongs to; logout ends it.
    pub sid: String,
    /// The user's email at the time of issue.
    pub email: String,
    /// Whether the user proved they receive mail at `email`. Until they have, no service should
    /// trust `email` as the user's (absent reads as `false`).
    #[serde(default)]
    pub email_verified: bool,
    /// The user's roles at the time of issue.
    #[serde(default)]
    pub roles: Vec<String>,
    /// The permissions the roles grant, space-separated (RFC 9068 §2.2.3).
    #[serde(default)]
    pub scope: String,
    /// The user's custom claims, at top level in the token.
    #[serde(flatten)]
    pub custom: serde_json::Map<String, serde_json::Value>,
}

/// The authorizer-context key that carries the JSON-encoded claims.
pub const CLAIMS_CONTEXT_KEY: &str = "claims";
/// The authorizer-context key that carries the token's permissions, space-separated.
pub const SCOPE_CONTEXT_KEY: &str = "scope";
/// The authorizer-context key that says who verified the token: [`VERIFIED_BY_AUTHGATE`] for
/// authgate's own tokens, [`VERIFIED_BY_OUTSIDE`] for a trusted outside issuer's (whose `iss` is
/// then under `iss`). A `sub` means an authgate user only beside `authgate`.
pub const VERIFIED_BY_CONTEXT_KEY: &str = "verified_by";
/// [`VERIFIED_BY_CONTEXT_KEY`] of a token authgate issued and verified with its own keys.
pub const VERIFIED_BY_AUTHGATE: &str = "authgate";
/// [`VERIFIED_BY_CONTEXT_KEY`] of a token a trusted outside issuer signed.
pub const VERIFIED_BY_OUTSIDE: &str = "outside";

/// The context the authorizer returns for verified `claims`, which API Gateway forwards to the
/// protected function as `requestContext.authorizer`. API Gateway accepts only flat string,
/// number and boolean values, so the whole claim set travels JSON-encoded under
/// [`CLAIMS_CONTEXT_KEY`], with `sub`, `email`, `iss`, `scope` and `roles` (space-separated) also
/// flat for mapping templates
/// and logs (outside issuers' tokens get the same keys, see [`crate::outside`]).
pub fn authorizer_context(claims: &AccessClaims) -> serde_json::Map<String, serde_json::Value> {
    let mut context = serde_json::Map::new();
    // A struct of strings and integers always serializes.
    let encoded = serde_json::to_string(claims).unwrap_or_default();
    context.insert(CLAIMS_CONTEXT_KEY.into(), encoded.into());
    context.insert("sub".into(), claims.sub.clone().into());
    context.insert("email".into(), claims.email.clone().into());
    context.insert("iss".into(), claims.iss.clone().into());
    context.insert(SCOPE_CONTEXT_KEY.into(), claims.scope.clone().into());
    context.insert("roles".into(), claims.roles.join(" ").into());
    context.insert(VERIFIED_BY_CONTEXT_KEY.into(), VERIFIED_BY_AUTHGATE.into());
    context
}
