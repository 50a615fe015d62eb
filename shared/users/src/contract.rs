//! The behaviour every `UserStore` must show, as reusable test functions.
//!
//! `user_store_contract_tests!(make_store)` expands to one `#[tokio::test]` per rule, so each
//! backend's test run names exactly which rule it breaks.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use crate::{Email, NewUser, PasswordHash, StoreError, UserStore};

/// A syntactically valid PHC string; the store never interprets it.
const PHC: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE";

fn unique_email(tag: &str) -> Email {
    Email::parse(&format!(
        "{tag}.{}@Example.COM",
        uuid::Uuid::new_v4().simple()
    ))
    .unwrap()
}

fn new_user(email: &Email) -> NewUser {
    NewUser {
        email: email.clone(),
        password_hash: PasswordHash::from_phc(PHC).unwrap(),
        roles: Default::default(),
    }
}

pub async fn create_then_get_by_id_and_email<S: UserStore>(store: S) {
    let email = unique_email("create");
    let created = store.create(new_user(&email)).await.expect("create");
    assert_eq!(created.email, email);
    assert!(!created.disabled && created.roles.is_empty() && created.claims.is_empty());
    let by_id = store
        .get_by_id(created.id)
        .await
        .expect("get")
        .expect("found by id");
    assert_eq!(by_id, created);
    let by_email = store
        .get_by_email(&email)
        .await
        .expect("get")
        .expect("found by email");
    assert_eq!(by_email, created);
    assert_eq!(by_email.password_hash.as_phc(), PHC);
}

pub async fn duplicate_email_is_rejected_case_insensitively<S: UserStore>(store: S) {
    let email = unique_email("dup");
    store.create(new_user(&email)).await.expect("first create");
    let same = Email::parse(&email.as_str().to_uppercase()).expect("valid");
    let err = store
        .create(new_user(&same))
        .await
        .expect_err("second create");
    assert!(matches!(err, StoreError::DuplicateEmail), "{err:?}");
}

pub async fn lookup_by_email_ignores_case<S: UserStore>(store: S) {
    let email = unique_email("case");
    let created = store.create(new_user(&email)).await.expect("create");
    let lower = Email::parse(&email.as_str().to_lowercase()).expect("valid");
    let found = store
        .get_by_email(&lower)
        .await
        .expect("get")
        .expect("found");
    assert_eq!(found.id, created.id);
    assert_eq!(
        found.email.as_str(),
        email.as_str(),
        "keeps the email as registered"
    );
}

pub async fn missing_users_are_none<S: UserStore>(store: S) {
    assert!(
        store
            .get_by_id(uuid::Uuid::new_v4())
            .await
            .expect("get")
            .is_none()
    );
    assert!(
        store
            .get_by_email(&unique_email("nobody"))
            .await
            .expect("get")
            .is_none()
    );
}

pub async fn disable_and_enable_a_user<S: UserStore>(store: S) {
    let email = unique_email("disable");
    let created = store.create(new_user(&email)).await.expect("create");
    store.set_disabled(created.id, true).await.expect("disable");
    assert!(
        store
            .get_by_id(created.id)
            .await
            .expect("get")
            .expect("found")
            .disabled
    );
    assert!(
        store
            .get_by_email(&email)
            .await
            .expect("get")
            .expect("found")
            .disabled
    );
    store.set_disabled(created.id, false).await.expect("enable");
    assert!(
        !store
            .get_by_id(created.id)
            .await
            .expect("get")
            .expect("found")
            .disabled
    );
    let err = store
        .set_disabled(uuid::Uuid::new_v4(), true)
        .await
        .expect_err("unknown id");
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
}

pub async fn roles_and_claims_are_stored_and_updated<S: UserStore>(store: S) {
    let email = unique_email("root");
    let mut user = new_user(&email);
    user.roles = crate::parse_roles([crate::ADMIN_ROLE]).unwrap();
    let created = store.create(user).await.expect("create");
    let found = store
        .get_by_id(created.id)
        .await
        .expect("get")
        .expect("found");
    assert_eq!(found.roles, created.roles);

    let claims =
        crate::CustomClaims::parse(serde_json::json!({"foo": ["fiz", "baz"], "n": 1.5})).unwrap();
    let updated = store
        .update(
            created.id,
            crate::UserChanges {
                roles: Some(crate::parse_roles(["editor", "viewer"]).unwrap()),
                claims: Some(claims.clone()),
                ..crate::UserChanges::default()
            },
        )
        .await
        .expect("update");
    assert_eq!(updated.claims, claims);
    let found = store
        .get_by_id(created.id)
        .await
        .expect("get")
        .expect("found");
    assert_eq!(found, updated, "the update is what is stored");
    assert_eq!(
        found.roles.into_iter().collect::<Vec<_>>(),
        ["editor", "viewer"]
    );
    let untouched = store
        .update(created.id, crate::UserChanges::default())
        .await
        .expect("no changes");
    assert_eq!(untouched.claims, claims);
    let err = store
        .update(uuid::Uuid::new_v4(), crate::UserChanges::default())
        .await
        .expect_err("no such user");
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
}

