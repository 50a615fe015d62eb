//! The verified claims of the caller, as the authorizer passed them on.
//!
//! The authorizer puts the token's claims, JSON-encoded, under `claims` in its context (API Gateway
//! only forwards flat string/number/boolean values); API Gateway copies that context into
//! `requestContext.authorizer` of every request it lets through. One call, `request.verified_claims()`,
//! gives a protected function the typed payload (FastAPI's `TokenPayload`), and [`with_claims`] lets
//! tests and the local gateway put it there.
//!
//! Outside issuers' tokens (Auth0, Cognito) carry the same context keys, and their `sub` is
//! another system's id: the typed helpers read authgate's own tokens only, and say so with
//! [`ClaimsError::OutsideToken`]. A route that serves both asks for it with
//! [`RequestClaimsExt::caller`] or the `any_issuer_` helpers.

use authgate_token::outside::{OutsideClaims, outside_authorizer_context};
use authgate_token::{
    AccessClaims, AuthorizerContext, CLAIMS_CONTEXT_KEY, Holder, SCOPE_CONTEXT_KEY,
    VERIFIED_BY_AUTHGATE, VERIFIED_BY_CONTEXT_KEY, VERIFIED_BY_OUTSIDE, authorizer_context,
};
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::ApiError;

/// Why no claims could be read. Behind API Gateway with the authorizer this means a wiring error,
/// so it maps to 401 and never to an anonymous success.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ClaimsError {
    #[error("request carries no authorizer context")]
    Missing,
    #[error("authorizer context claims are malformed")]
    Malformed,
    #[error("the token does not grant {0:?}")]
    MissingPermission(String),
    #[error("the token has expired")]
    Expired,
    #[error("the route takes authgate's own tokens and was called with an outside issuer's")]
    OutsideToken,
    #[error(
        "the route acts for a signed-in user and was called with a client's token or an API key"
    )]
    NotSignedIn,
}

/// Who verified the token a request carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verifier {
    /// authgate, with its own keys: `sub` is an authgate user id and `sid` a live session.
    Authgate,
    /// The trusted outside issuer `iss`: `sub` is that issuer's id for the caller.
    Outside {
        /// The issuer's `iss`.
        iss: String,
    },
}

/// The clock-skew leeway the deployment verifies tokens with (`TOKEN_LEEWAY_SECONDS`), carried
/// on each request by the runtime (and by `authgate serve`), so that the claims helpers judge
/// `exp` as the authorizer did; a request without it is judged with the default leeway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimsLeeway(pub u64);

/// `detail` of a 403 for an outside issuer's token on a route for authgate's own.
pub const OWN_TOKENS_ONLY: &str = "This route accepts only tokens that authgate issued";

/// `detail` of a 403 for a client's token on a route that acts for a signed-in user.
pub const USERS_ONLY: &str =
    "This route acts for a signed-in user; a client's token or an API key cannot use it";

/// `detail` of a 403 for a token without the permission a route needs.
pub const NOT_ENOUGH_PERMISSIONS: &str = "Not enough permissions";

impl From<ClaimsError> for ApiError {
    fn from(err: ClaimsError) -> Self {
        match err {
            ClaimsError::MissingPermission(_) => {
                return ApiError::Forbidden(NOT_ENOUGH_PERMISSIONS.into());
            }
            ClaimsError::OutsideToken => return ApiError::Forbidden(OWN_TOKENS_ONLY.into()),
            ClaimsError::NotSignedIn => return ApiError::Forbidden(USERS_ONLY.into()),
            _ => {}
        }
        tracing::warn!(error = %err, "protected route reached without usable claims");
        ApiError::Unauthorized(crate::NOT_AUTHENTICATED.into())
    }
}

