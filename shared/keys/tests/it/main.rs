//! Loading keys from Secrets Manager, against moto through the real SDK client.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use authgate_keys::{KeySource, KeySourceError, SecretsManagerKeySource};

const KEY_A: &str = r#"{"alg":"HS256","k":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}"#;
const KEY_B: &str = r#"{"alg":"HS256","k":"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"}"#;

async fn secret_with(value: &str) -> (aws_sdk_secretsmanager::Client, String, String) {
    let client = authgate_testkit::secrets_client().await;
    let name = authgate_testkit::unique_name("signing-key");
    let created = client
        .create_secret()
        .name(&name)
        .secret_string(value)
        .send()
        .await
        .unwrap();
    (client, name, created.version_id.unwrap())
}

#[tokio::test]
async fn loads_the_current_version_as_the_signing_key_named_by_its_version_id() {
    let (client, name, version) = secret_with(KEY_A).await;
    let keys = SecretsManagerKeySource::new(client, &name)
        .load()
        .await
        .unwrap();
    assert_eq!(keys.kids(), vec![version.as_str()]);
    assert_eq!(keys.signing_key().unwrap().kid(), version);
}

#[tokio::test]
async fn also_trusts_the_previous_version_after_a_new_one_becomes_current_and_lets_it_sign_for_a_while()
 {
    let (client, name, first) = secret_with(KEY_A).await;
    let second = client
        .put_secret_value()
        .secret_id(&name)
        .secret_string(KEY_B)
        .send()
        .await
        .unwrap()
        .version_id
        .unwrap();
    let keys = SecretsManagerKeySource::new(client.clone(), &name)
        .load()
        .await
        .unwrap();
    let mut expected = vec![first.as_str(), second.as_str()];
    expected.sort();
    assert_eq!(keys.kids(), expected);
    assert_eq!(
        keys.signing_key().unwrap().kid(),
        first,
        "a new current key only verifies at first"
    );
    let at_once = SecretsManagerKeySource::new(client, &name)
        .with_new_key_signing_after(std::time::Duration::ZERO)
        .load()
        .await
        .unwrap();
    assert_eq!(at_once.signing_key().unwrap().kid(), second);
}

#[tokio::test]
async fn missing_secret_is_a_backend_error() {
    let client = authgate_testkit::secrets_client().await;
    let err = SecretsManagerKeySource::new(client, "does-not-exist")
        .load()
        .await
        .unwrap_err();
    assert!(matches!(err, KeySourceError::Backend { .. }), "{err:?}");
}

#[tokio::test]
async fn malformed_or_weak_secrets_are_refused_without_echoing_them() {
    for (value, check) in [
        (
            "just-a-string-not-json-aaaaaaaaaaaaaaaaaa",
            "not a JSON object",
        ),
        (
            r#"{"alg":"none","k":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}"#,
            "unsupported algorithm",
        ),
        (r#"{"alg":"HS256","k":"short"}"#, "unusable key"),
    ] {
        let (client, name, _) = secret_with(value).await;
        let err = SecretsManagerKeySource::new(client, &name)
            .load()
            .await
            .unwrap_err();
        let shown = err.to_string();
        assert!(shown.contains(check), "{shown}");
        assert!(
            !shown.contains("aaaa") && !shown.contains("short\""),
            "{shown}"
        );
    }
}
