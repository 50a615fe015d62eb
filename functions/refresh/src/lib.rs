//! `POST /auth/refresh`: exchange a refresh token for a new access token and a new refresh token.
//!
//! Accepts JSON `{"refresh_token"}` and the OAuth2 form `grant_type=refresh_token&refresh_token=…`.
//! The presented token is consumed atomically and replaced (rotation); a token presented again
//! after its grace period ends its whole session (reuse detection). Every refusal is the same 401.

use authgate_accounts::{RefreshFailure, SessionRefresh};
use authgate_http::{ApiError, Endpoint, body, token_response};
use authgate_runtime::{Backend, Env, InitError};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;

/// The one message for every refused refresh.
pub use authgate_accounts::INVALID_REFRESH_TOKEN;

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
pub enum RefreshError {
    #[error(transparent)]
    Request(#[from] ApiError),
    #[error(transparent)]
    Failed(#[from] RefreshFailure),
}

impl From<RefreshError> for ApiError {
    fn from(err: RefreshError) -> Self {
        match err {
            RefreshError::Request(api) => api,
            RefreshError::Failed(RefreshFailure::Refused(_)) => {
                ApiError::Unauthorized(INVALID_REFRESH_TOKEN.into())
            }
            RefreshError::Failed(RefreshFailure::EmailNotVerified(_)) => {
                ApiError::Forbidden(authgate_http::EMAIL_NOT_VERIFIED.into())
            }
            other => ApiError::internal(other),
        }
    }
}

/// The refresh handler: the request's shape; [`SessionRefresh`] does the rest.
pub struct Refresh {
    refresh: SessionRefresh,
}

/// The refresh function: sessions and users from `backend`'s store, tokens signed with its keys,
/// as `env`'s settings say.
pub async fn build(env: &Env, backend: &dyn Backend) -> Result<Refresh, InitError> {
    Ok(Refresh {
        refresh: SessionRefresh::build(env, backend).await?,
    })
}

#[async_trait::async_trait]
impl Endpoint for Refresh {
    type Error = RefreshError;

    async fn respond(&self, request: Request) -> Result<Response<Body>, RefreshError> {
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
        let (issued, next) = self.refresh.refresh(&presented).await?;
        Ok(token_response(&issued, next.as_str()))
    }
}
