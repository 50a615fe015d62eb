//! `authgate token decode`: a token's header and claims, and whether its signature verifies.

use std::io::{BufRead, Write};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::CommandError;
use crate::backends::BackendArgs;

/// `authgate token ...`.
#[derive(Debug, clap::Subcommand)]
pub enum TokenCommand {
    /// Print a token's header and claims, and whether its signature verifies with a known key.
    Decode {
        /// The token; `-` or nothing reads it from standard input, which keeps it out of the
        /// shell's history.
        #[arg(default_value = "-")]
        token: String,
        #[command(flatten)]
        backend: BackendArgs,
    },
}

fn decode_part(part: Option<&str>, what: &str) -> Result<serde_json::Value, CommandError> {
    let part = part.ok_or_else(|| format!("token has no {what}"))?;
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| format!("token {what} is not base64url"))?;
    Ok(serde_json::from_slice(&bytes).map_err(|_| format!("token {what} is not JSON"))?)
}

/// Runs a `token` subcommand.
pub async fn token(command: TokenCommand, out: &mut impl Write) -> Result<(), CommandError> {
    let TokenCommand::Decode { token, backend } = command;
    let token = if token == "-" {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line
    } else {
        token
    };
    let token = token.trim().trim_start_matches("Bearer ").trim();
    let mut parts = token.split('.');
    let header = decode_part(parts.next(), "header")?;
    let claims = decode_part(parts.next(), "claims")?;
    writeln!(out, "header: {}", serde_json::to_string_pretty(&header)?)?;
    writeln!(out, "claims: {}", serde_json::to_string_pretty(&claims)?)?;
    if let Some(exp) = claims.get("exp").and_then(serde_json::Value::as_i64) {
        let left = exp - authgate_token::now_unix();
        if left > 0 {
            writeln!(out, "expires: in {left}s")?;
        } else {
            writeln!(out, "expires: expired {}s ago", -left)?;
        }
    }
    match backend.existing_keys().await {
        Some(keys) => match authgate_token::jws::verify_compact(token, &keys) {
            Ok(verified) => writeln!(out, "signature: valid (kid {})", verified.key.kid())?,
            Err(e) => writeln!(out, "signature: NOT valid ({e})")?,
        },
        None => writeln!(out, "signature: not checked (no key found)")?,
    }
    Ok(())
}
