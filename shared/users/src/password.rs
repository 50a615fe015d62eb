//! Passwords, the policy they must meet, and their Argon2id hashes.
//!
//! The policy is NIST SP 800-63B's and OWASP ASVS 5.0 §6.2's: a minimum length (a parameter,
//! 8 by default), at most 256 characters and never truncated, no composition rules, any Unicode
//! (normalised to NFC before anything else, so the same password typed on two keyboards is one
//! password), and never a password from the bundled list of common and breached passwords
//! (`data/common-passwords.txt`, see `data/COMMON-PASSWORDS.md`) or one containing the email's
//! local part.
//!
//! Parameters follow OWASP's Password Storage Cheat Sheet (Argon2id, m=19456 KiB, t=2, p=1) and are
//! written into every PHC string, so they can be raised later without breaking stored hashes.
//! Hashing takes tens of milliseconds of CPU, so it runs on threads of its own, never on the executor.

use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use unicode_normalization::UnicodeNormalization;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::email::Email;

/// Argon2id memory cost in KiB.
pub const ARGON2_M_COST_KIB: u32 = 19_456;
/// Argon2id iterations.
pub const ARGON2_T_COST: u32 = 2;
/// Argon2id lanes.
pub const ARGON2_P_COST: u32 = 1;
/// Shortest accepted password by default, in characters (NIST SP 800-63B §3.1.1.2); the least a
/// deployment may choose.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// The most a deployment may require as its minimum length.
pub const MAX_MIN_PASSWORD_CHARS: usize = 64;
/// Longest accepted password, in characters; longer ones are refused, never truncated.
pub const MAX_PASSWORD_CHARS: usize = 256;

/// A PHC string with the real parameters and a random salt and digest (no password is known to
/// match it), verified against when the email is
/// unknown so that the response takes as long as for a real user.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$yJ7k0E0C8m2tq8n3hzQz8g$NmSJ1Ke3N3EwlYtO7oC6yq4Dd5zRjJ2lqyJ8J6q5pCk";

/// Why a password was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PasswordError {
    #[error("password must be at least {0} characters")]
    TooShort(usize),
    #[error("password must be at most {MAX_PASSWORD_CHARS} characters")]
    TooLong,
    #[error("password is too common: it appears in lists of breached passwords; choose another")]
    Common,
    #[error("password must not contain your email address")]
    ContainsEmail,
    #[error("password appears in a known data breach; choose another")]
    Breached,
}

/// A minimum length outside what the policy allows.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("minimum password length must be from {MIN_PASSWORD_CHARS} to {MAX_MIN_PASSWORD_CHARS}")]
pub struct PolicyError;

/// The bundled list of common and breached passwords: NFC, lowercase, sorted by bytes, one per
/// line, so that it is searched where it lies in the binary (no index, no start-up cost).
static COMMON_PASSWORDS: &str = include_str!("../data/common-passwords.txt");

/// Whether `candidate` (NFC, lowercase) is a line of [`COMMON_PASSWORDS`]: a binary search over
/// the lines, about 18 steps.
fn is_common(candidate: &str) -> bool {
    let list = COMMON_PASSWORDS.as_bytes();
    let candidate = candidate.as_bytes();
    let (mut lo, mut hi) = (0, list.len());
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let start = list[lo..mid]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(lo, |i| lo + i + 1);
        let end = list[start..hi]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(hi, |i| start + i);
        match list[start..end].cmp(candidate) {
            std::cmp::Ordering::Equal => return true,
            std::cmp::Ordering::Less => lo = end + 1,
            std::cmp::Ordering::Greater => hi = start,
        }
    }
    false
}

/// What a new password must be: one rule, called wherever a password is set (registration,
/// password change, reset, an administrator, the command line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    min_chars: usize,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_chars: MIN_PASSWORD_CHARS,
        }
    }
}

impl PasswordPolicy {
    /// A policy requiring at least `min_chars` characters (8 to 64).
    pub fn with_min_chars(min_chars: usize) -> Result<Self, PolicyError> {
        if (MIN_PASSWORD_CHARS..=MAX_MIN_PASSWORD_CHARS).contains(&min_chars) {
            Ok(Self { min_chars })
        } else {
            Err(PolicyError)
        }
    }

    /// The minimum length, in characters.
    pub fn min_chars(&self) -> usize {
        self.min_chars
    }

