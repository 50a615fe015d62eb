//! The subcommands.

use std::collections::HashMap;
use std::io::{BufRead, IsTerminal, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use authgate_http::HttpHandler;
use authgate_runtime::{Env, EventHandler, Resources};
use authgate_users::{
    ADMIN_ROLE, CustomClaims, Email, NewUser, PasswordHasher, RoleMap, UserChanges, UserId,
    UserStore, parse_roles,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::backends::BackendArgs;
use crate::gateway::{AuthorizerFunction, Gateway, HttpFunction};
use crate::template::{ApiSpec, TEMPLATE};

/// Any failure of a command; `main` prints it with its causes.
pub type CommandError = Box<dyn std::error::Error + Send + Sync>;

/// The functions' settings, for `serve`: the same variables the Lambdas read, each also a flag,
/// validated by the same code (`authgate_config`), with the same defaults as the template's
/// parameters. Unset means the default.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SettingsArgs {
    /// `iss` of issued tokens [default: urn:authgate:local, as the template's urn:authgate:<stack>].
    #[arg(long = "issuer", env = "TOKEN_ISSUER")]
    pub token_issuer: Option<String>,
    /// `aud` of issued tokens [default: the template's TokenAudience].
    #[arg(long = "audience", env = "TOKEN_AUDIENCE")]
    pub token_audience: Option<String>,
    /// Access-token lifetime in seconds [default: the template's AccessTokenTtlSeconds].
    #[arg(long = "access-token-ttl", env = "ACCESS_TOKEN_TTL_SECONDS")]
    pub access_token_ttl_seconds: Option<String>,
    /// Clock-skew leeway in seconds [default: the template's TokenLeewaySeconds].
    #[arg(long = "leeway", env = "TOKEN_LEEWAY_SECONDS")]
    pub token_leeway_seconds: Option<String>,
    /// Lifetime of each refresh token in seconds [default: the template's RefreshTokenTtlSeconds].
    #[arg(long = "refresh-token-ttl", env = "REFRESH_TOKEN_TTL_SECONDS")]
    pub refresh_token_ttl_seconds: Option<String>,
    /// Absolute lifetime of a session in seconds [default: the template's SessionMaxLifetimeSeconds].
    #[arg(long = "session-max-lifetime", env = "SESSION_MAX_LIFETIME_SECONDS")]
    pub session_max_lifetime_seconds: Option<String>,
    /// How long a spent refresh token may be presented again, in seconds [default: the
    /// template's RefreshReuseGraceSeconds].
    #[arg(long = "refresh-reuse-grace", env = "REFRESH_REUSE_GRACE_SECONDS")]
    pub refresh_reuse_grace_seconds: Option<String>,
    /// Outside OIDC issuers whose tokens the authorizer also accepts (JSON, as the template's
    /// TrustedIssuers parameter).
    #[arg(long = "trusted-issuers", env = "TRUSTED_ISSUERS")]
    pub trusted_issuers: Option<String>,
    /// Roles and the permissions they grant (JSON, as the template's Roles parameter).
    #[arg(long = "roles", env = "ROLES")]
    pub roles: Option<String>,
    /// Roles a newly registered user gets, comma-separated [default: the template's DefaultRoles].
    #[arg(long = "default-roles", env = "DEFAULT_ROLES")]
    pub default_roles: Option<String>,
    /// Fewest characters a new password may have, 8 to 64 [default: the template's
    /// PasswordMinLength].
    #[arg(long = "password-min-length", env = "PASSWORD_MIN_LENGTH")]
    pub password_min_length: Option<String>,
    /// Consecutive failed logins before an account's attempts must wait [default: the
    /// template's LoginFailuresBeforeDelay].
    #[arg(long = "login-failures-before-delay", env = "LOGIN_FREE_FAILURES")]
    pub login_free_failures: Option<String>,
    /// The longest wait after repeated failed logins, seconds [default: the template's
    /// LoginMaxDelaySeconds].
    #[arg(long = "login-max-delay", env = "LOGIN_MAX_DELAY_SECONDS")]
    pub login_max_delay_seconds: Option<String>,
    /// Failed logins per source address per window [default: the template's
    /// LoginFailuresPerAddress].
    #[arg(long = "login-failures-per-address", env = "LOGIN_ADDRESS_FAILURES")]
    pub login_address_failures: Option<String>,
    /// The window of --login-failures-per-address, seconds [default: the template's
    /// LoginAddressWindowSeconds].
    #[arg(long = "login-address-window", env = "LOGIN_ADDRESS_WINDOW_SECONDS")]
    pub login_address_window_seconds: Option<String>,
    /// Registrations per source address per window [default: the template's
    /// RegistrationsPerAddress].
    #[arg(long = "registrations-per-address", env = "REGISTER_ADDRESS_LIMIT")]
    pub register_address_limit: Option<String>,
    /// The window of --registrations-per-address, seconds [default: the template's
    /// RegistrationAddressWindowSeconds].
    #[arg(
        long = "registration-address-window",
        env = "REGISTER_ADDRESS_WINDOW_SECONDS"
    )]
    pub register_address_window_seconds: Option<String>,
    /// Sender of account mail [default: authgate@localhost locally; the template's MailFromAddress].
    #[arg(long = "mail-from", env = "MAIL_FROM")]
    pub mail_from: Option<String>,
    /// Link of a reset mail, {token} where the token goes [default: the template's ResetPasswordUrl].
    #[arg(long = "reset-password-url", env = "RESET_PASSWORD_URL")]
    pub reset_password_url: Option<String>,
    /// Link of a verification mail, {token} where the token goes [default: the template's VerifyEmailUrl].
    #[arg(long = "verify-email-url", env = "VERIFY_EMAIL_URL")]
    pub verify_email_url: Option<String>,
    /// Lifetime of a reset token, seconds [default: the template's ResetTokenTtlSeconds].
    #[arg(long = "reset-token-ttl", env = "RESET_TOKEN_TTL_SECONDS")]
    pub reset_token_ttl_seconds: Option<String>,
    /// Lifetime of a verification token, seconds [default: the template's VerifyTokenTtlSeconds].
    #[arg(long = "verify-token-ttl", env = "VERIFY_TOKEN_TTL_SECONDS")]
    pub verify_token_ttl_seconds: Option<String>,
    /// Mails of each kind one address may get per window [default: the template's MailsPerAddress].
    #[arg(long = "mails-per-address", env = "MAILS_PER_ADDRESS")]
    pub mails_per_address: Option<String>,
    /// The window of --mails-per-address, seconds [default: the template's MailAddressWindowSeconds].
    #[arg(long = "mail-address-window", env = "MAIL_ADDRESS_WINDOW_SECONDS")]
    pub mail_address_window_seconds: Option<String>,
    /// Whether login needs a verified address, true or false [default: the template's LoginRequiresVerifiedEmail].
    #[arg(
        long = "login-requires-verified-email",
        env = "LOGIN_REQUIRES_VERIFIED_EMAIL"
    )]
    pub login_requires_verified_email: Option<String>,
    /// Also check new passwords against the Pwned Passwords range API, true or false [default:
    /// the template's PasswordBreachCheck].
    #[arg(long = "password-breach-check", env = "PASSWORD_BREACH_CHECK")]
    pub password_breach_check: Option<String>,
    /// The range API's base URL, the SHA-1 prefix appended [default: Have I Been Pwned's].
    #[arg(long = "password-breach-api-url", env = "PASSWORD_BREACH_API_URL")]
    pub password_breach_api_url: Option<String>,
}

