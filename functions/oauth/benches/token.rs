//! What a client-credentials token costs the token endpoint, through the production
//! constructor, with the client in memory and the default RS256 key: form parsing, HTTP Basic,
//! the per-client throttle, the secret's hash and the signature. `cargo bench -p oauth --bench
//! token`; `scripts/cost` prices it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::sync::Arc;

use authgate_http::HttpHandler;
use authgate_keys::KeyRing;
use authgate_runtime::{Env, Resources};
use authgate_testkit::{request, with_body};
use authgate_token::{Key, KeySet};
use authgate_users::{Client, ClientStore, InMemoryUserStore, now_ms};
use base64::Engine;
use criterion::{Criterion, criterion_group, criterion_main};

fn token(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let material = authgate_token::new_secret_material("RS256").unwrap();
    let keys = KeySet::signing(
        "v1",
        [Key::from_secret_material("v1", "RS256", material.as_bytes()).unwrap()],
    )
    .unwrap();
    let store = Arc::new(InMemoryUserStore::new());
    let (client, secret) =
        Client::register("bench", BTreeSet::from(["items:read".to_owned()]), now_ms());
    runtime.block_on(store.create_client(&client)).unwrap();
    let env = Env::from_pairs([("TOKEN_ISSUER", "urn:bench"), ("TOKEN_AUDIENCE", "aud")]);
    let resources = Resources::new(store, Arc::new(KeyRing::fixed(keys)));
    let oauth = runtime.block_on(oauth::build(&env, &resources)).unwrap();
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            client.id,
            secret.as_str()
        ))
    );
    let make = || {
        let mut request = with_body(
            request("oauth-token-client-credentials.json"),
            "grant_type=client_credentials&scope=items%3Aread",
        );
        request
            .headers_mut()
            .insert("authorization", basic.parse().unwrap());
        request
    };

    let mut group = c.benchmark_group("oauth");
    group.sample_size(30);
    group.bench_function("client credentials token (RS256)", |b| {
        b.iter(|| {
            let response = runtime.block_on(oauth.handle(make()));
            assert_eq!(response.status(), 200);
        })
    });
    group.finish();
}

criterion_group!(benches, token);
criterion_main!(benches);
