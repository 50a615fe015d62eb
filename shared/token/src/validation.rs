//! The one claims validator, for authgate's own tokens and outside issuers' alike, configured per
//! issuer in the spirit of jsonwebtoken's `Validation`: which claims must be present, the issuer
//! and audience required, and the clock-skew leeway. The checks themselves are the same for every
//! issuer: `exp` always, `nbf` and `iat` when present, `iss` exactly, `aud` containing the
//! audience, `sub` non-empty.

use serde_json::{Map, Value};

use crate::error::VerifyError;

/// Default clock-skew allowance for `exp`, `nbf` and `iat`.
pub const DEFAULT_LEEWAY_SECS: u64 = 30;

/// Claims every token must carry, whoever issued it (RFC 9068 §2.2 makes them mandatory for
/// access tokens; `nbf` and `iat` are checked whenever present).
const ALWAYS_REQUIRED: [&str; 4] = ["exp", "iss", "aud", "sub"];
/// What authgate's own access tokens carry besides: it issues every one of them.
const OWN_REQUIRED: [&str; 9] = [
    "exp", "nbf", "iat", "iss", "aud", "sub", "jti", "email", "sid",
];

/// What a token's claims must say to be accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validation {
    /// The only accepted `iss`.
    pub issuer: String,
    /// The audience that `aud` must contain.
    pub audience: String,
    /// Clock-skew allowance in seconds.
    pub leeway_secs: u64,
    required: &'static [&'static str],
}

/// A NumericDate (RFC 7519 §2): an integer or a non-integer number of seconds.
fn numeric_date(
    claims: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<i64>, VerifyError> {
    match claims.get(name) {
        None => Ok(None),
        Some(v) => v
            .as_i64()
            .or_else(|| v.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .map(Some)
            .ok_or(VerifyError::InvalidClaims),
    }
}

impl Validation {
    /// For authgate's own access tokens: every claim authgate issues is required.
    pub fn own(issuer: impl Into<String>, audience: impl Into<String>, leeway_secs: u64) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            leeway_secs,
            required: &OWN_REQUIRED,
        }
    }

    /// For an outside issuer's tokens: `exp`, `iss`, `aud` and `sub` are required.
    pub fn outside(
        issuer: impl Into<String>,
        audience: impl Into<String>,
        leeway_secs: u64,
    ) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            leeway_secs,
            required: &ALWAYS_REQUIRED,
        }
    }

    /// Checks `claims` as of `now` (seconds since the epoch).
    pub fn validate(&self, claims: &Map<String, Value>, now: i64) -> Result<(), VerifyError> {
        if let Some(missing) = self
            .required
            .iter()
            .find(|name| !claims.contains_key(**name))
        {
            return Err(VerifyError::MissingClaim(missing));
        }
        let leeway = i64::try_from(self.leeway_secs).unwrap_or(i64::MAX);
        let exp = numeric_date(claims, "exp")?.ok_or(VerifyError::MissingClaim("exp"))?;
        if now >= exp.saturating_add(leeway) {
            return Err(VerifyError::Expired);
        }
        if numeric_date(claims, "nbf")?.is_some_and(|nbf| now.saturating_add(leeway) < nbf) {
            return Err(VerifyError::NotYetValid);
        }
        if numeric_date(claims, "iat")?.is_some_and(|iat| now.saturating_add(leeway) < iat) {
            return Err(VerifyError::IssuedInFuture);
        }
        match claims.get("iss") {
            Some(Value::String(iss)) if *iss == self.issuer => {}
            Some(Value::String(_)) => return Err(VerifyError::InvalidIssuer),
            _ => return Err(VerifyError::InvalidClaims),
        }
        let aud_ok = match claims.get("aud") {
            Some(Value::String(aud)) => *aud == self.audience,
            Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(&self.audience)),
            _ => return Err(VerifyError::InvalidClaims),
        };
        if !aud_ok {
            return Err(VerifyError::InvalidAudience);
        }
        match claims.get("sub") {
            Some(Value::String(sub)) if sub.is_empty() => Err(VerifyError::InvalidSubject),
            Some(Value::String(_)) => Ok(()),
            _ => Err(VerifyError::InvalidClaims),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    #[test]
    fn outside_tokens_need_only_the_four_claims_and_own_tokens_need_all() {
        let minimal = claims(json!({"exp": 200, "iss": "i", "aud": "a", "sub": "s"}));
        assert_eq!(
            Validation::outside("i", "a", 0).validate(&minimal, 100),
            Ok(())
        );
        assert_eq!(
            Validation::own("i", "a", 0).validate(&minimal, 100),
            Err(VerifyError::MissingClaim("nbf"))
        );
    }

    #[test]
    fn the_same_time_checks_apply_to_every_issuer() {
        for validation in [
            Validation::own("i", "a", 10),
            Validation::outside("i", "a", 10),
        ] {
            let at = |exp: i64, nbf: i64, iat: i64| {
                claims(
                    json!({"exp": exp, "nbf": nbf, "iat": iat, "iss": "i", "aud": ["x", "a"],
                              "sub": "s", "jti": "j", "email": "e", "sid": "d"}),
                )
            };
            assert_eq!(validation.validate(&at(200, 100, 100), 100), Ok(()));
            assert_eq!(
                validation.validate(&at(95, 0, 0), 105),
                Err(VerifyError::Expired)
            );
            assert_eq!(validation.validate(&at(95, 0, 0), 104), Ok(()), "leeway");
            assert_eq!(
                validation.validate(&at(300, 111, 0), 100),
                Err(VerifyError::NotYetValid)
            );
            assert_eq!(
                validation.validate(&at(300, 0, 111), 100),
                Err(VerifyError::IssuedInFuture)
            );
            assert_eq!(validation.validate(&at(200.5 as i64, 0, 0), 100), Ok(()));
        }
    }

    #[test]
    fn issuer_audience_and_subject_are_exact() {
        let v = Validation::outside("i", "a", 0);
        let with = |iss: Value, aud: Value, sub: Value| {
            claims(json!({"exp": 200, "iss": iss, "aud": aud, "sub": sub}))
        };
        assert_eq!(
            v.validate(&with(json!("j"), json!("a"), json!("s")), 100),
            Err(VerifyError::InvalidIssuer)
        );
        assert_eq!(
            v.validate(&with(json!("i"), json!("b"), json!("s")), 100),
            Err(VerifyError::InvalidAudience)
        );
        assert_eq!(
            v.validate(&with(json!("i"), json!(["b"]), json!("s")), 100),
            Err(VerifyError::InvalidAudience)
        );
        assert_eq!(
            v.validate(&with(json!("i"), json!("a"), json!("")), 100),
            Err(VerifyError::InvalidSubject)
        );
        assert_eq!(
            v.validate(&with(json!("i"), json!("a"), json!(7)), 100),
            Err(VerifyError::InvalidClaims)
        );
        assert_eq!(
            v.validate(&with(json!(1), json!("a"), json!("s")), 100),
            Err(VerifyError::InvalidClaims)
        );
        assert_eq!(
            v.validate(
                &claims(json!({"exp": "soon", "iss": "i", "aud": "a", "sub": "s"})),
                100
            ),
            Err(VerifyError::InvalidClaims)
        );
    }
}
