//! `ApiKeyStore` on the users table. A key is an `apikey#<hash>` item of kind `api_key`, which
//! DynamoDB's TTL removes once an expiring key has expired; its user's keys are named in the
//! string set `keys` (`<id>:<hash>`) of the user's `apikeys#<user id>` item, so they are listed
//! without a scan. Creating writes both in one transaction, conditioned on the key being new and
//! the set holding fewer than [`MAX_API_KEYS_PER_USER`]; deleting removes both in one.

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use authgate_users::{
    ApiKeyId, ApiKeyRecord, ApiKeyState, ApiKeyStore, MAX_API_KEYS_PER_USER, StoreError, TokenHash,
    UserId,
};
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};

use crate::{
    DynamoUserStore, Item, PARTITION_KEY, TTL_ATTRIBUTE, backend, dynamo, failed_condition,
    get_bool, get_id, get_n, get_s, n, roles_from_item, s, user_key,
};

const KIND_API_KEY: &str = "api_key";
const KIND_API_KEY_INDEX: &str = "api_key_index";
const KEYS: &str = "keys";

/// Every attribute the authorizer's API-key check reads, from the key and its user. Its IAM
/// policy in `template.yaml` allows these beside [`crate::SESSION_CHECK_ATTRIBUTES`] and
/// [`crate::CLIENT_CHECK_ATTRIBUTES`], which `cli/tests/it/template_policies.rs` checks.
pub const API_KEY_CHECK_ATTRIBUTES: [&str; 9] = [
    PARTITION_KEY,
    "kind",
    "id",
    "user_id",
    "name",
    "scopes",
    "created_at_ms",
    "expires_at_ms",
    "disabled",
];
/// The user's roles (and the flag older records carry instead), which the API-key check also
/// reads: a key grants only what they grant.
pub const API_KEY_CHECK_USER_ATTRIBUTES: [&str; 2] = ["roles", "superuser"];

fn key_item_key(hash: &TokenHash) -> String {
    format!("apikey#{}", hash.as_str())
}

fn index_key(user: UserId) -> String {
    format!("apikeys#{user}")
}

fn index_entry(key: &ApiKeyRecord) -> String {
    format!("{}:{}", key.id, key.hash.as_str())
}

fn strings(item: &Item, name: &str) -> Result<BTreeSet<String>, StoreError> {
    match item.get(name) {
        None => Ok(BTreeSet::new()),
        Some(AttributeValue::L(values)) => values
            .iter()
            .map(|v| {
                v.as_s()
                    .cloned()
                    .map_err(|_| StoreError::Corrupt(name.to_owned()))
            })
            .collect(),
        Some(AttributeValue::Ss(values)) => Ok(values.iter().cloned().collect()),
        Some(_) => Err(StoreError::Corrupt(name.to_owned())),
    }
}

fn item_of(key: &ApiKeyRecord) -> Item {
    let mut item = HashMap::from([
        (PARTITION_KEY.to_owned(), s(key_item_key(&key.hash))),
        ("kind".to_owned(), s(KIND_API_KEY)),
        ("id".to_owned(), s(key.id.to_string())),
        ("user_id".to_owned(), s(key.user_id.to_string())),
        ("name".to_owned(), s(key.name.as_str())),
        (
            "scopes".to_owned(),
            AttributeValue::L(key.scopes.iter().map(|scope| s(scope.as_str())).collect()),
        ),
        ("created_at_ms".to_owned(), n(key.created_at_ms)),
    ]);
    if let Some(at) = key.expires_at_ms {
        item.insert("expires_at_ms".to_owned(), n(at));
        item.insert(TTL_ATTRIBUTE.to_owned(), n(at / 1000 + 1));
    }
    item
}

fn key_from_item(item: &Item) -> Result<ApiKeyRecord, StoreError> {
    let hash = get_s(item, PARTITION_KEY)?
        .strip_prefix("apikey#")
        .ok_or_else(|| StoreError::Corrupt("API key".into()))?;
    Ok(ApiKeyRecord {
        id: get_id(item, "id")?,
        user_id: get_id(item, "user_id")?,
        name: item
            .get("name")
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default(),
        scopes: strings(item, "scopes")?,
        created_at_ms: get_n(item, "created_at_ms")?,
        expires_at_ms: item
            .contains_key("expires_at_ms")
            .then(|| get_n(item, "expires_at_ms"))
            .transpose()?,
        hash: TokenHash::from_stored(hash),
    })
}

impl DynamoUserStore {
    /// The API-key check: the key and its user in one `BatchGetItem` projected onto
    /// [`API_KEY_CHECK_ATTRIBUTES`] and the user's roles, as the authorizer's IAM policy allows.
    pub(crate) async fn read_api_key_token(
        &self,
        hash: &TokenHash,
        user: UserId,
    ) -> Result<ApiKeyState, StoreError> {
        let attributes: Vec<&str> = API_KEY_CHECK_ATTRIBUTES
            .iter()
            .chain(&API_KEY_CHECK_USER_ATTRIBUTES)
            .copied()
            .collect();
        let items = self
            .projected_reads(&[key_item_key(hash), user_key(user)], &attributes)
            .await?;
        let mut state = ApiKeyState::default();
        for item in &items {
            match get_s(item, "kind")? {
                KIND_API_KEY => state.key = Some(key_from_item(item)?),
                "user" => {
                    state.user_disabled = Some(get_bool(item, "disabled"));
                    state.user_roles = roles_from_item(item)?;
                }
                _ => {}
            }
        }
        Ok(state)
    }

