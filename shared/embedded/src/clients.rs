//! `ClientStore` in the redb file: one JSON record per client, keyed by its id, whose
//! lowercase hyphenated text sorts as the ids do; an update is one write transaction that checks
//! the version it replaces.

use std::collections::BTreeSet;

use async_trait::async_trait;
use authgate_users::{
    Client, ClientId, ClientPage, ClientStore, PreviousSecret, StoreError, TokenHash,
    decode_cursor, encode_cursor,
};
use redb::{ReadableDatabase, ReadableTable};
use serde::{Deserialize, Serialize};

use crate::{CLIENTS, EmbeddedUserStore, backend};

#[derive(Serialize, Deserialize)]
struct Stored {
    id: ClientId,
    name: String,
    scopes: BTreeSet<String>,
    audience: Option<String>,
    access_token_ttl_secs: Option<u64>,
    created_at_ms: i64,
    secret_rotated_at_ms: i64,
    disabled: bool,
    secret_hash: String,
    previous_secret_hash: Option<String>,
    previous_secret_valid_until_ms: Option<i64>,
    version: u64,
}

fn encode(client: &Client) -> Result<Vec<u8>, StoreError> {
    let stored = Stored {
        id: client.id,
        name: client.name.clone(),
        scopes: client.scopes.clone(),
        audience: client.audience.clone(),
        access_token_ttl_secs: client.access_token_ttl_secs,
        created_at_ms: client.created_at_ms,
        secret_rotated_at_ms: client.secret_rotated_at_ms,
        disabled: client.disabled,
        secret_hash: client.secret_hash.as_str().to_owned(),
        previous_secret_hash: client
            .previous_secret
            .as_ref()
            .map(|p| p.hash.as_str().to_owned()),
        previous_secret_valid_until_ms: client.previous_secret.as_ref().map(|p| p.valid_until_ms),
        version: client.version,
    };
    serde_json::to_vec(&stored).map_err(|e| StoreError::Backend(Box::new(e)))
}

fn decode(bytes: &[u8]) -> Result<Client, StoreError> {
    let stored: Stored = serde_json::from_slice(bytes)
        .map_err(|e| StoreError::Corrupt(format!("stored client is not valid: {e}")))?;
    let previous_secret = match (
        stored.previous_secret_hash,
        stored.previous_secret_valid_until_ms,
    ) {
        (Some(hash), Some(valid_until_ms)) => Some(PreviousSecret {
            hash: TokenHash::from_stored(hash),
            valid_until_ms,
        }),
        _ => None,
    };
    Ok(Client {
        id: stored.id,
        name: stored.name,
        scopes: stored.scopes,
        audience: stored.audience,
        access_token_ttl_secs: stored.access_token_ttl_secs,
        created_at_ms: stored.created_at_ms,
        secret_rotated_at_ms: stored.secret_rotated_at_ms,
        disabled: stored.disabled,
        secret_hash: TokenHash::from_stored(stored.secret_hash),
        previous_secret,
        version: stored.version,
    })
}

#[async_trait]
impl ClientStore for EmbeddedUserStore {
    async fn create_client(&self, client: &Client) -> Result<(), StoreError> {
        let (key, bytes) = (client.id.to_string(), encode(client)?);
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(backend)?;
            {
                let mut table = txn.open_table(CLIENTS).map_err(backend)?;
                if table.get(key.as_str()).map_err(backend)?.is_some() {
                    return Err(StoreError::Changed);
                }
                table
                    .insert(key.as_str(), bytes.as_slice())
                    .map_err(backend)?;
            }
            txn.commit().map_err(backend)
        })
        .await
    }

    async fn client(&self, id: ClientId) -> Result<Option<Client>, StoreError> {
        let key = id.to_string();
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(backend)?;
            let table = txn.open_table(CLIENTS).map_err(backend)?;
            let found = table.get(key.as_str()).map_err(backend)?;
            found.map(|v| decode(v.value())).transpose()
        })
        .await
    }

    async fn clients(&self, limit: usize, cursor: Option<&str>) -> Result<ClientPage, StoreError> {
        let after = cursor
            .map(decode_cursor)
            .transpose()?
            .map(|id| {
                id.parse::<ClientId>()
                    .map(|id| id.to_string())
                    .map_err(|_| StoreError::BadCursor)
            })
            .transpose()?;
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(backend)?;
            let table = txn.open_table(CLIENTS).map_err(backend)?;
            let mut clients = Vec::new();
            let mut more = false;
            for entry in table.iter().map_err(backend)? {
                let (key, value) = entry.map_err(backend)?;
                if after.as_deref().is_some_and(|a| key.value() <= a) {
                    continue;
                }
                if clients.len() == limit {
                    more = true;
                    break;
                }
                clients.push(decode(value.value())?);
            }
            let next = match clients.last() {
                Some(last) if more => Some(encode_cursor(&last.id.to_string())),
                _ => None,
            };
            Ok(ClientPage { clients, next })
        })
        .await
    }

    async fn update_client(&self, client: &Client) -> Result<(), StoreError> {
        let key = client.id.to_string();
        let read_version = client.version;
        let bytes = encode(&Client {
            version: client.version + 1,
            ..client.clone()
        })?;
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(backend)?;
            {
                let mut table = txn.open_table(CLIENTS).map_err(backend)?;
                let stored = match table.get(key.as_str()).map_err(backend)? {
                    Some(value) => decode(value.value())?,
                    None => return Err(StoreError::NotFound),
                };
                if stored.version != read_version {
                    return Err(StoreError::Changed);
                }
                table
                    .insert(key.as_str(), bytes.as_slice())
                    .map_err(backend)?;
            }
            txn.commit().map_err(backend)
        })
        .await
    }

    async fn delete_client(&self, id: ClientId) -> Result<(), StoreError> {
        let key = id.to_string();
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(backend)?;
            let removed = txn
                .open_table(CLIENTS)
                .map_err(backend)?
                .remove(key.as_str())
                .map_err(backend)?
                .is_some();
            txn.commit().map_err(backend)?;
            if removed {
                Ok(())
            } else {
                Err(StoreError::NotFound)
            }
        })
        .await
    }
}
