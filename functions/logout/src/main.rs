//! Lambda entry point of `POST /auth/logout` and `POST /auth/logout-all`: wiring only.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    authgate_runtime::http_function(async |env, aws| logout::build(env, aws).await).await
}
