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
//! CPU-bound step (Argon2id) already runs on the blocking pool.

use std::sync::Arc;

use async_trait::async_trait;
use authgate_config::{
    AuthzSettings, ConfigError, KEY_RELOAD_MIN_INTERVAL, KEYS_MAX_AGE, PUBLIC_KEYS_SECRET_ID,
    SIGNING_KEY_SECRET_ID, SessionSettings, TokenSettings, USERS_TABLE,
};
use authgate_dynamo::DynamoUserStore;
use authgate_http::HttpHandler;
use authgate_keys::{
    KeyRing, KeySource, KeySourceError, PublishedKeySource, RingIssuer, SecretsManagerKeySource,
};
pub use authgate_mail::{Mail, MailError, Mailer, RecordingMailer, SesMailer};

mod logging;
mod mail;
mod passwords;
use authgate_oidc::OidcError;
use authgate_token::{IssuedToken, SignError, Subject, TokenIssuer};
use authgate_users::{
    ActionTokenStore, RefreshToken, RoleMap, Session, SessionStore, StoreError, ThrottleStore,
    User, UserStore, now_ms,
};
pub use logging::{LOG_UPTIME, init_logging};
pub use mail::{AccountMail, RedeemError};
pub use passwords::NewPasswords;

pub use authgate_config::Env;
pub use aws_config::SdkConfig;

/// A store of users, their sessions, the throttles' counters and the one-time tokens (every
/// backend implements all four on the same data).
pub trait AccountStore: UserStore + SessionStore + ThrottleStore + ActionTokenStore {}
impl<T: UserStore + SessionStore + ThrottleStore + ActionTokenStore + ?Sized> AccountStore for T {}

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
    /// The same store, seen only as sessions: for a function that only asks whether a session
    /// lives (the authorizer). A backend whose store is built here overrides it, so that such a
    /// function's binary links only the reads it asks for, not every operation of the store.
    fn sessions(&self, env: &Env) -> Result<Arc<dyn SessionStore>, InitError> {
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
        let table = env.required(USERS_TABLE)?;
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

    fn sessions(&self, env: &Env) -> Result<Arc<dyn SessionStore>, InitError> {
        Ok(Arc::new(self.dynamo(env)?))
    }

    async fn keys(&self, env: &Env) -> Result<Arc<KeyRing>, InitError> {
        let source = SecretsManagerKeySource::new(
            aws_sdk_secretsmanager::Client::new(&self.secrets_manager),
            env.required(SIGNING_KEY_SECRET_ID)?,
        );
        ring(source).await
    }

    /// The published public keys when `PUBLIC_KEYS_SECRET_ID` is set (the template sets it for
    /// asymmetric algorithms, and grants no access to the signing secret then); otherwise the
    /// signing secret, which an HS256 verifier must read.
    async fn verifying_keys(&self, env: &Env) -> Result<Arc<KeyRing>, InitError> {
        let client = aws_sdk_secretsmanager::Client::new(&self.secrets_manager);
        match env.optional(PUBLIC_KEYS_SECRET_ID) {
            Some(public) => ring(PublishedKeySource::new(client, public)).await,
            None => self.keys(env).await,
        }
    }

    /// Amazon SES (API v2) from the `MAIL_FROM` identity.
    fn mailer(&self, env: &Env) -> Result<Arc<dyn Mailer>, InitError> {
        Ok(Arc::new(SesMailer::new(
            aws_sdk_sesv2::Client::new(&self.ses),
            env.optional(authgate_config::MAIL_FROM),
        )))
    }
}

