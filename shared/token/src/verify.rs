//! Verifying access tokens: the JWS layer, then `typ`, then every claim.

use std::sync::Arc;

use serde::Deserialize;

use crate::claims::{ACCESS_TOKEN_TYPE, AccessClaims};
use crate::error::VerifyError;
use crate::jws;
use crate::keys::KeySet;

pub use crate::jws::MAX_TOKEN_BYTES;

/// Default clock-skew allowance for `exp`, `nbf` and `iat`.
pub const DEFAULT_LEEWAY_SECS: u64 = 30;

/// What a token must say to be accepted.
#[derive(Debug, Clone)]
pub struct VerifierConfig {
    /// The only accepted `iss`.
    pub issuer: String,
    /// The audience that `aud` must contain.
    pub audience: String,
    /// Clock-skew allowance in seconds.
    pub leeway_secs: u64,
}

/// Verifies access tokens against a key set. Keys are parsed once, when the set is built.
#[derive(Debug, Clone)]
pub struct TokenVerifier {
    keys: Arc<KeySet>,
    config: VerifierConfig,
}

/// `aud` may be one string or an array of strings (RFC 7519 §4.1.3).
#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn contains(&self, wanted: &str) -> bool {
        match self {
            Audience::One(aud) => aud == wanted,
            Audience::Many(auds) => auds.iter().any(|aud| aud == wanted),
        }
    }
}

#[derive(Deserialize)]
struct RawClaims {
    iss: Option<String>,
    sub: Option<String>,
    aud: Option<Audience>,
    iat: Option<i64>,
    nbf: Option<i64>,
    exp: Option<i64>,
    jti: Option<String>,
    email: Option<String>,
    sid: Option<String>,
}

fn required<T>(value: Option<T>, name: &'static str) -> Result<T, VerifyError> {
    value.ok_or(VerifyError::MissingClaim(name))
}

fn is_access_type(typ: &str) -> bool {
    // RFC 9068 §2.1 allows the media type with or without its "application/" prefix; case-insensitive.
    let typ = typ.to_ascii_lowercase();
    typ == ACCESS_TOKEN_TYPE || typ.strip_prefix("application/") == Some(ACCESS_TOKEN_TYPE)
}

impl TokenVerifier {
    /// A verifier trusting every key in `keys`.
    pub fn new(keys: Arc<KeySet>, config: VerifierConfig) -> Self {
        Self { keys, config }
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
        let raw: RawClaims =
            serde_json::from_slice(&verified.payload).map_err(|_| VerifyError::InvalidClaims)?;

        let leeway = i64::try_from(self.config.leeway_secs).unwrap_or(i64::MAX);
        let exp = required(raw.exp, "exp")?;
        let nbf = required(raw.nbf, "nbf")?;
        let iat = required(raw.iat, "iat")?;
        let iss = required(raw.iss, "iss")?;
        let aud = required(raw.aud, "aud")?;
        let sub = required(raw.sub, "sub")?;
        let jti = required(raw.jti, "jti")?;
        let email = required(raw.email, "email")?;
        let sid = required(raw.sid, "sid")?;

        if now >= exp.saturating_add(leeway) {
            return Err(VerifyError::Expired);
        }
        if now.saturating_add(leeway) < nbf {
            return Err(VerifyError::NotYetValid);
        }
        if now.saturating_add(leeway) < iat {
            return Err(VerifyError::IssuedInFuture);
        }
        if iss != self.config.issuer {
            return Err(VerifyError::InvalidIssuer);
        }
        if !aud.contains(&self.config.audience) {
            return Err(VerifyError::InvalidAudience);
        }
        if sub.is_empty() {
            return Err(VerifyError::InvalidSubject);
        }
        Ok(AccessClaims {
            iss,
            sub,
            aud: self.config.audience.clone(),
            iat,
            nbf,
            exp,
            jti,
            email,
            sid,
        })
    }

    /// The same requirements with another key set (after a reload).
    pub fn with_keys(&self, keys: Arc<KeySet>) -> Self {
        Self {
            keys,
            config: self.config.clone(),
        }
    }

    /// What this verifier requires.
    pub fn config(&self) -> &VerifierConfig {
        &self.config
    }

    /// The keys this verifier trusts.
    pub fn keys(&self) -> &KeySet {
        &self.keys
    }
}
