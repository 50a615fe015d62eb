//! The user record and the storage trait every backend implements.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::authz::CustomClaims;
use crate::email::Email;
use crate::password::PasswordHash;

/// A user's stable id: a random UUID, the `sub` of their tokens.
pub type UserId = uuid::Uuid;

/// A stored user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Stable id.
    pub id: UserId,
    /// Email as registered.
    pub email: Email,
    /// Argon2id PHC string.
    pub password_hash: PasswordHash,
    /// When the user registered.
    pub created_at: DateTime<Utc>,
    /// Disabled users cannot log in.
    pub disabled: bool,
    /// Whether the user proved they receive mail at `email` (`POST /auth/verify`); a new email
    /// is unverified again.
    pub email_verified: bool,
    /// Roles, which grant permissions (`admin`: the user administration API).
    pub roles: BTreeSet<String>,
    /// Custom claims, carried at top level by the user's access tokens.
    pub claims: CustomClaims,
    /// Logout-all's cut-off (Unix ms): sessions created at or before it are ended. It only moves
    /// forward.
    pub sessions_valid_after_ms: i64,
}

/// The public view of a user, as the API returns it: never the hash.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PublicUser {
    pub id: UserId,
    pub email: Email,
    pub email_verified: bool,
    pub created_at: DateTime<Utc>,
}

impl User {
    /// The fields the API may show.
    pub fn public(&self) -> PublicUser {
        PublicUser {
            id: self.id,
            email: self.email.clone(),
            email_verified: self.email_verified,
            created_at: self.created_at,
        }
    }
}

/// What registration hands to a store.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: Email,
    pub password_hash: PasswordHash,
    pub roles: BTreeSet<String>,
}

impl NewUser {
    /// Gives the new user an id and creation time.
    pub fn into_user(self) -> User {
        User {
            id: uuid::Uuid::new_v4(),
            email: self.email,
            password_hash: self.password_hash,
            created_at: Utc::now(),
            disabled: false,
            email_verified: false,
            roles: self.roles,
            claims: CustomClaims::default(),
            sessions_valid_after_ms: 0,
        }
    }
}

/// A page of users and, when more may follow, the cursor of the next page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPage {
    pub users: Vec<User>,
    pub next: Option<String>,
}

/// An opaque cursor for a store's position `key`.
pub fn encode_cursor(key: &str) -> String {
    base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, key)
}

/// The position in a cursor from [`encode_cursor`].
pub fn decode_cursor(cursor: &str) -> Result<String, StoreError> {
    base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or(StoreError::BadCursor)
}

/// A page of `sorted` (by id) users after `cursor`, for stores that hold users in id order.
pub fn page_of(
    sorted: impl IntoIterator<Item = User>,
    limit: usize,
    cursor: Option<&str>,
) -> Result<UserPage, StoreError> {
    let after = cursor.map(decode_cursor).transpose()?;
    let mut rest = sorted.into_iter().filter(|u| {
        after
            .as_deref()
            .is_none_or(|a| u.id.to_string().as_str() > a)
    });
    let users: Vec<User> = rest.by_ref().take(limit).collect();
    let next = match (users.last(), rest.next()) {
        (Some(last), Some(_)) => Some(encode_cursor(&last.id.to_string())),
        _ => None,
    };
    Ok(UserPage { users, next })
}

/// What an update changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    /// A new email: unique like at registration (`DuplicateEmail` if another user has it).
    pub email: Option<Email>,
    pub password_hash: Option<PasswordHash>,
    pub disabled: Option<bool>,
    pub email_verified: Option<bool>,
    pub roles: Option<BTreeSet<String>>,
    pub claims: Option<CustomClaims>,
    /// Ends every session created at or before this time (Unix ms), in the same write as the
    /// other changes: the stored cut-off becomes `raised_cut_off(stored, this)`.
    pub end_sessions_at_ms: Option<i64>,
    /// What the user must still be for the changes to apply; `StoreError::Changed` otherwise.
    pub expected: Expected,
}

/// The fields a decision to change a user was made on, as they were read: a store applies the
/// change only if they still hold when it writes (a conditional write, not a second read).
#[derive(Debug, Clone, Default)]
pub struct Expected {
    /// The address, compared as a login name (case-insensitively).
    pub email: Option<Email>,
    /// The password hash, exactly.
    pub password_hash: Option<PasswordHash>,
}

