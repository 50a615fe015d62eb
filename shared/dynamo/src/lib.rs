//! `UserStore` on DynamoDB: one table, O(1) lookups, uniqueness that holds under concurrency.
//!
//! Two items per user in one table keyed by `pk`:
//! - `user#<id>` holds the user;
//! - `email#<normalized email>` holds the id, and exists only to make the email unique.
//!
//! Registration writes both in one transaction, each conditioned on `attribute_not_exists(pk)`,
//! so two concurrent registrations of one email can never both commit: there is no
//! read-then-write window. Lookups by id are one `GetItem`; by email two, both strongly consistent.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use std::collections::BTreeSet;

use authgate_users::{
    ADMIN_ROLE, CustomClaims, Email, NewUser, PasswordHash, StoreError, User, UserChanges, UserId,
    UserPage, UserStore, decode_cursor, encode_cursor, raised_cut_off,
};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, Delete, KeySchemaElement, KeyType, Put,
    ScalarAttributeType, TimeToLiveSpecification, TransactWriteItem, Update,
};
use chrono::{DateTime, Utc};

mod actions;
mod api_keys;
mod clients;
mod sessions;
mod throttle;
pub use api_keys::{API_KEY_CHECK_ATTRIBUTES, API_KEY_CHECK_USER_ATTRIBUTES};
pub use clients::CLIENT_CHECK_ATTRIBUTES;
pub use sessions::SESSION_CHECK_ATTRIBUTES;

/// The partition key attribute of the table.
pub const PARTITION_KEY: &str = "pk";
/// The attribute DynamoDB's TTL deletes expired items by (refresh tokens use it).
pub const TTL_ATTRIBUTE: &str = "expires_at";

/// The kind of a revoked access token's item.
pub(crate) const KIND_REVOKED: &str = "revoked";

/// The key of the item that says the access token `jti` was revoked.
pub(crate) fn revoked_key(jti: &str) -> String {
    format!("revoked#{jti}")
}

const KIND_USER: &str = "user";
const KIND_EMAIL: &str = "email";
/// Attempts at a registration transaction that DynamoDB cancelled for a conflicting transaction.
const CONFLICT_ATTEMPTS: u32 = 8;
/// Attempts at an update whose item changed between its read and its conditional write.
const UPDATE_ATTEMPTS: u32 = 5;
/// The user item's attribute holding logout-all's cut-off.
pub(crate) const CUT_OFF: &str = "sessions_valid_after_ms";

pub(crate) type Item = HashMap<String, AttributeValue>;

/// Users in a DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoUserStore {
    client: Client,
    table: String,
}

pub(crate) fn user_key(id: UserId) -> String {
    format!("user#{id}")
}

fn email_key(email: &Email) -> String {
    format!("email#{}", email.normalized())
}

pub(crate) fn backend<E: std::error::Error + Send + Sync + 'static>(err: E) -> StoreError {
    StoreError::Backend(Box::new(err))
}

/// A DynamoDB number.
pub(crate) fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// The number attribute `name`.
pub(crate) fn get_n(item: &Item, name: &str) -> Result<i64, StoreError> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| StoreError::Corrupt(format!("attribute {name} missing or not a number")))
}

/// The UUID attribute `name`.
pub(crate) fn get_id(item: &Item, name: &str) -> Result<uuid::Uuid, StoreError> {
    get_s(item, name)?
        .parse()
        .map_err(|_| StoreError::Corrupt(format!("attribute {name} is not a UUID")))
}

