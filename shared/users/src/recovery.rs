//! One-time tokens that a user receives by mail: to reset a forgotten password and to verify an
//! email address (FastAPI Users' `forgot-password` / `reset-password` and `request-verify-token`
//! / `verify`).
//!
//! A token is 256 random bits, sent once and stored only as its SHA-256 (like refresh tokens),
//! bound to one user and one purpose, short-lived, and taken atomically from the store when it
//! is used, so it works once. A reset token is also bound to the password hash it was issued
//! against and the address it was mailed to, so a password or address changed by any route kills
//! every reset token issued before; a verify token is bound to the address it was sent to, so it
//! cannot verify a later one. The write a token leads to is conditioned on the same fields
//! (`Expected`), so a change that lands between the token's check and its write wins. Every way a
//! token can fail (unknown, used, expired, malformed, for another purpose or a changed account)
//! is one error, [`InvalidActionToken`], and one response.

use crate::sessions::{TokenHash, generate_opaque, is_opaque, sha256_hex};
use crate::store::{StoreError, User, UserId};

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenPurpose {
    /// Set a new password without the old one.
    ResetPassword,
    /// Prove the user receives mail at their address.
    VerifyEmail,
}

impl TokenPurpose {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ResetPassword => "reset-password",
            Self::VerifyEmail => "verify-email",
        }
    }

    /// The purpose a stored name names.
    pub fn from_stored(name: &str) -> Option<Self> {
        match name {
            "reset-password" => Some(Self::ResetPassword),
            "verify-email" => Some(Self::VerifyEmail),
            _ => None,
        }
    }
}

/// A token as the user receives it. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct ActionToken(String);

impl std::fmt::Debug for ActionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ActionToken([redacted])")
    }
}

impl ActionToken {
    /// A fresh token: 256 random bits, as refresh tokens are.
    pub fn generate() -> Self {
        Self(generate_opaque())
    }

    /// A presented token, if it has the shape of one.
    pub fn parse(input: &str) -> Result<Self, InvalidActionToken> {
        if is_opaque(input) {
            Ok(Self(input.to_owned()))
        } else {
            Err(InvalidActionToken)
        }
    }

    /// The token, to put in the link mailed to the user.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What is stored and looked up.
    pub fn hash(&self) -> TokenHash {
        TokenHash::from_stored(sha256_hex(self.0.as_bytes()))
    }
}

/// A stored token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionRecord {
    pub purpose: TokenPurpose,
    pub user_id: UserId,
    /// What the account must still be for the token to work: see [`binding`].
    pub binding: String,
    pub expires_at_ms: i64,
}

/// The presented token is not one that works, whatever the reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the token is invalid, used or expired")]
pub struct InvalidActionToken;

/// What ties a token of `purpose` to `user` as they are now: for a reset, the password hash it
/// replaces and the address it was mailed to (a changed password or address kills the token);
/// for a verification, the address.
pub fn binding(purpose: TokenPurpose, user: &User) -> String {
    let bound = match purpose {
        TokenPurpose::ResetPassword => {
            format!(
                "{}\n{}",
                user.password_hash.as_phc(),
                user.email.normalized()
            )
        }
        TokenPurpose::VerifyEmail => user.email.normalized(),
    };
    sha256_hex(bound.as_bytes())
}

/// Whether a taken `record` lets `user` (its owner, as now stored) do `purpose` at `now_ms`: the
/// one rule for every store.
pub fn redeemable(
    record: &ActionRecord,
    purpose: TokenPurpose,
    user: Option<&User>,
    now_ms: i64,
) -> Result<(), InvalidActionToken> {
    let Some(user) = user else {
        return Err(InvalidActionToken);
    };
    let ok = record.purpose == purpose
        && record.user_id == user.id
        && record.expires_at_ms > now_ms
        && !user.disabled
        && bool::from(subtle::ConstantTimeEq::ct_eq(
            record.binding.as_bytes(),
            binding(purpose, user).as_bytes(),
        ));
    if ok { Ok(()) } else { Err(InvalidActionToken) }
}

