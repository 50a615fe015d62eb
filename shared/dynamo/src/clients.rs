//! `ClientStore` on the users table: `client#<id>` items of kind `client`. Creating is a
//! `PutItem` conditioned on the item being new; an update is a `PutItem` of the next version
//! conditioned on the stored version being the one read; listing is one bounded `Scan` a page,
//! as for users.

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use authgate_users::{
    Client, ClientId, ClientPage, ClientState, ClientStore, PreviousSecret, StoreError, TokenHash,
    decode_cursor,
};
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::{
    DynamoUserStore, Item, KIND_REVOKED, PARTITION_KEY, dynamo, get_bool, get_id, get_n, get_s, n,
    revoked_key, s,
};

const KIND_CLIENT: &str = "client";

/// Every attribute the authorizer's client check reads. Its IAM policy in `template.yaml` allows
/// reading these and [`crate::SESSION_CHECK_ATTRIBUTES`] only (never a secret hash), which
/// `cli/tests/it/template_policies.rs` checks.
pub const CLIENT_CHECK_ATTRIBUTES: [&str; 4] = [PARTITION_KEY, "kind", "disabled", "scopes"];
const CLIENT_PREFIX: &str = "client#";

fn client_key(id: ClientId) -> String {
    format!("{CLIENT_PREFIX}{id}")
}

fn item_of(client: &Client) -> Result<Item, StoreError> {
    let ttl = |secs: u64| i64::try_from(secs).map_err(|_| StoreError::Corrupt("client TTL".into()));
    let mut item = HashMap::from([
        (PARTITION_KEY.to_owned(), s(client_key(client.id))),
        ("kind".to_owned(), s(KIND_CLIENT)),
        ("id".to_owned(), s(client.id.to_string())),
        ("name".to_owned(), s(client.name.as_str())),
        (
            "scopes".to_owned(),
            AttributeValue::L(
                client
                    .scopes
                    .iter()
                    .map(|scope| s(scope.as_str()))
                    .collect(),
            ),
        ),
        ("created_at_ms".to_owned(), n(client.created_at_ms)),
        (
            "secret_rotated_at_ms".to_owned(),
            n(client.secret_rotated_at_ms),
        ),
        ("disabled".to_owned(), AttributeValue::Bool(client.disabled)),
        ("secret_hash".to_owned(), s(client.secret_hash.as_str())),
        (
            "version".to_owned(),
            n(i64::try_from(client.version).map_err(|_| StoreError::Corrupt("version".into()))?),
        ),
    ]);
    if let Some(audience) = &client.audience {
        item.insert("audience".to_owned(), s(audience.as_str()));
    }
    if let Some(secs) = client.access_token_ttl_secs {
        item.insert("access_token_ttl_secs".to_owned(), n(ttl(secs)?));
    }
    if let Some(previous) = &client.previous_secret {
        item.insert("previous_secret_hash".to_owned(), s(previous.hash.as_str()));
        item.insert(
            "previous_secret_valid_until_ms".to_owned(),
            n(previous.valid_until_ms),
        );
    }
    Ok(item)
}

fn scopes_of(item: &Item) -> Result<BTreeSet<String>, StoreError> {
    match item.get("scopes") {
        Some(AttributeValue::L(values)) => values
            .iter()
            .map(|v| {
                v.as_s()
                    .cloned()
                    .map_err(|_| StoreError::Corrupt("client scope".into()))
            })
            .collect(),
        _ => Err(StoreError::Corrupt("client scopes".into())),
    }
}