    /// The `<id>:<hash>` entries naming `user`'s keys.
    async fn index_entries(&self, user: UserId) -> Result<BTreeSet<String>, StoreError> {
        let output = self
            .client()
            .get_item()
            .table_name(self.table())
            .key(PARTITION_KEY, s(index_key(user)))
            .consistent_read(true)
            .send()
            .await
            .map_err(dynamo)?;
        match output.item() {
            Some(item) => strings(item, KEYS),
            None => Ok(BTreeSet::new()),
        }
    }
}

#[async_trait]
impl ApiKeyStore for DynamoUserStore {
    async fn create_api_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError> {
        let put = Put::builder()
            .table_name(self.table())
            .set_item(Some(item_of(key)))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .build()
            .map_err(backend)?;
        let max = i64::try_from(MAX_API_KEYS_PER_USER).unwrap_or(i64::MAX);
        let index = Update::builder()
            .table_name(self.table())
            .key(PARTITION_KEY, s(index_key(key.user_id)))
            .update_expression("ADD #keys :entry SET #kind = :kind")
            .condition_expression("attribute_not_exists(#keys) OR size(#keys) < :max")
            .expression_attribute_names("#keys", KEYS)
            .expression_attribute_names("#kind", "kind")
            .expression_attribute_values(":entry", AttributeValue::Ss(vec![index_entry(key)]))
            .expression_attribute_values(":kind", s(KIND_API_KEY_INDEX))
            .expression_attribute_values(":max", n(max))
            .build()
            .map_err(backend)?;
        let result = self
            .client()
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(put).build())
            .transact_items(TransactWriteItem::builder().update(index).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => match failed_condition(&err) {
                Some(1) => Err(StoreError::Full),
                Some(_) => Err(StoreError::Changed),
                None => Err(dynamo(err)),
            },
        }
    }

    /// The user's index, then one `BatchGetItem` of the keys it names (an expired key that
    /// DynamoDB's TTL has removed is left out).
    async fn api_keys(&self, user: UserId) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let entries = self.index_entries(user).await?;
        let keys: Vec<String> = entries
            .iter()
            .filter_map(|entry| entry.split_once(':'))
            .map(|(_, hash)| format!("apikey#{hash}"))
            .collect();
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let attributes = [
            PARTITION_KEY,
            "kind",
            "id",
            "user_id",
            "name",
            "scopes",
            "created_at_ms",
            "expires_at_ms",
        ];
        let mut found = Vec::new();
        for chunk in keys.chunks(100) {
            for item in self.projected_reads(chunk, &attributes).await? {
                let key = key_from_item(&item)?;
                if key.user_id == user {
                    found.push(key);
                }
            }
        }
        found.sort_by_key(|k| (k.created_at_ms, k.id));
        Ok(found)
    }

    async fn api_key(&self, hash: &TokenHash) -> Result<Option<ApiKeyRecord>, StoreError> {
        let output = self
            .client()
            .get_item()
            .table_name(self.table())
            .key(PARTITION_KEY, s(key_item_key(hash)))
            .consistent_read(true)
            .send()
            .await
            .map_err(dynamo)?;
        output.item().map(key_from_item).transpose()
    }

    async fn delete_api_key(&self, user: UserId, id: ApiKeyId) -> Result<(), StoreError> {
        let prefix = format!("{id}:");
        let entry = self
            .index_entries(user)
            .await?
            .into_iter()
            .find(|entry| entry.starts_with(&prefix))
            .ok_or(StoreError::NotFound)?;
        let hash = TokenHash::from_stored(&entry[prefix.len()..]);
        let delete = Delete::builder()
            .table_name(self.table())
            .key(PARTITION_KEY, s(key_item_key(&hash)))
            .build()
            .map_err(backend)?;
        let index = Update::builder()
            .table_name(self.table())
            .key(PARTITION_KEY, s(index_key(user)))
            .update_expression("DELETE #keys :entry")
            .condition_expression("contains(#keys, :one)")
            .expression_attribute_names("#keys", KEYS)
            .expression_attribute_values(":entry", AttributeValue::Ss(vec![entry.clone()]))
            .expression_attribute_values(":one", s(entry))
            .build()
            .map_err(backend)?;
        let result = self
            .client()
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().delete(delete).build())
            .transact_items(TransactWriteItem::builder().update(index).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => match failed_condition(&err) {
                Some(_) => Err(StoreError::NotFound),
                None => Err(dynamo(err)),
            },
        }
    }
}
