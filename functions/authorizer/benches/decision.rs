//! One authorizer decision in process, as issue 12 measures it: a REST `TOKEN` event as JSON
//! text in, the policy as JSON text out, an HS256 token, the session in memory, built by the
//! production constructor. Beside it, its parts: serializing the answer (and escaping the
//! JSON-encoded claims in it), parsing the event, verifying the token, the session check, and the
//! runtime's `block_on` that the decision and the session check pay each iteration.
//! `cargo bench -p authorizer --bench decision`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use authgate_keys::KeyRing;
use authgate_runtime::{Env, EventHandler, Resources};
use authgate_token::{Algorithm, Key, KeySet, Subject, TokenIssuer, TokenVerifier, Validation};
use authgate_users::{InMemoryUserStore, SessionStore, now_ms};
use criterion::{Criterion, criterion_group, criterion_main};

const ISS: &str = "urn:authgate:bench";
const AUD: &str = "authgate-api";

fn decision(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let keys =
        KeySet::signing("v1", [Key::hmac("v1", &[7; 32], Algorithm::HS256).unwrap()]).unwrap();
    let store = Arc::new(InMemoryUserStore::new());
    let (user, session, _) = runtime.block_on(authgate_users::contract::user_with_session(
        store.as_ref(),
        now_ms(),
    ));
    let env = Env::from_pairs([("TOKEN_ISSUER", ISS), ("TOKEN_AUDIENCE", AUD)]);
    let authorizer = runtime
        .block_on(authorizer::build(
            &env,
            &Resources::new(store.clone(), Arc::new(KeyRing::fixed(keys.clone()))),
        ))
        .unwrap();
    let (id, sid) = (user.id.to_string(), session.id.to_string());
    let token = TokenIssuer::new(Arc::new(keys.clone()), ISS, AUD, Duration::from_secs(3600))
        .unwrap()
        .issue(&Subject {
            id: &id,
            email: user.email.as_str(),
            session: &sid,
            ..Default::default()
        })
        .unwrap()
        .token;
    let event =
        authgate_testkit::event("authorizer.json").replace("REPLACE_WITH_AN_ACCESS_TOKEN", &token);
    assert!(event.contains(&token), "the fixture takes the token");

    let mut group = c.benchmark_group("authorizer");
    group.bench_function("decision: event JSON in, policy JSON out", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let event: authorizer::Event = serde_json::from_str(&event).unwrap();
                let policy = authorizer.handle(event).await.unwrap();
                serde_json::to_string(&policy).unwrap()
            })
        })
    });
    let answer = runtime.block_on(async {
        let event: authorizer::Event = serde_json::from_str(&event).unwrap();
        authorizer.handle(event).await.unwrap()
    });
    group.bench_function("part: serialize the answer", |b| {
        b.iter(|| serde_json::to_string(&answer).unwrap())
    });
    let claims = match &answer {
        authorizer::Answer::Policy(policy) => policy.context.claims.clone(),
        authorizer::Answer::Simple { context, .. } => context.claims.clone(),
    };
    group.bench_function("part: escape the context's claims", |b| {
        b.iter(|| serde_json::to_string(&claims).unwrap())
    });
    group.bench_function("part: take in the event's JSON", |b| {
        b.iter(|| serde_json::from_str::<authorizer::Event>(&event).unwrap())
    });
    let read = serde_json::from_str::<authorizer::Event>(&event).unwrap();
    group.bench_function("part: read the event's members", |b| {
        b.iter(|| authorizer::AuthorizerEvent::read(&read).unwrap())
    });
    let verifier = TokenVerifier::new(Arc::new(keys), Validation::own(ISS, AUD, 30));
    group.bench_function("part: verify the token", |b| {
        b.iter(|| verifier.verify(&token).unwrap())
    });
    group.bench_function("part: session check in memory", |b| {
        b.iter(|| runtime.block_on(store.state(session.id, user.id)).unwrap())
    });
    group.bench_function(
        "part: block_on of a ready future (the harness's own cost)",
        |b| b.iter(|| runtime.block_on(async { std::hint::black_box(1) })),
    );
    let signing = token.rsplit_once('.').unwrap().0;
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &[7; 32]);
    group.bench_function("peer: bare HMAC-SHA256 over the signed part", |b| {
        b.iter(|| aws_lc_rs::hmac::sign(&key, signing.as_bytes()))
    });
    group.finish();
}

criterion_group!(benches, decision);
criterion_main!(benches);
