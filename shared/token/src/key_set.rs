//! Keys by `kid`, each pinned to one algorithm and parsed once.
//!
//! A key set holds several keys at once so tokens signed before a rotation keep verifying; the
//! algorithm is a property of the key, never of the token, which is what defeats algorithm confusion.

use std::collections::HashMap;

use jsonwebtoken::jwk::{Jwk, KeyOperations, PublicKeyUse};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, EncodingKey};

use crate::error::KeyError;

/// The shortest HMAC secret accepted: 256 bits, the output size of SHA-256 (RFC 7518 §3.2).
pub const MIN_HMAC_SECRET_BYTES: usize = 32;

/// The algorithms a published (public) key may be trusted with: asymmetric only.
pub const ASYMMETRIC_ALGORITHMS: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// The algorithms authgate signs with: the `alg` values a signing secret may hold.
pub const SIGNING_ALGORITHMS: [&str; 6] = ["HS256", "HS384", "HS512", "EdDSA", "ES256", "RS256"];

/// The asymmetric algorithms authgate signs with: those whose public keys it publishes.
pub const OWN_ASYMMETRIC_ALGORITHMS: [Algorithm; 3] =
    [Algorithm::EdDSA, Algorithm::ES256, Algorithm::RS256];

/// Fresh random material `k` for a new signing key of `alg`, the one way every key authgate
/// makes is made: 32 random bytes (hex) for HMAC keys and the seed of EdDSA and ES256 keys, a
/// random RSA-2048 private key for RS256 (never derived from shorter material).
pub fn new_secret_material(alg: &str) -> Result<String, KeyError> {
    if !SIGNING_ALGORITHMS.contains(&alg) {
        return Err(KeyError::UnsupportedAlgorithm(alg.to_owned()));
    }
    if alg == "RS256" {
        return crate::rsa::generate_rs256_material();
    }
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| KeyError::Derivation("new key material".into()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// One verification key, and its signing half when this process may sign.
#[derive(Clone)]
pub struct Key {
    kid: String,
    alg: Algorithm,
    decoding: DecodingKey,
    encoding: Option<EncodingKey>,
    /// The public JWK, for asymmetric keys only: symmetric keys are never published.
    public_jwk: Option<serde_json::Value>,
    /// Whether only low-S ECDSA signatures verify: authgate's own keys, which sign that way.
    low_s_only: bool,
    /// For HMAC keys, the key already set up for aws-lc-rs, so a verification is one HMAC of
    /// the signing input and a constant-time comparison, with nothing derived per token.
    hmac: Option<aws_lc_rs::hmac::Key>,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("can_sign", &self.encoding.is_some())
            .finish_non_exhaustive()
    }
}

impl Key {
    /// A symmetric key (HS256/384/512) that both signs and verifies.
    pub fn hmac(kid: impl Into<String>, secret: &[u8], alg: Algorithm) -> Result<Self, KeyError> {
        let kid = non_empty(kid.into())?;
        if alg.family() != AlgorithmFamily::Hmac {
            return Err(KeyError::AlgorithmMismatch { kid, alg });
        }
        if secret.len() < MIN_HMAC_SECRET_BYTES {
            return Err(KeyError::SecretTooShort {
                kid,
                len: secret.len(),
                min: MIN_HMAC_SECRET_BYTES,
            });
        }
        let hmac_alg = match alg {
            Algorithm::HS384 => aws_lc_rs::hmac::HMAC_SHA384,
            Algorithm::HS512 => aws_lc_rs::hmac::HMAC_SHA512,
            _ => aws_lc_rs::hmac::HMAC_SHA256,
        };
        Ok(Self {
            kid,
            alg,
            decoding: DecodingKey::from_secret(secret),
            encoding: Some(EncodingKey::from_secret(secret)),
            public_jwk: None,
            low_s_only: true,
            hmac: Some(aws_lc_rs::hmac::Key::new(hmac_alg, secret)),
        })
    }

    /// A signing key for `alg` from a secret's random material `k`: the HMAC key itself, the
    /// seed of an Ed25519 (EdDSA) or P-256 (ES256) private key, or (RS256) a random RSA private
    /// key itself, as [`crate::generate_rs256_material`] makes it.
    pub fn from_secret_material(
        kid: impl Into<String>,
        alg: &str,
        k: &[u8],
    ) -> Result<Self, KeyError> {
        let kid = non_empty(kid.into())?;
        let hmac = |alg| Self::hmac(kid.clone(), k, alg);
        match alg {
            "HS256" => hmac(Algorithm::HS256),
            "HS384" => hmac(Algorithm::HS384),
            "HS512" => hmac(Algorithm::HS512),
            "EdDSA" | "ES256" => {
                if k.len() < MIN_HMAC_SECRET_BYTES {
                    return Err(KeyError::SecretTooShort {
                        kid,
                        len: k.len(),
                        min: MIN_HMAC_SECRET_BYTES,
                    });
                }
                let b64 = |bytes: &[u8]| {
                    base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes)
                };
                let (alg, derived, jwk) = if alg == "EdDSA" {
                    let d = crate::derive::ed25519(&kid, k)?;
                    let jwk =
                        serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&d.public)});
                    (Algorithm::EdDSA, d, jwk)
                } else {
                    let d = crate::derive::p256(&kid, k)?;
                    let jwk = serde_json::json!({"kty": "EC", "crv": "P-256", "x": b64(&d.public[1..33]), "y": b64(&d.public[33..65])});
                    (Algorithm::ES256, d, jwk)
                };
                let (decoding, encoding) = match alg {
                    Algorithm::EdDSA => (
                        DecodingKey::from_ed_der(&derived.public),
                        EncodingKey::from_ed_der(&derived.pkcs8),
                    ),
                    _ => (
                        DecodingKey::from_ec_der(&derived.public),
                        EncodingKey::from_ec_der(&derived.pkcs8),
                    ),
                };
                let mut jwk = jwk;
                jwk["kid"] = kid.clone().into();
                jwk["alg"] = alg_name(alg).into();
                jwk["use"] = "sig".into();
                Ok(Self {
                    kid,
                    alg,
                    decoding,
                    encoding: Some(encoding),
                    public_jwk: Some(jwk),
                    low_s_only: true,
                    hmac: None,
                })
            }
            "RS256" => {
                let material = crate::rsa::from_material(&kid, k)?;
                let b64 = |bytes: &[u8]| {
                    base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes)
                };
                let jwk = serde_json::json!({
                    "kty": "RSA", "n": b64(&material.n), "e": b64(&material.e),
                    "kid": kid.clone(), "alg": "RS256", "use": "sig",
                });
                Ok(Self {
                    kid,
                    alg: Algorithm::RS256,
                    decoding: DecodingKey::from_rsa_der(&material.public_pkcs1),
                    encoding: Some(EncodingKey::from_rsa_der(&material.private_pkcs1)),
                    public_jwk: Some(jwk),
                    low_s_only: true,
                    hmac: None,
                })
            }
            other => Err(KeyError::UnsupportedAlgorithm(other.to_owned())),
        }
    }

    /// The public key as a JWK (RFC 7517), for asymmetric keys; `None` for HMAC keys.
    pub fn public_jwk(&self) -> Option<&serde_json::Value> {
        self.public_jwk.as_ref()
    }

    /// A verification-only key from a published JWK (an outside issuer's JWKS, a JWKS of
    /// authgate's), pinned to one algorithm among `allowed`: the JWK's own `alg` when it names
    /// one (it must be allowed), else the only allowed algorithm; guessing among several is what
    /// RFC 8725 §3.1 forbids. Refused: a JWK marked for encryption by `use` or `key_ops`, a key
    /// type that does not fit the algorithm, and any symmetric (`oct`) key or HMAC algorithm,
    /// since a published key is public and an HMAC key must be secret.
    pub fn from_jwk(jwk: &Jwk, allowed: &[Algorithm]) -> Result<Self, KeyError> {
        if matches!(jwk.common.public_key_use, Some(ref u) if *u != PublicKeyUse::Signature) {
            return Err(KeyError::JwkWrongUse);
        }
        if matches!(jwk.common.key_operations, Some(ref ops) if !ops.contains(&KeyOperations::Verify))
        {
            return Err(KeyError::JwkWrongUse);
        }
        let kid = non_empty(jwk.common.key_id.clone().unwrap_or_default())?;
        let alg = match jwk.common.key_algorithm {
            Some(named) => Algorithm::try_from(named)
                .ok()
                .filter(|alg| allowed.contains(alg))
                .ok_or_else(|| KeyError::AlgorithmNotAllowed { kid: kid.clone() })?,
            None => match allowed {
                [only] => *only,
                _ => return Err(KeyError::JwkWithoutAlgorithm),
            },
        };
        if alg.family() == AlgorithmFamily::Hmac {
            return Err(KeyError::AlgorithmMismatch { kid, alg });
        }
        let decoding = DecodingKey::from_jwk(jwk).map_err(KeyError::Invalid)?;
        if decoding.family() != alg.family() {
            return Err(KeyError::AlgorithmMismatch { kid, alg });
        }
        Ok(Self {
            kid,
            alg,
            decoding,
            encoding: None,
            public_jwk: None,
            low_s_only: false,
            hmac: None,
        })
    }

    /// A verification-only key from a JWK that authgate itself published (the public-keys secret
    /// its rotation function writes): one of [`OWN_ASYMMETRIC_ALGORITHMS`], named by the JWK's
    /// `alg`, held to the same strictness as the private key's own half (low-S ECDSA only), and
    /// republished as it came.
    pub fn from_own_jwk(jwk: &serde_json::Value) -> Result<Self, KeyError> {
        let parsed: Jwk =
            serde_json::from_value(jwk.clone()).map_err(|_| KeyError::JwkWithoutAlgorithm)?;
        if parsed.common.key_algorithm.is_none() {
            return Err(KeyError::JwkWithoutAlgorithm);
        }
        let key = Self::from_jwk(&parsed, &OWN_ASYMMETRIC_ALGORITHMS)?;
        Ok(Self {
            public_jwk: Some(jwk.clone()),
            low_s_only: true,
            ..key
        })
    }

    /// This key without its signing half: what a process that only verifies may hold. A
    /// symmetric key has no public half, so it stays whole.
    pub fn public_half(&self) -> Self {
        if self.alg.family() == AlgorithmFamily::Hmac {
            return self.clone();
        }
        Self {
            encoding: None,
            ..self.clone()
        }
    }

    /// Whether this key can sign.
    pub fn can_sign(&self) -> bool {
        self.encoding.is_some()
    }

    /// Signs `claims` as a compact JWS with this key's `kid` and algorithm and the given `typ`.
    pub fn sign<T: serde::Serialize>(
        &self,
        typ: Option<&str>,
        claims: &T,
    ) -> Result<String, crate::SignError> {
        let encoding = self
            .encoding
            .as_ref()
            .ok_or(crate::SignError::NoSigningKey)?;
        let mut header = jsonwebtoken::Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        header.typ = typ.map(str::to_owned);
        let token =
            jsonwebtoken::encode(&header, claims, encoding).map_err(crate::SignError::Crypto)?;
        if self.alg != Algorithm::ES256 {
            return Ok(token);
        }
        // One valid encoding per token: ECDSA's s is brought to its low form (see `low_s`).
        let engine = &base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let (signing_input, signature) = token.rsplit_once('.').unwrap_or((&token, ""));
        let raw =
            base64::Engine::decode(engine, signature).map_err(|_| crate::SignError::Encoding)?;
        let low = crate::low_s::normalize(raw);
        Ok(format!(
            "{signing_input}.{}",
            base64::Engine::encode(engine, low)
        ))
    }

    /// Whether `signature` (raw bytes) is in the one form this key accepts.
    pub(crate) fn accepts_form(&self, signature: &[u8]) -> bool {
        !(self.low_s_only && self.alg == Algorithm::ES256) || crate::low_s::is_low_s(signature)
    }

    /// The key id carried in the `kid` header of tokens this key signs.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The one algorithm this key is used with.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// Whether `signature` (raw bytes) is this key's signature of `signing_input`.
    pub(crate) fn verifies(
        &self,
        signing_input: &[u8],
        signature: &[u8],
        signature_b64: &str,
    ) -> bool {
        match &self.hmac {
            Some(hmac) => aws_lc_rs::hmac::verify(hmac, signing_input, signature).is_ok(),
            None => {
                jsonwebtoken::crypto::verify(signature_b64, signing_input, &self.decoding, self.alg)
                    .unwrap_or(false)
            }
        }
    }
}

