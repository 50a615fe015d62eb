//! Passwords and their Argon2id hashes.
//!
//! Parameters follow OWASP's Password Storage Cheat Sheet (Argon2id, m=19456 KiB, t=2, p=1) and are
//! written into every PHC string, so they can be raised later without breaking stored hashes.
//! Hashing takes tens of milliseconds of CPU, so it runs on the blocking pool, never on the executor.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// Argon2id memory cost in KiB.
pub const ARGON2_M_COST_KIB: u32 = 19_456;
/// Argon2id iterations.
pub const ARGON2_T_COST: u32 = 2;
/// Argon2id lanes.
pub const ARGON2_P_COST: u32 = 1;
/// Shortest accepted password, in characters (NIST SP 800-63B §3.1.1.2).
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest accepted password, in characters; longer ones are refused, never truncated.
pub const MAX_PASSWORD_CHARS: usize = 256;

/// A PHC string with the real parameters and a random salt and digest (no password is known to
/// match it), verified against when the email is
/// unknown so that the response takes as long as for a real user.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$yJ7k0E0C8m2tq8n3hzQz8g$NmSJ1Ke3N3EwlYtO7oC6yq4Dd5zRjJ2lqyJ8J6q5pCk";

/// Why a password was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PasswordError {
    #[error("password must be at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    #[error("password must be at most {MAX_PASSWORD_CHARS} characters")]
    TooLong,
}

/// A plaintext password whose length has been checked. Its `Debug` never shows it.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// Checks the length rule (characters, not bytes) and keeps the password as given.
    pub fn parse(input: impl Into<String>) -> Result<Self, PasswordError> {
        let input = input.into();
        let chars = input.chars().count();
        if chars < MIN_PASSWORD_CHARS {
            return Err(PasswordError::TooShort);
        }
        if chars > MAX_PASSWORD_CHARS {
            return Err(PasswordError::TooLong);
        }
        Ok(Self(input))
    }

    /// A password that is only ever compared, never stored: login checks any input against the
    /// stored hash, and a length-rule violation must look like any other wrong password.
    pub fn for_verification(input: impl Into<String>) -> Self {
        Self(input.into())
    }

    fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([redacted])")
    }
}

/// An Argon2id PHC string. Its `Debug` shows the parameters only.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Wraps a stored PHC string, checking that it parses.
    pub fn from_phc(phc: impl Into<String>) -> Result<Self, HashError> {
        let phc = phc.into();
        argon2::PasswordHash::new(&phc).map_err(HashError::Corrupt)?;
        Ok(Self(phc))
    }

    /// The PHC string, for storage.
    pub fn as_phc(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let params = self.0.split('$').take(4).collect::<Vec<_>>().join("$");
        write!(f, "PasswordHash({params}$...)")
    }
}

/// Hashing failed: a bug or a corrupt stored hash, never a wrong password.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("argon2 failed: {0}")]
    Argon2(argon2::password_hash::Error),
    #[error("stored password hash is corrupt: {0}")]
    Corrupt(argon2::password_hash::Error),
    #[error("hashing task did not complete")]
    Join(#[from] tokio::task::JoinError),
}

/// Hashes and verifies passwords on the blocking thread pool.
#[derive(Clone)]
pub struct PasswordHasher {
    argon2: Arc<Argon2<'static>>,
    verifications: Arc<AtomicU64>,
}

impl fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordHasher").finish_non_exhaustive()
    }
}

