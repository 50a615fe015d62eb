//! `POST /auth/login`: exchange an email and password for a bearer token.
//!
//! Accepts JSON `{"email", "password"}` and the OAuth2 password grant form that FastAPI's
//! `OAuth2PasswordRequestForm` and Swagger UI send. Every credential failure (unknown email,
//! wrong password, disabled user) gets the same 401, and an unknown email still costs one Argon2
//! verification, so neither the body nor the timing tells which emails exist.
//!
//! Guessing is throttled (see `authgate_users::LoginLimits`): after a few consecutive failures
//! an account's attempts must wait, doubling up to a cap, and one address's failures are capped
//! per window; a throttled attempt gets 429 with `Retry-After`, whether or not its password is
//! right, before any password is checked.
//!
//! A successful login starts a session: the access token carries its id as `sid`, and the
//! refresh token (stored only as a hash) continues it at `POST /auth/refresh`.

use authgate_accounts::{PasswordSignIn, SignInError};
use authgate_http::{ApiError, Endpoint, body, source_ip, token_response};
use authgate_runtime::{Backend, Env, InitError};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;

/// `detail` of a right password for an unverified address, when login requires verification.
pub use authgate_http::EMAIL_NOT_VERIFIED;

/// The one message for every credential failure.
pub use authgate_accounts::INVALID_CREDENTIALS;

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

/// Everything that can stop a login.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error(transparent)]
    Request(#[from] ApiError),
    #[error(transparent)]
    SignIn(#[from] SignInError),
}

impl From<LoginError> for ApiError {
    fn from(err: LoginError) -> Self {
        match err {
            LoginError::Request(api) => api,
            LoginError::SignIn(SignInError::InvalidCredentials) => {
                ApiError::Unauthorized(INVALID_CREDENTIALS.into())
            }
            LoginError::SignIn(SignInError::Throttled(throttled)) => throttled.into(),
            LoginError::SignIn(SignInError::EmailNotVerified(_)) => {
                ApiError::Forbidden(EMAIL_NOT_VERIFIED.into())
            }
            other => ApiError::internal(other),
        }
    }
}

/// The login handler: the request's shape; [`PasswordSignIn`] does the rest.
pub struct Login {
    sign_in: PasswordSignIn,
}

/// The login function: users and sessions from `backend`'s store, tokens signed with its keys
/// (reloaded every few minutes, so a rotation needs no redeploy), as `env`'s settings say.
pub async fn build(env: &Env, backend: &dyn Backend) -> Result<Login, InitError> {
    Ok(Login {
        sign_in: PasswordSignIn::build(env, backend).await?,
    })
}

#[async_trait::async_trait]
impl Endpoint for Login {
    type Error = LoginError;

    async fn respond(&self, request: Request) -> Result<Response<Body>, LoginError> {
        self.login(request).await
    }
}

impl Login {
    /// How many Argon2 verifications this function has run: the evidence that a login of an
    /// unknown email does the same work as one of a known email.
    pub fn password_verifications(&self) -> u64 {
        self.sign_in.password_verifications()
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
        let (issued, refresh) = self
            .sign_in
            .sign_in(&email, password, source_ip(&request))
            .await?;
        Ok(token_response(&issued, refresh.as_str()))
    }
}