fn alg_name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::EdDSA => "EdDSA",
        Algorithm::ES256 => "ES256",
        _ => "",
    }
}

fn non_empty(kid: String) -> Result<String, KeyError> {
    if kid.is_empty() {
        Err(KeyError::EmptyKid)
    } else {
        Ok(kid)
    }
}

/// The keys a process trusts, by `kid`, and which of them signs new tokens.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: HashMap<String, Key>,
    signing: Option<String>,
}

impl KeySet {
    /// A key set for verification only.
    pub fn verifying(keys: impl IntoIterator<Item = Key>) -> Result<Self, KeyError> {
        let mut map = HashMap::new();
        for key in keys {
            if map.contains_key(&key.kid) {
                return Err(KeyError::DuplicateKid(key.kid));
            }
            map.insert(key.kid.clone(), key);
        }
        Ok(Self {
            keys: map,
            signing: None,
        })
    }

    /// A key set that signs with `signing_kid` and verifies with every key.
    pub fn signing(
        signing_kid: &str,
        keys: impl IntoIterator<Item = Key>,
    ) -> Result<Self, KeyError> {
        let mut set = Self::verifying(keys)?;
        match set.keys.get(signing_kid) {
            Some(key) if key.encoding.is_some() => {}
            _ => return Err(KeyError::SigningKeyMissing(signing_kid.to_owned())),
        }
        set.signing = Some(signing_kid.to_owned());
        Ok(set)
    }

