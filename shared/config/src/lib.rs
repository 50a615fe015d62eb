//! Settings from the environment, read and validated once when a function starts.
//!
//! A missing or malformed variable stops the init phase with a message naming it, instead of
//! surfacing later as a failed request. AWS endpoints come from the SDK's standard variables
//! (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL_SECRETS_MANAGER`), which is
//! how the functions are pointed at DynamoDB Local or moto.

use std::str::FromStr;
use std::time::Duration;

use authgate_token::{DEFAULT_LEEWAY_SECS, VerifierConfig};

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
