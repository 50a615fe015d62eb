//! Throttling guessing and abuse: the rules, decided here once, over a narrow counter store.
//!
//! Per account (Cognito's scheme): after [`LoginLimits::free_failures`] consecutive failed logins
//! each further attempt must wait, 1 second at first and twice as long after every further
//! failure, up to [`LoginLimits::max_delay_ms`]. While the wait lasts, login answers 429 with
//! `Retry-After`, even for the right password (otherwise the throttle would say which guess was
//! right). A success forgets the failures; a day without attempts does too. Nothing locks an
//! account for good, so an attacker cannot lock a victim out for longer than the cap.
//!
//! The account is keyed by the email as typed (normalised when it parses), known or not, so an
//! unknown email is throttled exactly like a known one and the throttle does not tell which
//! emails have accounts. Every attempt is counted before the password is checked (and the count
//! taken back on success), so concurrent guesses cannot slip past the count. Attempts are also
//! counted while in flight: one that would be throttled only because attempts still being checked
//! were counted in advance waits (up to [`IN_FLIGHT_WAIT`]) for them to end rather than answer
//! 429, so clients sharing an account that log in together are not locked out by each other's
//! right passwords, while concurrent guesses stay bounded as before.
//!
//! A client's secret (RFC 6749 §2.3.1, whose §10.10 asks that guessing credentials be made
//! infeasible) is throttled by the same rules, keyed by the client id as presented.
//!
//! Per source address, fixed windows count failed logins across accounts (credential stuffing)
//! and registrations; over the cap, 429 until the window ends.

use crate::email::Email;
use crate::sessions::sha256_hex;
use crate::store::StoreError;

/// A throttle key: what is counted. Account keys hold a hash of the email, never the email.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ThrottleKey(String);

impl ThrottleKey {
    /// The consecutive failed logins of the account named `email` (as typed).
    pub fn login_account(email: &str) -> Self {
        Guessed::password_of(email).run
    }

    /// Failed logins from `ip` in the window starting at `window_start_ms`.
    pub fn login_address(ip: &str, window_start_ms: i64) -> Self {
        Self(format!("login-ip#{}#{window_start_ms}", source_key(ip)))
    }

    /// Registrations from `ip` in the window starting at `window_start_ms`.
    pub fn register_address(ip: &str, window_start_ms: i64) -> Self {
        Self(format!("register-ip#{}#{window_start_ms}", source_key(ip)))
    }

    /// Mails of `purpose` to the address whose SHA-256 is `address_hash`, in the window
    /// starting at `window_start_ms`.
    pub fn mail_address(purpose: &str, address_hash: &str, window_start_ms: i64) -> Self {
        Self(format!("mail#{purpose}#{address_hash}#{window_start_ms}"))
    }

    /// The key as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whose guesses a run of failures counts: an account's password (by the email as typed) or a
/// client's secret (by the client id as presented), with what a throttled attempt is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guessed {
    run: ThrottleKey,
    throttled: &'static str,
    busy: &'static str,
}

impl Guessed {
    /// The password of the account named `email` (as typed, known or not).
    pub fn password_of(email: &str) -> Self {
        let normalized = match Email::parse(email) {
            Ok(email) => email.normalized(),
            Err(_) => email.trim().to_lowercase(),
        };
        Self {
            run: ThrottleKey(format!("login#{}", sha256_hex(normalized.as_bytes()))),
            throttled: LOGIN_THROTTLED,
            busy: LOGIN_BUSY,
        }
    }

    /// The secret of the client `client_id` (as presented, known or not).
    pub fn secret_of(client_id: &str) -> Self {
        Self {
            run: ThrottleKey(format!("client-auth#{}", sha256_hex(client_id.as_bytes()))),
            throttled: CLIENT_AUTH_THROTTLED,
            busy: CLIENT_AUTH_BUSY,
        }
    }

    /// Attempts that began in the window starting at `window_start_ms` and have not ended yet.
    fn in_flight(&self, window_start_ms: i64) -> ThrottleKey {
        ThrottleKey(format!("{}#flight#{window_start_ms}", self.run.0))
    }
}

