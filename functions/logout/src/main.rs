//! Lambda entry point of `POST /auth/logout` and `POST /auth/logout-all`: wiring only.

use std::sync::Arc;

use authgate_config::{Env, USERS_TABLE};
use authgate_dynamo::DynamoUserStore;
use lambda_http::{Error, Request, run, service_fn};
use logout::Logout;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let table = Env::process().required(USERS_TABLE)?;
    let aws = authgate_config::aws_sdk_config().await;
    let store = DynamoUserStore::new(aws_sdk_dynamodb::Client::new(&aws), table);
    let handler = Arc::new(Logout::new(Arc::new(store)));
    run(service_fn(move |request: Request| {
        let handler = Arc::clone(&handler);
        async move { Ok::<_, std::convert::Infallible>(handler.handle(request).await) }
    }))
    .await
}
