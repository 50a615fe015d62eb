//! Machine credentials: OAuth client secrets and API keys. Each is 256 random bits from the OS,
//! shown once and stored only as its SHA-256 hash, with a shape checked before any lookup.
//!
//! An API key is recognisable and checkable offline, so that the authorizer refuses a mistyped
//! or made-up key without a read, and a secret scanner can tell one from noise:
//! `agk_` + 32 lowercase hex digits of its user's id + 64 of random + 8 of checksum, the first 4
//! bytes of SHA-256 over everything before it. The user's id (no secret: it is every token's
//! `sub`) lets the authorizer read the key and its user in one request.

use std::fmt;

use rand::RngCore;

use crate::sessions::{TokenHash, generate_opaque, is_opaque, sha256_hex};
use crate::store::UserId;

/// What every API key starts with.
pub const API_KEY_PREFIX: &str = "agk_";
/// Hex digits of an API key's user id.
const API_KEY_USER_HEX: usize = 32;
/// Hex digits of an API key's random part (256 bits).
const API_KEY_RANDOM_HEX: usize = 64;
/// Hex digits of an API key's checksum.
const API_KEY_CHECK_HEX: usize = 8;

/// An API key as its holder has it. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

/// The presented string cannot be an authgate API key.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("not an authgate API key")]
pub struct InvalidApiKey;

/// The checksum of an API key's digits (user id and random).
fn api_key_checksum(digits: &str) -> String {
    let mut digest = sha256_hex(format!("{API_KEY_PREFIX}{digits}").as_bytes());
    digest.truncate(API_KEY_CHECK_HEX);
    digest
}

impl ApiKey {
    /// A fresh key of `user` from the OS random number generator.
    pub fn generate(user: UserId) -> Self {
        let mut bytes = [0u8; API_KEY_RANDOM_HEX / 2];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let random: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let digits = format!("{}{random}", user.simple());
        let check = api_key_checksum(&digits);
        Self(format!("{API_KEY_PREFIX}{digits}{check}"))
    }

    /// Checks prefix, length, digits and checksum: no lookup is needed to refuse a bad key.
    pub fn parse(input: &str) -> Result<Self, InvalidApiKey> {
        let body = input.strip_prefix(API_KEY_PREFIX).ok_or(InvalidApiKey)?;
        if body.len() != API_KEY_USER_HEX + API_KEY_RANDOM_HEX + API_KEY_CHECK_HEX
            || !body.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err(InvalidApiKey);
        }
        let (digits, check) = body.split_at(API_KEY_USER_HEX + API_KEY_RANDOM_HEX);
        if api_key_checksum(digits) != check {
            return Err(InvalidApiKey);
        }
        Ok(Self(input.to_owned()))
    }

    /// The user the key says it belongs to (the stored key must say so too).
    pub fn user(&self) -> UserId {
        let start = API_KEY_PREFIX.len();
        self.0
            .get(start..start + API_KEY_USER_HEX)
            .and_then(|hex| hex.parse().ok())
            .unwrap_or_default()
    }

    /// The key, to show its holder once.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What is stored and looked up.
    pub fn hash(&self) -> TokenHash {
        TokenHash::from_stored(sha256_hex(self.0.as_bytes()))
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey([redacted])")
    }
}

/// An OAuth client's secret as the client holds it: 256 random bits in unpadded base64url. Its
/// `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSecret(String);

/// The presented string cannot be a client secret authgate issued.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("not a client secret")]
pub struct InvalidClientSecret;

impl ClientSecret {
    /// A fresh secret from the OS random number generator.
    pub fn generate() -> Self {
        Self(generate_opaque())
    }

    /// Checks the shape of a presented secret (cheap, before any lookup).
    pub fn parse(input: &str) -> Result<Self, InvalidClientSecret> {
        if is_opaque(input) {
            Ok(Self(input.to_owned()))
        } else {
            Err(InvalidClientSecret)
        }
    }

    /// The secret, to show once.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What is stored and compared.
    pub fn hash(&self) -> TokenHash {
        TokenHash::from_stored(sha256_hex(self.0.as_bytes()))
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret([redacted])")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_generated_key_parses_back_names_its_user_and_keys_differ() {
        let user = uuid::Uuid::new_v4();
        let key = ApiKey::generate(user);
        assert!(key.as_str().starts_with("agk_"));
        assert_eq!(key.as_str().len(), 4 + 32 + 64 + 8);
        assert_eq!(ApiKey::parse(key.as_str()), Ok(key.clone()));
        assert_eq!(key.user(), user);
        assert_ne!(ApiKey::generate(user), key);
        assert_eq!(key.hash().as_str().len(), 64);
        assert_ne!(key.hash().as_str(), key.as_str());
    }

    #[test]
    fn the_checksum_is_the_documented_one() {
        // First 4 bytes of SHA-256("agk_" + 96 zeros), computed apart from this code
        // (`printf 'agk_%096d' 0 | sha256sum`).
        let zeros = "0".repeat(96);
        assert_eq!(
            ApiKey::parse(&format!("agk_{zeros}55e77160")).map(|k| k.as_str().len()),
            Ok(108)
        );
        assert_eq!(
            ApiKey::parse(&format!("agk_{zeros}00000000")),
            Err(InvalidApiKey)
        );
    }

    #[test]
    fn a_mistyped_or_made_up_key_is_refused_without_a_lookup() {
        let key = ApiKey::generate(uuid::Uuid::new_v4());
        let text = key.as_str();
        let flipped = {
            let mut bytes = text.as_bytes().to_vec();
            bytes[10] = if bytes[10] == b'a' { b'b' } else { b'a' };
            String::from_utf8(bytes).unwrap()
        };
        for bad in [
            flipped.as_str(),
            &text[..text.len() - 1],
            &text.to_uppercase(),
            &text.replacen("agk_", "agx_", 1),
            &text[4..],
            "",
            "agk_",
        ] {
            assert_eq!(ApiKey::parse(bad), Err(InvalidApiKey), "{bad:?}");
        }
    }

    #[test]
    fn secrets_and_keys_never_show_in_debug() {
        let key = ApiKey::generate(uuid::Uuid::new_v4());
        let secret = ClientSecret::generate();
        assert!(!format!("{key:?}").contains(key.as_str()));
        assert!(!format!("{secret:?}").contains(secret.as_str()));
        assert_eq!(ClientSecret::parse(secret.as_str()), Ok(secret.clone()));
        assert_eq!(ClientSecret::parse("short"), Err(InvalidClientSecret));
        assert_ne!(secret.hash(), ClientSecret::generate().hash());
    }
}