/// What a source address is counted as: an IPv6 address as its /64, since the low 64 bits of a
/// unicast address are the interface identifier (RFC 4291 §2.5.1) that a host on the link may
/// pick and change at will, so one host could otherwise be 2^64 sources; an IPv4 address (or an
/// IPv4-mapped IPv6 one) as itself; anything else as given.
fn source_key(ip: &str) -> String {
    match ip.trim().parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                format!("{}/64", std::net::Ipv6Addr::from(prefix))
            }
        },
        Ok(std::net::IpAddr::V4(v4)) => v4.to_string(),
        Err(_) => ip.to_owned(),
    }
}

/// An account's run of failed logins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Consecutive failures (attempts counted in advance included).
    pub failures: u32,
    /// No attempt is taken before this time (Unix ms).
    pub locked_until_ms: i64,
    /// After this time the run is forgotten (the store may delete it then).
    pub expires_at_ms: i64,
}

/// Counters that throttle abuse: every operation atomic, every counter expiring.
#[async_trait::async_trait]
pub trait ThrottleStore: Send + Sync {
    /// The backoff stored under `key`, expired or not.
    async fn backoff(&self, key: &ThrottleKey) -> Result<Option<Backoff>, StoreError>;
    /// Stores `next` under `key` if what is stored is still `seen` (compare and set); whether it
    /// did.
    async fn swap_backoff(
        &self,
        key: &ThrottleKey,
        seen: Option<&Backoff>,
        next: &Backoff,
    ) -> Result<bool, StoreError>;
    /// Forgets the backoff under `key`.
    async fn clear_backoff(&self, key: &ThrottleKey) -> Result<(), StoreError>;
    /// Adds `delta` to the counter `key` (created at 0, expiring at `expires_at_ms`) and returns
    /// the new value.
    async fn add(
        &self,
        key: &ThrottleKey,
        delta: i64,
        expires_at_ms: i64,
    ) -> Result<i64, StoreError>;
}

/// A request refused by a throttle: try again after the wait.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Throttled {
    retry_after_ms: i64,
    message: &'static str,
}

impl Throttled {
    /// Whole seconds to wait, at least 1: the `Retry-After` value.
    pub fn retry_after_secs(&self) -> u64 {
        u64::try_from((self.retry_after_ms + 999) / 1000)
            .unwrap_or(1)
            .max(1)
    }
}

/// `detail` of a throttled login.
pub const LOGIN_THROTTLED: &str = "Too many failed login attempts; try again later";
/// `detail` of a login that waited for other logins of its account still in flight, in vain.
pub const LOGIN_BUSY: &str = "Too many logins of this account at once; try again shortly";
/// `error_description` of a throttled client authentication.
pub const CLIENT_AUTH_THROTTLED: &str =
    "Too many failed authentications of this client; try again later";
/// `error_description` of a client authentication that waited for others in flight, in vain.
pub const CLIENT_AUTH_BUSY: &str =
    "Too many authentications of this client at once; try again shortly";
/// `detail` of a throttled registration.
pub const REGISTER_THROTTLED: &str = "Too many registrations from this address; try again later";