async fn ring(source: impl KeySource + 'static) -> Result<Arc<KeyRing>, InitError> {
    let ring = KeyRing::load(Arc::new(source), KEYS_MAX_AGE, KEY_RELOAD_MIN_INTERVAL).await?;
    Ok(Arc::new(ring))
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

/// What a user's access token says, decided in one place for every function that issues one:
/// the user's id, email, roles, the permissions the roles grant (as `env`'s role definitions
/// say) and custom claims, signed with `backend`'s keys as they are reloaded.
pub struct UserTokens {
    issuer: RingIssuer,
    roles: RoleMap,
    requires_verified_email: bool,
}

/// The user's address is unverified and tokens need a verified one
/// (`LOGIN_REQUIRES_VERIFIED_EMAIL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the user's email address is not verified")]
pub struct EmailNotVerified;

impl UserTokens {
    /// From `env`'s token and role settings and `backend`'s keys.
    pub async fn build(env: &Env, backend: &dyn Backend) -> Result<Self, InitError> {
        let tokens = TokenSettings::from_env(env)?;
        let roles = AuthzSettings::from_env(env)?.roles;
        let requires_verified_email =
            authgate_config::MailSettings::from_env(env)?.login_requires_verified_email;
        let keys = backend.keys(env).await?;
        let issuer = TokenIssuer::new(
            keys.current(),
            tokens.issuer,
            tokens.audience,
            tokens.access_ttl,
        )?;
        Ok(Self {
            issuer: RingIssuer::new(issuer, keys),
            roles,
            requires_verified_email,
        })
    }

    /// Whether `user` may be given tokens now, by login or by refresh: with
    /// `LOGIN_REQUIRES_VERIFIED_EMAIL`, only while their address is verified (an email change
    /// makes it unverified until the new address is).
    pub fn may_receive(&self, user: &User) -> Result<(), EmailNotVerified> {
        if self.requires_verified_email && !user.email_verified {
            Err(EmailNotVerified)
        } else {
            Ok(())
        }
    }

    /// A fresh access token for `user` in `session`, with what the user is now: a role no
    /// longer defined is neither named nor grants anything.
    pub async fn issue(&self, user: &User, session: &Session) -> Result<IssuedToken, SignError> {
        let (id, sid) = (user.id.to_string(), session.id.to_string());
        self.issuer.current().await?.issue(&Subject {
            id: &id,
            email: user.email.as_str(),
            email_verified: user.email_verified,
            session: &sid,
            roles: user
                .roles
                .iter()
                .filter(|role| self.roles.defines(role))
                .cloned()
                .collect(),
            permissions: self.roles.permissions(&user.roles).into_iter().collect(),
            claims: user.claims.as_map().clone(),
        })
    }
}

/// A changed user, and when their sessions were ended if the change ended them.
#[derive(Debug)]
pub struct Changed {
    pub user: User,
    /// Whether the address changed (it is unverified now, and wants a verification mail).
    pub email_changed: bool,
    /// Whether the change ended every session of the user (the user's
    /// `sessions_valid_after_ms` is the cut-off then).
    pub sessions_ended: bool,
}

/// Applies `changes` to a user, the one way the admin API, `PATCH /users/me`, a password reset and
/// the command line change users: a user who is disabled, given a new password, or loses a role
/// or a custom claim loses every session in the same write (tokens issued before must not keep
/// what was taken away), and a new address is unverified until verified.
pub async fn change_user(
    store: &dyn AccountStore,
    id: authgate_users::UserId,
    mut changes: authgate_users::UserChanges,
) -> Result<Changed, StoreError> {
    let mut sessions_ended = changes.disabled == Some(true) || changes.password_hash.is_some();
    let mut email_changed = false;
    if changes.email.is_some() || changes.roles.is_some() || changes.claims.is_some() {
        let current = store.get_by_id(id).await?.ok_or(StoreError::NotFound)?;
        if changes.email.as_ref().is_some_and(|e| *e != current.email) {
            email_changed = true;
            changes.email_verified = Some(false);
        }
        let roles_taken = changes
            .roles
            .as_ref()
            .is_some_and(|roles| !current.roles.is_subset(roles));
        let claims_taken = changes.claims.as_ref().is_some_and(|claims| {
            current
                .claims
                .as_map()
                .iter()
                .any(|(name, value)| claims.as_map().get(name) != Some(value))
        });
        sessions_ended |= roles_taken || claims_taken;
    }
    if sessions_ended {
        changes.end_sessions_at_ms = Some(now_ms());
    }
    let user = store.update(id, changes).await?;
    Ok(Changed {
        user,
        email_changed,
        sessions_ended,
    })
}

/// Opening a session, the one way login and a password change do it: a new session of the
/// configured lifetime and its first refresh token (stored only as a hash). It holds no keys:
/// a password change opens a session whose first access token comes from `/auth/refresh`, so
/// only login and refresh hold signing material.
pub struct Sessions {
    store: Arc<dyn AccountStore>,
    settings: SessionSettings,
}

impl Sessions {
    /// From `env`'s session settings and `backend`'s store.
    pub fn build(env: &Env, backend: &dyn Backend) -> Result<Self, InitError> {
        Ok(Self {
            store: backend.store(env)?,
            settings: SessionSettings::from_env(env)?,
        })
    }

    /// A new session for `user` as it was read at `read_at_ms`, and its first refresh token. The
    /// session counts as created then (or just after the user's cut-off, whichever is later), and
    /// the store starts it only if the user is still as read: a password change, disable or
    /// logout-all that lands after the read ends it before it begins (`StoreError::Changed`).
    pub async fn open(
        &self,
        user: &User,
        read_at_ms: i64,
    ) -> Result<(Session, RefreshToken), StoreError> {
        let created = read_at_ms.max(user.sessions_valid_after_ms.saturating_add(1));
        let lifetime = i64::try_from(self.settings.max_lifetime.as_millis()).unwrap_or(i64::MAX);
        let session = Session {
            id: uuid::Uuid::new_v4(),
            user_id: user.id,
            created_at_ms: created,
            expires_at_ms: created.saturating_add(lifetime),
            revoked: false,
        };
        let refresh = RefreshToken::generate();
        let refresh_expires = now_ms()
            .saturating_add(self.settings.rotation_policy().refresh_ttl_ms)
            .min(session.expires_at_ms);
        self.store
            .start(&session, &refresh.hash(), refresh_expires, user)
            .await?;
        tracing::info!(user_id = %user.id, sid = %session.id, "session started");
        Ok((session, refresh))
    }
}

/// Starting a session with tokens, as login does: [`Sessions`] and its first access token.
pub struct SessionStarter {
    sessions: Sessions,
    tokens: UserTokens,
}

/// A session could not be started.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("the session could not be stored")]
    Store(#[from] StoreError),
    #[error("the access token could not be signed")]
    Sign(#[from] SignError),
}

impl SessionStarter {
    /// From `env`'s token, role and session settings and `backend`'s store and keys.
    pub async fn build(env: &Env, backend: &dyn Backend) -> Result<Self, InitError> {
        Ok(Self {
            sessions: Sessions::build(env, backend)?,
            tokens: UserTokens::build(env, backend).await?,
        })
    }

    /// Whether `user` may be given tokens now ([`UserTokens::may_receive`]).
    pub fn may_receive(&self, user: &User) -> Result<(), EmailNotVerified> {
        self.tokens.may_receive(user)
    }

    /// A new session for `user` as read at `read_at_ms` (see [`Sessions::open`]): its access
    /// token and its first refresh token.
    pub async fn start(
        &self,
        user: &User,
        read_at_ms: i64,
    ) -> Result<(IssuedToken, RefreshToken), StartError> {
        let (session, refresh) = self.sessions.open(user, read_at_ms).await?;
        let issued = self.tokens.issue(user, &session).await?;
        tracing::info!(user_id = %user.id, sid = %session.id, jti = %issued.claims.jti, "access token issued");
        Ok((issued, refresh))
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
        tracing::error!(error = %authgate_config::error_chain(e), "init failed");
    })
}
