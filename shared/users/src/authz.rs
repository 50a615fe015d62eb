//! What a user may do: their roles, the permissions those roles grant, and the custom claims
//! their tokens carry.
//!
//! Roles map to permissions through one definition (the `Roles` template parameter, read once at
//! init); tokens carry both the roles and the permissions (`scope`), so the authorizer decides
//! per route from the token alone. Custom claims are checked where they are set, so a token never
//! carries a claim that could be mistaken for one authgate or the JWT standards define.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

/// The built-in role that may administer users.
pub const ADMIN_ROLE: &str = "admin";
/// Permission to read users through the admin API.
pub const USERS_READ: &str = "users:read";
/// Permission to change and delete users through the admin API.
pub const USERS_WRITE: &str = "users:write";
/// Permission to change what a user's tokens grant: their roles and custom claims. Apart from
/// `users:write`, so that a support role that resets passwords cannot hand out `admin`.
pub const USERS_ROLES: &str = "users:roles";
/// Permission to read OAuth clients through the admin API.
pub const CLIENTS_READ: &str = "clients:read";
/// Permission to register, change, rotate and delete OAuth clients through the admin API.
pub const CLIENTS_WRITE: &str = "clients:write";
/// A client's permission to introspect any token (RFC 7662), not only its own.
pub const TOKENS_INTROSPECT: &str = "tokens:introspect";
/// The permissions of user administration: a caller manages only users whose administration
/// permissions it holds itself (a support role cannot take over an administrator's account).
pub const ADMINISTRATION_PERMISSIONS: [&str; 5] = [
    USERS_READ,
    USERS_WRITE,
    USERS_ROLES,
    CLIENTS_READ,
    CLIENTS_WRITE,
];

/// Largest encoded size of a user's custom claims, in bytes.
pub const MAX_CUSTOM_CLAIMS_BYTES: usize = 2048;

/// Claim names a custom claim may never take: the registered JWT claims (RFC 7519 §4.1), those of
/// RFC 9068 and OpenID Connect that verifiers act on, and the ones authgate itself issues.
pub const RESERVED_CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "nbf",
    "iat",
    "jti",
    "sid",
    "typ",
    "cty",
    "scope",
    "scp",
    "roles",
    "groups",
    "entitlements",
    "permissions",
    "email",
    "email_verified",
    "client_id",
    "azp",
    "auth_time",
    "acr",
    "amr",
    "nonce",
    "at_hash",
    "c_hash",
    "token_use",
    "cnf",
    "act",
    "may_act",
    "kid",
    "alg",
    "claims",
    "api_key_id",
];

/// A role or permission name: 1 to 64 of `A-Z a-z 0-9 _ . : -`.
fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'))
}

/// A claim name: a letter or `_`, then up to 63 of `A-Z a-z 0-9 _ . : -`.
fn valid_claim_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && name.len() <= 64
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'))
}

/// Why roles, a role definition or custom claims were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthzError {
    #[error("{0:?} is not a valid role name (1 to 64 of A-Z a-z 0-9 _ . : -)")]
    InvalidRole(String),
    #[error("{0:?} is not a valid permission name (1 to 64 of A-Z a-z 0-9 _ . : -)")]
    InvalidPermission(String),
    #[error("role {0:?} is not defined")]
    UnknownRole(String),
    #[error("the role definition is not a JSON object of role to permission list: {0}")]
    RoleDefinition(String),
    #[error("custom claims must be a JSON object")]
    NotAnObject,
    #[error(
        "{0:?} is not a valid claim name (a letter or _, then up to 63 of A-Z a-z 0-9 _ . : -)"
    )]
    InvalidClaimName(String),
    #[error("{0:?} is a reserved claim name")]
    ReservedClaim(String),
    #[error("custom claims are {0} bytes encoded; at most {MAX_CUSTOM_CLAIMS_BYTES} are allowed")]
    ClaimsTooLarge(usize),
}

/// A space-separated list of scopes (RFC 6749 §3.3), each a permission name.
pub fn parse_scopes(list: &str) -> Result<BTreeSet<String>, AuthzError> {
    list.split(' ')
        .filter(|scope| !scope.is_empty())
        .map(|scope| {
            if valid_name(scope) {
                Ok(scope.to_owned())
            } else {
                Err(AuthzError::InvalidPermission(scope.to_owned()))
            }
        })
        .collect()
}