pub async fn an_email_change_moves_the_login_and_refuses_a_taken_email<S: UserStore>(store: S) {
    let first = unique_email("first");
    let user = store.create(new_user(&first)).await.expect("create");
    let other = store
        .create(new_user(&unique_email("other")))
        .await
        .expect("create");
    let changes = |email: &Email| crate::UserChanges {
        email: Some(email.clone()),
        ..crate::UserChanges::default()
    };

    let err = store
        .update(
            user.id,
            changes(&Email::parse(&other.email.as_str().to_uppercase()).unwrap()),
        )
        .await
        .expect_err("taken, whatever the case");
    assert!(matches!(err, StoreError::DuplicateEmail), "{err:?}");
    assert_eq!(
        store
            .get_by_id(user.id)
            .await
            .expect("get")
            .expect("found")
            .email,
        first,
        "nothing changed"
    );

    let moved = unique_email("moved");
    let updated = store.update(user.id, changes(&moved)).await.expect("move");
    assert_eq!(updated.email, moved);
    assert_eq!(
        store.get_by_email(&moved).await.expect("get").map(|u| u.id),
        Some(user.id)
    );
    assert!(
        store.get_by_email(&first).await.expect("get").is_none(),
        "the old email is free"
    );
    store
        .create(new_user(&first))
        .await
        .expect("the old email can register again");

    let recased = Email::parse(&moved.as_str().to_uppercase()).unwrap();
    let updated = store
        .update(user.id, changes(&recased))
        .await
        .expect("only the case changes");
    assert_eq!(updated.email, recased);
    assert_eq!(
        store.get_by_email(&moved).await.expect("get").map(|u| u.id),
        Some(user.id)
    );
}

/// A change made on a decision about the user as read (a verification for the address the token
/// was sent to, a reset for the hash it replaces) applies only while the user is still so.
pub async fn an_update_applies_only_while_the_user_is_as_expected<S: UserStore>(store: S) {
    let first = unique_email("expect");
    let user = store.create(new_user(&first)).await.expect("create");
    let moved = unique_email("moved");
    store
        .update(
            user.id,
            crate::UserChanges {
                email: Some(moved.clone()),
                ..crate::UserChanges::default()
            },
        )
        .await
        .expect("the address changes");
    let verify_first = crate::UserChanges {
        email_verified: Some(true),
        expected: crate::Expected {
            email: Some(first.clone()),
            password_hash: None,
        },
        ..crate::UserChanges::default()
    };
    let err = store
        .update(user.id, verify_first)
        .await
        .expect_err("the address is no longer the one expected");
    assert!(matches!(err, StoreError::Changed), "{err:?}");
    let found = store.get_by_id(user.id).await.expect("get").expect("found");
    assert!(!found.email_verified, "nothing changed");

    let other_hash = PasswordHash::from_phc(
        "$argon2id$v=19$m=19456,t=2,p=1$b3RoZXJzYWx0b3RoZXI$YmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmI",
    )
    .unwrap();
    let reset_from_other = crate::UserChanges {
        password_hash: Some(other_hash.clone()),
        expected: crate::Expected {
            email: None,
            password_hash: Some(other_hash),
        },
        ..crate::UserChanges::default()
    };
    let err = store
        .update(user.id, reset_from_other)
        .await
        .expect_err("the hash is not the one expected");
    assert!(matches!(err, StoreError::Changed), "{err:?}");

    let verify_moved = crate::UserChanges {
        email_verified: Some(true),
        expected: crate::Expected {
            email: Some(Email::parse(&moved.as_str().to_uppercase()).unwrap()),
            password_hash: Some(PasswordHash::from_phc(PHC).unwrap()),
        },
        ..crate::UserChanges::default()
    };
    let verified = store
        .update(user.id, verify_moved)
        .await
        .expect("the user is as expected");
    assert!(verified.email_verified);
}

