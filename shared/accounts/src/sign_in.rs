//! Signing in with a password and continuing a session with a refresh token: the one way
//! `/auth/login`, `/auth/refresh` and the token endpoint's `password` and `refresh_token` grants
//! (RFC 6749 §4.3, §6) do it, whatever shape their requests and errors take.

use std::sync::Arc;

use authgate_config::{SessionSettings, ThrottleSettings};
use authgate_runtime::{AccountStore, Backend, Env, InitError};
use authgate_token::{IssuedToken, SignError};
use authgate_users::{
    Email, Guessed, HashError, LoginLimits, Password, PasswordHasher, RefreshError, RefreshToken,
    StoreError, ThrottleError, Throttled, now_ms, user_may_act,
};

use crate::{EmailNotVerified, SessionStarter, StartError, UserTokens};

/// What every refused sign-in is told, whatever the refusal's shape (`detail` or OAuth's
/// `error_description`).
pub const INVALID_CREDENTIALS: &str = "Incorrect email or password";
/// What every refused refresh is told.
pub const INVALID_REFRESH_TOKEN: &str = "Invalid or expired refresh token";

/// Why a sign-in gave no tokens.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// Unknown email, wrong password or a user who may not act: one answer for all.
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

/// Password sign-in: every credential failure (unknown email, wrong password, disabled user)
/// is the same [`SignInError::InvalidCredentials`], and an unknown email still costs one Argon2
/// verification, so neither the answer nor its timing tells which emails exist. Guessing is
/// throttled per account and per address before any password is checked ([`LoginLimits`]).
pub struct PasswordSignIn {
    store: Arc<dyn AccountStore>,
    hasher: PasswordHasher,
    sessions: SessionStarter,
    limits: LoginLimits,
}

impl PasswordSignIn {
    /// From `env`'s token, session and throttle settings and `backend`'s store and keys.
    pub async fn build(env: &Env, backend: &dyn Backend) -> Result<Self, InitError> {
        Ok(Self {
            store: backend.store(env)?,
            hasher: PasswordHasher::new(),
            sessions: SessionStarter::build(env, backend).await?,
            limits: ThrottleSettings::from_env(env)?.login,
        })
    }

    /// How many Argon2 verifications this service has run: the evidence that signing in with
    /// an unknown email does the same work as with a known one.
    pub fn password_verifications(&self) -> u64 {
        self.hasher.verifications()
    }

    /// Checks `email` and `password` from `ip` and starts a session: its access token and
    /// first refresh token.
    pub async fn sign_in(
        &self,
        email: &str,
        password: String,
        ip: Option<&str>,
    ) -> Result<(IssuedToken, RefreshToken), SignInError> {
        let store = self.store.as_ref();
        let attempt = match self
            .limits
            .begin(store, &Guessed::password_of(email), ip, now_ms())
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
        let user = match Email::parse(email) {
            Ok(email) => store.get_by_email(&email).await?,
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
            SignInError::InvalidCredentials
        };
        let outcome = match (user, matches) {
            (None, _) => Err("unknown_email"),
            (Some(_), false) => Err("wrong_password"),
            (Some(user), true) => user_may_act(Some(user)).map_err(|_| "user_may_not_act"),
        };
        let user = match outcome {
            Ok(user) => {
                attempt.succeeded(store).await?;
                user
            }
            Err(reason) => {
                attempt.failed(store).await?;
                return Err(refused(reason));
            }
        };
        self.sessions.may_receive(&user)?;
        match self.sessions.start(&user, read_at).await {
            Ok(started) => Ok(started),
            Err(StartError::Store(StoreError::Changed)) => Err(refused("changed_during_login")),
            Err(e) => Err(e.into()),
        }
    }
}

/// Why a refresh gave no tokens.
#[derive(Debug, thiserror::Error)]
pub enum RefreshFailure {
    /// Unknown, expired, reused or ended: one answer for all.
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

/// Continuing a session: the presented refresh token is consumed atomically and replaced
/// (rotation); one presented again after its grace period ends its whole session (reuse
/// detection).
pub struct SessionRefresh {
    store: Arc<dyn AccountStore>,
    tokens: UserTokens,
    settings: SessionSettings,
}

impl SessionRefresh {
    /// From `env`'s token and session settings and `backend`'s store and keys.
    pub async fn build(env: &Env, backend: &dyn Backend) -> Result<Self, InitError> {
        Ok(Self {
            store: backend.store(env)?,
            tokens: UserTokens::build(env, backend).await?,
            settings: SessionSettings::from_env(env)?,
        })
    }

    /// A new access token and the next refresh token for the session `presented` continues.
    pub async fn refresh(
        &self,
        presented: &str,
    ) -> Result<(IssuedToken, RefreshToken), RefreshFailure> {
        let presented = RefreshToken::parse(presented)
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
        Ok((issued, next))
    }
}
