//! `Interleaved`: a store that lets a test land a write between a read and the write after it.

use std::sync::Arc;

use super::*;

/// The in-memory store with one interleaving for race tests: right after its next read of a
/// user (by id or by email), `changes` are applied to `user`, as a concurrent request's write
/// that lands between a read and the write that depends on it.
pub struct Interleaved {
    pub inner: Arc<crate::InMemoryUserStore>,
    next: std::sync::Mutex<Option<(crate::UserId, crate::UserChanges)>>,
}

impl Interleaved {
    /// `inner`, which will apply `changes` to `user` right after its next read of a user.
    pub fn new(
        inner: Arc<crate::InMemoryUserStore>,
        user: crate::UserId,
        changes: crate::UserChanges,
    ) -> Self {
        Self {
            inner,
            next: std::sync::Mutex::new(Some((user, changes))),
        }
    }

    async fn interleave(&self) {
        let next = self.next.lock().unwrap().take();
        if let Some((user, changes)) = next {
            self.inner
                .update(user, changes)
                .await
                .expect("the interleaved write");
        }
    }
}

#[async_trait::async_trait]
impl UserStore for Interleaved {
    async fn create(&self, new_user: NewUser) -> Result<crate::User, StoreError> {
        self.inner.create(new_user).await
    }
    async fn get_by_id(&self, id: crate::UserId) -> Result<Option<crate::User>, StoreError> {
        let read = self.inner.get_by_id(id).await;
        self.interleave().await;
        read
    }
    async fn get_by_email(&self, email: &Email) -> Result<Option<crate::User>, StoreError> {
        let read = self.inner.get_by_email(email).await;
        self.interleave().await;
        read
    }
    async fn update(
        &self,
        id: crate::UserId,
        changes: crate::UserChanges,
    ) -> Result<crate::User, StoreError> {
        self.inner.update(id, changes).await
    }
    async fn delete(&self, id: crate::UserId) -> Result<(), StoreError> {
        self.inner.delete(id).await
    }
    async fn list(&self) -> Result<Vec<crate::User>, StoreError> {
        self.inner.list().await
    }
    async fn page(
        &self,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<crate::UserPage, StoreError> {
        self.inner.page(limit, cursor).await
    }
}

#[async_trait::async_trait]
impl crate::SessionStore for Interleaved {
    async fn start(
        &self,
        session: &crate::Session,
        first: &crate::TokenHash,
        first_expires_at_ms: i64,
        as_read: &crate::User,
    ) -> Result<(), StoreError> {
        self.inner
            .start(session, first, first_expires_at_ms, as_read)
            .await
    }
    async fn rotate(
        &self,
        presented: &crate::TokenHash,
        next: &crate::TokenHash,
        now_ms: i64,
        policy: crate::RotationPolicy,
    ) -> Result<crate::Rotated, crate::RefreshError> {
        self.inner.rotate(presented, next, now_ms, policy).await
    }
    async fn revoke(&self, session: crate::SessionId) -> Result<(), StoreError> {
        self.inner.revoke(session).await
    }
    async fn revoke_all(&self, user: crate::UserId, now_ms: i64) -> Result<(), StoreError> {
        self.inner.revoke_all(user, now_ms).await
    }
    async fn refresh_record(
        &self,
        token: &crate::TokenHash,
    ) -> Result<Option<crate::RefreshRecord>, StoreError> {
        self.inner.refresh_record(token).await
    }
    async fn state(
        &self,
        session: crate::SessionId,
        user: crate::UserId,
    ) -> Result<crate::SessionState, StoreError> {
        self.inner.state(session, user).await
    }
}

#[async_trait::async_trait]
impl crate::ThrottleStore for Interleaved {
    async fn backoff(
        &self,
        key: &crate::ThrottleKey,
    ) -> Result<Option<crate::Backoff>, StoreError> {
        self.inner.backoff(key).await
    }
    async fn swap_backoff(
        &self,
        key: &crate::ThrottleKey,
        seen: Option<&crate::Backoff>,
        next: &crate::Backoff,
    ) -> Result<bool, StoreError> {
        self.inner.swap_backoff(key, seen, next).await
    }
    async fn clear_backoff(&self, key: &crate::ThrottleKey) -> Result<(), StoreError> {
        self.inner.clear_backoff(key).await
    }
    async fn add(
        &self,
        key: &crate::ThrottleKey,
        delta: i64,
        expires_at_ms: i64,
    ) -> Result<i64, StoreError> {
        self.inner.add(key, delta, expires_at_ms).await
    }
}

#[async_trait::async_trait]
impl crate::ActionTokenStore for Interleaved {
    async fn put_action(
        &self,
        hash: &crate::TokenHash,
        record: &crate::ActionRecord,
    ) -> Result<(), StoreError> {
        self.inner.put_action(hash, record).await
    }
    async fn take_action(
        &self,
        hash: &crate::TokenHash,
    ) -> Result<Option<crate::ActionRecord>, StoreError> {
        self.inner.take_action(hash).await
    }
}

#[async_trait::async_trait]
impl crate::ClientStore for Interleaved {
    async fn create_client(&self, client: &crate::Client) -> Result<(), StoreError> {
        self.inner.create_client(client).await
    }
    async fn client(&self, id: crate::ClientId) -> Result<Option<crate::Client>, StoreError> {
        self.inner.client(id).await
    }
    async fn clients(
        &self,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<crate::ClientPage, StoreError> {
        self.inner.clients(limit, cursor).await
    }
    async fn update_client(&self, client: &crate::Client) -> Result<(), StoreError> {
        self.inner.update_client(client).await
    }
    async fn delete_client(&self, id: crate::ClientId) -> Result<(), StoreError> {
        self.inner.delete_client(id).await
    }
}

#[async_trait::async_trait]
impl crate::TokenChecks for Interleaved {
    async fn revoke_access_token(&self, jti: &str, expires_at_ms: i64) -> Result<(), StoreError> {
        self.inner.revoke_access_token(jti, expires_at_ms).await
    }
    async fn access_token_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        self.inner.access_token_revoked(jti).await
    }
}

#[async_trait::async_trait]
impl crate::ApiKeyStore for Interleaved {
    async fn create_api_key(&self, key: &crate::ApiKeyRecord) -> Result<(), StoreError> {
        self.inner.create_api_key(key).await
    }
    async fn api_keys(&self, user: crate::UserId) -> Result<Vec<crate::ApiKeyRecord>, StoreError> {
        self.inner.api_keys(user).await
    }
    async fn api_key(
        &self,
        hash: &crate::TokenHash,
    ) -> Result<Option<crate::ApiKeyRecord>, StoreError> {
        self.inner.api_key(hash).await
    }
    async fn delete_api_key(
        &self,
        user: crate::UserId,
        id: crate::ApiKeyId,
    ) -> Result<(), StoreError> {
        self.inner.delete_api_key(user, id).await
    }
}
