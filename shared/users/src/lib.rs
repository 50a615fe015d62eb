//! Users: validated input newtypes, Argon2id password hashing, and the storage contract.
//!
//! Everything here is independent of where users live; `UserStore` is the narrow seam that the
//! DynamoDB store, the embedded store and the in-memory store all implement and that the contract
//! suite (feature `contract-tests`) checks identically.

mod access;
mod api_keys;
mod authz;
mod clients;
#[cfg(any(test, feature = "contract-tests"))]
pub mod contract;
mod credentials;
mod email;
mod memory;
mod password;
mod recovery;
mod sessions;
mod store;
mod throttle;
mod token_checks;

pub use access::{Denied, user_may_act};
pub use api_keys::{
    ApiKeyGrant, ApiKeyId, ApiKeyRecord, ApiKeyState, ApiKeyStore, MAX_API_KEYS_PER_USER,
};
pub use authz::{
    ADMIN_ROLE, ADMINISTRATION_PERMISSIONS, AuthzError, CLIENTS_READ, CLIENTS_WRITE, CustomClaims,
    MAX_CUSTOM_CLAIMS_BYTES, RESERVED_CLAIMS, RoleMap, TOKENS_INTROSPECT, USERS_READ, USERS_ROLES,
    USERS_WRITE, parse_roles, parse_scopes,
};
pub use clients::{
    Client, ClientId, ClientPage, ClientState, ClientStore, ClientView, IssuedClient,
    PreviousSecret,
};
pub use credentials::{API_KEY_PREFIX, ApiKey, ClientSecret, InvalidApiKey, InvalidClientSecret};
pub use email::{Email, EmailError};
pub use memory::InMemoryUserStore;
pub use password::{
    ARGON2_M_COST_KIB, ARGON2_P_COST, ARGON2_T_COST, HashError, MAX_MIN_PASSWORD_CHARS,
    MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS, Password, PasswordError, PasswordHash, PasswordHasher,
    PasswordPolicy, PolicyError, max_concurrent_hashes,
};
pub use recovery::{
    ActionRecord, ActionToken, ActionTokenStore, InvalidActionToken, TokenPurpose, binding,
    redeemable,
};
pub use sessions::{
    InvalidRefreshToken, RefreshError, RefreshRecord, RefreshToken, Rotated, RotationDecision,
    RotationPolicy, Session, SessionId, SessionState, SessionStore, TokenHash, decide_rotation,
    may_start, now_ms, raised_cut_off, sha256_hex,
};
pub use store::{
    Expected, NewUser, PublicUser, StoreError, User, UserChanges, UserId, UserPage, UserStore,
    decode_cursor, encode_cursor, page_of,
};
pub use throttle::{
    Backoff, CLIENT_AUTH_BUSY, CLIENT_AUTH_THROTTLED, Counted, Guessed, LOGIN_BUSY,
    LOGIN_THROTTLED, LoginAttempt, LoginLimits, REGISTER_THROTTLED, RegisterLimits, ThrottleError,
    ThrottleKey, ThrottleStore, Throttled, WindowCap,
};
pub use token_checks::{TokenChecks, TokenHolder, holder_may_act};
