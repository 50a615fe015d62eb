//! The claims of an authgate access token, as protected handlers read them.

use serde::{Deserialize, Serialize};

/// The `typ` header of access tokens (RFC 9068 §2.1), which keeps any other JWT the same key
/// might sign from being accepted as an access token.
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";

/// Verified claims of an access token (RFC 9068 §2.2): the typed payload a protected handler
/// works with. A user's token carries `sid` and `email`; a client's (client-credentials grant,
/// RFC 6749 §4.4) carries neither, and its `sub` is its `client_id` (RFC 9068 §2.2: "the value
/// of sub SHOULD correspond to an identifier the authorization server uses to indicate the client
/// application"). Verification refuses any other mix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Issuer: the `iss` this deployment signs with.
    pub iss: String,
    /// Subject: the user's id, or the client's.
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
    /// The OAuth client the token was issued to (RFC 9068 §2.2); absent from the tokens that
    /// authgate's own endpoints issue to users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The session (login) a user's token belongs to; logout ends it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// The user's email at the time of issue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The API key a request was made with, when it was made with one rather than a token: the
    /// authorizer writes it into the claims it passes on; no token carries it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_id: Option<String>,
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

impl AccessClaims {
    /// Who holds the token: a user in a session, or a client acting for itself.
    pub fn holder(&self) -> Holder<'_> {
        match (&self.api_key_id, &self.sid, &self.client_id) {
            (Some(key_id), _, _) => Holder::ApiKey { key_id },
            (None, Some(session), _) => Holder::User { session },
            (None, None, Some(client_id)) => Holder::Client { client_id },
            (None, None, None) => Holder::User { session: "" },
        }
    }

    /// The claims the authorizer passes on for a request made with the API key `key_id` of
    /// `user`: the deployment's `iss` and `aud`, the key's id as `jti`, made at `iat`, good
    /// until `exp`, granting `scope`.
    pub fn for_api_key(
        iss: &str,
        aud: &str,
        user: &str,
        key_id: &str,
        scope: String,
        iat: i64,
        exp: i64,
    ) -> Self {
        Self {
            iss: iss.to_owned(),
            sub: user.to_owned(),
            aud: aud.to_owned(),
            iat,
            nbf: iat,
            exp,
            jti: key_id.to_owned(),
            client_id: None,
            sid: None,
            email: None,
            api_key_id: Some(key_id.to_owned()),
            email_verified: false,
            roles: Vec::new(),
            scope,
            custom: serde_json::Map::new(),
        }
    }
}

/// Who an access token was issued to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder<'a> {
    /// A user, in the session `session` (empty only in claims that did not come from a verified
    /// token, which no session matches).
    User {
        /// The `sid`.
        session: &'a str,
    },
    /// A client, with the client-credentials grant.
    Client {
        /// The `client_id` (also the `sub`).
        client_id: &'a str,
    },
    /// A user, with one of their API keys (the `sub` is the user's id).
    ApiKey {
        /// The key's id.
        key_id: &'a str,
    },
}

impl Holder<'_> {
    /// The [`HOLDER_CONTEXT_KEY`] value.
    pub fn as_str(&self) -> &'static str {
        match self {
            Holder::User { .. } => HOLDER_USER,
            Holder::Client { .. } => HOLDER_CLIENT,
            Holder::ApiKey { .. } => HOLDER_API_KEY,
        }
    }
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
/// The authorizer-context key that says who holds one of authgate's tokens: [`HOLDER_USER`] or
/// [`HOLDER_CLIENT`] (absent for an outside issuer's token).
pub const HOLDER_CONTEXT_KEY: &str = "holder";
/// [`HOLDER_CONTEXT_KEY`] of a user's token.
pub const HOLDER_USER: &str = "user";
/// [`HOLDER_CONTEXT_KEY`] of a client's token (client-credentials grant).
pub const HOLDER_CLIENT: &str = "client";
/// [`HOLDER_CONTEXT_KEY`] of a request made with a user's API key.
pub const HOLDER_API_KEY: &str = "api_key";

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
    /// The user's email (authgate's users' tokens only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The client the token was issued to (authgate's tokens only, when it names one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The token's issuer.
    pub iss: String,
    /// The permissions granted, space-separated.
    pub scope: String,
    /// The user's roles, space-separated (authgate's users' tokens only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<String>,
    /// Who verified the token: [`VERIFIED_BY_AUTHGATE`] or [`VERIFIED_BY_OUTSIDE`].
    pub verified_by: String,
    /// Who holds one of authgate's tokens: [`HOLDER_USER`] or [`HOLDER_CLIENT`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder: Option<String>,
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
    let holder = claims.holder().as_str();
    AuthorizerContext {
        claims: encoded,
        roles: (holder == HOLDER_USER).then(|| claims.roles.join(" ")),
        sub: claims.sub,
        email: claims.email,
        client_id: claims.client_id,
        iss: claims.iss,
        scope: claims.scope,
        verified_by: VERIFIED_BY_AUTHGATE.into(),
        holder: Some(holder.into()),
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
            client_id: None,
            api_key_id: None,
            sid: Some("d".into()),
            email: Some("e@example.com".into()),
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
        assert_eq!(fields[HOLDER_CONTEXT_KEY], HOLDER_USER);
    }

    #[test]
    fn a_client_token_context_names_the_client_and_no_user() {
        let claims = AccessClaims {
            iss: "i".into(),
            sub: "c".into(),
            aud: "a".into(),
            iat: 1,
            nbf: 1,
            exp: 2,
            jti: "j".into(),
            client_id: Some("c".into()),
            api_key_id: None,
            sid: None,
            email: None,
            email_verified: false,
            roles: Vec::new(),
            scope: "items:read".into(),
            custom: Default::default(),
        };
        assert_eq!(claims.holder(), Holder::Client { client_id: "c" });
        let fields = authorizer_context(&claims).fields();
        assert_eq!(fields[HOLDER_CONTEXT_KEY], HOLDER_CLIENT);
        assert_eq!(fields["client_id"], "c");
        for absent in ["email", "roles"] {
            assert!(fields.get(absent).is_none(), "{absent}");
        }
    }
}
