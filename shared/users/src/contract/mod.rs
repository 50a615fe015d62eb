//! The behaviour every `UserStore` must show, as reusable test functions.
//!
//! `user_store_contract_tests!(make_store)` expands to one `#[tokio::test]` per rule, so each
//! backend's test run names exactly which rule it breaks. One module per store trait; the rules
//! are re-exported here, where the macros find them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::{Email, NewUser, PasswordHash, StoreError, UserStore};

/// A syntactically valid PHC string; the store never interprets it.
const PHC: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE";

fn unique_email(tag: &str) -> Email {
    Email::parse(&format!(
        "{tag}.{}@Example.COM",
        uuid::Uuid::new_v4().simple()
    ))
    .unwrap()
}

fn new_user(email: &Email) -> NewUser {
    NewUser {
        email: email.clone(),
        password_hash: PasswordHash::from_phc(PHC).unwrap(),
        roles: Default::default(),
    }
}

mod action_tokens;
mod api_keys;
mod clients;
mod interleaved;
mod sessions;
mod throttle;
mod token_checks;
mod users;

pub use action_tokens::*;
pub use api_keys::*;
pub use clients::*;
pub use interleaved::Interleaved;
pub use sessions::*;
pub use throttle::*;
pub use token_checks::*;
pub use users::*;

/// A user `email` whose stored hash is the real Argon2id hash of `password`, for the tests
/// that log in or check a password.
pub async fn user_with_password<S: UserStore + ?Sized>(
    store: &S,
    email: &str,
    password: &str,
) -> crate::User {
    let password_hash = crate::PasswordHasher::new()
        .hash(crate::Password::for_verification(password))
        .await
        .expect("hash");
    store
        .create(crate::NewUser {
            email: crate::Email::parse(email).expect("email"),
            password_hash,
            roles: Default::default(),
        })
        .await
        .expect("create")
}

/// A user with a live session (started at `now` ms, for an hour) and its first refresh token
/// (ten minutes), stored in `store`: the starting point of most session tests, here and elsewhere.
pub async fn user_with_session<S: UserStore + crate::SessionStore + ?Sized>(
    store: &S,
    now: i64,
) -> (crate::User, crate::Session, crate::RefreshToken) {
    let user = store
        .create(new_user(&unique_email("session")))
        .await
        .expect("create");
    let session = crate::Session {
        id: uuid::Uuid::new_v4(),
        user_id: user.id,
        created_at_ms: now,
        expires_at_ms: now + 3_600_000,
        revoked: false,
    };
    let token = crate::RefreshToken::generate();
    store
        .start(&session, &token.hash(), now + 600_000, &user)
        .await
        .expect("start");
    (user, session, token)
}
