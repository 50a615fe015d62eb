//! The password policy's cost per check, the common-password lookup included: `cargo bench -p
//! authgate-users --bench password_policy`.

#![allow(clippy::unwrap_used)]

use authgate_users::{Email, PasswordPolicy};
use criterion::{Criterion, criterion_group, criterion_main};

fn policy(c: &mut Criterion) {
    let policy = PasswordPolicy::default();
    let email = Email::parse("alice@example.com").unwrap();
    c.bench_function("policy: accepted passphrase", |b| {
        b.iter(|| policy.check("correct horse battery staple", &email).is_ok())
    });
    c.bench_function("policy: common password refused", |b| {
        b.iter(|| policy.check("Password123", &email).is_err())
    });
}

criterion_group!(benches, policy);
criterion_main!(benches);
