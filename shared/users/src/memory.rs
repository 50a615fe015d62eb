//! An in-process store: for handler tests and as the reference the other stores are held to.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use crate::clients::{Client, ClientId, ClientPage, ClientStore};
use crate::email::Email;
use crate::recovery::{ActionRecord, ActionTokenStore};
use crate::sessions::{
    RefreshError, RefreshRecord, Rotated, RotationDecision, RotationPolicy, Session, SessionId,
    SessionState, SessionStore, TokenHash, decide_rotation, may_start, raised_cut_off,
};
use crate::store::{
    NewUser, StoreError, User, UserChanges, UserId, UserPage, UserStore, decode_cursor,
    encode_cursor, page_of,
};
use crate::throttle::{Backoff, ThrottleKey, ThrottleStore};

#[derive(Default)]
struct Inner {
    users: HashMap<UserId, User>,
    by_email: HashMap<String, UserId>,
    sessions: HashMap<SessionId, Session>,
    refresh: HashMap<TokenHash, RefreshRecord>,
    heads: HashMap<SessionId, TokenHash>,
    backoffs: HashMap<ThrottleKey, Backoff>,
    counters: HashMap<ThrottleKey, (i64, i64)>,
    actions: HashMap<TokenHash, ActionRecord>,
    clients: BTreeMap<ClientId, Client>,
    /// Revoked access tokens by `jti`, with when they expire.
    revoked: HashMap<String, i64>,
    /// API keys by hash.
    api_keys: HashMap<TokenHash, crate::ApiKeyRecord>,
}

impl Inner {
    fn state(&self, session: SessionId, user: UserId) -> SessionState {
        SessionState {
            session: self
                .sessions
                .get(&session)
                .filter(|s| s.user_id == user)
                .cloned(),
            user_disabled: self.users.get(&user).map(|u| u.disabled),
            sessions_valid_after_ms: self
                .users
                .get(&user)
                .map_or(0, |u| u.sessions_valid_after_ms),
            refresh_head: self.heads.get(&session).cloned(),
            token_revoked: false,
        }
    }
}

/// Users in memory, lost when the process ends.
#[derive(Default)]
pub struct InMemoryUserStore {
    inner: Mutex<Inner>,
}

impl InMemoryUserStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Inner>, StoreError> {
        self.inner
            .lock()
            .map_err(|_| StoreError::Backend("in-memory store lock poisoned".into()))
    }
}

#[async_trait::async_trait]
impl UserStore for InMemoryUserStore {
    async fn create(&self, new_user: NewUser) -> Result<User, StoreError> {
        let mut inner = self.lock()?;
        let key = new_user.email.normalized();
        if inner.by_email.contains_key(&key) {
            return Err(StoreError::DuplicateEmail);
        }
        let user = new_user.into_user();
        inner.by_email.insert(key, user.id);
        inner.users.insert(user.id, user.clone());
        Ok(user)
    }

    async fn get_by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
        Ok(self.lock()?.users.get(&id).cloned())
    }

    async fn get_by_email(&self, email: &Email) -> Result<Option<User>, StoreError> {
        let inner = self.lock()?;
        Ok(inner
            .by_email
            .get(&email.normalized())
            .and_then(|id| inner.users.get(id))
            .cloned())
    }

    async fn update(&self, id: UserId, changes: UserChanges) -> Result<User, StoreError> {
        let mut inner = self.lock()?;
        let current = inner.users.get(&id).ok_or(StoreError::NotFound)?;
        if !changes.expected.holds(current) {
            return Err(StoreError::Changed);
        }
        let current = current.email.clone();
        if let Some(key) = changes.new_email_key(&current) {
            if inner.by_email.contains_key(&key) {
                return Err(StoreError::DuplicateEmail);
            }
            inner.by_email.remove(&current.normalized());
            inner.by_email.insert(key, id);
        }
        let user = inner.users.get_mut(&id).ok_or(StoreError::NotFound)?;
        changes.apply_to(user);
        Ok(user.clone())
    }

    async fn delete(&self, id: UserId) -> Result<(), StoreError> {
        let mut inner = self.lock()?;
        let user = inner.users.remove(&id).ok_or(StoreError::NotFound)?;
        inner.by_email.remove(&user.email.normalized());
        Ok(())
    }

    async fn page(&self, limit: usize, cursor: Option<&str>) -> Result<UserPage, StoreError> {
        let mut users: Vec<User> = self.lock()?.users.values().cloned().collect();
        users.sort_by_key(|u| u.id.to_string());
        page_of(users, limit, cursor)
    }

    async fn list(&self) -> Result<Vec<User>, StoreError> {
        let mut users: Vec<User> = self.lock()?.users.values().cloned().collect();
        users.sort_by_key(|u| u.email.normalized());
        Ok(users)
    }
}

