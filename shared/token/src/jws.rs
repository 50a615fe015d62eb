//! Strict verification of compact JWS (RFC 7515 §7.1), independent of what the payload means.
//!
//! This layer decides whether bytes were signed by a trusted key. It is deliberately stricter than
//! the RFC allows a parser to be: only the three-part compact form, only unpadded base64url with
//! canonical trailing bits, a JSON-object header, a `kid` naming a trusted key whose pinned
//! algorithm equals the header's `alg`, and none of the headers that let a token bring its own key.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use serde_json::Value;

use crate::error::VerifyError;
use crate::key_set::{Key, KeySet};
use crate::strict_json::Slotted;

/// Largest token, in bytes, that is even looked at. Real access tokens are well under 1 KiB;
/// refusing early bounds the work an attacker can cause.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// The protected header members a verifier reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwsHeader {
    /// `alg`, one of the algorithms jsonwebtoken knows.
    pub alg: Algorithm,
    /// `kid`, which must name a trusted key.
    pub kid: Option<String>,
    /// `typ`, the media type of the whole token.
    pub typ: Option<String>,
}

/// Header members that must be strings when present (RFC 7515 §4.1): `alg`, `kid` and `typ`,
/// which a verifier reads, and three it only checks.
const STRING_MEMBERS: [&str; 6] = ["alg", "kid", "typ", "cty", "x5t", "x5t#S256"];
/// Header parameters a verifier must never honour: they let the token pick its own key
/// (RFC 8725 §3.1, §2.8) or demand processing this verifier does not implement (`crit`, RFC 7515 §4.1.11).
const FORBIDDEN_MEMBERS: [&str; 5] = ["jku", "jwk", "x5u", "x5c", "crit"];
/// The header members a verifier looks at, each read into its own place: the two lists above.
/// Anything else is ignored, though never named twice.
const HEADER_MEMBERS: [&str; 11] = {
    let mut all = [""; 11];
    let mut i = 0;
    while i < STRING_MEMBERS.len() {
        all[i] = STRING_MEMBERS[i];
        i += 1;
    }
    while i < all.len() {
        all[i] = FORBIDDEN_MEMBERS[i - STRING_MEMBERS.len()];
        i += 1;
    }
    all
};

impl JwsHeader {
    /// Reads a header object: none of the forbidden members, `alg` required and known, the
    /// string members strings.
    fn read(mut raw: Slotted<{ HEADER_MEMBERS.len() }>) -> Result<Self, VerifyError> {
        if let Some(name) = FORBIDDEN_MEMBERS.iter().find(|n| raw.get(n).is_some()) {
            return Err(VerifyError::ForbiddenHeader(name));
        }
        if STRING_MEMBERS
            .iter()
            .any(|n| raw.get(n).is_some_and(|v| !v.is_string()))
        {
            return Err(VerifyError::InvalidHeader);
        }
        let mut text = |name: &str| match raw.take(name) {
            Some(Value::String(s)) => Some(s),
            _ => None,
        };
        let alg = text("alg")
            .and_then(|alg| alg.parse().ok())
            .ok_or(VerifyError::InvalidHeader)?;
        Ok(Self {
            alg,
            kid: text("kid"),
            typ: text("typ"),
        })
    }
}

/// A JWS whose signature has been verified with a trusted key.
#[derive(Debug)]
pub struct Verified<'k> {
    /// The protected header, already checked.
    pub header: JwsHeader,
    /// The decoded payload bytes.
    pub payload: Vec<u8>,
    /// The key that verified the signature.
    pub key: &'k Key,
}

/// Unpadded base64url with canonical trailing bits: the engine refuses any byte outside the
/// alphabet (`+`, `/`, `=`, whitespace), padding, and non-zero trailing bits.
fn b64(part: &str) -> Result<Vec<u8>, VerifyError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| VerifyError::Malformed)
}

/// Checks the structure, header and signature of `token` against `keys`.
pub fn verify_compact<'k>(token: &str, keys: &'k KeySet) -> Result<Verified<'k>, VerifyError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(VerifyError::TooLarge {
            max: MAX_TOKEN_BYTES,
        });
    }
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(VerifyError::Malformed);
    };
    if header_b64.is_empty() || signature_b64.is_empty() {
        return Err(VerifyError::Malformed);
    }

    let header_json = b64(header_b64)?;
    let raw = crate::strict_json::object_slotted(&header_json, &HEADER_MEMBERS)
        .map_err(|_| VerifyError::InvalidHeader)?;
    let header = JwsHeader::read(raw)?;

    let kid = header.kid.as_deref().ok_or(VerifyError::MissingKid)?;
    let key = keys.get(kid).ok_or(VerifyError::UnknownKid)?;
    if header.alg != key.algorithm() {
        return Err(VerifyError::AlgorithmMismatch);
    }

    let payload = b64(payload_b64)?;
    // Validates the signature's alphabet before the crypto backend sees it.
    let signature = b64(signature_b64)?;
    let signing_input = &token[..header_b64.len() + 1 + payload_b64.len()];
    if !key.accepts_form(&signature)
        || !key.verifies(signing_input.as_bytes(), &signature, signature_b64)
    {
        return Err(VerifyError::InvalidSignature);
    }
    Ok(Verified {
        header,
        payload,
        key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_checked_member_has_a_place_and_the_forbidden_ones_are_those_that_bring_a_key() {
        assert_eq!(
            HEADER_MEMBERS,
            [
                "alg", "kid", "typ", "cty", "x5t", "x5t#S256", "jku", "jwk", "x5u", "x5c", "crit"
            ]
        );
        assert_eq!(FORBIDDEN_MEMBERS, ["jku", "jwk", "x5u", "x5c", "crit"]);
    }

    #[test]
    fn only_canonical_unpadded_base64url_decodes() {
        assert_eq!(b64("QUJD"), Ok(b"ABC".to_vec()));
        assert_eq!(b64("-_8"), Ok(vec![0xfb, 0xff]));
        for bad in ["QUJD=", "QU+D", "QU/D", "QU D", "QUJ\n", "QUJ", "QR"] {
            assert_eq!(b64(bad), Err(VerifyError::Malformed), "{bad:?}");
        }
    }
}
