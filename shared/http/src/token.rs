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
    refresh_token: &'a str,
}

/// `{"access_token", "token_type": "bearer", "expires_in", "refresh_token"}`, never cached.
pub fn token_response(access: &IssuedToken, refresh_token: &str) -> Response<Body> {
    let mut response = json_response(
        StatusCode::OK,
        &TokenResponse {
            access_token: &access.token,
            token_type: "bearer",
            expires_in: access.expires_in,
            refresh_token,
        },
    );
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}
