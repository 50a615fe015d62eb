//! Lambda entry point of the signing-key rotation (invoked by Secrets Manager) and of the stack's
//! `Custom::SigningKeys` resource (invoked by CloudFormation): wiring only.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    authgate_runtime::event_function::<serde_json::Value, _, _>(async |env, aws| {
        rotate_key::build(env, aws.sdk()).await
    })
    .await
}
