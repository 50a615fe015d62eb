//! What signing and verifying one of authgate's access tokens costs in memory, per signing
//! algorithm, and how long the token is: the figures behind the default `SigningAlgorithm`.
//! `cargo bench -p authgate-token --bench verify` (token sizes are printed before the timings).

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use authgate_token::{Key, KeySet, Subject, TokenIssuer, TokenVerifier, Validation};
use criterion::{Criterion, criterion_group, criterion_main};

const ALGORITHMS: [&str; 4] = ["HS256", "EdDSA", "ES256", "RS256"];

fn issuer(alg: &str) -> (Arc<KeySet>, TokenIssuer) {
    let material = authgate_token::new_secret_material(alg).unwrap();
    let key = Key::from_secret_material("k", alg, material.as_bytes()).unwrap();
    let keys = Arc::new(KeySet::signing("k", [key]).unwrap());
    let issuer = TokenIssuer::new(keys.clone(), "iss", "aud", Duration::from_secs(900)).unwrap();
    (keys, issuer)
}

fn subject() -> Subject<'static> {
    Subject {
        id: "0b9a3c1e-8f0e-4c43-9a57-5b8f7f0d2a11",
        email: "bench@example.com",
        session: "6c1f0a57-3d2e-4b8a-9f41-0e7d5c2b9a63",
        ..Default::default()
    }
}

fn verify(c: &mut Criterion) {
    let mut group = c.benchmark_group("verify");
    for alg in ALGORITHMS {
        let (keys, issuer) = issuer(alg);
        let token = issuer.issue(&subject()).unwrap().token;
        eprintln!("{alg}: a token of {} bytes", token.len());
        let verifier = TokenVerifier::new(keys, Validation::own("iss", "aud", 30));
        group.bench_function(alg, |b| b.iter(|| verifier.verify(&token).unwrap()));
    }
    group.finish();
}

fn sign(c: &mut Criterion) {
    let mut group = c.benchmark_group("sign");
    for alg in ALGORITHMS {
        let (_, issuer) = issuer(alg);
        let subject = subject();
        group.bench_function(alg, |b| b.iter(|| issuer.issue(&subject).unwrap()));
    }
    group.finish();
}

criterion_group!(benches, verify, sign);
criterion_main!(benches);