/// Why a throttled operation did not go ahead.
#[derive(Debug, thiserror::Error)]
pub enum ThrottleError {
    #[error(transparent)]
    Throttled(#[from] Throttled),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A run of failures is forgotten this long after its last attempt.
const FORGET_AFTER_MS: i64 = 24 * 3600 * 1000;
/// Attempts at a compare-and-set before contention makes an attempt pause between tries.
const SWAP_ATTEMPTS: u32 = 5;
/// How long an attempt that only attempts still in flight throttle waits for them to end: long
/// enough for a burst of logins of one account to clear the hashing queue, and well inside a
/// function's 10-second timeout.
pub const IN_FLIGHT_WAIT: std::time::Duration = std::time::Duration::from_secs(5);
/// In-flight counts are kept per window of this length; an attempt that never ends (its process
/// died) is forgotten after two.
const IN_FLIGHT_WINDOW_MS: i64 = 10_000;

/// The login limits, from the deployment's parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLimits {
    /// Consecutive failures before attempts must wait.
    pub free_failures: u32,
    /// The longest wait, ms.
    pub max_delay_ms: i64,
    /// Failed logins one address may make per window.
    pub address_failures: i64,
    /// The address window, ms.
    pub address_window_ms: i64,
}

impl Default for LoginLimits {
    fn default() -> Self {
        Self {
            free_failures: 5,
            max_delay_ms: 15 * 60 * 1000,
            address_failures: 100,
            address_window_ms: 15 * 60 * 1000,
        }
    }
}

/// An attempt that was let through and counted as a failure in advance: say how it ended.
#[must_use = "an attempt must say how it ended"]
pub struct LoginAttempt {
    account: ThrottleKey,
    address: Option<Counted>,
    in_flight: InFlight,
}

/// One attempt counted as in flight, to take back when it ends.
struct InFlight {
    key: ThrottleKey,
    expires_at_ms: i64,
}

impl InFlight {
    /// Counts an attempt at `guessed` as in flight at `now_ms`.
    async fn enter(
        store: &dyn ThrottleStore,
        guessed: &Guessed,
        now_ms: i64,
    ) -> Result<Self, StoreError> {
        let start = now_ms - now_ms.rem_euclid(IN_FLIGHT_WINDOW_MS);
        let flight = Self {
            key: guessed.in_flight(start),
            expires_at_ms: start + 2 * IN_FLIGHT_WINDOW_MS,
        };
        store.add(&flight.key, 1, flight.expires_at_ms).await?;
        Ok(flight)
    }

    /// The attempt ended.
    async fn leave(self, store: &dyn ThrottleStore) -> Result<(), StoreError> {
        store
            .add(&self.key, -1, self.expires_at_ms)
            .await
            .map(|_| ())
    }

    /// Whether attempts at `guessed` other than this one are in flight (begun in this window
    /// or the one before, not ended).
    async fn others(
        &self,
        store: &dyn ThrottleStore,
        guessed: &Guessed,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let start = now_ms - now_ms.rem_euclid(IN_FLIGHT_WINDOW_MS);
        let mut total = 0;
        for window in [start, start - IN_FLIGHT_WINDOW_MS] {
            total += store
                .add(
                    &guessed.in_flight(window),
                    0,
                    window + 2 * IN_FLIGHT_WINDOW_MS,
                )
                .await?;
        }
        Ok(total > 1)
    }
}

/// At most `limit` occurrences per fixed window of `window_ms`: the one rule behind every cap
/// per source address and per email address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowCap {
    pub limit: i64,
    pub window_ms: i64,
}

/// One occurrence counted by a [`WindowCap`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counted {
    /// The counter it went to, to take it back.
    pub key: ThrottleKey,
    /// When the window ends.
    pub window_end_ms: i64,
    /// Whether it was within the cap.
    pub within: bool,
}

impl WindowCap {
    /// Counts one occurrence at `now_ms` under `key_for(window start)`, atomically.
    pub async fn count(
        &self,
        store: &dyn ThrottleStore,
        key_for: impl FnOnce(i64) -> ThrottleKey,
        now_ms: i64,
    ) -> Result<Counted, StoreError> {
        let window_ms = self.window_ms.max(1);
        let start = now_ms - now_ms.rem_euclid(window_ms);
        let key = key_for(start);
        let end = start + window_ms;
        let count = store.add(&key, 1, end).await?;
        Ok(Counted {
            key,
            window_end_ms: end,
            within: count <= self.limit,
        })
    }
}

impl LoginLimits {
    /// How long an attempt must wait after `failures` consecutive failures.
    pub fn delay_ms(&self, failures: u32) -> i64 {
        if failures < self.free_failures {
            return 0;
        }
        let doublings = (failures - self.free_failures).min(40);
        1000_i64
            .saturating_mul(1_i64 << doublings)
            .min(self.max_delay_ms)
    }

