//! API keys (personal access tokens): a user's keys for scripts, each with a name, scopes (a
//! subset of the user's permissions when made) and an optional expiry, stored by the SHA-256 of
//! the key only. At each use a key grants the intersection of its scopes with its user's
//! current permissions, and nothing once its user is disabled or gone.

use std::collections::BTreeSet;

use crate::access::Denied;
use crate::authz::RoleMap;
use crate::credentials::ApiKey;
use crate::sessions::TokenHash;
use crate::store::{StoreError, UserId};

/// An API key's id: what lists show and revocation names (never the key).
pub type ApiKeyId = uuid::Uuid;

/// The most keys one user may hold.
pub const MAX_API_KEYS_PER_USER: usize = 50;

/// A stored API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    pub id: ApiKeyId,
    pub user_id: UserId,
    pub name: String,
    pub scopes: BTreeSet<String>,
    pub created_at_ms: i64,
    /// When it stops working, if ever.
    pub expires_at_ms: Option<i64>,
    /// The SHA-256 of the key.
    pub hash: TokenHash,
}

impl ApiKeyRecord {
    /// A new key for `user` named `name` with `scopes`, made at `now_ms`, and the key itself,
    /// which only its hash is kept of.
    pub fn issue(
        user: UserId,
        name: &str,
        scopes: BTreeSet<String>,
        expires_at_ms: Option<i64>,
        now_ms: i64,
    ) -> (Self, ApiKey) {
        let key = ApiKey::generate(user);
        let record = Self {
            id: uuid::Uuid::new_v4(),
            user_id: user,
            name: name.to_owned(),
            scopes,
            created_at_ms: now_ms,
            expires_at_ms,
            hash: key.hash(),
        };
        (record, key)
    }
}

/// Where API keys live, beside users.
#[async_trait::async_trait]
pub trait ApiKeyStore: Send + Sync {
    /// Stores a new key; `Full` if its user holds [`MAX_API_KEYS_PER_USER`] already.
    async fn create_api_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError>;
    /// Every key of `user`, oldest first.
    async fn api_keys(&self, user: UserId) -> Result<Vec<ApiKeyRecord>, StoreError>;
    /// The key whose hash is `hash`.
    async fn api_key(&self, hash: &TokenHash) -> Result<Option<ApiKeyRecord>, StoreError>;
    /// Deletes `user`'s key `id`; `NotFound` if `user` has no such key.
    async fn delete_api_key(&self, user: UserId, id: ApiKeyId) -> Result<(), StoreError>;
}

/// What a key check reads: the key, and its user's `disabled` flag and roles.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ApiKeyState {
    pub key: Option<ApiKeyRecord>,
    /// The user's `disabled` flag, or `None` when there is no such user.
    pub user_disabled: Option<bool>,
    pub user_roles: BTreeSet<String>,
}

/// What a key may do now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyGrant {
    pub key: ApiKeyRecord,
    /// The key's scopes that its user's roles still grant.
    pub scopes: BTreeSet<String>,
}

impl ApiKeyState {
    /// Whether the key `presented` may act at `now_ms`, and with which scopes under `roles`:
    /// the key is stored and belongs to the user it names, has not expired, and its user exists
    /// and is enabled.
    pub fn may_act(
        self,
        presented: &ApiKey,
        roles: &RoleMap,
        now_ms: i64,
    ) -> Result<ApiKeyGrant, Denied> {
        let key = self
            .key
            .filter(|key| key.user_id == presented.user())
            .ok_or(Denied::UnknownApiKey)?;
        if key.expires_at_ms.is_some_and(|at| at <= now_ms) {
            return Err(Denied::ApiKeyExpired);
        }
        match self.user_disabled {
            None => return Err(Denied::UnknownUser),
            Some(true) => return Err(Denied::DisabledUser),
            Some(false) => {}
        }
        let held = roles.permissions(&self.user_roles);
        let scopes = key.scopes.intersection(&held).cloned().collect();
        Ok(ApiKeyGrant { key, scopes })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn state(scopes: &[&str], roles: &[&str]) -> (ApiKeyState, ApiKey) {
        let user = uuid::Uuid::new_v4();
        let (key, presented) = ApiKeyRecord::issue(
            user,
            "script",
            scopes.iter().map(|s| (*s).to_owned()).collect(),
            Some(10_000),
            0,
        );
        let state = ApiKeyState {
            key: Some(key),
            user_disabled: Some(false),
            user_roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        };
        (state, presented)
    }

    #[test]
    fn a_key_grants_what_its_user_still_holds_until_it_expires() {
        let roles = RoleMap::parse(r#"{"editor": ["items:read", "items:write"]}"#).unwrap();
        let (live, key) = state(&["items:write", "users:read"], &["editor"]);
        let grant = live.clone().may_act(&key, &roles, 9_999).unwrap();
        assert_eq!(grant.scopes, BTreeSet::from(["items:write".to_owned()]));
        let demoted = ApiKeyState {
            user_roles: BTreeSet::new(),
            ..live.clone()
        };
        assert!(demoted.may_act(&key, &roles, 1).unwrap().scopes.is_empty());
        assert_eq!(
            live.clone().may_act(&key, &roles, 10_000),
            Err(Denied::ApiKeyExpired)
        );
        let disabled = ApiKeyState {
            user_disabled: Some(true),
            ..live.clone()
        };
        assert_eq!(disabled.may_act(&key, &roles, 1), Err(Denied::DisabledUser));
        let gone = ApiKeyState {
            user_disabled: None,
            ..live.clone()
        };
        assert_eq!(gone.may_act(&key, &roles, 1), Err(Denied::UnknownUser));
        let other = ApiKey::generate(uuid::Uuid::new_v4());
        assert_eq!(
            live.may_act(&other, &roles, 1),
            Err(Denied::UnknownApiKey),
            "a key that names another user"
        );
    }
}
