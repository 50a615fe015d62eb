//! Verifying authgate's own access tokens: the JWS layer, then `typ`, then the claims through
//! [`Validation::own`].

use std::sync::Arc;

use serde_json::Value;

use crate::strict_json::Slotted;

use crate::claims::{ACCESS_TOKEN_TYPE, AccessClaims};
use crate::error::VerifyError;
use crate::jws;
use crate::key_set::KeySet;
use crate::validation::Validation;

pub use crate::jws::MAX_TOKEN_BYTES;

/// Verifies access tokens against a key set. Keys are parsed once, when the set is built.
#[derive(Debug, Clone)]
pub struct TokenVerifier {
    keys: Arc<KeySet>,
    validation: Validation,
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
        verify_own(&self.keys, &self.validation, token, now)
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

/// Verifies one of authgate's own access tokens against `keys` as `validation` requires, as of
/// `now`: the one verification every [`TokenVerifier`] and the authorizer's key ring use.
pub fn verify_own(
    keys: &KeySet,
    validation: &Validation,
    token: &str,
    now: i64,
) -> Result<AccessClaims, VerifyError> {
    verified_own(keys, validation, token, now).map(|verified| verified.claims)
}

/// [`verify_own`], with the claims also as JSON text for protected functions: the verified
/// payload itself when its `aud` is one string, as authgate issues it; else (an audience list,
/// which verification accepts) the claims encoded anew with the one audience checked, so that
/// the text always reads as [`AccessClaims`].
pub fn verify_own_encoded(
    keys: &KeySet,
    validation: &Validation,
    token: &str,
    now: i64,
) -> Result<(AccessClaims, String), VerifyError> {
    let verified = verified_own(keys, validation, token, now)?;
    let encoded = match String::from_utf8(verified.payload) {
        Ok(payload) if verified.aud_as_issued => payload,
        _ => serde_json::to_string(&verified.claims).map_err(|_| VerifyError::InvalidClaims)?,
    };
    Ok((verified.claims, encoded))
}

/// An own token's typed claims, with its verified payload bytes.
struct VerifiedOwn {
    claims: AccessClaims,
    payload: Vec<u8>,
    aud_as_issued: bool,
}

fn verified_own(
    keys: &KeySet,
    validation: &Validation,
    token: &str,
    now: i64,
) -> Result<VerifiedOwn, VerifyError> {
    let verified = jws::verify_compact(token, keys)?;
    match verified.header.typ.as_deref() {
        Some(typ) if is_access_type(typ) => {}
        _ => return Err(VerifyError::WrongType),
    }
    let Ok(claims) = crate::strict_json::object_slotted(&verified.payload, &OWN_CLAIMS) else {
        return Err(VerifyError::InvalidClaims);
    };
    validation.validate(&claims, now)?;
    let aud_as_issued = claims.get("aud").is_some_and(Value::is_string);
    Ok(VerifiedOwn {
        claims: read_claims(claims, &validation.audience)?,
        payload: verified.payload,
        aud_as_issued,
    })
}

/// The registered and authgate claims of an access token, each read into its own place.
const OWN_CLAIMS: [&str; 13] = [
    "iss",
    "sub",
    "jti",
    "email",
    "sid",
    "client_id",
    "iat",
    "nbf",
    "exp",
    "email_verified",
    "scope",
    "roles",
    "aud",
];

/// The typed claims of a validated claims set: the registered and authgate claims typed (a
/// wrong type is invalid), `aud` dropped (it was checked), every other member kept as a custom
/// claim. A user's token has both `sid` and `email`; a client's has neither, and its
/// `client_id` is its `sub` (RFC 9068 §2.2); any other mix is invalid.
fn read_claims(
    mut claims: Slotted<{ OWN_CLAIMS.len() }>,
    audience: &str,
) -> Result<AccessClaims, VerifyError> {
    let invalid = || VerifyError::InvalidClaims;
    let mut string = |name: &str| match claims.take(name) {
        Some(Value::String(s)) => Ok(Some(s)),
        None => Ok(None),
        Some(_) => Err(invalid()),
    };
    let mut required = |name: &str| string(name)?.ok_or_else(invalid);
    let (iss, sub, jti) = (required("iss")?, required("sub")?, required("jti")?);
    let (email, sid) = (string("email")?, string("sid")?);
    let client_id = string("client_id")?;
    match (&email, &sid, &client_id) {
        (Some(_), Some(_), _) => {}
        (None, None, Some(client)) if *client == sub => {}
        _ => return Err(invalid()),
    }
    let scope = string("scope")?.unwrap_or_default();
    let mut int = |name: &str| {
        claims
            .take(name)
            .and_then(|v| v.as_i64())
            .ok_or_else(invalid)
    };
    let (iat, nbf, exp) = (int("iat")?, int("nbf")?, int("exp")?);
    let email_verified = match claims.take("email_verified") {
        None => false,
        Some(value) => value.as_bool().ok_or_else(invalid)?,
    };
    let roles = match claims.take("roles") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|item| match item {
                Value::String(s) => Ok(s),
                _ => Err(invalid()),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(invalid()),
    };
    let custom = claims.other;
    Ok(AccessClaims {
        iss,
        sub,
        aud: audience.to_owned(),
        iat,
        nbf,
        exp,
        jti,
        client_id,
        api_key_id: None,
        email,
        email_verified,
        sid,
        roles,
        scope,
        custom,
    })
}
