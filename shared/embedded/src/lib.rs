//! `UserStore` in one local redb file: what `authgate serve` uses when no AWS service is named.
//!
//! Same two-record layout as the DynamoDB store: a user by id, and an email lock by normalized
//! email. redb serializes write transactions, so checking the lock and writing both records in one
//! transaction makes email uniqueness hold under concurrency. Every call runs on the blocking pool.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use std::collections::BTreeSet;

use authgate_users::{
    ADMIN_ROLE, CustomClaims, Email, NewUser, PasswordHash, StoreError, User, UserChanges, UserId,
    UserPage, UserStore, decode_cursor, page_of,
};

mod actions;
mod api_keys;
mod clients;
mod sessions;
mod throttle;
use chrono::{DateTime, Utc};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

const USERS: TableDefinition<&str, &[u8]> = TableDefinition::new("users");
const EMAILS: TableDefinition<&str, &str> = TableDefinition::new("emails");
const SESSIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("sessions");
const REFRESH: TableDefinition<&str, &[u8]> = TableDefinition::new("refresh_tokens");
/// Per user: sessions created at or before this Unix millisecond are ended (logout-all).
const VALID_AFTER: TableDefinition<&str, i64> = TableDefinition::new("sessions_valid_after");
/// Per session: the hash of its one live refresh token.
const HEADS: TableDefinition<&str, &str> = TableDefinition::new("refresh_heads");
/// Throttle backoffs: failures, locked-until and expiry, 8 bytes each, little-endian.
const BACKOFFS: TableDefinition<&str, &[u8]> = TableDefinition::new("throttle_backoffs");
/// Throttle counters (keys name their window, so an old window is never read again).
const COUNTERS: TableDefinition<&str, i64> = TableDefinition::new("throttle_counters");
/// One-time tokens (reset, verify), by hash.
const ACTIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("action_tokens");
/// OAuth clients, by id.
const CLIENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("clients");
/// API keys, by the key's hash.
const API_KEYS: TableDefinition<&str, &[u8]> = TableDefinition::new("api_keys");
/// Revoked access tokens by `jti`, with when they expire (ms).
const REVOKED: TableDefinition<&str, i64> = TableDefinition::new("revoked_access_tokens");

/// The stored form of a user.
#[derive(Serialize, Deserialize)]
struct Record {
    id: UserId,
    email: String,
    password_hash: String,
    created_at: DateTime<Utc>,
    disabled: bool,
    #[serde(default)]
    email_verified: bool,
    #[serde(default)]
    roles: BTreeSet<String>,
    #[serde(default)]
    claims: CustomClaims,
    /// Written before roles existed; read as the `admin` role.
    #[serde(default, skip_serializing)]
    superuser: bool,
}

impl Record {
    fn from_user(user: &User) -> Self {
        Self {
            id: user.id,
            email: user.email.as_str().to_owned(),
            password_hash: user.password_hash.as_phc().to_owned(),
            created_at: user.created_at,
            disabled: user.disabled,
            email_verified: user.email_verified,
            roles: user.roles.clone(),
            claims: user.claims.clone(),
            superuser: false,
        }
    }

    fn into_user(mut self) -> Result<User, StoreError> {
        if self.superuser {
            self.roles.insert(ADMIN_ROLE.to_owned());
        }
        Ok(User {
            id: self.id,
            email: Email::parse(&self.email)
                .map_err(|_| StoreError::Corrupt("stored email is invalid".into()))?,
            password_hash: PasswordHash::from_phc(self.password_hash)
                .map_err(|_| StoreError::Corrupt("stored password hash is invalid".into()))?,
            created_at: self.created_at,
            disabled: self.disabled,
            email_verified: self.email_verified,
            roles: self.roles,
            claims: self.claims,
            sessions_valid_after_ms: 0,
        })
    }
}

pub(crate) fn backend(err: impl Into<redb::Error>) -> StoreError {
    StoreError::Backend(Box::new(err.into()))
}

pub(crate) fn decode(bytes: &[u8]) -> Result<User, StoreError> {
    serde_json::from_slice::<Record>(bytes)
        .map_err(|e| StoreError::Corrupt(format!("stored user is not valid: {e}")))?
        .into_user()
}

fn encode(user: &User) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(&Record::from_user(user)).map_err(|e| StoreError::Backend(Box::new(e)))
}

/// Users in a redb file that survives restarts.
#[derive(Clone)]
pub struct EmbeddedUserStore {
    db: Arc<Database>,
}

impl std::fmt::Debug for EmbeddedUserStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedUserStore").finish_non_exhaustive()
    }
}