#[async_trait::async_trait]
impl SessionStore for InMemoryUserStore {
    async fn start(
        &self,
        session: &Session,
        first: &TokenHash,
        first_expires_at_ms: i64,
        as_read: &User,
    ) -> Result<(), StoreError> {
        let mut inner = self.lock()?;
        if !may_start(session, as_read, inner.users.get(&session.user_id)) {
            return Err(StoreError::Changed);
        }
        inner.sessions.insert(session.id, session.clone());
        inner.heads.insert(session.id, first.clone());
        inner.refresh.insert(
            first.clone(),
            RefreshRecord {
                session: session.id,
                user_id: session.user_id,
                expires_at_ms: first_expires_at_ms,
                consumed_at_ms: None,
            },
        );
        Ok(())
    }

    async fn rotate(
        &self,
        presented: &TokenHash,
        next: &TokenHash,
        now_ms: i64,
        policy: RotationPolicy,
    ) -> Result<Rotated, RefreshError> {
        let mut inner = self.lock()?;
        let record = inner.refresh.get(presented).cloned();
        let state = record
            .as_ref()
            .map(|r| inner.state(r.session, r.user_id))
            .unwrap_or_default();
        match decide_rotation(presented, record.as_ref(), &state, now_ms, policy) {
            RotationDecision::Rotate(rotated) => {
                if let Some(r) = inner.refresh.get_mut(presented) {
                    r.consumed_at_ms.get_or_insert(now_ms);
                }
                inner.heads.insert(rotated.session.id, next.clone());
                inner.refresh.insert(
                    next.clone(),
                    RefreshRecord {
                        session: rotated.session.id,
                        user_id: rotated.session.user_id,
                        expires_at_ms: rotated.refresh_expires_at_ms,
                        consumed_at_ms: None,
                    },
                );
                Ok(rotated)
            }
            RotationDecision::Refuse(error) => Err(error),
            RotationDecision::EndSession(id) => {
                if let Some(session) = inner.sessions.get_mut(&id) {
                    session.revoked = true;
                }
                Err(RefreshError::Reused)
            }
        }
    }

    async fn revoke(&self, session: SessionId) -> Result<(), StoreError> {
        if let Some(s) = self.lock()?.sessions.get_mut(&session) {
            s.revoked = true;
        }
        Ok(())
    }

    async fn revoke_all(&self, user: UserId, now_ms: i64) -> Result<(), StoreError> {
        let mut inner = self.lock()?;
        let user = inner.users.get_mut(&user).ok_or(StoreError::NotFound)?;
        user.sessions_valid_after_ms = raised_cut_off(user.sessions_valid_after_ms, now_ms);
        Ok(())
    }

    async fn state(&self, session: SessionId, user: UserId) -> Result<SessionState, StoreError> {
        Ok(self.lock()?.state(session, user))
    }

    async fn refresh_record(&self, token: &TokenHash) -> Result<Option<RefreshRecord>, StoreError> {
        Ok(self.lock()?.refresh.get(token).cloned())
    }
}

#[async_trait::async_trait]
impl crate::ApiKeyStore for InMemoryUserStore {
    async fn create_api_key(&self, key: &crate::ApiKeyRecord) -> Result<(), StoreError> {
        let mut inner = self.lock()?;
        let held = inner
            .api_keys
            .values()
            .filter(|k| k.user_id == key.user_id)
            .count();
        if held >= crate::MAX_API_KEYS_PER_USER {
            return Err(StoreError::Full);
        }
        if inner.api_keys.contains_key(&key.hash) {
            return Err(StoreError::Changed);
        }
        inner.api_keys.insert(key.hash.clone(), key.clone());
        Ok(())
    }

    async fn api_keys(&self, user: UserId) -> Result<Vec<crate::ApiKeyRecord>, StoreError> {
        let mut keys: Vec<_> = self
            .lock()?
            .api_keys
            .values()
            .filter(|k| k.user_id == user)
            .cloned()
            .collect();
        keys.sort_by_key(|k| (k.created_at_ms, k.id));
        Ok(keys)
    }

    async fn api_key(&self, hash: &TokenHash) -> Result<Option<crate::ApiKeyRecord>, StoreError> {
        Ok(self.lock()?.api_keys.get(hash).cloned())
    }

    async fn delete_api_key(&self, user: UserId, id: crate::ApiKeyId) -> Result<(), StoreError> {
        let mut inner = self.lock()?;
        let hash = inner
            .api_keys
            .iter()
            .find(|(_, k)| k.user_id == user && k.id == id)
            .map(|(hash, _)| hash.clone())
            .ok_or(StoreError::NotFound)?;
        inner.api_keys.remove(&hash);
        Ok(())
    }
}

