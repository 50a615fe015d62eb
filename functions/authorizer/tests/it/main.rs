//! The authorizer's tests in one binary: every event kind, the TOKEN handler, outside issuers,
//! and the binary under a Lambda Runtime API.
mod event_kinds;
mod handler;
mod outside;
mod runtime_api;
