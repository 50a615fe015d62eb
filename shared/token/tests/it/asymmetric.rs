//! EdDSA and ES256 keys derived from a secret's random material: they sign, verify, publish only
//! their public half, and Ed25519 verification agrees with Wycheproof's vectors.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use authgate_token::{
    ASYMMETRIC_ALGORITHMS, Algorithm, Key, KeySet, Subject, TokenIssuer, TokenVerifier, Validation,
    VerifyError,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

const K: &[u8] = b"Xq3vK9pLmN2rT8wY4zB6cD1fG5hJ7kQ0sU";

fn config() -> Validation {
    Validation::own("iss", "aud", 30)
}

fn round_trip(alg: &str) -> (String, Arc<KeySet>) {
    let keys = Arc::new(
        KeySet::signing("v1", [Key::from_secret_material("v1", alg, K).unwrap()]).unwrap(),
    );
    let token = TokenIssuer::new(keys.clone(), "iss", "aud", Duration::from_secs(900))
        .unwrap()
        .issue(&Subject {
            id: "u",
            email: "u@example.com",
            session: "s",
            ..Default::default()
        })
        .unwrap()
        .token;
    (token, keys)
}

#[test]
fn eddsa_and_es256_tokens_sign_and_verify_with_their_pinned_algorithm() {
    for (alg, pinned) in [("EdDSA", Algorithm::EdDSA), ("ES256", Algorithm::ES256)] {
        let (token, keys) = round_trip(alg);
        assert_eq!(keys.signing_key().unwrap().algorithm(), pinned);
        let header: serde_json::Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(token.split('.').next().unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(header["alg"], alg);
        assert!(
            TokenVerifier::new(keys, config()).verify(&token).is_ok(),
            "{alg}"
        );
    }
}

#[test]
fn derivation_is_deterministic_and_keyed_by_the_material() {
    for alg in ["EdDSA", "ES256"] {
        let a = Key::from_secret_material("v1", alg, K).unwrap();
        let b = Key::from_secret_material("v1", alg, K).unwrap();
        let c =
            Key::from_secret_material("v1", alg, b"another-random-secret-of-32-bytes!!").unwrap();
        assert_eq!(
            a.public_jwk(),
            b.public_jwk(),
            "{alg}: the same secret gives the same key"
        );
        assert_ne!(
            a.public_jwk().unwrap()["x"],
            c.public_jwk().unwrap()["x"],
            "{alg}"
        );
    }
}

#[test]
fn a_token_of_one_key_does_not_verify_with_another() {
    let (token, _) = round_trip("ES256");
    let other = Arc::new(
        KeySet::signing(
            "v1",
            [
                Key::from_secret_material("v1", "ES256", b"another-random-secret-of-32-bytes!!")
                    .unwrap(),
            ],
        )
        .unwrap(),
    );
    assert_eq!(
        TokenVerifier::new(other, config()).verify(&token),
        Err(VerifyError::InvalidSignature)
    );
}

#[test]
fn jwks_publishes_public_keys_only() {
    let keys = KeySet::signing(
        "ed",
        [
            Key::from_secret_material("ed", "EdDSA", K).unwrap(),
            Key::from_secret_material("ec", "ES256", K).unwrap(),
            Key::from_secret_material("hs", "HS256", K).unwrap(),
        ],
    )
    .unwrap();
    let jwks = keys.public_jwks();
    let listed: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(listed, vec!["ec", "ed"], "the HMAC key is never published");
    for key in jwks["keys"].as_array().unwrap() {
        assert!(
            key.get("d").is_none() && key.get("k").is_none(),
            "no private parts: {key}"
        );
        assert_eq!(key["use"], "sig");
    }
    let ed = &jwks["keys"][1];
    assert_eq!(
        (ed["kty"].as_str(), ed["crv"].as_str(), ed["alg"].as_str()),
        (Some("OKP"), Some("Ed25519"), Some("EdDSA"))
    );
    assert_eq!(
        URL_SAFE_NO_PAD
            .decode(ed["x"].as_str().unwrap())
            .unwrap()
            .len(),
        32
    );
    let ec = &jwks["keys"][0];
    assert_eq!(
        (ec["kty"].as_str(), ec["crv"].as_str(), ec["alg"].as_str()),
        (Some("EC"), Some("P-256"), Some("ES256"))
    );
}

#[test]
fn a_published_jwk_verifies_tokens_as_an_outside_verifier_would() {
    for alg in ["EdDSA", "ES256"] {
        let (token, keys) = round_trip(alg);
        let jwk: authgate_token::Jwk =
            serde_json::from_value(keys.public_jwks()["keys"][0].clone()).unwrap();
        let from_jwk = Arc::new(
            KeySet::verifying([Key::from_jwk(&jwk, &ASYMMETRIC_ALGORITHMS).unwrap()]).unwrap(),
        );
        assert!(
            TokenVerifier::new(from_jwk, config())
                .verify(&token)
                .is_ok(),
            "{alg}"
        );
    }
}

#[test]
fn unsupported_algorithms_and_short_material_are_refused() {
    assert!(Key::from_secret_material("v", "RS256", K).is_err());
    assert!(Key::from_secret_material("v", "none", K).is_err());
    assert!(Key::from_secret_material("v", "EdDSA", b"short").is_err());
}

#[test]
fn wycheproof_ed25519_vectors_agree_with_the_verification_backend() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/wycheproof/ed25519_test.json");
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let hex = |s: &str| {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect::<Vec<u8>>()
    };
    let (mut checked, mut valid_seen, mut disagreements) = (0, 0, Vec::new());
    for group in file["testGroups"].as_array().unwrap() {
        let pk = hex(group["publicKey"]["pk"].as_str().unwrap());
        let key = jsonwebtoken::DecodingKey::from_ed_der(&pk);
        for case in group["tests"].as_array().unwrap() {
            let msg = hex(case["msg"].as_str().unwrap());
            let sig = URL_SAFE_NO_PAD.encode(hex(case["sig"].as_str().unwrap()));
            let ok =
                jsonwebtoken::crypto::verify(&sig, &msg, &key, Algorithm::EdDSA).unwrap_or(false);
            let expected = case["result"] == "valid";
            if ok != expected {
                disagreements.push(case["tcId"].as_u64().unwrap());
            }
            checked += 1;
            valid_seen += usize::from(ok);
        }
    }
    assert!(disagreements.is_empty(), "tcIds: {disagreements:?}");
    assert_eq!(checked, 151);
    assert_eq!(valid_seen, 88);
}

