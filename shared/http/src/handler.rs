//! The shape of an API function: a request in, a response out, every error turned into its
//! status and `{"detail"}` body in one place.

use async_trait::async_trait;
use lambda_http::{Body, Request, Response};

use crate::ApiError;

/// Anything that answers API Gateway requests; what the Lambda runtime and the local gateway run.
#[async_trait]
pub trait HttpHandler: Send + Sync {
    /// Handles one request; every outcome is a response.
    async fn handle(&self, request: Request) -> Response<Body>;
}

/// An API function written as a fallible step; [`HttpHandler`] turns its errors into responses.
#[async_trait]
pub trait Endpoint: Send + Sync {
    /// Everything that can stop a request, each mapped to one [`ApiError`].
    type Error: Into<ApiError> + Send;
    /// Answers one request.
    async fn respond(&self, request: Request) -> Result<Response<Body>, Self::Error>;
}

#[async_trait]
impl<T: Endpoint> HttpHandler for T {
    async fn handle(&self, request: Request) -> Response<Body> {
        match self.respond(request).await {
            Ok(response) => response,
            Err(error) => error.into().into_response(),
        }
    }
}
