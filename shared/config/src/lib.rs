//! Settings from the environment, read and validated once when a function starts.
//!
//! A missing or malformed variable stops the init phase with a message naming it, instead of
//! surfacing later as a failed request. AWS endpoints come from the SDK's standard variables
//! (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL_SECRETS_MANAGER`), which is
//! how the functions are pointed at DynamoDB Local or moto.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

mod table;
pub use table::*;

use authgate_token::Validation;
use authgate_users::{RoleMap, RotationPolicy, parse_roles};

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

    /// A variable, if set and not empty.
    pub fn optional(&self, name: &str) -> Option<String> {
        self.vars
            .get(name)
            .filter(|v| !v.trim().is_empty())
            .cloned()
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
        Ok(Self {
            issuer: env.required_setting(&TOKEN_ISSUER)?,
            audience: env.required_setting(&TOKEN_AUDIENCE)?,
            access_ttl: Duration::from_secs(env.number(&ACCESS_TOKEN_TTL_SECONDS)?),
            leeway_secs: env.number(&TOKEN_LEEWAY_SECONDS)?,
        })
    }

    /// What authgate's own tokens must say to be accepted.
    pub fn validation(&self) -> Validation {
        Validation::own(&self.issuer, &self.audience, self.leeway_secs)
    }
}

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
        let refresh: u64 = env.number(&REFRESH_TOKEN_TTL_SECONDS)?;
        let lifetime: u64 = env.number(&SESSION_MAX_LIFETIME_SECONDS)?;
        if lifetime < refresh {
            return Err(ConfigError::Invalid {
                name: SESSION_MAX_LIFETIME_SECONDS.name,
                reason: format!("must be at least {}", REFRESH_TOKEN_TTL_SECONDS.name),
            });
        }
        Ok(Self {
            refresh_ttl: Duration::from_secs(refresh),
            max_lifetime: Duration::from_secs(lifetime),
            reuse_grace: Duration::from_secs(env.number(&REFRESH_REUSE_GRACE_SECONDS)?),
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
    /// The declared defaults.
    fn default() -> Self {
        let secs = |s: &Setting| Duration::from_secs(s.default.parse().unwrap_or_default());
        Self {
            refresh_ttl: secs(&REFRESH_TOKEN_TTL_SECONDS),
            max_lifetime: secs(&SESSION_MAX_LIFETIME_SECONDS),
            reuse_grace: secs(&REFRESH_REUSE_GRACE_SECONDS),
        }
    }
}

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
        let roles = RoleMap::parse(&env.text(&ROLES)?).map_err(|e| invalid(ROLES.name, e))?;
        let listed = env.text(&DEFAULT_ROLES)?;
        let default_roles = parse_roles(listed.split(',').filter(|r| !r.trim().is_empty()))
            .map_err(|e| invalid(DEFAULT_ROLES.name, e))?;
        roles
            .check(&default_roles)
            .map_err(|e| invalid(DEFAULT_ROLES.name, e))?;
        Ok(Self {
            roles,
            default_roles,
        })
    }
}

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
        let min: usize = env.number(&PASSWORD_MIN_LENGTH)?;
        let policy = authgate_users::PasswordPolicy::with_min_chars(min).map_err(|e| {
            ConfigError::Invalid {
                name: PASSWORD_MIN_LENGTH.name,
                reason: e.to_string(),
            }
        })?;
        let breach_api = if env.flag(&PASSWORD_BREACH_CHECK)? {
            Some(env.required_setting(&PASSWORD_BREACH_API_URL)?)
        } else {
            None
        };
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

impl ThrottleSettings {
    /// From the `LOGIN_*` and `REGISTER_ADDRESS_*` variables.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let ms = |s: &Setting| -> Result<i64, ConfigError> { Ok(env.number::<i64>(s)? * 1000) };
        Ok(Self {
            login: authgate_users::LoginLimits {
                free_failures: env.number(&LOGIN_FREE_FAILURES)?,
                max_delay_ms: ms(&LOGIN_MAX_DELAY_SECONDS)?,
                address_failures: env.number(&LOGIN_ADDRESS_FAILURES)?,
                address_window_ms: ms(&LOGIN_ADDRESS_WINDOW_SECONDS)?,
            },
            register: authgate_users::RegisterLimits {
                per_address: env.number(&REGISTER_ADDRESS_LIMIT)?,
                window_ms: ms(&REGISTER_ADDRESS_WINDOW_SECONDS)?,
            },
        })
    }
}

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
        let secs = |s: &Setting| -> Result<Duration, ConfigError> {
            Ok(Duration::from_secs(env.number(s)?))
        };
        Ok(Self {
            from: env.setting(&MAIL_FROM)?,
            reset_url: env.required_setting(&RESET_PASSWORD_URL)?,
            verify_url: env.required_setting(&VERIFY_EMAIL_URL)?,
            reset_ttl: secs(&RESET_TOKEN_TTL_SECONDS)?,
            verify_ttl: secs(&VERIFY_TOKEN_TTL_SECONDS)?,
            per_address: env.number(&MAILS_PER_ADDRESS)?,
            address_window: secs(&MAIL_ADDRESS_WINDOW_SECONDS)?,
            login_requires_verified_email: env.flag(&LOGIN_REQUIRES_VERIFIED_EMAIL)?,
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
            (ROLES.name, r#"{"editor": ["items:write"]}"#),
            (DEFAULT_ROLES.name, "editor, admin"),
        ]))
        .unwrap();
        assert_eq!(settings.default_roles.len(), 2);
        for (name, value) in [
            (DEFAULT_ROLES.name, "ghost"),
            (ROLES.name, "[1]"),
            (DEFAULT_ROLES.name, "a b"),
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
            PasswordSettings::from_env(&env(&[(PASSWORD_MIN_LENGTH.name, "15")]))
                .unwrap()
                .policy
                .min_chars(),
            15
        );
        for bad in ["7", "65", "eight"] {
            assert!(
                PasswordSettings::from_env(&env(&[(PASSWORD_MIN_LENGTH.name, bad)])).is_err(),
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
            (LOGIN_FREE_FAILURES.name, "3"),
            (LOGIN_MAX_DELAY_SECONDS.name, "60"),
            (REGISTER_ADDRESS_LIMIT.name, "5"),
        ]))
        .unwrap();
        assert_eq!(settings.login.free_failures, 3);
        assert_eq!(settings.login.max_delay_ms, 60_000);
        assert_eq!(settings.register.per_address, 5);
        for name in [
            LOGIN_FREE_FAILURES.name,
            LOGIN_ADDRESS_WINDOW_SECONDS.name,
            REGISTER_ADDRESS_LIMIT.name,
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
            (MAIL_FROM.name, "no-reply@example.com"),
            (
                RESET_PASSWORD_URL.name,
                "https://app.example.com/reset?token={token}",
            ),
            (LOGIN_REQUIRES_VERIFIED_EMAIL.name, "true"),
        ]))
        .unwrap();
        assert_eq!(settings.from.as_deref(), Some("no-reply@example.com"));
        assert!(settings.login_requires_verified_email);
        for (name, value) in [
            (RESET_PASSWORD_URL.name, "https://app.example.com/reset"),
            (VERIFY_TOKEN_TTL_SECONDS.name, "0"),
            (LOGIN_REQUIRES_VERIFIED_EMAIL.name, "yes please"),
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
            TOKEN_AUDIENCE.default
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