/// The issuer `serve` uses when none is given, as the template uses `urn:authgate:<stack name>`.
pub const LOCAL_ISSUER: &str = "urn:authgate:local";

impl SettingsArgs {
    /// The environment the functions are built from: every flag given, under its variable name.
    pub fn env(&self) -> Env {
        let pairs = [
            ("TOKEN_ISSUER", &self.token_issuer),
            ("TOKEN_AUDIENCE", &self.token_audience),
            ("ACCESS_TOKEN_TTL_SECONDS", &self.access_token_ttl_seconds),
            ("TOKEN_LEEWAY_SECONDS", &self.token_leeway_seconds),
            ("REFRESH_TOKEN_TTL_SECONDS", &self.refresh_token_ttl_seconds),
            (
                "SESSION_MAX_LIFETIME_SECONDS",
                &self.session_max_lifetime_seconds,
            ),
            (
                "REFRESH_REUSE_GRACE_SECONDS",
                &self.refresh_reuse_grace_seconds,
            ),
            (authgate_config::TRUSTED_ISSUERS, &self.trusted_issuers),
            (authgate_config::ROLES, &self.roles),
            (authgate_config::DEFAULT_ROLES, &self.default_roles),
            (
                authgate_config::PASSWORD_MIN_LENGTH,
                &self.password_min_length,
            ),
            (
                authgate_config::LOGIN_FREE_FAILURES,
                &self.login_free_failures,
            ),
            (
                authgate_config::LOGIN_MAX_DELAY_SECONDS,
                &self.login_max_delay_seconds,
            ),
            (
                authgate_config::LOGIN_ADDRESS_FAILURES,
                &self.login_address_failures,
            ),
            (
                authgate_config::LOGIN_ADDRESS_WINDOW_SECONDS,
                &self.login_address_window_seconds,
            ),
            (
                authgate_config::REGISTER_ADDRESS_LIMIT,
                &self.register_address_limit,
            ),
            (
                authgate_config::REGISTER_ADDRESS_WINDOW_SECONDS,
                &self.register_address_window_seconds,
            ),
            (authgate_config::MAIL_FROM, &self.mail_from),
            (
                authgate_config::RESET_PASSWORD_URL,
                &self.reset_password_url,
            ),
            (authgate_config::VERIFY_EMAIL_URL, &self.verify_email_url),
            (
                authgate_config::RESET_TOKEN_TTL_SECONDS,
                &self.reset_token_ttl_seconds,
            ),
            (
                authgate_config::VERIFY_TOKEN_TTL_SECONDS,
                &self.verify_token_ttl_seconds,
            ),
            (authgate_config::MAILS_PER_ADDRESS, &self.mails_per_address),
            (
                authgate_config::MAIL_ADDRESS_WINDOW_SECONDS,
                &self.mail_address_window_seconds,
            ),
            (
                authgate_config::LOGIN_REQUIRES_VERIFIED_EMAIL,
                &self.login_requires_verified_email,
            ),
            (
                authgate_config::PASSWORD_BREACH_CHECK,
                &self.password_breach_check,
            ),
            (
                authgate_config::PASSWORD_BREACH_API_URL,
                &self.password_breach_api_url,
            ),
        ];
        let env = Env::from_pairs(
            pairs
                .into_iter()
                .filter_map(|(name, value)| Some((name, value.clone()?))),
        );
        match env.optional("TOKEN_ISSUER") {
            Some(_) => env,
            None => env.with("TOKEN_ISSUER", LOCAL_ISSUER),
        }
    }
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
    pub settings: SettingsArgs,
    #[command(flatten)]
    pub backend: BackendArgs,
}

