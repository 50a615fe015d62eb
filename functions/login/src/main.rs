//! Lambda entry point of `POST /auth/login`: wiring only.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    authgate_runtime::http_function(async |env, aws| login::build(env, aws).await).await
}
