//! The JWKS and discovery routes, driven by `events/jwks.json` and
//! `events/openid-configuration.json`; PyJWT, an independent library, verifies authgate's RS256,
//! EdDSA and ES256 tokens with nothing but the served JWKS; deployed, the function reads only the
//! public keys the rotation function published.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use authgate_http::HttpHandler;
use authgate_keys::{KeyFile, KeyRing};
use authgate_runtime::{Env, Resources};
use authgate_testkit::{json_body, request};
use authgate_token::{Subject, TokenIssuer};
use discovery::Discovery;

/// The discovery function as every deployment builds it, on `keys`.
async fn discovery_on(keys: Arc<KeyRing>) -> Discovery {
    let env = Env::from_pairs([("TOKEN_ISSUER", "urn:authgate:test")]);
    let store = Arc::new(authgate_users::InMemoryUserStore::new());
    discovery::build(&env, &Resources::new(store, keys))
        .await
        .unwrap()
}

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
    let discovery = discovery_on(ring("HS256", &dir).await).await;
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
async fn the_oauth_metadata_names_the_endpoints_grants_auth_methods_and_scopes() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::from_pairs([
        ("TOKEN_ISSUER", "urn:authgate:test"),
        ("ROLES", r#"{"editor": ["items:read", "items:write"]}"#),
    ]);
    let store = Arc::new(authgate_users::InMemoryUserStore::new());
    let discovery = discovery::build(&env, &Resources::new(store, ring("ES256", &dir).await))
        .await
        .unwrap();
    let rfc_8414 = lambda_http::request::from_str(
        &authgate_testkit::event("openid-configuration.json")
            .replace("openid-configuration", "oauth-authorization-server"),
    )
    .unwrap();
    let oauth = json_body(&discovery.handle(rfc_8414).await);
    let openid = json_body(&discovery.handle(request("openid-configuration.json")).await);
    assert_eq!(oauth, openid, "one document at both addresses");
    let base = "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/Prod";
    for (member, path) in [
        ("token_endpoint", "/oauth2/token"),
        ("revocation_endpoint", "/oauth2/revoke"),
        ("introspection_endpoint", "/oauth2/introspect"),
    ] {
        assert_eq!(oauth[member], format!("{base}{path}"), "{member}");
    }
    assert_eq!(
        oauth["grant_types_supported"],
        serde_json::json!(["client_credentials", "password", "refresh_token"])
    );
    assert_eq!(
        oauth["token_endpoint_auth_methods_supported"],
        serde_json::json!(["client_secret_basic", "client_secret_post", "none"])
    );
    assert_eq!(
        oauth["introspection_endpoint_auth_methods_supported"],
        serde_json::json!(["client_secret_basic", "client_secret_post"])
    );
    assert_eq!(
        oauth["scopes_supported"],
        serde_json::json!([
            "clients:read",
            "clients:write",
            "items:read",
            "items:write",
            "users:read",
            "users:roles",
            "users:write"
        ])
    );
}

#[tokio::test]
async fn urls_follow_the_scheme_domain_and_base_path_the_client_used() {
    let dir = tempfile::tempdir().unwrap();
    let discovery = discovery_on(ring("HS256", &dir).await).await;
    let with = |domain: &str, path: &str, proto: &str| {
        let text = authgate_testkit::event("openid-configuration.json")
            .replace("a1b2c3d4e5.execute-api.us-east-1.amazonaws.com", domain)
            .replace(
                "\"/Prod/.well-known/openid-configuration\"",
                &format!("\"{path}\""),
            )
            .replace(
                "\"X-Forwarded-Proto\": \"https\"",
                &format!("\"X-Forwarded-Proto\": \"{proto}\""),
            );
        lambda_http::request::from_str(&text).unwrap()
    };
    for (request, expected) in [
        (
            with(
                "auth.example.com",
                "/.well-known/openid-configuration",
                "https",
            ),
            "https://auth.example.com/.well-known/jwks.json",
        ),
        (
            with(
                "auth.example.com",
                "/v1/.well-known/openid-configuration",
                "https",
            ),
            "https://auth.example.com/v1/.well-known/jwks.json",
        ),
        (
            with(
                "127.0.0.1:3000",
                "/.well-known/openid-configuration",
                "http",
            ),
            "http://127.0.0.1:3000/.well-known/jwks.json",
        ),
        (
            with(
                "localhost",
                "/Prod/.well-known/openid-configuration",
                "https",
            ),
            "https://localhost/Prod/.well-known/jwks.json",
        ),
        (
            with("[::1]:3000", "/.well-known/openid-configuration", "http"),
            "http://[::1]:3000/.well-known/jwks.json",
        ),
        // A client's X-Forwarded-Proto must not put http into a publicly cached document.
        (
            with(
                "auth.example.com",
                "/.well-known/openid-configuration",
                "http",
            ),
            "https://auth.example.com/.well-known/jwks.json",
        ),
        (
            with(
                "127.0.0.1.evil.example",
                "/.well-known/openid-configuration",
                "http",
            ),
            "https://127.0.0.1.evil.example/.well-known/jwks.json",
        ),
    ] {
        let config = json_body(&discovery.handle(request).await);
        assert_eq!(config["jwks_uri"], expected);
    }
}

#[tokio::test]
async fn pyjwt_verifies_rs256_eddsa_and_es256_tokens_from_the_published_jwks() {
    let python = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.tools/venv/bin/python");
    assert!(
        python.is_file(),
        "run scripts/install-tools first ({})",
        python.display()
    );
    for alg in ["RS256", "EdDSA", "ES256"] {
        let dir = tempfile::tempdir().unwrap();
        let keys = ring(alg, &dir).await;
        let discovery = discovery_on(Arc::clone(&keys)).await;
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
            ..Default::default()
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

#[tokio::test]
async fn deployed_it_serves_the_published_public_keys_without_the_signing_secret() {
    let k = authgate_token::new_secret_material("RS256").unwrap();
    let key = authgate_token::Key::from_secret_material("v1", "RS256", k.as_bytes()).unwrap();
    let jwks = authgate_token::KeySet::signing("v1", [key])
        .unwrap()
        .public_jwks();
    let public = authgate_testkit::unique_name("public-keys");
    authgate_testkit::secrets_client()
        .await
        .create_secret()
        .name(&public)
        .secret_string(jwks.to_string())
        .send()
        .await
        .unwrap();
    let sdk = authgate_testkit::sdk_config(&authgate_testkit::moto().endpoint).await;
    let env = Env::from_pairs([
        ("TOKEN_ISSUER", "urn:authgate:test"),
        ("PUBLIC_KEYS_SECRET_ID", public.as_str()),
    ]);
    let discovery = discovery::build(&env, &authgate_runtime::AwsBackend::new(sdk))
        .await
        .expect("no SIGNING_KEY_SECRET_ID needed");
    let served = json_body(&discovery.handle(request("jwks.json")).await);
    assert_eq!(served, jwks);
    assert!(served["keys"][0].get("d").is_none());
}
