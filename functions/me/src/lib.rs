//! `GET /users/me`: the example protected function.
//!
//! It trusts the claims the authorizer verified (read with `verified_claims()`), then loads the
//! user so that a deleted or disabled account stops here even while its token is still valid.

use std::sync::Arc;

use authgate_http::{ApiError, ClaimsError, Endpoint, RequestClaimsExt, json_response};
use authgate_runtime::{AccountStore, Backend, Env, InitError};
use authgate_token::AccessClaims;
use authgate_users::{Denied, StoreError, user_may_act};
use chrono::{DateTime, Utc};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Serialize;

/// The response: who the caller is, and what their token says.
#[derive(Serialize)]
struct MeResponse {
    id: String,
    email: String,
    created_at: DateTime<Utc>,
    claims: AccessClaims,
}

/// Everything that can stop the request.
#[derive(Debug, thiserror::Error)]
pub enum MeError {
    #[error("no verified claims")]
    Claims(#[from] ClaimsError),
    #[error("token subject is not a user id")]
    BadSubject,
    #[error("the user may not act")]
    Denied(#[from] Denied),
    #[error("user store failed")]
    Store(#[from] StoreError),
}

impl From<MeError> for ApiError {
    fn from(err: MeError) -> Self {
        match err {
            MeError::Claims(e) => e.into(),
            MeError::BadSubject => {
                ApiError::Unauthorized(authgate_http::COULD_NOT_VALIDATE_CREDENTIALS.into())
            }
            MeError::Denied(denied) => denied.into(),
            other => ApiError::internal(other),
        }
    }
}

/// The `/users/me` handler.
pub struct Me {
    store: Arc<dyn AccountStore>,
}

/// The `/users/me` function: users read from `backend`'s store. It needs no keys: the
/// authorizer verified the token.
pub async fn build(env: &Env, backend: &dyn Backend) -> Result<Me, InitError> {
    Ok(Me {
        store: backend.store(env)?,
    })
}

#[async_trait::async_trait]
impl Endpoint for Me {
    type Error = MeError;

    async fn respond(&self, request: Request) -> Result<Response<Body>, MeError> {
        let claims = request.verified_claims()?;
        let id = claims.sub.parse().map_err(|_| MeError::BadSubject)?;
        let user = user_may_act(self.store.get_by_id(id).await?)?;
        Ok(json_response(
            StatusCode::OK,
            &MeResponse {
                id: user.id.to_string(),
                email: user.email.to_string(),
                created_at: user.created_at,
                claims,
            },
        ))
    }
}
