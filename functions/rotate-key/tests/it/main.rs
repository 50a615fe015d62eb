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
use aws_lambda_events::secretsmanager::SecretsManagerSecretRotationEvent;
use rotate_key::{RotateKey, RotationError, new_key_json};
use std::collections::BTreeSet;

/// The signing secret as login reads it, but letting a new key sign at once (the delay has a
/// test of its own).
fn signer(client: aws_sdk_secretsmanager::Client, name: &str) -> SecretsManagerKeySource {
    SecretsManagerKeySource::new(client, name).with_new_key_signing_after(Duration::ZERO)
}

/// The rotation function as Lambda builds it, on moto, publishing to `public`.
async fn rotator_for(public: &str) -> RotateKey {
    let sdk = authgate_testkit::sdk_config(&authgate_testkit::moto().endpoint).await;
    let env = Env::from_pairs([("PUBLIC_KEYS_SECRET_ID", public)]);
    rotate_key::build(&env, &sdk).await.unwrap()
}

async fn rotator() -> RotateKey {
    rotator_for(&public_secret().await).await
}

/// An empty public-keys secret, as the template creates it.
async fn public_secret() -> String {
    let name = authgate_testkit::unique_name("public-keys");
    authgate_testkit::secrets_client()
        .await
        .create_secret()
        .name(&name)
        .secret_string(r#"{"keys":[]}"#)
        .send()
        .await
        .unwrap();
    name
}

/// The event as Lambda hands it over: JSON, told apart from a CloudFormation request.
async fn rotate(
    rotator: &RotateKey,
    event: SecretsManagerSecretRotationEvent,
) -> Result<(), RotationError> {
    rotator.handle(serde_json::to_value(event).unwrap()).await
}

/// `events/rotate-key.json` for this secret, version and step.
fn step(secret: &str, token: &str, step: &str) -> SecretsManagerSecretRotationEvent {
    let mut event: serde_json::Value =
        serde_json::from_str(&authgate_testkit::event("rotate-key.json")).unwrap();
    event["Step"] = step.into();
    event["SecretId"] = secret.into();
    event["ClientRequestToken"] = token.into();
    serde_json::from_value(event).unwrap()
}

async fn rotate_with(rotator: &RotateKey, secret: &str) -> String {
    let token = uuid::Uuid::new_v4().to_string();
    for name in ["createSecret", "setSecret", "testSecret", "finishSecret"] {
        rotate(rotator, step(secret, &token, name))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
    }
    token
}

async fn rotate_once(secret: &str) -> String {
    rotate_with(&rotator().await, secret).await
}

async fn secret_with(alg: &str) -> (aws_sdk_secretsmanager::Client, String) {
    let client = authgate_testkit::secrets_client().await;
    let name = authgate_testkit::unique_name("rotating-key");
    client
        .create_secret()
        .name(&name)
        .secret_string(new_key_json(alg).unwrap())
        .send()
        .await
        .unwrap();
    (client, name)
}

async fn secret() -> (aws_sdk_secretsmanager::Client, String) {
    secret_with("HS256").await
}

/// The kids in the published JWK Set.
async fn published(client: &aws_sdk_secretsmanager::Client, public: &str) -> Vec<String> {
    let value = client
        .get_secret_value()
        .secret_id(public)
        .send()
        .await
        .unwrap()
        .secret_string
        .unwrap();
    let jwks: serde_json::Value = serde_json::from_str(&value).unwrap();
    let mut kids: Vec<String> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    kids.sort();
    kids
}

#[tokio::test]
async fn rotation_keeps_the_secrets_algorithm() {
    for alg in ["EdDSA", "ES256", "RS256"] {
        let (client, name) = secret_with(alg).await;
        let version = rotate_once(&name).await;
        let keys = signer(client, &name).load().await.unwrap();
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
    let source: Arc<dyn KeySource> = Arc::new(signer(client.clone(), &name));

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
        let event: authorizer::Event = serde_json::from_value(serde_json::json!({
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_key_is_published_before_it_signs_and_verifiers_read_only_the_published_keys() {
    let (client, name) = secret_with("ES256").await;
    let public = public_secret().await;
    let rotator = rotator_for(&public).await;
    let first = signer(client.clone(), &name)
        .load()
        .await
        .unwrap()
        .signing_key()
        .unwrap()
        .kid()
        .to_owned();

    let token = uuid::Uuid::new_v4().to_string();
    rotate(&rotator, step(&name, &token, "createSecret"))
        .await
        .unwrap();
    let mut expected = vec![first.clone(), token.clone()];
    expected.sort();
    assert_eq!(
        published(&client, &public).await,
        expected,
        "the pending key is published at createSecret, before it signs"
    );
    for name_of_step in ["setSecret", "testSecret", "finishSecret"] {
        rotate(&rotator, step(&name, &token, name_of_step))
            .await
            .unwrap();
    }
    assert_eq!(published(&client, &public).await, expected);
    let third = rotate_with(&rotator, &name).await;
    let now: BTreeSet<String> = published(&client, &public).await.into_iter().collect();
    assert_eq!(
        now,
        BTreeSet::from([token.clone(), third.clone()]),
        "two rotations old: unpublished"
    );

    // A verifier as the template configures one: PUBLIC_KEYS_SECRET_ID and no signing secret.
    let sdk = authgate_testkit::sdk_config(&authgate_testkit::moto().endpoint).await;
    let backend = authgate_runtime::AwsBackend::new(sdk);
    let env = Env::from_pairs([("PUBLIC_KEYS_SECRET_ID", public.as_str())]);
    let ring = authgate_runtime::Backend::verifying_keys(&backend, &env)
        .await
        .unwrap();
    let held = ring.current();
    assert_eq!(
        held.kids(),
        vec![third.as_str(), token.as_str()]
            .into_iter()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>()
    );
    assert!(held.signing_key().is_none(), "public halves only");
    let signer = Arc::new(signer(client.clone(), &name).load().await.unwrap());
    let signed = TokenIssuer::new(signer, "urn:rot", "aud", Duration::from_secs(900))
        .unwrap()
        .issue(&Subject {
            id: "u",
            email: "u@example.com",
            session: "s",
            ..Default::default()
        })
        .unwrap()
        .token;
    let verifier = authgate_token::TokenVerifier::new(
        held,
        authgate_token::Validation::own("urn:rot", "aud", 30),
    );
    assert!(
        verifier.verify(&signed).is_ok(),
        "the published keys verify"
    );
}

#[tokio::test]
async fn an_hmac_secret_publishes_an_empty_key_set() {
    let (client, name) = secret().await;
    let public = public_secret().await;
    let rotator = rotator_for(&public).await;
    rotate_with(&rotator, &name).await;
    assert!(published(&client, &public).await.is_empty());
}

/// `events/signing-keys-setup.json` as CloudFormation would send it for `kind`, answered at
/// `url`, for the signing secret `signing`.
fn setup_request(kind: &str, url: &str, signing: &str) -> serde_json::Value {
    let mut request: serde_json::Value =
        serde_json::from_str(&authgate_testkit::event("signing-keys-setup.json")).unwrap();
    assert_eq!(request["ResourceType"], rotate_key::SETUP_RESOURCE_TYPE);
    request["RequestType"] = kind.into();
    request["ResponseURL"] = url.into();
    request["RequestId"] = uuid::Uuid::new_v4().to_string().into();
    request["ResourceProperties"]["SigningKeySecretId"] = signing.into();
    if kind != "Create" {
        request["PhysicalResourceId"] = format!("{signing}#signing-keys").into();
        request["OldResourceProperties"] = request["ResourceProperties"].clone();
    }
    request
}

/// The answers CloudFormation got, as JSON.
fn answers(received: &authgate_testkit::ReceivedPuts) -> Vec<serde_json::Value> {
    received
        .lock()
        .unwrap()
        .iter()
        .map(|(content_type, body)| {
            assert_eq!(
                *content_type, None,
                "a presigned PUT carries no content type"
            );
            serde_json::from_str(body).unwrap()
        })
        .collect()
}

#[tokio::test]
async fn the_first_deploy_replaces_the_templates_rs256_placeholder_with_a_random_rsa_key() {
    let client = authgate_testkit::secrets_client().await;
    let name = authgate_testkit::unique_name("rs256-key");
    let placeholder = format!(
        r#"{{"alg": "RS256", "k": "{}"}}"#,
        "x7".repeat(rotate_key::RS256_PLACEHOLDER_LEN / 2)
    );
    let first = client
        .create_secret()
        .name(&name)
        .secret_string(&placeholder)
        .send()
        .await
        .unwrap()
        .version_id
        .unwrap();
    let public = public_secret().await;
    let rotator = rotator_for(&public).await;
    let (url, received) = authgate_testkit::start_response_url().await;

    rotator
        .handle(setup_request("Create", &url, &name))
        .await
        .unwrap();
    let answer = &answers(&received)[0];
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    assert_eq!(answer["LogicalResourceId"], "SigningKeySetup");
    assert_eq!(answer["PhysicalResourceId"], format!("{name}#signing-keys"));

    let keys = signer(client.clone(), &name)
        .load()
        .await
        .expect("the placeholder is never loaded: it lost AWSPREVIOUS");
    let signing = keys.signing_key().unwrap();
    assert_eq!(format!("{:?}", signing.algorithm()), "RS256");
    assert_ne!(signing.kid(), first);
    assert_eq!(keys.len(), 1);
    let jwk = signing.public_jwk().unwrap();
    let n = base64::Engine::decode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        jwk["n"].as_str().unwrap(),
    )
    .unwrap();
    assert_eq!(n.len() * 8, 2048, "RSA-2048");
    assert_eq!(
        published(&client, &public).await,
        vec![signing.kid().to_owned()]
    );

    // An update (a redeploy) keeps the key: it is a real one now.
    rotator
        .handle(setup_request("Update", &url, &name))
        .await
        .unwrap();
    assert_eq!(answers(&received)[1]["Status"], "SUCCESS");
    let again = signer(client.clone(), &name).load().await.unwrap();
    assert_eq!(again.signing_key().unwrap().kid(), signing.kid());
    // And rotation then makes RSA keys as well.
    let rotated = rotate_with(&rotator, &name).await;
    let after = signer(client, &name).load().await.unwrap();
    assert_eq!(after.signing_key().unwrap().kid(), rotated);
    assert_eq!(
        format!("{:?}", after.signing_key().unwrap().algorithm()),
        "RS256"
    );
}

#[tokio::test]
async fn a_broken_key_fails_the_deploy_with_a_reason_and_is_left_as_it_is() {
    let client = authgate_testkit::secrets_client().await;
    let name = authgate_testkit::unique_name("broken-key");
    let broken = r#"{"alg": "RS256", "k": "not an RSA key, and not the placeholder either"}"#;
    client
        .create_secret()
        .name(&name)
        .secret_string(broken)
        .send()
        .await
        .unwrap();
    let public = public_secret().await;
    let rotator = rotator_for(&public).await;
    let (url, received) = authgate_testkit::start_response_url().await;
    rotator
        .handle(setup_request("Create", &url, &name))
        .await
        .unwrap();
    let answer = &answers(&received)[0];
    assert_eq!(answer["Status"], "FAILED");
    assert!(
        answer["Reason"].as_str().unwrap().contains("current key"),
        "{answer}"
    );
    assert!(
        !answer.to_string().contains("not an RSA key"),
        "no key material in the reason"
    );
    let value = client
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .unwrap()
        .secret_string
        .unwrap();
    assert_eq!(value, broken, "not overwritten");

    // Deleting the stack always succeeds, and bad properties fail with a reason, not a hang.
    rotator
        .handle(setup_request("Delete", &url, &name))
        .await
        .unwrap();
    assert_eq!(answers(&received)[1]["Status"], "SUCCESS");
    let mut bad = setup_request("Create", &url, &name);
    bad["ResourceProperties"] = serde_json::json!({"ServiceToken": "arn"});
    rotator.handle(bad).await.unwrap();
    let answer = &answers(&received)[2];
    assert_eq!(answer["Status"], "FAILED");
    assert_eq!(answer["PhysicalResourceId"], "SigningKeySetup");
    rotator
        .handle(setup_request("Replace", &url, &name))
        .await
        .unwrap();
    let answer = &answers(&received)[3];
    assert_eq!(
        answer["Status"], "FAILED",
        "an unknown request type is answered, never acted on"
    );
}

#[tokio::test]
async fn an_event_of_neither_kind_is_refused() {
    let rotator = rotator().await;
    for event in [
        serde_json::json!({"hello": "world"}),
        serde_json::json!([1, 2]),
    ] {
        assert!(rotator.handle(event).await.is_err());
    }
}

#[tokio::test]
async fn after_a_rotation_the_previous_key_signs_until_jwks_caches_have_the_new_one() {
    let (client, name) = secret_with("RS256").await;
    let first = signer(client.clone(), &name).load().await.unwrap();
    let first = first.signing_key().unwrap().kid().to_owned();
    let second = rotate_once(&name).await;

    let deployed = SecretsManagerKeySource::new(client.clone(), &name)
        .load()
        .await
        .unwrap();
    assert_eq!(
        deployed.signing_key().unwrap().kid(),
        first,
        "for {:?} the new key only verifies",
        authgate_keys::NEW_KEY_SIGNS_AFTER
    );
    assert!(deployed.get(&second).is_some(), "but it is trusted already");

    let soon = SecretsManagerKeySource::new(client, &name)
        .with_new_key_signing_after(Duration::from_secs(2));
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        soon.load().await.unwrap().signing_key().unwrap().kid(),
        second,
        "then it signs"
    );
}