    /// Lets one attempt at `guessed` from `ip` through, or refuses it: counted in advance
    /// against the address window and the run of failures of what is guessed.
    pub async fn begin(
        &self,
        store: &dyn ThrottleStore,
        guessed: &Guessed,
        ip: Option<&str>,
        now_ms: i64,
    ) -> Result<LoginAttempt, ThrottleError> {
        let address = match ip {
            Some(ip) => {
                let cap = WindowCap {
                    limit: self.address_failures,
                    window_ms: self.address_window_ms,
                };
                let counted = cap
                    .count(store, |start| ThrottleKey::login_address(ip, start), now_ms)
                    .await?;
                if !counted.within {
                    return Err(Throttled {
                        retry_after_ms: counted.window_end_ms - now_ms,
                        message: guessed.throttled,
                    }
                    .into());
                }
                Some(counted)
            }
            None => None,
        };
        let account = guessed.run.clone();
        let in_flight = InFlight::enter(store, guessed, now_ms).await?;
        match self.take_turn(store, guessed, &in_flight, now_ms).await {
            Ok(()) => Ok(LoginAttempt {
                account,
                address,
                in_flight,
            }),
            Err(refused) => {
                // Refused before any password was checked: not a failed login of this address.
                in_flight.leave(store).await?;
                if let Some(counted) = &address {
                    store.add(&counted.key, -1, counted.window_end_ms).await?;
                }
                Err(refused)
            }
        }
    }

    /// Counts the attempt against the account's run of failures, in advance, or says why not:
    /// waiting while the run is locked only by attempts still in flight.
    async fn take_turn(
        &self,
        store: &dyn ThrottleStore,
        guessed: &Guessed,
        in_flight: &InFlight,
        now_ms: i64,
    ) -> Result<(), ThrottleError> {
        let account = &guessed.run;
        let deadline = tokio::time::Instant::now() + IN_FLIGHT_WAIT;
        let (mut conflicts, mut waits) = (0, 0);
        loop {
            let seen = store.backoff(account).await?;
            let live = seen.filter(|b| b.expires_at_ms > now_ms);
            if let Some(locked) = live.filter(|b| b.locked_until_ms > now_ms) {
                // Whether others are in flight is asked once per wait: while they are, each
                // later look reads the run alone.
                if tokio::time::Instant::now() < deadline
                    && (waits > 0 || in_flight.others(store, guessed, now_ms).await?)
                {
                    waits += 1;
                    pause(waits).await;
                    continue;
                }
                return Err(Throttled {
                    retry_after_ms: locked.locked_until_ms - now_ms,
                    message: if waits > 0 {
                        guessed.busy
                    } else {
                        guessed.throttled
                    },
                }
                .into());
            }
            let failures = live.map_or(0, |b| b.failures).saturating_add(1);
            let next = Backoff {
                failures,
                locked_until_ms: now_ms + self.delay_ms(failures),
                expires_at_ms: now_ms + self.max_delay_ms + FORGET_AFTER_MS,
            };
            if store.swap_backoff(account, seen.as_ref(), &next).await? {
                return Ok(());
            }
            conflicts += 1;
            if conflicts >= SWAP_ATTEMPTS {
                if tokio::time::Instant::now() >= deadline {
                    return Err(Throttled {
                        retry_after_ms: 1000,
                        message: guessed.busy,
                    }
                    .into());
                }
                pause(conflicts - SWAP_ATTEMPTS + 1).await;
            }
        }
    }
}

/// The `n`th pause of a waiting attempt: random, so that waiting attempts do not retry in
/// lockstep (10 to 30 ms at first, then 20 to 60 ms). Not longer: an attempt that has waited
/// long must not lose every race to newer ones. 400 logins of one account from 64 clients
/// through a debug `authgate serve` on this project's 2-core machine ran out of time in 5 (its
/// embedded store) and 48 (DynamoDB Local) cases with pauses growing to 300 ms; with these, in 0
/// and 36.
async fn pause(n: u32) {
    let scale = u64::from(n.min(2));
    let ms = scale * 10 + rand::random::<u64>() % (scale * 20 + 1);
    tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
}

