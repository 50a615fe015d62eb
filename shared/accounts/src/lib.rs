//! The account services every function that changes or signs in a user calls: what a user's
//! tokens say ([`UserTokens`]), starting sessions ([`Sessions`], [`SessionStarter`]), the one
//! way users change ([`change_user`]), signing in and refreshing ([`PasswordSignIn`],
//! [`SessionRefresh`]), authenticating clients and their tokens ([`ClientAuth`],
//! [`ClientTokens`]), account mail and its one-time tokens ([`AccountMail`]), and the rules for
//! new passwords ([`NewPasswords`]).
//!
//! Each is built from a function's settings and its `authgate_runtime::Backend`, so a Lambda,
//! `authgate serve` and the tests build them the same way; `authgate_runtime` holds only the
//! wiring (backends, entry points, logging).

use std::sync::Arc;

use authgate_config::{AuthzSettings, SessionSettings, TokenSettings};
use authgate_keys::RingIssuer;
use authgate_runtime::{AccountStore, Backend, Env, InitError};
use authgate_token::{IssuedToken, SignError, Subject, TokenIssuer};
use authgate_users::{RefreshToken, RoleMap, Session, StoreError, User, now_ms};

mod account_mail;
mod api_keys;
mod callers;
mod clients;
mod passwords;
mod sign_in;
pub use account_mail::{AccountMail, MAIL_REQUEST_DURATION, RedeemError};
pub use api_keys::{
    ApiKeyError, ApiKeyView, ApiKeys, IssuedApiKey, MAX_KEY_DAYS, MAX_KEY_NAME_CHARS, NewApiKey,
};
pub use callers::{Caller, CallerError, Callers};
pub use clients::{ClientAuth, ClientAuthError, ClientTokenError, ClientTokens};
pub use passwords::{CredentialsError, NewCredentials, NewPasswords};
pub use sign_in::{
    INVALID_CREDENTIALS, INVALID_REFRESH_TOKEN, PasswordSignIn, RefreshFailure, SessionRefresh,
    SignInError,
};

/// What a user's access token says, decided in one place for every function that issues one:
/// the user's id, email, roles, the permissions the roles grant (as `env`'s role definitions
/// say) and custom claims, signed with `backend`'s keys as they are reloaded.
pub struct UserTokens {
    issuer: RingIssuer,
    roles: RoleMap,
    requires_verified_email: bool,
}

/// The user's address is unverified and tokens need a verified one
/// (`LOGIN_REQUIRES_VERIFIED_EMAIL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the user's email address is not verified")]
pub struct EmailNotVerified;

impl UserTokens {
    /// From `env`'s token and role settings and `backend`'s keys.
    pub async fn build(env: &Env, backend: &dyn Backend) -> Result<Self, InitError> {
        let tokens = TokenSettings::from_env(env)?;
        let roles = AuthzSettings::from_env(env)?.roles;
        let requires_verified_email =
            authgate_config::MailSettings::from_env(env)?.login_requires_verified_email;
        Ok(Self {
            issuer: ring_issuer(tokens, backend, env).await?,
            roles,
            requires_verified_email,
        })
    }

    /// Whether `user` may be given tokens now, by login or by refresh: with
    /// `LOGIN_REQUIRES_VERIFIED_EMAIL`, only while their address is verified (an email change
    /// makes it unverified until the new address is).
    pub fn may_receive(&self, user: &User) -> Result<(), EmailNotVerified> {
        if self.requires_verified_email && !user.email_verified {
            Err(EmailNotVerified)
        } else {
            Ok(())
        }
    }

    /// A fresh access token for `user` in `session`, with what the user is now: a role no
    /// longer defined is neither named nor grants anything.
    pub async fn issue(&self, user: &User, session: &Session) -> Result<IssuedToken, SignError> {
        let (id, sid) = (user.id.to_string(), session.id.to_string());
        self.issuer.current().await?.issue(&Subject {
            id: &id,
            email: user.email.as_str(),
            email_verified: user.email_verified,
            session: &sid,
            roles: user
                .roles
                .iter()
                .filter(|role| self.roles.defines(role))
                .cloned()
                .collect(),
            permissions: self.roles.permissions(&user.roles).into_iter().collect(),
            claims: user.claims.as_map().clone(),
        })
    }
}

/// An issuer of `tokens`' `iss`, `aud` and lifetime, signing with `backend`'s keys as they are
/// reloaded: what user and client tokens are both signed with.
pub(crate) async fn ring_issuer(
    tokens: TokenSettings,
    backend: &dyn Backend,
    env: &Env,
) -> Result<RingIssuer, InitError> {
    let keys = backend.keys(env).await?;
    let issuer = TokenIssuer::new(
        keys.current(),
        tokens.issuer,
        tokens.audience,
        tokens.access_ttl,
    )?;
    Ok(RingIssuer::new(issuer, keys))
}

/// A changed user, and when their sessions were ended if the change ended them.
#[derive(Debug)]
pub struct Changed {
    pub user: User,
    /// Whether the address changed (it is unverified now, and wants a verification mail).
    pub email_changed: bool,
    /// Whether the change ended every session of the user (the user's
    /// `sessions_valid_after_ms` is the cut-off then).
    pub sessions_ended: bool,
}