/// An SDK error of any operation, kept as the source: `Unavailable` when DynamoDB did not answer
/// in time or could not be reached (the SDK's attempt and operation timeouts, a connection that
/// failed), else `Backend`.
pub(crate) fn dynamo<E, R>(err: SdkError<E, R>) -> StoreError
where
    aws_sdk_dynamodb::Error: From<SdkError<E, R>>,
{
    let unavailable = match &err {
        SdkError::TimeoutError(_) => true,
        SdkError::DispatchFailure(failure) => failure.is_timeout() || failure.is_io(),
        _ => false,
    };
    let source = aws_sdk_dynamodb::Error::from(err);
    if unavailable {
        StoreError::Unavailable(Box::new(source))
    } else {
        backend(source)
    }
}

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(crate) fn get_s<'a>(item: &'a Item, name: &str) -> Result<&'a str, StoreError> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        .ok_or_else(|| StoreError::Corrupt(format!("attribute {name} missing or not a string")))
}

pub(crate) fn get_bool(item: &Item, name: &str) -> bool {
    item.get(name)
        .and_then(|v| v.as_bool().ok())
        .copied()
        .unwrap_or(false)
}

fn user_item(user: &User) -> Item {
    HashMap::from([
        (PARTITION_KEY.to_owned(), s(user_key(user.id))),
        ("kind".to_owned(), s(KIND_USER)),
        ("id".to_owned(), s(user.id.to_string())),
        ("email".to_owned(), s(user.email.as_str())),
        ("email_normalized".to_owned(), s(user.email.normalized())),
        ("password_hash".to_owned(), s(user.password_hash.as_phc())),
        ("created_at".to_owned(), s(user.created_at.to_rfc3339())),
        ("disabled".to_owned(), AttributeValue::Bool(user.disabled)),
        (
            "email_verified".to_owned(),
            AttributeValue::Bool(user.email_verified),
        ),
        ("roles".to_owned(), roles_value(&user.roles)),
        ("claims".to_owned(), claims_value(&user.claims)),
    ])
}

/// Roles as a JSON array in a string (a DynamoDB string set cannot be empty).
fn roles_value(roles: &BTreeSet<String>) -> AttributeValue {
    s(serde_json::Value::from(roles.iter().cloned().collect::<Vec<_>>()).to_string())
}

fn claims_value(claims: &CustomClaims) -> AttributeValue {
    s(serde_json::Value::Object(claims.as_map().clone()).to_string())
}

/// The user's roles; a record written before roles existed has `superuser` instead, read as
/// the `admin` role.
pub(crate) fn roles_from_item(item: &Item) -> Result<BTreeSet<String>, StoreError> {
    let mut roles: BTreeSet<String> = match item.get("roles") {
        None => BTreeSet::new(),
        Some(_) => serde_json::from_str(get_s(item, "roles")?)
            .map_err(|_| StoreError::Corrupt("roles is not a JSON list of strings".into()))?,
    };
    if get_bool(item, "superuser") {
        roles.insert(ADMIN_ROLE.to_owned());
    }
    Ok(roles)
}

fn claims_from_item(item: &Item) -> Result<CustomClaims, StoreError> {
    match item.get("claims") {
        None => Ok(CustomClaims::default()),
        Some(_) => serde_json::from_str(get_s(item, "claims")?)
            .map_err(|e| StoreError::Corrupt(format!("claims are not valid: {e}"))),
    }
}

fn user_from_item(item: &Item) -> Result<User, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(what.to_owned());
    Ok(User {
        id: get_s(item, "id")?
            .parse()
            .map_err(|_| corrupt("id is not a UUID"))?,
        email: Email::parse(get_s(item, "email")?).map_err(|_| corrupt("email is invalid"))?,
        password_hash: PasswordHash::from_phc(get_s(item, "password_hash")?)
            .map_err(|_| corrupt("password_hash is not a PHC string"))?,
        created_at: DateTime::parse_from_rfc3339(get_s(item, "created_at")?)
            .map_err(|_| corrupt("created_at is not RFC 3339"))?
            .with_timezone(&Utc),
        disabled: get_bool(item, "disabled"),
        email_verified: get_bool(item, "email_verified"),
        roles: roles_from_item(item)?,
        claims: claims_from_item(item)?,
        sessions_valid_after_ms: cut_off(item)?,
    })
}

