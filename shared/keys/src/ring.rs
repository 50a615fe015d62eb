//! A key set that follows rotations without a redeploy.
//!
//! Keys are reloaded when they are older than a maximum age, so a warm function signs with a new
//! `AWSCURRENT`, and stops trusting a key that left `AWSPREVIOUS`, within that age of a rotation.
//! A verifier also reloads when it meets a `kid` it does not know, at most once per interval, so
//! a flood of tokens with made-up `kid`s costs at most one Secrets Manager call per interval. A
//! failed reload keeps the keys in hand.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use authgate_token::{KeySet, SignError, TokenIssuer};

use crate::{KeySource, KeySourceError};

/// Keys from a source, reloaded on demand.
pub struct KeyRing {
    source: Arc<dyn KeySource>,
    keys: RwLock<(Arc<KeySet>, Instant)>,
    max_age: Duration,
    min_reload_interval: Duration,
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
    /// [`KeyRing::reload_if_due`] at most once per `min_reload_interval`.
    pub async fn load(
        source: Arc<dyn KeySource>,
        max_age: Duration,
        min_reload_interval: Duration,
    ) -> Result<Self, KeySourceError> {
        let keys = source.load().await?;
        Ok(Self {
            source,
            keys: RwLock::new((Arc::new(keys), Instant::now())),
            max_age,
            min_reload_interval,
            reloading: tokio::sync::Mutex::new(()),
        })
    }

    /// A ring that always holds `keys`: for tests, and for a process whose keys cannot change.
    pub fn fixed(keys: KeySet) -> Self {
        let keys = Arc::new(keys);
        Self {
            source: Arc::new(Fixed(Arc::clone(&keys))),
            keys: RwLock::new((keys, Instant::now())),
            max_age: Duration::MAX,
            min_reload_interval: Duration::MAX,
            reloading: tokio::sync::Mutex::new(()),
        }
    }

    /// The keys in hand.
    pub fn current(&self) -> Arc<KeySet> {
        match self.keys.read() {
            Ok(guard) => Arc::clone(&guard.0),
            Err(poisoned) => Arc::clone(&poisoned.into_inner().0),
        }
    }

    fn loaded_at(&self) -> Instant {
        match self.keys.read() {
            Ok(guard) => guard.1,
            Err(poisoned) => poisoned.into_inner().1,
        }
    }

    /// Reloads unless the last load was less than the minimum interval ago. Returns whether the
    /// key set changed.
    pub async fn reload_if_due(&self) -> bool {
        let _one_at_a_time = self.reloading.lock().await;
        if self.loaded_at().elapsed() < self.min_reload_interval {
            return false;
        }
        self.reload().await
    }

    /// The keys, reloaded first if they are older than the maximum age.
    pub async fn fresh(&self) -> Arc<KeySet> {
        if self.loaded_at().elapsed() >= self.max_age {
            let _one_at_a_time = self.reloading.lock().await;
            if self.loaded_at().elapsed() >= self.max_age {
                self.reload().await;
            }
        }
        self.current()
    }

    async fn reload(&self) -> bool {
        match self.source.load().await {
            Ok(keys) => {
                let changed = keys.kids() != self.current().kids();
                if let Ok(mut guard) = self.keys.write() {
                    *guard = (Arc::new(keys), Instant::now());
                }
                changed
            }
            Err(e) => {
                tracing::error!(error = %e, "reloading signing keys failed; keeping the keys in hand");
                if let Ok(mut guard) = self.keys.write() {
                    guard.1 = Instant::now();
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
    async fn a_failed_reload_keeps_the_keys_in_hand() {
        let source = source();
        let ring = KeyRing::load(source.clone(), Duration::ZERO, Duration::ZERO)
            .await
            .unwrap();
        source.fail.store(true, Ordering::SeqCst);
        assert_eq!(ring.fresh().await.kids(), vec!["v1"]);
        assert!(!ring.reload_if_due().await);
        assert_eq!(ring.current().kids(), vec!["v1"]);
    }
}
