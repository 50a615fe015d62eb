//! How a function is built and run.
//!
//! Every function crate has one constructor, `build(&Env, &dyn Backend)`. Its Lambda `main.rs`
//! calls it through [`http_function`] or [`event_function`] with an [`AwsBackend`] (DynamoDB and
//! Secrets Manager from the SDK configuration); `authgate serve` and the tests call the same
//! constructor with [`Resources`], a store and a key ring already in hand. What differs between
//! the three is only where users and keys live, never how a handler is put together.
//!
//! Each Lambda `main.rs` runs on tokio's current-thread runtime: an execution environment gets
//! one event at a time, so worker threads would only add start-up time and memory, and the one
//! CPU-bound step (Argon2id) already runs on threads of its own.
//!
//! The account services the functions call (tokens, sessions, user changes, mail, new
//! passwords) are `authgate_accounts`'; this crate holds only the wiring.

use std::sync::Arc;

use async_trait::async_trait;
use authgate_config::{
    ConfigError, PUBLIC_KEYS_SECRET_ID, SIGNING_KEY_SECRET_ID, TokenSettings, USERS_TABLE,
};
use authgate_dynamo::DynamoUserStore;
use authgate_http::HttpHandler;
use authgate_keys::{
    KEY_RELOAD_MIN_INTERVAL, KEYS_MAX_AGE, KeyRing, KeySource, KeySourceError, PublishedKeySource,
    SecretsManagerKeySource,
};
pub use authgate_mail::{Mail, MailError, Mailer, RecordingMailer, SesMailer};

mod logging;
use authgate_oidc::OidcError;
use authgate_token::SignError;
use authgate_users::{
    ActionTokenStore, ClientStore, SessionStore, ThrottleStore, TokenChecks, UserStore,
};
pub use logging::{LOG_UPTIME, init_logging};

pub use authgate_config::Env;
pub use aws_config::SdkConfig;

/// A store of users, their sessions, the throttles' counters, the one-time tokens and the OAuth
/// clients (every backend implements all five on the same data).
pub trait AccountStore:
    UserStore + SessionStore + ThrottleStore + ActionTokenStore + ClientStore + TokenChecks
{
}
impl<
    T: UserStore
        + SessionStore
        + ThrottleStore
        + ActionTokenStore
        + ClientStore
        + TokenChecks
        + ?Sized,
> AccountStore for T
{
}

