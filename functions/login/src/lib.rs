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

use std::sync::Arc;

use authgate_accounts::{EmailNotVerified, SessionStarter, StartError};
use authgate_config::ThrottleSettings;
use authgate_http::{ApiError, Endpoint, body, source_ip, token_response};
use authgate_runtime::{AccountStore, Backend, Env, InitError};
use authgate_users::{
    Email, HashError, LoginLimits, Password, PasswordHasher, StoreError, ThrottleError, Throttled,
    now_ms, user_may_act,
};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;

/// `detail` of a right password for an unverified address, when login requires verification.
pub use authgate_http::EMAIL_NOT_VERIFIED;

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

/// Everything that can stop a login.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error(transparent)]
    Request(#[from] ApiError),
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error(transparent)]
    Throttled(#[from] Throttled),
    #[error(transparent)]
    EmailNotVerified(#[from] EmailNotVerified),
    #[error("password verification failed")]
    Hash(#[from] HashError),
    #[error("user store failed")]
    Store(#[from] StoreError),
    #[error("the session could not be started")]
    Start(#[from] StartError),
}

impl From<LoginError> for ApiError {
    fn from(err: LoginError) -> Self {
        match err {
            LoginError::Request(api) => api,
            LoginError::InvalidCredentials => ApiError::Unauthorized(INVALID_CREDENTIALS.into()),
            LoginError::Throttled(throttled) => throttled.into(),
            LoginError::EmailNotVerified(_) => ApiError::Forbidden(EMAIL_NOT_VERIFIED.into()),
            other => ApiError::internal(other),
        }
    }
}

/// The login handler and what it needs, built once at init.
pub struct Login {
    store: Arc<dyn AccountStore>,
    hasher: PasswordHasher,
    sessions: SessionStarter,
    limits: LoginLimits,
}

/// The login function: users and sessions from `backend`'s store, tokens signed with its keys
/// (reloaded every few minutes, so a rotation needs no redeploy), as `env`'s settings say.
pub async fn build(env: &Env, backend: &dyn Backend) -> Result<Login, InitError> {
    Ok(Login {
        store: backend.store(env)?,
        hasher: PasswordHasher::new(),
        sessions: SessionStarter::build(env, backend).await?,
        limits: ThrottleSettings::from_env(env)?.login,
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
        self.hasher.verifications()
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

        let ip = source_ip(&request);
        let attempt = match self
            .limits
            .begin(self.store.as_ref(), &email, ip, now_ms())
            .await
        {
            Ok(attempt) => attempt,
            Err(ThrottleError::Throttled(throttled)) => {
                tracing::warn!(
                    source_ip = ip.unwrap_or("unknown"),
                    retry_after_secs = throttled.retry_after_secs(),
                    "login throttled"
                );
                return Err(throttled.into());
            }
            Err(ThrottleError::Store(e)) => return Err(e.into()),
        };
        let read_at = now_ms();
        let user = match Email::parse(&email) {
            Ok(email) => self.store.get_by_email(&email).await?,
            Err(_) => None,
        };
        let stored_hash = user.as_ref().map(|u| u.password_hash.clone());
        let matches = self
            .hasher
            .verify(Password::for_verification(password), stored_hash)
            .await?;
        let user_id = user.as_ref().map(|u| u.id);
        let refused = |reason: &str| {
            tracing::warn!(
                reason,
                user_id = ?user_id,
                source_ip = ip.unwrap_or("unknown"),
                "login refused"
            );
            LoginError::InvalidCredentials
        };
        let outcome = match (user, matches) {
            (None, _) => Err("unknown_email"),
            (Some(_), false) => Err("wrong_password"),
            (Some(user), true) => user_may_act(Some(user)).map_err(|_| "user_may_not_act"),
        };
        let user = match outcome {
            Ok(user) => {
                attempt.succeeded(self.store.as_ref()).await?;
                user
            }
            Err(reason) => {
                attempt.failed(self.store.as_ref()).await?;
                return Err(refused(reason));
            }
        };
        self.sessions.may_receive(&user)?;
        let (issued, refresh) = match self.sessions.start(&user, read_at).await {
            Ok(started) => started,
            Err(StartError::Store(StoreError::Changed)) => {
                return Err(refused("changed_during_login"));
            }
            Err(e) => return Err(e.into()),
        };
        Ok(token_response(&issued, refresh.as_str()))
    }
}
