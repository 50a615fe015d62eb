//! The one claims validator, for authgate's own tokens and outside issuers' alike, configured per
//! issuer in the spirit of jsonwebtoken's `Validation`: which claims must be present, the issuer
//! and audience required, and the clock-skew leeway. The checks themselves are the same for every
//! issuer: `exp` always, `nbf` and `iat` when present, `iss` exactly, `aud` containing the
//! audience, `sub` non-empty. Outside issuers' tokens also pass the access-token type checks
//! ([`Validation::check_type`]): an ID token must never pass for an access token.

use serde_json::{Map, Value};

use crate::error::VerifyError;

/// Default clock-skew allowance for `exp`, `nbf` and `iat`.
pub const DEFAULT_LEEWAY_SECS: u64 = 30;

/// Claims every outside token must carry (RFC 9068 §2.2 makes them mandatory for access tokens;
/// `nbf` and `iat` are checked whenever present). The audience is `aud`, or `client_id` where
/// `aud` is absent, as Cognito's access tokens have it.
const ALWAYS_REQUIRED: [&str; 3] = ["exp", "iss", "sub"];
/// What authgate's own access tokens carry besides: it issues every one of them. A user's token
/// also has `email` and `sid`, a client's `client_id` (checked where the claims are typed).
const OWN_REQUIRED: [&str; 7] = ["exp", "nbf", "iat", "iss", "aud", "sub", "jti"];

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
    /// Whether `client_id` stands for the audience when `aud` is absent (outside issuers only).
    client_id_audience: bool,
    /// Whether the `token_use` claim must be present (Cognito sets it on every token it issues).
    token_use_required: bool,
    /// The `typ` header the issuer sets on its access tokens, when it sets one.
    required_typ: Option<String>,
}

/// The `token_use` of an access token (Cognito: `access`; its ID tokens say `id`).
pub const ACCESS_TOKEN_USE: &str = "access";

/// `typ` values (RFC 7515 §4.1.9: a media type, case-insensitive, `application/` optional) that
/// say "access token" or nothing in particular; any other (`id_token+jwt`, `logout+jwt`, ...)
/// names some other kind of token.
fn typ_allows_access(typ: &str) -> bool {
    ["JWT", "at+jwt"].iter().any(|known| same_typ(typ, known))
}

/// Whether two `typ` values name the same media type: RFC 7515 §4.1.9 (and RFC 9068 §2.1) let
/// the `application/` prefix be left out, and media types compare case-insensitively.
pub(crate) fn same_typ(a: &str, b: &str) -> bool {
    strip_application(a).eq_ignore_ascii_case(strip_application(b))
}

/// A media type without its optional `application/` prefix (any case).
fn strip_application(typ: &str) -> &str {
    const PREFIX: &str = "application/";
    match typ.get(..PREFIX.len()) {
        Some(head) if head.eq_ignore_ascii_case(PREFIX) => &typ[PREFIX.len()..],
        _ => typ,
    }
}

/// A claims set as the validator reads it: a member by name, wherever the parser put it.
pub trait ClaimsSet {
    /// The member `name`, if the claims set has one.
    fn claim(&self, name: &str) -> Option<&Value>;
}

impl ClaimsSet for Map<String, Value> {
    fn claim(&self, name: &str) -> Option<&Value> {
        self.get(name)
    }
}

impl<const N: usize> ClaimsSet for crate::strict_json::Slotted<N> {
    fn claim(&self, name: &str) -> Option<&Value> {
        self.get(name)
    }
}