#[async_trait::async_trait]
impl crate::TokenChecks for InMemoryUserStore {
    async fn revoke_access_token(&self, jti: &str, expires_at_ms: i64) -> Result<(), StoreError> {
        self.lock()?.revoked.insert(jti.to_owned(), expires_at_ms);
        Ok(())
    }

    async fn access_token_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        Ok(self.lock()?.revoked.contains_key(jti))
    }
}

#[async_trait::async_trait]
impl ThrottleStore for InMemoryUserStore {
    async fn backoff(&self, key: &ThrottleKey) -> Result<Option<Backoff>, StoreError> {
        Ok(self.lock()?.backoffs.get(key).copied())
    }

    async fn swap_backoff(
        &self,
        key: &ThrottleKey,
        seen: Option<&Backoff>,
        next: &Backoff,
    ) -> Result<bool, StoreError> {
        let mut inner = self.lock()?;
        if inner.backoffs.get(key) != seen {
            return Ok(false);
        }
        inner.backoffs.insert(key.clone(), *next);
        Ok(true)
    }

    async fn clear_backoff(&self, key: &ThrottleKey) -> Result<(), StoreError> {
        self.lock()?.backoffs.remove(key);
        Ok(())
    }

    async fn add(
        &self,
        key: &ThrottleKey,
        delta: i64,
        expires_at_ms: i64,
    ) -> Result<i64, StoreError> {
        let mut inner = self.lock()?;
        let counter = inner
            .counters
            .entry(key.clone())
            .or_insert((0, expires_at_ms));
        counter.0 += delta;
        Ok(counter.0)
    }
}

#[async_trait::async_trait]
impl ActionTokenStore for InMemoryUserStore {
    async fn put_action(&self, hash: &TokenHash, record: &ActionRecord) -> Result<(), StoreError> {
        self.lock()?.actions.insert(hash.clone(), record.clone());
        Ok(())
    }

    async fn take_action(&self, hash: &TokenHash) -> Result<Option<ActionRecord>, StoreError> {
        Ok(self.lock()?.actions.remove(hash))
    }
}

#[async_trait::async_trait]
impl ClientStore for InMemoryUserStore {
    async fn create_client(&self, client: &Client) -> Result<(), StoreError> {
        let mut inner = self.lock()?;
        if inner.clients.contains_key(&client.id) {
            return Err(StoreError::Changed);
        }
        inner.clients.insert(client.id, client.clone());
        Ok(())
    }

    async fn client(&self, id: ClientId) -> Result<Option<Client>, StoreError> {
        Ok(self.lock()?.clients.get(&id).cloned())
    }

    async fn clients(&self, limit: usize, cursor: Option<&str>) -> Result<ClientPage, StoreError> {
        let after = cursor
            .map(decode_cursor)
            .transpose()?
            .map(|id| id.parse::<ClientId>().map_err(|_| StoreError::BadCursor))
            .transpose()?;
        let inner = self.lock()?;
        let mut rest = inner
            .clients
            .values()
            .filter(|c| after.is_none_or(|a| c.id > a));
        let clients: Vec<Client> = rest.by_ref().take(limit).cloned().collect();
        let next = match (clients.last(), rest.next()) {
            (Some(last), Some(_)) => Some(encode_cursor(&last.id.to_string())),
            _ => None,
        };
        Ok(ClientPage { clients, next })
    }

    async fn update_client(&self, client: &Client) -> Result<(), StoreError> {
        let mut inner = self.lock()?;
        let stored = inner
            .clients
            .get_mut(&client.id)
            .ok_or(StoreError::NotFound)?;
        if stored.version != client.version {
            return Err(StoreError::Changed);
        }
        *stored = Client {
            version: client.version + 1,
            ..client.clone()
        };
        Ok(())
    }

    async fn delete_client(&self, id: ClientId) -> Result<(), StoreError> {
        self.lock()?
            .clients
            .remove(&id)
            .map(|_| ())
            .ok_or(StoreError::NotFound)
    }
}

#[cfg(test)]
mod tests {
    crate::user_store_contract_tests!(async { crate::InMemoryUserStore::new() });
    crate::session_store_contract_tests!(async { crate::InMemoryUserStore::new() });
    crate::throttle_store_contract_tests!(async { crate::InMemoryUserStore::new() });
    crate::action_token_store_contract_tests!(async { crate::InMemoryUserStore::new() });
    crate::client_store_contract_tests!(async { crate::InMemoryUserStore::new() });
    crate::api_key_store_contract_tests!(async { crate::InMemoryUserStore::new() });
    crate::token_checks_contract_tests!(async { crate::InMemoryUserStore::new() });
}
