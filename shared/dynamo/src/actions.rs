//! `ActionTokenStore` on the users table: `action#<sha256 hex>` items with the `expires_at` TTL
//! attribute. Taking a token is one `DeleteItem` conditioned on the item existing and returning
//! the old item: atomic, so a token works once however many requests race for it.

use std::collections::HashMap;

use async_trait::async_trait;
use authgate_users::{ActionRecord, ActionTokenStore, StoreError, TokenHash, TokenPurpose};
use aws_sdk_dynamodb::types::ReturnValue;

use crate::{DynamoUserStore, PARTITION_KEY, TTL_ATTRIBUTE, dynamo, get_id, get_n, get_s, n, s};

fn action_key(hash: &TokenHash) -> String {
    format!("action#{}", hash.as_str())
}

#[async_trait]
impl ActionTokenStore for DynamoUserStore {
    async fn put_action(&self, hash: &TokenHash, record: &ActionRecord) -> Result<(), StoreError> {
        let item = HashMap::from([
            (PARTITION_KEY.to_owned(), s(action_key(hash))),
            ("kind".to_owned(), s("action")),
            ("purpose".to_owned(), s(record.purpose.as_str())),
            ("user_id".to_owned(), s(record.user_id.to_string())),
            ("binding".to_owned(), s(record.binding.as_str())),
            ("expires_at_ms".to_owned(), n(record.expires_at_ms)),
            (TTL_ATTRIBUTE.to_owned(), n(record.expires_at_ms / 1000 + 1)),
        ]);
        self.client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(item))
            .send()
            .await
            .map_err(dynamo)?;
        Ok(())
    }

    async fn take_action(&self, hash: &TokenHash) -> Result<Option<ActionRecord>, StoreError> {
        // Conditioned on the item existing: of concurrent takes, only the one whose delete
        // removed it gets the old item; the others fail the condition.
        let output = match self
            .client()
            .delete_item()
            .table_name(self.table())
            .key(PARTITION_KEY, s(action_key(hash)))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .return_values(ReturnValue::AllOld)
            .send()
            .await
        {
            Ok(output) => output,
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                return Ok(None);
            }
            Err(err) => return Err(dynamo(err)),
        };
        let Some(item) = output.attributes.filter(|a| !a.is_empty()) else {
            return Ok(None);
        };
        Ok(Some(ActionRecord {
            purpose: TokenPurpose::from_stored(get_s(&item, "purpose")?)
                .ok_or_else(|| StoreError::Corrupt("action token purpose".into()))?,
            user_id: get_id(&item, "user_id")?,
            binding: get_s(&item, "binding")?.to_owned(),
            expires_at_ms: get_n(&item, "expires_at_ms")?,
        }))
    }
}
