//! Account recovery, FastAPI Users' reset-password and verify routers:
//!
//! - `POST /auth/forgot-password` `{"email"}` → 202, whether or not the account exists; an
//!   account that may reset gets a mail with a one-time link.
//! - `POST /auth/reset-password` `{"token", "password"}` → 200; the new password meets the
//!   password policy, and every session of the user ends.
//! - `POST /auth/request-verify-token` `{"email"}` → 202 always; an unverified account gets a
//!   mail with a one-time link.
//! - `POST /auth/verify` `{"token"}` → 200 with the user, whose address is now verified.
//!
//! Every bad token (unknown, used, expired, malformed, or for an account that changed since, even
//! between the token's check and its write) is one 400 with one `detail`. Tokens, mail and their
//! limits are `authgate_accounts::AccountMail`'s.

use std::sync::Arc;

use authgate_accounts::{AccountMail, NewPasswords, RedeemError, change_user};
use authgate_http::{ApiError, Endpoint, body, json_response};
use authgate_runtime::{AccountStore, Backend, Env, InitError};
use authgate_users::{
    Expected, HashError, PasswordError, PasswordHasher, StoreError, TokenPurpose, UserChanges,
};
use lambda_http::http::{Method, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Deserialize;

/// The one `detail` of every refused token.
pub const BAD_TOKEN: &str = "Invalid, used or expired token";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EmailBody {
    email: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResetBody {
    token: String,
    password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyBody {
    token: String,
}

/// Everything that can stop a recovery request.
#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    #[error(transparent)]
    Request(#[from] ApiError),
    #[error("bad token")]
    BadToken,
    #[error("invalid password: {0}")]
    Password(#[from] PasswordError),
    #[error("password hashing failed")]
    Hash(#[from] HashError),
    #[error("user store failed")]
    Store(#[from] StoreError),
}

impl From<RedeemError> for RecoveryError {
    fn from(err: RedeemError) -> Self {
        match err {
            RedeemError::Invalid(_) => Self::BadToken,
            RedeemError::Store(e) => Self::Store(e),
        }
    }
}

impl From<RecoveryError> for ApiError {
    fn from(err: RecoveryError) -> Self {
        match err {
            RecoveryError::Request(api) => api,
            RecoveryError::BadToken | RecoveryError::Store(StoreError::Changed) => {
                ApiError::BadRequest(BAD_TOKEN.into())
            }
            RecoveryError::Password(e) => e.into(),
            other => ApiError::internal(other),
        }
    }
}

/// The recovery function.
pub struct Recovery {
    store: Arc<dyn AccountStore>,
    mail: AccountMail,
    hasher: PasswordHasher,
    passwords: NewPasswords,
}

/// The recovery function: users and tokens in `backend`'s store, mail through its mailer, as
/// `env`'s mail and password settings say. It needs no keys: it issues no access token.
pub async fn build(env: &Env, backend: &dyn Backend) -> Result<Recovery, InitError> {
    Ok(Recovery {
        store: backend.store(env)?,
        mail: AccountMail::build(env, backend)?,
        hasher: PasswordHasher::new(),
        passwords: NewPasswords::build(env)?,
    })
}

/// The 202 of a mail request: FastAPI Users answers `null`, whatever the address.
fn accepted() -> Response<Body> {
    json_response(StatusCode::ACCEPTED, &serde_json::Value::Null)
}

#[async_trait::async_trait]
impl Endpoint for Recovery {
    type Error = RecoveryError;

    async fn respond(&self, request: Request) -> Result<Response<Body>, RecoveryError> {
        let resource = match request.request_context_ref() {
            Some(RequestContext::ApiGatewayV1(context)) => context.resource_path.clone(),
            _ => None,
        };
        if request.method() != Method::POST {
            return Err(ApiError::MethodNotAllowed("Method Not Allowed".into()).into());
        }
        body::require_media_type(&request, false)?;
        match resource.as_deref() {
            Some("/auth/forgot-password") => {
                let input: EmailBody = body::json(&request)?;
                self.mail
                    .request(TokenPurpose::ResetPassword, &input.email)
                    .await?;
                Ok(accepted())
            }
            Some("/auth/request-verify-token") => {
                let input: EmailBody = body::json(&request)?;
                self.mail
                    .request(TokenPurpose::VerifyEmail, &input.email)
                    .await?;
                Ok(accepted())
            }
            Some("/auth/reset-password") => {
                let input: ResetBody = body::json(&request)?;
                self.reset(input).await
            }
            Some("/auth/verify") => {
                let input: VerifyBody = body::json(&request)?;
                let (user, _) = self
                    .mail
                    .redeem(TokenPurpose::VerifyEmail, &input.token)
                    .await?;
                let changes = UserChanges {
                    email_verified: Some(true),
                    expected: Expected {
                        email: Some(user.email.clone()),
                        password_hash: None,
                    },
                    ..UserChanges::default()
                };
                let changed = change_user(self.store.as_ref(), user.id, changes).await?;
                tracing::info!(user_id = %user.id, "email address verified");
                Ok(json_response(StatusCode::OK, &changed.user.public()))
            }
            _ => Err(ApiError::NotFound("Not Found".into()).into()),
        }
    }
}

impl Recovery {
    async fn reset(&self, input: ResetBody) -> Result<Response<Body>, RecoveryError> {
        let (user, record) = self
            .mail
            .redeem(TokenPurpose::ResetPassword, &input.token)
            .await?;
        let password = match self.passwords.check(input.password, &user.email).await {
            Ok(password) => password,
            Err(e) => {
                self.mail.restore(&input.token, &record).await?;
                return Err(e.into());
            }
        };
        let changes = UserChanges {
            password_hash: Some(self.hasher.hash(password).await?),
            expected: Expected {
                email: Some(user.email.clone()),
                password_hash: Some(user.password_hash.clone()),
            },
            ..UserChanges::default()
        };
        change_user(self.store.as_ref(), user.id, changes).await?;
        tracing::info!(user_id = %user.id, "password reset; every session ended");
        Ok(json_response(StatusCode::OK, &serde_json::Value::Null))
    }
}
