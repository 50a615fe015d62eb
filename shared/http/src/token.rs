//! The OAuth2 token response (RFC 6749 §5.1) that login and refresh both return.

use authgate_token::IssuedToken;
use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use serde::Serialize;

use crate::json_response;

#[derive(Serialize)]
struct TokenResponse<'a> {
    access_token: &'a str,
    token_type: &'static str,
    expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<&'a str>,
}

/// `{"access_token", "token_type": "bearer", "expires_in", "refresh_token"}`, never cached.
pub fn token_response(access: &IssuedToken, refresh_token: &str) -> Response<Body> {
    no_store(json_response(
        StatusCode::OK,
        &TokenResponse {
            access_token: &access.token,
            token_type: "bearer",
            expires_in: access.expires_in,
            refresh_token: Some(refresh_token),
            scope: None,
        },
    ))
}

/// A client's token (RFC 6749 §4.4.3): `{"access_token", "token_type": "bearer",
/// "expires_in", "scope"}` and no refresh token ("A refresh token SHOULD NOT be included"),
/// never cached.
pub fn client_token_response(access: &IssuedToken) -> Response<Body> {
    no_store(json_response(
        StatusCode::OK,
        &TokenResponse {
            access_token: &access.token,
            token_type: "bearer",
            expires_in: access.expires_in,
            refresh_token: None,
            scope: Some(&access.claims.scope),
        },
    ))
}

/// `response` with RFC 6749 §5.1's `Cache-Control: no-store` and `Pragma: no-cache`.
pub(crate) fn no_store(mut response: Response<Body>) -> Response<Body> {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}
