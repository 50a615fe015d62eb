//! Sessions and refresh tokens.
//!
//! A session is one login: the family of refresh tokens that descend from it, and the `sid` of
//! every access token issued in it. Refresh tokens are 256 random bits, handed out once and stored
//! only as their SHA-256 (a lookup key, so no comparison of secrets happens at all). Each refresh
//! consumes the presented token atomically and issues the next one; presenting a consumed token
//! again, after a grace period, is treated as theft and ends the whole session (reuse detection,
//! as Auth0 and Supabase do). A session has one live refresh token, its chain's head: a retry
//! inside the grace period replaces the head rather than starting a second chain, and a token
//! that is no longer the head (superseded by such a retry) ends the session when it comes back.
//! Sessions also end on logout, on logout-all (a per-user cut-off time),
//! when their absolute lifetime runs out, and when the user is disabled.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::access::Denied;
use crate::store::{StoreError, UserId};

/// A session's id: the `sid` claim of its access tokens.
pub type SessionId = uuid::Uuid;

/// Characters of an encoded opaque token: 32 bytes in unpadded base64url.
const OPAQUE_TOKEN_CHARS: usize = 43;

/// 256 random bits from the OS, in unpadded base64url: what refresh, reset and verification
/// tokens are.
pub(crate) fn generate_opaque() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Whether `input` has the shape [`generate_opaque`] gives (cheap, before any lookup).
pub(crate) fn is_opaque(input: &str) -> bool {
    input.len() == OPAQUE_TOKEN_CHARS
        && input
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && URL_SAFE_NO_PAD.decode(input).is_ok()
}

/// SHA-256 of `bytes` in lowercase hex: the stored form of every token, and the key of
/// anything personal a counter is kept for.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A refresh token as the client holds it. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken(String);

/// The presented string cannot be a refresh token.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("not a refresh token")]
pub struct InvalidRefreshToken;

impl RefreshToken {
    /// A fresh token from the OS random number generator.
    pub fn generate() -> Self {
        Self(generate_opaque())
    }

    /// Checks the shape of a presented token (cheap, before any lookup).
    pub fn parse(input: &str) -> Result<Self, InvalidRefreshToken> {
        if is_opaque(input) {
            Ok(Self(input.to_owned()))
        } else {
            Err(InvalidRefreshToken)
        }
    }

    /// The token, to send to the client once.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What is stored and looked up.
    pub fn hash(&self) -> TokenHash {
        TokenHash(sha256_hex(self.0.as_bytes()))
    }
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshToken([redacted])")
    }
}

/// SHA-256 of a refresh token, in hex.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenHash(String);

impl TokenHash {
    /// The hex digest.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Wraps a stored digest.
    pub fn from_stored(hex: impl Into<String>) -> Self {
        Self(hex.into())
    }
}

/// One login's session. Times are Unix milliseconds, fine enough that a login right after a
/// logout-all is never mistaken for one before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: SessionId,
    pub user_id: UserId,
    pub created_at_ms: i64,
    /// Absolute end of the session: no refresh extends it.
    pub expires_at_ms: i64,
    pub revoked: bool,
}

/// How refresh tokens rotate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationPolicy {
    /// Lifetime of each refresh token, milliseconds (capped by the session's end).
    pub refresh_ttl_ms: i64,
    /// How long after its use a refresh token may be presented again without ending the session
    /// (a client retrying after a lost response). 0 means any reuse ends the session.
    pub reuse_grace_ms: i64,
}

/// A successful rotation: the session, and when the new refresh token expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotated {
    pub session: Session,
    pub refresh_expires_at_ms: i64,
}