/// The user item's logout-all cut-off (absent: none yet).
pub(crate) fn cut_off(item: &Item) -> Result<i64, StoreError> {
    item.get(CUT_OFF)
        .map(|_| get_n(item, CUT_OFF))
        .transpose()
        .map(Option::unwrap_or_default)
}

impl DynamoUserStore {
    /// A store on `table`, which must exist with the schema of [`create_table`].
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// The table this store uses.
    pub fn table(&self) -> &str {
        &self.table
    }

    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// Sets `attribute` on the item `pk` if that item exists; `Ok(false)` if it does not.
    pub(crate) async fn set_on_existing(
        &self,
        pk: String,
        attribute: &str,
        value: AttributeValue,
    ) -> Result<bool, StoreError> {
        Ok(self
            .update_if(pk, vec![(attribute, value)], Condition::default())
            .await?
            .is_some())
    }

    /// Sets each attribute on the item `pk` if that item exists and `condition` holds, in one
    /// conditional update: the item as it is afterwards, or `None` if the condition failed.
    pub(crate) async fn update_if(
        &self,
        pk: String,
        sets: Vec<(&str, AttributeValue)>,
        condition: Condition,
    ) -> Result<Option<Item>, StoreError> {
        let set = SetExpression::of(sets);
        let expression = condition.expression();
        let mut values = set.values;
        values.extend(condition.values);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, s(pk))
            .condition_expression(expression)
            .update_expression(set.expression)
            .set_expression_attribute_names(Some(set.names))
            .set_expression_attribute_values((!values.is_empty()).then_some(values))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(output) => Ok(Some(output.attributes.unwrap_or_default())),
            Err(err)
                if matches!(
                    err.as_service_error(),
                    Some(UpdateItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                Ok(None)
            }
            Err(err) => Err(dynamo(err)),
        }
    }

    /// One attempt at `changes` on `current` (as just read): the user as stored afterwards, or
    /// `None` when the item changed since the read.
    async fn try_update(
        &self,
        current: &User,
        changes: &UserChanges,
    ) -> Result<Option<User>, StoreError> {
        let id = current.id;
        let mut sets = assignments(changes);
        if let Some(cut_off) = new_cut_off(changes, current) {
            sets.push((CUT_OFF, cut_off));
        }
        if sets.is_empty() {
            return Ok(Some(current.clone()));
        }
        let condition = Condition::user_as_read(current);
        let Some(new_key) = changes.new_email_key(&current.email) else {
            return self
                .update_if(user_key(id), sets, condition)
                .await?
                .map(|item| user_from_item(&item))
                .transpose();
        };
        // A new email moves the lock: the user item (still as read), the old lock (still this
        // user's) and the new lock (still free) change together or not at all.
        let set = SetExpression::of(sets);
        let mut values = set.values;
        values.extend(condition.values.clone());
        let update = Update::builder()
            .table_name(&self.table)
            .key(PARTITION_KEY, s(user_key(id)))
            .condition_expression(condition.expression())
            .update_expression(set.expression)
            .set_expression_attribute_names(Some(set.names))
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(backend)?;
        let release = self.release_email(&current.email, id)?;
        let lock = HashMap::from([
            (PARTITION_KEY.to_owned(), s(format!("email#{new_key}"))),
            ("kind".to_owned(), s(KIND_EMAIL)),
            ("user_id".to_owned(), s(id.to_string())),
        ]);
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(update).build())
            .transact_items(TransactWriteItem::builder().delete(release).build())
            .transact_items(self.put(lock)?)
            .send()
            .await;
        match result {
            Ok(_) => self.get_by_id(id).await,
            Err(err) => match failed_condition(&err) {
                Some(2) => Err(StoreError::DuplicateEmail),
                Some(_) => Ok(None),
                None => Err(dynamo(err)),
            },
        }
    }

    /// A strongly consistent scan of the table, kept to user items.
    fn scan_users(&self) -> aws_sdk_dynamodb::operation::scan::builders::ScanFluentBuilder {
        self.scan_kind(KIND_USER)
    }

    /// A strongly consistent `Scan` of the items of `kind`.
    fn scan_kind(
        &self,
        kind: &str,
    ) -> aws_sdk_dynamodb::operation::scan::builders::ScanFluentBuilder {
        self.client
            .scan()
            .table_name(&self.table)
            .filter_expression("kind = :kind")
            .expression_attribute_values(":kind", s(kind))
            .consistent_read(true)
    }

    /// One `Scan` call of at most `limit` items, kept to those of `kind`, after the item whose
    /// key is `start`: a bounded read whatever the table's size, with DynamoDB's
    /// `LastEvaluatedKey` as the next page's cursor.
    pub(crate) async fn scan_page(
        &self,
        kind: &str,
        limit: usize,
        start: Option<String>,
    ) -> Result<(Vec<Item>, Option<String>), StoreError> {
        let output = self
            .scan_kind(kind)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX).max(1))
            .set_exclusive_start_key(
                start.map(|pk| HashMap::from([(PARTITION_KEY.to_owned(), s(pk))])),
            )
            .send()
            .await
            .map_err(dynamo)?;
        let next = output
            .last_evaluated_key()
            .and_then(|key| key.get(PARTITION_KEY))
            .and_then(|pk| pk.as_s().ok())
            .map(|pk| encode_cursor(pk));
        Ok((output.items.unwrap_or_default(), next))
    }

    /// Deleting the lock of `email`, on the condition that it is still `id`'s.
    fn release_email(&self, email: &Email, id: UserId) -> Result<Delete, StoreError> {
        Delete::builder()
            .table_name(&self.table)
            .key(PARTITION_KEY, s(email_key(email)))
            .condition_expression("user_id = :id")
            .expression_attribute_values(":id", s(id.to_string()))
            .build()
            .map_err(backend)
    }

    fn put(&self, item: Item) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .build()
            .map_err(backend)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    async fn get_item(&self, pk: String) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, s(pk))
            .consistent_read(true)
            .send()
            .await
            .map_err(dynamo)?;
        Ok(output.item)
    }
}

