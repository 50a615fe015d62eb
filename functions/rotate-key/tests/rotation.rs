//! Two rotations on moto's Secrets Manager, with the real authorizer following them: tokens
//! signed before a rotation keep verifying while their key is `AWSPREVIOUS`, and stop once a
//! second rotation pushes it out. No redeploy: the authorizer reloads on the unknown `kid`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use authgate_keys::{KeyRing, KeySource, SecretsManagerKeySource};
use authgate_runtime::{Env, EventHandler, Resources};
use authgate_token::{Subject, TokenIssuer};
use authgate_users::{InMemoryUserStore, now_ms};
use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequest;
use aws_lambda_events::secretsmanager::SecretsManagerSecretRotationEvent;
use rotate_key::{RotateKey, RotationError, new_key_json};

/// The rotation function as Lambda builds it, on moto.
async fn rotator() -> RotateKey {
    let sdk = authgate_testkit::sdk_config(&authgate_testkit::moto().endpoint).await;
    rotate_key::build(&Env::default(), &sdk).await.unwrap()
}

async fn rotate(
    rotator: &RotateKey,
    event: SecretsManagerSecretRotationEvent,
) -> Result<(), RotationError> {
    rotator.handle(event).await
}

fn step(secret: &str, token: &str, step: &str) -> SecretsManagerSecretRotationEvent {
    serde_json::from_value(
        serde_json::json!({"Step": step, "SecretId": secret, "ClientRequestToken": token}),
    )
    .unwrap()
}

async fn rotate_once(secret: &str) -> String {
    let rotator = rotator().await;
    let token = uuid::Uuid::new_v4().to_string();
    for name in ["createSecret", "setSecret", "testSecret", "finishSecret"] {
        rotate(&rotator, step(secret, &token, name))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
    }
    token
}

async fn secret_with(alg: &str) -> (aws_sdk_secretsmanager::Client, String) {
    let client = authgate_testkit::secrets_client().await;
    let name = authgate_testkit::unique_name("rotating-key");
    client
        .create_secret()
        .name(&name)
        .secret_string(new_key_json(alg))
        .send()
        .await
        .unwrap();
    (client, name)
}

async fn secret() -> (aws_sdk_secretsmanager::Client, String) {
    secret_with("HS256").await
}

