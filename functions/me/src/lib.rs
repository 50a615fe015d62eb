//! `GET /users/me`: the example protected function.
//!
//! It trusts the claims the authorizer verified (read with `verified_claims()`), then loads the
//! user so that a deleted or disabled account stops here even while its token is still valid.

use std::sync::Arc;

use authgate_http::{ApiError, ClaimsError, RequestClaimsExt, json_response};
use authgate_token::AccessClaims;
use authgate_users::{StoreError, UserStore};
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
    #[error("token subject is not a known user")]
    UnknownUser,
    #[error("user is disabled")]
    Disabled,
    #[error("user store failed")]
    Store(#[from] StoreError),
}

impl From<MeError> for ApiError {
    fn from(err: MeError) -> Self {
        match err {
            MeError::Claims(e) => e.into(),
            MeError::UnknownUser => ApiError::Unauthorized("Could not validate credentials".into()),
            MeError::Disabled => ApiError::Forbidden("Inactive user".into()),
            other => ApiError::internal(other),
        }
    }
}

/// The `/users/me` handler.
pub struct Me {
    store: Arc<dyn UserStore>,
}

impl Me {
    /// A handler reading users from `store`.
    pub fn new(store: Arc<dyn UserStore>) -> Self {
        Self { store }
    }

    /// Handles one request; every outcome is a response.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        self.me(request)
            .await
            .unwrap_or_else(|e| ApiError::from(e).into_response())
    }

    async fn me(&self, request: Request) -> Result<Response<Body>, MeError> {
        let claims = request.verified_claims()?;
        let id = claims.sub.parse().map_err(|_| MeError::UnknownUser)?;
        let user = self
            .store
            .get_by_id(id)
            .await?
            .ok_or(MeError::UnknownUser)?;
        if user.disabled {
            return Err(MeError::Disabled);
        }
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
