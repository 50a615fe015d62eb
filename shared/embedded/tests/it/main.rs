//! The shared UserStore contract, run against the redb store, plus persistence across reopen.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use authgate_embedded::EmbeddedUserStore;
use authgate_users::{Email, NewUser, PasswordHash, UserStore};

async fn fresh_store() -> EmbeddedUserStore {
    EmbeddedUserStore::in_memory().unwrap()
}

authgate_users::user_store_contract_tests!(fresh_store());
authgate_users::session_store_contract_tests!(fresh_store());
authgate_users::throttle_store_contract_tests!(fresh_store());
authgate_users::action_token_store_contract_tests!(fresh_store());
authgate_users::client_store_contract_tests!(fresh_store());
authgate_users::api_key_store_contract_tests!(fresh_store());
authgate_users::token_checks_contract_tests!(fresh_store());

#[tokio::test]
async fn users_survive_closing_and_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users.redb");
    let email = Email::parse("persist@example.com").unwrap();
    let created = {
        let store = EmbeddedUserStore::open(&path).unwrap();
        store
            .create(NewUser {
                email: email.clone(),
                password_hash: PasswordHash::from_phc(
                    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE",
                )
                .unwrap(),
                roles: authgate_users::parse_roles([authgate_users::ADMIN_ROLE]).unwrap(),
            })
            .await
            .unwrap()
    };
    let reopened = EmbeddedUserStore::open(&path).unwrap();
    assert_eq!(reopened.get_by_email(&email).await.unwrap(), Some(created));
}
