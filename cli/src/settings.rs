//! The functions' settings as `serve` flags: the variables the Lambdas read, each also a flag.

use authgate_runtime::Env;

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
