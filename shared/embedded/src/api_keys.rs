//! `ApiKeyStore` in the redb file: one JSON record per key, keyed by the key's hash. A user's
//! keys are found by reading the table through (a development store holds few); the cap on a
//! user's keys is checked in the same write transaction as the insert.

use std::collections::BTreeSet;

use async_trait::async_trait;
use authgate_users::{
    ApiKeyId, ApiKeyRecord, ApiKeyStore, MAX_API_KEYS_PER_USER, StoreError, TokenHash, UserId,
};
use redb::{ReadableDatabase, ReadableTable};
use serde::{Deserialize, Serialize};

use crate::{API_KEYS, EmbeddedUserStore, backend};

#[derive(Serialize, Deserialize)]
struct Stored {
    id: ApiKeyId,
    user_id: UserId,
    name: String,
    scopes: BTreeSet<String>,
    created_at_ms: i64,
    expires_at_ms: Option<i64>,
}

fn encode(key: &ApiKeyRecord) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(&Stored {
        id: key.id,
        user_id: key.user_id,
        name: key.name.clone(),
        scopes: key.scopes.clone(),
        created_at_ms: key.created_at_ms,
        expires_at_ms: key.expires_at_ms,
    })
    .map_err(|e| StoreError::Backend(Box::new(e)))
}

fn decode(hash: &str, bytes: &[u8]) -> Result<ApiKeyRecord, StoreError> {
    let stored: Stored = serde_json::from_slice(bytes)
        .map_err(|e| StoreError::Corrupt(format!("stored API key is not valid: {e}")))?;
    Ok(ApiKeyRecord {
        id: stored.id,
        user_id: stored.user_id,
        name: stored.name,
        scopes: stored.scopes,
        created_at_ms: stored.created_at_ms,
        expires_at_ms: stored.expires_at_ms,
        hash: TokenHash::from_stored(hash),
    })
}

/// Every key of `user` in `table`.
fn keys_of(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    user: UserId,
) -> Result<Vec<ApiKeyRecord>, StoreError> {
    let mut keys = Vec::new();
    for entry in table.iter().map_err(backend)? {
        let (hash, value) = entry.map_err(backend)?;
        let key = decode(hash.value(), value.value())?;
        if key.user_id == user {
            keys.push(key);
        }
    }
    keys.sort_by_key(|k| (k.created_at_ms, k.id));
    Ok(keys)
}

#[async_trait]
impl ApiKeyStore for EmbeddedUserStore {
    async fn create_api_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError> {
        let (hash, user, bytes) = (key.hash.as_str().to_owned(), key.user_id, encode(key)?);
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(backend)?;
            {
                let mut table = txn.open_table(API_KEYS).map_err(backend)?;
                if keys_of(&table, user)?.len() >= MAX_API_KEYS_PER_USER {
                    return Err(StoreError::Full);
                }
                if table.get(hash.as_str()).map_err(backend)?.is_some() {
                    return Err(StoreError::Changed);
                }
                table
                    .insert(hash.as_str(), bytes.as_slice())
                    .map_err(backend)?;
            }
            txn.commit().map_err(backend)
        })
        .await
    }

    async fn api_keys(&self, user: UserId) -> Result<Vec<ApiKeyRecord>, StoreError> {
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(backend)?;
            keys_of(&txn.open_table(API_KEYS).map_err(backend)?, user)
        })
        .await
    }

    async fn api_key(&self, hash: &TokenHash) -> Result<Option<ApiKeyRecord>, StoreError> {
        let hash = hash.as_str().to_owned();
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(backend)?;
            let table = txn.open_table(API_KEYS).map_err(backend)?;
            let found = table.get(hash.as_str()).map_err(backend)?;
            found.map(|v| decode(&hash, v.value())).transpose()
        })
        .await
    }

    async fn delete_api_key(&self, user: UserId, id: ApiKeyId) -> Result<(), StoreError> {
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(backend)?;
            {
                let mut table = txn.open_table(API_KEYS).map_err(backend)?;
                let key = keys_of(&table, user)?
                    .into_iter()
                    .find(|k| k.id == id)
                    .ok_or(StoreError::NotFound)?;
                table.remove(key.hash.as_str()).map_err(backend)?;
            }
            txn.commit().map_err(backend)
        })
        .await
    }
}
