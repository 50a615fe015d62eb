//! Lambda entry point of the JWKS and OIDC discovery routes: wiring only.

use std::sync::Arc;

use authgate_config::{
    Env, KEY_RELOAD_MIN_INTERVAL, KEYS_MAX_AGE, SIGNING_KEY_SECRET_ID, TokenSettings,
};
use authgate_keys::{KeyRing, SecretsManagerKeySource};
use discovery::Discovery;
use lambda_http::{Error, Request, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let env = Env::process();
    let secret_id = env.required(SIGNING_KEY_SECRET_ID)?;
    let tokens = TokenSettings::from_env(&env)?;
    let aws = authgate_config::aws_sdk_config().await;
    let source = SecretsManagerKeySource::new(aws_sdk_secretsmanager::Client::new(&aws), secret_id);
    let ring =
        Arc::new(KeyRing::load(Arc::new(source), KEYS_MAX_AGE, KEY_RELOAD_MIN_INTERVAL).await?);
    let handler = Arc::new(Discovery::new(ring, tokens.issuer));
    run(service_fn(move |request: Request| {
        let handler = Arc::clone(&handler);
        async move { Ok::<_, std::convert::Infallible>(handler.handle(request).await) }
    }))
    .await
}
