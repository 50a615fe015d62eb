//! What the authorizer's session check costs: one `SessionStore::state` (a strongly consistent
//! `BatchGetItem` of the session and user items) against DynamoDB Local, through the real SDK
//! client, next to the in-memory verification it follows. Run with
//! `cargo bench -p authgate-dynamo --bench session_state` after `scripts/install-tools`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use authgate_dynamo::{DynamoUserStore, create_table};
use authgate_token::{Algorithm, Key, KeySet, Subject, TokenIssuer, TokenVerifier, Validation};
use authgate_users::{SessionStore, now_ms};
use criterion::{Criterion, criterion_group, criterion_main};

fn session_check(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (store, session) = runtime.block_on(async {
        let client = authgate_testkit::dynamodb_client().await;
        let table = authgate_testkit::unique_name("bench");
        create_table(&client, &table).await.unwrap();
        let store = DynamoUserStore::new(client, table);
        let (_user, session, _) =
            authgate_users::contract::user_with_session(&store, now_ms()).await;
        (store, session)
    });

    let keys = Arc::new(
        KeySet::signing("k", [Key::hmac("k", &[7; 32], Algorithm::HS256).unwrap()]).unwrap(),
    );
    let (id, sid) = (session.user_id.to_string(), session.id.to_string());
    let token = TokenIssuer::new(keys.clone(), "iss", "aud", Duration::from_secs(900))
        .unwrap()
        .issue(&Subject {
            id: &id,
            email: "bench@example.com",
            session: &sid,
            ..Default::default()
        })
        .unwrap()
        .token;
    let verifier = TokenVerifier::new(keys, Validation::own("iss", "aud", 30));

    let mut group = c.benchmark_group("authorizer");
    group.bench_function("verify_token_in_memory", |b| {
        b.iter(|| verifier.verify(&token).unwrap())
    });
    group.bench_function("session_state_dynamodb_local", |b| {
        b.to_async(&runtime).iter(|| async {
            assert!(
                store
                    .state(session.id, session.user_id)
                    .await
                    .unwrap()
                    .may_act(now_ms())
                    .is_ok()
            )
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(200).measurement_time(Duration::from_secs(10));
    targets = session_check
}
criterion_main!(benches);
