//! `ActionTokenStore` in the redb file: taking a token is one write transaction (read, remove).

use async_trait::async_trait;
use authgate_users::{ActionRecord, ActionTokenStore, StoreError, TokenHash, TokenPurpose};
use serde::{Deserialize, Serialize};

use crate::{ACTIONS, EmbeddedUserStore, backend};

#[derive(Serialize, Deserialize)]
struct Stored {
    purpose: String,
    user_id: authgate_users::UserId,
    binding: String,
    expires_at_ms: i64,
}

#[async_trait]
impl ActionTokenStore for EmbeddedUserStore {
    async fn put_action(&self, hash: &TokenHash, record: &ActionRecord) -> Result<(), StoreError> {
        let stored = Stored {
            purpose: record.purpose.as_str().to_owned(),
            user_id: record.user_id,
            binding: record.binding.clone(),
            expires_at_ms: record.expires_at_ms,
        };
        let bytes = serde_json::to_vec(&stored)
            .map_err(|e| StoreError::Corrupt(format!("action token record: {e}")))?;
        let key = hash.as_str().to_owned();
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(backend)?;
            txn.open_table(ACTIONS)
                .map_err(backend)?
                .insert(key.as_str(), bytes.as_slice())
                .map_err(backend)?;
            txn.commit().map_err(backend)
        })
        .await
    }

    async fn take_action(&self, hash: &TokenHash) -> Result<Option<ActionRecord>, StoreError> {
        let key = hash.as_str().to_owned();
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(backend)?;
            let taken = {
                let mut table = txn.open_table(ACTIONS).map_err(backend)?;
                let removed = table.remove(key.as_str()).map_err(backend)?;
                removed.map(|v| v.value().to_vec())
            };
            txn.commit().map_err(backend)?;
            let Some(bytes) = taken else {
                return Ok(None);
            };
            let stored: Stored = serde_json::from_slice(&bytes)
                .map_err(|_| StoreError::Corrupt("action token record".into()))?;
            let purpose = TokenPurpose::from_stored(&stored.purpose)
                .ok_or_else(|| StoreError::Corrupt("action token purpose".into()))?;
            Ok(Some(ActionRecord {
                purpose,
                user_id: stored.user_id,
                binding: stored.binding,
                expires_at_ms: stored.expires_at_ms,
            }))
        })
        .await
    }
}
