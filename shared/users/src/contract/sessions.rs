//! The rules of `SessionStore`, on users of the same store.

use std::sync::Arc;

use super::*;

const POLICY: crate::RotationPolicy = crate::RotationPolicy {
    refresh_ttl_ms: 600_000,
    reuse_grace_ms: 0,
};

pub async fn refresh_rotates_and_the_old_token_is_spent<S: UserStore + crate::SessionStore>(
    store: S,
) {
    let now = 1_800_000_000_000;
    let (_, session, first) = user_with_session(&store, now).await;
    let second = crate::RefreshToken::generate();
    let rotated = store
        .rotate(&first.hash(), &second.hash(), now + 1000, POLICY)
        .await
        .expect("rotate");
    assert_eq!(rotated.session.id, session.id);
    assert_eq!(rotated.refresh_expires_at_ms, now + 1000 + 600_000);
    let third = crate::RefreshToken::generate();
    store
        .rotate(&second.hash(), &third.hash(), now + 2000, POLICY)
        .await
        .expect("the new token works");
    assert!(
        store
            .state(session.id, session.user_id)
            .await
            .expect("state")
            .may_act(now + 2000)
            .is_ok()
    );
}

pub async fn reusing_a_spent_token_ends_the_session<S: UserStore + crate::SessionStore>(store: S) {
    let now = 1_800_000_000_000;
    let (_, session, first) = user_with_session(&store, now).await;
    let second = crate::RefreshToken::generate();
    store
        .rotate(&first.hash(), &second.hash(), now + 1000, POLICY)
        .await
        .expect("rotate");
    let err = store
        .rotate(
            &first.hash(),
            &crate::RefreshToken::generate().hash(),
            now + 2000,
            POLICY,
        )
        .await
        .expect_err("reuse");
    assert!(matches!(err, crate::RefreshError::Reused), "{err:?}");
    assert_eq!(
        store
            .state(session.id, session.user_id)
            .await
            .expect("state")
            .may_act(now + 2000)
            .err(),
        Some(crate::Denied::LoggedOut)
    );
    let err = store
        .rotate(
            &second.hash(),
            &crate::RefreshToken::generate().hash(),
            now + 3000,
            POLICY,
        )
        .await
        .expect_err("the legitimate branch ends too");
    assert!(
        matches!(err, crate::RefreshError::SessionEnded(_)),
        "{err:?}"
    );
}

pub async fn reuse_within_the_grace_period_keeps_the_session<S: UserStore + crate::SessionStore>(
    store: S,
) {
    let now = 1_800_000_000_000;
    let policy = crate::RotationPolicy {
        reuse_grace_ms: 30_000,
        ..POLICY
    };
    let (_, session, first) = user_with_session(&store, now).await;
    store
        .rotate(
            &first.hash(),
            &crate::RefreshToken::generate().hash(),
            now + 1000,
            policy,
        )
        .await
        .expect("rotate");
    store
        .rotate(
            &first.hash(),
            &crate::RefreshToken::generate().hash(),
            now + 5000,
            policy,
        )
        .await
        .expect("a retry within the grace period is served");
    let err = store
        .rotate(
            &first.hash(),
            &crate::RefreshToken::generate().hash(),
            now + 40_000,
            policy,
        )
        .await
        .expect_err("after the grace period it is reuse");
    assert!(matches!(err, crate::RefreshError::Reused), "{err:?}");
    assert_eq!(
        store
            .state(session.id, session.user_id)
            .await
            .expect("state")
            .may_act(now + 40_000)
            .err(),
        Some(crate::Denied::LoggedOut)
    );
}

pub async fn a_retry_within_the_grace_period_leaves_one_live_chain<
    S: UserStore + crate::SessionStore,