/// Why a registration transaction was cancelled, from its per-item reasons.
enum Cancelled {
    EmailTaken,
    Conflict,
    Other,
}

/// `SET #a0 = :v0, …` for a list of attribute assignments, with its name and value maps.
struct SetExpression {
    expression: String,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl SetExpression {
    fn of(sets: Vec<(&str, AttributeValue)>) -> Self {
        let mut assignments = Vec::new();
        let mut names = HashMap::from([("#pk".to_owned(), PARTITION_KEY.to_owned())]);
        let mut values = HashMap::new();
        for (i, (attribute, value)) in sets.into_iter().enumerate() {
            assignments.push(format!("#a{i} = :v{i}"));
            names.insert(format!("#a{i}"), attribute.to_owned());
            values.insert(format!(":v{i}"), value);
        }
        Self {
            expression: format!("SET {}", assignments.join(", ")),
            names,
            values,
        }
    }
}

/// A condition on an item beyond its existence: clauses joined by `AND`, with their values.
#[derive(Default)]
pub(crate) struct Condition {
    clauses: Vec<String>,
    values: HashMap<String, AttributeValue>,
}

impl Condition {
    /// The user item is still as `read` was in what a change decides on: its address, its
    /// password hash and its logout-all cut-off (optimistic concurrency: the write happens only
    /// if no other write to these came between the read and it).
    fn user_as_read(read: &User) -> Self {
        let mut condition = Self::default();
        condition.clause(
            "email_normalized = :read_email",
            ":read_email",
            s(read.email.normalized()),
        );
        condition.clause(
            "password_hash = :read_hash",
            ":read_hash",
            s(read.password_hash.as_phc()),
        );
        condition.clause(
            &format!("(attribute_not_exists({CUT_OFF}) OR {CUT_OFF} = :read_cut)"),
            ":read_cut",
            n(read.sessions_valid_after_ms),
        );
        condition
    }

