//! RS256 keys: random RSA-2048 material in the secret, tokens that verify with the pinned key and
//! with the published JWK alone (as API Gateway's native JWT authorizer or any JWKS consumer would),
//! and nothing that is not such a key accepted.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use authgate_token::{
    Algorithm, Jwk, Key, KeySet, Subject, TokenIssuer, TokenVerifier, Validation, VerifyError,
    generate_rs256_material,
};

fn signed(keys: Arc<KeySet>) -> String {
    TokenIssuer::new(keys, "iss", "aud", Duration::from_secs(900))
        .unwrap()
        .issue(&Subject {
            id: "u",
            email: "u@example.com",
            session: "s",
            ..Default::default()
        })
        .unwrap()
        .token
}

#[test]
fn rs256_tokens_verify_with_the_key_and_with_its_published_jwk_alone() {
    let k = generate_rs256_material().unwrap();
    let key = Key::from_secret_material("v1", "RS256", k.as_bytes()).unwrap();
    assert_eq!(key.algorithm(), Algorithm::RS256);
    let jwk = key.public_jwk().unwrap().clone();
    assert_eq!(jwk["kty"], "RSA");
    assert_eq!(jwk["alg"], "RS256");
    assert_eq!(jwk["kid"], "v1");
    assert!(jwk.get("d").is_none(), "the public half only");
    let keys = Arc::new(KeySet::signing("v1", [key]).unwrap());
    let token = signed(keys.clone());
    let validation = Validation::own("iss", "aud", 30);
    assert!(
        TokenVerifier::new(keys, validation.clone())
            .verify(&token)
            .is_ok()
    );

    let published: Jwk = serde_json::from_value(jwk).unwrap();
    let public = Key::from_jwk(&published, &[Algorithm::RS256]).unwrap();
    let verifying = Arc::new(KeySet::verifying([public]).unwrap());
    assert!(
        TokenVerifier::new(verifying, validation)
            .verify(&token)
            .is_ok(),
        "the JWK alone verifies"
    );
}

#[test]
fn a_token_of_another_rsa_key_or_a_short_or_malformed_key_is_refused() {
    let one =
        Key::from_secret_material("v1", "RS256", generate_rs256_material().unwrap().as_bytes())
            .unwrap();
    let other =
        Key::from_secret_material("v1", "RS256", generate_rs256_material().unwrap().as_bytes())
            .unwrap();
    let token = signed(Arc::new(KeySet::signing("v1", [one]).unwrap()));
    let err = TokenVerifier::new(
        Arc::new(KeySet::signing("v1", [other]).unwrap()),
        Validation::own("iss", "aud", 30),
    )
    .verify(&token)
    .unwrap_err();
    assert_eq!(err, VerifyError::InvalidSignature);
    for bad in ["", "random-material-is-not-an-rsa-key-0123456789abcdef"] {
        assert!(
            Key::from_secret_material("v1", "RS256", bad.as_bytes()).is_err(),
            "{bad:?}"
        );
    }
}

#[test]
fn pyjwt_verifies_rs256_tokens_from_the_jwks_with_kid_iss_aud_and_exp() {
    let python =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.tools/venv/bin/python");
    assert!(
        python.is_file(),
        "run scripts/install-tools first ({})",
        python.display()
    );
    let key =
        Key::from_secret_material("v7", "RS256", generate_rs256_material().unwrap().as_bytes())
            .unwrap();
    let keys = Arc::new(KeySet::signing("v7", [key]).unwrap());
    let jwks = keys.public_jwks();
    let token = signed(Arc::clone(&keys));
    let expired = TokenIssuer::new(Arc::clone(&keys), "iss", "aud", Duration::from_secs(900))
        .unwrap()
        .issue_at(
            &Subject {
                id: "u",
                email: "u@example.com",
                session: "s",
                ..Default::default()
            },
            authgate_token::now_unix() - 3600,
        )
        .unwrap()
        .token;
    let script = r#"
import json, sys, time, jwt
jwks, token, expired = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
kid = jwt.get_unverified_header(token)["kid"]
key = jwt.PyJWKSet.from_dict(jwks)[kid]
claims = jwt.decode(token, key, algorithms=["RS256"], audience="aud", issuer="iss",
                    options={"require": ["exp", "iss", "aud", "sub"]})
for audience, issuer in [("other", "iss"), ("aud", "other")]:
    try:
        jwt.decode(token, key, algorithms=["RS256"], audience=audience, issuer=issuer)
        print("WRONG CLAIM ACCEPTED")
    except (jwt.InvalidAudienceError, jwt.InvalidIssuerError):
        pass
try:
    jwt.decode(expired, key, algorithms=["RS256"], audience="aud", issuer="iss")
    print("EXPIRED TOKEN ACCEPTED")
except jwt.ExpiredSignatureError:
    pass
print(kid, claims["sub"])
"#;
    let output = std::process::Command::new(&python)
        .args(["-c", script, &jwks.to_string(), &token, &expired])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(stdout.trim(), "v7 u");
}
