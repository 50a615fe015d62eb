//! The verified claims of the caller, as the authorizer passed them on.
//!
//! The authorizer puts the token's claims, JSON-encoded, under `claims` in its context (API Gateway
//! only forwards flat string/number/boolean values); API Gateway copies that context into
//! `requestContext.authorizer` of every request it lets through. One call, `request.verified_claims()`,
//! gives a protected function the typed payload (FastAPI's `TokenPayload`), and [`with_claims`] lets
//! tests and the local gateway put it there.

use authgate_token::{AccessClaims, CLAIMS_CONTEXT_KEY, authorizer_context};
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

use crate::ApiError;

/// Why no claims could be read. Behind API Gateway with the authorizer this means a wiring error,
/// so it maps to 401 and never to an anonymous success.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ClaimsError {
    #[error("request carries no authorizer context")]
    Missing,
    #[error("authorizer context claims are malformed")]
    Malformed,
}

impl From<ClaimsError> for ApiError {
    fn from(err: ClaimsError) -> Self {
        tracing::warn!(error = %err, "protected route reached without usable claims");
        ApiError::Unauthorized(crate::NOT_AUTHENTICATED.into())
    }
}

/// Reads verified claims from a request.
pub trait RequestClaimsExt {
    /// The claims the authorizer verified for this request.
    fn verified_claims(&self) -> Result<AccessClaims, ClaimsError>;
}

impl RequestClaimsExt for Request {
    fn verified_claims(&self) -> Result<AccessClaims, ClaimsError> {
        let Some(RequestContext::ApiGatewayV1(context)) = self.request_context_ref() else {
            return Err(ClaimsError::Missing);
        };
        let encoded = context
            .authorizer
            .fields
            .get(CLAIMS_CONTEXT_KEY)
            .ok_or(ClaimsError::Missing)?
            .as_str()
            .ok_or(ClaimsError::Malformed)?;
        serde_json::from_str(encoded).map_err(|_| ClaimsError::Malformed)
    }
}

/// `request` with `claims` placed where the authorizer's context would put them.
pub fn with_claims(request: Request, claims: &AccessClaims) -> Request {
    let mut context = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(context)) => context.clone(),
        _ => Default::default(),
    };
    context.authorizer.fields.extend(authorizer_context(claims));
    context
        .authorizer
        .fields
        .insert("principalId".into(), claims.sub.clone().into());
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
            exp: 2,
            jti: "j".into(),
            email: "a@example.com".into(),
            sid: "s-1".into(),
        }
    }

    #[test]
    fn injected_claims_read_back_identically() {
        let request = with_claims(Request::default(), &claims());
        assert_eq!(request.verified_claims(), Ok(claims()));
    }

    #[test]
    fn request_without_authorizer_context_has_no_claims() {
        assert_eq!(
            Request::default().verified_claims(),
            Err(ClaimsError::Missing)
        );
    }
}
