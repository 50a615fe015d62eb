//! Settings from the environment, read and validated once when a function starts.
//!
//! A missing or malformed variable stops the init phase with a message naming it, instead of
//! surfacing later as a failed request. AWS endpoints come from the SDK's standard variables
//! (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL_SECRETS_MANAGER`), which is
//! how the functions are pointed at DynamoDB Local or moto.

use std::collections::{BTreeSet, HashMap};
use std::str::FromStr;
use std::time::Duration;

use authgate_token::{DEFAULT_LEEWAY_SECS, Validation};
use authgate_users::{RoleMap, RotationPolicy, parse_roles};

/// Name of the variable holding the users table.
pub const USERS_TABLE: &str = "USERS_TABLE";
/// Name of the variable holding the signing secret's name or ARN.
pub const SIGNING_KEY_SECRET_ID: &str = "SIGNING_KEY_SECRET_ID";
/// Name of the variable holding the name or ARN of the secret the rotation function publishes
/// the public keys in (a JWK Set): what verifiers of asymmetric tokens read instead.
pub const PUBLIC_KEYS_SECRET_ID: &str = "PUBLIC_KEYS_SECRET_ID";
/// Default access-token lifetime: 15 minutes.
pub const DEFAULT_ACCESS_TOKEN_TTL_SECS: u64 = 900;
/// Largest accepted clock-skew leeway.
pub const MAX_LEEWAY_SECS: u64 = 60;
/// Default `aud` of issued tokens.
pub const DEFAULT_TOKEN_AUDIENCE: &str = "authgate-api";
/// Name of the variable listing the trusted outside OIDC issuers (JSON).
pub const TRUSTED_ISSUERS: &str = "TRUSTED_ISSUERS";
/// Name of the variable naming the algorithm of a newly created signing secret.
pub const SIGNING_ALGORITHM: &str = "SIGNING_ALGORITHM";
/// Default algorithm of a newly created signing secret (the README says why).
pub const DEFAULT_SIGNING_ALGORITHM: &str = "RS256";

/// A setting is missing or malformed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// The variables a function reads, captured once: the process environment in Lambda, the flags
/// of `authgate serve` locally, a list of pairs in tests. Every setting is read through here, so
/// all three are validated by the same code.
#[derive(Clone, Default)]
pub struct Env {
    vars: HashMap<String, String>,
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&str> = self.vars.keys().map(String::as_str).collect();
        names.sort_unstable();
        f.debug_struct("Env").field("names", &names).finish()
    }
}

impl Env {
    /// The process environment, as it is now.
    pub fn process() -> Self {
        Self::from_pairs(std::env::vars())
    }

    /// An environment of exactly these variables.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// This environment with `name` set to `value`.
    pub fn with(mut self, name: &str, value: impl Into<String>) -> Self {
        self.vars.insert(name.to_owned(), value.into());
        self
    }

    /// A non-empty variable.
    pub fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.optional(name).ok_or(ConfigError::Missing(name))
    }

    /// A variable, if set and not empty.
    pub fn optional(&self, name: &str) -> Option<String> {
        self.vars
            .get(name)
            .filter(|v| !v.trim().is_empty())
            .cloned()
    }

    /// A parsed variable, or `default` when unset or empty.
    pub fn parsed_or<T: FromStr>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        match self.optional(name) {
            Some(value) => value
                .trim()
                .parse()
                .map_err(|e: T::Err| ConfigError::Invalid {
                    name,
                    reason: e.to_string(),
                }),
            None => Ok(default),
        }
    }
}

/// What tokens say and how long they live: shared by the issuing and verifying functions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSettings {
    /// `iss` of issued tokens, and the only one accepted.
    pub issuer: String,
    /// `aud` of issued tokens, and the one required.
    pub audience: String,
    /// Access-token lifetime.
    pub access_ttl: Duration,
    /// Clock-skew leeway for verification.
    pub leeway_secs: u64,
}

