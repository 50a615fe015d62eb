//! Signing keys from Secrets Manager, fetched once at init and kept in memory.
//!
//! The signing secret is a JSON object `{"alg": "HS256" | "EdDSA" | "ES256" | "RS256", "k": ...}`:
//! for HS256 `k` is the key, for EdDSA and ES256 it seeds the private key, for RS256 it is a
//! random RSA private key (see the token crate). The template's `GenerateSecretString` creates
//! the first version (for RS256 only a placeholder the rotation function replaces at deploy) and
//! the rotation function renews it. Each Secrets Manager version is one key and its `VersionId`
//! is the key's `kid`, so a token names the exact version that signed it. `AWSCURRENT` signs
//! (once [`NEW_KEY_SIGNS_AFTER`] old; `AWSPREVIOUS` signs until then, so verifiers that cache the
//! published keys have fetched the new one first); `AWSPREVIOUS`, when present, still verifies,
//! so tokens survive a rotation.
//!
//! Verifiers of asymmetric tokens never read that secret: the rotation function publishes the
//! public keys as a JWK Set in a second secret ([`PublishedKeySource`]), which is all the
//! authorizer and the discovery function may read.

use async_trait::async_trait;
use authgate_token::{Key, KeyError, KeySet, SIGNING_ALGORITHMS};
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
use serde::Deserialize;

/// The staging label of the version that signs.
pub const STAGE_CURRENT: &str = "AWSCURRENT";
/// The staging label of the version that was current before the last rotation.
pub const STAGE_PREVIOUS: &str = "AWSPREVIOUS";

/// How long a new `AWSCURRENT` key only verifies, while `AWSPREVIOUS` still signs: API Gateway's
/// HTTP API JWT authorizer "can cache the public key for two hours" and AWS advises a grace
/// period during which both keys are valid ("Control access to HTTP APIs with JWT authorizers"),
/// so a token is signed only by a key every such cache has had time to fetch.
pub const NEW_KEY_SIGNS_AFTER: std::time::Duration = std::time::Duration::from_secs(2 * 3600);

/// Why keys could not be loaded. The secret's value never appears in these messages.
#[derive(Debug, thiserror::Error)]
pub enum KeySourceError {
    #[error("secret {secret_id} has no {stage} version")]
    MissingStage {
        secret_id: String,
        stage: &'static str,
    },
    #[error("secret {secret_id} version {version} is not a JSON object {{\"alg\", \"k\"}}")]
    Format { secret_id: String, version: String },
    #[error("secret {secret_id} version {version} uses unsupported algorithm {alg:?}")]
    UnsupportedAlgorithm {
        secret_id: String,
        version: String,
        alg: String,
    },
    #[error("secret {secret_id} holds an unusable key")]
    Key {
        secret_id: String,
        #[source]
        source: KeyError,
    },
    #[error("key file {path} is accessible to other users; run `chmod 600 {path}`")]
    InsecureFile { path: String },
    #[error("cannot read secret {secret_id}")]
    Backend {
        secret_id: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Where a process gets the keys it signs and verifies with.
#[async_trait]
pub trait KeySource: Send + Sync {
    /// The current key set; the signing key is the current version's.
    async fn load(&self) -> Result<KeySet, KeySourceError>;
}

/// The JSON inside the secret.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretKey {
    alg: String,
    k: String,
}

/// Keys from the versions of one Secrets Manager secret.
#[derive(Debug, Clone)]
pub struct SecretsManagerKeySource {
    client: Client,
    secret_id: String,
    signs_after: std::time::Duration,
}

/// One version of a secret, as read at a staging label.
#[derive(Clone)]
pub struct StagedVersion {
    /// The version id (a key's `kid`).
    pub id: String,
    /// The secret string.
    pub value: String,
    /// When the version was created, if Secrets Manager said.
    pub created_at: Option<std::time::SystemTime>,
}

impl std::fmt::Debug for StagedVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StagedVersion")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// The version of `secret_id` at `stage`, the one way authgate reads a staged version: `None` if
/// no version carries a label other than `AWSCURRENT` (every secret has an `AWSCURRENT`, so its
/// absence is an error, as is a version without a string).
pub async fn staged_version(
    client: &Client,
    secret_id: &str,
    stage: &'static str,
) -> Result<Option<StagedVersion>, KeySourceError> {
    let result = client
        .get_secret_value()
        .secret_id(secret_id)
        .version_stage(stage)
        .send()
        .await;
    let output = match result {
        Ok(output) => output,
        Err(err)
            if stage != STAGE_CURRENT
                && matches!(
                    err.as_service_error(),
                    Some(GetSecretValueError::ResourceNotFoundException(_))
                ) =>
        {
            return Ok(None);
        }
        Err(err) => {
            return Err(KeySourceError::Backend {
                secret_id: secret_id.to_owned(),
                source: Box::new(aws_sdk_secretsmanager::Error::from(err)),
            });
        }
    };
    let created_at = output
        .created_date
        .and_then(|date| std::time::SystemTime::try_from(date).ok());
    match (output.version_id, output.secret_string) {
        (Some(id), Some(value)) => Ok(Some(StagedVersion {
            id,
            value,
            created_at,
        })),
        _ => Err(KeySourceError::MissingStage {
            secret_id: secret_id.to_owned(),
            stage,
        }),
    }
}

impl SecretsManagerKeySource {
    /// Keys from `secret_id` (a name or ARN); a new `AWSCURRENT` signs once it is
    /// [`NEW_KEY_SIGNS_AFTER`] old, `AWSPREVIOUS` until then.
    pub fn new(client: Client, secret_id: impl Into<String>) -> Self {
        Self {
            client,
            secret_id: secret_id.into(),
            signs_after: NEW_KEY_SIGNS_AFTER,
        }
    }