    /// The key with this id, if trusted.
    pub fn get(&self, kid: &str) -> Option<&Key> {
        self.keys.get(kid)
    }

    /// The key new tokens are signed with.
    pub fn signing_key(&self) -> Option<&Key> {
        self.signing.as_deref().and_then(|kid| self.keys.get(kid))
    }

    /// Ids of every trusted key, sorted, for logs and diagnostics.
    pub fn kids(&self) -> Vec<&str> {
        let mut kids: Vec<&str> = self.keys.keys().map(String::as_str).collect();
        kids.sort_unstable();
        kids
    }

    /// The public JWK Set of the asymmetric keys (RFC 7517 §5), sorted by `kid`.
    pub fn public_jwks(&self) -> serde_json::Value {
        let keys: Vec<&serde_json::Value> = self
            .kids()
            .into_iter()
            .filter_map(|kid| self.keys.get(kid)?.public_jwk())
            .collect();
        serde_json::json!({ "keys": keys })
    }

    /// The keys of a JWK Set authgate published ([`KeySet::public_jwks`]), for verification
    /// only. Every key must be one authgate could have made; one that is not refuses the set.
    pub fn from_public_jwks(jwks: &serde_json::Value) -> Result<Self, KeyError> {
        let keys = jwks["keys"]
            .as_array()
            .ok_or(KeyError::JwkWithoutAlgorithm)?
            .iter()
            .map(Key::from_own_jwk)
            .collect::<Result<Vec<_>, _>>()?;
        Self::verifying(keys)
    }