/// `handler` as a function the gateway invokes.
/// A function as the runtime serves it in Lambda: each request carrying the leeway.
fn http(handler: impl HttpHandler + 'static, leeway: authgate_http::ClaimsLeeway) -> HttpFunction {
    let handler = Arc::new(handler);
    Arc::new(move |mut request: lambda_http::Request| {
        let handler = Arc::clone(&handler);
        request.extensions_mut().insert(leeway);
        Box::pin(async move { handler.handle(request).await })
    })
}

/// Builds the gateway with the real functions, each through its crate's one constructor, on
/// `resources`, configured by `env` as the Lambdas are by theirs.
pub async fn build_gateway(
    resources: &Resources,
    env: &Env,
    cache_ttl: Option<Duration>,
) -> Result<Gateway, CommandError> {
    let spec = ApiSpec::parse(TEMPLATE)?;
    let leeway = authgate_runtime::claims_leeway(env);
    let functions: HashMap<String, HttpFunction> = HashMap::from([
        (
            "RegisterFunction".into(),
            http(register::build(env, resources).await?, leeway),
        ),
        (
            "LoginFunction".into(),
            http(login::build(env, resources).await?, leeway),
        ),
        (
            "RefreshFunction".into(),
            http(refresh::build(env, resources).await?, leeway),
        ),
        (
            "LogoutFunction".into(),
            http(logout::build(env, resources).await?, leeway),
        ),
        (
            "DiscoveryFunction".into(),
            http(discovery::build(env, resources).await?, leeway),
        ),
        (
            "MeFunction".into(),
            http(me::build(env, resources).await?, leeway),
        ),
        (
            "UsersFunction".into(),
            http(users::build(env, resources).await?, leeway),
        ),
        (
            "RecoveryFunction".into(),
            http(recovery::build(env, resources).await?, leeway),
        ),
    ]);
    // The authorizer's own variables in the template (its route rules) apply locally too.
    let mut authorizer_env = env.clone();
    for (name, value) in spec
        .own_environment
        .get("AuthorizerFunction")
        .into_iter()
        .flatten()
    {
        if env.optional(name).is_none() {
            authorizer_env = authorizer_env.with(name, value.clone());
        }
    }
    let authorizer = Arc::new(authorizer::build(&authorizer_env, resources).await?);
    // The authorizer runs as in Lambda: the JSON event API Gateway sends, read by the Lambda's own
    // event reader and decided by its one entry point.
    let authorizer: AuthorizerFunction = Arc::new(move |event| {
        let authorizer = Arc::clone(&authorizer);
        Box::pin(async move {
            let wire = serde_json::to_vec(&event).map_err(|_| authorizer::Unauthorized)?;
            let event: authorizer::Event =
                serde_json::from_slice(&wire).map_err(|_| authorizer::Unauthorized)?;
            match EventHandler::<authorizer::Event>::handle(authorizer.as_ref(), event).await? {
                authorizer::Answer::Policy(policy) => Ok(policy),
                authorizer::Answer::Simple { .. } => Err(authorizer::Unauthorized),
            }
        })
    });
    Ok(Gateway::new(
        spec,
        functions,
        Some(("AuthorizerFunction".into(), authorizer)),
        cache_ttl,
    )?)
}

