//! RS256 keys: an RSA private key generated at random (never derived from short material), held
//! as unpadded base64url of its PKCS#8 DER in the secret's `k`, so that API Gateway's native JWT
//! authorizers (which want RSA) and any JWKS consumer can verify authgate's tokens.
//!
//! The crypto is aws-lc-rs's, the workspace's one backend. jsonwebtoken signs with a PKCS#1
//! `RSAPrivateKey` and verifies with a PKCS#1 `RSAPublicKey`. aws-lc-rs gives the public key in
//! PKCS#1 and its modulus and exponent, but the private key only in PKCS#8, so that wrapper is
//! opened here with a minimal DER reader that accepts only the few shapes it needs.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::KeyError;

/// The least modulus authgate accepts, in bits (NIST SP 800-131A).
pub const MIN_RSA_BITS: usize = 2048;

/// An RSA key pair's halves in the encodings jsonwebtoken and a JWK need.
pub(crate) struct RsaMaterial {
    /// PKCS#1 `RSAPrivateKey` DER.
    pub private_pkcs1: Vec<u8>,
    /// PKCS#1 `RSAPublicKey` DER.
    pub public_pkcs1: Vec<u8>,
    /// Modulus and public exponent, big-endian without leading zeros.
    pub n: Vec<u8>,
    pub e: Vec<u8>,
}

/// One DER element: its tag, its contents, and what follows it.
fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let octets = usize::from(first & 0x7f);
        if octets == 0 || octets > 4 || rest.len() < octets {
            return None;
        }
        let (len, rest) = rest.split_at(octets);
        (
            len.iter().fold(0usize, |n, b| (n << 8) | usize::from(*b)),
            rest,
        )
    };
    if rest.len() < len {
        return None;
    }
    let (contents, rest) = rest.split_at(len);
    Some((tag, contents, rest))
}

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const OCTET_STRING: u8 = 0x04;

/// The `privateKey` octets of a PKCS#8 `PrivateKeyInfo` (version, algorithm, privateKey).
fn pkcs8_private_key(pkcs8: &[u8]) -> Option<&[u8]> {
    let (SEQUENCE, info, []) = element(pkcs8)? else {
        return None;
    };
    let (INTEGER, _, rest) = element(info)? else {
        return None;
    };
    let (SEQUENCE, _, rest) = element(rest)? else {
        return None;
    };
    let (OCTET_STRING, key, _) = element(rest)? else {
        return None;
    };
    Some(key)
}

/// A fresh RSA-2048 private key as the secret's `k`: unpadded base64url of its PKCS#8 DER.
pub fn generate_rs256_material() -> Result<String, KeyError> {
    let pair = KeyPair::generate(KeySize::Rsa2048)
        .map_err(|_| KeyError::Derivation("a new RSA key".into()))?;
    let der = pair
        .as_der()
        .map_err(|_| KeyError::Derivation("a new RSA key".into()))?;
    Ok(URL_SAFE_NO_PAD.encode(der.as_ref()))
}

/// The key pair in `k` (unpadded base64url of PKCS#8 DER), refused below [`MIN_RSA_BITS`].
pub(crate) fn from_material(kid: &str, k: &[u8]) -> Result<RsaMaterial, KeyError> {
    let invalid = || KeyError::Derivation(kid.to_owned());
    let pkcs8 = URL_SAFE_NO_PAD.decode(k).map_err(|_| invalid())?;
    let pair = KeyPair::from_pkcs8(&pkcs8).map_err(|_| invalid())?;
    if pair.public_modulus_len() * 8 < MIN_RSA_BITS {
        return Err(invalid());
    }
    let public_pkcs1 = pair.public_key().as_ref().to_vec();
    let PublicKeyComponents { n, e } = PublicKeyComponents::from(pair.public_key());
    let private_pkcs1 = pkcs8_private_key(&pkcs8).ok_or_else(invalid)?.to_vec();
    Ok(RsaMaterial {
        private_pkcs1,
        public_pkcs1,
        n,
        e,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn generated_material_reads_back_as_a_2048_bit_key_with_the_usual_exponent() {
        let k = generate_rs256_material().unwrap();
        let material = from_material("k", k.as_bytes()).unwrap();
        assert_eq!(material.n.len(), 256, "2048 bits");
        assert_eq!(material.e, vec![1, 0, 1], "65537");
        assert_ne!(generate_rs256_material().unwrap(), k, "random, not derived");
    }

    #[test]
    fn malformed_or_short_material_is_refused() {
        for bad in [
            "",
            "not base64 at all!",
            "AAAA",
            &URL_SAFE_NO_PAD.encode([0x30, 0x03, 0x02, 0x01, 0x00]),
        ] {
            assert!(from_material("k", bad.as_bytes()).is_err(), "{bad:?}");
        }
        assert_eq!(
            element(&[0x30, 0x82, 0x01]),
            None,
            "a length longer than the input"
        );
    }
}
