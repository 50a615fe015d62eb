//! Where users and keys live: the embedded defaults, or DynamoDB and Secrets Manager.
//!
//! The AWS choices use the same `DynamoUserStore` and `SecretsManagerKeySource` as the Lambdas, so
//! running against DynamoDB Local, moto or a real account exercises the deployed code paths.

use std::path::PathBuf;
use std::sync::Arc;

use authgate_dynamo::DynamoUserStore;
use authgate_embedded::EmbeddedUserStore;
use authgate_keys::{KEY_RELOAD_MIN_INTERVAL, KEYS_MAX_AGE};
use authgate_keys::{KeyFile, KeyRing, KeySource, SecretsManagerKeySource};
use authgate_runtime::AccountStore;
use authgate_token::KeySet;
use aws_sdk_dynamodb::operation::describe_table::DescribeTableError;
use aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretError;

/// Default table name when DynamoDB is chosen without a name.
pub const DEFAULT_TABLE: &str = "authgate-users";
/// Default secret name when Secrets Manager is chosen without a name.
pub const DEFAULT_SECRET: &str = "authgate-signing-key";

/// Flags shared by every command that touches users or keys.
#[derive(Debug, Clone, clap::Args)]
pub struct BackendArgs {
    /// Directory of the embedded store and the local signing key.
    #[arg(long, env = "AUTHGATE_DATA_DIR", default_value = ".authgate")]
    pub data_dir: PathBuf,
    /// Use DynamoDB at this endpoint (DynamoDB Local, for example); creates the table if missing.
    #[arg(long, env = "AUTHGATE_DYNAMODB_ENDPOINT")]
    pub dynamodb_endpoint: Option<String>,
    /// Use this DynamoDB table (with the standard AWS configuration unless an endpoint is given).
    #[arg(long, env = "USERS_TABLE")]
    pub users_table: Option<String>,
    /// Use Secrets Manager at this endpoint (moto, for example); creates the secret if missing.
    #[arg(long, env = "AUTHGATE_SECRETS_ENDPOINT")]
    pub secrets_endpoint: Option<String>,
    /// Use this Secrets Manager secret (name or ARN) for the signing key.
    #[arg(long, env = "SIGNING_KEY_SECRET_ID")]
    pub signing_secret: Option<String>,
    /// Algorithm of a newly created key, in the local key file or a secret created on an
    /// emulator (an existing key keeps its own) [the template's SigningAlgorithm].
    #[arg(long, env = "SIGNING_ALGORITHM", default_value = authgate_config::DEFAULT_SIGNING_ALGORITHM, value_parser = ["RS256", "ES256", "EdDSA", "HS256"])]
    pub signing_algorithm: String,
}

/// A backend could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("cannot create data directory {path}")]
    DataDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] authgate_users::StoreError),
    #[error(transparent)]
    Keys(#[from] authgate_keys::KeySourceError),
    #[error("DynamoDB table {table} is not usable")]
    Table {
        table: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("cannot create secret {secret}")]
    Secret {
        secret: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// The opened user and session store, and a sentence saying where it is.
pub struct Store {
    pub store: Arc<dyn AccountStore>,
    pub description: String,
}

/// The loaded keys, and a sentence saying where they come from.
pub struct Keys {
    /// The keys, reloaded from their source as the Lambdas reload theirs.
    pub ring: Arc<KeyRing>,
    pub description: String,
}

/// SDK configuration, with an endpoint override and local dummy credentials when one is given.
async fn sdk_config(endpoint: Option<&str>) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(authgate_runtime::aws_timeouts());
    if let Some(endpoint) = endpoint {
        loader = loader.endpoint_url(endpoint);
        if std::env::var_os("AWS_ACCESS_KEY_ID").is_none()
            && std::env::var_os("AWS_PROFILE").is_none()
        {
            loader = loader.credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "local",
                "local",
                None,
                None,
                "authgate-local",
            ));
        }
        if std::env::var_os("AWS_REGION").is_none()
            && std::env::var_os("AWS_DEFAULT_REGION").is_none()
        {
            loader = loader.region(aws_config::Region::new("us-east-1"));
        }
    }
    loader.load().await
}

fn boxed(
    e: impl std::error::Error + Send + Sync + 'static,
) -> Box<dyn std::error::Error + Send + Sync> {
    Box::new(e)
}

