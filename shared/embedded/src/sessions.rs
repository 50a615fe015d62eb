//! `SessionStore` in the redb file: every operation is one redb transaction, so the rotation rules
//! of `decide_rotation` apply atomically. Revoked access tokens live beside sessions.

use async_trait::async_trait;
use authgate_users::{
    RefreshError, RefreshRecord, Rotated, RotationDecision, RotationPolicy, Session, SessionId,
    SessionState, SessionStore, StoreError, TokenHash, User, UserId, decide_rotation, may_start,
    raised_cut_off,
};
use redb::{ReadableDatabase, ReadableTable, Table};
use serde::{Deserialize, Serialize};

use crate::{
    EmbeddedUserStore, HEADS, REFRESH, REVOKED, SESSIONS, USERS, VALID_AFTER, backend, decode,
    user_in,
};

#[derive(Serialize, Deserialize)]
struct StoredSession {
    id: SessionId,
    user_id: UserId,
    created_at_ms: i64,
    expires_at_ms: i64,
    revoked: bool,
}

impl From<&Session> for StoredSession {
    fn from(s: &Session) -> Self {
        Self {
            id: s.id,
            user_id: s.user_id,
            created_at_ms: s.created_at_ms,
            expires_at_ms: s.expires_at_ms,
            revoked: s.revoked,
        }
    }
}

impl From<StoredSession> for Session {
    fn from(s: StoredSession) -> Self {
        Self {
            id: s.id,
            user_id: s.user_id,
            created_at_ms: s.created_at_ms,
            expires_at_ms: s.expires_at_ms,
            revoked: s.revoked,
        }
    }
}

fn json<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|e| StoreError::Backend(Box::new(e)))
}

fn parse<T: for<'de> Deserialize<'de>>(bytes: &[u8], what: &str) -> Result<T, StoreError> {
    serde_json::from_slice(bytes)
        .map_err(|e| StoreError::Corrupt(format!("stored {what} is not valid: {e}")))
}

fn read_session(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    id: SessionId,
) -> Result<Option<Session>, StoreError> {
    let found = table.get(id.to_string().as_str()).map_err(backend)?;
    found
        .map(|v| parse::<StoredSession>(v.value(), "session").map(Session::from))
        .transpose()
}

fn state_in(
    sessions: &impl ReadableTable<&'static str, &'static [u8]>,
    users: &impl ReadableTable<&'static str, &'static [u8]>,
    valid_after: &impl ReadableTable<&'static str, i64>,
    session: SessionId,
    user: UserId,
) -> Result<SessionState, StoreError> {
    let user_key = user.to_string();
    let user_disabled = match users.get(user_key.as_str()).map_err(backend)? {
        Some(bytes) => Some(decode(bytes.value())?.disabled),
        None => None,
    };
    Ok(SessionState {
        session: read_session(sessions, session)?.filter(|s| s.user_id == user),
        user_disabled,
        sessions_valid_after_ms: valid_after
            .get(user_key.as_str())
            .map_err(backend)?
            .map_or(0, |v| v.value()),
        refresh_head: None,
        token_revoked: false,
    })
}

fn put_session(table: &mut Table<&str, &[u8]>, session: &Session) -> Result<(), StoreError> {
    let bytes = json(&StoredSession::from(session))?;
    table
        .insert(session.id.to_string().as_str(), bytes.as_slice())
        .map_err(backend)?;
    Ok(())
}

