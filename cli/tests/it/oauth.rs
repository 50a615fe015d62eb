//! The OAuth endpoints through `authgate serve`, driven by a real OAuth library (Python's
//! authlib, `py/oauth_client.py`): RFC 8414 discovery, client credentials with basic and post
//! authentication, a scope subset and an invalid scope, the token on a permission-gated route,
//! introspection, revocation and then refusal; and no secret or token in the server's output.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::common::Server;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `authgate client create --name NAME --scopes SCOPES` on `data`: the id and the secret.
fn create_client(data: &Path, name: &str, scopes: &str) -> (String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_authgate"))
        .args([
            "client",
            "create",
            "--name",
            name,
            "--scopes",
            scopes,
            "--data-dir",
        ])
        .arg(data)
        .env_remove("USERS_TABLE")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let created: Value = serde_json::from_slice(&output.stdout).unwrap();
    (
        created["client_id"].as_str().unwrap().to_owned(),
        created["client_secret"].as_str().unwrap().to_owned(),
    )
}

#[test]
fn an_oauth_library_discovers_gets_uses_introspects_and_revokes_client_tokens() {
    let data = tempfile::tempdir().unwrap();
    let partner = create_client(data.path(), "partner", "users:read");
    let narrow = create_client(data.path(), "narrow", "items:read");
    let auditor = create_client(data.path(), "auditor", "tokens:introspect");
    // No authorizer cache: a revoked token is refused at once (deployed: within the cache TTL).
    let server = Server::start(data.path(), &["--authorizer-cache-ttl", "0"]);

    let output = Command::new(workspace().join(".tools/venv/bin/python"))
        .arg(workspace().join("cli/tests/it/py/oauth_client.py"))
        .args([&server.base, &partner.0, &partner.1, &narrow.0, &narrow.1])
        .args([&auditor.0, &auditor.1])
        .env("AUTHLIB_INSECURE_TRANSPORT", "1")
        .output()
        .unwrap();
    let (status, out, err) = server.interrupt();
    assert!(status.success(), "{err}");
    assert!(
        output.status.success(),
        "authlib failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: Value = serde_json::from_slice(&output.stdout).unwrap();

    let metadata = &seen["metadata"];
    assert_eq!(
        metadata["token_endpoint"],
        format!("{}/oauth2/token", server_base(&metadata["jwks_uri"]))
    );
    assert_eq!(seen["basic"]["scope"], "users:read");
    assert_eq!(
        seen["basic"]["token_type"].as_str().map(str::to_lowercase),
        Some("bearer".into())
    );
    assert_eq!(seen["basic_has_refresh_token"], false);
    assert_eq!(
        seen["post"], "users:read",
        "no scope asked: all of the client's"
    );
    assert_eq!(seen["invalid_scope"], "invalid_scope");
    assert_eq!(seen["wrong_secret"], "invalid_client");
    assert_eq!(
        seen["gated_route"], 200,
        "users:read lets the client list users"
    );
    assert_eq!(seen["gated_route_without_the_scope"], 403);
    let introspected = &seen["introspected"];
    assert_eq!(
        (
            &introspected["active"],
            &introspected["client_id"],
            &introspected["scope"]
        ),
        (&json!(true), &json!(partner.0), &json!("users:read"))
    );
    assert_eq!(seen["introspected_by_owner"], true);
    assert_eq!(seen["revoke_status"], 200);
    assert_eq!(seen["gated_route_after_revocation"], 401);
    assert_eq!(
        seen["introspected_after_revocation"],
        json!({"active": false})
    );

    for secret in [&partner.1, &narrow.1, &auditor.1] {
        let hash = authgate_users::sha256_hex(secret.as_bytes());
        for logged in [&out, &err] {
            assert!(!logged.contains(secret.as_str()), "a secret in the logs");
            assert!(!logged.contains(&hash), "a secret's hash in the logs");
        }
    }
    assert!(
        !out.contains("eyJ") && !err.contains("eyJ"),
        "no token in the logs"
    );
}

/// The base URL of a `.../.well-known/jwks.json` address.
fn server_base(jwks_uri: &Value) -> String {
    jwks_uri
        .as_str()
        .unwrap()
        .trim_end_matches("/.well-known/jwks.json")
        .to_owned()
}
