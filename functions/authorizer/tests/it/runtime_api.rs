//! The authorizer binary as Lambda runs it: started fresh against a Lambda Runtime API on
//! 127.0.0.1 (a stand-in serving a few events in turn), configured as the template configures it
//! for the default RS256: the published public keys in moto's Secrets Manager (and no name of the
//! signing secret at all), sessions, clients and API keys in DynamoDB Local, both found through
//! the standard `AWS_ENDPOINT_URL_*` variables. It must answer HTTP API payload 2.0 events with
//! simple responses on a route that needs a permission: yes for a user's token, a client's token
//! and a user's API key that grant it, no for a client's token that does not.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use authgate_dynamo::{DynamoUserStore, create_table};
use authgate_keys::{KeySource, SecretsManagerKeySource};
use authgate_token::{ClientGrant, Subject, TokenIssuer};
use authgate_users::{
    ApiKeyRecord, ApiKeyStore, Client, ClientStore, UserChanges, UserStore, now_ms,
};

/// The permission the route in `events/authorizer-http-v2.json` needs here.
const READ: &str = "items:read";
use axum::extract::State;
use axum::http::HeaderMap;
use serde_json::Value;

#[derive(Default)]
struct RuntimeApi {
    events: Mutex<VecDeque<Value>>,
    responses: Mutex<Vec<Value>>,
    served: tokio::sync::Notify,
}

/// `GET /next`: the events in turn, then nothing (as Lambda keeps an idle instance waiting).
async fn next(State(api): State<Arc<RuntimeApi>>) -> (HeaderMap, String) {
    let event = api.events.lock().unwrap().pop_front();
    let Some(event) = event else {
        std::future::pending::<()>().await;
        unreachable!()
    };
    let mut headers = HeaderMap::new();
    headers.insert("lambda-runtime-aws-request-id", "req-1".parse().unwrap());
    let deadline = authgate_token::now_unix() * 1000 + 30_000;
    headers.insert(
        "lambda-runtime-deadline-ms",
        deadline.to_string().parse().unwrap(),
    );
    headers.insert(
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:us-east-1:123456789012:function:authorizer"
            .parse()
            .unwrap(),
    );
    headers.insert(
        "lambda-runtime-trace-id",
        "Root=1-00000000-000000000000000000000000".parse().unwrap(),
    );
    (headers, event.to_string())
}

async fn respond(State(api): State<Arc<RuntimeApi>>, body: String) -> &'static str {
    let answer = serde_json::from_str(&body).unwrap_or(Value::Null);
    api.responses.lock().unwrap().push(answer);
    api.served.notify_one();
    "{}"
}

