//! authgate's command line, as a library so its tests drive the same code.
//!
//! - `serve`: the local API Gateway ([`serve::gateway`]) over the routes of `template.yaml`
//!   ([`serve::template`]), with the functions' settings as flags ([`settings`]);
//! - `user`: create, list, disable and enable users in whichever store `serve` would use;
//! - `client`: register, list, rotate, disable, enable and delete OAuth clients;
//! - `token decode`: show a token's header and claims, and whether its signature verifies.

pub mod backends;
pub mod client;
pub mod serve;
pub mod settings;
pub mod token;
pub mod user;

/// Any failure of a command; `main` prints it with its causes.
pub type CommandError = Box<dyn std::error::Error + Send + Sync>;