    pub(crate) fn clause(&mut self, clause: &str, name: &str, value: AttributeValue) {
        self.clauses.push(clause.to_owned());
        self.values.insert(name.to_owned(), value);
    }

    /// The whole expression, the item's existence first (`#pk` is named by `SetExpression`).
    fn expression(&self) -> String {
        std::iter::once("attribute_exists(#pk)")
            .chain(self.clauses.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" AND ")
    }
}

/// The attribute assignments `changes` make.
fn assignments(changes: &UserChanges) -> Vec<(&'static str, AttributeValue)> {
    let mut sets = Vec::new();
    if let Some(email) = &changes.email {
        sets.push(("email", s(email.as_str())));
        sets.push(("email_normalized", s(email.normalized())));
    }
    if let Some(hash) = &changes.password_hash {
        sets.push(("password_hash", s(hash.as_phc())));
    }
    if let Some(disabled) = changes.disabled {
        sets.push(("disabled", AttributeValue::Bool(disabled)));
    }
    if let Some(verified) = changes.email_verified {
        sets.push(("email_verified", AttributeValue::Bool(verified)));
    }
    if let Some(roles) = &changes.roles {
        sets.push(("roles", roles_value(roles)));
    }
    if let Some(claims) = &changes.claims {
        sets.push(("claims", claims_value(claims)));
    }
    sets
}

/// The cut-off to write when `changes` end sessions of `current`.
fn new_cut_off(changes: &UserChanges, current: &User) -> Option<AttributeValue> {
    changes
        .end_sessions_at_ms
        .map(|at| n(raised_cut_off(current.sessions_valid_after_ms, at)))
}

/// Which item's condition cancelled a transaction, by its index, if one did.
pub(crate) fn failed_condition(err: &SdkError<TransactWriteItemsError>) -> Option<usize> {
    let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
        err.as_service_error()
    else {
        return None;
    };
    cancelled
        .cancellation_reasons()
        .iter()
        .position(|r| r.code() == Some("ConditionalCheckFailed"))
}

fn classify(err: &SdkError<TransactWriteItemsError>) -> Cancelled {
    let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
        err.as_service_error()
    else {
        return Cancelled::Other;
    };
    let codes: Vec<&str> = cancelled
        .cancellation_reasons()
        .iter()
        .map(|r| r.code().unwrap_or("None"))
        .collect();
    // Item 1 is the email item; its failed condition is what makes the email taken.
    if codes.get(1) == Some(&"ConditionalCheckFailed") {
        Cancelled::EmailTaken
    } else if codes.contains(&"TransactionConflict") {
        Cancelled::Conflict
    } else {
        Cancelled::Other
    }
}

#[async_trait]
impl UserStore for DynamoUserStore {
    async fn create(&self, new_user: NewUser) -> Result<User, StoreError> {
        let email_lock = email_key(&new_user.email);
        let user = new_user.into_user();
        let mut attempt = 0;
        loop {
            let email_item = HashMap::from([
                (PARTITION_KEY.to_owned(), s(email_lock.clone())),
                ("kind".to_owned(), s(KIND_EMAIL)),
                ("user_id".to_owned(), s(user.id.to_string())),
            ]);
            let result = self
                .client
                .transact_write_items()
                .transact_items(self.put(user_item(&user))?)
                .transact_items(self.put(email_item)?)
                .send()
                .await;
            match result {
                Ok(_) => return Ok(user),
                Err(err) => match classify(&err) {
                    Cancelled::EmailTaken => return Err(StoreError::DuplicateEmail),
                    // Another transaction on the same email was in flight; neither has decided
                    // the race yet, so try again: the next attempt sees its outcome.
                    Cancelled::Conflict if attempt + 1 < CONFLICT_ATTEMPTS => {
                        attempt += 1;
                        let jitter = u64::from(user.id.as_bytes()[attempt as usize % 16] % 20);
                        tokio::time::sleep(Duration::from_millis(20 * u64::from(attempt) + jitter))
                            .await;
                    }
                    _ => return Err(dynamo(err)),
                },
            }
        }
    }

