//! `SessionStore` on the users table: sessions, refresh-token hashes, and the per-user logout-all
//! cut-off on the user item.
//!
//! Items: `session#<sid>` and `refresh#<sha256 hex>`, both with the `expires_at` TTL attribute so
//! DynamoDB deletes them after they expire; the session item names its one live refresh token in
//! `refresh_head`. A refresh is one transaction: mark the presented token consumed (conditioned on
//! it being unconsumed, or on the consumption seen within the grace period), move the session's
//! head to the next token (conditioned on the session being as read: same head, not revoked),
//! check that the user item is as read, and put the next token. Of two concurrent refreshes
//! exactly one transaction commits; the other re-reads and is classified.
//!
//! The session check reads only the attributes the decision needs (a projection): the user's
//! password hash, email, roles and claims never reach the authorizer.

use std::collections::HashMap;

use async_trait::async_trait;
use authgate_users::UserStore;
use authgate_users::{
    ClientId, ClientState, RefreshError, RefreshRecord, Rotated, RotationDecision, RotationPolicy,
    Session, SessionId, SessionState, SessionStore, StoreError, TokenChecks, TokenHash, User,
    UserId, decide_rotation,
};
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, KeysAndAttributes, Put, TransactWriteItem, Update,
};

use crate::{
    CUT_OFF, Condition, DynamoUserStore, KIND_REVOKED, PARTITION_KEY, TTL_ATTRIBUTE, backend,
    cut_off, dynamo, failed_condition, get_bool, get_id, get_n, get_s, n, revoked_key, s, user_key,
};

/// Every attribute the session check reads, from the session and the user item. The authorizer's
/// IAM policy in `template.yaml` allows reading exactly these (`dynamodb:Attributes`), which
/// `cli/tests/it/template_policies.rs` checks.
pub const SESSION_CHECK_ATTRIBUTES: [&str; 9] = [
    PARTITION_KEY,
    "kind",
    "sid",
    "user_id",
    "created_at_ms",
    "expires_at_ms",
    "revoked",
    "disabled",
    "sessions_valid_after_ms",
];

/// The session item's attribute naming its one live refresh token (by hash).
const HEAD_ATTRIBUTE: &str = "refresh_head";

/// Attempts at a refresh before giving up on contention.
const ROTATE_ATTEMPTS: u32 = 6;

type Item = HashMap<String, AttributeValue>;

fn session_key(id: SessionId) -> String {
    format!("session#{id}")
}

fn refresh_key(hash: &TokenHash) -> String {
    format!("refresh#{}", hash.as_str())
}

fn session_from_item(item: &Item) -> Result<Session, StoreError> {
    Ok(Session {
        id: get_id(item, "sid")?,
        user_id: get_id(item, "user_id")?,
        created_at_ms: get_n(item, "created_at_ms")?,
        expires_at_ms: get_n(item, "expires_at_ms")?,
        revoked: get_bool(item, "revoked"),
    })
}

fn refresh_from_item(item: &Item) -> Result<RefreshRecord, StoreError> {
    Ok(RefreshRecord {
        session: get_id(item, "sid")?,
        user_id: get_id(item, "user_id")?,
        expires_at_ms: get_n(item, "expires_at_ms")?,
        consumed_at_ms: item
            .get("consumed_at_ms")
            .map(|_| get_n(item, "consumed_at_ms"))
            .transpose()?,
    })
}

fn refresh_item(hash: &TokenHash, session: &Session, expires_at_ms: i64) -> Item {
    HashMap::from([
        (PARTITION_KEY.to_owned(), s(refresh_key(hash))),
        ("kind".to_owned(), s("refresh")),
        ("sid".to_owned(), s(session.id.to_string())),
        ("user_id".to_owned(), s(session.user_id.to_string())),
        ("expires_at_ms".to_owned(), n(expires_at_ms)),
        (TTL_ATTRIBUTE.to_owned(), n(expires_at_ms / 1000 + 1)),
    ])
}

impl DynamoUserStore {
    fn put_new(&self, item: Item) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(self.table())
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .build()
            .map_err(backend)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    async fn read_refresh(&self, hash: &TokenHash) -> Result<Option<RefreshRecord>, StoreError> {
        let output = self
            .client()
            .get_item()
            .table_name(self.table())
            .key(PARTITION_KEY, s(refresh_key(hash)))
            .consistent_read(true)
            .send()
            .await
            .map_err(dynamo)?;
        output.item.as_ref().map(refresh_from_item).transpose()
    }

