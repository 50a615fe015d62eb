//! Asymmetric keys derived from a secret's random key material.
//!
//! CloudFormation and the rotation function generate `k`, a random string, for every algorithm;
//! for EdDSA and ES256 it seeds the private key, so the key format, its generation and its
//! rotation are the same for every algorithm and the private key exists only in the secret.
//! Ed25519: the seed is SHA-256 of a domain-separated `k`. P-256: the scalar is the first
//! SHA-256 of a counter and `k` that falls in [1, n-1] (a miss has probability below 2^-32).

use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair,
};
use sha2::{Digest, Sha256};

use crate::error::KeyError;

/// Public and private halves, in the encodings jsonwebtoken and JWK need.
pub(crate) struct Derived {
    /// PKCS#8 DER of the private key.
    pub pkcs8: Vec<u8>,
    /// Ed25519: the 32-byte public key. P-256: the 65-byte uncompressed point.
    pub public: Vec<u8>,
}

fn invalid(kid: &str) -> KeyError {
    KeyError::Derivation(kid.to_owned())
}

/// An Ed25519 key pair from `k`.
pub(crate) fn ed25519(kid: &str, k: &[u8]) -> Result<Derived, KeyError> {
    let seed = Sha256::new()
        .chain_update(b"authgate/ed25519\0")
        .chain_update(k)
        .finalize();
    let pair = Ed25519KeyPair::from_seed_unchecked(&seed).map_err(|_| invalid(kid))?;
    let pkcs8 = pair.to_pkcs8v1().map_err(|_| invalid(kid))?;
    Ok(Derived {
        pkcs8: pkcs8.as_ref().to_vec(),
        public: pair.public_key().as_ref().to_vec(),
    })
}

/// A P-256 key pair from `k`.
pub(crate) fn p256(kid: &str, k: &[u8]) -> Result<Derived, KeyError> {
    for counter in 0u8..=255 {
        let scalar = Sha256::new()
            .chain_update(b"authgate/p256\0")
            .chain_update([counter])
            .chain_update(k)
            .finalize();
        // RFC 5915 ECPrivateKey { version 1, privateKey, [0] prime256v1 }, public key computed.
        let mut der = vec![0x30, 0x31, 0x02, 0x01, 0x01, 0x04, 0x20];
        der.extend_from_slice(&scalar);
        der.extend_from_slice(&[
            0xa0, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07,
        ]);
        if let Ok(pair) = EcdsaKeyPair::from_private_key_der(&ECDSA_P256_SHA256_FIXED_SIGNING, &der)
        {
            let pkcs8 = pair.to_pkcs8v1().map_err(|_| invalid(kid))?;
            return Ok(Derived {
                pkcs8: pkcs8.as_ref().to_vec(),
                public: pair.public_key().as_ref().to_vec(),
            });
        }
    }
    Err(invalid(kid))
}