/// Reads verified claims from a request: as authgate's claims, as the developer's own type, or
/// as the raw map (fastapi-jwt-auth's `get_raw_jwt()`), and checks permissions.
///
/// `verified_claims`, `claims_as` and `raw_claims` accept authgate's own tokens only (an outside
/// token is [`ClaimsError::OutsideToken`], a 403); `any_issuer_claims_as` and
/// `any_issuer_raw_claims` accept an outside issuer's too, for routes that mean to serve both.
pub trait RequestClaimsExt {
    /// Who verified the request's token.
    fn caller(&self) -> Result<Verifier, ClaimsError>;
    /// The claims of the authgate token the authorizer verified for this request: a user's or
    /// a client's.
    fn verified_claims(&self) -> Result<AccessClaims, ClaimsError>;
    /// The claims of a signed-in user's authgate token, with its session: a client's token is
    /// [`ClaimsError::NotSignedIn`], a 403.
    fn user_claims(&self) -> Result<UserClaims, ClaimsError>;
    /// The verified claims of an authgate token read as `T`, custom claims included: FastJWT's
    /// typed payload.
    fn claims_as<T: DeserializeOwned>(&self) -> Result<T, ClaimsError>;
    /// Every verified claim of an authgate token, as a JSON object.
    fn raw_claims(&self) -> Result<Map<String, Value>, ClaimsError>;
    /// The verified claims read as `T`, whoever of authgate and the trusted issuers verified them.
    fn any_issuer_claims_as<T: DeserializeOwned>(&self) -> Result<T, ClaimsError>;
    /// Every verified claim, whoever of authgate and the trusted issuers verified them.
    fn any_issuer_raw_claims(&self) -> Result<Map<String, Value>, ClaimsError>;
    /// `Ok` if the token grants `permission` (its `scope`); else 403 `Not enough permissions`.
    /// Like the authorizer's route rules, this reads an outside issuer's scopes too.
    fn require_permission(&self, permission: &str) -> Result<(), ClaimsError>;
}

/// The string the authorizer put under `key` in the context.
fn context_str<'a>(request: &'a Request, key: &str) -> Result<&'a str, ClaimsError> {
    let Some(RequestContext::ApiGatewayV1(context)) = request.request_context_ref() else {
        return Err(ClaimsError::Missing);
    };
    context
        .authorizer
        .fields
        .get(key)
        .ok_or(ClaimsError::Missing)?
        .as_str()
        .ok_or(ClaimsError::Malformed)
}

impl RequestClaimsExt for Request {
    fn caller(&self) -> Result<Verifier, ClaimsError> {
        match context_str(self, VERIFIED_BY_CONTEXT_KEY)? {
            VERIFIED_BY_AUTHGATE => Ok(Verifier::Authgate),
            VERIFIED_BY_OUTSIDE => Ok(Verifier::Outside {
                iss: context_str(self, "iss")?.to_owned(),
            }),
            _ => Err(ClaimsError::Malformed),
        }
    }

    fn verified_claims(&self) -> Result<AccessClaims, ClaimsError> {
        self.claims_as()
    }

    fn user_claims(&self) -> Result<UserClaims, ClaimsError> {
        let claims = self.verified_claims()?;
        match (claims.holder(), &claims.email) {
            (Holder::User { session }, Some(_)) if !session.is_empty() => Ok(UserClaims(claims)),
            (Holder::Client { .. } | Holder::ApiKey { .. }, _) => Err(ClaimsError::NotSignedIn),
            _ => Err(ClaimsError::Malformed),
        }
    }

    fn claims_as<T: DeserializeOwned>(&self) -> Result<T, ClaimsError> {
        serde_json::from_value(Value::Object(self.raw_claims()?))
            .map_err(|_| ClaimsError::Malformed)
    }

    fn raw_claims(&self) -> Result<Map<String, Value>, ClaimsError> {
        match self.caller()? {
            Verifier::Authgate => self.any_issuer_raw_claims(),
            Verifier::Outside { .. } => Err(ClaimsError::OutsideToken),
        }
    }

    fn any_issuer_claims_as<T: DeserializeOwned>(&self) -> Result<T, ClaimsError> {
        serde_json::from_value(Value::Object(self.any_issuer_raw_claims()?))
            .map_err(|_| ClaimsError::Malformed)
    }

    /// API Gateway reuses a cached Allow for the authorizer's whole cache TTL, whatever the
    /// token's `exp`; the claims are refused here once `exp` plus the deployment's leeway
    /// ([`ClaimsLeeway`]) has passed.
    fn any_issuer_raw_claims(&self) -> Result<Map<String, Value>, ClaimsError> {
        self.caller()?;
        let claims: Map<String, Value> =
            serde_json::from_str(context_str(self, CLAIMS_CONTEXT_KEY)?)
                .map_err(|_| ClaimsError::Malformed)?;
        let exp = claims
            .get("exp")
            .and_then(Value::as_f64)
            .ok_or(ClaimsError::Malformed)?;
        let leeway = self
            .extensions()
            .get::<ClaimsLeeway>()
            .map_or(authgate_token::DEFAULT_LEEWAY_SECS, |l| l.0) as f64;
        if authgate_token::now_unix() as f64 >= exp + leeway {
            return Err(ClaimsError::Expired);
        }
        Ok(claims)
    }