>(
    store: S,
) {
    let now = 1_800_000_000_000;
    let policy = crate::RotationPolicy {
        reuse_grace_ms: 30_000,
        ..POLICY
    };
    let (_, session, first) = user_with_session(&store, now).await;
    let (second, third, fourth) = (
        crate::RefreshToken::generate(),
        crate::RefreshToken::generate(),
        crate::RefreshToken::generate(),
    );
    store
        .rotate(&first.hash(), &second.hash(), now + 1000, policy)
        .await
        .expect("rotate");
    store
        .rotate(&first.hash(), &third.hash(), now + 2000, policy)
        .await
        .expect("a retry within the grace period is served");
    store
        .rotate(&third.hash(), &fourth.hash(), now + 3000, policy)
        .await
        .expect("the retry's token continues the one chain");
    let err = store
        .rotate(
            &second.hash(),
            &crate::RefreshToken::generate().hash(),
            now + 4000,
            policy,
        )
        .await
        .expect_err("the superseded token starts no second chain");
    assert!(matches!(err, crate::RefreshError::Reused), "{err:?}");
    assert_eq!(
        store
            .state(session.id, session.user_id)
            .await
            .expect("state")
            .may_act(now + 4000)
            .err(),
        Some(crate::Denied::LoggedOut),
        "two holders of one session: it ends"
    );
}

pub async fn a_refresh_tokens_record_names_its_session_and_user<
    S: UserStore + crate::SessionStore,
>(
    store: S,
) {
    let now = crate::now_ms();
    let (user, session, token) = super::user_with_session(&store, now).await;
    let record = store.refresh_record(&token.hash()).await.unwrap().unwrap();
    assert_eq!(
        (record.session, record.user_id, record.consumed_at_ms),
        (session.id, user.id, None)
    );
    assert_eq!(
        store
            .refresh_record(&crate::RefreshToken::generate().hash())
            .await
            .unwrap(),
        None
    );
    let next = crate::RefreshToken::generate();
    store
        .rotate(&token.hash(), &next.hash(), now + 1, POLICY)
        .await
        .unwrap();
    let spent = store.refresh_record(&token.hash()).await.unwrap().unwrap();
    assert!(
        spent.consumed_at_ms.is_some(),
        "a spent token's record says so"
    );
}

pub async fn unknown_and_expired_tokens_are_refused<S: UserStore + crate::SessionStore>(store: S) {
    let now = 1_800_000_000_000;
    let err = store
        .rotate(
            &crate::RefreshToken::generate().hash(),
            &crate::RefreshToken::generate().hash(),
            now,
            POLICY,
        )
        .await
        .expect_err("unknown");
    assert!(matches!(err, crate::RefreshError::Unknown), "{err:?}");
    let (_, session, first) = user_with_session(&store, now).await;
    let err = store
        .rotate(
            &first.hash(),
            &crate::RefreshToken::generate().hash(),
            now + 600_000,
            POLICY,
        )
        .await
        .expect_err("expired");
    assert!(matches!(err, crate::RefreshError::Expired), "{err:?}");
    assert!(
        store
            .state(session.id, session.user_id)
            .await
            .expect("state")
            .may_act(now + 600_000)
            .is_ok(),
        "expiry ends no session"
    );
}

pub async fn refresh_never_outlives_the_session<S: UserStore + crate::SessionStore>(store: S) {
    let now = 1_800_000_000_000;
    let (_, _, first) = user_with_session(&store, now).await;
    let rotated = store
        .rotate(
            &first.hash(),
            &crate::RefreshToken::generate().hash(),
            now + 599_000,
            POLICY,
        )
        .await
        .expect("rotate");
    assert_eq!(
        rotated.refresh_expires_at_ms,
        now + 599_000 + 600_000,
        "each token gets the full TTL"
    );
    let (_, session, first) = user_with_session(&store, now).await;
    let policy = crate::RotationPolicy {
        refresh_ttl_ms: 10 * 3_600_000,
        ..POLICY
    };
    let rotated = store
        .rotate(
            &first.hash(),
            &crate::RefreshToken::generate().hash(),
            now + 1000,
            policy,
        )
        .await
        .expect("rotate");
    assert_eq!(
        rotated.refresh_expires_at_ms, session.expires_at_ms,
        "capped by the session's absolute end"
    );
    let err = store
        .rotate(
            &crate::RefreshToken::generate().hash(),
            &crate::RefreshToken::generate().hash(),
            session.expires_at_ms,
            policy,
        )
        .await
        .expect_err("unknown");
    assert!(matches!(err, crate::RefreshError::Unknown));
}