    /// The same source, letting a new `AWSCURRENT` sign once it is `delay` old.
    pub fn with_new_key_signing_after(mut self, delay: std::time::Duration) -> Self {
        self.signs_after = delay;
        self
    }

    async fn fetch(&self, stage: &'static str) -> Result<Option<StagedVersion>, KeySourceError> {
        staged_version(&self.client, &self.secret_id, stage).await
    }

    fn key(&self, version: &StagedVersion) -> Result<Key, KeySourceError> {
        parse_secret_key(&self.secret_id, &version.id, &version.value)
    }
}

/// The key in one version of the secret: `{"alg", "k"}`, `kid` = the version id.
pub fn parse_secret_key(
    secret_id: &str,
    version: &str,
    value: &str,
) -> Result<Key, KeySourceError> {
    let parsed: SecretKey = serde_json::from_str(value).map_err(|_| KeySourceError::Format {
        secret_id: secret_id.to_owned(),
        version: version.to_owned(),
    })?;
    if !SIGNING_ALGORITHMS.contains(&parsed.alg.as_str()) {
        return Err(KeySourceError::UnsupportedAlgorithm {
            secret_id: secret_id.to_owned(),
            version: version.to_owned(),
            alg: parsed.alg,
        });
    }
    Key::from_secret_material(version, &parsed.alg, parsed.k.as_bytes()).map_err(|source| {
        KeySourceError::Key {
            secret_id: secret_id.to_owned(),
            source,
        }
    })
}

#[async_trait]
impl KeySource for SecretsManagerKeySource {
    async fn load(&self) -> Result<KeySet, KeySourceError> {
        let current = self
            .fetch(STAGE_CURRENT)
            .await?
            .ok_or(KeySourceError::MissingStage {
                secret_id: self.secret_id.clone(),
                stage: STAGE_CURRENT,
            })?;
        let mut keys = vec![self.key(&current)?];
        let mut signing = current.id.clone();
        if let Some(previous) = self.fetch(STAGE_PREVIOUS).await?
            && previous.id != current.id
        {
            keys.push(self.key(&previous)?);
            // A version without a date signs (no old key lingers); one dated ahead is young.
            let age = current
                .created_at
                .map_or(std::time::Duration::MAX, |created| {
                    created.elapsed().unwrap_or_default()
                });
            if age < self.signs_after {
                signing = previous.id;
            }
        }
        let set = KeySet::signing(&signing, keys).map_err(|source| KeySourceError::Key {
            secret_id: self.secret_id.clone(),
            source,
        })?;
        tracing::info!(kids = ?set.kids(), signing = %signing, "signing keys loaded");
        Ok(set)
    }
}

/// The public keys the rotation function published: a JWK Set (`{"keys": [...]}`) in the
/// `AWSCURRENT` version of a secret of its own, so a verifier's role needs no access to the
/// signing secret. Every key in it must be one authgate could have made.
#[derive(Debug, Clone)]
pub struct PublishedKeySource {
    client: Client,
    secret_id: String,
}

impl PublishedKeySource {
    /// Public keys from `secret_id` (a name or ARN).
    pub fn new(client: Client, secret_id: impl Into<String>) -> Self {
        Self {
            client,
            secret_id: secret_id.into(),
        }
    }
}

#[async_trait]
impl KeySource for PublishedKeySource {
    async fn load(&self) -> Result<KeySet, KeySourceError> {
        let current = staged_version(&self.client, &self.secret_id, STAGE_CURRENT)
            .await?
            .ok_or(KeySourceError::MissingStage {
                secret_id: self.secret_id.clone(),
                stage: STAGE_CURRENT,
            })?;
        let jwks: serde_json::Value =
            serde_json::from_str(&current.value).map_err(|_| KeySourceError::Format {
                secret_id: self.secret_id.clone(),
                version: current.id.clone(),
            })?;
        let set = KeySet::from_public_jwks(&jwks).map_err(|source| KeySourceError::Key {
            secret_id: self.secret_id.clone(),
            source,
        })?;
        tracing::info!(kids = ?set.kids(), "published public keys loaded");
        Ok(set)
    }
}

mod file;
mod ring;
pub use file::KeyFile;
pub use ring::{KEY_RELOAD_MIN_INTERVAL, KEYS_MAX_AGE, KeyRing, RingIssuer, RingVerifier};
