//! `POST /auth/logout` ends the caller's session; `POST /auth/logout-all` ends all of the user's.
//!
//! Both run behind the authorizer and act on the verified claims: `sid` for one session, `sub`
//! for all. From then on the session's refresh tokens are refused, and its access tokens fail the
//! authorizer at their next uncached check (see the README on the authorizer cache).

use std::sync::Arc;

use authgate_http::{ApiError, ClaimsError, Endpoint, RequestClaimsExt};
use authgate_runtime::{AccountStore, Backend, Env, InitError};
use authgate_users::{StoreError, now_ms};
use lambda_http::http::StatusCode;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};

/// Everything that can stop a logout.
#[derive(Debug, thiserror::Error)]
pub enum LogoutError {
    #[error("no verified claims")]
    Claims(#[from] ClaimsError),
    #[error("token claims are not authgate's")]
    BadClaims,
    #[error("session store failed")]
    Store(#[from] StoreError),
}

impl From<LogoutError> for ApiError {
    fn from(err: LogoutError) -> Self {
        match err {
            LogoutError::Claims(e) => e.into(),
            // Claims that name no user id, or a user who is gone: nothing is left to end.
            LogoutError::BadClaims | LogoutError::Store(StoreError::NotFound) => {
                ApiError::Unauthorized(authgate_http::COULD_NOT_VALIDATE_CREDENTIALS.into())
            }
            other => ApiError::internal(other),
        }
    }
}

/// The logout handler, serving both routes.
pub struct Logout {
    sessions: Arc<dyn AccountStore>,
}

/// Which route was called, from API Gateway's resource path.
fn is_logout_all(request: &Request) -> bool {
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(context)) => {
            context.resource_path.as_deref() == Some("/auth/logout-all")
        }
        _ => request.uri().path().ends_with("/logout-all"),
    }
}

/// The logout function: sessions ended in `backend`'s store. It needs no keys.
pub async fn build(env: &Env, backend: &dyn Backend) -> Result<Logout, InitError> {
    Ok(Logout {
        sessions: backend.store(env)?,
    })
}

#[async_trait::async_trait]
impl Endpoint for Logout {
    type Error = LogoutError;

    async fn respond(&self, request: Request) -> Result<Response<Body>, LogoutError> {
        self.logout(request).await?;
        let mut response = Response::new(Body::Empty);
        *response.status_mut() = StatusCode::NO_CONTENT;
        Ok(response)
    }
}

impl Logout {
    async fn logout(&self, request: Request) -> Result<(), LogoutError> {
        let claims = request.user_claims()?;
        let user = claims.user().parse().map_err(|_| LogoutError::BadClaims)?;
        if is_logout_all(&request) {
            self.sessions.revoke_all(user, now_ms()).await?;
            tracing::info!(user_id = %user, "all sessions ended");
        } else {
            let sid = claims
                .session()
                .parse()
                .map_err(|_| LogoutError::BadClaims)?;
            self.sessions.revoke(sid).await?;
            tracing::info!(user_id = %user, sid = %sid, "session ended");
        }
        Ok(())
    }
}