    /// Checks a new password for the account `email`: length in characters after NFC, not
    /// common or breached, not containing the email's local part (3 characters or more).
    pub fn check(
        &self,
        input: impl Into<String>,
        email: &Email,
    ) -> Result<Password, PasswordError> {
        let password: String = input.into().nfc().collect();
        let chars = password.chars().count();
        if chars < self.min_chars {
            return Err(PasswordError::TooShort(self.min_chars));
        }
        if chars > MAX_PASSWORD_CHARS {
            return Err(PasswordError::TooLong);
        }
        let folded = password.to_lowercase();
        if is_common(&folded) {
            return Err(PasswordError::Common);
        }
        let local = email
            .as_str()
            .rsplit_once('@')
            .map_or("", |(local, _)| local);
        if local.chars().count() >= 3 && folded.contains(local) {
            return Err(PasswordError::ContainsEmail);
        }
        Ok(Password(password))
    }
}

/// A plaintext password, in NFC, that met the policy (or is only compared). Its `Debug` never
/// shows it.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// A password that is only ever compared, never stored: login checks any input against the
    /// stored hash (in NFC, as it was hashed), and a policy violation must look like any other
    /// wrong password.
    pub fn for_verification(input: impl Into<String>) -> Self {
        Self(input.into().nfc().collect())
    }

    fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The password in NFC, for a breach check that sends a prefix of its SHA-1 (never the
    /// password) to a k-anonymity range API.
    pub fn expose_for_breach_check(&self) -> &str {
        &self.0
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
    #[error("the hashing threads are gone")]
    Pool,
}

/// Hashes and verifies passwords on the hashing threads, off the async executor.
#[derive(Clone)]
pub struct PasswordHasher {
    argon2: Arc<Argon2<'static>>,
    verifications: Arc<AtomicU64>,
    running: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
}

/// The threads Argon2id runs on: about one per core, for the life of the process. Each
/// computation holds 19 MiB and a core, so more at once would only add memory, and on threads of
/// their own rather than the blocking pool's, since glibc keeps a freed 19 MiB block in the arena
/// of the thread that used it: spread over the blocking pool's many threads, that grew `authgate
/// serve` to 1.69 GB under 64 concurrent logins. Jobs wait their turn in a queue, first come first
/// served, without a thread of their own.
fn hashing_pool() -> &'static std::sync::Mutex<std::sync::mpsc::Sender<HashJob>> {
    static POOL: OnceLock<std::sync::Mutex<std::sync::mpsc::Sender<HashJob>>> = OnceLock::new();
    POOL.get_or_init(|| {
        let (sender, receiver) = std::sync::mpsc::channel::<HashJob>();
        let receiver = Arc::new(std::sync::Mutex::new(receiver));
        for i in 0..max_concurrent_hashes() {
            let receiver = Arc::clone(&receiver);
            // A pool that cannot start a thread hashes on the ones it has; with none, every
            // hash fails with `HashError::Pool` rather than the process panicking.
            let _ = std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    loop {
                        let job = match receiver.lock() {
                            Ok(queue) => queue.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                });
        }
        std::sync::Mutex::new(sender)
    })
}

/// One computation for the hashing pool.
type HashJob = Box<dyn FnOnce() + Send>;