/// The P-256 group order, big-endian.
const P256_N: [u8; 32] = [
    0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51,
];

/// `token` with its ECDSA s replaced by n − s: the same signature's other valid encoding.
fn flip_s(token: &str) -> String {
    let (input, signature) = token.rsplit_once('.').unwrap();
    let mut raw = URL_SAFE_NO_PAD.decode(signature).unwrap();
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let d = i16::from(P256_N[i]) - i16::from(raw[32 + i]) - borrow;
        borrow = i16::from(d < 0);
        raw[32 + i] = (d + (borrow << 8)) as u8;
    }
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(raw))
}

#[test]
fn es256_tokens_are_signed_low_s_and_own_keys_refuse_the_high_s_twin() {
    let keys = Arc::new(
        KeySet::signing("v1", [Key::from_secret_material("v1", "ES256", K).unwrap()]).unwrap(),
    );
    let issuer = TokenIssuer::new(keys.clone(), "iss", "aud", Duration::from_secs(900)).unwrap();
    let own = TokenVerifier::new(keys.clone(), config());
    let jwk: authgate_token::Jwk =
        serde_json::from_value(keys.public_jwks()["keys"][0].clone()).unwrap();
    let outside = TokenVerifier::new(
        Arc::new(
            KeySet::verifying([Key::from_jwk(&jwk, &ASYMMETRIC_ALGORITHMS).unwrap()]).unwrap(),
        ),
        config(),
    );
    // ECDSA's s is random: across 64 signatures about half would be high without normalizing.
    for _ in 0..64 {
        let token = issuer
            .issue(&Subject {
                id: "u",
                email: "u@example.com",
                session: "s",
                ..Default::default()
            })
            .unwrap()
            .token;
        let signature = URL_SAFE_NO_PAD
            .decode(token.rsplit_once('.').unwrap().1)
            .unwrap();
        assert!(signature[32] < 0x80, "s is low");
        assert!(own.verify(&token).is_ok());
        let twin = flip_s(&token);
        assert_ne!(twin, token);
        assert_eq!(
            own.verify(&twin),
            Err(VerifyError::InvalidSignature),
            "one token, one encoding"
        );
        assert!(
            outside.verify(&twin).is_ok(),
            "an outside issuer's high-S signature is valid"
        );
    }
}
