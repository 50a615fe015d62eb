//! HTTP plumbing shared by authgate's API functions.
//!
//! - [`ApiError`]: the one place an error becomes a status and a JSON body with `detail`
//!   (FastAPI's convention); 5xx bodies are opaque while the log keeps the cause chain.
//! - [`body`]: bounded reading of JSON and OAuth2 form bodies, with precise client errors.
//! - [`claims`]: the verified token claims a protected function gets from the authorizer.

pub mod body;
pub mod claims;
mod error;
mod token;

pub use claims::{ClaimsError, RequestClaimsExt, with_claims};
pub use error::{ApiError, json_response};
pub use token::token_response;

/// Largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
