//! The shared UserStore contract, run against AWS's DynamoDB Local through the real SDK client.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use authgate_dynamo::{DynamoUserStore, create_table};

async fn fresh_store() -> DynamoUserStore {
    let client = authgate_testkit::dynamodb_client().await;
    let table = authgate_testkit::unique_name("users");
    create_table(&client, &table).await.expect("create table");
    DynamoUserStore::new(client, table)
}

authgate_users::user_store_contract_tests!(fresh_store());
authgate_users::session_store_contract_tests!(fresh_store());
authgate_users::throttle_store_contract_tests!(fresh_store());
authgate_users::action_token_store_contract_tests!(fresh_store());
authgate_users::client_store_contract_tests!(fresh_store());
authgate_users::api_key_store_contract_tests!(fresh_store());
authgate_users::token_checks_contract_tests!(fresh_store());
