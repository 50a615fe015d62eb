//! Errors as HTTP responses.

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use serde::Serialize;

/// An error a client sees. Each variant is one status; the message is the `detail`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    Conflict(String),
    #[error("request body must be at most {max} bytes")]
    PayloadTooLarge { max: usize },
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    Unprocessable(String),
    /// A throttle's answer: 429 with `Retry-After` (RFC 6585 §4).
    #[error("{detail}")]
    TooManyRequests {
        detail: String,
        retry_after_secs: u64,
    },
    /// Anything the client did not cause. The source is logged, never sent.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// An invalid email in a request is a 422 naming the field.
impl From<authgate_users::EmailError> for ApiError {
    fn from(err: authgate_users::EmailError) -> Self {
        Self::Unprocessable(format!("email: {err}"))
    }
}

/// An unacceptable password in a request is a 422 naming the field.
impl From<authgate_users::PasswordError> for ApiError {
    fn from(err: authgate_users::PasswordError) -> Self {
        Self::Unprocessable(format!("password: {err}"))
    }
}

/// A throttled request is a 429 whose `Retry-After` says when to try again.
impl From<authgate_users::Throttled> for ApiError {
    fn from(err: authgate_users::Throttled) -> Self {
        Self::TooManyRequests {
            detail: err.to_string(),
            retry_after_secs: err.retry_after_secs(),
        }
    }
}

/// Every denial of the one access rule is a 401: the token was genuine, but whom it names may
/// not act (FastAPI Users answers an inactive user the same way).
impl From<authgate_users::Denied> for ApiError {
    fn from(denied: authgate_users::Denied) -> Self {
        match denied {
            authgate_users::Denied::DisabledUser => Self::Unauthorized(crate::INACTIVE_USER.into()),
            _ => Self::Unauthorized(crate::COULD_NOT_VALIDATE_CREDENTIALS.into()),
        }
    }
}

/// The one `detail` of every 500: the cause stays in the log.
const INTERNAL_SERVER_ERROR: &str = "Internal Server Error";
/// The `detail` of a 503, when the store did not answer in time.
pub const SERVICE_UNAVAILABLE: &str = "Service temporarily unavailable; try again later";
/// `Retry-After` of a 503: a stalled store is not expected back sooner.
pub const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 5;

/// Whether `error` or any error beneath it is a store that did not answer in time.
fn store_unavailable(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(e) = current {
        if matches!(
            e.downcast_ref::<authgate_users::StoreError>(),
            Some(authgate_users::StoreError::Unavailable(_))
        ) {
            return true;
        }
        current = e.source();
    }
    false
}

#[derive(Serialize)]
struct Detail<'a> {
    detail: &'a str,
}

impl ApiError {
    /// An internal error wrapping `source`.
    pub fn internal(source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(source))
    }

    /// The status this error maps to.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal(source) if store_unavailable(source.as_ref()) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The response: `{"detail": "..."}`. Internal errors are logged here with their whole
    /// cause chain and answered with a fixed message: 503 with `Retry-After` when the store did
    /// not answer in time (RFC 9110 §15.6.4), 500 otherwise.
    pub fn into_response(self) -> Response<Body> {
        let status = self.status();
        let retry_after = match &self {
            Self::TooManyRequests {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            _ if status == StatusCode::SERVICE_UNAVAILABLE => Some(UNAVAILABLE_RETRY_AFTER_SECS),
            _ => None,
        };
        let detail = match &self {
            Self::Internal(source) if status == StatusCode::SERVICE_UNAVAILABLE => {
                tracing::error!(error = %error_chain(source.as_ref()), "request failed: the store did not answer in time");
                SERVICE_UNAVAILABLE.to_owned()
            }
            Self::Internal(source) => {
                tracing::error!(error = %error_chain(source.as_ref()), "request failed");
                INTERNAL_SERVER_ERROR.to_owned()
            }
            other => other.to_string(),
        };
        let mut response = json_response(status, &Detail { detail: &detail });
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        response
    }
}

/// A JSON response. Serializing plain data cannot fail; if it somehow did, the client gets an
/// opaque 500 rather than a panic.
pub fn json_response<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    let (status, body) = match serde_json::to_string(value) {
        Ok(body) => (status, body),
        Err(e) => {
            tracing::error!(error = %e, "response serialization failed");
            let opaque = serde_json::json!({ "detail": INTERNAL_SERVER_ERROR }).to_string();
            (StatusCode::INTERNAL_SERVER_ERROR, opaque)
        }
    };
    let mut response = Response::new(Body::Text(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// `error: cause: cause`, an error and its whole source chain on one line, for logs and for the
/// messages Lambda records.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cause_chain_is_one_line() {
        #[derive(Debug, thiserror::Error)]
        #[error("outer")]
        struct Outer(#[source] std::io::Error);
        assert_eq!(
            error_chain(&Outer(std::io::Error::other("inner"))),
            "outer: inner"
        );
    }

    fn body_json(response: &Response<Body>) -> serde_json::Value {
        match response.body() {
            Body::Text(text) => serde_json::from_str(text).unwrap(),
            other => panic!("unexpected body {other:?}"),
        }
    }

    #[test]
    fn client_errors_carry_their_detail() {
        let response = ApiError::Conflict("email already registered".into()).into_response();
        assert_eq!(response.status(), StatusCode::CONFLICT);
        assert_eq!(
            body_json(&response),
            serde_json::json!({"detail": "email already registered"})
        );
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    }

    #[test]
    fn internal_errors_are_opaque() {
        let source = std::io::Error::other("dynamodb endpoint 10.0.0.1 refused: table users-prod");
        let response = ApiError::internal(source).into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            body_json(&response),
            serde_json::json!({"detail": "Internal Server Error"})
        );
    }

    #[test]
    fn a_store_that_did_not_answer_in_time_is_an_opaque_503_with_retry_after() {
        #[derive(Debug, thiserror::Error)]
        #[error("login failed")]
        struct Wrapper(#[source] authgate_users::StoreError);
        let stalled = authgate_users::StoreError::Unavailable(Box::new(std::io::Error::other(
            "timeout on table users-prod",
        )));
        let response = ApiError::internal(Wrapper(stalled)).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "5");
        assert_eq!(
            body_json(&response),
            serde_json::json!({"detail": SERVICE_UNAVAILABLE})
        );
        let other = authgate_users::StoreError::Backend(Box::new(std::io::Error::other("x")));
        let response = ApiError::internal(Wrapper(other)).into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(response.headers().get(header::RETRY_AFTER).is_none());
    }

    #[test]
    fn unauthorized_asks_for_a_bearer_token() {
        let response = ApiError::Unauthorized(crate::NOT_AUTHENTICATED.into()).into_response();
        assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");
    }
}
