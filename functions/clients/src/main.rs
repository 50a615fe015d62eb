//! Lambda entry point of the OAuth client administration routes (`/clients`): wiring only.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    authgate_runtime::http_function(async |env, aws| clients::build(env, aws).await).await
}
