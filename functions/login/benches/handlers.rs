//! What login and refresh cost beyond the password hash, through the production constructors,
//! with users and sessions in memory and the default RS256 key: the login handler with a stored
//! hash of minimal Argon2 cost (so what remains is the handler: parsing, throttle, session,
//! signing), the Argon2id verification at authgate's real parameters on its own, and one refresh
//! (rotation and signing). `cargo bench -p login --bench handlers`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use argon2::password_hash::{PasswordHasher as _, SaltString};
use authgate_http::HttpHandler;
use authgate_keys::KeyRing;
use authgate_runtime::{Env, Resources};
use authgate_testkit::{json_body, request, with_body};
use authgate_token::{Key, KeySet};
use authgate_users::{
    Email, InMemoryUserStore, NewUser, Password, PasswordHash, PasswordHasher, UserStore,
};
use criterion::{Criterion, criterion_group, criterion_main};

const PASSWORD: &str = "correct horse battery staple";

fn handlers(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let k = authgate_token::new_secret_material("RS256").unwrap();
    let keys = KeySet::signing(
        "v1",
        [Key::from_secret_material("v1", "RS256", k.as_bytes()).unwrap()],
    )
    .unwrap();
    let cheap = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::new(8, 1, 1, None).unwrap(),
    )
    .hash_password(
        PASSWORD.as_bytes(),
        &SaltString::encode_b64(b"bench-salt-16by").unwrap(),
    )
    .unwrap()
    .to_string();
    let store = Arc::new(InMemoryUserStore::new());
    runtime
        .block_on(store.create(NewUser {
            email: Email::parse("alice@example.com").unwrap(),
            password_hash: PasswordHash::from_phc(cheap).unwrap(),
            roles: Default::default(),
        }))
        .unwrap();
    let env = Env::from_pairs([("TOKEN_ISSUER", "urn:bench"), ("TOKEN_AUDIENCE", "aud")]);
    let resources = Resources::new(store, Arc::new(KeyRing::fixed(keys)));
    let login = runtime.block_on(login::build(&env, &resources)).unwrap();
    let refresh = runtime.block_on(refresh::build(&env, &resources)).unwrap();

    let mut group = c.benchmark_group("handlers");
    group.sample_size(30);
    group.bench_function("login, beyond the hash (RS256)", |b| {
        b.iter(|| {
            let response = runtime.block_on(login.handle(request("login.json")));
            assert_eq!(response.status(), 200);
        })
    });
    let first = runtime.block_on(login.handle(request("login.json")));
    let mut token = json_body(&first)["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    group.bench_function("refresh (RS256)", |b| {
        b.iter(|| {
            let body = serde_json::json!({"refresh_token": token}).to_string();
            let response =
                runtime.block_on(refresh.handle(with_body(request("refresh.json"), &body)));
            assert_eq!(response.status(), 200);
            token = json_body(&response)["refresh_token"]
                .as_str()
                .unwrap()
                .to_owned();
        })
    });
    let hasher = PasswordHasher::new();
    let real = runtime
        .block_on(hasher.hash(Password::for_verification(PASSWORD)))
        .unwrap();
    group.sample_size(10);
    group.bench_function(
        "the password hash: Argon2id verify, m=19456 KiB t=2 p=1",
        |b| {
            b.iter(|| {
                let ok = runtime
                    .block_on(
                        hasher.verify(Password::for_verification(PASSWORD), Some(real.clone())),
                    )
                    .unwrap();
                assert!(ok);
            })
        },
    );
    group.finish();
}

criterion_group!(benches, handlers);
criterion_main!(benches);
