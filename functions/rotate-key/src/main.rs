//! Lambda entry point of the signing-key rotation, invoked by Secrets Manager: wiring only.

use aws_lambda_events::secretsmanager::SecretsManagerSecretRotationEvent;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let aws = authgate_config::aws_sdk_config().await;
    let client = aws_sdk_secretsmanager::Client::new(&aws);
    run(service_fn(move |event: LambdaEvent<SecretsManagerSecretRotationEvent>| {
        let client = client.clone();
        async move {
            tracing::info!(step = %event.payload.step, version = %event.payload.client_request_token, "rotation step");
            rotate_key::rotate(&client, &event.payload).await
        }
    }))
    .await
}
