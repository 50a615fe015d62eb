//! Lambda entry point of the JWKS and OIDC discovery routes: wiring only.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    authgate_runtime::http_function(async |env, aws| discovery::build(env, aws).await).await
}
