//! Lambda entry point of the user administration routes (`/users`, `/users/{id}`): wiring only.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    authgate_runtime::http_function(async |env, aws| users::build(env, aws).await).await
}
