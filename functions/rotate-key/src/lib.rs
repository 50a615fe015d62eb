//! Rotates authgate's signing key, publishes its public keys, and makes the first RS256 key:
//! one function for the three jobs that need write access to the signing secret, so nothing
//! else holds it.
//!
//! Secrets Manager's four rotation steps, for a key that lives only in the secret:
//! - `createSecret`: a new random key becomes version `ClientRequestToken`, staged `AWSPENDING`
//!   (idempotent: a retried step finds it there), and its public key is published at once, so
//!   verifiers know it before it signs anything.
//! - `setSecret`: nothing to do; no other system holds the key.
//! - `testSecret`: the pending key must parse and sign a token that verifies.
//! - `finishSecret`: `AWSCURRENT` moves to the new version; Secrets Manager moves `AWSPREVIOUS` to
//!   the old one, so tokens it signed keep verifying until the next rotation; the published keys
//!   follow.
//!
//! And the stack's `Custom::SigningKeys` resource (CloudFormation, at every create and update):
//! the template's `GenerateSecretString` cannot make an RSA key, so an RS256 secret starts with a
//! placeholder that this function replaces by a random RSA-2048 key; then it publishes the public
//! keys (see [`publish`]) and answers CloudFormation.

use authgate_config::PUBLIC_KEYS_SECRET_ID;
use authgate_keys::{STAGE_CURRENT, parse_secret_key};
use authgate_runtime::{Env, EventHandler, InitError, SdkConfig};
use authgate_token::{KeySet, Subject, TokenIssuer, TokenVerifier, Validation};
use aws_lambda_events::secretsmanager::SecretsManagerSecretRotationEvent;
use aws_sdk_secretsmanager::Client;

mod publish;
mod setup;
pub use publish::publish;
pub use setup::{RS256_PLACEHOLDER_LEN, SETUP_RESOURCE_TYPE};

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
    #[error("a staged key cannot be published")]
    Unpublishable(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("the event is neither a rotation step nor a CloudFormation request")]
    UnknownEvent(#[source] serde_json::Error),
    #[error("the answer to CloudFormation could not be delivered")]
    Respond(#[source] reqwest::Error),
    #[error("Secrets Manager call failed")]
    Aws(#[from] aws_sdk_secretsmanager::Error),
}

pub(crate) fn aws<E>(err: aws_sdk_secretsmanager::error::SdkError<E>) -> RotationError
where
    aws_sdk_secretsmanager::Error: From<aws_sdk_secretsmanager::error::SdkError<E>>,
{
    RotationError::Aws(err.into())
}

/// A new key in the secret's JSON format for `alg`, from the token crate's one generator.
pub fn new_key_json(alg: &str) -> Result<String, authgate_token::KeyError> {
    let k = authgate_token::new_secret_material(alg)?;
    Ok(serde_json::json!({"alg": alg, "k": k}).to_string())
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

/// The rotation function, talking to Secrets Manager (and, for its custom resource, to
/// CloudFormation's response URL).
pub struct RotateKey {
    client: Client,
    public_keys: String,
    http: reqwest::Client,
}

/// The rotation function on `sdk`'s Secrets Manager, publishing public keys to the secret
/// `PUBLIC_KEYS_SECRET_ID` names. Which signing secret to rotate comes with each event.
pub async fn build(env: &Env, sdk: &SdkConfig) -> Result<RotateKey, InitError> {
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .map_err(|e| InitError::Http(Box::new(e)))?;
    Ok(RotateKey {
        client: Client::new(sdk),
        public_keys: env.required_setting(&PUBLIC_KEYS_SECRET_ID)?,
        http,
    })
}

#[async_trait::async_trait]
impl EventHandler<serde_json::Value> for RotateKey {
    type Output = ();
    type Error = RotationError;

    /// A CloudFormation request (it has a `RequestType`) or else a rotation step.
    async fn handle(&self, event: serde_json::Value) -> Result<(), RotationError> {
        if event.get("RequestType").is_some() {
            let request = serde_json::from_value(event).map_err(RotationError::UnknownEvent)?;
            return setup::answer(self, request).await;
        }
        let event: SecretsManagerSecretRotationEvent =
            serde_json::from_value(event).map_err(RotationError::UnknownEvent)?;
        tracing::info!(step = %event.step, version = %event.client_request_token, "rotation step");
        rotate(&self.client, &self.public_keys, &event).await
    }
}

/// Runs one rotation step.
async fn rotate(
    client: &Client,
    public: &str,
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
            return create(client, public, secret, token).await;
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
        "createSecret" => create(client, public, secret, token).await,
        "setSecret" => Ok(()),
        "testSecret" => test(client, secret, token).await,
        "finishSecret" => {
            let current = versions
                .iter()
                .find(|(_, stages)| stages.iter().any(|s| s == STAGE_CURRENT))
                .map(|(version, _)| version.clone());
            finish(client, public, secret, token, current).await
        }
        other => Err(RotationError::UnknownStep(other.to_owned())),
    }
}

async fn create(
    client: &Client,
    public: &str,
    secret: &str,
    token: &str,
) -> Result<(), RotationError> {
    let existing = client
        .get_secret_value()
        .secret_id(secret)
        .version_id(token)
        .version_stage(STAGE_PENDING)
        .send()
        .await;
    if existing.is_ok_and(|v| v.secret_string.is_some()) {
        tracing::info!(version = %token, "pending key already created");
        return publish(client, secret, public).await;
    }
    let key = new_key_json(&current_algorithm(client, secret).await?)
        .map_err(|e| RotationError::BadPendingKey(Box::new(e)))?;
    client
        .put_secret_value()
        .secret_id(secret)
        .client_request_token(token)
        .secret_string(key)
        .version_stages(STAGE_PENDING)
        .send()
        .await
        .map_err(aws)?;
    tracing::info!(version = %token, "pending key created");
    publish(client, secret, public).await
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
    public: &str,
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
    publish(client, secret, public).await
}

impl From<RotationError> for lambda_runtime::Diagnostic {
    fn from(err: RotationError) -> Self {
        let message = authgate_http::error_chain(&err);
        tracing::error!(error = %message, "rotation step failed");
        lambda_runtime::Diagnostic {
            error_type: "RotationError".into(),
            error_message: message,
        }
    }
}