#[tokio::test]
async fn rotation_keeps_the_secrets_algorithm() {
    for alg in ["EdDSA", "ES256"] {
        let (client, name) = secret_with(alg).await;
        let version = rotate_once(&name).await;
        let keys = SecretsManagerKeySource::new(client, &name)
            .load()
            .await
            .unwrap();
        let signing = keys.signing_key().unwrap();
        assert_eq!(signing.kid(), version);
        assert_eq!(signing.public_jwk().unwrap()["alg"], alg);
        assert_eq!(
            keys.public_jwks()["keys"].as_array().unwrap().len(),
            2,
            "current and previous published"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_survive_one_rotation_and_end_with_the_next_without_a_redeploy() {
    let (client, name) = secret().await;
    let source: Arc<dyn KeySource> = Arc::new(SecretsManagerKeySource::new(client.clone(), &name));

    // A user with a live session, and an authorizer started before any rotation.
    let store = Arc::new(InMemoryUserStore::new());
    let (user, session, _) =
        authgate_users::contract::user_with_session(store.as_ref(), now_ms()).await;
    // Max age zero: every check sees the keys as a warm instance does once KEYS_MAX_AGE has passed.
    let ring = Arc::new(
        KeyRing::load(Arc::clone(&source), Duration::ZERO, Duration::ZERO)
            .await
            .unwrap(),
    );
    let env = Env::from_pairs([("TOKEN_ISSUER", "urn:rot"), ("TOKEN_AUDIENCE", "aud")]);
    let authorizer = authorizer::build(&env, &Resources::new(store, ring))
        .await
        .unwrap();

    let (id, sid) = (user.id.to_string(), session.id.to_string());
    let sign = |keys| {
        TokenIssuer::new(keys, "urn:rot", "aud", Duration::from_secs(900))
            .unwrap()
            .issue(&Subject {
                id: &id,
                email: "rot@example.com",
                session: &sid,
                ..Default::default()
            })
            .unwrap()
            .token
    };
    let allowed = |token: String| {
        let event: ApiGatewayCustomAuthorizerRequest = serde_json::from_value(serde_json::json!({
            "type": "TOKEN",
            "authorizationToken": format!("Bearer {token}"),
            "methodArn": "arn:aws:execute-api:us-east-1:123456789012:api/Prod/GET/users/me"
        }))
        .unwrap();
        let authorizer = &authorizer;
        async move { authorizer.handle(event).await.is_ok() }
    };

    let first_keys = Arc::new(source.load().await.unwrap());
    let before_first = sign(first_keys.clone());
    assert!(allowed(before_first.clone()).await);

    let second = rotate_once(&name).await;
    let keys = source.load().await.unwrap();
    assert_eq!(
        keys.signing_key().unwrap().kid(),
        second,
        "the new version signs"
    );
    assert_eq!(keys.len(), 2, "AWSCURRENT and AWSPREVIOUS");
    let before_second = sign(Arc::new(keys));
    assert!(
        allowed(before_first.clone()).await,
        "the old key is AWSPREVIOUS: still trusted"
    );
    assert!(
        allowed(before_second.clone()).await,
        "the authorizer follows the rotation"
    );

    rotate_once(&name).await;
    assert!(
        allowed(before_second).await,
        "one rotation old: still trusted"
    );
    assert!(
        !allowed(before_first).await,
        "two rotations old: its key left AWSPREVIOUS"
    );
}

#[tokio::test]
async fn create_is_idempotent_and_test_rejects_a_broken_pending_key() {
    let (client, name) = secret().await;
    let rotator = rotator().await;
    let token = uuid::Uuid::new_v4().to_string();
    rotate(&rotator, step(&name, &token, "createSecret"))
        .await
        .unwrap();
    let pending = |c: aws_sdk_secretsmanager::Client, n: String, t: String| async move {
        c.get_secret_value()
            .secret_id(n)
            .version_id(t)
            .version_stage("AWSPENDING")
            .send()
            .await
            .unwrap()
            .secret_string
            .unwrap()
    };
    let first = pending(client.clone(), name.clone(), token.clone()).await;
    rotate(&rotator, step(&name, &token, "createSecret"))
        .await
        .unwrap();
    assert_eq!(
        pending(client.clone(), name.clone(), token.clone()).await,
        first,
        "a retried createSecret keeps the key"
    );

    let broken = uuid::Uuid::new_v4().to_string();
    client
        .put_secret_value()
        .secret_id(&name)
        .client_request_token(&broken)
        .secret_string(r#"{"alg":"HS256","k":"short"}"#)
        .version_stages("AWSPENDING")
        .send()
        .await
        .unwrap();
    let err = rotate(&rotator, step(&name, &broken, "testSecret"))
        .await
        .unwrap_err();
    assert!(matches!(err, RotationError::BadPendingKey(_)), "{err:?}");
    let err = rotate(&rotator, step(&name, &broken, "bogusStep"))
        .await
        .unwrap_err();
    assert!(matches!(err, RotationError::UnknownStep(_)), "{err:?}");
}

#[tokio::test]
async fn a_current_key_that_does_not_parse_stops_the_rotation_instead_of_downgrading_it() {
    let client = authgate_testkit::secrets_client().await;
    let name = authgate_testkit::unique_name("unreadable-key");
    client
        .create_secret()
        .name(&name)
        .secret_string("EdDSA key, pasted by hand, not JSON")
        .send()
        .await
        .unwrap();
    let token = uuid::Uuid::new_v4().to_string();
    let err = rotate(&rotator().await, step(&name, &token, "createSecret"))
        .await
        .unwrap_err();
    assert!(matches!(err, RotationError::BadCurrentKey(_)), "{err:?}");
    let versions = client
        .describe_secret()
        .secret_id(&name)
        .send()
        .await
        .unwrap()
        .version_ids_to_stages
        .unwrap_or_default();
    assert!(!versions.contains_key(&token), "no pending key was written");
}
