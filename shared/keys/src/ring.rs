//! A key set that follows rotations without a redeploy.
//!
//! Keys are reloaded when they are older than a maximum age, so a warm function signs with a new
//! `AWSCURRENT`, and stops trusting a key that left `AWSPREVIOUS`, within that age of a rotation.
//! A verifier also reloads when it meets a `kid` it does not know, at most once per interval, so
//! a flood of tokens with made-up `kid`s costs at most one Secrets Manager call per interval. A
//! failed reload keeps the keys in hand, for a bounded time: once no reload has succeeded for
//! [`STALE_RELOADS`] times the maximum age, the ring holds no keys at all (nothing verifies,
//! nothing is signed) until a reload succeeds again, since it can no longer know whether its keys
//! were retired or leaked.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use authgate_token::{
    AccessClaims, KeySet, SignError, TokenIssuer, Validation, VerifyError, verify_own_encoded,
};

use crate::{KeySource, KeySourceError};

/// How many maximum ages the keys in hand keep serving while every reload fails.
pub const STALE_RELOADS: u32 = 4;

/// The least time keys serve without a successful reload, however short the maximum age.
const MIN_STALE: Duration = Duration::from_secs(1);

/// Functions reload their keys when older than this, to follow a rotation within minutes.
pub const KEYS_MAX_AGE: Duration = Duration::from_secs(300);
/// The authorizer reloads its keys for an unknown `kid` at most this often.
pub const KEY_RELOAD_MIN_INTERVAL: Duration = Duration::from_secs(60);

/// The keys and when they were last loaded and last tried.
struct Held {
    keys: Arc<KeySet>,
    loaded_at: Instant,
    tried_at: Instant,
}

/// Keys from a source, reloaded on demand.
pub struct KeyRing {
    source: Arc<dyn KeySource>,
    held: RwLock<Held>,
    max_age: Duration,
    min_reload_interval: Duration,
    max_stale: Duration,
    closed: AtomicBool,
    reloading: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("kids", &self.current().kids())
            .finish_non_exhaustive()
    }
}

impl KeyRing {
    /// Loads the keys now. [`KeyRing::fresh`] reloads them once older than `max_age`;
    /// [`KeyRing::reload_if_due`] at most once per `min_reload_interval`. Without a successful
    /// reload for [`STALE_RELOADS`] times `max_age` (at least a second) it holds no keys.
    pub async fn load(
        source: Arc<dyn KeySource>,
        max_age: Duration,
        min_reload_interval: Duration,
    ) -> Result<Self, KeySourceError> {
        let keys = source.load().await?;
        Ok(Self::holding(
            source,
            Arc::new(keys),
            max_age,
            min_reload_interval,
            max_age.saturating_mul(STALE_RELOADS).max(MIN_STALE),
        ))
    }

    fn holding(
        source: Arc<dyn KeySource>,
        keys: Arc<KeySet>,
        max_age: Duration,
        min_reload_interval: Duration,
        max_stale: Duration,
    ) -> Self {
        let now = Instant::now();
        Self {
            source,
            held: RwLock::new(Held {
                keys,
                loaded_at: now,
                tried_at: now,
            }),
            max_age,
            min_reload_interval,
            max_stale,
            closed: AtomicBool::new(false),
            reloading: tokio::sync::Mutex::new(()),
        }
    }

    /// The same ring, holding its keys for `max_stale` without a successful reload (instead of
    /// [`STALE_RELOADS`] times the maximum age).
    pub fn with_max_stale(mut self, max_stale: Duration) -> Self {
        self.max_stale = max_stale;
        self
    }

    /// A ring that always holds `keys`: for tests, and for a process whose keys cannot change.
    pub fn fixed(keys: KeySet) -> Self {
        let keys = Arc::new(keys);
        Self::holding(
            Arc::new(Fixed(Arc::clone(&keys))),
            keys,
            Duration::MAX,
            Duration::MAX,
            Duration::MAX,
        )
    }

    /// A ring of this one's keys without their signing halves, following it as it reloads: for
    /// a verifier that runs beside signers in one process (`authgate serve`, tests), so it holds
    /// what a deployed verifier holds.
    pub async fn public_halves(self: &Arc<Self>) -> Result<Self, KeySourceError> {
        let source = Arc::new(PublicHalves(Arc::clone(self)));
        let keys = source.load().await?;
        Ok(Self::holding(
            source,
            Arc::new(keys),
            self.max_age,
            self.min_reload_interval,
            self.max_stale,
        ))
    }

    fn read<T>(&self, f: impl FnOnce(&Held) -> T) -> T {
        match self.held.read() {
            Ok(guard) => f(&guard),
            Err(poisoned) => f(&poisoned.into_inner()),
        }
    }