    /// The same keys without their signing halves (symmetric keys stay whole), for verifiers.
    pub fn public_only(&self) -> Self {
        Self {
            keys: self
                .keys
                .iter()
                .map(|(kid, key)| (kid.clone(), key.public_half()))
                .collect(),
            signing: None,
        }
    }

    /// How many keys are trusted.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is trusted (every token will be rejected).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn hmac_key_rejects_secrets_shorter_than_256_bits() {
        let err = Key::hmac("k", &SECRET[..31], Algorithm::HS256).unwrap_err();
        assert!(matches!(err, KeyError::SecretTooShort { len: 31, .. }));
    }

    #[test]
    fn hmac_key_refuses_an_asymmetric_algorithm() {
        let err = Key::hmac("k", SECRET, Algorithm::RS256).unwrap_err();
        assert!(matches!(err, KeyError::AlgorithmMismatch { .. }));
    }

    #[test]
    fn key_set_rejects_duplicate_kids() {
        let a = Key::hmac("same", SECRET, Algorithm::HS256).unwrap();
        let b = Key::hmac("same", SECRET, Algorithm::HS256).unwrap();
        assert!(matches!(KeySet::verifying([a, b]), Err(KeyError::DuplicateKid(k)) if k == "same"));
    }

    #[test]
    fn signing_key_must_be_in_the_set() {
        let a = Key::hmac("a", SECRET, Algorithm::HS256).unwrap();
        assert!(matches!(
            KeySet::signing("b", [a]),
            Err(KeyError::SigningKeyMissing(_))
        ));
    }

    #[test]
    fn debug_output_never_contains_key_material() {
        let key = Key::hmac("kid-1", SECRET, Algorithm::HS256).unwrap();
        let shown = format!("{key:?}");
        assert!(shown.contains("kid-1"));
        assert!(!shown.contains("0123456789abcdef"));
    }
}
