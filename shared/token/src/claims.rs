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

/// The context the authorizer returns, which API Gateway forwards to the protected function as
/// `requestContext.authorizer`. API Gateway accepts only flat string, number and boolean values,
/// so the whole claim set travels JSON-encoded under [`CLAIMS_CONTEXT_KEY`], with `sub`, `iss`,
/// `scope` and (for authgate's tokens) `email` and `roles` (space-separated) also flat for
/// mapping templates and logs. Typed, so that the authorizer writes its answer in one pass.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizerContext {
    /// Every claim of the token, as one JSON object in a string.
    pub claims: String,
    /// The token's subject.
    pub sub: String,
    /// The user's email (authgate's tokens only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The token's issuer.
    pub iss: String,
    /// The permissions granted, space-separated.
    pub scope: String,
    /// The user's roles, space-separated (authgate's tokens only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<String>,
    /// Who verified the token: [`VERIFIED_BY_AUTHGATE`] or [`VERIFIED_BY_OUTSIDE`].
    pub verified_by: String,
}

impl AuthorizerContext {
    /// The context as the flat members API Gateway forwards.
    pub fn fields(&self) -> serde_json::Map<String, serde_json::Value> {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(fields)) => fields,
            _ => serde_json::Map::new(),
        }
    }
}

/// The context for verified `claims`, with the claims JSON-encoded anew (see
/// [`authorizer_context_encoded`] for the claims as the token carried them).
pub fn authorizer_context(claims: &AccessClaims) -> AuthorizerContext {
    // A struct of strings and integers always serializes.
    authorizer_context_encoded(
        claims.clone(),
        serde_json::to_string(claims).unwrap_or_default(),
    )
}

/// The context for verified `claims` whose JSON encoding is `encoded`: the authorizer passes on
/// the verified payload itself rather than serializing the claims again, and the claims are
/// moved in rather than copied.
pub fn authorizer_context_encoded(claims: AccessClaims, encoded: String) -> AuthorizerContext {
    AuthorizerContext {
        claims: encoded,
        roles: Some(claims.roles.join(" ")),
        sub: claims.sub,
        email: Some(claims.email),
        iss: claims.iss,
        scope: claims.scope,
        verified_by: VERIFIED_BY_AUTHGATE.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_context_members_carry_the_names_readers_look_up() {
        let claims = AccessClaims {
            iss: "i".into(),
            sub: "s".into(),
            aud: "a".into(),
            iat: 1,
            nbf: 1,
            exp: 2,
            jti: "j".into(),
            sid: "d".into(),
            email: "e@example.com".into(),
            email_verified: false,
            roles: vec!["r".into()],
            scope: "p q".into(),
            custom: Default::default(),
        };
        let fields = authorizer_context(&claims).fields();
        for key in [
            CLAIMS_CONTEXT_KEY,
            SCOPE_CONTEXT_KEY,
            VERIFIED_BY_CONTEXT_KEY,
        ] {
            assert!(fields.get(key).is_some_and(|v| v.is_string()), "{key}");
        }
        assert_eq!(fields[VERIFIED_BY_CONTEXT_KEY], VERIFIED_BY_AUTHGATE);
        assert_eq!(fields[SCOPE_CONTEXT_KEY], "p q");
        let read: AccessClaims =
            serde_json::from_str(fields[CLAIMS_CONTEXT_KEY].as_str().unwrap_or_default())
                .unwrap_or_else(|e| panic!("claims read back: {e}"));
        assert_eq!(read, claims);
    }
}