pub async fn logout_and_logout_all_end_sessions<S: UserStore + crate::SessionStore>(store: S) {
    let now = 1_800_000_000_000;
    let (user, one, one_token) = user_with_session(&store, now).await;
    let two = crate::Session {
        id: uuid::Uuid::new_v4(),
        created_at_ms: now + 10,
        ..one.clone()
    };
    store
        .start(
            &two,
            &crate::RefreshToken::generate().hash(),
            now + 600_000,
            &user,
        )
        .await
        .expect("start");

    store.revoke(one.id).await.expect("logout");
    assert_eq!(
        store
            .state(one.id, user.id)
            .await
            .expect("state")
            .may_act(now + 100)
            .err(),
        Some(crate::Denied::LoggedOut)
    );
    assert!(
        store
            .state(two.id, user.id)
            .await
            .expect("state")
            .may_act(now + 100)
            .is_ok(),
        "other sessions live on"
    );
    let err = store
        .rotate(
            &one_token.hash(),
            &crate::RefreshToken::generate().hash(),
            now + 100,
            POLICY,
        )
        .await
        .expect_err("ended");
    assert!(
        matches!(err, crate::RefreshError::SessionEnded(_)),
        "{err:?}"
    );

    store
        .revoke_all(user.id, now + 200)
        .await
        .expect("logout-all");
    assert_eq!(
        store
            .state(two.id, user.id)
            .await
            .expect("state")
            .may_act(now + 300)
            .err(),
        Some(crate::Denied::LoggedOutEverywhere)
    );
    let three = crate::Session {
        id: uuid::Uuid::new_v4(),
        created_at_ms: now + 201,
        ..one.clone()
    };
    store
        .start(
            &three,
            &crate::RefreshToken::generate().hash(),
            now + 600_000,
            &user,
        )
        .await
        .expect("start");
    assert!(
        store
            .state(three.id, user.id)
            .await
            .expect("state")
            .may_act(now + 300)
            .is_ok(),
        "a later login works"
    );
}

pub async fn disabled_or_missing_users_have_no_active_session<
    S: UserStore + crate::SessionStore,
>(
    store: S,
) {
    let now = 1_800_000_000_000;
    let (user, session, _) = user_with_session(&store, now).await;
    store.set_disabled(user.id, true).await.expect("disable");
    let state = store.state(session.id, user.id).await.expect("state");
    assert_eq!(state.may_act(now + 1), Err(crate::Denied::DisabledUser));
    let stranger = uuid::Uuid::new_v4();
    let state = store.state(session.id, stranger).await.expect("state");
    assert_eq!(
        state.may_act(now + 1),
        Err(crate::Denied::UnknownUser),
        "a session belongs to its user"
    );
    assert_eq!(state.session, None, "a session belongs to its user");
}

