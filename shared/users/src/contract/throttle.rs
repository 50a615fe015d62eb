//! The rules of `ThrottleStore`.

use std::sync::Arc;

use super::*;

fn unique_key(tag: &str) -> crate::ThrottleKey {
    crate::ThrottleKey::register_address(&format!("{tag}-{}", uuid::Uuid::new_v4().simple()), 0)
}

pub async fn counters_add_atomically_and_return_the_new_value<S: crate::ThrottleStore + 'static>(
    store: S,
) {
    let store = Arc::new(store);
    let key = unique_key("count");
    let adds = (0..40).map(|_| {
        let (store, key) = (Arc::clone(&store), key.clone());
        tokio::spawn(async move { store.add(&key, 1, 4_102_444_800_000).await })
    });
    let mut seen: Vec<i64> = futures::future::join_all(adds)
        .await
        .into_iter()
        .map(|r| r.expect("task").expect("add"))
        .collect();
    seen.sort_unstable();
    assert_eq!(
        seen,
        (1..=40).collect::<Vec<_>>(),
        "each add saw its own value"
    );
    assert_eq!(store.add(&key, -1, 4_102_444_800_000).await.unwrap(), 39);
    assert_eq!(
        store
            .add(&unique_key("other"), 0, 4_102_444_800_000)
            .await
            .unwrap(),
        0,
        "a new counter starts at 0"
    );
}

pub async fn backoff_swaps_are_compare_and_set<S: crate::ThrottleStore + 'static>(store: S) {
    let store = Arc::new(store);
    let key = crate::ThrottleKey::login_account(unique_email("cas").as_str());
    let at = |failures| crate::Backoff {
        failures,
        locked_until_ms: 1_000 * i64::from(failures),
        expires_at_ms: 4_102_444_800_000,
    };
    assert_eq!(store.backoff(&key).await.unwrap(), None);
    assert!(store.swap_backoff(&key, None, &at(1)).await.unwrap());
    assert!(
        !store.swap_backoff(&key, None, &at(2)).await.unwrap(),
        "not absent any more"
    );
    assert!(
        store
            .swap_backoff(&key, Some(&at(1)), &at(2))
            .await
            .unwrap()
    );
    assert!(
        !store
            .swap_backoff(&key, Some(&at(1)), &at(3))
            .await
            .unwrap(),
        "stale"
    );
    assert_eq!(store.backoff(&key).await.unwrap(), Some(at(2)));
    let racers = (0..20).map(|i| {
        let (store, key) = (Arc::clone(&store), key.clone());
        tokio::spawn(async move { store.swap_backoff(&key, Some(&at(2)), &at(10 + i)).await })
    });
    let wins = futures::future::join_all(racers)
        .await
        .into_iter()
        .filter(|r| matches!(r, Ok(Ok(true))))
        .count();
    assert_eq!(
        wins, 1,
        "of concurrent swaps from one state exactly one wins"
    );
    store.clear_backoff(&key).await.unwrap();
    assert_eq!(store.backoff(&key).await.unwrap(), None);
}

pub async fn failed_logins_make_an_account_wait_and_a_success_forgets_them<
    S: crate::ThrottleStore + 'static,
>(
    store: S,
) {
    let limits = crate::LoginLimits::default();
    let email = unique_email("guess");
    let now = 1_800_000_000_000;
    for i in 0..5 {
        limits
            .begin(
                &store,
                &crate::Guessed::password_of(email.as_str()),
                None,
                now + i,
            )
            .await
            .expect("the first five attempts are free")
            .failed(&store)
            .await
            .unwrap();
    }
    let err = limits
        .begin(
            &store,
            &crate::Guessed::password_of(email.as_str()),
            None,
            now + 10,
        )
        .await
        .err()
        .expect("the sixth must wait");
    let crate::ThrottleError::Throttled(throttled) = err else {
        panic!("{err:?}")
    };
    assert_eq!(throttled.retry_after_secs(), 1);
    let other = limits
        .begin(
            &store,
            &crate::Guessed::password_of(unique_email("other").as_str()),
            None,
            now + 10,
        )
        .await
        .expect("another account is not affected");
    other.succeeded(&store).await.unwrap();
    // The wait has passed: the sixth attempt goes through and makes the next wait 2 s. While it
    // is in flight the seventh waits for it, then is refused when it does not end in time.
    let sixth = limits
        .begin(
            &store,
            &crate::Guessed::password_of(email.as_str()),
            None,
            now + 1_100,
        )
        .await
        .expect("after the wait");
    let err = limits
        .begin(
            &store,
            &crate::Guessed::password_of(email.as_str()),
            None,
            now + 1_200,
        )
        .await
        .err()
        .expect("waiting again");
    let crate::ThrottleError::Throttled(throttled) = err else {
        panic!("{err:?}")
    };
    assert_eq!(throttled.retry_after_secs(), 2);
    sixth.succeeded(&store).await.unwrap();
    for i in 0..5 {
        limits
            .begin(
                &store,
                &crate::Guessed::password_of(email.as_str()),
                None,
                now + 1_300 + i,
            )
            .await
            .expect("a success forgot the run")
            .failed(&store)
            .await
            .unwrap();
    }
    // A day later the run is forgotten even without a success.
    limits
        .begin(
            &store,
            &crate::Guessed::password_of(email.as_str()),
            None,
            now + 1_400 + 25 * 3600 * 1000,
        )
        .await
        .expect("forgotten")
        .succeeded(&store)
        .await
        .unwrap();
}

