//! `authgate client` as an operator runs it, on the embedded store of a fresh data directory:
//! a secret printed once and stored only as its hash, rotation with an overlap, disable, enable
//! and delete.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// Runs `authgate client ARGS --data-dir DIR`: success and standard output.
fn client(args: &[&str], data_dir: &Path) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_authgate"))
        .arg("client")
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("USERS_TABLE")
        .output()
        .unwrap();
    (
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn a_client_is_registered_with_a_secret_shown_once_and_managed_by_id() {
    let data = tempfile::tempdir().unwrap();
    let (ok, out) = client(
        &[
            "create",
            "--name",
            "partner",
            "--scopes",
            "items:read items:write",
        ],
        data.path(),
    );
    assert!(ok, "{out}");
    let created = json(&out);
    let id = created["client_id"].as_str().unwrap().to_owned();
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(secret.len(), 43, "256 bits in unpadded base64url");
    assert_eq!(
        created["scopes"],
        serde_json::json!(["items:read", "items:write"])
    );

    let stored = std::fs::read(data.path().join("users.redb")).unwrap();
    let holds = |needle: &str| stored.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(!holds(&secret), "the secret itself is never stored");
    assert!(
        holds(&authgate_users::sha256_hex(secret.as_bytes())),
        "its hash is"
    );

    let (ok, out) = client(&["list"], data.path());
    assert!(ok, "{out}");
    let listed = json(&out);
    assert_eq!(listed[0]["client_id"], id.as_str());
    assert!(
        !out.contains(&secret) && !out.contains("secret_hash"),
        "{out}"
    );

    let (ok, out) = client(&["rotate-secret", &id, "--overlap", "60"], data.path());
    assert!(ok, "{out}");
    let rotated = json(&out)["client_secret"].as_str().unwrap().to_owned();
    assert_ne!(rotated, secret);

    let (ok, out) = client(&["disable", &id], data.path());
    assert!(ok, "{out}");
    assert_eq!(json(&client(&["list"], data.path()).1)[0]["disabled"], true);
    let (ok, out) = client(&["enable", &id], data.path());
    assert!(ok, "{out}");
    assert_eq!(
        json(&client(&["list"], data.path()).1)[0]["disabled"],
        false
    );

    let (ok, out) = client(&["delete", &id], data.path());
    assert!(ok, "{out}");
    assert_eq!(
        json(&client(&["list"], data.path()).1),
        serde_json::json!([])
    );
    let (ok, out) = client(&["delete", &id], data.path());
    assert!(!ok, "deleting it again fails: {out}");
    let (ok, out) = client(
        &["create", "--name", "bad", "--scopes", "items read!"],
        data.path(),
    );
    assert!(!ok && out.contains("not a valid permission name"), "{out}");
}
