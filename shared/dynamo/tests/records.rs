//! What the DynamoDB store writes, and how it treats records it did not write.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;

use authgate_dynamo::{DynamoUserStore, PARTITION_KEY, create_table};
use authgate_users::{Email, NewUser, PasswordHash, StoreError, UserStore};
use aws_sdk_dynamodb::types::AttributeValue;

const PHC: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE";

#[tokio::test]
async fn registration_writes_a_user_item_and_an_email_lock_item() {
    let client = authgate_testkit::dynamodb_client().await;
    let table = authgate_testkit::unique_name("users");
    create_table(&client, &table).await.unwrap();
    let store = DynamoUserStore::new(client.clone(), &table);
    let user = store
        .create(NewUser {
            email: Email::parse("Mixed.Case@Example.com").unwrap(),
            password_hash: PasswordHash::from_phc(PHC).unwrap(),
            roles: Default::default(),
        })
        .await
        .unwrap();

    let scan = client.scan().table_name(&table).send().await.unwrap();
    let mut keys: Vec<String> = scan
        .items()
        .iter()
        .map(|i| i[PARTITION_KEY].as_s().unwrap().clone())
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        vec![
            "email#mixed.case@example.com".to_owned(),
            format!("user#{}", user.id)
        ]
    );
    let user_item = scan
        .items()
        .iter()
        .find(|i| i["kind"].as_s().unwrap() == "user")
        .unwrap();
    assert_eq!(
        user_item["password_hash"].as_s().unwrap(),
        PHC,
        "only the PHC string is stored"
    );
}

#[tokio::test]
async fn corrupt_record_is_an_error_not_a_panic() {
    let client = authgate_testkit::dynamodb_client().await;
    let table = authgate_testkit::unique_name("users");
    create_table(&client, &table).await.unwrap();
    let id = uuid::Uuid::new_v4();
    client
        .put_item()
        .table_name(&table)
        .set_item(Some(HashMap::from([
            (
                PARTITION_KEY.to_owned(),
                AttributeValue::S(format!("user#{id}")),
            ),
            ("kind".to_owned(), AttributeValue::S("user".into())),
            ("id".to_owned(), AttributeValue::S(id.to_string())),
        ])))
        .send()
        .await
        .unwrap();
    let err = DynamoUserStore::new(client, &table)
        .get_by_id(id)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
}

#[tokio::test]
async fn missing_table_is_a_backend_error() {
    let client = authgate_testkit::dynamodb_client().await;
    let store = DynamoUserStore::new(client, authgate_testkit::unique_name("absent"));
    let err = store.get_by_id(uuid::Uuid::new_v4()).await.unwrap_err();
    assert!(matches!(err, StoreError::Backend(_)), "{err:?}");
}

#[tokio::test]
async fn a_user_item_written_with_the_superuser_flag_reads_as_an_admin() {
    let client = authgate_testkit::dynamodb_client().await;
    let table = authgate_testkit::unique_name("users");
    create_table(&client, &table).await.unwrap();
    let id = uuid::Uuid::new_v4();
    let s = |v: &str| AttributeValue::S(v.to_owned());
    client
        .put_item()
        .table_name(&table)
        .set_item(Some(HashMap::from([
            (PARTITION_KEY.to_owned(), s(&format!("user#{id}"))),
            ("kind".to_owned(), s("user")),
            ("id".to_owned(), s(&id.to_string())),
            ("email".to_owned(), s("root@example.com")),
            ("email_normalized".to_owned(), s("root@example.com")),
            ("password_hash".to_owned(), s(PHC)),
            ("created_at".to_owned(), s("2026-01-01T00:00:00+00:00")),
            ("disabled".to_owned(), AttributeValue::Bool(false)),
            ("superuser".to_owned(), AttributeValue::Bool(true)),
        ])))
        .send()
        .await
        .unwrap();
    let user = DynamoUserStore::new(client, &table)
        .get_by_id(id)
        .await
        .unwrap()
        .unwrap();
    assert!(user.roles.contains(authgate_users::ADMIN_ROLE));
    assert!(user.claims.is_empty());
}
