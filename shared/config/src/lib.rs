//! Settings from the environment, read and validated once when a function starts.
//!
//! A missing or malformed variable stops the init phase with a message naming it, instead of
//! surfacing later as a failed request. AWS endpoints come from the SDK's standard variables
//! (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL_SECRETS_MANAGER`), which is
//! how the functions are pointed at DynamoDB Local or moto.

use std::str::FromStr;
use std::time::Duration;

use authgate_token::{DEFAULT_LEEWAY_SECS, VerifierConfig};
use authgate_users::RotationPolicy;

/// Name of the variable holding the users table.
pub const USERS_TABLE: &str = "USERS_TABLE";
/// Name of the variable holding the signing secret's name or ARN.
pub const SIGNING_KEY_SECRET_ID: &str = "SIGNING_KEY_SECRET_ID";
/// Default access-token lifetime: 15 minutes.
pub const DEFAULT_ACCESS_TOKEN_TTL_SECS: u64 = 900;
/// Largest accepted clock-skew leeway.
pub const MAX_LEEWAY_SECS: u64 = 300;

/// A setting is missing or malformed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// Reads variables through a lookup function, so tests need not touch the process environment.
pub struct Env<F: Fn(&str) -> Option<String>> {
    lookup: F,
}

impl Env<fn(&str) -> Option<String>> {
    /// The process environment.
    pub fn process() -> Self {
        Self {
            lookup: |name| std::env::var(name).ok(),
        }
    }
}

impl<F: Fn(&str) -> Option<String>> Env<F> {
    /// An environment backed by `lookup`.
    pub fn from_fn(lookup: F) -> Self {
        Self { lookup }
    }

    /// A non-empty variable.
    pub fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        match (self.lookup)(name) {
            Some(value) if !value.trim().is_empty() => Ok(value),
            _ => Err(ConfigError::Missing(name)),
        }
    }

    /// A variable, if set and not empty.
    pub fn optional(&self, name: &'static str) -> Option<String> {
        (self.lookup)(name).filter(|v| !v.trim().is_empty())
    }

    /// A parsed variable, or `default` when unset or empty.
    pub fn parsed_or<T: FromStr>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        match (self.lookup)(name) {
            Some(value) if !value.trim().is_empty() => {
                value
                    .trim()
                    .parse()
                    .map_err(|e: T::Err| ConfigError::Invalid {
                        name,
                        reason: e.to_string(),
                    })
            }
            _ => Ok(default),
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
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
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
            audience: env.required("TOKEN_AUDIENCE")?,
            access_ttl: Duration::from_secs(ttl),
            leeway_secs,
        })
    }

    /// What the verifier requires of a token.
    pub fn verifier_config(&self) -> VerifierConfig {
        VerifierConfig {
            issuer: self.issuer.clone(),
            audience: self.audience.clone(),
            leeway_secs: self.leeway_secs,
        }
    }
}

/// Functions reload their keys when older than this, to follow a rotation within minutes.
pub const KEYS_MAX_AGE: Duration = Duration::from_secs(300);
/// The authorizer reloads its keys for an unknown `kid` at most this often.
pub const KEY_RELOAD_MIN_INTERVAL: Duration = Duration::from_secs(60);

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
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
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

/// The AWS SDK configuration from the standard chain (region, credentials, endpoint overrides).
pub async fn aws_sdk_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> Env<impl Fn(&str) -> Option<String>> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Env::from_fn(move |name| map.get(name).cloned())
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
    fn missing_and_malformed_settings_name_the_variable() {
        assert_eq!(
            TokenSettings::from_env(&env(&[("TOKEN_AUDIENCE", "aud")])),
            Err(ConfigError::Missing("TOKEN_ISSUER"))
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