/// Applies `changes` to a user, the one way the admin API, `PATCH /users/me`, a password reset and
/// the command line change users: a user who is disabled, given a new password, or loses a role
/// or a custom claim loses every session in the same write (tokens issued before must not keep
/// what was taken away), and a new address is unverified until verified.
pub async fn change_user(
    store: &dyn AccountStore,
    id: authgate_users::UserId,
    mut changes: authgate_users::UserChanges,
) -> Result<Changed, StoreError> {
    let mut sessions_ended = changes.disabled == Some(true) || changes.password_hash.is_some();
    let mut email_changed = false;
    if changes.email.is_some() || changes.roles.is_some() || changes.claims.is_some() {
        let current = store.get_by_id(id).await?.ok_or(StoreError::NotFound)?;
        if changes.email.as_ref().is_some_and(|e| *e != current.email) {
            email_changed = true;
            changes.email_verified = Some(false);
        }
        let roles_taken = changes
            .roles
            .as_ref()
            .is_some_and(|roles| !current.roles.is_subset(roles));
        let claims_taken = changes.claims.as_ref().is_some_and(|claims| {
            current
                .claims
                .as_map()
                .iter()
                .any(|(name, value)| claims.as_map().get(name) != Some(value))
        });
        sessions_ended |= roles_taken || claims_taken;
    }
    if sessions_ended {
        changes.end_sessions_at_ms = Some(now_ms());
    }
    let user = store.update(id, changes).await?;
    Ok(Changed {
        user,
        email_changed,
        sessions_ended,
    })
}

/// Opening a session, the one way login and a password change do it: a new session of the
/// configured lifetime and its first refresh token (stored only as a hash). It holds no keys:
/// a password change opens a session whose first access token comes from `/auth/refresh`, so
/// only login and refresh hold signing material.
pub struct Sessions {
    store: Arc<dyn AccountStore>,
    settings: SessionSettings,
}

impl Sessions {
    /// From `env`'s session settings and `backend`'s store.
    pub fn build(env: &Env, backend: &dyn Backend) -> Result<Self, InitError> {
        Ok(Self {
            store: backend.store(env)?,
            settings: SessionSettings::from_env(env)?,
        })
    }

    /// A new session for `user` as it was read at `read_at_ms`, and its first refresh token. The
    /// session counts as created then (or just after the user's cut-off, whichever is later), and
    /// the store starts it only if the user is still as read: a password change, disable or
    /// logout-all that lands after the read ends it before it begins (`StoreError::Changed`).
    pub async fn open(
        &self,
        user: &User,
        read_at_ms: i64,
    ) -> Result<(Session, RefreshToken), StoreError> {
        let created = read_at_ms.max(user.sessions_valid_after_ms.saturating_add(1));
        let lifetime = i64::try_from(self.settings.max_lifetime.as_millis()).unwrap_or(i64::MAX);
        let session = Session {
            id: uuid::Uuid::new_v4(),
            user_id: user.id,
            created_at_ms: created,
            expires_at_ms: created.saturating_add(lifetime),
            revoked: false,
        };
        let refresh = RefreshToken::generate();
        let refresh_expires = now_ms()
            .saturating_add(self.settings.rotation_policy().refresh_ttl_ms)
            .min(session.expires_at_ms);
        self.store
            .start(&session, &refresh.hash(), refresh_expires, user)
            .await?;
        tracing::info!(user_id = %user.id, sid = %session.id, "session started");
        Ok((session, refresh))
    }
}

/// Starting a session with tokens, as login does: [`Sessions`] and its first access token.
pub struct SessionStarter {
    sessions: Sessions,
    tokens: UserTokens,
}

/// A session could not be started.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("the session could not be stored")]
    Store(#[from] StoreError),
    #[error("the access token could not be signed")]
    Sign(#[from] SignError),
}

impl SessionStarter {
    /// From `env`'s token, role and session settings and `backend`'s store and keys.
    pub async fn build(env: &Env, backend: &dyn Backend) -> Result<Self, InitError> {
        Ok(Self {
            sessions: Sessions::build(env, backend)?,
            tokens: UserTokens::build(env, backend).await?,
        })
    }

    /// Whether `user` may be given tokens now ([`UserTokens::may_receive`]).
    pub fn may_receive(&self, user: &User) -> Result<(), EmailNotVerified> {
        self.tokens.may_receive(user)
    }

    /// A new session for `user` as read at `read_at_ms` (see [`Sessions::open`]): its access
    /// token and its first refresh token.
    pub async fn start(
        &self,
        user: &User,
        read_at_ms: i64,
    ) -> Result<(IssuedToken, RefreshToken), StartError> {
        let (session, refresh) = self.sessions.open(user, read_at_ms).await?;
        let issued = self.tokens.issue(user, &session).await?;
        tracing::info!(user_id = %user.id, sid = %session.id, jti = %issued.claims.jti, "access token issued");
        Ok((issued, refresh))
    }
}