impl TokenSettings {
    /// From `TOKEN_ISSUER`, `TOKEN_AUDIENCE`, `ACCESS_TOKEN_TTL_SECONDS` and `TOKEN_LEEWAY_SECONDS`.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let ttl: u64 = env.parsed_or("ACCESS_TOKEN_TTL_SECONDS", DEFAULT_ACCESS_TOKEN_TTL_SECS)?;
        if !(60..=86_400).contains(&ttl) {
            return Err(ConfigError::Invalid {
                name: "ACCESS_TOKEN_TTL_SECONDS",
                reason: "must be between 60 and 86400".into(),
            });
        }
        let leeway_secs = env.parsed_or("TOKEN_LEEWAY_SECONDS", DEFAULT_LEEWAY_SECS)?;
        if leeway_secs > MAX_LEEWAY_SECS {
            return Err(ConfigError::Invalid {
                name: "TOKEN_LEEWAY_SECONDS",
                reason: format!("must be at most {MAX_LEEWAY_SECS}"),
            });
        }
        Ok(Self {
            issuer: env.required("TOKEN_ISSUER")?,
            audience: env
                .optional("TOKEN_AUDIENCE")
                .unwrap_or_else(|| DEFAULT_TOKEN_AUDIENCE.to_owned()),
            access_ttl: Duration::from_secs(ttl),
            leeway_secs,
        })
    }

    /// What authgate's own tokens must say to be accepted.
    pub fn validation(&self) -> Validation {
        Validation::own(&self.issuer, &self.audience, self.leeway_secs)
    }
}

/// Default lifetime of one refresh token: 14 days.
pub const DEFAULT_REFRESH_TOKEN_TTL_SECS: u64 = 14 * 86_400;
/// Default absolute lifetime of a session: 30 days, after which the user logs in again.
pub const DEFAULT_SESSION_MAX_LIFETIME_SECS: u64 = 30 * 86_400;
/// Longest accepted reuse grace period (Cognito's maximum).
pub const MAX_REUSE_GRACE_SECS: u64 = 60;

/// How sessions and refresh tokens live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionSettings {
    /// Lifetime of each refresh token.
    pub refresh_ttl: Duration,
    /// Absolute lifetime of a session, whatever the refreshes.
    pub max_lifetime: Duration,
    /// How long a spent refresh token may be presented again without ending the session.
    pub reuse_grace: Duration,
}

impl SessionSettings {
    /// From `REFRESH_TOKEN_TTL_SECONDS`, `SESSION_MAX_LIFETIME_SECONDS`, `REFRESH_REUSE_GRACE_SECONDS`.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let refresh: u64 =
            env.parsed_or("REFRESH_TOKEN_TTL_SECONDS", DEFAULT_REFRESH_TOKEN_TTL_SECS)?;
        let lifetime: u64 = env.parsed_or(
            "SESSION_MAX_LIFETIME_SECONDS",
            DEFAULT_SESSION_MAX_LIFETIME_SECS,
        )?;
        let grace: u64 = env.parsed_or("REFRESH_REUSE_GRACE_SECONDS", 0)?;
        if refresh < 60 {
            return Err(ConfigError::Invalid {
                name: "REFRESH_TOKEN_TTL_SECONDS",
                reason: "must be at least 60".into(),
            });
        }
        if lifetime < refresh {
            return Err(ConfigError::Invalid {
                name: "SESSION_MAX_LIFETIME_SECONDS",
                reason: "must be at least REFRESH_TOKEN_TTL_SECONDS".into(),
            });
        }
        if grace > MAX_REUSE_GRACE_SECS {
            return Err(ConfigError::Invalid {
                name: "REFRESH_REUSE_GRACE_SECONDS",
                reason: format!("must be at most {MAX_REUSE_GRACE_SECS}"),
            });
        }
        Ok(Self {
            refresh_ttl: Duration::from_secs(refresh),
            max_lifetime: Duration::from_secs(lifetime),
            reuse_grace: Duration::from_secs(grace),
        })
    }

    /// The rotation rules the session stores apply.
    pub fn rotation_policy(&self) -> RotationPolicy {
        let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        RotationPolicy {
            refresh_ttl_ms: ms(self.refresh_ttl),
            reuse_grace_ms: ms(self.reuse_grace),
        }
    }
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            refresh_ttl: Duration::from_secs(DEFAULT_REFRESH_TOKEN_TTL_SECS),
            max_lifetime: Duration::from_secs(DEFAULT_SESSION_MAX_LIFETIME_SECS),
            reuse_grace: Duration::ZERO,
        }
    }
}