/// Why a function could not be built. The init phase fails with it, so a misconfigured function
/// never answers a request.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("signing keys could not be loaded")]
    Keys(#[from] KeySourceError),
    #[error("the signing keys cannot sign")]
    Signing(#[from] SignError),
    #[error(transparent)]
    TrustedIssuers(#[from] OidcError),
    #[error("the HTTP client could not be built")]
    Http(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Where a function's users and keys live. A function asks only for what it uses, so it needs
/// only the settings and permissions for that.
#[async_trait]
pub trait Backend: Send + Sync {
    /// The user and session store.
    fn store(&self, env: &Env) -> Result<Arc<dyn AccountStore>, InitError>;
    /// The same store, seen only as token checks: for a function that only asks whether a
    /// token's holder may still act (the authorizer). A backend whose store is built here
    /// overrides it, so that such a function's binary links only the reads it asks for, not
    /// every operation of the store.
    fn token_checks(&self, env: &Env) -> Result<Arc<dyn TokenChecks>, InitError> {
        Ok(self.store(env)?)
    }
    /// The signing and verification keys, loaded now and reloaded as they age: for the
    /// functions that sign (login, refresh).
    async fn keys(&self, env: &Env) -> Result<Arc<KeyRing>, InitError>;
    /// The keys a function that only verifies may hold: the public halves of asymmetric keys,
    /// or the key itself when tokens are signed with a symmetric (HMAC) key.
    async fn verifying_keys(&self, env: &Env) -> Result<Arc<KeyRing>, InitError>;
    /// Where account mail goes.
    fn mailer(&self, env: &Env) -> Result<Arc<dyn Mailer>, InitError>;
}

/// How long one attempt at an AWS call may take before the SDK gives up on it (and retries, with
/// its standard backoff, while the operation's time lasts).
pub const AWS_ATTEMPT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);
/// How long one AWS call may take in all, retries included: a stalled DynamoDB is answered with a
/// 503 well inside a function's 10-second timeout, not with API Gateway's bare 5xx after it.
pub const AWS_OPERATION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(4);
/// How long connecting to an AWS endpoint may take.
pub const AWS_CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

/// The time limits of every AWS call authgate makes: the deployed functions' and `authgate
/// serve`'s alike.
pub fn aws_timeouts() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(AWS_CONNECT_TIMEOUT)
        .operation_attempt_timeout(AWS_ATTEMPT_TIMEOUT)
        .operation_timeout(AWS_OPERATION_TIMEOUT)
        .build()
}

/// The deployed backend: the table named by `USERS_TABLE`, the signing secret named by
/// `SIGNING_KEY_SECRET_ID` and the published public keys named by `PUBLIC_KEYS_SECRET_ID`,
/// through the AWS SDK (whose standard variables, such as `AWS_ENDPOINT_URL_DYNAMODB`, can point
/// it at an emulator).
#[derive(Debug, Clone)]
pub struct AwsBackend {
    dynamodb: SdkConfig,
    secrets_manager: SdkConfig,
    ses: SdkConfig,
}

impl AwsBackend {
    /// The SDK configuration from the standard chain (region, credentials, endpoint overrides),
    /// with [`aws_timeouts`].
    pub async fn from_environment() -> Self {
        Self::new(
            aws_config::defaults(aws_config::BehaviorVersion::latest())
                .timeout_config(aws_timeouts())
                .load()
                .await,
        )
    }

    /// A backend on `sdk`.
    pub fn new(sdk: SdkConfig) -> Self {
        Self::per_service(sdk.clone(), sdk)
    }

    /// A backend whose DynamoDB and Secrets Manager clients have configurations of their own (as
    /// `AWS_ENDPOINT_URL_DYNAMODB` and `AWS_ENDPOINT_URL_SECRETS_MANAGER` give them in Lambda).
    pub fn per_service(dynamodb: SdkConfig, secrets_manager: SdkConfig) -> Self {
        Self {
            dynamodb,
            ses: secrets_manager.clone(),
            secrets_manager,
        }
    }

    /// The same backend, sending mail through SES with a configuration of its own.
    pub fn with_ses(mut self, ses: SdkConfig) -> Self {
        self.ses = ses;
        self
    }

    /// The table named by `USERS_TABLE`.
    fn dynamo(&self, env: &Env) -> Result<DynamoUserStore, InitError> {
        let table = env.required_setting(&USERS_TABLE)?;
        Ok(DynamoUserStore::new(
            aws_sdk_dynamodb::Client::new(&self.dynamodb),
            table,
        ))
    }

    /// The SDK configuration, for functions that talk to Secrets Manager beyond loading keys.
    pub fn sdk(&self) -> &SdkConfig {
        &self.secrets_manager
    }
}

#[async_trait]
impl Backend for AwsBackend {
    fn store(&self, env: &Env) -> Result<Arc<dyn AccountStore>, InitError> {
        Ok(Arc::new(self.dynamo(env)?))
    }

    fn token_checks(&self, env: &Env) -> Result<Arc<dyn TokenChecks>, InitError> {
        Ok(Arc::new(self.dynamo(env)?))
    }

    async fn keys(&self, env: &Env) -> Result<Arc<KeyRing>, InitError> {
        let source = SecretsManagerKeySource::new(
            aws_sdk_secretsmanager::Client::new(&self.secrets_manager),
            env.required_setting(&SIGNING_KEY_SECRET_ID)?,
        );
        ring(source).await
    }

    /// The published public keys when `PUBLIC_KEYS_SECRET_ID` is set (the template sets it for
    /// asymmetric algorithms, and grants no access to the signing secret then); otherwise the
    /// signing secret, which an HS256 verifier must read.
    async fn verifying_keys(&self, env: &Env) -> Result<Arc<KeyRing>, InitError> {
        let client = aws_sdk_secretsmanager::Client::new(&self.secrets_manager);
        match env.setting(&PUBLIC_KEYS_SECRET_ID)? {
            Some(public) => ring(PublishedKeySource::new(client, public)).await,
            None => self.keys(env).await,
        }
    }

    /// Amazon SES (API v2) from the `MAIL_FROM` identity.
    fn mailer(&self, env: &Env) -> Result<Arc<dyn Mailer>, InitError> {
        Ok(Arc::new(SesMailer::new(
            aws_sdk_sesv2::Client::new(&self.ses),
            env.setting(&authgate_config::MAIL_FROM)?,
        )))
    }
}

async fn ring(source: impl KeySource + 'static) -> Result<Arc<KeyRing>, InitError> {
    let ring = KeyRing::load(Arc::new(source), KEYS_MAX_AGE, KEY_RELOAD_MIN_INTERVAL).await?;
    Ok(Arc::new(ring))
}

/// `backend` with its signing keys loaded once: a function that builds several services, each
/// asking for the keys, reads the signing secret once at a cold start, not once per service.
pub struct KeysOnce<'a> {
    backend: &'a dyn Backend,
    keys: Arc<KeyRing>,
}

impl<'a> KeysOnce<'a> {
    /// Loads `backend`'s signing keys for `env`.
    pub async fn load(env: &Env, backend: &'a dyn Backend) -> Result<Self, InitError> {
        Ok(Self {
            keys: backend.keys(env).await?,
            backend,
        })
    }
}

#[async_trait]
impl Backend for KeysOnce<'_> {
    fn store(&self, env: &Env) -> Result<Arc<dyn AccountStore>, InitError> {
        self.backend.store(env)
    }

    fn token_checks(&self, env: &Env) -> Result<Arc<dyn TokenChecks>, InitError> {
        self.backend.token_checks(env)
    }

    async fn keys(&self, _: &Env) -> Result<Arc<KeyRing>, InitError> {
        Ok(Arc::clone(&self.keys))
    }

    async fn verifying_keys(&self, _: &Env) -> Result<Arc<KeyRing>, InitError> {
        Ok(Arc::clone(&self.keys))
    }

    fn mailer(&self, env: &Env) -> Result<Arc<dyn Mailer>, InitError> {
        self.backend.mailer(env)
    }
}