/// Role names, validated.
pub fn parse_roles<S: AsRef<str>>(
    names: impl IntoIterator<Item = S>,
) -> Result<BTreeSet<String>, AuthzError> {
    names
        .into_iter()
        .map(|name| {
            let name = name.as_ref().trim();
            if valid_name(name) {
                Ok(name.to_owned())
            } else {
                Err(AuthzError::InvalidRole(name.to_owned()))
            }
        })
        .collect()
}

/// A user's custom claims: a JSON object of at most [`MAX_CUSTOM_CLAIMS_BYTES`] whose names are
/// valid and none [`RESERVED_CLAIMS`]. Tokens carry them at top level.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct CustomClaims(Map<String, Value>);

impl CustomClaims {
    /// Checks `value` as custom claims.
    pub fn parse(value: Value) -> Result<Self, AuthzError> {
        let Value::Object(map) = value else {
            return Err(AuthzError::NotAnObject);
        };
        for name in map.keys() {
            if !valid_claim_name(name) {
                return Err(AuthzError::InvalidClaimName(name.clone()));
            }
            if RESERVED_CLAIMS.contains(&name.as_str()) {
                return Err(AuthzError::ReservedClaim(name.clone()));
            }
        }
        let size = Value::Object(map.clone()).to_string().len();
        if size > MAX_CUSTOM_CLAIMS_BYTES {
            return Err(AuthzError::ClaimsTooLarge(size));
        }
        Ok(Self(map))
    }

    /// The claims.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'de> serde::Deserialize<'de> for CustomClaims {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::parse(Value::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

/// Which permissions each role grants: the built-in `admin` role plus the deployment's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleMap(BTreeMap<String, BTreeSet<String>>);

impl Default for RoleMap {
    fn default() -> Self {
        Self(BTreeMap::from([(
            ADMIN_ROLE.to_owned(),
            ADMINISTRATION_PERMISSIONS.map(str::to_owned).into(),
        )]))
    }
}

impl RoleMap {
    /// The built-in roles and those of `json`, `{"role": ["permission", ...]}` (empty: none). A
    /// definition of `admin` adds to its built-in permissions; it never removes them.
    pub fn parse(json: &str) -> Result<Self, AuthzError> {
        let mut map = Self::default();
        if json.trim().is_empty() {
            return Ok(map);
        }
        let defined: BTreeMap<String, Vec<String>> =
            serde_json::from_str(json).map_err(|e| AuthzError::RoleDefinition(e.to_string()))?;
        for (role, permissions) in defined {
            let role = parse_roles([role])?.into_iter().next().unwrap_or_default();
            let granted = map.0.entry(role).or_default();
            for permission in permissions {
                if !valid_name(&permission) {
                    return Err(AuthzError::InvalidPermission(permission));
                }
                granted.insert(permission);
            }
        }
        Ok(map)
    }

    /// Every permission some role grants, sorted.
    pub fn all_permissions(&self) -> BTreeSet<String> {
        self.0.values().flatten().cloned().collect()
    }

    /// Whether `role` is defined.
    pub fn defines(&self, role: &str) -> bool {
        self.0.contains_key(role)
    }

    /// `roles`, each checked to be defined.
    pub fn check(&self, roles: &BTreeSet<String>) -> Result<(), AuthzError> {
        match roles.iter().find(|role| !self.defines(role)) {
            Some(unknown) => Err(AuthzError::UnknownRole(unknown.clone())),
            None => Ok(()),
        }
    }

    /// Every permission `roles` grant, sorted (a role no longer defined grants nothing).
    pub fn permissions(&self, roles: &BTreeSet<String>) -> BTreeSet<String> {
        roles
            .iter()
            .filter_map(|role| self.0.get(role))
            .flatten()
            .cloned()
            .collect()
    }

    /// Whether a caller holding `caller` roles may manage a user holding `target` roles: only if
    /// it holds every administration permission the target holds.
    pub fn may_manage(&self, caller: &BTreeSet<String>, target: &BTreeSet<String>) -> bool {
        self.may_be_managed_with(&self.permissions(caller), target)
    }

