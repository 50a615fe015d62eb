//! `POST /auth/login`: exchange an email and password for a bearer token.
//!
//! Accepts JSON `{"email", "password"}` and the OAuth2 password grant form that FastAPI's
//! `OAuth2PasswordRequestForm` and Swagger UI send. Every credential failure (unknown email,
//! wrong password, disabled user) gets the same 401, and an unknown email still costs one Argon2
//! verification, so neither the body nor the timing tells which emails exist.

use std::sync::Arc;

use authgate_http::{ApiError, body, json_response};
use authgate_token::{SignError, Subject, TokenIssuer};
use authgate_users::{Email, HashError, Password, PasswordHasher, StoreError, UserStore};
use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};

/// The one message for every credential failure.
pub const INVALID_CREDENTIALS: &str = "Incorrect email or password";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonCredentials {
    email: String,
    password: String,
}

/// RFC 6749 §4.3.2, with the optional fields FastAPI's form declares.
#[derive(Deserialize)]
#[allow(dead_code)]
struct PasswordGrantForm {
    grant_type: Option<String>,
    username: String,
    password: String,
    scope: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// RFC 6749 §5.1 token response.
#[derive(Serialize)]
struct TokenResponse<'a> {
    access_token: &'a str,
    token_type: &'static str,
    expires_in: u64,
}

/// Everything that can stop a login.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error(transparent)]
    Request(#[from] ApiError),
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("password verification failed")]
    Hash(#[from] HashError),
    #[error("user store failed")]
    Store(#[from] StoreError),
    #[error("token signing failed")]
    Sign(#[from] SignError),
}

impl From<LoginError> for ApiError {
    fn from(err: LoginError) -> Self {
        match err {
            LoginError::Request(api) => api,
            LoginError::InvalidCredentials => ApiError::Unauthorized(INVALID_CREDENTIALS.into()),
            other => ApiError::internal(other),
        }
    }
}

/// The login handler and what it needs, built once at init.
pub struct Login {
    store: Arc<dyn UserStore>,
    hasher: PasswordHasher,
    issuer: TokenIssuer,
}

impl Login {
    /// A handler checking users in `store` and signing with `issuer`.
    pub fn new(store: Arc<dyn UserStore>, hasher: PasswordHasher, issuer: TokenIssuer) -> Self {
        Self {
            store,
            hasher,
            issuer,
        }
    }

    /// Handles one request; every outcome is a response.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        self.login(request)
            .await
            .unwrap_or_else(|e| ApiError::from(e).into_response())
    }

    async fn login(&self, request: Request) -> Result<Response<Body>, LoginError> {
        let (email, password) = match body::require_media_type(&request, true)? {
            body::MediaType::Form => {
                let form: PasswordGrantForm = body::form(&request)?;
                if form.grant_type.as_deref().is_some_and(|g| g != "password") {
                    return Err(ApiError::BadRequest(
                        "unsupported grant_type; expected \"password\"".into(),
                    )
                    .into());
                }
                (form.username, form.password)
            }
            _ => {
                let json: JsonCredentials = body::json(&request)?;
                (json.email, json.password)
            }
        };

        let user = match Email::parse(&email) {
            Ok(email) => self.store.get_by_email(&email).await?,
            Err(_) => None,
        };
        let stored_hash = user.as_ref().map(|u| u.password_hash.clone());
        let matches = self
            .hasher
            .verify(Password::for_verification(password), stored_hash)
            .await?;
        let user = match user {
            Some(user) if matches && !user.disabled => user,
            _ => return Err(LoginError::InvalidCredentials),
        };

        let id = user.id.to_string();
        let issued = self.issuer.issue(&Subject {
            id: &id,
            email: user.email.as_str(),
        })?;
        tracing::info!(user_id = %user.id, jti = %issued.claims.jti, "access token issued");
        let mut response = json_response(
            StatusCode::OK,
            &TokenResponse {
                access_token: &issued.token,
                token_type: "bearer",
                expires_in: issued.expires_in,
            },
        );
        // RFC 6749 §5.1: token responses must not be cached.
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        Ok(response)
    }
}