impl EmbeddedUserStore {
    /// Opens the store at `path`, creating the file and its tables if needed.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        match Database::create(path.as_ref()) {
            Ok(db) => Self::init(db),
            Err(redb::DatabaseError::DatabaseAlreadyOpen) => Err(StoreError::Backend(
                format!(
                    "{} is open in another process (a running `authgate serve`?); stop it first",
                    path.as_ref().display()
                )
                .into(),
            )),
            Err(e) => Err(backend(e)),
        }
    }

    /// A store in memory only, with the same transactional behaviour, for tests.
    pub fn in_memory() -> Result<Self, StoreError> {
        let db = Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .map_err(backend)?;
        Self::init(db)
    }

    fn init(db: Database) -> Result<Self, StoreError> {
        let txn = db.begin_write().map_err(backend)?;
        txn.open_table(USERS).map_err(backend)?;
        txn.open_table(EMAILS).map_err(backend)?;
        txn.open_table(SESSIONS).map_err(backend)?;
        txn.open_table(REFRESH).map_err(backend)?;
        txn.open_table(VALID_AFTER).map_err(backend)?;
        txn.open_table(HEADS).map_err(backend)?;
        txn.open_table(BACKOFFS).map_err(backend)?;
        txn.open_table(COUNTERS).map_err(backend)?;
        txn.open_table(ACTIONS).map_err(backend)?;
        txn.open_table(CLIENTS).map_err(backend)?;
        txn.open_table(REVOKED).map_err(backend)?;
        txn.open_table(API_KEYS).map_err(backend)?;
        txn.commit().map_err(backend)?;
        Ok(Self { db: Arc::new(db) })
    }

    pub(crate) async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Database) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let db = Arc::clone(&self.db);
        tokio::task::spawn_blocking(move || work(&db))
            .await
            .map_err(|e| StoreError::Backend(Box::new(e)))?
    }
}

fn read_user(db: &Database, id: &str) -> Result<Option<User>, StoreError> {
    let txn = db.begin_read().map_err(backend)?;
    let users = txn.open_table(USERS).map_err(backend)?;
    let valid_after = txn.open_table(VALID_AFTER).map_err(backend)?;
    user_in(&users, &valid_after, id)
}

/// The user `id` with its logout-all cut-off, which lives in a table of its own.
pub(crate) fn user_in(
    users: &impl ReadableTable<&'static str, &'static [u8]>,
    valid_after: &impl ReadableTable<&'static str, i64>,
    id: &str,
) -> Result<Option<User>, StoreError> {
    let Some(bytes) = users.get(id).map_err(backend)? else {
        return Ok(None);
    };
    with_cut_off(decode(bytes.value())?, valid_after).map(Some)
}

fn with_cut_off(
    mut user: User,
    valid_after: &impl ReadableTable<&'static str, i64>,
) -> Result<User, StoreError> {
    user.sessions_valid_after_ms = valid_after
        .get(user.id.to_string().as_str())
        .map_err(backend)?
        .map_or(0, |v| v.value());
    Ok(user)
}

#[async_trait]
impl UserStore for EmbeddedUserStore {
    async fn create(&self, new_user: NewUser) -> Result<User, StoreError> {
        let user = new_user.into_user();
        self.blocking(move |db| {
            let key = user.email.normalized();
            let id = user.id.to_string();
            let bytes = encode(&user)?;
            let txn = db.begin_write().map_err(backend)?;
            {
                let mut emails = txn.open_table(EMAILS).map_err(backend)?;
                if emails.get(key.as_str()).map_err(backend)?.is_some() {
                    return Err(StoreError::DuplicateEmail);
                }
                emails.insert(key.as_str(), id.as_str()).map_err(backend)?;
                let mut users = txn.open_table(USERS).map_err(backend)?;
                users
                    .insert(id.as_str(), bytes.as_slice())
                    .map_err(backend)?;
            }
            txn.commit().map_err(backend)?;
            Ok(user)
        })
        .await
    }