    /// The keys in hand; none once no reload has succeeded for too long (fail closed).
    pub fn current(&self) -> Arc<KeySet> {
        let (keys, loaded_at) = self.read(|held| (Arc::clone(&held.keys), held.loaded_at));
        if loaded_at.elapsed() <= self.max_stale {
            return keys;
        }
        if !self.closed.swap(true, Ordering::SeqCst) {
            tracing::error!(
                stale_secs = loaded_at.elapsed().as_secs(),
                "no successful signing-key reload for too long; trusting no key until one succeeds"
            );
        }
        Arc::new(KeySet::default())
    }

    fn tried_at(&self) -> Instant {
        self.read(|held| held.tried_at)
    }

    /// Reloads unless the last load was less than the minimum interval ago. Returns whether the
    /// key set changed.
    pub async fn reload_if_due(&self) -> bool {
        let _one_at_a_time = self.reloading.lock().await;
        if self.tried_at().elapsed() < self.min_reload_interval {
            return false;
        }
        self.reload().await
    }

    /// The keys, reloaded first if they are older than the maximum age.
    pub async fn fresh(&self) -> Arc<KeySet> {
        if self.tried_at().elapsed() >= self.max_age {
            let _one_at_a_time = self.reloading.lock().await;
            if self.tried_at().elapsed() >= self.max_age {
                self.reload().await;
            }
        }
        self.current()
    }

    async fn reload(&self) -> bool {
        match self.source.load().await {
            Ok(keys) => {
                let changed = keys.kids() != self.current().kids();
                if let Ok(mut guard) = self.held.write() {
                    let now = Instant::now();
                    *guard = Held {
                        keys: Arc::new(keys),
                        loaded_at: now,
                        tried_at: now,
                    };
                }
                if self.closed.swap(false, Ordering::SeqCst) {
                    tracing::info!("signing keys reloaded; trusting keys again");
                }
                changed
            }
            Err(e) => {
                tracing::error!(error = %e, "reloading signing keys failed; keeping the keys in hand");
                if let Ok(mut guard) = self.held.write() {
                    guard.tried_at = Instant::now();
                }
                false
            }
        }
    }
}

/// The key source of [`KeyRing::fixed`].
struct Fixed(Arc<KeySet>);

#[async_trait::async_trait]
impl KeySource for Fixed {
    async fn load(&self) -> Result<KeySet, KeySourceError> {
        Ok(self.0.as_ref().clone())
    }
}

/// The key source of [`KeyRing::public_halves`]: the other ring's keys as it reloads them (on
/// age, or on a `kid` this ring does not know), without signing halves.
struct PublicHalves(Arc<KeyRing>);

#[async_trait::async_trait]
impl KeySource for PublicHalves {
    async fn load(&self) -> Result<KeySet, KeySourceError> {
        self.0.reload_if_due().await;
        Ok(self.0.fresh().await.public_only())
    }
}

/// A token issuer that signs with a [`KeyRing`]'s fresh keys, so a warm function signs with the
/// new `AWSCURRENT` soon after a rotation.
#[derive(Clone)]
pub struct RingIssuer {
    issuer: TokenIssuer,
    ring: Arc<KeyRing>,
}

impl RingIssuer {
    /// Issues tokens as `issuer` says, signed with `ring`'s keys.
    pub fn new(issuer: TokenIssuer, ring: Arc<KeyRing>) -> Self {
        Self { issuer, ring }
    }

    /// The issuer to sign with now.
    pub async fn current(&self) -> Result<TokenIssuer, SignError> {
        self.issuer.with_keys(self.ring.fresh().await)
    }
}

/// Verifies authgate's own access tokens with a [`KeyRing`]'s keys, reloaded when they are old
/// and (rate-limited) when a token names an unknown `kid`: a rotation needs no redeploy, and a
/// retired key stops being trusted. The one verification the authorizer and the OAuth
/// endpoints (revocation, introspection) share.
pub struct RingVerifier {
    validation: Validation,
    ring: Arc<KeyRing>,
}

impl RingVerifier {
    /// Verifies tokens as `validation` says, with `ring`'s keys.
    pub fn new(validation: Validation, ring: Arc<KeyRing>) -> Self {
        Self { validation, ring }
    }

    /// The claims of `token` as of `now`, and their JSON as the token carried them.
    pub async fn verify_encoded(
        &self,
        token: &str,
        now: i64,
    ) -> Result<(AccessClaims, String), VerifyError> {
        let verify = |keys: Arc<KeySet>| verify_own_encoded(&keys, &self.validation, token, now);
        match verify(self.ring.fresh().await) {
            Err(VerifyError::UnknownKid) if self.ring.reload_if_due().await => {
                verify(self.ring.current())
            }
            result => result,
        }
    }

    /// What tokens must say to be accepted.
    pub fn validation(&self) -> &Validation {
        &self.validation
    }

