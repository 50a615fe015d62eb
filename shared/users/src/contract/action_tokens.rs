//! The rules of `ActionTokenStore`.

use std::sync::Arc;

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
