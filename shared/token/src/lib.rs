//! authgate's token crate: access-token claims, signing, and verification.
//!
//! Pure logic with no AWS and no I/O, so every Lambda, the local server and the tests share one
//! implementation of the security-critical part. Verification follows RFC 8725 (JWT best current
//! practice): the algorithm is pinned per key, every registered claim is required and checked, and
//! headers that let a token choose its own key (`jku`, `jwk`, `x5u`, `x5c`) or add semantics (`crit`)
//! are rejected.

mod claims;
mod derive;
mod error;
mod issue;
pub mod jws;
mod key_set;
mod low_s;
pub mod outside;
mod rsa;
pub mod strict_json;
mod validation;
mod verify;

pub use claims::{
    ACCESS_TOKEN_TYPE, AccessClaims, AuthorizerContext, CLAIMS_CONTEXT_KEY, HOLDER_API_KEY,
    HOLDER_CLIENT, HOLDER_CONTEXT_KEY, HOLDER_USER, Holder, SCOPE_CONTEXT_KEY,
    VERIFIED_BY_AUTHGATE, VERIFIED_BY_CONTEXT_KEY, VERIFIED_BY_OUTSIDE, authorizer_context,
    authorizer_context_encoded,
};
pub use error::{KeyError, SignError, VerifyError};
pub use issue::{ClientGrant, IssuedToken, Subject, TokenIssuer};
pub use jsonwebtoken::Algorithm;
pub use jsonwebtoken::jwk::Jwk;
pub use key_set::{
    ASYMMETRIC_ALGORITHMS, Key, KeySet, MIN_HMAC_SECRET_BYTES, OWN_ASYMMETRIC_ALGORITHMS,
    SIGNING_ALGORITHMS, new_secret_material,
};
pub use rsa::{MIN_RSA_BITS, generate_rs256_material};
pub use validation::{ClaimsSet, DEFAULT_LEEWAY_SECS, Validation};
pub use verify::{MAX_TOKEN_BYTES, TokenVerifier, verify_own, verify_own_encoded};

/// Seconds since the Unix epoch, the unit of every JWT date claim.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