/// The most Argon2id computations this process runs at once.
pub fn max_concurrent_hashes() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
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
            running: Arc::new(AtomicUsize::new(0)),
            peak: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Runs `work` on the hashing pool, in its turn.
    async fn bounded<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, HashError> + Send + 'static,
    ) -> Result<T, HashError> {
        let (running, peak) = (Arc::clone(&self.running), Arc::clone(&self.peak));
        let (done, result) = tokio::sync::oneshot::channel();
        let job: HashJob = Box::new(move || {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            let outcome = work();
            running.fetch_sub(1, Ordering::SeqCst);
            let _ = done.send(outcome);
        });
        hashing_pool()
            .lock()
            .map_err(|_| HashError::Pool)?
            .send(job)
            .map_err(|_| HashError::Pool)?;
        result.await.map_err(|_| HashError::Pool)?
    }

    /// Hashes `password` with a fresh random salt.
    pub async fn hash(&self, password: Password) -> Result<PasswordHash, HashError> {
        let argon2 = Arc::clone(&self.argon2);
        self.bounded(move || {
            let salt = SaltString::generate(&mut OsRng);
            argon2
                .hash_password(password.as_bytes(), &salt)
                .map(|hash| PasswordHash(hash.to_string()))
                .map_err(HashError::Argon2)
        })
        .await
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
        self.bounded(move || {
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
        .await
    }

    /// How many Argon2 verifications this hasher (and its clones) has run: the evidence that
    /// logins of unknown users do the same work as logins of known ones.
    pub fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }

    /// The most Argon2 computations this hasher (and its clones) has run at once.
    pub fn peak_concurrency(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn argon2_runs_at_most_one_computation_per_core_at_once() {
        let hasher = PasswordHasher::new();
        let checks = (0..4 * max_concurrent_hashes() + 4).map(|i| {
            let hasher = hasher.clone();
            tokio::spawn(async move {
                hasher
                    .verify(Password::for_verification(format!("guess {i}")), None)
                    .await
            })
        });
        for check in futures::future::join_all(checks).await {
            assert!(!check.unwrap().unwrap());
        }
        assert!(hasher.peak_concurrency() >= 1);
        assert!(
            hasher.peak_concurrency() <= max_concurrent_hashes(),
            "{} at once",
            hasher.peak_concurrency()
        );
    }

    fn alice() -> Email {
        Email::parse("alice@example.com").unwrap()
    }

    #[test]
    fn password_length_is_counted_in_characters_after_nfc() {
        let policy = PasswordPolicy::default();
        assert_eq!(
            policy.check("zq7!vk2", &alice()).unwrap_err(),
            PasswordError::TooShort(8)
        );
        assert!(policy.check("zq7!vk2#", &alice()).is_ok());
        // 8 characters, 16 bytes.
        assert!(policy.check("éüöéüöéü", &alice()).is_ok());
        // 4 characters once composed, 8 code points as typed.
        assert_eq!(
            policy
                .check("e\u{301}u\u{308}o\u{308}e\u{301}", &alice())
                .unwrap_err(),
            PasswordError::TooShort(8)
        );
        assert!(policy.check("é".repeat(256), &alice()).is_ok());
        assert_eq!(
            policy.check("a".repeat(257), &alice()).unwrap_err(),
            PasswordError::TooLong
        );
        let strict = PasswordPolicy::with_min_chars(15).unwrap();
        assert_eq!(
            strict.check("zq7!vk2#zq7!vk2", &alice()).map(|_| ()),
            Ok(())
        );
        assert_eq!(
            strict.check("zq7!vk2#zq7!vk", &alice()).unwrap_err(),
            PasswordError::TooShort(15)
        );
        assert_eq!(PasswordPolicy::with_min_chars(7), Err(PolicyError));
        assert_eq!(PasswordPolicy::with_min_chars(65), Err(PolicyError));
    }

    #[test]
    fn the_same_password_typed_composed_or_decomposed_is_one_password() {
        let composed = PasswordPolicy::default()
            .check("caf\u{e9} au lait!", &alice())
            .unwrap();
        let decomposed = Password::for_verification("cafe\u{301} au lait!");
        assert_eq!(composed.as_bytes(), decomposed.as_bytes());
    }

    #[test]
    fn common_and_breached_passwords_are_refused_in_any_case() {
        let policy = PasswordPolicy::default();
        for common in [
            "password",
            "Password1",
            "12345678",
            "QWERTYUIOP",
            "iloveyou",
        ] {
            assert_eq!(
                policy.check(common, &alice()).unwrap_err(),
                PasswordError::Common,
                "{common}"
            );
        }
        assert!(
            policy
                .check("correct horse battery staple", &alice())
                .is_ok()
        );
    }

    #[test]
    fn the_bundled_list_is_large_sorted_and_every_entry_is_found() {
        let lines: Vec<&str> = COMMON_PASSWORDS.lines().collect();
        assert!(lines.len() >= 100_000, "{} entries", lines.len());
        assert!(
            lines.windows(2).all(|w| w[0].as_bytes() < w[1].as_bytes()),
            "sorted by bytes, no duplicates: the binary search needs it"
        );
        for line in &lines {
            assert!(is_common(line), "{line:?}");
            assert_eq!(line.nfc().collect::<String>().to_lowercase(), *line);
        }
        for absent in [
            "",
            "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzz~",
            "\u{10FFFF}",
            "correct horse battery staple",
        ] {
            assert!(!is_common(absent), "{absent:?}");
        }
    }

    #[test]
    fn a_password_containing_the_emails_local_part_is_refused() {
        let policy = PasswordPolicy::default();
        assert_eq!(
            policy.check("xXAlice-4-ever-Xx", &alice()).unwrap_err(),
            PasswordError::ContainsEmail
        );
        let short = Email::parse("al@example.com").unwrap();
        assert!(
            policy.check("xXal-4-ever-Xx", &short).is_ok(),
            "too short to matter"
        );
    }

    #[test]
    fn debug_never_shows_the_password() {
        let p = PasswordPolicy::default()
            .check("hunter2hunter2", &alice())
            .unwrap();
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
            .hash(Password::for_verification("correct horse battery"))
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
            .hash(Password::for_verification("correct horse battery"))
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
            .hash(Password::for_verification(long.clone()))
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
