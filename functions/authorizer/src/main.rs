//! Lambda entry point of the authorizer (REST TOKEN and REQUEST, HTTP API 1.0 and 2.0): wiring only.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    authgate_runtime::event_function::<authorizer::Event, _, _>(async |env, aws| {
        authorizer::build(env, aws).await
    })
    .await
}
