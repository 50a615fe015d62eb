//! `ThrottleStore` in the redb file: every operation one write transaction, so counters and
//! compare-and-set are atomic across the threads of one process.

use async_trait::async_trait;
use authgate_users::{Backoff, StoreError, ThrottleKey, ThrottleStore};
use redb::ReadableTable;

use crate::{BACKOFFS, COUNTERS, EmbeddedUserStore, backend};

fn encode(backoff: &Backoff) -> [u8; 24] {
    let mut bytes = [0u8; 24];
    bytes[..8].copy_from_slice(&i64::from(backoff.failures).to_le_bytes());
    bytes[8..16].copy_from_slice(&backoff.locked_until_ms.to_le_bytes());
    bytes[16..].copy_from_slice(&backoff.expires_at_ms.to_le_bytes());
    bytes
}

fn decode(bytes: &[u8]) -> Result<Backoff, StoreError> {
    let field = |i: usize| -> Result<i64, StoreError> {
        bytes
            .get(i * 8..i * 8 + 8)
            .and_then(|b| b.try_into().ok())
            .map(i64::from_le_bytes)
            .ok_or_else(|| StoreError::Corrupt("throttle record is not 24 bytes".into()))
    };
    Ok(Backoff {
        failures: u32::try_from(field(0)?)
            .map_err(|_| StoreError::Corrupt("throttle failures out of range".into()))?,
        locked_until_ms: field(1)?,
        expires_at_ms: field(2)?,
    })
}

#[async_trait]
impl ThrottleStore for EmbeddedUserStore {
    async fn backoff(&self, key: &ThrottleKey) -> Result<Option<Backoff>, StoreError> {
        let key = key.as_str().to_owned();
        self.blocking(move |db| {
            let txn = redb::ReadableDatabase::begin_read(db).map_err(backend)?;
            let table = txn.open_table(BACKOFFS).map_err(backend)?;
            let found = table.get(key.as_str()).map_err(backend)?;
            found.map(|v| decode(v.value())).transpose()
        })
        .await
    }

    async fn swap_backoff(
        &self,
        key: &ThrottleKey,
        seen: Option<&Backoff>,
        next: &Backoff,
    ) -> Result<bool, StoreError> {
        let (key, seen, next) = (key.as_str().to_owned(), seen.copied(), *next);
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(backend)?;
            let swapped = {
                let mut table = txn.open_table(BACKOFFS).map_err(backend)?;
                let current = match table.get(key.as_str()).map_err(backend)? {
                    Some(v) => Some(decode(v.value())?),
                    None => None,
                };
                if current == seen {
                    table
                        .insert(key.as_str(), encode(&next).as_slice())
                        .map_err(backend)?;
                    true
                } else {
                    false
                }
            };
            txn.commit().map_err(backend)?;
            Ok(swapped)
        })
        .await
    }

    async fn clear_backoff(&self, key: &ThrottleKey) -> Result<(), StoreError> {
        let key = key.as_str().to_owned();
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(backend)?;
            txn.open_table(BACKOFFS)
                .map_err(backend)?
                .remove(key.as_str())
                .map_err(backend)?;
            txn.commit().map_err(backend)
        })
        .await
    }

    async fn add(
        &self,
        key: &ThrottleKey,
        delta: i64,
        _expires_at_ms: i64,
    ) -> Result<i64, StoreError> {
        let key = key.as_str().to_owned();
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(backend)?;
            let value = {
                let mut table = txn.open_table(COUNTERS).map_err(backend)?;
                let current = table
                    .get(key.as_str())
                    .map_err(backend)?
                    .map_or(0, |v| v.value());
                let value = current + delta;
                table.insert(key.as_str(), value).map_err(backend)?;
                value
            };
            txn.commit().map_err(backend)?;
            Ok(value)
        })
        .await
    }
}