/// Name of the variable defining roles: JSON `{"role": ["permission", ...]}`.
pub const ROLES: &str = "ROLES";
/// Name of the variable naming the roles a newly registered user gets, comma-separated.
pub const DEFAULT_ROLES: &str = "DEFAULT_ROLES";

/// Who may do what: the roles and the permissions they grant, and the roles of a new user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthzSettings {
    /// The built-in `admin` role and the deployment's own.
    pub roles: RoleMap,
    /// Roles a newly registered user gets (default none); each one is defined.
    pub default_roles: BTreeSet<String>,
}

impl AuthzSettings {
    /// From `ROLES` and `DEFAULT_ROLES`.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let invalid = |name, e: authgate_users::AuthzError| ConfigError::Invalid {
            name,
            reason: e.to_string(),
        };
        let roles = RoleMap::parse(&env.optional(ROLES).unwrap_or_default())
            .map_err(|e| invalid(ROLES, e))?;
        let listed = env.optional(DEFAULT_ROLES).unwrap_or_default();
        let default_roles = parse_roles(listed.split(',').filter(|r| !r.trim().is_empty()))
            .map_err(|e| invalid(DEFAULT_ROLES, e))?;
        roles
            .check(&default_roles)
            .map_err(|e| invalid(DEFAULT_ROLES, e))?;
        Ok(Self {
            roles,
            default_roles,
        })
    }
}

/// Name of the variable holding the minimum password length (default 8, from 8 to 64).
pub const PASSWORD_MIN_LENGTH: &str = "PASSWORD_MIN_LENGTH";

/// Whether new passwords are also looked up in Have I Been Pwned's range API (k-anonymity).
pub const PASSWORD_BREACH_CHECK: &str = "PASSWORD_BREACH_CHECK";
/// The range API's base URL; the 5-character SHA-1 prefix is appended.
pub const PASSWORD_BREACH_API_URL: &str = "PASSWORD_BREACH_API_URL";
/// Have I Been Pwned's Pwned Passwords range API.
pub const DEFAULT_PASSWORD_BREACH_API_URL: &str = "https://api.pwnedpasswords.com/range/";

/// What a new password must meet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordSettings {
    /// The one password rule, with the deployment's minimum length.
    pub policy: authgate_users::PasswordPolicy,
    /// The range API to check new passwords against, when the check is on.
    pub breach_api: Option<String>,
}

impl PasswordSettings {
    /// From `PASSWORD_MIN_LENGTH`.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let min: usize = env.parsed_or(PASSWORD_MIN_LENGTH, authgate_users::MIN_PASSWORD_CHARS)?;
        let policy = authgate_users::PasswordPolicy::with_min_chars(min).map_err(|e| {
            ConfigError::Invalid {
                name: PASSWORD_MIN_LENGTH,
                reason: e.to_string(),
            }
        })?;
        let breach_api = env.parsed_or(PASSWORD_BREACH_CHECK, false)?.then(|| {
            env.optional(PASSWORD_BREACH_API_URL)
                .filter(|u| !u.trim().is_empty())
                .unwrap_or_else(|| DEFAULT_PASSWORD_BREACH_API_URL.to_owned())
        });
        Ok(Self { policy, breach_api })
    }
}

/// The throttles' limits: how many failed logins an account may have before attempts must wait,
/// the longest wait, and the caps per source address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleSettings {
    pub login: authgate_users::LoginLimits,
    pub register: authgate_users::RegisterLimits,
}

