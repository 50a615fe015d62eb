//! Users' API keys: made by their user (`/users/me/api-keys`), listed and revoked by them or
//! an administrator (`/users/{id}/api-keys`). One place decides what a new key may hold: a name,
//! scopes that its user's roles grant now, and an optional expiry of 1 to 365 days.

use std::collections::BTreeSet;
use std::sync::Arc;

use authgate_config::AuthzSettings;
use authgate_runtime::{AccountStore, Backend, Env, InitError};
use authgate_users::{
    ApiKeyId, ApiKeyRecord, RoleMap, StoreError, User, UserId, now_ms, parse_scopes,
};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// The longest key name.
pub const MAX_KEY_NAME_CHARS: usize = 100;
/// The longest lifetime a key may be given, in days.
pub const MAX_KEY_DAYS: u32 = 365;

/// What a new key asks for.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    pub name: String,
    #[serde(default)]
    pub scopes: Vec<String>,
    pub expires_in_days: Option<u32>,
}

/// A key as lists show it: never the key or its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiKeyView {
    pub id: ApiKeyId,
    pub name: String,
    pub scopes: BTreeSet<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// A new key, with the key itself, shown once.
#[derive(Serialize)]
pub struct IssuedApiKey {
    #[serde(flatten)]
    pub view: ApiKeyView,
    pub key: String,
}

impl std::fmt::Debug for IssuedApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedApiKey")
            .field("view", &self.view)
            .finish_non_exhaustive()
    }
}

fn time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

impl From<&ApiKeyRecord> for ApiKeyView {
    fn from(key: &ApiKeyRecord) -> Self {
        Self {
            id: key.id,
            name: key.name.clone(),
            scopes: key.scopes.clone(),
            created_at: time(key.created_at_ms),
            expires_at: key.expires_at_ms.map(time),
        }
    }
}

/// Why a key was not made.
#[derive(Debug, thiserror::Error)]
pub enum ApiKeyError {
    #[error("{0}")]
    Invalid(String),
    #[error("the user does not hold {0:?}")]
    NotHeld(String),
    #[error("the user holds as many keys as one may")]
    Full,
    #[error("the store failed")]
    Store(#[source] StoreError),
}

impl From<StoreError> for ApiKeyError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Full => Self::Full,
            other => Self::Store(other),
        }
    }
}

impl From<ApiKeyError> for authgate_http::ApiError {
    fn from(err: ApiKeyError) -> Self {
        use authgate_http::ApiError;
        match err {
            ApiKeyError::Invalid(why) => ApiError::Unprocessable(why),
            ApiKeyError::NotHeld(scope) => {
                ApiError::Unprocessable(format!("scopes: {scope:?} is not among your permissions"))
            }
            ApiKeyError::Full => ApiError::Conflict(format!(
                "You hold {} API keys, the most one may; revoke one first",
                authgate_users::MAX_API_KEYS_PER_USER
            )),
            ApiKeyError::Store(StoreError::NotFound) => {
                ApiError::NotFound("API key not found".into())
            }
            ApiKeyError::Store(e) => ApiError::internal(e),
        }
    }
}

/// Making, listing and revoking users' API keys.
pub struct ApiKeys {
    store: Arc<dyn AccountStore>,
    roles: RoleMap,
}

impl ApiKeys {
    /// From `env`'s roles and `backend`'s store.
    pub fn build(env: &Env, backend: &dyn Backend) -> Result<Self, InitError> {
        Ok(Self {
            store: backend.store(env)?,
            roles: AuthzSettings::from_env(env)?.roles,
        })
    }

    /// A new key for `user` as `asked`: its scopes must be permissions the user's roles grant.
    pub async fn issue(&self, user: &User, asked: NewApiKey) -> Result<IssuedApiKey, ApiKeyError> {
        let name = asked.name.trim();
        if name.is_empty() || name.chars().count() > MAX_KEY_NAME_CHARS {
            return Err(ApiKeyError::Invalid(format!(
                "name: 1 to {MAX_KEY_NAME_CHARS} characters"
            )));
        }
        let mut scopes = BTreeSet::new();
        for scope in &asked.scopes {
            match parse_scopes(scope) {
                Ok(one) if one.len() == 1 && !scope.contains(' ') => {
                    scopes.insert(scope.clone());
                }
                _ => {
                    return Err(ApiKeyError::Invalid(format!(
                        "scopes: {scope:?} is not a permission name"
                    )));
                }
            }
        }
        let held = self.roles.permissions(&user.roles);
        if let Some(missing) = scopes.difference(&held).next() {
            return Err(ApiKeyError::NotHeld(missing.clone()));
        }
        let now = now_ms();
        let expires_at_ms = match asked.expires_in_days {
            None => None,
            Some(days @ 1..=MAX_KEY_DAYS) => Some(now.saturating_add(i64::from(days) * 86_400_000)),
            Some(_) => {
                return Err(ApiKeyError::Invalid(format!(
                    "expires_in_days: 1 to {MAX_KEY_DAYS}, or absent for a key that does not expire"
                )));
            }
        };
        let (record, key) = ApiKeyRecord::issue(user.id, name, scopes, expires_at_ms, now);
        self.store.create_api_key(&record).await?;
        tracing::info!(user_id = %user.id, key_id = %record.id, "API key made");
        Ok(IssuedApiKey {
            view: ApiKeyView::from(&record),
            key: key.as_str().to_owned(),
        })
    }

    /// `user`'s keys, oldest first.
    pub async fn list(&self, user: UserId) -> Result<Vec<ApiKeyView>, ApiKeyError> {
        Ok(self
            .store
            .api_keys(user)
            .await?
            .iter()
            .map(ApiKeyView::from)
            .collect())
    }

    /// Revokes `user`'s key `id` (404 when `user` has none such).
    pub async fn revoke(&self, user: UserId, id: ApiKeyId) -> Result<(), ApiKeyError> {
        self.store.delete_api_key(user, id).await?;
        tracing::info!(user_id = %user, key_id = %id, "API key revoked");
        Ok(())
    }
}