impl Expected {
    /// Whether `user` is still as expected.
    pub fn holds(&self, user: &User) -> bool {
        self.email
            .as_ref()
            .is_none_or(|e| e.normalized() == user.email.normalized())
            && self
                .password_hash
                .as_ref()
                .is_none_or(|h| h.as_phc() == user.password_hash.as_phc())
    }
}

impl UserChanges {
    /// `user` with these changes, for stores that read, change and write a whole record; the
    /// caller has checked [`Self::expected`].
    pub fn apply_to(self, user: &mut User) {
        if let Some(email) = self.email {
            user.email = email;
        }
        if let Some(hash) = self.password_hash {
            user.password_hash = hash;
        }
        if let Some(disabled) = self.disabled {
            user.disabled = disabled;
        }
        if let Some(verified) = self.email_verified {
            user.email_verified = verified;
        }
        if let Some(roles) = self.roles {
            user.roles = roles;
        }
        if let Some(claims) = self.claims {
            user.claims = claims;
        }
        if let Some(cut_off) = self.end_sessions_at_ms {
            user.sessions_valid_after_ms =
                crate::raised_cut_off(user.sessions_valid_after_ms, cut_off);
        }
    }

    /// The new email, if it differs from `current` as a login name (not only in case).
    pub fn new_email_key(&self, current: &Email) -> Option<String> {
        self.email
            .as_ref()
            .map(Email::normalized)
            .filter(|key| *key != current.normalized())
    }
}

/// Storage failures. `Backend` keeps its source for the logs; the API shows none of it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("a user with this email already exists")]
    DuplicateEmail,
    #[error("no such user")]
    NotFound,
    #[error("stored user record is invalid: {0}")]
    Corrupt(String),
    #[error("the page cursor is not one this store handed out")]
    BadCursor,
    /// The owner already holds as many items of this kind as one may (API keys).
    #[error("the limit of items of this kind is reached")]
    Full,
    /// The user is no longer as the caller read it (see [`Expected`] and `SessionStore::start`).
    #[error("the user changed since it was read")]
    Changed,
    #[error("user store unavailable")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The store did not answer within its time limits (or could not be reached): a client may
    /// try again later, and the API says so with a 503.
    #[error("user store did not answer in time")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Where users live. Implementations must make email uniqueness hold under concurrency and look
/// users up by id and by (case-insensitive) email without scanning.
#[async_trait::async_trait]
pub trait UserStore: Send + Sync {
    /// Stores a new user; `DuplicateEmail` if the normalized email is taken.
    async fn create(&self, new_user: NewUser) -> Result<User, StoreError>;
    /// The user with this id.
    async fn get_by_id(&self, id: UserId) -> Result<Option<User>, StoreError>;
    /// The user with this email, compared case-insensitively.
    async fn get_by_email(&self, email: &Email) -> Result<Option<User>, StoreError>;
    /// Disables or re-enables a user; `NotFound` if there is none.
    async fn set_disabled(&self, id: UserId, disabled: bool) -> Result<(), StoreError> {
        let changes = UserChanges {
            disabled: Some(disabled),
            ..UserChanges::default()
        };
        self.update(id, changes).await.map(|_| ())
    }
    /// Applies `changes` to a user and returns the user as stored; `NotFound` if there is none,
    /// `DuplicateEmail` if the new email is another user's, `Changed` if the user is not as
    /// `changes.expected` says (nothing changes then).
    async fn update(&self, id: UserId, changes: UserChanges) -> Result<User, StoreError>;
    /// Deletes a user and frees their email for registration; their sessions die with them
    /// (a session of a missing user may not act). `NotFound` if there is none.
    async fn delete(&self, id: UserId) -> Result<(), StoreError>;
    /// Every user, ordered by email, for administration.
    async fn list(&self) -> Result<Vec<User>, StoreError>;
    /// One bounded page of users for the admin API: at most `limit` (a page may hold fewer, even
    /// none, while a next page exists), after the opaque `cursor` the previous page returned.
    async fn page(&self, limit: usize, cursor: Option<&str>) -> Result<UserPage, StoreError>;
}