/// The variables of [`ThrottleSettings`], with their defaults and least values.
pub const LOGIN_FREE_FAILURES: &str = "LOGIN_FREE_FAILURES";
pub const LOGIN_MAX_DELAY_SECONDS: &str = "LOGIN_MAX_DELAY_SECONDS";
pub const LOGIN_ADDRESS_FAILURES: &str = "LOGIN_ADDRESS_FAILURES";
pub const LOGIN_ADDRESS_WINDOW_SECONDS: &str = "LOGIN_ADDRESS_WINDOW_SECONDS";
pub const REGISTER_ADDRESS_LIMIT: &str = "REGISTER_ADDRESS_LIMIT";
pub const REGISTER_ADDRESS_WINDOW_SECONDS: &str = "REGISTER_ADDRESS_WINDOW_SECONDS";

impl ThrottleSettings {
    /// From the `LOGIN_*` and `REGISTER_ADDRESS_*` variables.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let login = authgate_users::LoginLimits::default();
        let register = authgate_users::RegisterLimits::default();
        let at_least = |name: &'static str, default: i64, least: i64| -> Result<i64, ConfigError> {
            let value: i64 = env.parsed_or(name, default)?;
            if value < least {
                return Err(ConfigError::Invalid {
                    name,
                    reason: format!("must be at least {least}"),
                });
            }
            Ok(value)
        };
        let free = at_least(LOGIN_FREE_FAILURES, i64::from(login.free_failures), 1)?;
        Ok(Self {
            login: authgate_users::LoginLimits {
                free_failures: u32::try_from(free).unwrap_or(u32::MAX),
                max_delay_ms: at_least(LOGIN_MAX_DELAY_SECONDS, login.max_delay_ms / 1000, 1)?
                    * 1000,
                address_failures: at_least(LOGIN_ADDRESS_FAILURES, login.address_failures, 1)?,
                address_window_ms: at_least(
                    LOGIN_ADDRESS_WINDOW_SECONDS,
                    login.address_window_ms / 1000,
                    1,
                )? * 1000,
            },
            register: authgate_users::RegisterLimits {
                per_address: at_least(REGISTER_ADDRESS_LIMIT, register.per_address, 1)?,
                window_ms: at_least(
                    REGISTER_ADDRESS_WINDOW_SECONDS,
                    register.window_ms / 1000,
                    1,
                )? * 1000,
            },
        })
    }
}

/// Variables of [`MailSettings`].
pub const MAIL_FROM: &str = "MAIL_FROM";
pub const RESET_PASSWORD_URL: &str = "RESET_PASSWORD_URL";
pub const VERIFY_EMAIL_URL: &str = "VERIFY_EMAIL_URL";
pub const RESET_TOKEN_TTL_SECONDS: &str = "RESET_TOKEN_TTL_SECONDS";
pub const VERIFY_TOKEN_TTL_SECONDS: &str = "VERIFY_TOKEN_TTL_SECONDS";
pub const MAILS_PER_ADDRESS: &str = "MAILS_PER_ADDRESS";
pub const MAIL_ADDRESS_WINDOW_SECONDS: &str = "MAIL_ADDRESS_WINDOW_SECONDS";
pub const LOGIN_REQUIRES_VERIFIED_EMAIL: &str = "LOGIN_REQUIRES_VERIFIED_EMAIL";
/// Where a link's token goes in [`RESET_PASSWORD_URL`] and [`VERIFY_EMAIL_URL`].
pub const TOKEN_PLACEHOLDER: &str = "{token}";
/// The links when none are configured: a page of the app that takes the token.
pub const DEFAULT_RESET_PASSWORD_URL: &str = "http://localhost:3000/reset-password?token={token}";
pub const DEFAULT_VERIFY_EMAIL_URL: &str = "http://localhost:3000/verify?token={token}";

/// Account mail: who sends it, the links it carries, how long their tokens live, how often one
/// address may be sent one, and whether login needs a verified address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailSettings {
    /// The SES sender identity (none: mail is not sent, and each attempt is logged).
    pub from: Option<String>,
    pub reset_url: String,
    pub verify_url: String,
    pub reset_ttl: Duration,
    pub verify_ttl: Duration,
    /// Mails per address per window, for each purpose.
    pub per_address: i64,
    pub address_window: Duration,
    pub login_requires_verified_email: bool,
}

