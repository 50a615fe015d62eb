//! A local OIDC issuer on 127.0.0.1 (discovery document and JWKS over real HTTP), for the tests
//! of outside issuers in the OIDC crate and in the authorizer.

// Test support: a poisoned lock or a malformed fixture must stop the test loudly.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use authgate_token::{Key, KeySet, now_unix};
use axum::extract::State;
use axum::routing::get;
use serde_json::{Value, json};

/// The audience the issuer's tokens name.
pub const AUDIENCE: &str = "https://api.example.com";

/// What the local issuer serves, changeable while it runs.
pub struct IssuerState {
    pub base: String,
    pub keys: Mutex<KeySet>,
    pub strip_alg: Mutex<bool>,
    pub delay: Mutex<Duration>,
    pub fetches: AtomicUsize,
    /// Extra JWKs appended to the served set (a duplicate `kid`, padding).
    pub extra_jwks: Mutex<Vec<Value>>,
    /// Answer every request with 500 while set.
    pub failing: Mutex<bool>,
}

pub struct LocalIssuer {
    /// What it serves.
    pub state: Arc<IssuerState>,
    /// Its `iss`.
    pub issuer: String,
}

type Answer = Result<axum::Json<Value>, axum::http::StatusCode>;

async fn discovery(State(state): State<Arc<IssuerState>>) -> Answer {
    let delay = *state.delay.lock().unwrap();
    tokio::time::sleep(delay).await;
    state.fetches.fetch_add(1, Ordering::SeqCst);
    if *state.failing.lock().unwrap() {
        return Err(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
    }
    Ok(axum::Json(
        json!({"issuer": format!("{}/", state.base), "jwks_uri": format!("{}/keys", state.base)}),
    ))
}

async fn jwks(State(state): State<Arc<IssuerState>>) -> Answer {
    if *state.failing.lock().unwrap() {
        return Err(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
    }
    let mut jwks = state.keys.lock().unwrap().public_jwks();
    if *state.strip_alg.lock().unwrap() {
        for key in jwks["keys"].as_array_mut().unwrap() {
            key.as_object_mut().unwrap().remove("alg");
        }
    }
    let extra = state.extra_jwks.lock().unwrap().clone();
    jwks["keys"].as_array_mut().unwrap().extend(extra);
    Ok(axum::Json(jwks))
}

/// A P-256 key with id `kid`.
pub fn es256(kid: &str) -> Key {
    Key::from_secret_material(
        kid,
        "ES256",
        format!("seed-of-{kid}-padded-well-past-32-bytes").as_bytes(),
    )
    .unwrap()
}

/// Starts an issuer on a free 127.0.0.1 port, serving until the test's runtime ends.
pub async fn start_issuer() -> LocalIssuer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let state = Arc::new(IssuerState {
        base: base.clone(),
        keys: Mutex::new(KeySet::signing("k1", [es256("k1")]).unwrap()),
        strip_alg: Mutex::new(false),
        delay: Mutex::new(Duration::ZERO),
        fetches: AtomicUsize::new(0),
        extra_jwks: Mutex::new(Vec::new()),
        failing: Mutex::new(false),
    });
    let app = axum::Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/keys", get(jwks))
        .with_state(Arc::clone(&state));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    LocalIssuer {
        state,
        issuer: format!("{base}/"),
    }
}

impl LocalIssuer {
    /// Claims of a valid access token of this issuer for [`AUDIENCE`].
    pub fn claims(&self) -> Value {
        let now = now_unix();
        json!({"iss": self.issuer, "sub": "auth0|123", "aud": [AUDIENCE, "https://tenant/userinfo"],
               "iat": now, "exp": now + 600, "scope": "openid read:items", "permissions": ["read:items", "write:items"]})
    }

    /// `claims` signed with the issuer's current key, `typ: JWT` as Auth0 sets it.
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_typed(Some("JWT"), claims)
    }

    /// `claims` signed with the issuer's current key and the `typ` header `typ`.
    pub fn sign_typed(&self, typ: Option<&str>, claims: &Value) -> String {
        self.state
            .keys
            .lock()
            .unwrap()
            .signing_key()
            .unwrap()
            .sign(typ, claims)
            .unwrap()
    }
}