    /// The items under `keys`, strongly consistent, in one `BatchGetItem` projected onto
    /// `attributes` (what a token check may read: the authorizer's IAM policy allows no other),
    /// retried for keys DynamoDB leaves unprocessed.
    pub(crate) async fn projected_reads(
        &self,
        keys: &[String],
        attributes: &[&str],
    ) -> Result<Vec<Item>, StoreError> {
        let names: HashMap<String, String> = attributes
            .iter()
            .enumerate()
            .map(|(i, name)| (format!("#a{i}"), (*name).to_owned()))
            .collect();
        let projection = (0..attributes.len())
            .map(|i| format!("#a{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let keys = KeysAndAttributes::builder()
            .set_keys(Some(
                keys.iter()
                    .map(|key| HashMap::from([(PARTITION_KEY.to_owned(), s(key.as_str()))]))
                    .collect(),
            ))
            .projection_expression(projection)
            .set_expression_attribute_names(Some(names))
            .consistent_read(true)
            .build()
            .map_err(backend)?;
        let mut request = HashMap::from([(self.table().to_owned(), keys)]);
        let mut items: Vec<Item> = Vec::new();
        for _ in 0..5 {
            let output = self
                .client()
                .batch_get_item()
                .set_request_items(Some(request.clone()))
                .send()
                .await
                .map_err(dynamo)?;
            if let Some(mut responses) = output.responses {
                items.extend(responses.remove(self.table()).unwrap_or_default());
            }
            match output.unprocessed_keys {
                Some(unprocessed) if !unprocessed.is_empty() => request = unprocessed,
                _ => break,
            }
        }
        Ok(items)
    }

    /// The session and user facts, strongly consistent, in one `BatchGetItem` projected onto the
    /// attributes the decisions read; with the session's refresh head when `with_head`, and
    /// whether the access token `token` was revoked when one is named.
    async fn read_state(
        &self,
        session: SessionId,
        user: UserId,
        with_head: bool,
        token: Option<&str>,
    ) -> Result<SessionState, StoreError> {
        let mut attributes = SESSION_CHECK_ATTRIBUTES.to_vec();
        if with_head {
            attributes.push(HEAD_ATTRIBUTE);
        }
        let mut keys = vec![session_key(session), user_key(user)];
        keys.extend(token.map(revoked_key));
        let items = self.projected_reads(&keys, &attributes).await?;
        let mut state = SessionState::default();
        for item in &items {
            match get_s(item, "kind")? {
                "session" => {
                    let found = session_from_item(item)?;
                    if found.user_id == user {
                        state.session = Some(found);
                        state.refresh_head = item
                            .get(HEAD_ATTRIBUTE)
                            .and_then(|v| v.as_s().ok())
                            .map(TokenHash::from_stored);
                    }
                }
                "user" => {
                    state.user_disabled = Some(get_bool(item, "disabled"));
                    state.sessions_valid_after_ms = cut_off(item)?;
                }
                KIND_REVOKED => state.token_revoked = true,
                _ => {}
            }
        }
        Ok(state)
    }

    /// One rotation attempt; `Ok(None)` means the transaction lost a race and must be retried.
    async fn try_rotate(
        &self,
        presented: &TokenHash,
        next: &TokenHash,
        now_ms: i64,
        policy: RotationPolicy,
    ) -> Result<Option<Rotated>, RefreshError> {
        let record = self.read_refresh(presented).await?;
        let state = match &record {
            Some(r) => self.read_state(r.session, r.user_id, true, None).await?,
            None => SessionState::default(),
        };
        let rotated = match decide_rotation(presented, record.as_ref(), &state, now_ms, policy) {
            RotationDecision::Rotate(rotated) => rotated,
            RotationDecision::Refuse(error) => return Err(error),
            RotationDecision::EndSession(id) => {
                self.revoke(id).await?;
                return Err(RefreshError::Reused);
            }
        };
        let Some(record) = record else {
            return Err(RefreshError::Unknown);
        };

        let consume = match record.consumed_at_ms {
            None => Update::builder()
                .condition_expression("attribute_not_exists(consumed_at_ms)")
                .update_expression("SET consumed_at_ms = :now")
                .expression_attribute_values(":now", n(now_ms)),
            Some(seen) => Update::builder()
                .condition_expression("consumed_at_ms = :seen")
                .update_expression("SET consumed_at_ms = :seen")
                .expression_attribute_values(":seen", n(seen)),
        }
        .table_name(self.table())
        .key(PARTITION_KEY, s(refresh_key(presented)))
        .build()
        .map_err(backend)?;
        // The decision above was made on what was read; the transaction commits only if the
        // session and user items still say exactly that (optimistic concurrency, no second rule).
        let head_unchanged = match &state.refresh_head {
            Some(_) => "#head = :head",
            None => "attribute_not_exists(#head)",
        };
        let mut move_head = Update::builder()
            .table_name(self.table())
            .key(PARTITION_KEY, s(session_key(rotated.session.id)))
            .condition_expression(format!("revoked = :revoked AND {head_unchanged}"))
            .update_expression("SET #head = :next")
            .expression_attribute_names("#head", HEAD_ATTRIBUTE)
            .expression_attribute_values(":revoked", AttributeValue::Bool(rotated.session.revoked))
            .expression_attribute_values(":next", s(next.as_str()));
        if let Some(head) = &state.refresh_head {
            move_head = move_head.expression_attribute_values(":head", s(head.as_str()));
        }
        let move_head = move_head.build().map_err(backend)?;
        let user_unchanged = ConditionCheck::builder()
            .table_name(self.table())
            .key(PARTITION_KEY, s(user_key(rotated.session.user_id)))
            .condition_expression(
                "attribute_exists(#pk) AND disabled = :disabled AND \
                 (attribute_not_exists(sessions_valid_after_ms) OR sessions_valid_after_ms = :cut_off)",
            )
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_values(
                ":disabled",
                AttributeValue::Bool(state.user_disabled.unwrap_or(true)),
            )
            .expression_attribute_values(":cut_off", n(state.sessions_valid_after_ms))
            .build()
            .map_err(backend)?;
        let result = self
            .client()
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(consume).build())
            .transact_items(TransactWriteItem::builder().update(move_head).build())
            .transact_items(
                TransactWriteItem::builder()
                    .condition_check(user_unchanged)
                    .build(),
            )
            .transact_items(self.put_new(refresh_item(
                next,
                &rotated.session,
                rotated.refresh_expires_at_ms,
            ))?)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Some(rotated)),
            Err(err) if matches!(
                err.as_service_error(),
                Some(aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(_))
            ) => Ok(None),
            Err(err) => Err(dynamo(err).into()),
        }
    }
}

