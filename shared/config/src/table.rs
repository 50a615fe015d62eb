//! Every setting, declared once: its variable, its `authgate serve` flag, its template parameter,
//! its default, its bounds and its help. The functions read settings through [`Env`] with these
//! declarations, `authgate serve` builds its flags from [`SETTINGS`], and a test holds
//! `template.yaml` to the same names, defaults and bounds.

use crate::{ConfigError, Env};

/// Which values a setting accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bounds {
    /// Any text.
    Text,
    /// JSON, read strictly (a member named twice is an error), then by the setting's own parser.
    Json,
    /// A whole number from `min`, up to `max` when there is one.
    Int { min: i64, max: Option<i64> },
    /// `true` or `false`.
    Bool,
    /// Text that contains this, where a value is filled in.
    Contains(&'static str),
}

/// Where a deployed stack sets a setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every function (the template's `Globals`).
    Every,
    /// Only these functions, by logical id.
    Only(&'static [&'static str]),
    /// No function: the default holds in a stack, and only `authgate serve` takes a value.
    Local,
}

/// One setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    /// The environment variable the functions read.
    pub name: &'static str,
    /// The `authgate serve` flag, without `--`, when `serve` takes it as one.
    pub flag: Option<&'static str>,
    /// The template parameter a stack sets it from, when there is one.
    pub parameter: Option<&'static str>,
    /// The value when unset or empty; empty means none.
    pub default: &'static str,
    pub bounds: Bounds,
    pub scope: Scope,
    /// One line for `serve --help`.
    pub help: &'static str,
}

const fn int(min: i64, max: Option<i64>) -> Bounds {
    Bounds::Int { min, max }
}

/// The functions that use the users table.
const TABLE_READERS: &[&str] = &[
    "RegisterFunction",
    "LoginFunction",
    "RefreshFunction",
    "LogoutFunction",
    "MeFunction",
    "UsersFunction",
    "RecoveryFunction",
    "OAuthFunction",
    "ClientsFunction",
    "AuthorizerFunction",
];