/// A session starts only for its user as read: a password change, a disable or a logout-all
/// that lands between the read and the start leaves no session.
pub async fn a_session_starts_only_while_its_user_is_as_read<S: UserStore + crate::SessionStore>(
    store: S,
) {
    let now = 1_800_000_000_000;
    let start = |user: &crate::User, created_at_ms: i64| {
        let session = crate::Session {
            id: uuid::Uuid::new_v4(),
            user_id: user.id,
            created_at_ms,
            expires_at_ms: created_at_ms + 3_600_000,
            revoked: false,
        };
        (session, crate::RefreshToken::generate().hash())
    };
    let as_read = store
        .create(new_user(&unique_email("straddle")))
        .await
        .expect("create");

    store
        .update(
            as_read.id,
            crate::UserChanges {
                password_hash: Some(
                    PasswordHash::from_phc(
                        "$argon2id$v=19$m=19456,t=2,p=1$b3RoZXJzYWx0b3RoZXI$YmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmI",
                    )
                    .unwrap(),
                ),
                ..crate::UserChanges::default()
            },
        )
        .await
        .expect("the password changes");
    let (session, first) = start(&as_read, now);
    let err = store
        .start(&session, &first, now + 600_000, &as_read)
        .await
        .expect_err("the hash it was read with is gone");
    assert!(matches!(err, StoreError::Changed), "{err:?}");
    assert_eq!(
        store
            .state(session.id, as_read.id)
            .await
            .expect("state")
            .session,
        None,
        "nothing was stored"
    );

    let as_read = store
        .get_by_id(as_read.id)
        .await
        .expect("get")
        .expect("found");
    store
        .revoke_all(as_read.id, now + 5)
        .await
        .expect("logout-all after the read");
    let (session, first) = start(&as_read, now);
    let err = store
        .start(&session, &first, now + 600_000, &as_read)
        .await
        .expect_err("a logout-all at or after its creation");
    assert!(matches!(err, StoreError::Changed), "{err:?}");
    let (session, first) = start(&as_read, now + 6);
    store
        .start(&session, &first, now + 600_000, &as_read)
        .await
        .expect("a session created after the cut-off starts");

    store.set_disabled(as_read.id, true).await.expect("disable");
    let (session, first) = start(&as_read, now + 10);
    let err = store
        .start(&session, &first, now + 600_000, &as_read)
        .await
        .expect_err("disabled");
    assert!(matches!(err, StoreError::Changed), "{err:?}");
}

/// The logout-all cut-off never moves back: not by an earlier clock, not by a change that ends
/// sessions; and a change that ends sessions does it in the same write.
pub async fn the_logout_all_cut_off_only_moves_forward<S: UserStore + crate::SessionStore>(
    store: S,
) {
    let now = 1_800_000_000_000;
    let (user, session, _) = user_with_session(&store, now).await;
    let ended = store
        .update(
            user.id,
            crate::UserChanges {
                disabled: Some(false),
                end_sessions_at_ms: Some(now + 100),
                ..crate::UserChanges::default()
            },
        )
        .await
        .expect("update");
    assert_eq!(ended.sessions_valid_after_ms, now + 100);
    let later_login = crate::Session {
        id: uuid::Uuid::new_v4(),
        created_at_ms: now + 101,
        ..session.clone()
    };
    store
        .start(
            &later_login,
            &crate::RefreshToken::generate().hash(),
            now + 600_000,
            &ended,
        )
        .await
        .expect("a login just after the cut-off");
    assert_eq!(
        store
            .state(session.id, user.id)
            .await
            .expect("state")
            .may_act(now + 200)
            .err(),
        Some(crate::Denied::LoggedOutEverywhere),
        "the change ended the session"
    );
    store
        .revoke_all(user.id, now + 50)
        .await
        .expect("an earlier clock");
    assert_eq!(
        store
            .state(later_login.id, user.id)
            .await
            .expect("state")
            .may_act(now + 200)
            .err(),
        Some(crate::Denied::LoggedOutEverywhere),
        "a logout-all on a clock behind the cut-off still ends the sessions after it"
    );
    let lowered = store
        .update(
            user.id,
            crate::UserChanges {
                end_sessions_at_ms: Some(now + 60),
                ..crate::UserChanges::default()
            },
        )
        .await
        .expect("update");
    assert_eq!(
        lowered.sessions_valid_after_ms,
        now + 102,
        "never lowered, always past the stored one"
    );
    let state = store.state(session.id, user.id).await.expect("state");
    assert_eq!(state.sessions_valid_after_ms, now + 102);
    store.revoke_all(user.id, now + 300).await.expect("later");
    let found = store.get_by_id(user.id).await.expect("get").expect("found");
    assert_eq!(found.sessions_valid_after_ms, now + 300);
}

