//! The command line's tests in one binary: the local gateway, `authgate serve` as a process,
//! the README's quick start, the settings, the template's policies, and the OAuth endpoints
//! through a real OAuth library.
mod client;
mod common;
mod gateway;
mod oauth;
mod readme;
mod serve;
mod settings;
mod template_policies;
