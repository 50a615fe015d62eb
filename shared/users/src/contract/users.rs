//! The rules of `UserStore`.

use std::sync::Arc;

use super::*;

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
