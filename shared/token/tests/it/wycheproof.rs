//! Runs Wycheproof's JWS vectors (`tests/data/wycheproof/`, with their license) through the strict JWS layer.
//!
//! Every group's key is pinned to the group JWK's own `alg`; a group whose key cannot be built
//! (an algorithm this crate does not support, or a key not meant for signatures) must reject all
//! of its cases. Upstream inconsistencies are named below, one by one, never skipped by group.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use authgate_token::jws::verify_compact;
use authgate_token::{ASYMMETRIC_ALGORITHMS, Algorithm, Jwk, Key, KeySet};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

/// Cases whose upstream label a strict verifier must overrule, with the reason.
const EXCEPTIONS: &[(u64, bool, &str)] = &[
    (
        367,
        true,
        "labelled invalid, but byte-for-byte the jws of valid tcId 357",
    ),
    (
        370,
        true,
        "labelled invalid, but byte-for-byte the jws of valid tcId 357",
    ),
    (
        372,
        false,
        "labelled valid, but contains '?', not a base64url character",
    ),
    (
        373,
        false,
        "labelled valid, but contains '?', not a base64url character",
    ),
    (
        346,
        false,
        "RFC 7520 Figure 20 is signed PS384 but the group JWK pins alg PS256",
    ),
    (
        350,
        false,
        "RFC 7520 Figure 20 is signed PS384 but the group JWK pins alg PS256",
    ),
];

fn vectors() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/wycheproof/json_web_signature_test.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).expect("vector file is JSON")
}

/// Builds the one trusted key of a group, or `None` when it is unusable for signatures here.
fn group_key(group: &Value) -> Option<Key> {
    let jwk_json = group.get("public").or_else(|| group.get("private"))?;
    if jwk_json["kty"] == "oct" {
        let alg: Algorithm = jwk_json["alg"].as_str()?.parse().ok()?;
        let secret = URL_SAFE_NO_PAD.decode(jwk_json["k"].as_str()?).ok()?;
        return Key::hmac(jwk_json["kid"].as_str()?, &secret, alg).ok();
    }
    let jwk: Jwk = serde_json::from_value(jwk_json.clone()).ok()?;
    Key::from_jwk(&jwk, &ASYMMETRIC_ALGORITHMS).ok()
}

#[test]
fn wycheproof_jws_vectors_agree_with_strict_verification() {
    let file = vectors();
    let mut checked = 0;
    let mut accepted = 0;
    let mut unsupported_groups = Vec::new();
    let mut disagreements = Vec::new();
    let mut exceptions_seen = Vec::new();

    for group in file["testGroups"].as_array().expect("testGroups") {
        let key = group_key(group);
        let keys = match &key {
            Some(key) => KeySet::verifying([key.clone()]).expect("one key"),
            None => {
                unsupported_groups.push(group["comment"].as_str().unwrap_or("?").to_owned());
                KeySet::default()
            }
        };
        for case in group["tests"].as_array().expect("tests") {
            let id = case["tcId"].as_u64().expect("tcId");
            let jws = match &case["jws"] {
                Value::String(s) => s.clone(),
                // JSON serialization: this verifier accepts the compact form only.
                other => other.to_string(),
            };
            let ok = verify_compact(&jws, &keys).is_ok();
            let labelled_valid = match case["result"].as_str() {
                Some("valid") => true,
                Some("invalid") => false,
                other => panic!("tcId {id}: unexpected result {other:?}"),
            };
            let expected = match EXCEPTIONS.iter().find(|(ex, _, _)| *ex == id) {
                Some((_, verdict, _)) => {
                    exceptions_seen.push(id);
                    *verdict
                }
                None if key.is_none() => false,
                None => labelled_valid,
            };
            if ok != expected {
                disagreements.push(format!(
                    "tcId {id} ({}): expected {expected}, got {ok}",
                    case["comment"]
                ));
            }
            checked += 1;
            accepted += usize::from(ok);
        }
    }

    assert!(
        disagreements.is_empty(),
        "disagreements:\n{}",
        disagreements.join("\n")
    );
    assert_eq!(checked, 401, "every vector is run");
    assert_eq!(
        exceptions_seen.len(),
        EXCEPTIONS.len(),
        "every named exception exists upstream"
    );
    // The valid cases of HS256, ES256, RS*, PS* and RFC 7520 really verify: not a reject-all verifier.
    assert!(accepted >= 40, "only {accepted} cases verified");
    // Only keys this crate cannot use are groups without a usable key: ES521/P-521 and encryption keys.
    for group in &unsupported_groups {
        assert!(
            [
                "rfc7520",
                "rfc7520WithKeyOps",
                "rsa_encryption",
                "ec_key_for_encryption"
            ]
            .contains(&group.as_str()),
            "group {group} unexpectedly has no usable key"
        );
    }
}
