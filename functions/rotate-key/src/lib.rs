//! Rotates authgate's signing key: Secrets Manager's four rotation steps for a key that lives only
//! in the secret.
//!
//! - `createSecret`: a new random key becomes version `ClientRequestToken`, staged `AWSPENDING`
//!   (idempotent: a retried step finds it there).
//! - `setSecret`: nothing to do; no other system holds the key.
//! - `testSecret`: the pending key must parse and sign a token that verifies.
//! - `finishSecret`: `AWSCURRENT` moves to the new version; Secrets Manager moves `AWSPREVIOUS` to
//!   the old one, so tokens it signed keep verifying until the next rotation.

use authgate_keys::{STAGE_CURRENT, parse_secret_key};
use authgate_runtime::{Env, EventHandler, InitError, SdkConfig};
use authgate_token::{KeySet, Subject, TokenIssuer, TokenVerifier, Validation};
use aws_lambda_events::secretsmanager::SecretsManagerSecretRotationEvent;
use aws_sdk_secretsmanager::Client;
use rand::RngCore;

/// The staging label of a version being rotated in.
pub const STAGE_PENDING: &str = "AWSPENDING";

/// Why a rotation step failed. Secrets Manager retries failed steps.
#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    #[error("unknown rotation step {0:?}")]
    UnknownStep(String),
    #[error("secret {0} does not have rotation enabled")]
    RotationDisabled(String),
    #[error("version {0} is not a version of the secret")]
    UnknownVersion(String),
    #[error("version {0} is not staged AWSPENDING")]
    NotPending(String),
    #[error("the pending key does not work")]
    BadPendingKey(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("the current key does not parse; its algorithm is unknown")]
    BadCurrentKey(#[source] authgate_keys::KeySourceError),
    #[error("Secrets Manager call failed")]
    Aws(#[from] aws_sdk_secretsmanager::Error),
}

fn aws<E>(err: aws_sdk_secretsmanager::error::SdkError<E>) -> RotationError
where
    aws_sdk_secretsmanager::Error: From<aws_sdk_secretsmanager::error::SdkError<E>>,
{
    RotationError::Aws(err.into())
}

/// A new key in the secret's JSON format for `alg`: 32 random bytes, hex-encoded.
pub fn new_key_json(alg: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let k: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    serde_json::json!({"alg": alg, "k": k}).to_string()
}

/// The algorithm of the current key, which the new one keeps. A current key that does not parse
/// stops the rotation: guessing an algorithm could silently downgrade it.
async fn current_algorithm(client: &Client, secret: &str) -> Result<String, RotationError> {
    let current = client
        .get_secret_value()
        .secret_id(secret)
        .version_stage(STAGE_CURRENT)
        .send()
        .await
        .map_err(aws)?;
    let version = current.version_id().unwrap_or_default();
    let key = parse_secret_key(secret, version, current.secret_string().unwrap_or_default())
        .map_err(RotationError::BadCurrentKey)?;
    Ok(format!("{:?}", key.algorithm()))
}

/// The rotation function, talking to Secrets Manager.
pub struct RotateKey {
    client: Client,
}

/// The rotation function on `sdk`'s Secrets Manager. Which secret to rotate comes with each event.
pub async fn build(_env: &Env, sdk: &SdkConfig) -> Result<RotateKey, InitError> {
    Ok(RotateKey {
        client: Client::new(sdk),
    })
}

#[async_trait::async_trait]
impl EventHandler<SecretsManagerSecretRotationEvent> for RotateKey {
    type Output = ();
    type Error = RotationError;

    async fn handle(&self, event: SecretsManagerSecretRotationEvent) -> Result<(), RotationError> {
        tracing::info!(step = %event.step, version = %event.client_request_token, "rotation step");
        rotate(&self.client, &event).await
    }
}

/// Runs one rotation step.
async fn rotate(
    client: &Client,
    event: &SecretsManagerSecretRotationEvent,
) -> Result<(), RotationError> {
    let (secret, token) = (&event.secret_id, &event.client_request_token);
    let described = client
        .describe_secret()
        .secret_id(secret)
        .send()
        .await
        .map_err(aws)?;
    if described.rotation_enabled == Some(false) {
        return Err(RotationError::RotationDisabled(secret.clone()));
    }
    let versions = described.version_ids_to_stages.unwrap_or_default();
    let Some(stages) = versions.get(token) else {
        // Secrets Manager stages the new version AWSPENDING before it calls createSecret; a
        // createSecret without that stub (a manual run) may still create it.
        if event.step == "createSecret" {
            return create(client, secret, token).await;
        }
        return Err(RotationError::UnknownVersion(token.clone()));
    };
    if stages.iter().any(|s| s == STAGE_CURRENT) {
        tracing::info!(version = %token, "already AWSCURRENT; nothing to do");
        return Ok(());
    }
    if !stages.iter().any(|s| s == STAGE_PENDING) {
        return Err(RotationError::NotPending(token.clone()));
    }
    match event.step.as_str() {
        "createSecret" => create(client, secret, token).await,
        "setSecret" => Ok(()),
        "testSecret" => test(client, secret, token).await,
        "finishSecret" => {
            let current = versions
                .iter()
                .find(|(_, stages)| stages.iter().any(|s| s == STAGE_CURRENT))
                .map(|(version, _)| version.clone());
            finish(client, secret, token, current).await
        }
        other => Err(RotationError::UnknownStep(other.to_owned())),
    }
}

async fn create(client: &Client, secret: &str, token: &str) -> Result<(), RotationError> {
    let existing = client
        .get_secret_value()
        .secret_id(secret)
        .version_id(token)
        .version_stage(STAGE_PENDING)
        .send()
        .await;
    if existing.is_ok_and(|v| v.secret_string.is_some()) {
        tracing::info!(version = %token, "pending key already created");
        return Ok(());
    }
    client
        .put_secret_value()
        .secret_id(secret)
        .client_request_token(token)
        .secret_string(new_key_json(&current_algorithm(client, secret).await?))
        .version_stages(STAGE_PENDING)
        .send()
        .await
        .map_err(aws)?;
    tracing::info!(version = %token, "pending key created");
    Ok(())
}

async fn test(client: &Client, secret: &str, token: &str) -> Result<(), RotationError> {
    let pending = client
        .get_secret_value()
        .secret_id(secret)
        .version_id(token)
        .version_stage(STAGE_PENDING)
        .send()
        .await
        .map_err(aws)?;
    let bad = |e: Box<dyn std::error::Error + Send + Sync>| RotationError::BadPendingKey(e);
    let key = parse_secret_key(secret, token, pending.secret_string().unwrap_or_default())
        .map_err(|e| bad(Box::new(e)))?;
    let keys = std::sync::Arc::new(KeySet::signing(token, [key]).map_err(|e| bad(Box::new(e)))?);
    let issued = TokenIssuer::new(
        keys.clone(),
        "urn:authgate:rotation-test",
        "rotation-test",
        std::time::Duration::from_secs(60),
    )
    .and_then(|issuer| {
        issuer.issue(&Subject {
            id: "rotation-test",
            email: "rotation@test.invalid",
            session: "rotation-test",
            ..Default::default()
        })
    })
    .map_err(|e| bad(Box::new(e)))?;
    let validation = Validation::own("urn:authgate:rotation-test", "rotation-test", 0);
    TokenVerifier::new(keys, validation)
        .verify(&issued.token)
        .map_err(|e| bad(Box::new(e)))?;
    tracing::info!(version = %token, "pending key signs and verifies");
    Ok(())
}

async fn finish(
    client: &Client,
    secret: &str,
    token: &str,
    current: Option<String>,
) -> Result<(), RotationError> {
    client
        .update_secret_version_stage()
        .secret_id(secret)
        .version_stage(STAGE_CURRENT)
        .move_to_version_id(token)
        .set_remove_from_version_id(current.clone())
        .send()
        .await
        .map_err(aws)?;
    // Leave no stale pending label behind on the new current version.
    client
        .update_secret_version_stage()
        .secret_id(secret)
        .version_stage(STAGE_PENDING)
        .remove_from_version_id(token)
        .send()
        .await
        .map_err(aws)?;
    tracing::info!(version = %token, previous = ?current, "rotation finished");
    Ok(())
}

impl From<RotationError> for lambda_runtime::Diagnostic {
    fn from(err: RotationError) -> Self {
        let message = authgate_config::error_chain(&err);
        tracing::error!(error = %message, "rotation step failed");
        lambda_runtime::Diagnostic {
            error_type: "RotationError".into(),
            error_message: message,
        }
    }
}