#[async_trait]
impl SessionStore for DynamoUserStore {
    async fn start(
        &self,
        session: &Session,
        first: &TokenHash,
        first_expires_at_ms: i64,
        as_read: &User,
    ) -> Result<(), StoreError> {
        if as_read.id != session.user_id {
            return Err(StoreError::Changed);
        }
        // The rule of `authgate_users::may_start`, as a condition on the user item.
        let user_as_read = ConditionCheck::builder()
            .table_name(self.table())
            .key(PARTITION_KEY, s(user_key(session.user_id)))
            .condition_expression(format!(
                "attribute_exists(#pk) AND (attribute_not_exists(disabled) OR disabled = :false) \
                 AND password_hash = :hash \
                 AND (attribute_not_exists({CUT_OFF}) OR {CUT_OFF} < :created)"
            ))
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_values(":false", AttributeValue::Bool(false))
            .expression_attribute_values(":hash", s(as_read.password_hash.as_phc()))
            .expression_attribute_values(":created", n(session.created_at_ms))
            .build()
            .map_err(backend)?;
        let session_item = HashMap::from([
            (PARTITION_KEY.to_owned(), s(session_key(session.id))),
            ("kind".to_owned(), s("session")),
            ("sid".to_owned(), s(session.id.to_string())),
            ("user_id".to_owned(), s(session.user_id.to_string())),
            ("created_at_ms".to_owned(), n(session.created_at_ms)),
            ("expires_at_ms".to_owned(), n(session.expires_at_ms)),
            (
                TTL_ATTRIBUTE.to_owned(),
                n(session.expires_at_ms / 1000 + 1),
            ),
            ("revoked".to_owned(), AttributeValue::Bool(session.revoked)),
            (HEAD_ATTRIBUTE.to_owned(), s(first.as_str())),
        ]);
        let result = self
            .client()
            .transact_write_items()
            .transact_items(self.put_new(session_item)?)
            .transact_items(self.put_new(refresh_item(first, session, first_expires_at_ms))?)
            .transact_items(
                TransactWriteItem::builder()
                    .condition_check(user_as_read)
                    .build(),
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if failed_condition(&err) == Some(2) => Err(StoreError::Changed),
            Err(err) => Err(dynamo(err)),
        }
    }