impl Default for PasswordHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl PasswordHasher {
    /// A hasher with the OWASP parameters above.
    pub fn new() -> Self {
        #[allow(clippy::expect_used)]
        let params = Params::new(ARGON2_M_COST_KIB, ARGON2_T_COST, ARGON2_P_COST, None)
            .expect("constant Argon2 parameters are valid");
        Self {
            argon2: Arc::new(Argon2::new(Algorithm::Argon2id, Version::V0x13, params)),
            verifications: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Hashes `password` with a fresh random salt.
    pub async fn hash(&self, password: Password) -> Result<PasswordHash, HashError> {
        let argon2 = Arc::clone(&self.argon2);
        tokio::task::spawn_blocking(move || {
            let salt = SaltString::generate(&mut OsRng);
            argon2
                .hash_password(password.as_bytes(), &salt)
                .map(|hash| PasswordHash(hash.to_string()))
                .map_err(HashError::Argon2)
        })
        .await?
    }

    /// Whether `password` matches `stored`. With no stored hash (unknown user) it verifies against
    /// a dummy hash and answers `false`, taking as long as a real check.
    pub async fn verify(
        &self,
        password: Password,
        stored: Option<PasswordHash>,
    ) -> Result<bool, HashError> {
        let argon2 = Arc::clone(&self.argon2);
        let verifications = Arc::clone(&self.verifications);
        tokio::task::spawn_blocking(move || {
            verifications.fetch_add(1, Ordering::Relaxed);
            let known = stored.is_some();
            let phc = stored.map_or_else(|| DUMMY_HASH.to_owned(), |h| h.0);
            let parsed = argon2::PasswordHash::new(&phc).map_err(HashError::Corrupt)?;
            match argon2.verify_password(password.as_bytes(), &parsed) {
                Ok(()) => Ok(known),
                Err(argon2::password_hash::Error::Password) => Ok(false),
                Err(e) => Err(HashError::Argon2(e)),
            }
        })
        .await?
    }

    /// How many Argon2 verifications this hasher (and its clones) has run: the evidence that
    /// logins of unknown users do the same work as logins of known ones.
    pub fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_length_is_counted_in_characters() {
        assert_eq!(
            Password::parse("1234567").unwrap_err(),
            PasswordError::TooShort
        );
        assert!(Password::parse("12345678").is_ok());
        // 8 characters, 16 bytes.
        assert!(Password::parse("ééééééééé").is_ok());
        assert!(Password::parse("é".repeat(256)).is_ok());
        assert_eq!(
            Password::parse("a".repeat(257)).unwrap_err(),
            PasswordError::TooLong
        );
    }

    #[test]
    fn debug_never_shows_the_password() {
        let p = Password::parse("hunter2hunter2").unwrap();
        assert!(!format!("{p:?}").contains("hunter2"));
    }

    #[test]
    fn dummy_hash_uses_the_same_parameters_as_real_hashes() {
        let parsed = argon2::PasswordHash::new(DUMMY_HASH).unwrap();
        assert_eq!(parsed.algorithm.as_str(), "argon2id");
        let params = Params::try_from(&parsed).unwrap();
        assert_eq!(
            (params.m_cost(), params.t_cost(), params.p_cost()),
            (ARGON2_M_COST_KIB, ARGON2_T_COST, ARGON2_P_COST)
        );
    }

    #[tokio::test]
    async fn hash_is_argon2id_phc_with_explicit_owasp_parameters() {
        let hash = PasswordHasher::new()
            .hash(Password::parse("correct horse battery").unwrap())
            .await
            .unwrap();
        assert!(
            hash.as_phc().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{}",
            hash.as_phc()
        );
        assert!(!format!("{hash:?}").contains(hash.as_phc().rsplit('$').next().unwrap()));
    }

    #[tokio::test]
    async fn verify_accepts_the_password_and_rejects_others() {
        let hasher = PasswordHasher::new();
        let hash = hasher
            .hash(Password::parse("correct horse battery").unwrap())
            .await
            .unwrap();
        let right = Password::for_verification("correct horse battery");
        let wrong = Password::for_verification("correct horse battery!");
        assert!(hasher.verify(right, Some(hash.clone())).await.unwrap());
        assert!(!hasher.verify(wrong, Some(hash)).await.unwrap());
    }

    #[tokio::test]
    async fn verify_without_stored_hash_is_false_even_for_the_dummy_password() {
        let hasher = PasswordHasher::new();
        assert!(
            !hasher
                .verify(Password::for_verification("anything"), None)
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn long_passwords_are_not_truncated() {
        let hasher = PasswordHasher::new();
        let long = "p".repeat(200);
        let hash = hasher
            .hash(Password::parse(long.clone()).unwrap())
            .await
            .unwrap();
        let differs_at_end = format!("{}q", &long[..199]);
        assert!(
            !hasher
                .verify(Password::for_verification(differs_at_end), Some(hash))
                .await
                .unwrap()
        );
    }
}
