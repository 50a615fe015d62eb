//! `authgate`: run the API locally, administer users, inspect tokens.

use std::io::IsTerminal;

use clap::{Parser, Subcommand};

use authgate::client::ClientCommand;
use authgate::serve::ServeArgs;
use authgate::token::TokenCommand;
use authgate::user::UserCommand;

#[derive(Parser)]
#[command(
    name = "authgate",
    version,
    about = "Self-hosted authentication for API Gateway and Lambda"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API of template.yaml locally, authorizer included (no Docker, no AWS).
    Serve(Box<ServeArgs>),
    /// Administer users.
    #[command(subcommand)]
    User(UserCommand),
    /// Administer OAuth clients (machine-to-machine).
    #[command(subcommand)]
    Client(ClientCommand),
    /// Inspect tokens.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,aws=warn")),
        )
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let mut out = std::io::stdout();
    let result = match Cli::parse().command {
        Command::Serve(args) => authgate::serve::serve(*args).await,
        Command::User(command) => authgate::user::user(command, &mut out).await,
        Command::Client(command) => authgate::client::client(command, &mut out).await,
        Command::Token(command) => authgate::token::token(command, &mut out).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", authgate_http::error_chain(error.as_ref()));
            std::process::ExitCode::FAILURE
        }
    }
}
