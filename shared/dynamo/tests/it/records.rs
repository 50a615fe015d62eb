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

/// Every request the SDK sends: its `X-Amz-Target` operation and its JSON body.
#[derive(Debug, Clone, Default)]
struct Recorder(std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>);

impl aws_sdk_dynamodb::config::Intercept for Recorder {
    fn name(&self) -> &'static str {
        "Recorder"
    }

    fn read_before_transmit(
        &self,
        context: &aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _: &aws_sdk_dynamodb::config::RuntimeComponents,
        _: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let request = context.request();
        let target = request.headers().get("x-amz-target").unwrap_or("");
        let operation = target.rsplit('.').next().unwrap_or("").to_owned();
        let body = request
            .body()
            .bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        self.0.lock().unwrap().push((operation, body));
        Ok(())
    }
}

impl Recorder {
    fn take(&self) -> Vec<(String, String)> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// A store whose every DynamoDB request `Recorder` sees, and a user in it with a session.
async fn recorded_store() -> (
    DynamoUserStore,
    Recorder,
    authgate_users::User,
    authgate_users::Session,
) {
    let config = authgate_testkit::sdk_config(&authgate_testkit::dynamodb_local().endpoint).await;
    let recorder = Recorder::default();
    let client = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&config)
            .interceptor(recorder.clone())
            .build(),
    );
    let table = authgate_testkit::unique_name("users");
    create_table(&client, &table).await.unwrap();
    let store = DynamoUserStore::new(client, &table);
    let user = store
        .create(NewUser {
            email: Email::parse("alice@example.com").unwrap(),
            password_hash: PasswordHash::from_phc(PHC).unwrap(),
            roles: Default::default(),
        })
        .await
        .unwrap();
    let now = authgate_users::now_ms();
    let session = authgate_users::Session {
        id: uuid::Uuid::new_v4(),
        user_id: user.id,
        created_at_ms: now,
        expires_at_ms: now + 3_600_000,
        revoked: false,
    };
    authgate_users::SessionStore::start(
        &store,
        &session,
        &authgate_users::RefreshToken::generate().hash(),
        now + 600_000,
        &user,
    )
    .await
    .unwrap();
    recorder.take();
    (store, recorder, user, session)
}

#[tokio::test]
async fn login_lookups_make_the_same_reads_for_known_and_unknown_emails() {
    let (store, recorder, _, _) = recorded_store().await;
    let operations = |email: &str| {
        let (store, recorder) = (&store, recorder.clone());
        let email = Email::parse(email).unwrap();
        async move {
            store.get_by_email(&email).await.unwrap();
            recorder
                .take()
                .into_iter()
                .map(|(operation, _)| operation)
                .collect::<Vec<_>>()
        }
    };
    let known = operations("alice@example.com").await;
    let unknown = operations("nobody@example.com").await;
    assert_eq!(known, vec!["GetItem", "GetItem"]);
    assert_eq!(unknown, known);
}

#[tokio::test]
async fn the_session_check_never_reads_the_password_hash_or_profile() {
    let (store, recorder, user, session) = recorded_store().await;
    let state = authgate_users::SessionStore::state(&store, session.id, user.id)
        .await
        .unwrap();
    assert_eq!(state.session.as_ref().map(|s| s.id), Some(session.id));
    assert_eq!(state.user_disabled, Some(false));
    let requests = recorder.take();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let (operation, body) = &requests[0];
    assert_eq!(operation, "BatchGetItem");
    let body: serde_json::Value = serde_json::from_str(body).unwrap();
    let table = body["RequestItems"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap();
    let projection = table["ProjectionExpression"]
        .as_str()
        .expect("a projection");
    let names: Vec<&str> = projection
        .split(", ")
        .map(|alias| table["ExpressionAttributeNames"][alias].as_str().unwrap())
        .collect();
    for private in ["password_hash", "email", "roles", "claims", "refresh_head"] {
        assert!(!names.contains(&private), "{private} read: {names:?}");
    }
}
