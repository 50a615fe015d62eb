//! Lambda entry point of `POST /auth/register`: wiring only.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    authgate_runtime::http_function(async |env, aws| register::build(env, aws).await).await
}
