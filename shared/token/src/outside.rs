//! Tokens from outside OIDC issuers (Auth0, Cognito, any provider): their claims, checked with
//! the one [`Validation`] configured for their issuer, and their scopes in one shape.

use serde_json::{Map, Value};

use crate::error::VerifyError;
use crate::validation::Validation;

/// Verified claims of an outside token.
#[derive(Debug, Clone, PartialEq)]
pub struct OutsideClaims {
    /// The issuer, as configured.
    pub iss: String,
    /// The subject at that issuer.
    pub sub: String,
    /// Scopes from `scope` (space-separated), `scp` (array) and Auth0's `permissions` (array).
    pub scopes: Vec<String>,
    /// Every claim, for downstream functions.
    pub raw: Map<String, Value>,
}

/// The `iss` claim of a token whose signature has not been checked yet: only for choosing which
/// issuer's keys must then verify it.
pub fn unverified_issuer(token: &str) -> Option<String> {
    if token.len() > crate::MAX_TOKEN_BYTES {
        return None;
    }
    let payload = token.split('.').nth(1)?;
    let bytes =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload).ok()?;
    let claims: Map<String, Value> = serde_json::from_slice(&bytes).ok()?;
    claims.get("iss")?.as_str().map(str::to_owned)
}

/// Checks an outside token's `typ` header and claims with its issuer's `validation`, and reads
/// its scopes.
pub fn validate_outside(
    typ: Option<&str>,
    payload: &[u8],
    validation: &Validation,
    now: i64,
) -> Result<OutsideClaims, VerifyError> {
    validation.check_type(typ)?;
    let Ok(Value::Object(raw)) = crate::strict_json::from_slice(payload) else {
        return Err(VerifyError::InvalidClaims);
    };
    validation.validate(&raw, now)?;
    let sub = raw
        .get("sub")
        .and_then(Value::as_str)
        .ok_or(VerifyError::MissingClaim("sub"))?
        .to_owned();
    let mut scopes: Vec<String> = Vec::new();
    if let Some(scope) = raw.get("scope").and_then(Value::as_str) {
        scopes.extend(scope.split_whitespace().map(str::to_owned));
    }
    for name in ["scp", "permissions"] {
        if let Some(Value::Array(items)) = raw.get(name) {
            scopes.extend(items.iter().filter_map(Value::as_str).map(str::to_owned));
        }
    }
    scopes.sort();
    scopes.dedup();
    Ok(OutsideClaims {
        iss: validation.issuer.clone(),
        sub,
        scopes,
        raw,
    })
}

/// The authorizer context for an outside token: the same keys as for authgate's own tokens
/// (`claims`, `sub`, `scope`, `iss`), with `verified_by` saying `outside`, so that no route
/// takes the outside `sub` for an authgate user's id.
pub fn outside_authorizer_context(claims: &OutsideClaims) -> crate::AuthorizerContext {
    crate::AuthorizerContext {
        claims: Value::Object(claims.raw.clone()).to_string(),
        sub: claims.sub.clone(),
        email: None,
        iss: claims.iss.clone(),
        scope: claims.scopes.join(" "),
        roles: None,
        verified_by: crate::VERIFIED_BY_OUTSIDE.into(),
        ..Default::default()
    }
}
