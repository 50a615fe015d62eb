//! What verifying one of authgate's access tokens costs in memory, per signing algorithm: the
//! figure behind the choice of `SigningAlgorithm`. `cargo bench -p authgate-token --bench verify`.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use authgate_token::{Key, KeySet, Subject, TokenIssuer, TokenVerifier, Validation};
use criterion::{Criterion, criterion_group, criterion_main};

fn verify(c: &mut Criterion) {
    let mut group = c.benchmark_group("verify");
    for alg in ["HS256", "EdDSA", "ES256", "RS256"] {
        let material = if alg == "RS256" {
            authgate_token::generate_rs256_material().unwrap()
        } else {
            format!("{alg}-bench-material-of-sixty-four-characters-or-so-0123456789")
        };
        let key = Key::from_secret_material("k", alg, material.as_bytes()).unwrap();
        let keys = Arc::new(KeySet::signing("k", [key]).unwrap());
        let token = TokenIssuer::new(keys.clone(), "iss", "aud", Duration::from_secs(900))
            .unwrap()
            .issue(&Subject {
                id: "0b9a3c1e-8f0e-4c43-9a57-5b8f7f0d2a11",
                email: "bench@example.com",
                session: "6c1f0a57-3d2e-4b8a-9f41-0e7d5c2b9a63",
                ..Default::default()
            })
            .unwrap()
            .token;
        let verifier = TokenVerifier::new(keys, Validation::own("iss", "aud", 30));
        group.bench_function(alg, |b| b.iter(|| verifier.verify(&token).unwrap()));
    }
    group.finish();
}

criterion_group!(benches, verify);
criterion_main!(benches);
