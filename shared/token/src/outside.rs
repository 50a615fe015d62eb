//! Tokens from outside OIDC issuers (Auth0, Cognito, any provider): their claims, checked with
//! the same rules as authgate's own where the claim exists, and their scopes in one shape.

use serde_json::{Map, Value};

use crate::error::VerifyError;

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

fn number(claims: &Map<String, Value>, name: &'static str) -> Result<Option<i64>, VerifyError> {
    match claims.get(name) {
        None => Ok(None),
        Some(v) => v
            .as_i64()
            .or_else(|| v.as_f64().map(|f| f as i64))
            .map(Some)
            .ok_or(VerifyError::InvalidClaims),
    }
}

/// Checks an outside token's claims: `exp`, `iss`, `aud` and `sub` required; `nbf` and `iat`
/// checked when present.
pub fn validate_outside(
    payload: &[u8],
    issuer: &str,
    audience: &str,
    now: i64,
    leeway_secs: u64,
) -> Result<OutsideClaims, VerifyError> {
    let raw: Map<String, Value> =
        serde_json::from_slice(payload).map_err(|_| VerifyError::InvalidClaims)?;
    let leeway = i64::try_from(leeway_secs).unwrap_or(i64::MAX);
    let exp = number(&raw, "exp")?.ok_or(VerifyError::MissingClaim("exp"))?;
    if now >= exp.saturating_add(leeway) {
        return Err(VerifyError::Expired);
    }
    if number(&raw, "nbf")?.is_some_and(|nbf| now.saturating_add(leeway) < nbf) {
        return Err(VerifyError::NotYetValid);
    }
    if number(&raw, "iat")?.is_some_and(|iat| now.saturating_add(leeway) < iat) {
        return Err(VerifyError::IssuedInFuture);
    }
    match raw.get("iss").and_then(Value::as_str) {
        None => return Err(VerifyError::MissingClaim("iss")),
        Some(iss) if iss != issuer => return Err(VerifyError::InvalidIssuer),
        Some(_) => {}
    }
    let aud_ok = match raw.get("aud") {
        None => return Err(VerifyError::MissingClaim("aud")),
        Some(Value::String(aud)) => aud == audience,
        Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(audience)),
        Some(_) => false,
    };
    if !aud_ok {
        return Err(VerifyError::InvalidAudience);
    }
    let sub = match raw.get("sub").and_then(Value::as_str) {
        None => return Err(VerifyError::MissingClaim("sub")),
        Some("") => return Err(VerifyError::InvalidSubject),
        Some(sub) => sub.to_owned(),
    };
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
        iss: issuer.to_owned(),
        sub,
        scopes,
        raw,
    })
}

/// The authorizer context for an outside token: the same keys as for authgate's own tokens
/// (`claims`, `sub`, `scope`), plus `iss`.
pub fn outside_authorizer_context(claims: &OutsideClaims) -> Map<String, Value> {
    let mut context = Map::new();
    context.insert(
        crate::CLAIMS_CONTEXT_KEY.into(),
        Value::Object(claims.raw.clone()).to_string().into(),
    );
    context.insert("sub".into(), claims.sub.clone().into());
    context.insert("iss".into(), claims.iss.clone().into());
    context.insert("scope".into(), claims.scopes.join(" ").into());
    context
}
