//! What a presented access token's or API key's holder looks like now: the one read the
//! authorizer and introspection (RFC 7662) make per token, and the revoked access tokens
//! (RFC 7009) it reads.
//!
//! A store whose reads are cheap answers from its session, user and client reads; DynamoDB
//! answers each check with one projected `BatchGetItem`.

use crate::access::Denied;
use crate::api_keys::{ApiKeyState, ApiKeyStore};
use crate::clients::{ClientId, ClientState, ClientStore};
use crate::sessions::TokenHash;
use crate::sessions::{SessionId, SessionState, SessionStore};
use crate::store::{StoreError, UserId, UserStore};

/// Revoked access tokens and the checks that read them.
#[async_trait::async_trait]
pub trait TokenChecks: SessionStore + ClientStore + ApiKeyStore + UserStore {
    /// Remembers that the access token `jti` is revoked, until `expires_at_ms` (after which it
    /// is refused as expired anyway).
    async fn revoke_access_token(&self, jti: &str, expires_at_ms: i64) -> Result<(), StoreError>;

    /// Whether the access token `jti` was revoked.
    async fn access_token_revoked(&self, jti: &str) -> Result<bool, StoreError>;

    /// A user's token `jti`: its session and user, and whether it was revoked.
    async fn user_token(
        &self,
        session: SessionId,
        user: UserId,
        jti: &str,
    ) -> Result<SessionState, StoreError> {
        let mut state = self.state(session, user).await?;
        state.token_revoked = self.access_token_revoked(jti).await?;
        Ok(state)
    }

    /// The API key whose hash is `hash`, with its user `user` (the one the key names): one read.
    async fn api_key_token(
        &self,
        hash: &TokenHash,
        user: UserId,
    ) -> Result<ApiKeyState, StoreError> {
        let key = self.api_key(hash).await?;
        let user = self.get_by_id(user).await?;
        Ok(ApiKeyState {
            key,
            user_disabled: user.as_ref().map(|u| u.disabled),
            user_roles: user.map(|u| u.roles).unwrap_or_default(),
        })
    }

    /// A client's token `jti`: whether its client may act and its scopes now, and whether the
    /// token was revoked; `None` when the client is gone.
    async fn client_token(
        &self,
        client: ClientId,
        jti: &str,
    ) -> Result<Option<ClientState>, StoreError> {
        let Some(client) = self.client(client).await? else {
            return Ok(None);
        };
        Ok(Some(ClientState {
            token_revoked: self.access_token_revoked(jti).await?,
            ..ClientState::from(client)
        }))
    }
}

/// Who holds an access token, in the store's ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenHolder {
    /// A user, in a session.
    User { session: SessionId, user: UserId },
    /// A client, for itself.
    Client(ClientId),
}

impl TokenHolder {
    /// A user's token's holder from its `sid` and `sub`, if both are ids.
    pub fn user(session: &str, user: &str) -> Option<Self> {
        Some(Self::User {
            session: session.parse().ok()?,
            user: user.parse().ok()?,
        })
    }

    /// A client's token's holder from its `client_id`, if it is an id.
    pub fn client(client_id: &str) -> Option<Self> {
        client_id.parse().ok().map(Self::Client)
    }
}

/// Whether the access token `jti` of `holder` may act at `now_ms`, with one read: not revoked,
/// and a user's session live and the user enabled, or the client there and enabled. The one
/// rule the authorizer and introspection (RFC 7662) apply. A client's state comes back, since a
/// client's token grants only the scopes the client still has.
pub async fn holder_may_act(
    checks: &(impl TokenChecks + ?Sized),
    holder: TokenHolder,
    jti: &str,
    now_ms: i64,
) -> Result<Result<Option<ClientState>, Denied>, StoreError> {
    Ok(match holder {
        TokenHolder::User { session, user } => checks
            .user_token(session, user, jti)
            .await?
            .may_act(now_ms)
            .map(|_| None),
        TokenHolder::Client(client) => match checks.client_token(client, jti).await? {
            None => Err(Denied::UnknownClient),
            Some(state) if state.disabled => Err(Denied::DisabledClient),
            Some(state) if state.token_revoked => Err(Denied::TokenRevoked),
            Some(state) => Ok(Some(state)),
        },
    })
}