    async fn get_by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
        self.get_item(user_key(id))
            .await?
            .map(|item| user_from_item(&item))
            .transpose()
    }

    /// Two reads whether or not the email is known (the lock item, then the user item or, for an
    /// unknown email, an item that never exists), so that login's timing does not tell which
    /// emails have accounts.
    async fn get_by_email(&self, email: &Email) -> Result<Option<User>, StoreError> {
        let Some(lock) = self.get_item(email_key(email)).await? else {
            self.get_item(user_key(uuid::Uuid::nil())).await?;
            return Ok(None);
        };
        let id: UserId = get_s(&lock, "user_id")?
            .parse()
            .map_err(|_| StoreError::Corrupt("email item user_id is not a UUID".into()))?;
        self.get_by_id(id).await
    }

    /// Read, decide, then write conditioned on the item being as read; a write that lost a race
    /// reads again, so `changes.expected` is judged on the user as it is when the write lands.
    async fn update(&self, id: UserId, changes: UserChanges) -> Result<User, StoreError> {
        for _ in 0..UPDATE_ATTEMPTS {
            let current = self.get_by_id(id).await?.ok_or(StoreError::NotFound)?;
            if !changes.expected.holds(&current) {
                return Err(StoreError::Changed);
            }
            if let Some(user) = self.try_update(&current, &changes).await? {
                return Ok(user);
            }
        }
        Err(StoreError::Backend(
            "the user kept changing during an update".into(),
        ))
    }

    async fn delete(&self, id: UserId) -> Result<(), StoreError> {
        let user = self.get_by_id(id).await?.ok_or(StoreError::NotFound)?;
        let delete_user = Delete::builder()
            .table_name(&self.table)
            .key(PARTITION_KEY, s(user_key(id)))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .build()
            .map_err(backend)?;
        let release = self.release_email(&user.email, id)?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().delete(delete_user).build())
            .transact_items(TransactWriteItem::builder().delete(release).build())
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

    /// One `Scan` call of at most `limit` items, kept to users: a bounded read whatever the
    /// table's size, with DynamoDB's `LastEvaluatedKey` as the next cursor.
    async fn page(&self, limit: usize, cursor: Option<&str>) -> Result<UserPage, StoreError> {
        let start = cursor.map(decode_cursor).transpose()?;
        let (items, next) = self.scan_page(KIND_USER, limit, start).await?;
        let users = items
            .iter()
            .map(user_from_item)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(UserPage { users, next })
    }

    async fn list(&self) -> Result<Vec<User>, StoreError> {
        let mut users = Vec::new();
        let mut pages = self.scan_users().into_paginator().items().send();
        while let Some(item) = pages.next().await {
            let item = item.map_err(dynamo)?;
            users.push(user_from_item(&item)?);
        }
        users.sort_by_key(|u| u.email.normalized());
        Ok(users)
    }
}

/// Creates the table as `template.yaml` declares it (for tests, local runs and the CLI).
pub async fn create_table(client: &Client, table: &str) -> Result<(), aws_sdk_dynamodb::Error> {
    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(PARTITION_KEY)
                .attribute_type(ScalarAttributeType::S)
                .build()?,
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name(PARTITION_KEY)
                .key_type(KeyType::Hash)
                .build()?,
        )
        .send()
        .await?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name(TTL_ATTRIBUTE)
                .build()?,
        )
        .send()
        .await?;
    Ok(())
}