    async fn rotate(
        &self,
        presented: &TokenHash,
        next: &TokenHash,
        now_ms: i64,
        policy: RotationPolicy,
    ) -> Result<Rotated, RefreshError> {
        for _ in 0..ROTATE_ATTEMPTS {
            if let Some(rotated) = self.try_rotate(presented, next, now_ms, policy).await? {
                return Ok(rotated);
            }
        }
        Err(StoreError::Backend("refresh token rotation kept conflicting".into()).into())
    }

    async fn revoke(&self, session: SessionId) -> Result<(), StoreError> {
        // Revoking a session that does not exist leaves nothing alive: done either way.
        self.set_on_existing(session_key(session), "revoked", AttributeValue::Bool(true))
            .await
            .map(|_| ())
    }

    /// One `UpdateItem` conditioned on the stored cut-off being earlier (then `now_ms` is
    /// `raised_cut_off`'s answer); otherwise, rarely (a clock behind the last cut-off's), the
    /// read-then-conditional-write of an update, which raises it past the stored one.
    async fn revoke_all(&self, user: UserId, now_ms: i64) -> Result<(), StoreError> {
        let mut later = Condition::default();
        later.clause(
            &format!("(attribute_not_exists({CUT_OFF}) OR {CUT_OFF} < :cut)"),
            ":cut",
            n(now_ms),
        );
        let raised = self
            .update_if(user_key(user), vec![(CUT_OFF, n(now_ms))], later)
            .await?;
        if raised.is_some() {
            return Ok(());
        }
        let changes = authgate_users::UserChanges {
            end_sessions_at_ms: Some(now_ms),
            ..Default::default()
        };
        self.update(user, changes).await.map(|_| ())
    }

    /// One strongly consistent `BatchGetItem` of the session and the user, projected onto what
    /// the decision reads: the read the authorizer pays per uncached call.
    async fn state(&self, session: SessionId, user: UserId) -> Result<SessionState, StoreError> {
        self.read_state(session, user, false, None).await
    }

    async fn refresh_record(&self, token: &TokenHash) -> Result<Option<RefreshRecord>, StoreError> {
        self.read_refresh(token).await
    }
}

/// Revoked access tokens are `revoked#<jti>` items of kind `revoked`, which DynamoDB's TTL
/// deletes once the token has expired; the checks read them in the same `BatchGetItem` as the
/// token's session and user, or its client.
#[async_trait]
impl TokenChecks for DynamoUserStore {
    async fn revoke_access_token(&self, jti: &str, expires_at_ms: i64) -> Result<(), StoreError> {
        self.client()
            .put_item()
            .table_name(self.table())
            .item(PARTITION_KEY, s(revoked_key(jti)))
            .item("kind", s(KIND_REVOKED))
            .item(TTL_ATTRIBUTE, n(expires_at_ms / 1000 + 1))
            .send()
            .await
            .map_err(dynamo)?;
        Ok(())
    }

    async fn access_token_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        let items = self
            .projected_reads(&[revoked_key(jti)], &[PARTITION_KEY, "kind"])
            .await?;
        Ok(!items.is_empty())
    }

    async fn user_token(
        &self,
        session: SessionId,
        user: UserId,
        jti: &str,
    ) -> Result<SessionState, StoreError> {
        self.read_state(session, user, false, Some(jti)).await
    }

    async fn client_token(
        &self,
        client: ClientId,
        jti: &str,
    ) -> Result<Option<ClientState>, StoreError> {
        self.read_client_token(client, jti).await
    }

    async fn api_key_token(
        &self,
        hash: &TokenHash,
        user: UserId,
    ) -> Result<authgate_users::ApiKeyState, StoreError> {
        self.read_api_key_token(hash, user).await
    }
}