    /// The claims of `token` as of `now`.
    pub async fn verify(&self, token: &str, now: i64) -> Result<AccessClaims, VerifyError> {
        self.verify_encoded(token, now)
            .await
            .map(|(claims, _)| claims)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::atomic::{AtomicUsize, Ordering};

    use authgate_token::{Algorithm, Key};

    use super::*;

    /// A key source whose n-th load returns key `v{n}`, or fails when told to.
    struct Counting {
        loads: AtomicUsize,
        fail: std::sync::atomic::AtomicBool,
    }

    #[async_trait::async_trait]
    impl KeySource for Counting {
        async fn load(&self) -> Result<KeySet, KeySourceError> {
            if self.fail.load(Ordering::SeqCst) {
                return Err(KeySourceError::MissingStage {
                    secret_id: "s".into(),
                    stage: "AWSCURRENT",
                });
            }
            let n = self.loads.fetch_add(1, Ordering::SeqCst) + 1;
            let kid = format!("v{n}");
            Ok(KeySet::signing(
                &kid,
                [Key::hmac(&kid, &[n as u8; 32], Algorithm::HS256).unwrap()],
            )
            .unwrap())
        }
    }

    fn source() -> Arc<Counting> {
        Arc::new(Counting {
            loads: AtomicUsize::new(0),
            fail: false.into(),
        })
    }

    #[tokio::test]
    async fn reload_for_unknown_kids_is_rate_limited() {
        let source = source();
        let ring = KeyRing::load(
            source.clone(),
            Duration::from_secs(3600),
            Duration::from_secs(3600),
        )
        .await
        .unwrap();
        for _ in 0..100 {
            assert!(!ring.reload_if_due().await);
        }
        assert_eq!(
            source.loads.load(Ordering::SeqCst),
            1,
            "no reload inside the interval"
        );
        let ring = KeyRing::load(source.clone(), Duration::from_secs(3600), Duration::ZERO)
            .await
            .unwrap();
        assert!(ring.reload_if_due().await);
        assert_eq!(ring.current().kids(), vec!["v3"]);
    }

    #[tokio::test]
    async fn fresh_reloads_only_past_the_max_age() {
        let source = source();
        let ring = KeyRing::load(source.clone(), Duration::from_secs(3600), Duration::ZERO)
            .await
            .unwrap();
        ring.fresh().await;
        assert_eq!(source.loads.load(Ordering::SeqCst), 1);
        let ring = KeyRing::load(source.clone(), Duration::ZERO, Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(ring.fresh().await.kids(), vec!["v3"]);
    }

    #[tokio::test]
    async fn public_halves_follow_the_signing_ring_and_sign_nothing() {
        let k = authgate_token::new_secret_material("EdDSA").unwrap();
        let signer = Arc::new(KeyRing::fixed(
            KeySet::signing(
                "e1",
                [Key::from_secret_material("e1", "EdDSA", k.as_bytes()).unwrap()],
            )
            .unwrap(),
        ));
        let halves = signer.public_halves().await.unwrap();
        assert_eq!(halves.current().kids(), vec!["e1"]);
        assert!(halves.current().signing_key().is_none());
        assert!(!halves.current().get("e1").unwrap().can_sign());

        let source = source();
        let signer = Arc::new(
            KeyRing::load(source.clone(), Duration::from_secs(3600), Duration::ZERO)
                .await
                .unwrap(),
        );
        let halves = signer.public_halves().await.unwrap();
        assert!(
            halves.reload_if_due().await,
            "an unknown kid reloads the ring beneath"
        );
        assert_eq!(halves.current().kids(), signer.current().kids());
    }

    #[tokio::test]
    async fn a_failed_reload_keeps_the_keys_in_hand() {
        let source = source();
        let ring = KeyRing::load(source.clone(), Duration::ZERO, Duration::ZERO)
            .await
            .unwrap()
            .with_max_stale(Duration::from_secs(3600));
        source.fail.store(true, Ordering::SeqCst);
        assert_eq!(ring.fresh().await.kids(), vec!["v1"]);
        assert!(!ring.reload_if_due().await);
        assert_eq!(ring.current().kids(), vec!["v1"]);
    }

    #[tokio::test]
    async fn reloads_failing_for_too_long_leave_no_key_trusted_until_one_succeeds() {
        let source = source();
        let max_age = Duration::from_millis(10);
        let ring = KeyRing::load(source.clone(), max_age, Duration::ZERO)
            .await
            .unwrap()
            .with_max_stale(max_age * STALE_RELOADS);
        source.fail.store(true, Ordering::SeqCst);
        assert_eq!(ring.fresh().await.kids(), vec!["v1"], "within the bound");
        tokio::time::sleep(Duration::from_millis(10) * (STALE_RELOADS + 1)).await;
        assert!(ring.fresh().await.kids().is_empty(), "failed closed");
        assert!(ring.current().kids().is_empty());
        assert!(ring.current().signing_key().is_none());
        source.fail.store(false, Ordering::SeqCst);
        ring.reload_if_due().await;
        assert_eq!(
            ring.current().kids(),
            vec!["v2"],
            "open again after a reload"
        );
    }
}
