//! `POST /auth/register`: create a user from an email and a password.
//!
//! The password is hashed with Argon2id on the blocking pool and only the PHC string is stored.
//! Email uniqueness is the store's job (a conditional write), so concurrent registrations of one
//! address yield exactly one 201 and 409 for the rest.

use std::collections::BTreeSet;
use std::sync::Arc;

use authgate_accounts::NewPasswords;
use authgate_config::{AuthzSettings, ThrottleSettings};
use authgate_http::{ApiError, Endpoint, body, json_response, source_ip};
use authgate_runtime::{AccountStore, Backend, Env, InitError};
use authgate_users::{
    Email, EmailError, HashError, NewUser, PasswordError, PasswordHasher, RegisterLimits,
    StoreError, ThrottleError, Throttled, now_ms,
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
    #[error(transparent)]
    Throttled(#[from] Throttled),
}

impl From<RegisterError> for ApiError {
    fn from(err: RegisterError) -> Self {
        match err {
            RegisterError::Request(api) => api,
            RegisterError::Email(e) => e.into(),
            RegisterError::Password(e) => e.into(),
            RegisterError::Throttled(throttled) => throttled.into(),
            RegisterError::Store(StoreError::DuplicateEmail) => {
                ApiError::Conflict(authgate_http::EMAIL_TAKEN.into())
            }
            other => ApiError::internal(other),
        }
    }
}

/// The registration handler and what it needs, built once at init.
pub struct Register {
    store: Arc<dyn AccountStore>,
    hasher: PasswordHasher,
    /// Roles every new user gets.
    default_roles: BTreeSet<String>,
    passwords: NewPasswords,
    limits: RegisterLimits,
}

/// The registration function: users stored in `backend`'s store with the configured default
/// roles. It needs no keys.
pub async fn build(env: &Env, backend: &dyn Backend) -> Result<Register, InitError> {
    Ok(Register {
        store: backend.store(env)?,
        hasher: PasswordHasher::new(),
        default_roles: AuthzSettings::from_env(env)?.default_roles,
        passwords: NewPasswords::build(env)?,
        limits: ThrottleSettings::from_env(env)?.register,
    })
}

#[async_trait::async_trait]
impl Endpoint for Register {
    type Error = RegisterError;

    async fn respond(&self, request: Request) -> Result<Response<Body>, RegisterError> {
        body::require_media_type(&request, false)?;
        let input: RegisterBody = body::json(&request)?;
        if let Some(ip) = source_ip(&request) {
            match self.limits.count(self.store.as_ref(), ip, now_ms()).await {
                Ok(()) => {}
                Err(ThrottleError::Throttled(throttled)) => {
                    tracing::warn!(source_ip = ip, "registration throttled");
                    return Err(throttled.into());
                }
                Err(ThrottleError::Store(e)) => return Err(e.into()),
            }
        }
        let email = Email::parse(&input.email)?;
        let password = self.passwords.check(input.password, &email).await?;
        let password_hash = self.hasher.hash(password).await?;
        let user = self
            .store
            .create(NewUser {
                email,
                password_hash,
                roles: self.default_roles.clone(),
            })
            .await?;
        tracing::info!(user_id = %user.id, "user registered");
        Ok(json_response(StatusCode::CREATED, &user.public()))
    }
}