/// Where one-time tokens live.
#[async_trait::async_trait]
pub trait ActionTokenStore: Send + Sync {
    /// Stores a token (by hash), expiring at its record's `expires_at_ms`.
    async fn put_action(&self, hash: &TokenHash, record: &ActionRecord) -> Result<(), StoreError>;
    /// Removes the token and returns what it was, in one atomic step: of two concurrent takes of
    /// one token at most one gets it.
    async fn take_action(&self, hash: &TokenHash) -> Result<Option<ActionRecord>, StoreError>;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::{Email, NewUser, PasswordHash};

    const PHC: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE";
    const OTHER: &str = "$argon2id$v=19$m=19456,t=2,p=1$b3RoZXJzYWx0b3RoZXI$YmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmI";

    fn user() -> User {
        NewUser {
            email: Email::parse("alice@example.com").unwrap(),
            password_hash: PasswordHash::from_phc(PHC).unwrap(),
            roles: Default::default(),
        }
        .into_user()
    }

    fn record(purpose: TokenPurpose, user: &User) -> ActionRecord {
        ActionRecord {
            purpose,
            user_id: user.id,
            binding: binding(purpose, user),
            expires_at_ms: 2_000,
        }
    }

    #[test]
    fn a_token_works_for_its_purpose_user_and_time_only() {
        let alice = user();
        let reset = record(TokenPurpose::ResetPassword, &alice);
        assert_eq!(
            redeemable(&reset, TokenPurpose::ResetPassword, Some(&alice), 1_000),
            Ok(())
        );
        assert!(redeemable(&reset, TokenPurpose::VerifyEmail, Some(&alice), 1_000).is_err());
        assert!(redeemable(&reset, TokenPurpose::ResetPassword, Some(&alice), 2_000).is_err());
        assert!(redeemable(&reset, TokenPurpose::ResetPassword, Some(&user()), 1_000).is_err());
        assert!(redeemable(&reset, TokenPurpose::ResetPassword, None, 1_000).is_err());
    }

    #[test]
    fn a_changed_email_kills_reset_tokens_too() {
        let mut alice = user();
        let reset = record(TokenPurpose::ResetPassword, &alice);
        alice.email = Email::parse("alice@elsewhere.example").unwrap();
        assert!(redeemable(&reset, TokenPurpose::ResetPassword, Some(&alice), 1).is_err());
    }

    #[test]
    fn a_changed_password_kills_reset_tokens_and_a_changed_email_verify_tokens() {
        let mut alice = user();
        let reset = record(TokenPurpose::ResetPassword, &alice);
        let verify = record(TokenPurpose::VerifyEmail, &alice);
        alice.password_hash = PasswordHash::from_phc(OTHER).unwrap();
        assert!(redeemable(&reset, TokenPurpose::ResetPassword, Some(&alice), 1).is_err());
        assert_eq!(
            redeemable(&verify, TokenPurpose::VerifyEmail, Some(&alice), 1),
            Ok(())
        );
        alice.email = Email::parse("alice@elsewhere.example").unwrap();
        assert!(redeemable(&verify, TokenPurpose::VerifyEmail, Some(&alice), 1).is_err());
    }

    #[test]
    fn tokens_are_256_random_bits_stored_as_hashes_and_never_shown() {
        let (a, b) = (ActionToken::generate(), ActionToken::generate());
        assert_ne!(a, b);
        assert_eq!(ActionToken::parse(a.as_str()), Ok(a.clone()));
        assert_eq!(a.hash().as_str().len(), 64);
        assert!(!format!("{a:?}").contains(a.as_str()));
        for bad in [
            "",
            "short",
            &"a".repeat(44),
            "not a token at all but it is 43 chars lo",
        ] {
            assert_eq!(ActionToken::parse(bad), Err(InvalidActionToken), "{bad:?}");
        }
    }
}
