//! Issuing access tokens.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::claims::{ACCESS_TOKEN_TYPE, AccessClaims};
use crate::error::SignError;
use crate::key_set::KeySet;

/// Who a token is issued to, and what it may do.
#[derive(Debug, Clone, Default)]
pub struct Subject<'a> {
    /// The user's stable id, which becomes `sub`.
    pub id: &'a str,
    /// The user's email, carried as a custom claim.
    pub email: &'a str,
    /// Whether the user proved they receive mail at `email`, which becomes `email_verified`.
    pub email_verified: bool,
    /// The session the token belongs to, which becomes `sid`.
    pub session: &'a str,
    /// The user's roles, which become `roles`.
    pub roles: Vec<String>,
    /// The permissions the roles grant, which become `scope` (RFC 9068 §2.2.3).
    pub permissions: Vec<String>,
    /// The user's custom claims, carried at top level; validated where they were set.
    pub claims: Map<String, Value>,
}

/// A client's token request as granted (RFC 6749 §4.4): which client, the scopes it gets, and
/// the client's own audience and lifetime where it has them.
#[derive(Debug, Clone, Default)]
pub struct ClientGrant<'a> {
    /// The client's id, which becomes `sub` and `client_id`.
    pub client_id: &'a str,
    /// The granted scopes, which become `scope`.
    pub scopes: Vec<String>,
    /// The `aud`, when not the deployment's.
    pub audience: Option<&'a str>,
    /// The lifetime, when not the deployment's.
    pub ttl: Option<Duration>,
}

/// What a client's token says (RFC 9068 §2.2): no user, no session.
#[derive(serde::Serialize)]
struct ClientTokenClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: i64,
    nbf: i64,
    exp: i64,
    jti: &'a str,
    client_id: &'a str,
    scope: &'a str,
}

/// A freshly signed access token.
#[derive(Clone)]
pub struct IssuedToken {
    /// The compact JWS.
    pub token: String,
    /// Seconds until it expires, for the OAuth2 `expires_in` field.
    pub expires_in: u64,
    /// The claims it carries.
    pub claims: AccessClaims,
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken")
            .field("token", &"[redacted]")
            .field("expires_in", &self.expires_in)
            .field("claims", &self.claims)
            .finish()
    }
}

/// Signs access tokens with the key set's signing key.
#[derive(Debug, Clone)]
pub struct TokenIssuer {
    keys: Arc<KeySet>,
    issuer: String,
    audience: String,
    ttl: Duration,
}

impl TokenIssuer {
    /// An issuer for `issuer`/`audience` whose tokens live for `ttl`.
    pub fn new(
        keys: Arc<KeySet>,
        issuer: impl Into<String>,
        audience: impl Into<String>,
        ttl: Duration,
    ) -> Result<Self, SignError> {
        if keys.signing_key().is_none() {
            return Err(SignError::NoSigningKey);
        }
        Ok(Self {
            keys,
            issuer: issuer.into(),
            audience: audience.into(),
            ttl,
        })
    }

    /// Signs a token for `subject`, valid from `now` for the configured TTL.
    pub fn issue_at(&self, subject: &Subject<'_>, now: i64) -> Result<IssuedToken, SignError> {
        let key = self.keys.signing_key().ok_or(SignError::NoSigningKey)?;
        let ttl = i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX);
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            sub: subject.id.to_owned(),
            aud: self.audience.clone(),
            iat: now,
            nbf: now,
            exp: now.saturating_add(ttl),
            jti: uuid::Uuid::new_v4().to_string(),
            client_id: None,
            api_key_id: None,
            email: Some(subject.email.to_owned()),
            email_verified: subject.email_verified,
            sid: Some(subject.session.to_owned()),
            roles: subject.roles.clone(),
            scope: subject.permissions.join(" "),
            custom: subject.claims.clone(),
        };
        let token = key.sign(Some(ACCESS_TOKEN_TYPE), &claims)?;
        Ok(IssuedToken {
            token,
            expires_in: self.ttl.as_secs(),
            claims,
        })
    }

    /// Signs a client's token for `grant`, valid from `now` for the client's lifetime or the
    /// configured one.
    pub fn issue_client_at(
        &self,
        grant: &ClientGrant<'_>,
        now: i64,
    ) -> Result<IssuedToken, SignError> {
        let key = self.keys.signing_key().ok_or(SignError::NoSigningKey)?;
        let ttl = grant.ttl.unwrap_or(self.ttl);
        let exp = now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX));
        let jti = uuid::Uuid::new_v4().to_string();
        let scope = grant.scopes.join(" ");
        let aud = grant.audience.unwrap_or(&self.audience);
        let token = key.sign(
            Some(ACCESS_TOKEN_TYPE),
            &ClientTokenClaims {
                iss: &self.issuer,
                sub: grant.client_id,
                aud,
                iat: now,
                nbf: now,
                exp,
                jti: &jti,
                client_id: grant.client_id,
                scope: &scope,
            },
        )?;
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            sub: grant.client_id.to_owned(),
            aud: aud.to_owned(),
            iat: now,
            nbf: now,
            exp,
            jti,
            client_id: Some(grant.client_id.to_owned()),
            api_key_id: None,
            sid: None,
            email: None,
            email_verified: false,
            roles: Vec::new(),
            scope,
            custom: Map::new(),
        };
        Ok(IssuedToken {
            token,
            expires_in: ttl.as_secs(),
            claims,
        })
    }

    /// Signs a client's token for `grant`, valid from now.
    pub fn issue_client(&self, grant: &ClientGrant<'_>) -> Result<IssuedToken, SignError> {
        self.issue_client_at(grant, crate::now_unix())
    }

    /// Signs a token for `subject`, valid from now.
    pub fn issue(&self, subject: &Subject<'_>) -> Result<IssuedToken, SignError> {
        self.issue_at(subject, crate::now_unix())
    }

    /// The same claims with another key set (after a rotation).
    pub fn with_keys(&self, keys: Arc<KeySet>) -> Result<Self, SignError> {
        if keys.signing_key().is_none() {
            return Err(SignError::NoSigningKey);
        }
        Ok(Self {
            keys,
            ..self.clone()
        })
    }

    /// How long issued tokens live.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }
}
