//! Lambda entry point of the signing-key rotation, invoked by Secrets Manager: wiring only.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    authgate_runtime::event_function(async |env, aws| rotate_key::build(env, aws.sdk()).await).await
}