/// Logout-all names a user; for one that does not exist every store says `NotFound` (and writes
/// nothing), so the API answers the same whichever store is behind it.
pub async fn logout_all_of_a_missing_user_is_not_found<S: UserStore + crate::SessionStore>(
    store: S,
) {
    let err = store
        .revoke_all(uuid::Uuid::new_v4(), 1_800_000_000_000)
        .await
        .expect_err("no such user");
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
}

/// Two refreshes racing with one token: exactly one wins.
pub async fn concurrent_refreshes_with_one_token_have_one_winner<
    S: UserStore + crate::SessionStore + 'static,
>(
    store: S,
) {
    let store = Arc::new(store);
    let now = 1_800_000_000_000;
    let (_, _, token) = user_with_session(store.as_ref(), now).await;
    // Each request reads its own clock; later ones here read earlier times than the winner.
    let attempts = (0..8i64).map(|i| {
        let store = Arc::clone(&store);
        let hash = token.hash();
        let clock = now + 1000 - i;
        tokio::spawn(async move {
            store
                .rotate(
                    &hash,
                    &crate::RefreshToken::generate().hash(),
                    clock,
                    POLICY,
                )
                .await
        })
    });
    let results = futures::future::join_all(attempts).await;
    let wins = results.iter().filter(|r| matches!(r, Ok(Ok(_)))).count();
    for result in &results {
        match result.as_ref().expect("task") {
            Ok(_) | Err(crate::RefreshError::Reused | crate::RefreshError::SessionEnded(_)) => {}
            Err(other) => panic!("unexpected error: {other:?}"),
        }
    }
    assert_eq!(wins, 1);
}

pub async fn a_deleted_user_is_gone_and_their_email_free<S: UserStore + crate::SessionStore>(
    store: S,
) {
    let now = 1_800_000_000_000;
    let (user, session, token) = user_with_session(&store, now).await;
    store.delete(user.id).await.expect("delete");
    assert!(store.get_by_id(user.id).await.expect("get").is_none());
    assert!(
        store
            .get_by_email(&user.email)
            .await
            .expect("get")
            .is_none()
    );
    let state = store.state(session.id, user.id).await.expect("state");
    assert_eq!(
        state.may_act(now + 1),
        Err(crate::Denied::UnknownUser),
        "its sessions died with it"
    );
    let err = store
        .rotate(
            &token.hash(),
            &crate::RefreshToken::generate().hash(),
            now + 1,
            POLICY,
        )
        .await
        .expect_err("its refresh tokens too");
    assert!(
        matches!(err, crate::RefreshError::SessionEnded(_)),
        "{err:?}"
    );
    let again = store
        .create(new_user(&user.email))
        .await
        .expect("the email registers again");
    assert_ne!(again.id, user.id);
    let err = store.delete(user.id).await.expect_err("already gone");
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
}

/// Expands to one test per session-store rule.
#[macro_export]
macro_rules! session_store_contract_tests {
    ($make:expr) => {
        mod session_contract {
            #[allow(unused_imports)]
            use super::*;
            $crate::user_store_contract_tests!(@each $make;
                refresh_rotates_and_the_old_token_is_spent,
                reusing_a_spent_token_ends_the_session,
                reuse_within_the_grace_period_keeps_the_session,
                a_retry_within_the_grace_period_leaves_one_live_chain,
                a_refresh_tokens_record_names_its_session_and_user,
                unknown_and_expired_tokens_are_refused,
                refresh_never_outlives_the_session,
                logout_and_logout_all_end_sessions,
                disabled_or_missing_users_have_no_active_session,
                logout_all_of_a_missing_user_is_not_found,
                a_session_starts_only_while_its_user_is_as_read,
                the_logout_all_cut_off_only_moves_forward,
                a_deleted_user_is_gone_and_their_email_free,
                concurrent_refreshes_with_one_token_have_one_winner,
            );
        }
    };
}
