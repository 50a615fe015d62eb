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
        superuser: false,
    }
}

pub async fn create_then_get_by_id_and_email<S: UserStore>(store: S) {
    let email = unique_email("create");
    let created = store.create(new_user(&email)).await.expect("create");
    assert_eq!(created.email, email);
    assert!(!created.disabled && !created.superuser);
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

pub async fn superuser_flag_is_stored<S: UserStore>(store: S) {
    let email = unique_email("root");
    let mut user = new_user(&email);
    user.superuser = true;
    let created = store.create(user).await.expect("create");
    assert!(
        store
            .get_by_id(created.id)
            .await
            .expect("get")
            .expect("found")
            .superuser
    );
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
            superuser_flag_is_stored,
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