/// What `serve` prints before listening on `host`: a warning unless `host` is loopback, since
/// the local gateway speaks plain HTTP (tokens and passwords in the clear) and is for development.
pub fn host_warning(host: std::net::IpAddr) -> Option<String> {
    (!host.is_loopback()).then(|| {
        format!(
            "warning: serving on {host}, beyond this machine, over plain HTTP: passwords and tokens \
             cross the network unencrypted. authgate serve is for development; deploy with sam \
             deploy (or put TLS in front) for anything else."
        )
    })
}

/// `authgate serve`.
pub async fn serve(args: ServeArgs) -> Result<(), CommandError> {
    if let Some(warning) = host_warning(args.host) {
        eprintln!("{warning}");
    }
    let env = args.settings.env();
    let store = args.backend.store().await?;
    let keys = args.backend.keys().await?;
    // Account mail never leaves the machine: each message is a file under <data dir>/mail.
    let mail_dir = args.backend.data_dir.join("mail");
    let from = env
        .optional(authgate_config::MAIL_FROM)
        .unwrap_or_else(|| "authgate@localhost".to_owned());
    let resources = Resources::new(store.store, keys.ring)
        .with_mailer(Arc::new(authgate_mail::FileMailer::new(&mail_dir, from)));
    let gateway = build_gateway(
        &resources,
        &env,
        args.authorizer_cache_ttl.map(Duration::from_secs),
    )
    .await?;
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
        "users: {}\nsigning key: {}\nmail: written to {}\n",
        store.description,
        keys.description,
        mail_dir.display()
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
        /// Make the user a superuser: give them the `admin` role, which may administer users.
        #[arg(long)]
        superuser: bool,
        #[command(flatten)]
        backend: BackendArgs,
    },
    /// Change a user's roles or custom claims (by email or id). Roles must be defined (built-in
    /// `admin`, or in `ROLES`, as the template's Roles parameter).
    Update {
        user: String,
        /// Give the user this role (repeatable).
        #[arg(long = "add-role", value_name = "ROLE")]
        add_roles: Vec<String>,
        /// Take this role from the user (repeatable).
        #[arg(long = "remove-role", value_name = "ROLE")]
        remove_roles: Vec<String>,
        /// Replace the user's custom claims with this JSON object; their tokens carry it.
        #[arg(long, value_name = "JSON")]
        claims: Option<String>,
        /// Role definitions, as the template's Roles parameter.
        #[arg(long = "roles", env = "ROLES", value_name = "JSON", default_value = "")]
        role_definitions: String,
        #[command(flatten)]
        backend: BackendArgs,
    },
    /// List every user.
    List {
        #[command(flatten)]
        backend: BackendArgs,
    },
    /// Disable a user (by email or id): they can no longer log in or call protected routes, and
    /// their sessions end.
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
            // The deployment's rule; PASSWORD_MIN_LENGTH as the functions read it.
            let passwords = authgate_accounts::NewPasswords::build(&Env::process())?;
            let password = passwords.check(read_password()?, &email).await?;
            let store = backend.store().await?;
            let password_hash = PasswordHasher::new().hash(password).await?;
            let user = store
                .store
                .create(NewUser {
                    email,
                    password_hash,
                    roles: if superuser {
                        parse_roles([ADMIN_ROLE])?
                    } else {
                        Default::default()
                    },
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
                "{:<36}  {:<32}  {:<25}  {:<20}  flags",
                "id", "email", "created_at", "roles"
            )?;
            for user in &users {
                let roles: Vec<&str> = user.roles.iter().map(String::as_str).collect();
                writeln!(
                    out,
                    "{:<36}  {:<32}  {:<25}  {:<20}  {}",
                    user.id,
                    user.email,
                    user.created_at.to_rfc3339(),
                    roles.join(","),
                    if user.disabled { "disabled" } else { "" }
                )?;
            }
            writeln!(out, "{} user(s) in {}", users.len(), store.description)?;
        }
        UserCommand::Update {
            user,
            add_roles,
            remove_roles,
            claims,
            role_definitions,
            backend,
        } => {
            let definitions = RoleMap::parse(&role_definitions)?;
            let add = parse_roles(&add_roles)?;
            definitions.check(&add)?;
            let remove = parse_roles(&remove_roles)?;
            let claims = claims
                .map(|json| -> Result<CustomClaims, CommandError> {
                    let value: serde_json::Value = serde_json::from_str(&json)
                        .map_err(|e| format!("--claims is not JSON: {e}"))?;
                    Ok(CustomClaims::parse(value)?)
                })
                .transpose()?;
            let store = backend.store().await?;
            let found = find_user(store.store.as_ref(), &user).await?;
            let current = store
                .store
                .get_by_id(found)
                .await?
                .ok_or_else(|| format!("no user {user}"))?;
            let roles = (!add.is_empty() || !remove.is_empty()).then(|| {
                current
                    .roles
                    .iter()
                    .chain(&add)
                    .filter(|role| !remove.contains(*role))
                    .cloned()
                    .collect()
            });
            let changes = UserChanges {
                roles,
                claims,
                ..UserChanges::default()
            };
            let updated = authgate_accounts::change_user(store.store.as_ref(), found, changes)
                .await?
                .user;
            let roles: Vec<&str> = updated.roles.iter().map(String::as_str).collect();
            writeln!(
                out,
                "updated {} <{}>: roles [{}], claims {}",
                updated.id,
                updated.email,
                roles.join(", "),
                serde_json::Value::Object(updated.claims.as_map().clone())
            )?;
        }
        UserCommand::Disable { user, backend } => {
            let store = backend.store().await?;
            let id = find_user(store.store.as_ref(), &user).await?;
            let disable = UserChanges {
                disabled: Some(true),
                ..UserChanges::default()
            };
            authgate_accounts::change_user(store.store.as_ref(), id, disable).await?;
            writeln!(out, "disabled {id}; their sessions are ended")?;
        }
        UserCommand::Enable { user, backend } => {
            let store = backend.store().await?;
            let id = find_user(store.store.as_ref(), &user).await?;
            let enable = UserChanges {
                disabled: Some(false),
                ..UserChanges::default()
            };
            authgate_accounts::change_user(store.store.as_ref(), id, enable).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serving_beyond_loopback_warns_that_it_is_plain_http() {
        for quiet in ["127.0.0.1", "::1", "127.0.0.2"] {
            assert_eq!(
                host_warning(
                    quiet
                        .parse()
                        .unwrap_or(std::net::Ipv4Addr::LOCALHOST.into())
                ),
                None,
                "{quiet}"
            );
        }
        for loud in ["0.0.0.0", "192.168.1.10", "::"] {
            let warning = host_warning(
                loud.parse()
                    .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED.into()),
            );
            assert!(warning.is_some_and(|w| w.contains("plain HTTP")), "{loud}");
        }
    }
}
