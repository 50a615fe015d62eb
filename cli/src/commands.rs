//! The subcommands.

use std::collections::HashMap;
use std::io::{BufRead, IsTerminal, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use authgate_config::SessionSettings;
use authgate_keys::KeyRing;
use authgate_token::{TokenIssuer, TokenVerifier, VerifierConfig};
use authgate_users::{Email, NewUser, Password, PasswordHasher, SessionStore, UserId, UserStore};
use authorizer::Authorizer;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use lambda_http::Request;

use crate::backends::BackendArgs;
use crate::gateway::{AuthorizerFunction, Gateway, HttpFunction};
use crate::template::{ApiSpec, TEMPLATE};

/// Any failure of a command; `main` prints it with its causes.
pub type CommandError = Box<dyn std::error::Error + Send + Sync>;

/// What tokens say, for `serve` (the template's parameters, with local defaults).
#[derive(Debug, Clone, clap::Args)]
pub struct TokenArgs {
    /// `iss` of issued tokens.
    #[arg(long, env = "TOKEN_ISSUER", default_value = "urn:authgate:local")]
    pub issuer: String,
    /// `aud` of issued tokens (default: the template's TokenAudience default).
    #[arg(long, env = "TOKEN_AUDIENCE")]
    pub audience: Option<String>,
    /// Access-token lifetime in seconds.
    #[arg(long, env = "ACCESS_TOKEN_TTL_SECONDS", default_value_t = 900)]
    pub access_token_ttl: u64,
    /// Clock-skew leeway in seconds.
    #[arg(long, env = "TOKEN_LEEWAY_SECONDS", default_value_t = authgate_token::DEFAULT_LEEWAY_SECS)]
    pub leeway: u64,
    /// Outside OIDC issuers whose tokens the authorizer also accepts (JSON, as the template's
    /// TrustedIssuers parameter).
    #[arg(long, env = "TRUSTED_ISSUERS", default_value = "")]
    pub trusted_issuers: String,
    /// Session and refresh-token lifetimes (the Lambdas' defaults).
    #[arg(skip)]
    pub sessions: SessionSettings,
}

/// Flags of `authgate serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: std::net::IpAddr,
    /// Port to listen on.
    #[arg(long, short, env = "PORT", default_value_t = 3000)]
    pub port: u16,
    /// Authorizer result cache TTL in seconds (default: the template's).
    #[arg(long)]
    pub authorizer_cache_ttl: Option<u64>,
    #[command(flatten)]
    pub token: TokenArgs,
    #[command(flatten)]
    pub backend: BackendArgs,
}

fn function<F, Fut>(f: F) -> HttpFunction
where
    F: Fn(Request) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = lambda_http::Response<lambda_http::Body>> + Send + 'static,
{
    Arc::new(move |request| Box::pin(f(request)))
}

/// Builds the gateway with the real handlers over `store` and `keys`.
pub fn build_gateway(
    store: Arc<dyn UserStore>,
    sessions: Arc<dyn SessionStore>,
    ring: Arc<KeyRing>,
    token: &TokenArgs,
    cache_ttl: Option<Duration>,
) -> Result<Gateway, CommandError> {
    let spec = ApiSpec::parse(TEMPLATE)?;
    let audience = token
        .audience
        .clone()
        .or_else(|| spec.parameter_defaults.get("TokenAudience").cloned())
        .unwrap_or_else(|| "authgate-api".into());
    let keys = ring.current();
    let hasher = PasswordHasher::new();
    let issuer = TokenIssuer::new(
        Arc::clone(&keys),
        token.issuer.clone(),
        audience.clone(),
        Duration::from_secs(token.access_token_ttl),
    )?;
    let verifier = TokenVerifier::new(
        keys,
        VerifierConfig {
            issuer: token.issuer.clone(),
            audience,
            leeway_secs: token.leeway,
        },
    );
    let settings = token.sessions;
    let register = Arc::new(register::Register::new(Arc::clone(&store), hasher.clone()));
    let login = Arc::new(
        login::Login::new(
            Arc::clone(&store),
            Arc::clone(&sessions),
            hasher,
            issuer.clone(),
            settings,
        )
        .with_key_ring(Arc::clone(&ring)),
    );
    let refresh = Arc::new(
        refresh::Refresh::new(Arc::clone(&store), Arc::clone(&sessions), issuer, settings)
            .with_key_ring(Arc::clone(&ring)),
    );
    let discovery = Arc::new(discovery::Discovery::new(
        Arc::clone(&ring),
        token.issuer.clone(),
    ));
    let logout = Arc::new(logout::Logout::new(Arc::clone(&sessions)));
    let me = Arc::new(me::Me::new(store));
    let mut functions: HashMap<String, HttpFunction> = HashMap::new();
    functions.insert(
        "RegisterFunction".into(),
        function(move |r| {
            let h = Arc::clone(&register);
            async move { h.handle(r).await }
        }),
    );
    functions.insert(
        "LoginFunction".into(),
        function(move |r| {
            let h = Arc::clone(&login);
            async move { h.handle(r).await }
        }),
    );
    functions.insert(
        "RefreshFunction".into(),
        function(move |r| {
            let h = Arc::clone(&refresh);
            async move { h.handle(r).await }
        }),
    );
    functions.insert(
        "LogoutFunction".into(),
        function(move |r| {
            let h = Arc::clone(&logout);
            async move { h.handle(r).await }
        }),
    );
    functions.insert(
        "DiscoveryFunction".into(),
        function(move |r| {
            let h = Arc::clone(&discovery);
            async move { h.handle(r).await }
        }),
    );
    functions.insert(
        "MeFunction".into(),
        function(move |r| {
            let h = Arc::clone(&me);
            async move { h.handle(r).await }
        }),
    );
    let trusted = authgate_oidc::parse_trusted_issuers(&token.trusted_issuers)?;
    authgate_oidc::check_not_own(&trusted, &token.issuer)?;
    let outside =
        authgate_oidc::OutsideIssuers::new(trusted, authgate_oidc::FetchPolicy::default())?;
    let authorizer = Arc::new(
        Authorizer::new(verifier, sessions)
            .with_key_ring(ring)
            .with_outside_issuers(Arc::new(outside)),
    );
    let authorizer: AuthorizerFunction = Arc::new(move |event| {
        let authorizer = Arc::clone(&authorizer);
        Box::pin(async move { authorizer.handle(&event).await })
    });
    Ok(Gateway::new(
        spec,
        functions,
        Some(("AuthorizerFunction".into(), authorizer)),
        cache_ttl,
    )?)
}

