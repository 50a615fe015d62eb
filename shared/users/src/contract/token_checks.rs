//! The rules of `TokenChecks`.

use std::collections::BTreeSet;

use super::clients::new_client;
use crate::{Client, Denied, TokenChecks, UserStore, now_ms};

pub async fn a_users_token_check_reads_its_session_its_user_and_its_revocation<S>(store: S)
where
    S: TokenChecks + UserStore,
{
    let now = now_ms();
    let (user, session, _) = super::user_with_session(&store, now).await;
    let jti = uuid::Uuid::new_v4().to_string();
    let state = store.user_token(session.id, user.id, &jti).await.unwrap();
    assert_eq!(state.may_act(now + 1), Ok(&session));
    assert!(!store.access_token_revoked(&jti).await.unwrap());
    store
        .revoke_access_token(&jti, now + 900_000)
        .await
        .unwrap();
    assert!(store.access_token_revoked(&jti).await.unwrap());
    let state = store.user_token(session.id, user.id, &jti).await.unwrap();
    assert_eq!(state.may_act(now + 1), Err(Denied::TokenRevoked));
    let other = uuid::Uuid::new_v4().to_string();
    let state = store.user_token(session.id, user.id, &other).await.unwrap();
    assert_eq!(state.may_act(now + 1), Ok(&session), "only that token");
    store.revoke(session.id).await.unwrap();
    let state = store.user_token(session.id, user.id, &other).await.unwrap();
    assert_eq!(state.may_act(now + 1), Err(Denied::LoggedOut));
}

pub async fn a_clients_token_check_says_whether_it_may_act_its_scopes_and_its_revocation<
    S: TokenChecks,
>(
    store: S,
) {
    let client = new_client("partner");
    store.create_client(&client).await.unwrap();
    let jti = uuid::Uuid::new_v4().to_string();
    let state = store.client_token(client.id, &jti).await.unwrap().unwrap();
    assert_eq!(
        (state.disabled, &state.scopes, state.token_revoked),
        (false, &client.scopes, false)
    );
    let narrowed = Client {
        disabled: true,
        scopes: BTreeSet::from(["items:read".to_owned()]),
        ..client.clone()
    };
    store.update_client(&narrowed).await.unwrap();
    store
        .revoke_access_token(&jti, now_ms() + 60_000)
        .await
        .unwrap();
    let state = store.client_token(client.id, &jti).await.unwrap().unwrap();
    assert_eq!(
        (state.disabled, state.scopes, state.token_revoked),
        (true, narrowed.scopes, true)
    );
    store.delete_client(client.id).await.unwrap();
    assert_eq!(store.client_token(client.id, &jti).await.unwrap(), None);
}

/// Expands to one test per token-check rule.
#[macro_export]
macro_rules! token_checks_contract_tests {
    ($make:expr) => {
        mod token_checks_contract {
            #[allow(unused_imports)]
            use super::*;
            $crate::user_store_contract_tests!(@each $make;
                a_users_token_check_reads_its_session_its_user_and_its_revocation,
                a_clients_token_check_says_whether_it_may_act_its_scopes_and_its_revocation,
            );
        }
    };
}