/// Why a refresh was refused.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error("refresh token is not known")]
    Unknown,
    #[error("refresh token has expired")]
    Expired,
    #[error("the session has ended: {0}")]
    SessionEnded(#[source] Denied),
    #[error("refresh token was used before; the session has been ended")]
    Reused,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The stored facts about a session and its user; [`SessionState::may_act`] decides from them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SessionState {
    pub session: Option<Session>,
    /// The user's `disabled` flag, or `None` when there is no such user.
    pub user_disabled: Option<bool>,
    /// Sessions created at or before this time have been ended by logout-all.
    pub sessions_valid_after_ms: i64,
    /// The hash of the session's one live refresh token (`None` for sessions stored before
    /// heads were recorded, and when the state is read for the authorizer, which needs no head).
    pub refresh_head: Option<TokenHash>,
    /// Whether the access token being checked was revoked (RFC 7009); `false` when no token is.
    pub token_revoked: bool,
}

/// Where sessions and refresh-token hashes live; implemented by each user store on the same data.
#[async_trait::async_trait]
pub trait SessionStore: Send + Sync {
    /// Stores a new session with its first refresh token, if its user is still as `as_read`
    /// (the user the session was decided on): not disabled, the same password hash, and no
    /// logout-all at or after the session's `created_at_ms`. `StoreError::Changed` otherwise,
    /// and nothing is stored: a login that straddles a password change, reset, disable or
    /// logout-all gets no session.
    async fn start(
        &self,
        session: &Session,
        first: &TokenHash,
        first_expires_at_ms: i64,
        as_read: &crate::User,
    ) -> Result<(), StoreError>;
    /// Consumes `presented` and stores `next` in the same session, as one atomic step: of two
    /// concurrent refreshes with one token exactly one succeeds.
    async fn rotate(
        &self,
        presented: &TokenHash,
        next: &TokenHash,
        now_ms: i64,
        policy: RotationPolicy,
    ) -> Result<Rotated, RefreshError>;
    /// Ends one session (logout).
    async fn revoke(&self, session: SessionId) -> Result<(), StoreError>;
    /// Ends every session of `user` started at or before `now_ms` (logout-all); a later cut-off
    /// already stored stays (the cut-off only moves forward).
    async fn revoke_all(&self, user: UserId, now_ms: i64) -> Result<(), StoreError>;
    /// The session and user facts the authorizer checks.
    async fn state(&self, session: SessionId, user: UserId) -> Result<SessionState, StoreError>;
    /// The record of the refresh token whose hash is `token` (spent or not), for revocation
    /// (RFC 7009) and introspection (RFC 7662).
    async fn refresh_record(&self, token: &TokenHash) -> Result<Option<RefreshRecord>, StoreError>;
}

/// Whether a session may start for `stored` (its user as it is now) when it was decided on
/// `as_read`: the one rule of [`SessionStore::start`] for stores that read and write in one
/// transaction.
pub fn may_start(session: &Session, as_read: &crate::User, stored: Option<&crate::User>) -> bool {
    stored.is_some_and(|stored| {
        stored.id == session.user_id
            && as_read.id == session.user_id
            && !stored.disabled
            && stored.password_hash.as_phc() == as_read.password_hash.as_phc()
            && stored.sessions_valid_after_ms < session.created_at_ms
    })
}

/// The logout-all cut-off that ends every session up to `at_ms` when `stored_ms` is the one in
/// place: never lower, and always past the stored one, so that it also ends a session that
/// [`SessionStore::start`] dated just after `stored_ms` (a login in the same millisecond as the
/// last cut-off).
pub fn raised_cut_off(stored_ms: i64, at_ms: i64) -> i64 {
    at_ms.max(stored_ms.saturating_add(1))
}

/// A stored refresh token (by its hash).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RefreshRecord {
    pub session: SessionId,
    pub user_id: UserId,
    pub expires_at_ms: i64,
    pub consumed_at_ms: Option<i64>,
}

/// What a rotation does, decided from what is stored.
#[derive(Debug)]
pub enum RotationDecision {
    /// Consume the presented token and store the next one.
    Rotate(Rotated),
    /// Refuse; nothing changes.
    Refuse(RefreshError),
    /// A spent token came back: end this session, then refuse with [`RefreshError::Reused`].
    EndSession(SessionId),
}