    /// Whether a caller with the permissions `mine` (a user's roles', or a client's scopes) may
    /// manage a user holding `target` roles: the rule of [`RoleMap::may_manage`].
    pub fn may_be_managed_with(&self, mine: &BTreeSet<String>, target: &BTreeSet<String>) -> bool {
        self.permissions(target)
            .iter()
            .filter(|p| ADMINISTRATION_PERMISSIONS.contains(&p.as_str()))
            .all(|p| mine.contains(p))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn admin_is_built_in_and_deployments_add_roles() {
        let map =
            RoleMap::parse(r#"{"editor": ["items:write", "items:read"], "admin": ["audit:read"]}"#)
                .unwrap();
        let admin = map.permissions(&BTreeSet::from([ADMIN_ROLE.to_owned()]));
        assert_eq!(
            admin.into_iter().collect::<Vec<_>>(),
            [
                "audit:read",
                CLIENTS_READ,
                CLIENTS_WRITE,
                USERS_READ,
                USERS_ROLES,
                USERS_WRITE
            ]
        );
        let both = map.permissions(&parse_roles(["editor", "ghost"]).unwrap());
        assert_eq!(
            both.into_iter().collect::<Vec<_>>(),
            ["items:read", "items:write"]
        );
        assert_eq!(
            map.check(&parse_roles(["ghost"]).unwrap()),
            Err(AuthzError::UnknownRole("ghost".into()))
        );
        assert_eq!(RoleMap::parse("").unwrap(), RoleMap::default());
        for bad in [
            r#"["admin"]"#,
            r#"{"a b": []}"#,
            r#"{"r": ["has space"]}"#,
            "{",
        ] {
            assert!(RoleMap::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn custom_claims_are_an_object_of_valid_unreserved_names_within_2_kib() {
        let ok = CustomClaims::parse(json!({"foo": ["fiz", "baz"], "tenant.id": 7, "_x": null}));
        assert!(ok.is_ok());
        assert_eq!(
            CustomClaims::parse(json!(["foo"])),
            Err(AuthzError::NotAnObject)
        );
        for reserved in [
            "sub",
            "exp",
            "roles",
            "scope",
            "email",
            "client_id",
            "azp",
            "typ",
        ] {
            assert_eq!(
                CustomClaims::parse(json!({ reserved: 1 })),
                Err(AuthzError::ReservedClaim(reserved.into())),
                "{reserved}"
            );
        }
        for bad in ["9lives", "", "has space", "é", &"x".repeat(65)] {
            assert!(
                matches!(
                    CustomClaims::parse(json!({ bad: 1 })),
                    Err(AuthzError::InvalidClaimName(_))
                ),
                "{bad:?}"
            );
        }
        assert!(CustomClaims::parse(json!({ "x".repeat(64): 1 })).is_ok());
        let big = CustomClaims::parse(json!({"blob": "a".repeat(MAX_CUSTOM_CLAIMS_BYTES)}));
        assert!(matches!(big, Err(AuthzError::ClaimsTooLarge(_))), "{big:?}");
    }

    #[test]
    fn a_caller_manages_only_users_whose_administration_permissions_it_holds() {
        let map = RoleMap::parse(
            r#"{"support": ["users:read", "users:write"], "editor": ["items:write"]}"#,
        )
        .unwrap();
        let roles = |names: &[&str]| parse_roles(names.iter().copied()).unwrap();
        assert!(map.may_manage(&roles(&["admin"]), &roles(&["admin", "editor"])));
        assert!(map.may_manage(&roles(&["support"]), &roles(&["editor"])));
        assert!(map.may_manage(&roles(&["support"]), &roles(&["support"])));
        assert!(!map.may_manage(&roles(&["support"]), &roles(&["admin"])));
        assert!(!map.may_manage(&roles(&["editor"]), &roles(&["support"])));
    }

    #[test]
    fn role_names_are_checked() {
        assert!(parse_roles(["admin", "editor:items"]).is_ok());
        assert_eq!(
            parse_roles(["no spaces"]),
            Err(AuthzError::InvalidRole("no spaces".into()))
        );
    }
}
