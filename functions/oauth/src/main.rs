//! Lambda entry point of the OAuth 2 endpoints (`POST /oauth2/token`): wiring only.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    authgate_runtime::http_function(async |env, aws| oauth::build(env, aws).await).await
}