    fn require_permission(&self, permission: &str) -> Result<(), ClaimsError> {
        // The authorizer's flat `scope`: authgate's permissions, or an outside issuer's `scope`,
        // `scp` and `permissions` in one list.
        self.caller()?;
        let granted = context_str(self, SCOPE_CONTEXT_KEY)?
            .split(' ')
            .any(|p| p == permission);
        if granted {
            Ok(())
        } else {
            Err(ClaimsError::MissingPermission(permission.to_owned()))
        }
    }
}

/// Who holds one of authgate's verified tokens, in the store's ids; `None` when its `sid`,
/// `sub` or `client_id` is not one.
pub fn token_holder(claims: &AccessClaims) -> Option<authgate_users::TokenHolder> {
    match claims.holder() {
        Holder::User { session } => authgate_users::TokenHolder::user(session, &claims.sub),
        Holder::Client { client_id } => authgate_users::TokenHolder::client(client_id),
        Holder::ApiKey { .. } => None,
    }
}

/// A signed-in user's verified claims: `sid` and `email` are there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserClaims(AccessClaims);

impl UserClaims {
    /// The user's id (`sub`).
    pub fn user(&self) -> &str {
        &self.0.sub
    }

    /// The session the token belongs to (`sid`).
    pub fn session(&self) -> &str {
        self.0.sid.as_deref().unwrap_or_default()
    }

    /// The email the token was issued with.
    pub fn email(&self) -> &str {
        self.0.email.as_deref().unwrap_or_default()
    }

    /// Every claim.
    pub fn claims(&self) -> &AccessClaims {
        &self.0
    }

    /// Every claim, owned.
    pub fn into_claims(self) -> AccessClaims {
        self.0
    }
}

/// `request` with `claims` placed where the authorizer's context would put them.
pub fn with_claims(request: Request, claims: &AccessClaims) -> Request {
    with_context(request, authorizer_context(claims), &claims.sub)
}

/// `request` with an outside issuer's verified `claims` placed where the authorizer's context
/// would put them.
pub fn with_outside_claims(request: Request, claims: &OutsideClaims) -> Request {
    with_context(request, outside_authorizer_context(claims), &claims.sub)
}