fn client_from_item(item: &Item) -> Result<Client, StoreError> {
    let optional_n = |name: &str| {
        item.contains_key(name)
            .then(|| get_n(item, name))
            .transpose()
    };
    let scopes = scopes_of(item)?;
    let previous_secret = match (
        item.get("previous_secret_hash").and_then(|v| v.as_s().ok()),
        optional_n("previous_secret_valid_until_ms")?,
    ) {
        (Some(hash), Some(valid_until_ms)) => Some(PreviousSecret {
            hash: TokenHash::from_stored(hash.as_str()),
            valid_until_ms,
        }),
        _ => None,
    };
    let unsigned =
        |value: i64| u64::try_from(value).map_err(|_| StoreError::Corrupt("client".into()));
    Ok(Client {
        id: get_id(item, "id")?,
        name: get_s(item, "name")?.to_owned(),
        scopes,
        audience: item.get("audience").and_then(|v| v.as_s().ok()).cloned(),
        access_token_ttl_secs: optional_n("access_token_ttl_secs")?
            .map(unsigned)
            .transpose()?,
        created_at_ms: get_n(item, "created_at_ms")?,
        secret_rotated_at_ms: get_n(item, "secret_rotated_at_ms")?,
        disabled: get_bool(item, "disabled"),
        secret_hash: TokenHash::from_stored(get_s(item, "secret_hash")?),
        previous_secret,
        version: unsigned(get_n(item, "version")?)?,
    })
}

/// Whether a write failed its condition.
fn condition_failed<E, R>(err: &SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    matches!(err, SdkError::ServiceError(e) if e.err().code() == Some("ConditionalCheckFailedException"))
}

impl DynamoUserStore {
    /// A client token's check: the client and the token's revocation in one `BatchGetItem`
    /// projected onto [`CLIENT_CHECK_ATTRIBUTES`], as the authorizer's IAM policy allows.
    pub(crate) async fn read_client_token(
        &self,
        id: ClientId,
        jti: &str,
    ) -> Result<Option<ClientState>, StoreError> {
        let items = self
            .projected_reads(
                &[client_key(id), revoked_key(jti)],
                &CLIENT_CHECK_ATTRIBUTES,
            )
            .await?;
        let mut client = None;
        let mut token_revoked = false;
        for item in &items {
            match get_s(item, "kind")? {
                KIND_CLIENT => {
                    client = Some((get_bool(item, "disabled"), scopes_of(item)?));
                }
                KIND_REVOKED => token_revoked = true,
                _ => {}
            }
        }
        Ok(client.map(|(disabled, scopes)| ClientState {
            disabled,
            scopes,
            token_revoked,
        }))
    }
}

#[async_trait]
impl ClientStore for DynamoUserStore {
    async fn create_client(&self, client: &Client) -> Result<(), StoreError> {
        let result = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(item_of(client)?))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if condition_failed(&err) => Err(StoreError::Changed),
            Err(err) => Err(dynamo(err)),
        }
    }

    async fn client(&self, id: ClientId) -> Result<Option<Client>, StoreError> {
        let output = self
            .client()
            .get_item()
            .table_name(self.table())
            .key(PARTITION_KEY, s(client_key(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(dynamo)?;
        output.item().map(client_from_item).transpose()
    }

    async fn clients(&self, limit: usize, cursor: Option<&str>) -> Result<ClientPage, StoreError> {
        let start = cursor
            .map(decode_cursor)
            .transpose()?
            .map(|pk| match pk.strip_prefix(CLIENT_PREFIX) {
                Some(id) if id.parse::<ClientId>().is_ok() => Ok(pk),
                _ => Err(StoreError::BadCursor),
            })
            .transpose()?;
        let (items, next) = self.scan_page(KIND_CLIENT, limit, start).await?;
        let clients = items
            .iter()
            .map(client_from_item)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ClientPage { clients, next })
    }

    async fn update_client(&self, client: &Client) -> Result<(), StoreError> {
        let read =
            i64::try_from(client.version).map_err(|_| StoreError::Corrupt("version".into()))?;
        let next = Client {
            version: client.version + 1,
            ..client.clone()
        };
        let result = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(item_of(&next)?))
            .condition_expression("attribute_exists(#pk) AND #version = :read")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":read", n(read))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if condition_failed(&err) => match ClientStore::client(self, client.id).await?
            {
                Some(_) => Err(StoreError::Changed),
                None => Err(StoreError::NotFound),
            },
            Err(err) => Err(dynamo(err)),
        }
    }

    async fn delete_client(&self, id: ClientId) -> Result<(), StoreError> {
        let result = self
            .client()
            .delete_item()
            .table_name(self.table())
            .key(PARTITION_KEY, s(client_key(id)))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if condition_failed(&err) => Err(StoreError::NotFound),
            Err(err) => Err(dynamo(err)),
        }
    }
}
