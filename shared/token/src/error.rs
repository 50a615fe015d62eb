//! Error kinds of the token crate, one enum per operation, in the spirit of jsonwebtoken's `ErrorKind`.
//!
//! Messages name the rule that failed and never echo token contents or key material.

use thiserror::Error;

/// A key could not be built or a key set is inconsistent.
#[derive(Debug, Error)]
pub enum KeyError {
    #[error("HMAC secret for key {kid:?} is {len} bytes; at least {min} are required")]
    SecretTooShort { kid: String, len: usize, min: usize },
    #[error("key id must not be empty")]
    EmptyKid,
    #[error("two keys share the key id {0:?}")]
    DuplicateKid(String),
    #[error("the signing key {0:?} is not in the key set")]
    SigningKeyMissing(String),
    #[error("key {kid:?} cannot be used with algorithm {alg:?}")]
    AlgorithmMismatch {
        kid: String,
        alg: jsonwebtoken::Algorithm,
    },
    #[error("JWK has no `alg` and more than one algorithm is allowed")]
    JwkWithoutAlgorithm,
    #[error("JWK {kid:?} names an algorithm that is not allowed for it")]
    AlgorithmNotAllowed { kid: String },
    #[error("JWK is not a signature key")]
    JwkWrongUse,
    #[error("invalid key material")]
    Invalid(#[source] jsonwebtoken::errors::Error),
    #[error("cannot derive a key pair for key {0:?}")]
    Derivation(String),
    #[error("algorithm {0:?} is not supported for signing keys")]
    UnsupportedAlgorithm(String),
}

/// A token could not be signed.
#[derive(Debug, Error)]
pub enum SignError {
    #[error("the key set has no signing key")]
    NoSigningKey,
    #[error("signing failed")]
    Crypto(#[source] jsonwebtoken::errors::Error),
    #[error("claims could not be serialized")]
    Serialize(#[source] serde_json::Error),
    #[error("the signature the backend produced is not base64url")]
    Encoding,
}

/// Why a token was rejected. Every variant means "do not trust this token".
#[derive(Debug, Error, PartialEq, Eq)]
pub enum VerifyError {
    #[error("token is longer than {max} bytes")]
    TooLarge { max: usize },
    #[error("token is not a compact JWS")]
    Malformed,
    #[error("token header is not valid")]
    InvalidHeader,
    #[error("token header has no key id")]
    MissingKid,
    #[error("token names an unknown key")]
    UnknownKid,
    #[error("token algorithm does not match its key")]
    AlgorithmMismatch,
    #[error("token header carries the forbidden parameter `{0}`")]
    ForbiddenHeader(&'static str),
    #[error("token has the wrong `typ`")]
    WrongType,
    #[error("token signature is not valid")]
    InvalidSignature,
    #[error("token claims are not valid JSON of the expected shape")]
    InvalidClaims,
    #[error("token lacks the required claim `{0}`")]
    MissingClaim(&'static str),
    #[error("token has expired")]
    Expired,
    #[error("token is not valid yet")]
    NotYetValid,
    #[error("token was issued in the future")]
    IssuedInFuture,
    #[error("token issuer is not trusted")]
    InvalidIssuer,
    #[error("token audience does not include this API")]
    InvalidAudience,
    #[error("token subject is empty")]
    InvalidSubject,
}