    async fn get_by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
        self.blocking(move |db| read_user(db, &id.to_string()))
            .await
    }

    async fn get_by_email(&self, email: &Email) -> Result<Option<User>, StoreError> {
        let key = email.normalized();
        self.blocking(move |db| {
            let id = {
                let txn = db.begin_read().map_err(backend)?;
                let emails = txn.open_table(EMAILS).map_err(backend)?;
                let found = emails.get(key.as_str()).map_err(backend)?;
                found.map(|id| id.value().to_owned())
            };
            match id {
                Some(id) => read_user(db, &id),
                None => Ok(None),
            }
        })
        .await
    }

    async fn update(&self, id: UserId, changes: UserChanges) -> Result<User, StoreError> {
        self.blocking(move |db| {
            let id = id.to_string();
            let txn = db.begin_write().map_err(backend)?;
            let user = {
                let mut users = txn.open_table(USERS).map_err(backend)?;
                let mut valid_after = txn.open_table(VALID_AFTER).map_err(backend)?;
                let mut user = user_in(&users, &valid_after, &id)?.ok_or(StoreError::NotFound)?;
                if !changes.expected.holds(&user) {
                    return Err(StoreError::Changed);
                }
                if let Some(key) = changes.new_email_key(&user.email) {
                    let mut emails = txn.open_table(EMAILS).map_err(backend)?;
                    if emails.get(key.as_str()).map_err(backend)?.is_some() {
                        return Err(StoreError::DuplicateEmail);
                    }
                    emails
                        .remove(user.email.normalized().as_str())
                        .map_err(backend)?;
                    emails.insert(key.as_str(), id.as_str()).map_err(backend)?;
                }
                changes.apply_to(&mut user);
                let bytes = encode(&user)?;
                users
                    .insert(id.as_str(), bytes.as_slice())
                    .map_err(backend)?;
                if user.sessions_valid_after_ms > 0 {
                    valid_after
                        .insert(id.as_str(), user.sessions_valid_after_ms)
                        .map_err(backend)?;
                }
                user
            };
            txn.commit().map_err(backend)?;
            Ok(user)
        })
        .await
    }

    async fn delete(&self, id: UserId) -> Result<(), StoreError> {
        self.blocking(move |db| {
            let id = id.to_string();
            let txn = db.begin_write().map_err(backend)?;
            {
                let mut users = txn.open_table(USERS).map_err(backend)?;
                let user = match users.remove(id.as_str()).map_err(backend)? {
                    Some(bytes) => decode(bytes.value())?,
                    None => return Err(StoreError::NotFound),
                };
                txn.open_table(EMAILS)
                    .map_err(backend)?
                    .remove(user.email.normalized().as_str())
                    .map_err(backend)?;
                txn.open_table(VALID_AFTER)
                    .map_err(backend)?
                    .remove(id.as_str())
                    .map_err(backend)?;
            }
            txn.commit().map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn page(&self, limit: usize, cursor: Option<&str>) -> Result<UserPage, StoreError> {
        let after = cursor.map(decode_cursor).transpose()?;
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(backend)?;
            let users = txn.open_table(USERS).map_err(backend)?;
            let valid_after = txn.open_table(VALID_AFTER).map_err(backend)?;
            // The table is keyed by id: read only the page after the cursor, and one more.
            let range = match &after {
                Some(after) => users.range::<&str>((
                    std::ops::Bound::Excluded(after.as_str()),
                    std::ops::Bound::Unbounded,
                )),
                None => users.range::<&str>(..),
            }
            .map_err(backend)?;
            let mut page = Vec::new();
            for entry in range.take(limit.saturating_add(1)) {
                let (_, bytes) = entry.map_err(backend)?;
                page.push(with_cut_off(decode(bytes.value())?, &valid_after)?);
            }
            page_of(page, limit, None)
        })
        .await
    }

    async fn list(&self) -> Result<Vec<User>, StoreError> {
        self.blocking(|db| {
            let txn = db.begin_read().map_err(backend)?;
            let users = txn.open_table(USERS).map_err(backend)?;
            let valid_after = txn.open_table(VALID_AFTER).map_err(backend)?;
            let mut all = Vec::new();
            for entry in users.iter().map_err(backend)? {
                let (_, bytes) = entry.map_err(backend)?;
                all.push(with_cut_off(decode(bytes.value())?, &valid_after)?);
            }
            all.sort_by_key(|u| u.email.normalized());
            Ok(all)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_record_written_with_the_superuser_flag_reads_as_an_admin() {
        let id = UserId::new_v4();
        let legacy = serde_json::json!({
            "id": id, "email": "root@example.com",
            "password_hash": "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE",
            "created_at": "2026-01-01T00:00:00Z", "disabled": false, "superuser": true
        });
        let user = decode(legacy.to_string().as_bytes()).unwrap();
        assert!(user.roles.contains(ADMIN_ROLE));
        let rewritten: serde_json::Value = serde_json::from_slice(&encode(&user).unwrap()).unwrap();
        assert_eq!(rewritten["roles"], serde_json::json!([ADMIN_ROLE]));
        assert!(
            rewritten.get("superuser").is_none(),
            "roles replace the flag"
        );
    }
}