pub async fn password_and_disabled_are_updated<S: UserStore>(store: S) {
    let user = store
        .create(new_user(&unique_email("pw")))
        .await
        .expect("create");
    let hash = PasswordHash::from_phc(
        "$argon2id$v=19$m=19456,t=2,p=1$b3RoZXJzYWx0b3RoZXI$YmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmI",
    )
    .unwrap();
    let updated = store
        .update(
            user.id,
            crate::UserChanges {
                password_hash: Some(hash.clone()),
                disabled: Some(true),
                ..crate::UserChanges::default()
            },
        )
        .await
        .expect("update");
    let found = store.get_by_id(user.id).await.expect("get").expect("found");
    assert_eq!(found, updated);
    assert_eq!((found.password_hash, found.disabled), (hash, true));
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

pub async fn pages_walk_every_user_once_with_a_bounded_page<S: UserStore>(store: S) {
    let mut created = std::collections::BTreeSet::new();
    for i in 0..7 {
        let user = store
            .create(new_user(&unique_email(&format!("page{i}"))))
            .await
            .expect("create");
        created.insert(user.id);
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let page = store.page(3, cursor.as_deref()).await.expect("page");
        assert!(page.users.len() <= 3, "a page is bounded");
        for user in &page.users {
            assert!(seen.insert(user.id), "user {} listed twice", user.id);
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert!(created.is_subset(&seen), "every user is listed");
    let err = store
        .page(3, Some("not a cursor!"))
        .await
        .expect_err("bad cursor");
    assert!(matches!(err, StoreError::BadCursor), "{err:?}");
}

pub async fn list_includes_created_users<S: UserStore>(store: S) {
    let a = store
        .create(new_user(&unique_email("list-a")))
        .await
        .expect("create");
    let b = store
        .create(new_user(&unique_email("list-b")))
        .await
        .expect("create");
    let all = store.list().await.expect("list");
    assert!(all.iter().any(|u| u.id == a.id) && all.iter().any(|u| u.id == b.id));
    let keys: Vec<String> = all.iter().map(|u| u.email.normalized()).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "ordered by email");
}

/// 50 concurrent creations with one email: exactly one wins, every other one is a duplicate.
pub async fn concurrent_creates_of_one_email_yield_exactly_one_user<S: UserStore + 'static>(
    store: S,
) {
    let store = Arc::new(store);
    let email = unique_email("race");
    let attempts = (0..50).map(|i| {
        let store = Arc::clone(&store);
        // Vary the case: uniqueness is on the normalized email.
        let email = if i % 2 == 0 {
            email.clone()
        } else {
            Email::parse(&email.as_str().to_lowercase()).expect("valid")
        };
        tokio::spawn(async move { store.create(new_user(&email)).await })
    });
    let results = futures::future::join_all(attempts).await;
    let mut created = 0;
    let mut duplicates = 0;
    for result in results {
        match result.expect("task") {
            Ok(_) => created += 1,
            Err(StoreError::DuplicateEmail) => duplicates += 1,
            Err(other) => panic!("unexpected error under concurrency: {other:?}"),
        }
    }
    assert_eq!((created, duplicates), (1, 49));
}

/// Expands to one test per contract rule for the store that `$make` (an async expression) builds.
#[macro_export]
macro_rules! user_store_contract_tests {
    ($make:expr) => {
        $crate::user_store_contract_tests!(@each $make;
            create_then_get_by_id_and_email,
            duplicate_email_is_rejected_case_insensitively,
            lookup_by_email_ignores_case,
            missing_users_are_none,
            disable_and_enable_a_user,
            roles_and_claims_are_stored_and_updated,
            an_email_change_moves_the_login_and_refuses_a_taken_email,
            password_and_disabled_are_updated,
            an_update_applies_only_while_the_user_is_as_expected,
            pages_walk_every_user_once_with_a_bounded_page,
            list_includes_created_users,
            concurrent_creates_of_one_email_yield_exactly_one_user,
        );
    };
    (@each $make:expr; $($name:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                $crate::contract::$name($make.await).await;
            }
        )+
    };
}

/// A user `email` whose stored hash is the real Argon2id hash of `password`, for the tests
/// that log in or check a password.
pub async fn user_with_password<S: UserStore + ?Sized>(
    store: &S,
    email: &str,
    password: &str,
) -> crate::User {
    let password_hash = crate::PasswordHasher::new()
        .hash(crate::Password::for_verification(password))
        .await
        .expect("hash");
    store
        .create(crate::NewUser {
            email: crate::Email::parse(email).expect("email"),
            password_hash,
            roles: Default::default(),
        })
        .await
        .expect("create")
}

