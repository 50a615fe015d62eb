//! Lambda entry point of the TOKEN authorizer: wiring only.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    authgate_runtime::event_function(async |env, aws| authorizer::build(env, aws).await).await
}
