//! authgate's command line, as a library so its tests drive the same code.
//!
//! - `serve`: the local API Gateway ([`gateway`]) over the routes of `template.yaml` ([`template`]);
//! - `user`: create, list, disable and enable users in whichever store `serve` would use;
//! - `token decode`: show a token's header and claims, and whether its signature verifies.

pub mod backends;
pub mod commands;
pub mod gateway;
pub mod server;
pub mod template;
