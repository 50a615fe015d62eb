//! Lambda entry point of the account recovery routes (forgot and reset password, request and
//! confirm verification): wiring only.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    authgate_runtime::http_function(async |env, aws| recovery::build(env, aws).await).await
}
