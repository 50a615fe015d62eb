//! `ThrottleStore` on the users table: `throttle#<key>` items, each with the `expires_at` TTL
//! attribute so DynamoDB deletes it after it expires. Counters are one `UpdateItem` with `ADD`
//! (atomic, no read first); a backoff is replaced with a `PutItem` conditioned on the item being
//! as it was read (compare and set).

use std::collections::HashMap;

use async_trait::async_trait;
use authgate_users::{Backoff, StoreError, ThrottleKey, ThrottleStore};
use aws_sdk_dynamodb::types::ReturnValue;

use crate::{DynamoUserStore, PARTITION_KEY, TTL_ATTRIBUTE, dynamo, get_n, n, s};

fn throttle_key(key: &ThrottleKey) -> String {
    format!("throttle#{}", key.as_str())
}

#[async_trait]
impl ThrottleStore for DynamoUserStore {
    async fn backoff(&self, key: &ThrottleKey) -> Result<Option<Backoff>, StoreError> {
        let output = self
            .client()
            .get_item()
            .table_name(self.table())
            .key(PARTITION_KEY, s(throttle_key(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(dynamo)?;
        let Some(item) = output.item else {
            return Ok(None);
        };
        Ok(Some(Backoff {
            failures: u32::try_from(get_n(&item, "failures")?)
                .map_err(|_| StoreError::Corrupt("throttle failures out of range".into()))?,
            locked_until_ms: get_n(&item, "locked_until_ms")?,
            expires_at_ms: get_n(&item, "expires_at_ms")?,
        }))
    }

    async fn swap_backoff(
        &self,
        key: &ThrottleKey,
        seen: Option<&Backoff>,
        next: &Backoff,
    ) -> Result<bool, StoreError> {
        let item = HashMap::from([
            (PARTITION_KEY.to_owned(), s(throttle_key(key))),
            ("kind".to_owned(), s("throttle")),
            ("failures".to_owned(), n(i64::from(next.failures))),
            ("locked_until_ms".to_owned(), n(next.locked_until_ms)),
            ("expires_at_ms".to_owned(), n(next.expires_at_ms)),
            (TTL_ATTRIBUTE.to_owned(), n(next.expires_at_ms / 1000 + 1)),
        ]);
        let put = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(item))
            .expression_attribute_names("#pk", PARTITION_KEY);
        let put = match seen {
            None => put.condition_expression("attribute_not_exists(#pk)"),
            Some(seen) => put
                .condition_expression(
                    "failures = :failures AND locked_until_ms = :locked AND expires_at_ms = :expires \
                     AND attribute_exists(#pk)",
                )
                .expression_attribute_values(":failures", n(i64::from(seen.failures)))
                .expression_attribute_values(":locked", n(seen.locked_until_ms))
                .expression_attribute_values(":expires", n(seen.expires_at_ms)),
        };
        match put.send().await {
            Ok(_) => Ok(true),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(err) => Err(dynamo(err)),
        }
    }

    async fn clear_backoff(&self, key: &ThrottleKey) -> Result<(), StoreError> {
        self.client()
            .delete_item()
            .table_name(self.table())
            .key(PARTITION_KEY, s(throttle_key(key)))
            .send()
            .await
            .map_err(dynamo)?;
        Ok(())
    }

    async fn add(
        &self,
        key: &ThrottleKey,
        delta: i64,
        expires_at_ms: i64,
    ) -> Result<i64, StoreError> {
        let output = self
            .client()
            .update_item()
            .table_name(self.table())
            .key(PARTITION_KEY, s(throttle_key(key)))
            .update_expression(
                "ADD #count :delta SET #kind = :kind, expires_at_ms = if_not_exists(expires_at_ms, :expires), \
                 #ttl = if_not_exists(#ttl, :ttl)",
            )
            .expression_attribute_names("#count", "count")
            .expression_attribute_names("#kind", "kind")
            .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
            .expression_attribute_values(":delta", n(delta))
            .expression_attribute_values(":kind", s("throttle"))
            .expression_attribute_values(":expires", n(expires_at_ms))
            .expression_attribute_values(":ttl", n(expires_at_ms / 1000 + 1))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(dynamo)?;
        get_n(&output.attributes.unwrap_or_default(), "count")
    }
}
