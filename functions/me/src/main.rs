//! Lambda entry point of `GET /users/me`: wiring only.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    authgate_runtime::http_function(async |env, aws| me::build(env, aws).await).await
}
