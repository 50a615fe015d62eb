//! Verifying authgate's own access tokens: the JWS layer, then `typ`, then the claims through
//! [`Validation::own`].

use std::sync::Arc;

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
    let verified = jws::verify_compact(token, keys)?;
    match verified.header.typ.as_deref() {
        Some(typ) if is_access_type(typ) => {}
        _ => return Err(VerifyError::WrongType),
    }
    let Ok(Value::Object(claims)) = crate::strict_json::from_slice(&verified.payload) else {
        return Err(VerifyError::InvalidClaims);
    };
    validation.validate(&claims, now)?;
    read_claims(claims, &validation.audience)
}

/// The typed claims of a validated claims set, in one pass over its members: the registered
/// and authgate claims typed (a wrong type is invalid), `aud` dropped (it was checked), every
/// other member kept as a custom claim.
fn read_claims(claims: Map<String, Value>, audience: &str) -> Result<AccessClaims, VerifyError> {
    let invalid = || VerifyError::InvalidClaims;
    let string = |value: Value| match value {
        Value::String(s) => Ok(s),
        _ => Err(invalid()),
    };
    let int = |value: Value| value.as_i64().ok_or_else(invalid);
    let (mut iss, mut sub, mut jti, mut email, mut sid) = (None, None, None, None, None);
    let (mut iat, mut nbf, mut exp) = (None, None, None);
    let (mut email_verified, mut roles, mut scope) = (false, Vec::new(), String::new());
    let mut custom = Map::new();
    for (name, value) in claims {
        match name.as_str() {
            "aud" => {}
            "iss" => iss = Some(string(value)?),
            "sub" => sub = Some(string(value)?),
            "jti" => jti = Some(string(value)?),
            "email" => email = Some(string(value)?),
            "sid" => sid = Some(string(value)?),
            "iat" => iat = Some(int(value)?),
            "nbf" => nbf = Some(int(value)?),
            "exp" => exp = Some(int(value)?),
            "email_verified" => email_verified = value.as_bool().ok_or_else(invalid)?,
            "scope" => scope = string(value)?,
            "roles" => {
                let Value::Array(items) = value else {
                    return Err(invalid());
                };
                roles = items.into_iter().map(string).collect::<Result<_, _>>()?;
            }
            _ => {
                custom.insert(name, value);
            }
        }
    }
    Ok(AccessClaims {
        iss: iss.ok_or_else(invalid)?,
        sub: sub.ok_or_else(invalid)?,
        aud: audience.to_owned(),
        iat: iat.ok_or_else(invalid)?,
        nbf: nbf.ok_or_else(invalid)?,
        exp: exp.ok_or_else(invalid)?,
        jti: jti.ok_or_else(invalid)?,
        email: email.ok_or_else(invalid)?,
        email_verified,
        sid: sid.ok_or_else(invalid)?,
        roles,
        scope,
        custom,
    })
}
