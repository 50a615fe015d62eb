//! Lambda entry point of the TOKEN authorizer: wiring only. Keys are fetched once, here;
//! per uncached request it makes one DynamoDB read, of the token's session.

use std::sync::Arc;

use authgate_config::{
    Env, KEY_RELOAD_MIN_INTERVAL, KEYS_MAX_AGE, SIGNING_KEY_SECRET_ID, TokenSettings, USERS_TABLE,
};
use authgate_dynamo::DynamoUserStore;
use authgate_keys::{KeyRing, SecretsManagerKeySource};
use authgate_oidc::{FetchPolicy, OutsideIssuers, check_not_own, parse_trusted_issuers};
use authgate_token::TokenVerifier;
use authorizer::Authorizer;
use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequest;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let env = Env::process();
    let secret_id = env.required(SIGNING_KEY_SECRET_ID)?;
    let table = env.required(USERS_TABLE)?;
    let settings = TokenSettings::from_env(&env)?;
    let aws = authgate_config::aws_sdk_config().await;
    let source = SecretsManagerKeySource::new(aws_sdk_secretsmanager::Client::new(&aws), secret_id);
    let ring =
        Arc::new(KeyRing::load(Arc::new(source), KEYS_MAX_AGE, KEY_RELOAD_MIN_INTERVAL).await?);
    let sessions = DynamoUserStore::new(aws_sdk_dynamodb::Client::new(&aws), table);
    let trusted = parse_trusted_issuers(&env.optional("TRUSTED_ISSUERS").unwrap_or_default())?;
    check_not_own(&trusted, &settings.issuer)?;
    let outside = Arc::new(OutsideIssuers::new(trusted, FetchPolicy::default())?);
    let authorizer = Arc::new(
        Authorizer::new(
            TokenVerifier::new(ring.current(), settings.verifier_config()),
            Arc::new(sessions),
        )
        .with_key_ring(ring)
        .with_outside_issuers(outside),
    );
    run(service_fn(
        move |event: LambdaEvent<ApiGatewayCustomAuthorizerRequest>| {
            let authorizer = Arc::clone(&authorizer);
            async move { authorizer.handle(&event.payload).await }
        },
    ))
    .await
}
