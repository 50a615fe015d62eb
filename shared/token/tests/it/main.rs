//! The token crate's tests: round trips and forgeries, asymmetric and RSA keys, public keys
//! alone, and Wycheproof's vectors.
mod access_tokens;
mod asymmetric;
mod public_keys;
mod rs256;
mod wycheproof;