pub async fn concurrent_guesses_are_each_counted_before_any_is_checked<
    S: crate::ThrottleStore + 'static,
>(
    store: S,
) {
    let store = Arc::new(store);
    let limits = crate::LoginLimits::default();
    let email = unique_email("burst");
    let now = 1_800_000_000_000;
    let attempts = (0..30).map(|_| {
        let (store, email) = (Arc::clone(&store), email.clone());
        tokio::spawn(async move {
            limits
                .begin(
                    store.as_ref(),
                    &crate::Guessed::password_of(email.as_str()),
                    None,
                    now,
                )
                .await
                .is_ok()
        })
    });
    let through = futures::future::join_all(attempts)
        .await
        .into_iter()
        .filter(|r| matches!(r, Ok(true)))
        .count();
    assert!(
        (1..=limits.free_failures as usize + 1).contains(&through),
        "{through} of 30 simultaneous guesses went through"
    );
}

pub async fn one_address_failing_across_accounts_is_capped_per_window<
    S: crate::ThrottleStore + 'static,
>(
    store: S,
) {
    let limits = crate::LoginLimits {
        address_failures: 3,
        ..crate::LoginLimits::default()
    };
    let ip = format!("198.51.100.{}", uuid::Uuid::new_v4().as_u128() % 250);
    let now = 1_800_000_000_000 - 1_800_000_000_000 % limits.address_window_ms;
    for _ in 0..3 {
        let _failed = limits
            .begin(
                &store,
                &crate::Guessed::password_of(unique_email("spray").as_str()),
                Some(&ip),
                now,
            )
            .await
            .expect("under the cap");
    }
    let err = limits
        .begin(
            &store,
            &crate::Guessed::password_of(unique_email("spray").as_str()),
            Some(&ip),
            now + 1000,
        )
        .await
        .err()
        .expect("over the cap");
    let crate::ThrottleError::Throttled(throttled) = err else {
        panic!("{err:?}")
    };
    assert_eq!(
        throttled.retry_after_secs(),
        u64::try_from((limits.address_window_ms - 1000) / 1000).unwrap()
    );
    limits
        .begin(
            &store,
            &crate::Guessed::password_of(unique_email("next").as_str()),
            Some(&ip),
            now + limits.address_window_ms,
        )
        .await
        .expect("a new window")
        .succeeded(&store)
        .await
        .unwrap();
}

/// Right passwords checked at the same time for one account (workers sharing it, users behind
/// one address) are not throttled by each other's attempts in flight: only failures count.
pub async fn right_passwords_in_flight_together_are_not_throttled<
    S: crate::ThrottleStore + 'static,
>(
    store: S,
) {
    let store = Arc::new(store);
    let limits = crate::LoginLimits::default();
    let email = unique_email("shared");
    let now = 1_800_000_000_000;
    let logins = (0..24).map(|_| {
        let (store, email) = (Arc::clone(&store), email.clone());
        tokio::spawn(async move {
            let attempt = limits
                .begin(
                    store.as_ref(),
                    &crate::Guessed::password_of(email.as_str()),
                    None,
                    now,
                )
                .await?;
            // The password check, as long as an Argon2id verification.
            tokio::time::sleep(std::time::Duration::from_millis(30)).await;
            attempt.succeeded(store.as_ref()).await?;
            Ok::<_, crate::ThrottleError>(())
        })
    });
    let refused: Vec<String> = futures::future::join_all(logins)
        .await
        .into_iter()
        .filter_map(|r| r.unwrap().err().map(|e| e.to_string()))
        .collect();
    assert!(
        refused.is_empty(),
        "{} of 24 refused: {refused:?}",
        refused.len()
    );
}

/// Expands to one test per throttle-store rule.
#[macro_export]
macro_rules! throttle_store_contract_tests {
    ($make:expr) => {
        mod throttle_contract {
            #[allow(unused_imports)]
            use super::*;
            $crate::user_store_contract_tests!(@each $make;
                counters_add_atomically_and_return_the_new_value,
                backoff_swaps_are_compare_and_set,
                failed_logins_make_an_account_wait_and_a_success_forgets_them,
                concurrent_guesses_are_each_counted_before_any_is_checked,
                right_passwords_in_flight_together_are_not_throttled,
                one_address_failing_across_accounts_is_capped_per_window,
            );
        }
    };
}