#[async_trait]
impl SessionStore for EmbeddedUserStore {
    async fn start(
        &self,
        session: &Session,
        first: &TokenHash,
        first_expires_at_ms: i64,
        as_read: &User,
    ) -> Result<(), StoreError> {
        let session = session.clone();
        let first = first.clone();
        let as_read = as_read.clone();
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(backend)?;
            {
                let stored = user_in(
                    &txn.open_table(USERS).map_err(backend)?,
                    &txn.open_table(VALID_AFTER).map_err(backend)?,
                    &session.user_id.to_string(),
                )?;
                if !may_start(&session, &as_read, stored.as_ref()) {
                    return Err(StoreError::Changed);
                }
                put_session(&mut txn.open_table(SESSIONS).map_err(backend)?, &session)?;
                let record = RefreshRecord {
                    session: session.id,
                    user_id: session.user_id,
                    expires_at_ms: first_expires_at_ms,
                    consumed_at_ms: None,
                };
                let bytes = json(&record)?;
                txn.open_table(REFRESH)
                    .map_err(backend)?
                    .insert(first.as_str(), bytes.as_slice())
                    .map_err(backend)?;
                txn.open_table(HEADS)
                    .map_err(backend)?
                    .insert(session.id.to_string().as_str(), first.as_str())
                    .map_err(backend)?;
            }
            txn.commit().map_err(backend)
        })
        .await
    }

    async fn rotate(
        &self,
        presented: &TokenHash,
        next: &TokenHash,
        now_ms: i64,
        policy: RotationPolicy,
    ) -> Result<Rotated, RefreshError> {
        let presented = presented.clone();
        let next = next.clone();
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(backend)?;
            let outcome = {
                let mut refresh = txn.open_table(REFRESH).map_err(backend)?;
                let mut sessions = txn.open_table(SESSIONS).map_err(backend)?;
                let users = txn.open_table(USERS).map_err(backend)?;
                let valid_after = txn.open_table(VALID_AFTER).map_err(backend)?;
                let mut heads = txn.open_table(HEADS).map_err(backend)?;
                let record: Option<RefreshRecord> =
                    match refresh.get(presented.as_str()).map_err(backend)? {
                        Some(bytes) => Some(parse(bytes.value(), "refresh token")?),
                        None => None,
                    };
                let state = match &record {
                    Some(r) => SessionState {
                        refresh_head: heads
                            .get(r.session.to_string().as_str())
                            .map_err(backend)?
                            .map(|head| TokenHash::from_stored(head.value())),
                        ..state_in(&sessions, &users, &valid_after, r.session, r.user_id)?
                    },
                    None => SessionState::default(),
                };
                match decide_rotation(&presented, record.as_ref(), &state, now_ms, policy) {
                    RotationDecision::Rotate(rotated) => {
                        heads
                            .insert(rotated.session.id.to_string().as_str(), next.as_str())
                            .map_err(backend)?;
                        if let Some(mut spent) = record {
                            spent.consumed_at_ms.get_or_insert(now_ms);
                            let bytes = json(&spent)?;
                            refresh
                                .insert(presented.as_str(), bytes.as_slice())
                                .map_err(backend)?;
                        }
                        let fresh = RefreshRecord {
                            session: rotated.session.id,
                            user_id: rotated.session.user_id,
                            expires_at_ms: rotated.refresh_expires_at_ms,
                            consumed_at_ms: None,
                        };
                        let bytes = json(&fresh)?;
                        refresh
                            .insert(next.as_str(), bytes.as_slice())
                            .map_err(backend)?;
                        Ok(rotated)
                    }
                    RotationDecision::Refuse(error) => Err(error),
                    RotationDecision::EndSession(id) => {
                        if let Some(mut session) = read_session(&sessions, id)? {
                            session.revoked = true;
                            put_session(&mut sessions, &session)?;
                        }
                        Err(RefreshError::Reused)
                    }
                }
            };
            txn.commit().map_err(backend)?;
            Ok(outcome)
        })
        .await?
    }

    async fn revoke(&self, session: SessionId) -> Result<(), StoreError> {
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(backend)?;
            {
                let mut sessions = txn.open_table(SESSIONS).map_err(backend)?;
                if let Some(mut found) = read_session(&sessions, session)? {
                    found.revoked = true;
                    put_session(&mut sessions, &found)?;
                }
            }
            txn.commit().map_err(backend)
        })
        .await
    }

    async fn revoke_all(&self, user: UserId, now_ms: i64) -> Result<(), StoreError> {
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(backend)?;
            let key = user.to_string();
            if txn
                .open_table(USERS)
                .map_err(backend)?
                .get(key.as_str())
                .map_err(backend)?
                .is_none()
            {
                return Err(StoreError::NotFound);
            }
            let mut valid_after = txn.open_table(VALID_AFTER).map_err(backend)?;
            let stored = valid_after
                .get(key.as_str())
                .map_err(backend)?
                .map_or(0, |v| v.value());
            valid_after
                .insert(key.as_str(), raised_cut_off(stored, now_ms))
                .map_err(backend)?;
            drop(valid_after);
            txn.commit().map_err(backend)
        })
        .await
    }

    async fn state(&self, session: SessionId, user: UserId) -> Result<SessionState, StoreError> {
        self.blocking(move |db| {
            let txn = redb::ReadableDatabase::begin_read(db).map_err(backend)?;
            state_in(
                &txn.open_table(SESSIONS).map_err(backend)?,
                &txn.open_table(USERS).map_err(backend)?,
                &txn.open_table(VALID_AFTER).map_err(backend)?,
                session,
                user,
            )
        })
        .await
    }

    async fn refresh_record(&self, token: &TokenHash) -> Result<Option<RefreshRecord>, StoreError> {
        let token = token.clone();
        self.blocking(move |db| {
            let txn = redb::ReadableDatabase::begin_read(db).map_err(backend)?;
            let refresh = txn.open_table(REFRESH).map_err(backend)?;
            match refresh.get(token.as_str()).map_err(backend)? {
                Some(bytes) => Ok(Some(parse(bytes.value(), "refresh token")?)),
                None => Ok(None),
            }
        })
        .await
    }
}

#[async_trait]
impl authgate_users::TokenChecks for EmbeddedUserStore {
    async fn revoke_access_token(&self, jti: &str, expires_at_ms: i64) -> Result<(), StoreError> {
        let jti = jti.to_owned();
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(backend)?;
            {
                let mut table = txn.open_table(REVOKED).map_err(backend)?;
                table.insert(jti.as_str(), expires_at_ms).map_err(backend)?;
            }
            txn.commit().map_err(backend)
        })
        .await
    }

    async fn access_token_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        let jti = jti.to_owned();
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(backend)?;
            let table = txn.open_table(REVOKED).map_err(backend)?;
            Ok(table.get(jti.as_str()).map_err(backend)?.is_some())
        })
        .await
    }
}
