//! The JWKS and discovery routes, driven by `events/jwks.json` and
//! `events/openid-configuration.json`; PyJWT, an independent library, verifies authgate's EdDSA
//! and ES256 tokens with nothing but the served JWKS.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use authgate_keys::{KeyFile, KeyRing};
use authgate_testkit::{json_body, request};
use authgate_token::{Subject, TokenIssuer};
use discovery::Discovery;

async fn ring(alg: &str, dir: &tempfile::TempDir) -> Arc<KeyRing> {
    let file = KeyFile::new(dir.path().join(format!("{alg}.json"))).with_algorithm(alg);
    Arc::new(
        KeyRing::load(
            Arc::new(file),
            Duration::from_secs(300),
            Duration::from_secs(60),
        )
        .await
        .unwrap(),
    )
}

#[tokio::test]
async fn hs256_publishes_no_keys_and_discovery_points_at_the_jwks() {
    let dir = tempfile::tempdir().unwrap();
    let discovery = Discovery::new(ring("HS256", &dir).await, "urn:authgate:test");
    let jwks = discovery.handle(request("jwks.json")).await;
    assert_eq!(jwks.status(), 200);
    assert_eq!(json_body(&jwks), serde_json::json!({"keys": []}));
    assert_eq!(jwks.headers()["cache-control"], "public, max-age=300");
    let config = json_body(&discovery.handle(request("openid-configuration.json")).await);
    assert_eq!(config["issuer"], "urn:authgate:test");
    assert_eq!(
        config["jwks_uri"],
        "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/Prod/.well-known/jwks.json"
    );
}

#[tokio::test]
async fn pyjwt_verifies_eddsa_and_es256_tokens_from_the_published_jwks() {
    let python = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.tools/venv/bin/python");
    assert!(
        python.is_file(),
        "run scripts/install-tools first ({})",
        python.display()
    );
    for alg in ["EdDSA", "ES256"] {
        let dir = tempfile::tempdir().unwrap();
        let keys = ring(alg, &dir).await;
        let discovery = Discovery::new(Arc::clone(&keys), "urn:authgate:test");
        let jwks = json_body(&discovery.handle(request("jwks.json")).await);
        let config = json_body(&discovery.handle(request("openid-configuration.json")).await);
        assert_eq!(
            config["id_token_signing_alg_values_supported"],
            serde_json::json!([alg])
        );
        let token = TokenIssuer::new(
            keys.current(),
            "urn:authgate:test",
            "authgate-api",
            Duration::from_secs(900),
        )
        .unwrap()
        .issue(&Subject {
            id: "user-1",
            email: "py@example.com",
            session: "s-1",
        })
        .unwrap()
        .token;
        let script = r#"
import json, sys, jwt
jwks, token, alg = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
kid = jwt.get_unverified_header(token)["kid"]
key = jwt.PyJWKSet.from_dict(jwks)[kid]
claims = jwt.decode(token, key, algorithms=[alg], audience="authgate-api", issuer="urn:authgate:test")
tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
try:
    jwt.decode(tampered, key, algorithms=[alg], audience="authgate-api", issuer="urn:authgate:test")
    print("TAMPERED TOKEN ACCEPTED")
except jwt.InvalidSignatureError:
    pass
print(claims["sub"], claims["sid"])
"#;
        let output = Command::new(&python)
            .args(["-c", script, &jwks.to_string(), &token, alg])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{alg}: {}\n{stdout}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(stdout.trim(), "user-1 s-1", "{alg}");
    }
}
