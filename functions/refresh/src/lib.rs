//! `POST /auth/refresh`: exchange a refresh token for a new access token and a new refresh token.
//!
//! Accepts JSON `{"refresh_token"}` and the OAuth2 form `grant_type=refresh_token&refresh_token=…`.
//! The presented token is consumed atomically and replaced (rotation); a token presented again
//! after its grace period ends its whole session (reuse detection). Every refusal is the same 401.

use std::sync::Arc;

use authgate_accounts::{EmailNotVerified, UserTokens};
use authgate_config::SessionSettings;
use authgate_http::{ApiError, Endpoint, body, token_response};
use authgate_runtime::{AccountStore, Backend, Env, InitError};
use authgate_token::SignError;
use authgate_users::{RefreshError, RefreshToken, StoreError, now_ms, user_may_act};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;

/// The one message for every refused refresh.
pub const INVALID_REFRESH_TOKEN: &str = "Invalid or expired refresh token";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonRefresh {
    refresh_token: String,
}

/// RFC 6749 §6.
#[derive(Deserialize)]
#[allow(dead_code)]
struct RefreshForm {
    grant_type: String,
    refresh_token: String,
    scope: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// Everything that can stop a refresh.
#[derive(Debug, thiserror::Error)]
pub enum RefreshFailure {
    #[error(transparent)]
    Request(#[from] ApiError),
    #[error("refused: {0}")]
    Refused(#[source] RefreshError),
    #[error("user store failed")]
    Store(#[from] StoreError),
    #[error("token signing failed")]
    Sign(#[from] SignError),
    #[error(transparent)]
    EmailNotVerified(#[from] EmailNotVerified),
}

impl From<RefreshError> for RefreshFailure {
    fn from(err: RefreshError) -> Self {
        match err {
            RefreshError::Store(e) => Self::Store(e),
            refused => Self::Refused(refused),
        }
    }
}

impl From<RefreshFailure> for ApiError {
    fn from(err: RefreshFailure) -> Self {
        match err {
            RefreshFailure::Request(api) => api,
            RefreshFailure::Refused(_) => ApiError::Unauthorized(INVALID_REFRESH_TOKEN.into()),
            RefreshFailure::EmailNotVerified(_) => {
                ApiError::Forbidden(authgate_http::EMAIL_NOT_VERIFIED.into())
            }
            other => ApiError::internal(other),
        }
    }
}

/// The refresh handler.
pub struct Refresh {
    store: Arc<dyn AccountStore>,
    tokens: UserTokens,
    settings: SessionSettings,
}

/// The refresh function: sessions and users from `backend`'s store, tokens signed with its keys,
/// as `env`'s settings say.
pub async fn build(env: &Env, backend: &dyn Backend) -> Result<Refresh, InitError> {
    Ok(Refresh {
        store: backend.store(env)?,
        tokens: UserTokens::build(env, backend).await?,
        settings: SessionSettings::from_env(env)?,
    })
}

#[async_trait::async_trait]
impl Endpoint for Refresh {
    type Error = RefreshFailure;

    async fn respond(&self, request: Request) -> Result<Response<Body>, RefreshFailure> {
        self.refresh(request).await
    }
}

impl Refresh {
    async fn refresh(&self, request: Request) -> Result<Response<Body>, RefreshFailure> {
        let presented = match body::require_media_type(&request, true)? {
            body::MediaType::Form => {
                let form: RefreshForm = body::form(&request)?;
                if form.grant_type != "refresh_token" {
                    return Err(ApiError::BadRequest(
                        "unsupported grant_type; expected \"refresh_token\"".into(),
                    )
                    .into());
                }
                form.refresh_token
            }
            _ => body::json::<JsonRefresh>(&request)?.refresh_token,
        };
        let presented = RefreshToken::parse(&presented)
            .map_err(|_| RefreshFailure::Refused(RefreshError::Unknown))?;
        let next = RefreshToken::generate();
        let rotated = match self
            .store
            .rotate(
                &presented.hash(),
                &next.hash(),
                now_ms(),
                self.settings.rotation_policy(),
            )
            .await
        {
            Ok(rotated) => rotated,
            Err(RefreshError::Reused) => {
                tracing::warn!("spent refresh token presented again; its session was ended");
                return Err(RefreshError::Reused.into());
            }
            Err(e) => return Err(e.into()),
        };
        let session = rotated.session;
        let user = match user_may_act(self.store.get_by_id(session.user_id).await?) {
            Ok(user) => user,
            Err(denied) => {
                self.store.revoke(session.id).await?;
                return Err(RefreshError::SessionEnded(denied).into());
            }
        };
        if let Err(unverified) = self.tokens.may_receive(&user) {
            tracing::warn!(user_id = %user.id, sid = %session.id, "refresh refused: the address is not verified");
            return Err(unverified.into());
        }
        let issued = self.tokens.issue(&user, &session).await?;
        tracing::info!(user_id = %user.id, sid = %session.id, jti = %issued.claims.jti, "tokens refreshed");
        Ok(token_response(&issued, next.as_str()))
    }
}
