//! The login fixture both test binaries build on: the handler from its production constructor,
//! on the in-memory store holding alice@example.com with the fixtures' password.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use authgate_keys::KeyRing;
use authgate_runtime::{Env, Resources};
use authgate_token::{Algorithm, Key, KeySet};
use authgate_users::contract::user_with_password;
use authgate_users::{Email, InMemoryUserStore, User, UserStore};
use login::Login;

pub const ISS: &str = "urn:authgate:test";
pub const AUD: &str = "authgate-api";

pub fn keys() -> Arc<KeySet> {
    let key = Key::hmac("v1", b"login-test-secret-of-32-bytes-min", Algorithm::HS256).unwrap();
    Arc::new(KeySet::signing("v1", [key]).unwrap())
}

pub struct Fixture {
    pub login: Login,
    pub store: Arc<InMemoryUserStore>,
}

impl Fixture {
    /// alice@example.com as the store holds her now.
    pub async fn alice(&self) -> User {
        self.store
            .get_by_email(&Email::parse("alice@example.com").unwrap())
            .await
            .unwrap()
            .unwrap()
    }
}

/// A login handler whose store holds alice@example.com with the fixtures' password.
pub async fn fixture() -> Fixture {
    fixture_with(&[]).await
}

/// [`fixture`], with more settings.
pub async fn fixture_with(settings: &[(&str, &str)]) -> Fixture {
    let store = Arc::new(InMemoryUserStore::new());
    user_with_password(
        store.as_ref(),
        "alice@example.com",
        "correct horse battery staple",
    )
    .await;
    let env = Env::from_pairs(
        [("TOKEN_ISSUER", ISS), ("TOKEN_AUDIENCE", AUD)]
            .into_iter()
            .chain(settings.iter().copied()),
    );
    let ring = Arc::new(KeyRing::fixed(Arc::unwrap_or_clone(keys())));
    Fixture {
        login: login::build(&env, &Resources::new(store.clone(), ring))
            .await
            .unwrap(),
        store,
    }
}
