//! `GET /users/me`, the example protected function, and `PATCH /users/me`, a user changing
//! their own email or password (proven by the current one).
//!
//! `POST/GET /users/me/api-keys` and `DELETE /users/me/api-keys/{key_id}` manage the caller's API
//! keys (only with a signed-in session: a key cannot make keys).
//!
//! It trusts the claims the authorizer verified (read with `verified_claims()`), then loads the
//! user so that a deleted or disabled account stops here even while its token is still valid.

use std::sync::Arc;

use authgate_accounts::{
    AccountMail, ApiKeyError, ApiKeys, CredentialsError, NewPasswords, Sessions, change_user,
};
use authgate_config::ThrottleSettings;
use authgate_http::{
    ApiError, ClaimsError, Endpoint, RequestClaimsExt, body, json_response, source_ip,
};
use authgate_runtime::{AccountStore, Backend, Env, InitError};
use authgate_token::AccessClaims;
use authgate_users::{
    Denied, Guessed, HashError, LoginLimits, Password, PasswordHasher, StoreError, ThrottleError,
    Throttled, TokenPurpose, User, UserChanges, now_ms, user_may_act,
};
use chrono::{DateTime, Utc};
use lambda_http::http::{Method, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::{Deserialize, Serialize};

/// The response: who the caller is, and what their token says.
#[derive(Serialize)]
struct MeResponse {
    id: String,
    email: String,
    email_verified: bool,
    created_at: DateTime<Utc>,
    claims: AccessClaims,
}

/// `PATCH /users/me`: a new email or password, proven by the current password.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Patch {
    email: Option<String>,
    password: Option<String>,
    current_password: String,
}

/// The answer to `PATCH /users/me`: the user and, after a password change (which ended every
/// session), the refresh token of a new session for this client, which `/auth/refresh` turns
/// into an access token (this function holds no signing key).
#[derive(Serialize)]
struct Patched {
    id: String,
    email: String,
    email_verified: bool,
    created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
}

/// The route of the caller's API keys.
const API_KEYS: &str = "/users/me/api-keys";
/// The route of one of the caller's API keys.
const API_KEY: &str = "/users/me/api-keys/{key_id}";

/// `detail` of a 400 for a wrong `current_password`.
pub const WRONG_CURRENT_PASSWORD: &str = "Current password is incorrect";

/// `detail` of a 409 when another change to the account landed while this one was made.
pub const ACCOUNT_CHANGED: &str = "The account changed during this request; try again";