/// A NumericDate (RFC 7519 §2): an integer or a non-integer number of seconds.
fn numeric_date(claims: &impl ClaimsSet, name: &'static str) -> Result<Option<i64>, VerifyError> {
    match claims.claim(name) {
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
            client_id_audience: false,
            token_use_required: false,
            required_typ: None,
        }
    }

    /// For an outside issuer's tokens: `exp`, `iss`, `sub` and the audience (`aud`, or
    /// `client_id` when `aud` is absent: API Gateway's JWT authorizer rule) are required; a
    /// `token_use` claim, when present, must say `access`.
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
            client_id_audience: true,
            token_use_required: false,
            required_typ: None,
        }
    }

    /// Requires `token_use` (= `access`), for issuers that set it on every token (Cognito).
    pub fn require_token_use(mut self) -> Self {
        self.token_use_required = true;
        self
    }

    /// Requires the `typ` header `typ` (e.g. `at+jwt`), for issuers that set it on access tokens.
    pub fn require_typ(mut self, typ: impl Into<String>) -> Self {
        self.required_typ = Some(typ.into());
        self
    }

    /// Checks that an outside token's `typ` header says "access token": the issuer's own access
    /// token type when it has one, otherwise `JWT`, `at+jwt` or none.
    pub fn check_type(&self, typ: Option<&str>) -> Result<(), VerifyError> {
        let ok = match (&self.required_typ, typ) {
            (Some(required), Some(typ)) => same_typ(required, typ),
            (Some(_), None) => false,
            (None, Some(typ)) => typ_allows_access(typ),
            (None, None) => true,
        };
        if ok {
            Ok(())
        } else {
            Err(VerifyError::WrongType)
        }
    }

    /// Checks `claims` as of `now` (seconds since the epoch).
    pub fn validate(&self, claims: &impl ClaimsSet, now: i64) -> Result<(), VerifyError> {
        if let Some(missing) = self
            .required
            .iter()
            .find(|name| claims.claim(name).is_none())
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
        match claims.claim("iss") {
            Some(Value::String(iss)) if *iss == self.issuer => {}
            Some(Value::String(_)) => return Err(VerifyError::InvalidIssuer),
            _ => return Err(VerifyError::InvalidClaims),
        }
        // API Gateway's JWT authorizer reads `client_id` only when `aud` is absent.
        let aud_ok = match (claims.claim("aud"), claims.claim("client_id")) {
            (Some(Value::String(aud)), _) => *aud == self.audience,
            (Some(Value::Array(auds)), _) => {
                auds.iter().any(|a| a.as_str() == Some(&self.audience))
            }
            (None, Some(Value::String(client_id))) if self.client_id_audience => {
                *client_id == self.audience
            }
            (None, None) => return Err(VerifyError::MissingClaim("aud")),
            _ => return Err(VerifyError::InvalidClaims),
        };
        if !aud_ok {
            return Err(VerifyError::InvalidAudience);
        }
        if self.client_id_audience {
            match claims.claim("token_use") {
                Some(Value::String(token_use)) if token_use == ACCESS_TOKEN_USE => {}
                None if !self.token_use_required => {}
                None => return Err(VerifyError::MissingClaim("token_use")),
                Some(_) => return Err(VerifyError::WrongType),
            }
        }
        match claims.claim("sub") {
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

    #[test]
    fn typ_values_compare_as_media_types() {
        for (a, b) in [
            ("at+jwt", "at+jwt"),
            ("AT+JWT", "at+jwt"),
            ("application/at+jwt", "at+jwt"),
            ("Application/AT+jwt", "application/at+JWT"),
        ] {
            assert!(same_typ(a, b), "{a} {b}");
        }
        for (a, b) in [
            ("at+jwt", "jwt"),
            ("application/", "at+jwt"),
            ("applicationat+jwt", "at+jwt"),
            ("x/at+jwt", "at+jwt"),
            ("ápplication/at+jwt", "at+jwt"),
        ] {
            assert!(!same_typ(a, b), "{a} {b}");
        }
    }

    fn claims(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    #[test]
    fn an_outside_audience_is_aud_or_else_client_id_and_own_tokens_need_aud() {
        let v = Validation::outside("i", "a", 0);
        let cognito_access = claims(json!({"exp": 200, "iss": "i", "client_id": "a", "sub": "s"}));
        assert_eq!(v.validate(&cognito_access, 100), Ok(()));
        let other_client = claims(json!({"exp": 200, "iss": "i", "client_id": "b", "sub": "s"}));
        assert_eq!(
            v.validate(&other_client, 100),
            Err(VerifyError::InvalidAudience)
        );
        let aud_wins =
            claims(json!({"exp": 200, "iss": "i", "aud": "b", "client_id": "a", "sub": "s"}));
        assert_eq!(
            v.validate(&aud_wins, 100),
            Err(VerifyError::InvalidAudience),
            "aud, when present, is what counts"
        );
        let neither = claims(json!({"exp": 200, "iss": "i", "sub": "s"}));
        assert_eq!(
            v.validate(&neither, 100),
            Err(VerifyError::MissingClaim("aud"))
        );
        let own = Validation::own("i", "a", 0);
        let mut own_claims = claims(json!({"exp": 200, "nbf": 1, "iat": 1, "iss": "i",
            "client_id": "a", "sub": "s", "jti": "j", "email": "e", "sid": "d"}));
        assert_eq!(
            own.validate(&own_claims, 100),
            Err(VerifyError::MissingClaim("aud"))
        );
        own_claims.insert("aud".into(), json!("a"));
        assert_eq!(own.validate(&own_claims, 100), Ok(()));
    }

    #[test]
    fn id_tokens_do_not_pass_as_outside_access_tokens() {
        let v = Validation::outside("i", "a", 0);
        let with_use = |token_use: Value| {
            claims(json!({"exp": 200, "iss": "i", "aud": "a", "sub": "s", "token_use": token_use}))
        };
        assert_eq!(v.validate(&with_use(json!("access")), 100), Ok(()));
        assert_eq!(
            v.validate(&with_use(json!("id")), 100),
            Err(VerifyError::WrongType)
        );
        let cognito = Validation::outside("i", "a", 0).require_token_use();
        let without = claims(json!({"exp": 200, "iss": "i", "client_id": "a", "sub": "s"}));
        assert_eq!(
            cognito.validate(&without, 100),
            Err(VerifyError::MissingClaim("token_use"))
        );
        assert_eq!(v.check_type(None), Ok(()));
        for typ in ["JWT", "jwt", "at+jwt", "application/at+JWT"] {
            assert_eq!(v.check_type(Some(typ)), Ok(()), "{typ}");
        }
        for typ in ["id_token+jwt", "logout+jwt", "secevent+jwt", ""] {
            assert_eq!(
                v.check_type(Some(typ)),
                Err(VerifyError::WrongType),
                "{typ}"
            );
        }
        let strict = Validation::outside("i", "a", 0).require_typ("at+jwt");
        assert_eq!(strict.check_type(Some("application/at+jwt")), Ok(()));
        assert_eq!(strict.check_type(Some("JWT")), Err(VerifyError::WrongType));
        assert_eq!(strict.check_type(None), Err(VerifyError::WrongType));
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
