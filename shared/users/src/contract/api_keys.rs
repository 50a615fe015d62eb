//! The rules of `ApiKeyStore`, and the API-key check of `TokenChecks`.

use std::collections::BTreeSet;

use crate::{
    ApiKeyRecord, ApiKeyStore, MAX_API_KEYS_PER_USER, RoleMap, StoreError, TokenChecks, UserStore,
    now_ms,
};

fn scopes(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

pub async fn a_users_keys_are_stored_listed_found_by_hash_and_deleted<S>(store: S)
where
    S: ApiKeyStore + UserStore,
{
    let user = store
        .create(super::new_user(&super::unique_email("keys")))
        .await
        .unwrap();
    let now = now_ms();
    let (first, _) = ApiKeyRecord::issue(user.id, "ci", scopes(&["items:read"]), None, now);
    let (second, _) = ApiKeyRecord::issue(
        user.id,
        "backup",
        scopes(&["items:read", "items:write"]),
        Some(now + 86_400_000),
        now + 1,
    );
    store.create_api_key(&first).await.unwrap();
    store.create_api_key(&second).await.unwrap();
    assert_eq!(
        store.api_keys(user.id).await.unwrap(),
        vec![first.clone(), second.clone()]
    );
    assert_eq!(
        store.api_key(&second.hash).await.unwrap(),
        Some(second.clone())
    );
    assert!(
        store
            .api_keys(uuid::Uuid::new_v4())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        store.delete_api_key(uuid::Uuid::new_v4(), first.id).await,
        Err(StoreError::NotFound)
    ));
    store.delete_api_key(user.id, first.id).await.unwrap();
    assert_eq!(store.api_key(&first.hash).await.unwrap(), None);
    assert_eq!(store.api_keys(user.id).await.unwrap(), vec![second]);
    assert!(matches!(
        store.delete_api_key(user.id, first.id).await,
        Err(StoreError::NotFound)
    ));
}

pub async fn a_user_holds_at_most_the_most_keys<S>(store: S)
where
    S: ApiKeyStore + UserStore,
{
    let user = store
        .create(super::new_user(&super::unique_email("many")))
        .await
        .unwrap();
    let now = now_ms();
    for i in 0..MAX_API_KEYS_PER_USER {
        let (key, _) = ApiKeyRecord::issue(user.id, &format!("k{i}"), scopes(&[]), None, now);
        store.create_api_key(&key).await.unwrap();
    }
    let (one_more, _) = ApiKeyRecord::issue(user.id, "one more", scopes(&[]), None, now);
    assert!(matches!(
        store.create_api_key(&one_more).await,
        Err(StoreError::Full)
    ));
    let first = store.api_keys(user.id).await.unwrap()[0].id;
    store.delete_api_key(user.id, first).await.unwrap();
    store.create_api_key(&one_more).await.unwrap();
}

pub async fn an_api_key_check_reads_the_key_and_its_users_flag_and_roles<S: TokenChecks>(store: S) {
    let mut new = super::new_user(&super::unique_email("keyed"));
    new.roles = scopes(&["admin"]);
    let user = store.create(new).await.unwrap();
    let now = now_ms();
    let (record, key) = ApiKeyRecord::issue(
        user.id,
        "script",
        scopes(&["users:read", "items:read"]),
        Some(now + 60_000),
        now,
    );
    store.create_api_key(&record).await.unwrap();
    let roles = RoleMap::default();
    let state = store.api_key_token(&key.hash(), key.user()).await.unwrap();
    let grant = state.clone().may_act(&key, &roles, now).unwrap();
    assert_eq!(
        (grant.key, grant.scopes),
        (record.clone(), scopes(&["users:read"]))
    );
    store.set_disabled(user.id, true).await.unwrap();
    let state = store.api_key_token(&key.hash(), key.user()).await.unwrap();
    assert_eq!(
        state.may_act(&key, &roles, now),
        Err(crate::Denied::DisabledUser)
    );
    store.delete_api_key(user.id, record.id).await.unwrap();
    let state = store.api_key_token(&key.hash(), key.user()).await.unwrap();
    assert_eq!(
        state.may_act(&key, &roles, now),
        Err(crate::Denied::UnknownApiKey)
    );
}

/// Expands to one test per API-key store rule.
#[macro_export]
macro_rules! api_key_store_contract_tests {
    ($make:expr) => {
        mod api_key_contract {
            #[allow(unused_imports)]
            use super::*;
            $crate::user_store_contract_tests!(@each $make;
                a_users_keys_are_stored_listed_found_by_hash_and_deleted,
                a_user_holds_at_most_the_most_keys,
                an_api_key_check_reads_the_key_and_its_users_flag_and_roles,
            );
        }
    };
}