/// `authgate serve`.
pub async fn serve(args: ServeArgs) -> Result<(), CommandError> {
    let store = args.backend.store().await?;
    let keys = args.backend.keys().await?;
    let gateway = build_gateway(
        store.store,
        store.sessions,
        keys.ring,
        &args.token,
        args.authorizer_cache_ttl.map(Duration::from_secs),
    )?;
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(args.host, args.port)).await?;
    let url = format!("http://{}", listener.local_addr()?);
    let mut banner = format!("authgate is serving the API of template.yaml on {url}\n");
    for route in gateway.routes() {
        let guard = if route.protected {
            "authorizer"
        } else {
            "public"
        };
        banner.push_str(&format!(
            "  {:<6} {url}{:<20} -> {} ({guard})\n",
            route.method, route.path, route.function
        ));
    }
    banner.push_str(&format!(
        "users: {}\nsigning key: {}\n",
        store.description, keys.description
    ));
    if let Some(ttl) = gateway.authorizer_cache_ttl() {
        banner.push_str(&format!("authorizer cache TTL: {}s\n", ttl.as_secs()));
    }
    banner.push_str("Press Ctrl-C to stop.\n");
    let mut out = std::io::stdout();
    out.write_all(banner.as_bytes())?;
    out.flush()?;
    crate::server::run(
        Arc::new(gateway),
        listener,
        crate::server::shutdown_signal(),
    )
    .await?;
    eprintln!("authgate stopped");
    Ok(())
}

/// `authgate user ...`.
#[derive(Debug, clap::Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is read from a prompt, or from stdin when it is not a terminal.
    Create {
        #[arg(long)]
        email: String,
        /// Make the user a superuser.
        #[arg(long)]
        superuser: bool,
        #[command(flatten)]
        backend: BackendArgs,
    },
    /// List every user.
    List {
        #[command(flatten)]
        backend: BackendArgs,
    },
    /// Disable a user (by email or id): they can no longer log in or call protected routes.
    Disable {
        user: String,
        #[command(flatten)]
        backend: BackendArgs,
    },
    /// Re-enable a disabled user (by email or id).
    Enable {
        user: String,
        #[command(flatten)]
        backend: BackendArgs,
    },
}

fn read_password() -> Result<String, CommandError> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ")?;
        let second = rpassword::prompt_password("Repeat password: ")?;
        if first != second {
            return Err("the passwords do not match".into());
        }
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

async fn find_user(store: &dyn UserStore, user: &str) -> Result<UserId, CommandError> {
    let found = match user.parse::<UserId>() {
        Ok(id) => store.get_by_id(id).await?,
        Err(_) => store.get_by_email(&Email::parse(user)?).await?,
    };
    Ok(found.ok_or_else(|| format!("no user {user}"))?.id)
}

/// Runs a `user` subcommand, writing its report to `out`.
pub async fn user(command: UserCommand, out: &mut impl Write) -> Result<(), CommandError> {
    match command {
        UserCommand::Create {
            email,
            superuser,
            backend,
        } => {
            let email = Email::parse(&email)?;
            let password = Password::parse(read_password()?)?;
            let store = backend.store().await?;
            let password_hash = PasswordHasher::new().hash(password).await?;
            let user = store
                .store
                .create(NewUser {
                    email,
                    password_hash,
                    superuser,
                })
                .await?;
            let kind = if superuser { "superuser" } else { "user" };
            writeln!(
                out,
                "created {kind} {} <{}> in {}",
                user.id, user.email, store.description
            )?;
        }
        UserCommand::List { backend } => {
            let store = backend.store().await?;
            let users = store.store.list().await?;
            writeln!(
                out,
                "{:<36}  {:<32}  {:<25}  flags",
                "id", "email", "created_at"
            )?;
            for user in &users {
                let mut flags = Vec::new();
                if user.superuser {
                    flags.push("superuser");
                }
                if user.disabled {
                    flags.push("disabled");
                }
                writeln!(
                    out,
                    "{:<36}  {:<32}  {:<25}  {}",
                    user.id,
                    user.email,
                    user.created_at.to_rfc3339(),
                    flags.join(",")
                )?;
            }
            writeln!(out, "{} user(s) in {}", users.len(), store.description)?;
        }
        UserCommand::Disable { user, backend } => {
            let store = backend.store().await?;
            let id = find_user(store.store.as_ref(), &user).await?;
            store.store.set_disabled(id, true).await?;
            writeln!(out, "disabled {id}")?;
        }
        UserCommand::Enable { user, backend } => {
            let store = backend.store().await?;
            let id = find_user(store.store.as_ref(), &user).await?;
            store.store.set_disabled(id, false).await?;
            writeln!(out, "enabled {id}")?;
        }
    }
    Ok(())
}

/// `authgate token ...`.
#[derive(Debug, clap::Subcommand)]
pub enum TokenCommand {
    /// Print a token's header and claims, and whether its signature verifies with a known key.
    Decode {
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