impl BackendArgs {
    fn ensure_data_dir(&self) -> Result<(), BackendError> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.data_dir)
            .map_err(|source| BackendError::DataDir {
                path: self.data_dir.display().to_string(),
                source,
            })
    }

    /// Opens the user store these flags name.
    pub async fn store(&self) -> Result<Store, BackendError> {
        if self.dynamodb_endpoint.is_none() && self.users_table.is_none() {
            self.ensure_data_dir()?;
            let path = self.data_dir.join("users.redb");
            let store = EmbeddedUserStore::open(&path)?;
            // Password hashes: owner-only, like the key file.
            std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
                .map_err(|source| BackendError::DataDir {
                    path: path.display().to_string(),
                    source,
                })?;
            return Ok(Store {
                store: Arc::new(store),
                description: format!("embedded, {}", path.display()),
            });
        }
        let table = self
            .users_table
            .clone()
            .unwrap_or_else(|| DEFAULT_TABLE.into());
        let client =
            aws_sdk_dynamodb::Client::new(&sdk_config(self.dynamodb_endpoint.as_deref()).await);
        if self.dynamodb_endpoint.is_some() {
            match client.describe_table().table_name(&table).send().await {
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.as_service_error(),
                        Some(DescribeTableError::ResourceNotFoundException(_))
                    ) =>
                {
                    authgate_dynamo::create_table(&client, &table)
                        .await
                        .map_err(|e| BackendError::Table {
                            table: table.clone(),
                            source: boxed(e),
                        })?;
                }
                Err(e) => {
                    return Err(BackendError::Table {
                        table,
                        source: boxed(aws_sdk_dynamodb::Error::from(e)),
                    });
                }
            }
        }
        let description = match &self.dynamodb_endpoint {
            Some(endpoint) => format!("DynamoDB table {table} at {endpoint}"),
            None => format!("DynamoDB table {table}"),
        };
        Ok(Store {
            store: Arc::new(DynamoUserStore::new(client, table)),
            description,
        })
    }

    /// The secret these flags name, and a Secrets Manager client for it.
    async fn secret(&self) -> (String, aws_sdk_secretsmanager::Client) {
        let secret = self
            .signing_secret
            .clone()
            .unwrap_or_else(|| DEFAULT_SECRET.into());
        let client = aws_sdk_secretsmanager::Client::new(
            &sdk_config(self.secrets_endpoint.as_deref()).await,
        );
        (secret, client)
    }

    /// Whether keys come from Secrets Manager rather than the local key file.
    fn uses_secrets_manager(&self) -> bool {
        self.secrets_endpoint.is_some() || self.signing_secret.is_some()
    }

    /// Loads the keys these flags name, creating a local key (or an emulator's secret) if needed.
    pub async fn keys(&self) -> Result<Keys, BackendError> {
        if !self.uses_secrets_manager() {
            self.ensure_data_dir()?;
            let file = KeyFile::new(self.data_dir.join("signing-key.json"))
                .with_algorithm(&self.signing_algorithm);
            let description = format!("local key file {} (mode 600)", file.path().display());
            let ring = KeyRing::load(Arc::new(file), KEYS_MAX_AGE, KEY_RELOAD_MIN_INTERVAL).await?;
            return Ok(Keys {
                ring: Arc::new(ring),
                description,
            });
        }
        let (secret, client) = self.secret().await;
        if self.secrets_endpoint.is_some() {
            self.create_secret_if_missing(&client, &secret).await?;
        }
        let source = SecretsManagerKeySource::new(client, &secret);
        let ring = KeyRing::load(Arc::new(source), KEYS_MAX_AGE, KEY_RELOAD_MIN_INTERVAL).await?;
        let description = match &self.secrets_endpoint {
            Some(endpoint) => format!("secret {secret} at {endpoint}"),
            None => format!("secret {secret}"),
        };
        Ok(Keys {
            ring: Arc::new(ring),
            description,
        })
    }

    /// Loads keys only if they already exist (for `token decode`, which must not create any): the
    /// local key file if present, or the Secrets Manager secret if it exists.
    pub async fn existing_keys(&self) -> Option<KeySet> {
        if !self.uses_secrets_manager() {
            return KeyFile::new(self.data_dir.join("signing-key.json"))
                .read()
                .ok();
        }
        let (secret, client) = self.secret().await;
        SecretsManagerKeySource::new(client, secret)
            .load()
            .await
            .ok()
    }

    async fn create_secret_if_missing(
        &self,
        client: &aws_sdk_secretsmanager::Client,
        secret: &str,
    ) -> Result<(), BackendError> {
        let error = |e: Box<dyn std::error::Error + Send + Sync>| BackendError::Secret {
            secret: secret.to_owned(),
            source: e,
        };
        match client.describe_secret().secret_id(secret).send().await {
            Ok(_) => return Ok(()),
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(DescribeSecretError::ResourceNotFoundException(_))
                ) => {}
            Err(e) => return Err(error(boxed(aws_sdk_secretsmanager::Error::from(e)))),
        }
        let k = authgate_token::new_secret_material(&self.signing_algorithm)
            .map_err(|e| error(boxed(e)))?;
        let value = serde_json::json!({"alg": self.signing_algorithm, "k": k});
        client
            .create_secret()
            .name(secret)
            .secret_string(value.to_string())
            .send()
            .await
            .map_err(|e| error(boxed(aws_sdk_secretsmanager::Error::from(e))))?;
        Ok(())
    }
}
