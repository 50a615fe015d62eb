//! `POST /auth/register`: create a user from an email and a password.
//!
//! The password is hashed with Argon2id on the blocking pool and only the PHC string is stored.
//! Email uniqueness is the store's job (a conditional write), so concurrent registrations of one
//! address yield exactly one 201 and 409 for the rest.

use std::sync::Arc;

use authgate_http::{ApiError, body, json_response};
use authgate_users::{
    Email, EmailError, HashError, NewUser, Password, PasswordError, PasswordHasher, StoreError,
    UserStore,
};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;

/// The request body: exactly these two fields.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterBody {
    email: String,
    password: String,
}

/// Everything that can stop a registration.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error(transparent)]
    Request(#[from] ApiError),
    #[error("invalid email: {0}")]
    Email(#[from] EmailError),
    #[error("invalid password: {0}")]
    Password(#[from] PasswordError),
    #[error("password hashing failed")]
    Hash(#[from] HashError),
    #[error("user store failed")]
    Store(#[from] StoreError),
}

impl From<RegisterError> for ApiError {
    fn from(err: RegisterError) -> Self {
        match err {
            RegisterError::Request(api) => api,
            RegisterError::Email(e) => ApiError::Unprocessable(format!("email: {e}")),
            RegisterError::Password(e) => ApiError::Unprocessable(format!("password: {e}")),
            RegisterError::Store(StoreError::DuplicateEmail) => {
                ApiError::Conflict("A user with this email already exists".into())
            }
            other => ApiError::internal(other),
        }
    }
}

/// The registration handler and what it needs, built once at init.
pub struct Register {
    store: Arc<dyn UserStore>,
    hasher: PasswordHasher,
}

impl Register {
    /// A handler storing users in `store`.
    pub fn new(store: Arc<dyn UserStore>, hasher: PasswordHasher) -> Self {
        Self { store, hasher }
    }

    /// Handles one request; every outcome is a response.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        self.register(request)
            .await
            .unwrap_or_else(|e| ApiError::from(e).into_response())
    }

    async fn register(&self, request: Request) -> Result<Response<Body>, RegisterError> {
        body::require_media_type(&request, false)?;
        let input: RegisterBody = body::json(&request)?;
        let email = Email::parse(&input.email)?;
        let password = Password::parse(input.password)?;
        let password_hash = self.hasher.hash(password).await?;
        let user = self
            .store
            .create(NewUser {
                email,
                password_hash,
                superuser: false,
            })
            .await?;
        tracing::info!(user_id = %user.id, "user registered");
        Ok(json_response(StatusCode::CREATED, &user.public()))
    }
}