macro_rules! settings {
    ($(
        $(#[$doc:meta])*
        $id:ident: $flag:expr, $parameter:expr, $default:expr, $bounds:expr, $scope:expr, $help:expr;
    )+) => {
        $(
            $(#[$doc])*
            pub const $id: Setting = Setting {
                name: stringify!($id),
                flag: $flag,
                parameter: $parameter,
                default: $default,
                bounds: $bounds,
                scope: $scope,
                help: $help,
            };
        )+
        /// Every setting, in the order `serve --help` lists them.
        pub const SETTINGS: &[Setting] = &[$($id),+];
    };
}

settings! {
    TOKEN_ISSUER: Some("issuer"), Some("TokenIssuer"), "", Bounds::Text, Scope::Every,
        "`iss` of issued tokens [default: urn:authgate:local, as a stack's urn:authgate:<stack>]";
    TOKEN_AUDIENCE: Some("audience"), Some("TokenAudience"), "authgate-api", Bounds::Text,
        Scope::Every, "`aud` of issued tokens";
    ACCESS_TOKEN_TTL_SECONDS: Some("access-token-ttl"), Some("AccessTokenTtlSeconds"), "900",
        int(60, Some(86_400)), Scope::Every, "Access-token lifetime, seconds";
    TOKEN_LEEWAY_SECONDS: Some("leeway"), Some("TokenLeewaySeconds"), "30", int(0, Some(60)),
        Scope::Every, "Clock-skew leeway for exp, nbf and iat, seconds";
    REFRESH_TOKEN_TTL_SECONDS: Some("refresh-token-ttl"), Some("RefreshTokenTtlSeconds"),
        "1209600", int(60, None), Scope::Every, "Lifetime of each refresh token, seconds";
    SESSION_MAX_LIFETIME_SECONDS: Some("session-max-lifetime"), Some("SessionMaxLifetimeSeconds"),
        "2592000", int(60, None), Scope::Every,
        "Absolute lifetime of a session, seconds (at least the refresh-token lifetime)";
    REFRESH_REUSE_GRACE_SECONDS: Some("refresh-reuse-grace"), Some("RefreshReuseGraceSeconds"),
        "0", int(0, Some(60)), Scope::Every,
        "How long a spent refresh token may be presented again, seconds";
    /// JSON `{"role": ["permission", ...]}`.
    ROLES: Some("roles"), Some("Roles"), "", Bounds::Json, Scope::Every,
        "Roles and the permissions they grant, JSON {\"role\": [\"permission\", ...]}";
    /// Comma-separated role names.
    DEFAULT_ROLES: Some("default-roles"), Some("DefaultRoles"), "", Bounds::Text, Scope::Every,
        "Roles a newly registered user gets, comma-separated";
    PASSWORD_MIN_LENGTH: Some("password-min-length"), Some("PasswordMinLength"), "8",
        int(8, Some(64)), Scope::Every, "Fewest characters a new password may have";
    /// Whether new passwords are also looked up in Have I Been Pwned's range API (k-anonymity).
    PASSWORD_BREACH_CHECK: Some("password-breach-check"), Some("PasswordBreachCheck"), "false",
        Bounds::Bool, Scope::Every,
        "Also refuse new passwords the Pwned Passwords range API lists, true or false";
    /// The range API's base URL; the 5-character SHA-1 prefix is appended.
    PASSWORD_BREACH_API_URL: Some("password-breach-api-url"), None,
        "https://api.pwnedpasswords.com/range/", Bounds::Text, Scope::Local,
        "The range API's base URL, the SHA-1 prefix appended";
    LOGIN_FREE_FAILURES: Some("login-failures-before-delay"), Some("LoginFailuresBeforeDelay"),
        "5", int(1, None), Scope::Every,
        "Consecutive failed logins before an account's attempts must wait";
    LOGIN_MAX_DELAY_SECONDS: Some("login-max-delay"), Some("LoginMaxDelaySeconds"), "900",
        int(1, None), Scope::Every, "The longest wait after repeated failed logins, seconds";
    LOGIN_ADDRESS_FAILURES: Some("login-failures-per-address"), Some("LoginFailuresPerAddress"),
        "100", int(1, None), Scope::Every, "Failed logins per source address per window";
    LOGIN_ADDRESS_WINDOW_SECONDS: Some("login-address-window"),
        Some("LoginAddressWindowSeconds"), "900", int(1, None), Scope::Every,
        "The window of --login-failures-per-address, seconds";
    REGISTER_ADDRESS_LIMIT: Some("registrations-per-address"), Some("RegistrationsPerAddress"),
        "30", int(1, None), Scope::Every, "Registrations per source address per window";
    REGISTER_ADDRESS_WINDOW_SECONDS: Some("registration-address-window"),
        Some("RegistrationAddressWindowSeconds"), "600", int(1, None), Scope::Every,
        "The window of --registrations-per-address, seconds";
    /// The SES sender identity (none: no mail is sent).
    MAIL_FROM: Some("mail-from"), Some("MailFromAddress"), "", Bounds::Text, Scope::Every,
        "Sender of account mail [default: authgate@localhost locally; none in a stack]";
    RESET_PASSWORD_URL: Some("reset-password-url"), Some("ResetPasswordUrl"),
        "http://localhost:3000/reset-password?token={token}", Bounds::Contains(TOKEN_PLACEHOLDER),
        Scope::Every, "Link of a reset mail, {token} where the token goes";
    VERIFY_EMAIL_URL: Some("verify-email-url"), Some("VerifyEmailUrl"),
        "http://localhost:3000/verify?token={token}", Bounds::Contains(TOKEN_PLACEHOLDER),
        Scope::Every, "Link of a verification mail, {token} where the token goes";
    RESET_TOKEN_TTL_SECONDS: Some("reset-token-ttl"), Some("ResetTokenTtlSeconds"), "3600",
        int(1, None), Scope::Every, "Lifetime of a reset token, seconds";
    VERIFY_TOKEN_TTL_SECONDS: Some("verify-token-ttl"), Some("VerifyTokenTtlSeconds"), "86400",
        int(1, None), Scope::Every, "Lifetime of a verification token, seconds";
    MAILS_PER_ADDRESS: Some("mails-per-address"), Some("MailsPerAddress"), "5", int(1, None),
        Scope::Every, "Mails of each kind one address may get per window";
    MAIL_ADDRESS_WINDOW_SECONDS: Some("mail-address-window"), Some("MailAddressWindowSeconds"),
        "3600", int(1, None), Scope::Every, "The window of --mails-per-address, seconds";
    LOGIN_REQUIRES_VERIFIED_EMAIL: Some("login-requires-verified-email"),
        Some("LoginRequiresVerifiedEmail"), "false", Bounds::Bool, Scope::Every,
        "Whether login needs a verified address, true or false";
    /// The outside OIDC issuers whose tokens the authorizer accepts, JSON.
    TRUSTED_ISSUERS: Some("trusted-issuers"), Some("TrustedIssuers"), "", Bounds::Json,
        Scope::Only(&["AuthorizerFunction"]),
        "Outside OIDC issuers whose access tokens the authorizer accepts, JSON list";
    /// Which permissions each of authgate's protected routes needs, JSON; set in the template.
    ROUTE_PERMISSIONS: None, None, "", Bounds::Json, Scope::Only(&["AuthorizerFunction"]),
        "Route rules of authgate's own routes, JSON";
    /// The rules of routes outside authgate's template (APIs in other stacks that use this
    /// authorizer), in the same form, per API id or for every API; merged with
    /// [`ROUTE_PERMISSIONS`].
    EXTRA_ROUTE_PERMISSIONS: None, Some("ExtraRoutePermissions"), "", Bounds::Json,
        Scope::Only(&["AuthorizerFunction"]), "Route rules of other APIs, JSON";
    /// How HTTP API payload 2.0 events are answered: `true` for simple responses, `false` for
    /// IAM policies.
    HTTP_API_SIMPLE_RESPONSES: None, None, "true", Bounds::Bool,
        Scope::Only(&["AuthorizerFunction"]),
        "Answer HTTP API payload 2.0 events with simple responses, true or false";
    /// How long a client's rotated-out secret keeps working, so its deployments can roll.
    CLIENT_SECRET_OVERLAP_SECONDS: Some("client-secret-overlap"),
        Some("ClientSecretOverlapSeconds"), "86400", int(0, Some(2_592_000)),
        Scope::Only(&["ClientsFunction"]),
        "How long a client's previous secret keeps working after a rotation, seconds";
    /// The users table, set from the stack's own resource.
    USERS_TABLE: None, None, "", Bounds::Text, Scope::Only(TABLE_READERS),
        "The DynamoDB users table";
    /// The signing secret's name or ARN.
    SIGNING_KEY_SECRET_ID: None, None, "", Bounds::Text,
        Scope::Only(&["LoginFunction", "RefreshFunction", "OAuthFunction", "AuthorizerFunction"]),
        "The signing key's secret";
    /// The secret the rotation function publishes the public keys in (a JWK Set): what verifiers
    /// of asymmetric tokens read instead of the signing secret.
    PUBLIC_KEYS_SECRET_ID: None, None, "", Bounds::Text,
        Scope::Only(&["RotateKeyFunction", "DiscoveryFunction", "AuthorizerFunction"]),
        "The published public keys' secret";
}

/// Where a link's token goes in [`RESET_PASSWORD_URL`] and [`VERIFY_EMAIL_URL`].
pub const TOKEN_PLACEHOLDER: &str = "{token}";

impl Setting {
    /// `value` checked against the bounds, with a reason naming them when it falls outside.
    pub fn check(&self, value: &str) -> Result<(), ConfigError> {
        let invalid = |reason: String| ConfigError::Invalid {
            name: self.name,
            reason,
        };
        match self.bounds {
            Bounds::Text => Ok(()),
            Bounds::Json => authgate_token::strict_json::from_slice(value.as_bytes())
                .map(|_| ())
                .map_err(|e| invalid(e.to_string())),
            Bounds::Bool => match value {
                "true" | "false" => Ok(()),
                _ => Err(invalid("must be true or false".into())),
            },
            Bounds::Contains(part) if value.contains(part) => Ok(()),
            Bounds::Contains(part) => Err(invalid(format!("must contain {part}, where it goes"))),
            Bounds::Int { min, max } => {
                let number: i64 = value.parse().map_err(|e| invalid(format!("{e}")))?;
                match max {
                    Some(max) if !(min..=max).contains(&number) => {
                        Err(invalid(format!("must be between {min} and {max}")))
                    }
                    None if number < min => Err(invalid(format!("must be at least {min}"))),
                    _ => Ok(()),
                }
            }
        }
    }
}

impl Env {
    /// The setting's value, else its default (`None` when both are empty), checked against its
    /// bounds.
    pub fn setting(&self, setting: &Setting) -> Result<Option<String>, ConfigError> {
        let value = self
            .optional(setting.name)
            .map(|v| v.trim().to_owned())
            .or_else(|| (!setting.default.is_empty()).then(|| setting.default.to_owned()));
        if let Some(value) = &value {
            setting.check(value)?;
        }
        Ok(value)
    }

    /// The setting's value or default as text, empty when it has neither.
    pub fn text(&self, setting: &Setting) -> Result<String, ConfigError> {
        Ok(self.setting(setting)?.unwrap_or_default())
    }

    /// The setting's value or default, which must be there.
    pub fn required_setting(&self, setting: &Setting) -> Result<String, ConfigError> {
        self.setting(setting)?
            .ok_or(ConfigError::Missing(setting.name))
    }

    /// A whole-number setting, within its bounds.
    pub fn number<T: TryFrom<i64>>(&self, setting: &Setting) -> Result<T, ConfigError> {
        let value = self.required_setting(setting)?;
        let number: i64 = value.parse().map_err(|_| ConfigError::Invalid {
            name: setting.name,
            reason: "not a whole number".into(),
        })?;
        T::try_from(number).map_err(|_| ConfigError::Invalid {
            name: setting.name,
            reason: "out of range".into(),
        })
    }

    /// A `true`/`false` setting.
    pub fn flag(&self, setting: &Setting) -> Result<bool, ConfigError> {
        Ok(self.required_setting(setting)? == "true")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_flags_are_each_declared_once() {
        let mut names: Vec<&str> = SETTINGS.iter().map(|s| s.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), SETTINGS.len());
        let mut flags: Vec<&str> = SETTINGS.iter().filter_map(|s| s.flag).collect();
        let count = flags.len();
        flags.sort_unstable();
        flags.dedup();
        assert_eq!(flags.len(), count);
    }

    #[test]
    fn every_default_is_within_its_bounds() {
        for setting in SETTINGS {
            if !setting.default.is_empty() {
                assert_eq!(setting.check(setting.default), Ok(()), "{}", setting.name);
            }
        }
    }

    #[test]
    fn values_are_held_to_their_bounds() {
        let env = |name: &str, value: &str| Env::from_pairs([(name, value)]);
        assert_eq!(
            env("ACCESS_TOKEN_TTL_SECONDS", "59").number::<u64>(&ACCESS_TOKEN_TTL_SECONDS),
            Err(ConfigError::Invalid {
                name: "ACCESS_TOKEN_TTL_SECONDS",
                reason: "must be between 60 and 86400".into()
            })
        );
        assert_eq!(
            Env::default().number::<u64>(&ACCESS_TOKEN_TTL_SECONDS),
            Ok(900)
        );
        assert!(
            env("LOGIN_FREE_FAILURES", "0")
                .number::<i64>(&LOGIN_FREE_FAILURES)
                .is_err()
        );
        assert!(
            env("PASSWORD_BREACH_CHECK", "yes")
                .flag(&PASSWORD_BREACH_CHECK)
                .is_err()
        );
        assert!(
            env("RESET_PASSWORD_URL", "https://x")
                .text(&RESET_PASSWORD_URL)
                .is_err()
        );
        assert_eq!(
            Env::default().required_setting(&TOKEN_ISSUER),
            Err(ConfigError::Missing("TOKEN_ISSUER"))
        );
    }

    #[test]
    fn json_settings_refuse_a_member_named_twice() {
        let env = Env::from_pairs([("ROLES", r#"{"a": ["x"], "a": ["y"]}"#)]);
        assert!(matches!(
            env.text(&ROLES),
            Err(ConfigError::Invalid { name: "ROLES", .. })
        ));
        let env = Env::from_pairs([("ROLES", r#"{"a": ["x"], "b": ["y"]}"#)]);
        assert!(env.text(&ROLES).is_ok());
    }
}