fn with_context(request: Request, fields: AuthorizerContext, principal: &str) -> Request {
    let mut context = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(context)) => context.clone(),
        _ => Default::default(),
    };
    context.authorizer.fields = fields.fields().into_iter().collect();
    context
        .authorizer
        .fields
        .insert("principalId".into(), principal.into());
    request.with_request_context(RequestContext::ApiGatewayV1(context))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> AccessClaims {
        AccessClaims {
            iss: "iss".into(),
            sub: "user-1".into(),
            aud: "aud".into(),
            iat: 1,
            nbf: 1,
            exp: 4_102_444_800,
            jti: "j".into(),
            client_id: None,
            api_key_id: None,
            email: Some("a@example.com".into()),
            email_verified: false,
            sid: Some("s-1".into()),
            roles: vec!["editor".into()],
            scope: "items:read items:write".into(),
            custom: serde_json::Map::from_iter([("foo".into(), serde_json::json!(["fiz", "baz"]))]),
        }
    }

    #[test]
    fn injected_claims_read_back_identically() {
        let request = with_claims(Request::default(), &claims());
        assert_eq!(request.verified_claims(), Ok(claims()));
    }

    #[test]
    fn custom_claims_read_as_the_developers_own_type_and_raw() {
        #[derive(serde::Deserialize)]
        struct MyClaims {
            sub: String,
            foo: Vec<String>,
        }
        let request = with_claims(Request::default(), &claims());
        let mine: MyClaims = request.claims_as().unwrap();
        assert_eq!(
            (mine.sub.as_str(), mine.foo),
            ("user-1", vec!["fiz".to_owned(), "baz".to_owned()])
        );
        let raw = request.raw_claims().unwrap();
        assert_eq!(raw["foo"], serde_json::json!(["fiz", "baz"]));
        assert_eq!(raw["roles"], serde_json::json!(["editor"]));
    }

    #[test]
    fn a_missing_permission_is_a_403_with_a_json_detail() {
        let request = with_claims(Request::default(), &claims());
        assert_eq!(request.require_permission("items:write"), Ok(()));
        let err = request.require_permission("items:delete").unwrap_err();
        assert_eq!(err, ClaimsError::MissingPermission("items:delete".into()));
        let response = ApiError::from(err).into_response();
        assert_eq!(response.status(), 403);
        match response.body() {
            lambda_http::Body::Text(text) => {
                assert_eq!(text, r#"{"detail":"Not enough permissions"}"#)
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            with_claims(
                Request::default(),
                &AccessClaims {
                    scope: "items:write-all".into(),
                    ..claims()
                }
            )
            .require_permission("items:write"),
            Err(ClaimsError::MissingPermission("items:write".into())),
            "whole names only"
        );
    }

    #[test]
    fn claims_past_their_expiry_are_refused_though_the_gateway_let_them_through() {
        let now = authgate_token::now_unix();
        let expired = AccessClaims {
            exp: now - 31,
            ..claims()
        };
        let request = with_claims(Request::default(), &expired);
        assert_eq!(request.verified_claims(), Err(ClaimsError::Expired));
        assert_eq!(request.raw_claims().err(), Some(ClaimsError::Expired));
        let response = ApiError::from(ClaimsError::Expired).into_response();
        assert_eq!(response.status(), 401);
        let within_leeway = AccessClaims {
            exp: now - 5,
            ..claims()
        };
        assert!(
            with_claims(Request::default(), &within_leeway)
                .verified_claims()
                .is_ok()
        );
    }

    #[test]
    fn expiry_is_judged_with_the_deployments_leeway() {
        let now = authgate_token::now_unix();
        let lately_expired = AccessClaims {
            exp: now - 5,
            ..claims()
        };
        let request = |leeway: u64| {
            let mut request = with_claims(Request::default(), &lately_expired);
            request.extensions_mut().insert(ClaimsLeeway(leeway));
            request
        };
        assert_eq!(request(0).verified_claims(), Err(ClaimsError::Expired));
        assert!(request(10).verified_claims().is_ok());
    }

    fn outside_request(sub: &str) -> Request {
        let claims = OutsideClaims {
            iss: "https://tenant.eu.auth0.com/".into(),
            sub: sub.into(),
            scopes: vec!["items:read".into()],
            raw: serde_json::from_value(serde_json::json!({
                "iss": "https://tenant.eu.auth0.com/", "sub": sub, "aud": "api",
                "exp": 4_102_444_800_i64, "scope": "items:read"
            }))
            .unwrap(),
        };
        with_outside_claims(Request::default(), &claims)
    }

    #[test]
    fn an_outside_token_whose_sub_is_an_authgate_id_is_not_an_authgate_caller() {
        let request = outside_request("user-1");
        assert_eq!(
            request.caller(),
            Ok(Verifier::Outside {
                iss: "https://tenant.eu.auth0.com/".into()
            })
        );
        assert_eq!(request.verified_claims(), Err(ClaimsError::OutsideToken));
        assert_eq!(request.raw_claims().err(), Some(ClaimsError::OutsideToken));
        let response = ApiError::from(ClaimsError::OutsideToken).into_response();
        assert_eq!(response.status(), 403);
        #[derive(serde::Deserialize)]
        struct Sub {
            sub: String,
        }
        let asked: Sub = request.any_issuer_claims_as().unwrap();
        assert_eq!(asked.sub, "user-1");
        assert_eq!(request.require_permission("items:read"), Ok(()));
        let own = with_claims(Request::default(), &claims());
        assert_eq!(own.caller(), Ok(Verifier::Authgate));
        assert!(own.any_issuer_raw_claims().is_ok());
    }

    #[test]
    fn a_context_that_does_not_say_who_verified_the_token_is_refused() {
        let mut context =
            lambda_http::aws_lambda_events::apigw::ApiGatewayProxyRequestContext::default();
        let mut fields = authorizer_context(&claims()).fields();
        fields.remove(VERIFIED_BY_CONTEXT_KEY);
        context.authorizer.fields.extend(fields);
        let request =
            Request::default().with_request_context(RequestContext::ApiGatewayV1(context));
        assert_eq!(request.verified_claims(), Err(ClaimsError::Missing));
    }

    #[test]
    fn a_clients_token_reads_as_claims_but_not_as_a_users() {
        let client = AccessClaims {
            sub: "client-1".into(),
            client_id: Some("client-1".into()),
            sid: None,
            email: None,
            roles: Vec::new(),
            ..claims()
        };
        let request = with_claims(Request::default(), &client);
        assert_eq!(request.verified_claims(), Ok(client));
        assert_eq!(request.require_permission("items:read"), Ok(()));
        assert_eq!(request.user_claims(), Err(ClaimsError::NotSignedIn));
        let response = ApiError::from(ClaimsError::NotSignedIn).into_response();
        assert_eq!(response.status(), 403);
        let user = with_claims(Request::default(), &claims())
            .user_claims()
            .unwrap();
        assert_eq!(
            (user.user(), user.session(), user.email()),
            ("user-1", "s-1", "a@example.com")
        );
    }

    #[test]
    fn request_without_authorizer_context_has_no_claims() {
        assert_eq!(
            Request::default().verified_claims(),
            Err(ClaimsError::Missing)
        );
    }
}
