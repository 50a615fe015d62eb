//! Verifying authgate's own access tokens: the JWS layer, then `typ`, then the claims through
//! [`Validation::own`].

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::claims::{ACCESS_TOKEN_TYPE, AccessClaims};
use crate::error::VerifyError;
use crate::jws;
use crate::keys::KeySet;
use crate::validation::Validation;

pub use crate::jws::MAX_TOKEN_BYTES;

/// Verifies access tokens against a key set. Keys are parsed once, when the set is built.
#[derive(Debug, Clone)]
pub struct TokenVerifier {
    keys: Arc<KeySet>,
    validation: Validation,
}

/// The claims of an own token, typed once [`Validation`] has accepted them.
#[derive(Deserialize)]
struct OwnClaims {
    iss: String,
    sub: String,
    iat: i64,
    nbf: i64,
    exp: i64,
    jti: String,
    email: String,
    #[serde(default)]
    email_verified: bool,
    sid: String,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    scope: String,
    #[serde(flatten)]
    custom: Map<String, Value>,
}

fn is_access_type(typ: &str) -> bool {
    crate::validation::same_typ(typ, ACCESS_TOKEN_TYPE)
}

impl TokenVerifier {
    /// A verifier trusting every key in `keys`, for claims `validation` accepts.
    pub fn new(keys: Arc<KeySet>, validation: Validation) -> Self {
        Self { keys, validation }
    }

    /// Verifies `token` as of now.
    pub fn verify(&self, token: &str) -> Result<AccessClaims, VerifyError> {
        self.verify_at(token, crate::now_unix())
    }

    /// Verifies `token` as of `now` (seconds since the epoch).
    pub fn verify_at(&self, token: &str, now: i64) -> Result<AccessClaims, VerifyError> {
        let verified = jws::verify_compact(token, &self.keys)?;
        match verified.header.typ.as_deref() {
            Some(typ) if is_access_type(typ) => {}
            _ => return Err(VerifyError::WrongType),
        }
        let Ok(Value::Object(claims)) = crate::strict_json::from_slice(&verified.payload) else {
            return Err(VerifyError::InvalidClaims);
        };
        self.validation.validate(&claims, now)?;
        let mut claims = claims;
        claims.remove("aud");
        let own: OwnClaims = serde_json::from_value(Value::Object(claims))
            .map_err(|_| VerifyError::InvalidClaims)?;
        Ok(AccessClaims {
            iss: own.iss,
            sub: own.sub,
            aud: self.validation.audience.clone(),
            iat: own.iat,
            nbf: own.nbf,
            exp: own.exp,
            jti: own.jti,
            email: own.email,
            email_verified: own.email_verified,
            sid: own.sid,
            roles: own.roles,
            scope: own.scope,
            custom: own.custom,
        })
    }

    /// The same requirements with another key set (after a reload).
    pub fn with_keys(&self, keys: Arc<KeySet>) -> Self {
        Self {
            keys,
            validation: self.validation.clone(),
        }
    }

    /// What this verifier requires.
    pub fn validation(&self) -> &Validation {
        &self.validation
    }

    /// The keys this verifier trusts.
    pub fn keys(&self) -> &KeySet {
        &self.keys
    }
}