/// Everything that can stop the request.
#[derive(Debug, thiserror::Error)]
pub enum MeError {
    #[error(transparent)]
    Request(#[from] ApiError),
    #[error("no verified claims")]
    Claims(#[from] ClaimsError),
    #[error("token subject is not a user id")]
    BadSubject,
    #[error("the user may not act")]
    Denied(#[from] Denied),
    #[error("the current password is wrong")]
    WrongPassword,
    #[error(transparent)]
    Throttled(#[from] Throttled),
    #[error("password hashing failed")]
    Hash(#[from] HashError),
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    #[error("user store failed")]
    Store(#[from] StoreError),
    #[error(transparent)]
    ApiKey(#[from] ApiKeyError),
    #[error("no such API key")]
    NoSuchKey,
}

impl From<MeError> for ApiError {
    fn from(err: MeError) -> Self {
        match err {
            MeError::Request(api) => api,
            MeError::ApiKey(e) => e.into(),
            MeError::NoSuchKey => ApiError::NotFound("API key not found".into()),
            MeError::Claims(e) => e.into(),
            MeError::BadSubject => {
                ApiError::Unauthorized(authgate_http::COULD_NOT_VALIDATE_CREDENTIALS.into())
            }
            MeError::Denied(denied) => denied.into(),
            MeError::WrongPassword => ApiError::BadRequest(WRONG_CURRENT_PASSWORD.into()),
            MeError::Throttled(throttled) => throttled.into(),
            MeError::Credentials(e) => e.into(),
            MeError::Store(StoreError::DuplicateEmail) => {
                ApiError::Conflict(authgate_http::EMAIL_TAKEN.into())
            }
            MeError::Store(StoreError::Changed) => ApiError::Conflict(ACCOUNT_CHANGED.into()),
            other => ApiError::internal(other),
        }
    }
}

/// The `/users/me` handler.
pub struct Me {
    store: Arc<dyn AccountStore>,
    hasher: PasswordHasher,
    sessions: Sessions,
    passwords: NewPasswords,
    mail: AccountMail,
    guesses: LoginLimits,
    keys: ApiKeys,
}

/// The `/users/me` function: users and sessions in `backend`'s store. It needs no keys: it
/// trusts the authorizer's claims and signs nothing.
pub async fn build(env: &Env, backend: &dyn Backend) -> Result<Me, InitError> {
    Ok(Me {
        store: backend.store(env)?,
        hasher: PasswordHasher::new(),
        sessions: Sessions::build(env, backend)?,
        passwords: NewPasswords::build(env)?,
        mail: AccountMail::build(env, backend)?,
        guesses: ThrottleSettings::from_env(env)?.login,
        keys: ApiKeys::build(env, backend)?,
    })
}

#[async_trait::async_trait]
impl Endpoint for Me {
    type Error = MeError;

    async fn respond(&self, request: Request) -> Result<Response<Body>, MeError> {
        let claims = request.user_claims()?;
        let id = claims.user().parse().map_err(|_| MeError::BadSubject)?;
        let user = user_may_act(self.store.get_by_id(id).await?)?;
        let resource = match request.request_context_ref() {
            Some(RequestContext::ApiGatewayV1(context)) => context.resource_path.clone(),
            _ => None,
        };
        match (resource.as_deref(), request.method().clone()) {
            (Some(API_KEYS), Method::POST) => {
                body::require_media_type(&request, false)?;
                let issued = self.keys.issue(&user, body::json(&request)?).await?;
                return Ok(json_response(StatusCode::CREATED, &issued));
            }
            (Some(API_KEYS), Method::GET) => {
                let keys = self.keys.list(user.id).await?;
                return Ok(json_response(StatusCode::OK, &keys));
            }
            (Some(API_KEY), Method::DELETE) => {
                let key = request
                    .path_parameters_ref()
                    .and_then(|params| params.first("key_id"))
                    .and_then(|id| id.parse().ok())
                    .ok_or(MeError::NoSuchKey)?;
                self.keys.revoke(user.id, key).await?;
                let mut response = Response::new(Body::Empty);
                *response.status_mut() = StatusCode::NO_CONTENT;
                return Ok(response);
            }
            (Some(API_KEYS | API_KEY), _) => {
                return Err(ApiError::MethodNotAllowed("Method Not Allowed".into()).into());
            }
            _ => {}
        }
        if request.method() == Method::PATCH {
            return self.patch(&request, user).await;
        }
        Ok(json_response(
            StatusCode::OK,
            &MeResponse {
                id: user.id.to_string(),
                email: user.email.to_string(),
                email_verified: user.email_verified,
                created_at: user.created_at,
                claims: claims.into_claims(),
            },
        ))
    }
}

impl Me {
    /// A new email or password for the caller. A new password ends every session of the user,
    /// and this client continues in a new one whose refresh token the response carries.
    async fn patch(&self, request: &Request, user: User) -> Result<Response<Body>, MeError> {
        body::require_media_type(request, false)?;
        let patch: Patch = body::json(request)?;
        // A stolen access token must not make `current_password` an unthrottled oracle: the
        // guesses count toward the account's login backoff, and wait as logins do.
        let attempt = match self
            .guesses
            .begin(
                self.store.as_ref(),
                &Guessed::password_of(user.email.as_str()),
                source_ip(request),
                now_ms(),
            )
            .await
        {
            Ok(attempt) => attempt,
            Err(ThrottleError::Throttled(throttled)) => {
                tracing::warn!(user_id = %user.id, "current password check throttled");
                return Err(throttled.into());
            }
            Err(ThrottleError::Store(e)) => return Err(e.into()),
        };
        let matches = self
            .hasher
            .verify(
                Password::for_verification(patch.current_password),
                Some(user.password_hash.clone()),
            )
            .await?;
        if !matches {
            attempt.failed(self.store.as_ref()).await?;
            tracing::warn!(user_id = %user.id, "wrong current password");
            return Err(MeError::WrongPassword);
        }
        attempt.succeeded(self.store.as_ref()).await?;
        let new = self
            .passwords
            .credentials(&self.hasher, &user, patch.email.as_deref(), patch.password)
            .await?;
        let changes = UserChanges {
            email: new.email,
            password_hash: new.password_hash,
            ..UserChanges::default()
        };
        let changed = change_user(self.store.as_ref(), user.id, changes).await?;
        if changed.email_changed {
            self.mail
                .send(TokenPurpose::VerifyEmail, &changed.user)
                .await?;
        }
        let updated = changed.user;
        let refresh = if changed.sessions_ended {
            Some(self.sessions.open(&updated, now_ms()).await?.1)
        } else {
            None
        };
        let new_password = refresh.is_some();
        tracing::info!(user_id = %user.id, new_password, "user updated their account");
        Ok(json_response(
            StatusCode::OK,
            &Patched {
                id: updated.id.to_string(),
                email: updated.email.to_string(),
                email_verified: updated.email_verified,
                created_at: updated.created_at,
                refresh_token: refresh.map(|r| r.as_str().to_owned()),
            },
        ))
    }
}
