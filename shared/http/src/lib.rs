//! HTTP plumbing shared by authgate's API functions.
//!
//! - [`ApiError`]: the one place an error becomes a status and a JSON body with `detail`
//!   (FastAPI's convention); 5xx bodies are opaque while the log keeps the cause chain.
//! - [`body`]: bounded reading of JSON and OAuth2 form bodies, with precise client errors.
//! - [`claims`]: the verified token claims a protected function gets from the authorizer.
//! - [`HttpHandler`] and [`Endpoint`]: what every API function is, for Lambda and the local gateway.

pub mod body;
pub mod claims;
mod error;
mod handler;
pub mod oauth;
mod token;

pub use claims::{
    ClaimsError, ClaimsLeeway, NOT_ENOUGH_PERMISSIONS, OWN_TOKENS_ONLY, RequestClaimsExt,
    USERS_ONLY, UserClaims, Verifier, token_holder, with_claims, with_outside_claims,
};
pub use error::{
    ApiError, SERVICE_UNAVAILABLE, UNAVAILABLE_RETRY_AFTER_SECS, error_chain, json_response,
};
pub use handler::{Endpoint, HttpHandler};

/// The client's address as API Gateway saw it (`requestContext.identity.sourceIp`).
pub fn source_ip(request: &lambda_http::Request) -> Option<&str> {
    use lambda_http::RequestExt;
    match request.request_context_ref() {
        Some(lambda_http::request::RequestContext::ApiGatewayV1(context)) => {
            context.identity.source_ip.as_deref()
        }
        _ => None,
    }
}
pub use token::{client_token_response, token_response};

/// `detail` of a 401 for a request without usable credentials.
pub const NOT_AUTHENTICATED: &str = "Not authenticated";
/// `detail` of a 401 for credentials that were verified but no longer name a user who may act.
pub const COULD_NOT_VALIDATE_CREDENTIALS: &str = "Could not validate credentials";
/// `detail` of a 409 for an email another user has.
pub const EMAIL_TAKEN: &str = "A user with this email already exists";
/// `detail` of a 403 for a user whose address must be verified before they get tokens.
pub const EMAIL_NOT_VERIFIED: &str = "Email not verified";
/// `detail` of a 401 for a verified token of a disabled user.
pub const INACTIVE_USER: &str = "Inactive user";

/// Largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