/// The rotation rule, for stores that read and write under one lock or transaction. A rotation
/// the rule allows makes the next token the session's head (the store writes it conditioned on
/// the head it read), so a session never has two live chains.
pub fn decide_rotation(
    presented: &TokenHash,
    record: Option<&RefreshRecord>,
    state: &SessionState,
    now_ms: i64,
    policy: RotationPolicy,
) -> RotationDecision {
    let Some(record) = record else {
        return RotationDecision::Refuse(RefreshError::Unknown);
    };
    if record.expires_at_ms <= now_ms {
        return RotationDecision::Refuse(RefreshError::Expired);
    }
    match record.consumed_at_ms {
        None => {
            // Unspent but no longer the head: a grace-period retry superseded it, so two parties
            // hold this session's tokens.
            if state
                .refresh_head
                .as_ref()
                .is_some_and(|head| head != presented)
            {
                return RotationDecision::EndSession(record.session);
            }
        }
        Some(consumed) => {
            // Without a grace period every second use is reuse, whatever the two clock readings
            // say (a concurrent refresh can read the clock before the one that consumed it).
            let within_grace =
                policy.reuse_grace_ms > 0 && now_ms - consumed < policy.reuse_grace_ms;
            if !within_grace {
                return RotationDecision::EndSession(record.session);
            }
        }
    }
    let session = match state.may_act(now_ms) {
        Ok(session) => session.clone(),
        Err(denied) => return RotationDecision::Refuse(RefreshError::SessionEnded(denied)),
    };
    let refresh_expires_at_ms = now_ms
        .saturating_add(policy.refresh_ttl_ms)
        .min(session.expires_at_ms);
    RotationDecision::Rotate(Rotated {
        session,
        refresh_expires_at_ms,
    })
}

/// Unix time in milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn generated_tokens_parse_and_differ_and_hash_to_hex() {
        let a = RefreshToken::generate();
        let b = RefreshToken::generate();
        assert_ne!(a, b);
        assert_eq!(RefreshToken::parse(a.as_str()).unwrap(), a);
        assert_eq!(a.hash().as_str().len(), 64);
        assert_ne!(a.hash(), b.hash());
        assert!(!format!("{a:?}").contains(a.as_str()));
    }

    #[test]
    fn access_tokens_and_garbage_are_not_refresh_tokens() {
        for bad in [
            "",
            "short",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln",
            &"a".repeat(44),
            &format!("{}=", "a".repeat(42)),
        ] {
            assert_eq!(
                RefreshToken::parse(bad),
                Err(InvalidRefreshToken),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn without_grace_a_consumed_token_is_reuse_even_if_consumed_after_now() {
        let session = Session {
            id: uuid::Uuid::new_v4(),
            user_id: uuid::Uuid::new_v4(),
            created_at_ms: 0,
            expires_at_ms: 10_000,
            revoked: false,
        };
        let state = SessionState {
            session: Some(session.clone()),
            user_disabled: Some(false),
            sessions_valid_after_ms: -1,
            refresh_head: None,
            token_revoked: false,
        };
        let presented = RefreshToken::generate().hash();
        let record = RefreshRecord {
            session: session.id,
            user_id: session.user_id,
            expires_at_ms: 9_000,
            consumed_at_ms: Some(1_001),
        };
        let no_grace = RotationPolicy {
            refresh_ttl_ms: 1000,
            reuse_grace_ms: 0,
        };
        let result = decide_rotation(&presented, Some(&record), &state, 1_000, no_grace);
        assert!(
            matches!(result, RotationDecision::EndSession(id) if id == session.id),
            "{result:?}"
        );
        let grace = RotationPolicy {
            reuse_grace_ms: 5_000,
            ..no_grace
        };
        assert!(
            matches!(
                decide_rotation(&presented, Some(&record), &state, 1_000, grace),
                RotationDecision::Rotate(_)
            ),
            "a concurrent retry within the grace period"
        );
        assert!(matches!(
            decide_rotation(&presented, Some(&record), &state, 6_001, grace),
            RotationDecision::EndSession(_)
        ));
    }
}
