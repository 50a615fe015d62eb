//! The command line's tests in one binary: the local gateway, `authgate serve` as a process,
//! the README's quick start, the settings and the template's policies.
mod client;
mod common;
mod gateway;
mod readme;
mod serve;
mod settings;
mod template_policies;
