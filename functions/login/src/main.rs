//! Lambda entry point of `POST /auth/login`: wiring only. Keys are fetched here, at init, and
//! refreshed every few minutes to follow rotations.

use std::sync::Arc;

use authgate_config::{
    Env, KEY_RELOAD_MIN_INTERVAL, KEYS_MAX_AGE, SIGNING_KEY_SECRET_ID, SessionSettings,
    TokenSettings, USERS_TABLE,
};
use authgate_dynamo::DynamoUserStore;
use authgate_keys::{KeyRing, SecretsManagerKeySource};
use authgate_token::TokenIssuer;
use authgate_users::PasswordHasher;
use lambda_http::{Error, Request, run, service_fn};
use login::Login;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let env = Env::process();
    let table = env.required(USERS_TABLE)?;
    let secret_id = env.required(SIGNING_KEY_SECRET_ID)?;
    let settings = TokenSettings::from_env(&env)?;
    let sessions = SessionSettings::from_env(&env)?;

    let aws = authgate_config::aws_sdk_config().await;
    let store = Arc::new(DynamoUserStore::new(
        aws_sdk_dynamodb::Client::new(&aws),
        table,
    ));
    let source = SecretsManagerKeySource::new(aws_sdk_secretsmanager::Client::new(&aws), secret_id);
    let ring =
        Arc::new(KeyRing::load(Arc::new(source), KEYS_MAX_AGE, KEY_RELOAD_MIN_INTERVAL).await?);
    let issuer = TokenIssuer::new(
        ring.current(),
        settings.issuer,
        settings.audience,
        settings.access_ttl,
    )?;
    let handler = Arc::new(
        Login::new(
            store.clone(),
            store,
            PasswordHasher::new(),
            issuer,
            sessions,
        )
        .with_key_ring(ring),
    );
    run(service_fn(move |request: Request| {
        let handler = Arc::clone(&handler);
        async move { Ok::<_, std::convert::Infallible>(handler.handle(request).await) }
    }))
    .await
}