impl MailSettings {
    /// From `MAIL_FROM`, the URL and TTL variables and `LOGIN_REQUIRES_VERIFIED_EMAIL`.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let url = |name: &'static str, default: &str| -> Result<String, ConfigError> {
            let url = env
                .optional(name)
                .filter(|u| !u.trim().is_empty())
                .unwrap_or_else(|| default.to_owned());
            if !url.contains(TOKEN_PLACEHOLDER) {
                return Err(ConfigError::Invalid {
                    name,
                    reason: format!("must contain {TOKEN_PLACEHOLDER}, where the token goes"),
                });
            }
            Ok(url)
        };
        let secs = |name: &'static str, default: u64| -> Result<Duration, ConfigError> {
            let value: u64 = env.parsed_or(name, default)?;
            if value == 0 {
                return Err(ConfigError::Invalid {
                    name,
                    reason: "must be at least 1".into(),
                });
            }
            Ok(Duration::from_secs(value))
        };
        let per_address: i64 = env.parsed_or(MAILS_PER_ADDRESS, 5)?;
        if per_address < 1 {
            return Err(ConfigError::Invalid {
                name: MAILS_PER_ADDRESS,
                reason: "must be at least 1".into(),
            });
        }
        Ok(Self {
            from: env.optional(MAIL_FROM).filter(|f| !f.trim().is_empty()),
            reset_url: url(RESET_PASSWORD_URL, DEFAULT_RESET_PASSWORD_URL)?,
            verify_url: url(VERIFY_EMAIL_URL, DEFAULT_VERIFY_EMAIL_URL)?,
            reset_ttl: secs(RESET_TOKEN_TTL_SECONDS, 3600)?,
            verify_ttl: secs(VERIFY_TOKEN_TTL_SECONDS, 86_400)?,
            per_address,
            address_window: secs(MAIL_ADDRESS_WINDOW_SECONDS, 3600)?,
            login_requires_verified_email: env.parsed_or(LOGIN_REQUIRES_VERIFIED_EMAIL, false)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn token_settings_default_to_fifteen_minutes_and_thirty_seconds_leeway() {
        let settings =
            TokenSettings::from_env(&env(&[("TOKEN_ISSUER", "iss"), ("TOKEN_AUDIENCE", "aud")]))
                .unwrap();
        assert_eq!(settings.access_ttl, Duration::from_secs(900));
        assert_eq!(settings.leeway_secs, 30);
    }

    #[test]
    fn session_settings_default_and_bounds() {
        let settings = SessionSettings::from_env(&env(&[])).unwrap();
        assert_eq!(settings, SessionSettings::default());
        assert_eq!(settings.rotation_policy().reuse_grace_ms, 0);
        for (name, value) in [
            ("REFRESH_REUSE_GRACE_SECONDS", "61"),
            ("REFRESH_TOKEN_TTL_SECONDS", "59"),
            ("SESSION_MAX_LIFETIME_SECONDS", "3600"),
        ] {
            let err = SessionSettings::from_env(&env(&[(name, value)])).unwrap_err();
            assert!(
                matches!(err, ConfigError::Invalid { name: n, .. } if n == name),
                "{name}: {err:?}"
            );
        }
    }

    #[test]
    fn roles_and_default_roles_are_read_and_checked() {
        let settings = AuthzSettings::from_env(&env(&[])).unwrap();
        assert_eq!(settings.roles, RoleMap::default());
        assert!(settings.default_roles.is_empty());
        let settings = AuthzSettings::from_env(&env(&[
            (ROLES, r#"{"editor": ["items:write"]}"#),
            (DEFAULT_ROLES, "editor, admin"),
        ]))
        .unwrap();
        assert_eq!(settings.default_roles.len(), 2);
        for (name, value) in [
            (DEFAULT_ROLES, "ghost"),
            (ROLES, "[1]"),
            (DEFAULT_ROLES, "a b"),
        ] {
            let err = AuthzSettings::from_env(&env(&[(name, value)])).unwrap_err();
            assert!(
                matches!(err, ConfigError::Invalid { name: n, .. } if n == name),
                "{name}={value}: {err:?}"
            );
        }
    }

    #[test]
    fn the_minimum_password_length_is_read_and_bounded() {
        assert_eq!(
            PasswordSettings::from_env(&env(&[]))
                .unwrap()
                .policy
                .min_chars(),
            8
        );
        assert_eq!(
            PasswordSettings::from_env(&env(&[(PASSWORD_MIN_LENGTH, "15")]))
                .unwrap()
                .policy
                .min_chars(),
            15
        );
        for bad in ["7", "65", "eight"] {
            assert!(
                PasswordSettings::from_env(&env(&[(PASSWORD_MIN_LENGTH, bad)])).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn throttle_limits_default_to_cognitos_and_are_read_and_checked() {
        let settings = ThrottleSettings::from_env(&env(&[])).unwrap();
        assert_eq!(settings.login, authgate_users::LoginLimits::default());
        assert_eq!(settings.register, authgate_users::RegisterLimits::default());
        let settings = ThrottleSettings::from_env(&env(&[
            (LOGIN_FREE_FAILURES, "3"),
            (LOGIN_MAX_DELAY_SECONDS, "60"),
            (REGISTER_ADDRESS_LIMIT, "5"),
        ]))
        .unwrap();
        assert_eq!(settings.login.free_failures, 3);
        assert_eq!(settings.login.max_delay_ms, 60_000);
        assert_eq!(settings.register.per_address, 5);
        for name in [
            LOGIN_FREE_FAILURES,
            LOGIN_ADDRESS_WINDOW_SECONDS,
            REGISTER_ADDRESS_LIMIT,
        ] {
            assert!(
                ThrottleSettings::from_env(&env(&[(name, "0")])).is_err(),
                "{name}"
            );
        }
    }

    #[test]
    fn mail_settings_default_to_an_hour_and_a_day_and_links_need_the_placeholder() {
        let settings = MailSettings::from_env(&env(&[])).unwrap();
        assert_eq!(settings.reset_ttl, Duration::from_secs(3600));
        assert_eq!(settings.verify_ttl, Duration::from_secs(86_400));
        assert_eq!(settings.from, None);
        assert!(!settings.login_requires_verified_email);
        let settings = MailSettings::from_env(&env(&[
            (MAIL_FROM, "no-reply@example.com"),
            (
                RESET_PASSWORD_URL,
                "https://app.example.com/reset?token={token}",
            ),
            (LOGIN_REQUIRES_VERIFIED_EMAIL, "true"),
        ]))
        .unwrap();
        assert_eq!(settings.from.as_deref(), Some("no-reply@example.com"));
        assert!(settings.login_requires_verified_email);
        for (name, value) in [
            (RESET_PASSWORD_URL, "https://app.example.com/reset"),
            (VERIFY_TOKEN_TTL_SECONDS, "0"),
            (LOGIN_REQUIRES_VERIFIED_EMAIL, "yes please"),
        ] {
            assert!(
                MailSettings::from_env(&env(&[(name, value)])).is_err(),
                "{name}"
            );
        }
    }

    #[test]
    fn missing_and_malformed_settings_name_the_variable() {
        assert_eq!(
            TokenSettings::from_env(&env(&[("TOKEN_AUDIENCE", "aud")])),
            Err(ConfigError::Missing("TOKEN_ISSUER"))
        );
        assert_eq!(
            TokenSettings::from_env(&env(&[("TOKEN_ISSUER", "iss")]))
                .unwrap()
                .audience,
            DEFAULT_TOKEN_AUDIENCE
        );
        let err = TokenSettings::from_env(&env(&[
            ("TOKEN_ISSUER", "iss"),
            ("TOKEN_AUDIENCE", "aud"),
            ("ACCESS_TOKEN_TTL_SECONDS", "soon"),
        ]))
        .unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Invalid {
                name: "ACCESS_TOKEN_TTL_SECONDS",
                ..
            }
        ));
        let err = TokenSettings::from_env(&env(&[
            ("TOKEN_ISSUER", "iss"),
            ("TOKEN_AUDIENCE", "aud"),
            ("TOKEN_LEEWAY_SECONDS", "3600"),
        ]))
        .unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Invalid {
                name: "TOKEN_LEEWAY_SECONDS",
                ..
            }
        ));
    }
}