/// A store and keys already opened: what `authgate serve` and the tests build functions on.
#[derive(Clone)]
pub struct Resources {
    /// Users and sessions.
    pub store: Arc<dyn AccountStore>,
    /// Signing and verification keys.
    pub keys: Arc<KeyRing>,
    /// Account mail (a [`RecordingMailer`] unless [`Resources::with_mailer`] says otherwise).
    pub mailer: Arc<dyn Mailer>,
}

impl Resources {
    /// Functions built on these share `store` and `keys`; mail is recorded, not sent.
    pub fn new(store: Arc<dyn AccountStore>, keys: Arc<KeyRing>) -> Self {
        Self {
            store,
            keys,
            mailer: Arc::new(RecordingMailer::new()),
        }
    }

    /// The same resources, sending account mail through `mailer`.
    pub fn with_mailer(mut self, mailer: Arc<dyn Mailer>) -> Self {
        self.mailer = mailer;
        self
    }
}

#[async_trait]
impl Backend for Resources {
    fn store(&self, _: &Env) -> Result<Arc<dyn AccountStore>, InitError> {
        Ok(Arc::clone(&self.store))
    }

    async fn keys(&self, _: &Env) -> Result<Arc<KeyRing>, InitError> {
        Ok(Arc::clone(&self.keys))
    }

    /// The public halves of `keys`, as a deployed verifier holds them.
    async fn verifying_keys(&self, _: &Env) -> Result<Arc<KeyRing>, InitError> {
        Ok(Arc::new(self.keys.public_halves().await?))
    }

    fn mailer(&self, _: &Env) -> Result<Arc<dyn Mailer>, InitError> {
        Ok(Arc::clone(&self.mailer))
    }
}

/// A function invoked with events of type `E` rather than HTTP requests (the authorizer, the
/// key rotation).
#[async_trait]
pub trait EventHandler<E: Send + 'static>: Send + Sync {
    /// What Lambda returns to the caller.
    type Output: serde::Serialize + Send;
    /// The error Lambda records.
    type Error: Into<lambda_runtime::Diagnostic> + std::fmt::Debug + Send;
    /// Handles one event.
    async fn handle(&self, event: E) -> Result<Self::Output, Self::Error>;
}

/// The leeway `env`'s tokens are verified with, for the claims helpers of each request (the
/// default when the token settings are not given or not valid: the authorizer refuses to start
/// on invalid ones).
pub fn claims_leeway(env: &Env) -> authgate_http::ClaimsLeeway {
    authgate_http::ClaimsLeeway(
        TokenSettings::from_env(env).map_or(authgate_token::DEFAULT_LEEWAY_SECS, |t| t.leeway_secs),
    )
}

/// Builds an API function with `build` on the AWS backend and serves API Gateway's requests,
/// each carrying the deployment's [`claims_leeway`].
pub async fn http_function<H, B>(build: B) -> Result<(), lambda_http::Error>
where
    H: HttpHandler + 'static,
    B: AsyncFnOnce(&Env, &AwsBackend) -> Result<H, InitError>,
{
    init_logging();
    let env = Env::process();
    let handler = Arc::new(init(&env, build).await?);
    let leeway = claims_leeway(&env);
    lambda_http::run(lambda_http::service_fn(
        move |mut request: lambda_http::Request| {
            let handler = Arc::clone(&handler);
            request.extensions_mut().insert(leeway);
            async move { Ok::<_, std::convert::Infallible>(handler.handle(request).await) }
        },
    ))
    .await
}

/// Builds an event function with `build` on the AWS backend and serves its events.
pub async fn event_function<E, H, B>(build: B) -> Result<(), lambda_runtime::Error>
where
    E: serde::de::DeserializeOwned + Send + 'static,
    H: EventHandler<E> + 'static,
    B: AsyncFnOnce(&Env, &AwsBackend) -> Result<H, InitError>,
{
    init_logging();
    let handler = Arc::new(init(&Env::process(), build).await?);
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<E>| {
            let handler = Arc::clone(&handler);
            async move { handler.handle(event.payload).await }
        },
    ))
    .await
}

/// Runs `build` on `env` and the AWS backend, logging a failure with its causes.
async fn init<H, B>(env: &Env, build: B) -> Result<H, InitError>
where
    B: AsyncFnOnce(&Env, &AwsBackend) -> Result<H, InitError>,
{
    let backend = AwsBackend::from_environment().await;
    build(env, &backend).await.inspect_err(|e| {
        tracing::error!(error = %authgate_http::error_chain(e), "init failed");
    })
}
