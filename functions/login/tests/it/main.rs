//! The login handler's tests. The log-capture test has a binary of its own (`tests/logging.rs`).
#[path = "../common/mod.rs"]
mod common;
mod handler;
