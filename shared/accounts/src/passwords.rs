//! New passwords, checked in one place for every route that sets one: the password policy, and
//! (when `PASSWORD_BREACH_CHECK` is on) Have I Been Pwned's range API.
//!
//! The range API is asked with k-anonymity: only the first 5 hex digits of the password's SHA-1
//! leave the function, the answer lists every breached suffix with that prefix (padded, so its
//! size says nothing either), and the match is made here. The check fails open: when the API is
//! slow or down, the password is judged by the policy alone and a line is logged.

use std::time::Duration;

use authgate_config::PasswordSettings;
use authgate_users::{
    Email, EmailError, HashError, Password, PasswordError, PasswordHash, PasswordHasher,
    PasswordPolicy, User,
};
use sha1::{Digest, Sha1};

use authgate_runtime::{Env, InitError};

/// How long the range API may take before the check gives up (and the password is accepted).
const BREACH_CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// The password rules of a function that sets passwords.
pub struct NewPasswords {
    policy: PasswordPolicy,
    breach: Option<RangeApi>,
}

struct RangeApi {
    client: reqwest::Client,
    base: String,
}

impl RangeApi {
    /// Whether the range API lists `password`; `Err` when it could not say.
    async fn lists(&self, password: &Password) -> Result<bool, String> {
        let digest = Sha1::digest(password.expose_for_breach_check().as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02X}")).collect();
        let (prefix, suffix) = hex.split_at(5);
        let response = self
            .client
            .get(format!("{}{prefix}", self.base))
            .header("Add-Padding", "true")
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| e.to_string())?;
        let body = response.text().await.map_err(|e| e.to_string())?;
        Ok(body.lines().any(|line| {
            let mut fields = line.trim().split(':');
            let listed = fields
                .next()
                .is_some_and(|s| s.eq_ignore_ascii_case(suffix));
            let count = fields.next().and_then(|c| c.trim().parse::<u64>().ok());
            listed && count.is_some_and(|c| c > 0)
        }))
    }
}

impl NewPasswords {
    /// From `env`'s password settings; the HTTP client exists only when the check is on.
    pub fn build(env: &Env) -> Result<Self, InitError> {
        let settings = PasswordSettings::from_env(env)?;
        let breach = match settings.breach_api {
            None => None,
            Some(base) => Some(RangeApi {
                client: reqwest::Client::builder()
                    .timeout(BREACH_CHECK_TIMEOUT)
                    .connect_timeout(BREACH_CHECK_TIMEOUT)
                    .build()
                    .map_err(|e| {
                        InitError::Config(authgate_config::ConfigError::Invalid {
                            name: authgate_config::PASSWORD_BREACH_API_URL.name,
                            reason: e.to_string(),
                        })
                    })?,
                base,
            }),
        };
        Ok(Self {
            policy: settings.policy,
            breach,
        })
    }

    /// `input` as the new password of the account `email`, or why not.
    pub async fn check(
        &self,
        input: impl Into<String>,
        email: &Email,
    ) -> Result<Password, PasswordError> {
        let password = self.policy.check(input, email)?;
        if let Some(api) = &self.breach {
            match api.lists(&password).await {
                Ok(true) => return Err(PasswordError::Breached),
                Ok(false) => {}
                Err(reason) => {
                    tracing::warn!(%reason, "password breach check unavailable; judged by the policy alone");
                }
            }
        }
        Ok(password)
    }
}

/// A new email and password for a user, as a change asks for them: the address validated, the
/// password checked for the account it will belong to and hashed.
#[derive(Debug, Default)]
pub struct NewCredentials {
    pub email: Option<Email>,
    pub password_hash: Option<PasswordHash>,
}

/// Why new credentials were refused, or could not be hashed.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("invalid email: {0}")]
    Email(#[from] EmailError),
    #[error("invalid password: {0}")]
    Password(#[from] PasswordError),
    #[error("password hashing failed")]
    Hash(#[from] HashError),
}

/// A refused email or password is the 422 naming its field; a hash that failed is internal.
impl From<CredentialsError> for authgate_http::ApiError {
    fn from(err: CredentialsError) -> Self {
        match err {
            CredentialsError::Email(e) => e.into(),
            CredentialsError::Password(e) => e.into(),
            hash @ CredentialsError::Hash(_) => Self::internal(hash),
        }
    }
}

impl NewPasswords {
    /// `email` and `password` as changes of `user`, the one way `PATCH /users/me` and the admin
    /// API read them: the password judged against the new address when there is one.
    pub async fn credentials(
        &self,
        hasher: &PasswordHasher,
        user: &User,
        email: Option<&str>,
        password: Option<String>,
    ) -> Result<NewCredentials, CredentialsError> {
        let email = email.map(Email::parse).transpose()?;
        let password_hash = match password {
            Some(password) => {
                let account = email.as_ref().unwrap_or(&user.email);
                Some(hasher.hash(self.check(password, account).await?).await?)
            }
            None => None,
        };
        Ok(NewCredentials {
            email,
            password_hash,
        })
    }
}