async fn error(State(api): State<Arc<RuntimeApi>>, body: String) -> &'static str {
    api.responses
        .lock()
        .unwrap()
        .push(serde_json::json!({"error": body}));
    api.served.notify_one();
    "{}"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_answers_users_clients_and_api_keys_through_the_runtime_api() {
    // What sam deploy creates: the table with a session, the secret.
    let dynamodb = authgate_testkit::dynamodb_client().await;
    let table = authgate_testkit::unique_name("users");
    create_table(&dynamodb, &table).await.unwrap();
    let store = DynamoUserStore::new(dynamodb, &table);
    let (user, session, _) =
        authgate_users::contract::user_with_session(&store, authgate_users::now_ms()).await;
    let secrets = authgate_testkit::secrets_client().await;
    let secret = authgate_testkit::unique_name("signing-key");
    secrets
        .create_secret()
        .name(&secret)
        .secret_string(
            serde_json::json!({"alg": "RS256", "k": authgate_token::new_secret_material("RS256").unwrap()})
                .to_string(),
        )
        .send()
        .await
        .unwrap();
    let keys = SecretsManagerKeySource::new(secrets.clone(), &secret)
        .load()
        .await
        .unwrap();
    let public = authgate_testkit::unique_name("public-keys");
    secrets
        .create_secret()
        .name(&public)
        .secret_string(keys.public_jwks().to_string())
        .send()
        .await
        .unwrap();
    let (id, sid) = (user.id.to_string(), session.id.to_string());
    let issuer = TokenIssuer::new(
        Arc::new(keys),
        "urn:authgate:runtime",
        "authgate-api",
        Duration::from_secs(900),
    )
    .unwrap();
    let token = issuer
        .issue(&Subject {
            id: &id,
            email: user.email.as_str(),
            session: &sid,
            permissions: vec![READ.into()],
            ..Default::default()
        })
        .unwrap()
        .token;
    let read = BTreeSet::from([READ.to_owned()]);
    let (client, _) = Client::register("partner", read.clone(), now_ms());
    store.create_client(&client).await.unwrap();
    let client_id = client.id.to_string();
    let client_token = issuer
        .issue_client(&ClientGrant {
            client_id: &client_id,
            scopes: vec![READ.into()],
            ..Default::default()
        })
        .unwrap()
        .token;
    let (narrow, _) = Client::register("narrow", BTreeSet::new(), now_ms());
    store.create_client(&narrow).await.unwrap();
    let narrow_token = issuer
        .issue_client(&ClientGrant {
            client_id: &narrow.id.to_string(),
            ..Default::default()
        })
        .unwrap()
        .token;
    store
        .update(
            user.id,
            UserChanges {
                roles: Some(BTreeSet::from(["reader".to_owned()])),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let (record, api_key) = ApiKeyRecord::issue(user.id, "script", read, None, now_ms());
    store.create_api_key(&record).await.unwrap();

    let api = Arc::new(RuntimeApi::default());
    for presented in [
        &token,
        &client_token,
        &api_key.as_str().to_owned(),
        &narrow_token,
    ] {
        let event = authgate_testkit::event("authorizer-http-v2.json")
            .replace("REPLACE_WITH_AN_ACCESS_TOKEN", presented);
        api.events
            .lock()
            .unwrap()
            .push_back(serde_json::from_str(&event).unwrap());
    }
    let app = axum::Router::new()
        .route(
            "/2018-06-01/runtime/invocation/next",
            axum::routing::get(next),
        )
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            axum::routing::post(respond),
        )
        .route(
            "/2018-06-01/runtime/invocation/{id}/error",
            axum::routing::post(error),
        )
        .route("/2018-06-01/runtime/init/error", axum::routing::post(error))
        .with_state(Arc::clone(&api));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let runtime_api = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_authorizer"))
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", &runtime_api)
        .env("AWS_LAMBDA_FUNCTION_NAME", "authorizer")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "local")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "local")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env(
            "AWS_ENDPOINT_URL_DYNAMODB",
            &authgate_testkit::dynamodb_local().endpoint,
        )
        .env(
            "AWS_ENDPOINT_URL_SECRETS_MANAGER",
            &authgate_testkit::moto().endpoint,
        )
        .env("USERS_TABLE", &table)
        .env("PUBLIC_KEYS_SECRET_ID", &public)
        .env("TOKEN_ISSUER", "urn:authgate:runtime")
        .env("ROLES", r#"{"reader": ["items:read"]}"#)
        .env("ROUTE_PERMISSIONS", r#"{"GET /users/me": ["items:read"]}"#)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while api.responses.lock().unwrap().len() < 4 {
        tokio::time::timeout_at(deadline, api.served.notified())
            .await
            .expect("the binary answered every event");
    }
    child.kill().await.unwrap();
    let responses = api.responses.lock().unwrap().clone();
    for (response, (holder, sub)) in
        responses
            .iter()
            .zip([("user", &id), ("client", &client_id), ("api_key", &id)])
    {
        assert_eq!(response["isAuthorized"], true, "{holder}: {response}");
        assert_eq!(response["context"]["sub"], sub.as_str(), "{holder}");
        assert_eq!(response["context"]["holder"], holder);
        assert_eq!(response["context"]["verified_by"], "authgate");
    }
    assert_eq!(
        responses[3]["isAuthorized"], false,
        "a client without items:read on a route that needs it: {}",
        responses[3]
    );
}