impl LoginAttempt {
    /// The password was right: the account's failures are forgotten and the address's count
    /// taken back.
    pub async fn succeeded(self, store: &dyn ThrottleStore) -> Result<(), StoreError> {
        store.clear_backoff(&self.account).await?;
        if let Some(counted) = &self.address {
            store.add(&counted.key, -1, counted.window_end_ms).await?;
        }
        self.in_flight.leave(store).await
    }

    /// The password was wrong: the failure counted in advance stands.
    pub async fn failed(self, store: &dyn ThrottleStore) -> Result<(), StoreError> {
        self.in_flight.leave(store).await
    }
}

/// Registrations per source address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegisterLimits {
    /// Registrations one address may make per window.
    pub per_address: i64,
    /// The window, ms.
    pub window_ms: i64,
}

impl Default for RegisterLimits {
    fn default() -> Self {
        Self {
            per_address: 30,
            window_ms: 10 * 60 * 1000,
        }
    }
}

impl RegisterLimits {
    /// Counts one registration from `ip`, or refuses it once the window's cap is reached.
    pub async fn count(
        &self,
        store: &dyn ThrottleStore,
        ip: &str,
        now_ms: i64,
    ) -> Result<(), ThrottleError> {
        let cap = WindowCap {
            limit: self.per_address,
            window_ms: self.window_ms,
        };
        let counted = cap
            .count(
                store,
                |start| ThrottleKey::register_address(ip, start),
                now_ms,
            )
            .await?;
        if !counted.within {
            return Err(Throttled {
                retry_after_ms: counted.window_end_ms - now_ms,
                message: REGISTER_THROTTLED,
            }
            .into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_starts_at_a_second_after_the_free_failures_and_doubles_to_the_cap() {
        let limits = LoginLimits::default();
        let waits: Vec<i64> = (0..16).map(|f| limits.delay_ms(f)).collect();
        assert_eq!(&waits[..5], &[0, 0, 0, 0, 0]);
        assert_eq!(&waits[5..10], &[1000, 2000, 4000, 8000, 16_000]);
        assert_eq!(waits[15], 900_000, "capped at 15 minutes");
        assert_eq!(limits.delay_ms(u32::MAX), 900_000);
    }

    #[test]
    fn an_account_key_is_the_email_hashed_in_its_canonical_form() {
        let key = ThrottleKey::login_account("  Alice@Example.COM ");
        assert_eq!(key, ThrottleKey::login_account("alice@example.com"));
        assert!(!key.as_str().contains("alice"));
        assert_ne!(key, ThrottleKey::login_account("bob@example.com"));
    }

    #[test]
    fn an_ipv6_source_is_counted_as_its_64_and_ipv4_as_itself() {
        let key = |ip| ThrottleKey::login_address(ip, 0);
        assert_eq!(
            key("2001:db8:1:2::1"),
            key("2001:db8:1:2:ffff:ffff:ffff:ffff")
        );
        assert_eq!(
            key("2001:db8:1:2::1").as_str(),
            "login-ip#2001:db8:1:2::/64#0"
        );
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("::ffff:198.51.100.7"), key("198.51.100.7"));
        assert_ne!(key("198.51.100.7"), key("198.51.100.8"));
        assert_eq!(
            ThrottleKey::register_address("2001:db8::5", 0),
            ThrottleKey::register_address("2001:db8::6", 0)
        );
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        let throttled = |ms| Throttled {
            retry_after_ms: ms,
            message: LOGIN_THROTTLED,
        };
        assert_eq!(throttled(1).retry_after_secs(), 1);
        assert_eq!(throttled(1000).retry_after_secs(), 1);
        assert_eq!(throttled(1001).retry_after_secs(), 2);
        assert_eq!(throttled(-5).retry_after_secs(), 1);
    }
}
