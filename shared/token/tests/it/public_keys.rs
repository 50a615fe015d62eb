//! What a verifier holds: the public halves of authgate's asymmetric keys, from the JWK Set the
//! rotation function publishes, verifying exactly what the full keys verify and signing nothing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use authgate_token::{
    Key, KeyError, KeySet, SignError, Subject, TokenIssuer, TokenVerifier, Validation,
    new_secret_material,
};

fn key(kid: &str, alg: &str) -> Key {
    let k = new_secret_material(alg).unwrap();
    Key::from_secret_material(kid, alg, k.as_bytes()).unwrap()
}

fn token(keys: Arc<KeySet>) -> Result<String, SignError> {
    Ok(
        TokenIssuer::new(keys, "iss", "aud", Duration::from_secs(900))?
            .issue(&Subject {
                id: "u",
                email: "u@example.com",
                session: "s",
                ..Default::default()
            })?
            .token,
    )
}

fn verifies(keys: KeySet, token: &str) -> bool {
    TokenVerifier::new(Arc::new(keys), Validation::own("iss", "aud", 30))
        .verify(token)
        .is_ok()
}

#[test]
fn the_published_jwks_verifies_every_asymmetric_algorithm_and_signs_nothing() {
    for alg in ["EdDSA", "ES256", "RS256"] {
        let full = KeySet::signing("v2", [key("v1", alg), key("v2", alg)]).unwrap();
        let signed = token(Arc::new(full.clone())).unwrap();

        let published = KeySet::from_public_jwks(&full.public_jwks()).unwrap();
        assert_eq!(published.kids(), ["v1", "v2"], "{alg}");
        assert!(verifies(published.clone(), &signed), "{alg}");
        assert!(published.signing_key().is_none(), "{alg}");
        assert!(!published.get("v2").unwrap().can_sign(), "{alg}");
        assert_eq!(
            published.public_jwks(),
            full.public_jwks(),
            "{alg}: republished as it came"
        );

        let halves = full.public_only();
        assert!(verifies(halves.clone(), &signed), "{alg}");
        assert!(!halves.get("v2").unwrap().can_sign(), "{alg}");
        assert!(
            matches!(
                KeySet::signing("v2", halves.get("v2").cloned()),
                Err(KeyError::SigningKeyMissing(_))
            ),
            "{alg}: a public half cannot become a signing key"
        );
    }
}

#[test]
fn an_hmac_key_stays_whole_for_its_verifier_and_is_never_published() {
    let full = KeySet::signing("v1", [key("v1", "HS256")]).unwrap();
    let signed = token(Arc::new(full.clone())).unwrap();
    assert!(verifies(full.public_only(), &signed));
    assert_eq!(full.public_jwks()["keys"].as_array().unwrap().len(), 0);
}

#[test]
fn a_published_set_with_a_key_authgate_could_not_have_made_is_refused() {
    let good = key("v1", "EdDSA").public_jwk().unwrap().clone();
    let mut no_alg = good.clone();
    no_alg.as_object_mut().unwrap().remove("alg");
    let mut other_alg = key("v2", "RS256").public_jwk().unwrap().clone();
    other_alg["alg"] = "RS512".into();
    let symmetric = serde_json::json!({"kty": "oct", "k": "c2VjcmV0", "kid": "v3", "alg": "HS256"});
    for bad in [no_alg, other_alg, symmetric] {
        let jwks = serde_json::json!({"keys": [good.clone(), bad.clone()]});
        assert!(KeySet::from_public_jwks(&jwks).is_err(), "{bad}");
    }
    assert!(KeySet::from_public_jwks(&serde_json::json!({"no": "keys"})).is_err());
    assert!(
        KeySet::from_public_jwks(&serde_json::json!({"keys": []}))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn new_material_is_random_and_fits_its_algorithm() {
    for alg in ["HS256", "EdDSA", "ES256", "RS256"] {
        let (a, b) = (
            new_secret_material(alg).unwrap(),
            new_secret_material(alg).unwrap(),
        );
        assert_ne!(a, b, "{alg}");
        assert!(Key::from_secret_material("k", alg, a.as_bytes()).is_ok());
    }
    assert!(matches!(
        new_secret_material("none"),
        Err(KeyError::UnsupportedAlgorithm(_))
    ));
}
