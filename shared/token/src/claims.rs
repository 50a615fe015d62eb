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
    /// The user's email at the time of issue.
    pub email: String,
}