/// A user with a live session (started at `now` ms, for an hour) and its first refresh token
/// (ten minutes), stored in `store`: the starting point of most session tests, here and elsewhere.
pub async fn user_with_session<S: UserStore + crate::SessionStore + ?Sized>(
    store: &S,
    now: i64,
) -> (crate::User, crate::Session, crate::RefreshToken) {
    let user = store
        .create(new_user(&unique_email("session")))
        .await
        .expect("create");
    let session = crate::Session {
        id: uuid::Uuid::new_v4(),
        user_id: user.id,
        created_at_ms: now,
        expires_at_ms: now + 3_600_000,
        revoked: false,
    };
    let token = crate::RefreshToken::generate();
    store
        .start(&session, &token.hash(), now + 600_000, &user)
        .await
        .expect("start");
    (user, session, token)
}

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
            .begin(&store, email.as_str(), None, now + i)
            .await
            .expect("the first five attempts are free")
            .failed(&store)
            .await
            .unwrap();
    }
    let err = limits
        .begin(&store, email.as_str(), None, now + 10)
        .await
        .err()
        .expect("the sixth must wait");
    let crate::ThrottleError::Throttled(throttled) = err else {
        panic!("{err:?}")
    };
    assert_eq!(throttled.retry_after_secs(), 1);
    let other = limits
        .begin(&store, unique_email("other").as_str(), None, now + 10)
        .await
        .expect("another account is not affected");
    other.succeeded(&store).await.unwrap();
    // The wait has passed: the sixth attempt goes through and makes the next wait 2 s. While it
    // is in flight the seventh waits for it, then is refused when it does not end in time.
    let sixth = limits
        .begin(&store, email.as_str(), None, now + 1_100)
        .await
        .expect("after the wait");
    let err = limits
        .begin(&store, email.as_str(), None, now + 1_200)
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
            .begin(&store, email.as_str(), None, now + 1_300 + i)
            .await
            .expect("a success forgot the run")
            .failed(&store)
            .await
            .unwrap();
    }
    // A day later the run is forgotten even without a success.
    limits
        .begin(&store, email.as_str(), None, now + 1_400 + 25 * 3600 * 1000)
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
                .begin(store.as_ref(), email.as_str(), None, now)
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
            .begin(&store, unique_email("spray").as_str(), Some(&ip), now)
            .await
            .expect("under the cap");
    }
    let err = limits
        .begin(
            &store,
            unique_email("spray").as_str(),
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
            unique_email("next").as_str(),
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
                .begin(store.as_ref(), email.as_str(), None, now)
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

pub async fn an_action_token_is_taken_once_and_only_by_one_of_concurrent_takers<
    S: crate::ActionTokenStore + 'static,
>(
    store: S,
) {
    let store = Arc::new(store);
    let token = crate::ActionToken::generate();
    let record = crate::ActionRecord {
        purpose: crate::TokenPurpose::ResetPassword,
        user_id: uuid::Uuid::new_v4(),
        binding: "b".repeat(64),
        expires_at_ms: 4_102_444_800_000,
    };
    store.put_action(&token.hash(), &record).await.unwrap();
    assert_eq!(
        store
            .take_action(&crate::ActionToken::generate().hash())
            .await
            .unwrap(),
        None,
        "an unknown token"
    );
    let takers = (0..20).map(|_| {
        let (store, hash) = (Arc::clone(&store), token.hash());
        tokio::spawn(async move { store.take_action(&hash).await })
    });
    let taken: Vec<crate::ActionRecord> = futures::future::join_all(takers)
        .await
        .into_iter()
        .filter_map(|r| r.expect("task").expect("take"))
        .collect();
    assert_eq!(taken, vec![record], "exactly one taker gets it, intact");
    assert_eq!(
        store.take_action(&token.hash()).await.unwrap(),
        None,
        "used"
    );
    let verify = crate::ActionRecord {
        purpose: crate::TokenPurpose::VerifyEmail,
        ..taken[0].clone()
    };
    let other = crate::ActionToken::generate();
    store.put_action(&other.hash(), &verify).await.unwrap();
    assert_eq!(
        store.take_action(&other.hash()).await.unwrap(),
        Some(verify)
    );
}

/// Expands to one test per action-token-store rule.
#[macro_export]
macro_rules! action_token_store_contract_tests {
    ($make:expr) => {
        mod action_token_contract {
            #[allow(unused_imports)]
            use super::*;
            $crate::user_store_contract_tests!(@each $make;
                an_action_token_is_taken_once_and_only_by_one_of_concurrent_takers,
            );
        }
    };
}

/// The in-memory store with one interleaving for race tests: right after its next read of a
/// user (by id or by email), `changes` are applied to `user`, as a concurrent request's write
/// that lands between a read and the write that depends on it.
pub struct Interleaved {
    pub inner: Arc<crate::InMemoryUserStore>,
    next: std::sync::Mutex<Option<(crate::UserId, crate::UserChanges)>>,
}

impl Interleaved {
    /// `inner`, which will apply `changes` to `user` right after its next read of a user.
    pub fn new(
        inner: Arc<crate::InMemoryUserStore>,
        user: crate::UserId,
        changes: crate::UserChanges,
    ) -> Self {
        Self {
            inner,
            next: std::sync::Mutex::new(Some((user, changes))),
        }
    }

    async fn interleave(&self) {
        let next = self.next.lock().unwrap().take();
        if let Some((user, changes)) = next {
            self.inner
                .update(user, changes)
                .await
                .expect("the interleaved write");
        }
    }
}

#[async_trait::async_trait]
impl UserStore for Interleaved {
    async fn create(&self, new_user: NewUser) -> Result<crate::User, StoreError> {
        self.inner.create(new_user).await
    }
    async fn get_by_id(&self, id: crate::UserId) -> Result<Option<crate::User>, StoreError> {
        let read = self.inner.get_by_id(id).await;
        self.interleave().await;
        read
    }
    async fn get_by_email(&self, email: &Email) -> Result<Option<crate::User>, StoreError> {
        let read = self.inner.get_by_email(email).await;
        self.interleave().await;
        read
    }
    async fn update(
        &self,
        id: crate::UserId,
        changes: crate::UserChanges,
    ) -> Result<crate::User, StoreError> {
        self.inner.update(id, changes).await
    }
    async fn delete(&self, id: crate::UserId) -> Result<(), StoreError> {
        self.inner.delete(id).await
    }
    async fn list(&self) -> Result<Vec<crate::User>, StoreError> {
        self.inner.list().await
    }
    async fn page(
        &self,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<crate::UserPage, StoreError> {
        self.inner.page(limit, cursor).await
    }
}

#[async_trait::async_trait]
impl crate::SessionStore for Interleaved {
    async fn start(
        &self,
        session: &crate::Session,
        first: &crate::TokenHash,
        first_expires_at_ms: i64,
        as_read: &crate::User,
    ) -> Result<(), StoreError> {
        self.inner
            .start(session, first, first_expires_at_ms, as_read)
            .await
    }
    async fn rotate(
        &self,
        presented: &crate::TokenHash,
        next: &crate::TokenHash,
        now_ms: i64,
        policy: crate::RotationPolicy,
    ) -> Result<crate::Rotated, crate::RefreshError> {
        self.inner.rotate(presented, next, now_ms, policy).await
    }
    async fn revoke(&self, session: crate::SessionId) -> Result<(), StoreError> {
        self.inner.revoke(session).await
    }
    async fn revoke_all(&self, user: crate::UserId, now_ms: i64) -> Result<(), StoreError> {
        self.inner.revoke_all(user, now_ms).await
    }
    async fn state(
        &self,
        session: crate::SessionId,
        user: crate::UserId,
    ) -> Result<crate::SessionState, StoreError> {
        self.inner.state(session, user).await
    }
}

#[async_trait::async_trait]
impl crate::ThrottleStore for Interleaved {
    async fn backoff(
        &self,
        key: &crate::ThrottleKey,
    ) -> Result<Option<crate::Backoff>, StoreError> {
        self.inner.backoff(key).await
    }
    async fn swap_backoff(
        &self,
        key: &crate::ThrottleKey,
        seen: Option<&crate::Backoff>,
        next: &crate::Backoff,
    ) -> Result<bool, StoreError> {
        self.inner.swap_backoff(key, seen, next).await
    }
    async fn clear_backoff(&self, key: &crate::ThrottleKey) -> Result<(), StoreError> {
        self.inner.clear_backoff(key).await
    }
    async fn add(
        &self,
        key: &crate::ThrottleKey,
        delta: i64,
        expires_at_ms: i64,
    ) -> Result<i64, StoreError> {
        self.inner.add(key, delta, expires_at_ms).await
    }
}

#[async_trait::async_trait]
impl crate::ActionTokenStore for Interleaved {
    async fn put_action(
        &self,
        hash: &crate::TokenHash,
        record: &crate::ActionRecord,
    ) -> Result<(), StoreError> {
        self.inner.put_action(hash, record).await
    }
    async fn take_action(
        &self,
        hash: &crate::TokenHash,
    ) -> Result<Option<crate::ActionRecord>, StoreError> {
        self.inner.take_action(hash).await
    }
}
