//! The smallest Rust Lambda on the same runtime crate (`lambda_runtime`) and release profile as
//! authgate's functions: it answers every event with the event. The floor `scripts/coldstart`
//! measures authgate's cold starts and memory against.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(lambda_runtime::service_fn(
        async |event: lambda_runtime::LambdaEvent<serde_json::Value>| {
            Ok::<_, lambda_runtime::Error>(event.payload)
        },
    ))
    .await
}
