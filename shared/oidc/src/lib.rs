//! Trusting tokens from outside OIDC issuers (Auth0, Cognito, any provider), as the Auth0 API
//! tutorial does, inside authgate's authorizer.
//!
//! Each trusted issuer is configured with its `iss`, the audience its tokens must carry for this
//! API, and the algorithms it may use (asymmetric only: an HMAC key would have to be shared, and
//! `alg` confusion with a public key is the classic forgery). Keys come from the issuer's
//! `/.well-known/openid-configuration` and its `jwks_uri`, are cached for a TTL, and are fetched
//! again for an unknown `kid` at most once per interval. Fetches have short timeouts; an issuer
//! that is slow or down makes only its own tokens fail, closed.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use authgate_token::jws::verify_compact;
use authgate_token::outside::{OutsideClaims, validate_outside};
use authgate_token::{ASYMMETRIC_ALGORITHMS, Algorithm, Jwk, Key, KeySet, Validation, VerifyError};
use serde::Deserialize;

/// One trusted issuer, as configured in `TRUSTED_ISSUERS`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerConfig {
    /// The exact `iss` of its tokens, e.g. `https://tenant.eu.auth0.com/`.
    pub issuer: String,
    /// The audience its tokens must name for this API.
    pub audience: String,
    /// The algorithms it signs with, e.g. `["RS256"]`.
    pub algorithms: Vec<String>,
    /// The `typ` header its access tokens carry, when it sets one (e.g. `at+jwt` for RFC 9068
    /// profiles): then tokens without it are refused. Absent, `typ` may be missing, `JWT` or
    /// `at+jwt`.
    #[serde(default)]
    pub typ: Option<String>,
}

/// Whether `issuer` is an Amazon Cognito user pool (`https://cognito-idp.REGION.amazonaws.com/POOL`),
/// whose every token carries `token_use` (`access` or `id`).
fn is_cognito(issuer: &str) -> bool {
    reqwest::Url::parse(issuer).is_ok_and(|url| {
        url.host_str().is_some_and(|host| {
            host.starts_with("cognito-idp.")
                && (host.ends_with(".amazonaws.com") || host.ends_with(".amazonaws.com.cn"))
        })
    })
}

/// Caching, timeouts and limits.
#[derive(Debug, Clone, Copy)]
pub struct FetchPolicy {
    /// How long fetched keys are used before they are fetched again.
    pub jwks_ttl: Duration,
    /// Least time between fetches triggered by unknown `kid`s or failures.
    pub min_refetch_interval: Duration,
    /// Timeout of each HTTP request.
    pub timeout: Duration,
    /// How long past the TTL the last good keys still serve while the issuer cannot be reached
    /// (stale-if-error); after that its tokens fail, closed.
    pub max_stale: Duration,
    /// Largest discovery document or JWKS read.
    pub max_body_bytes: usize,
}

impl Default for FetchPolicy {
    fn default() -> Self {
        Self {
            jwks_ttl: Duration::from_secs(600),
            min_refetch_interval: Duration::from_secs(30),
            timeout: Duration::from_secs(2),
            max_stale: Duration::from_secs(3600),
            max_body_bytes: 256 * 1024,
        }
    }
}

/// Keys are fetched over https only; plain http only from the machine itself (tests, local
/// development), never across a network.
fn allowed_url(url: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(url) else {
        return false;
    };
    match url.scheme() {
        "https" => true,
        "http" => matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]")),
        _ => false,
    }
}

/// Why outside issuers could not be configured or a token of theirs was refused.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("TRUSTED_ISSUERS is not a JSON list of {{issuer, audience, algorithms}}: {0}")]
    Config(String),
    #[error(
        "issuer {issuer} may not use {alg}: only asymmetric algorithms are trusted from outside issuers"
    )]
    ForbiddenAlgorithm { issuer: String, alg: String },
    #[error(
        "trusted issuer {0} is authgate's own issuer; its tokens are verified with authgate's keys"
    )]
    OwnIssuer(String),
    #[error("issuer {0} is not trusted")]
    UnknownIssuer(String),
    #[error("keys of issuer {issuer} are unavailable: {reason}")]
    Unavailable { issuer: String, reason: String },
    #[error("token rejected: {0}")]
    Token(#[from] VerifyError),
}

/// Parses and checks `TRUSTED_ISSUERS`.
pub fn parse_trusted_issuers(json: &str) -> Result<Vec<IssuerConfig>, OidcError> {
    if json.trim().is_empty() {
        return Ok(Vec::new());
    }
    let configs: Vec<IssuerConfig> =
        serde_json::from_str(json).map_err(|e| OidcError::Config(e.to_string()))?;
    for config in &configs {
        if !allowed_url(&config.issuer) {
            return Err(OidcError::Config(format!(
                "issuer {} is not an https URL (plain http only on this machine)",
                config.issuer
            )));
        }
        if config.algorithms.is_empty() {
            return Err(OidcError::Config(format!(
                "issuer {} lists no algorithms",
                config.issuer
            )));
        }
        if let Some(alg) = config.algorithms.iter().find(|a| {
            !a.parse::<Algorithm>()
                .is_ok_and(|alg| ASYMMETRIC_ALGORITHMS.contains(&alg))
        }) {
            return Err(OidcError::ForbiddenAlgorithm {
                issuer: config.issuer.clone(),
                alg: alg.clone(),
            });
        }
    }
    Ok(configs)
}

/// Refuses a trusted outside issuer that claims authgate's own `iss`: it would take authgate's own
/// tokens away from authgate's keys.
pub fn check_not_own(configs: &[IssuerConfig], own_issuer: &str) -> Result<(), OidcError> {
    match configs.iter().find(|c| c.issuer == own_issuer) {
        Some(config) => Err(OidcError::OwnIssuer(config.issuer.clone())),
        None => Ok(()),
    }
}

struct Cached {
    keys: Option<(Arc<KeySet>, Instant)>,
    last_attempt: Option<Instant>,
}

struct Issuer {
    config: IssuerConfig,
    algorithms: Vec<Algorithm>,
    validation: Validation,
    cache: RwLock<Cached>,
    fetching: tokio::sync::Mutex<()>,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

#[derive(Deserialize)]
struct JwkSet {
    keys: Vec<serde_json::Value>,
}

/// The trusted outside issuers and their cached keys.
pub struct OutsideIssuers {
    issuers: HashMap<String, Issuer>,
    /// Built only when some issuer is trusted: with none, nothing is ever fetched, and a cold
    /// start need not build a TLS client (nor load the certificate store) for nothing.
    client: Option<reqwest::Client>,
    policy: FetchPolicy,
}

impl OutsideIssuers {
    /// Issuers from configuration, their tokens' time claims checked with `leeway_secs`; nothing
    /// is fetched until a token needs it.
    pub fn new(
        configs: Vec<IssuerConfig>,
        policy: FetchPolicy,
        leeway_secs: u64,
    ) -> Result<Self, OidcError> {
        let client = if configs.is_empty() {
            None
        } else {
            Some(
                reqwest::Client::builder()
                    .timeout(policy.timeout)
                    .connect_timeout(policy.timeout)
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .map_err(|e| OidcError::Config(e.to_string()))?,
            )
        };
        let mut issuers = HashMap::new();
        for config in configs {
            let algorithms = config
                .algorithms
                .iter()
                .filter_map(|a| a.parse().ok())
                .collect();
            let mut validation = Validation::outside(&config.issuer, &config.audience, leeway_secs);
            if is_cognito(&config.issuer) {
                validation = validation.require_token_use();
            }
            if let Some(typ) = &config.typ {
                validation = validation.require_typ(typ);
            }
            issuers.insert(
                config.issuer.clone(),
                Issuer {
                    config,
                    algorithms,
                    validation,
                    cache: RwLock::new(Cached {
                        keys: None,
                        last_attempt: None,
                    }),
                    fetching: tokio::sync::Mutex::new(()),
                },
            );
        }
        Ok(Self {
            issuers,
            client,
            policy,
        })
    }

    /// Whether `iss` is a trusted outside issuer.
    pub fn trusts(&self, iss: &str) -> bool {
        self.issuers.contains_key(iss)
    }

    /// Whether any issuer is configured.
    pub fn is_empty(&self) -> bool {
        self.issuers.is_empty()
    }

    /// GETs `url` as a JSON document of type `T`: https only (see [`allowed_url`]), at most
    /// `max_body_bytes`, unique member names.
    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        what: &str,
    ) -> Result<T, String> {
        if !allowed_url(url) {
            return Err(format!("{what}: {url} is not an https URL"));
        }
        let client = self
            .client
            .as_ref()
            .ok_or_else(|| format!("{what}: no issuer is trusted"))?;
        let mut response = client
            .get(url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| format!("{what}: {e}"))?;
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| format!("{what}: {e}"))? {
            if body.len() + chunk.len() > self.policy.max_body_bytes {
                return Err(format!(
                    "{what}: larger than {} bytes",
                    self.policy.max_body_bytes
                ));
            }
            body.extend_from_slice(&chunk);
        }
        let value = authgate_token::strict_json::from_slice(&body)
            .map_err(|e| format!("{what} document: {e}"))?;
        serde_json::from_value(value).map_err(|e| format!("{what} document: {e}"))
    }

    async fn fetch(&self, issuer: &Issuer) -> Result<KeySet, String> {
        let base = issuer.config.issuer.trim_end_matches('/');
        let discovery: Discovery = self
            .get_json(
                &format!("{base}/.well-known/openid-configuration"),
                "discovery",
            )
            .await?;
        if discovery.issuer != issuer.config.issuer {
            return Err(format!("discovery names issuer {:?}", discovery.issuer));
        }
        let set: JwkSet = self.get_json(&discovery.jwks_uri, "jwks").await?;
        let mut keys: Vec<Key> = set
            .keys
            .into_iter()
            .filter_map(|value| serde_json::from_value::<Jwk>(value).ok())
            .filter_map(|jwk| Key::from_jwk(&jwk, &issuer.algorithms).ok())
            .collect();
        // A kid named twice is ambiguous: that kid is dropped, the issuer's other keys still serve.
        let mut seen = HashMap::new();
        for key in &keys {
            *seen.entry(key.kid().to_owned()).or_insert(0usize) += 1;
        }
        keys.retain(|key| seen.get(key.kid()) == Some(&1));
        KeySet::verifying(keys).map_err(|e| format!("jwks keys: {e}"))
    }

    /// The issuer's keys: cached, or fetched when missing, older than the TTL, or (`force`) when a
    /// token named an unknown `kid`; fetches are at most once per interval.
    async fn keys(&self, issuer: &Issuer, force: bool) -> Result<Arc<KeySet>, OidcError> {
        let unavailable = |reason: String| OidcError::Unavailable {
            issuer: issuer.config.issuer.clone(),
            reason,
        };
        let (cached, stale, due) = {
            let cache = issuer
                .cache
                .read()
                .map_err(|_| unavailable("cache poisoned".into()))?;
            let within = |limit: Duration| {
                cache
                    .keys
                    .as_ref()
                    .filter(|(_, at)| at.elapsed() < limit)
                    .map(|(k, _)| Arc::clone(k))
            };
            let may_fetch = cache
                .last_attempt
                .is_none_or(|at| at.elapsed() >= self.policy.min_refetch_interval);
            (
                within(self.policy.jwks_ttl),
                within(self.policy.jwks_ttl.saturating_add(self.policy.max_stale)),
                may_fetch,
            )
        };
        if let Some(keys) = &cached
            && !force
        {
            return Ok(Arc::clone(keys));
        }
        if !due {
            return cached
                .or(stale)
                .ok_or_else(|| unavailable("fetched recently and failed".into()));
        }
        let _one_at_a_time = issuer.fetching.lock().await;
        let result = self.fetch(issuer).await;
        let mut cache = issuer
            .cache
            .write()
            .map_err(|_| unavailable("cache poisoned".into()))?;
        cache.last_attempt = Some(Instant::now());
        match result {
            Ok(keys) => {
                let keys = Arc::new(keys);
                cache.keys = Some((Arc::clone(&keys), Instant::now()));
                Ok(keys)
            }
            Err(reason) => {
                tracing::warn!(issuer = %issuer.config.issuer, %reason, "fetching the issuer's keys failed");
                // Stale-if-error: the last good keys serve for a bounded time, then fail closed.
                match cached.or(stale) {
                    Some(keys) if !force => Ok(keys),
                    _ => Err(unavailable(reason)),
                }
            }
        }
    }

    /// Verifies a token of the outside issuer `iss` as of `now`: its pinned keys, then its claims.
    pub async fn verify(
        &self,
        token: &str,
        iss: &str,
        now: i64,
    ) -> Result<OutsideClaims, OidcError> {
        let issuer = self
            .issuers
            .get(iss)
            .ok_or_else(|| OidcError::UnknownIssuer(iss.to_owned()))?;
        let keys = self.keys(issuer, false).await?;
        let (typ, payload) = match verify_compact(token, &keys) {
            Ok(verified) => (verified.header.typ, verified.payload),
            Err(VerifyError::UnknownKid) => {
                let refetched = self.keys(issuer, true).await?;
                let verified = verify_compact(token, &refetched)?;
                (verified.header.typ, verified.payload)
            }
            Err(e) => return Err(e.into()),
        };
        Ok(validate_outside(
            typ.as_deref(),
            &payload,
            &issuer.validation,
            now,
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cognito_user_pools_are_recognised_by_their_issuer_host() {
        assert!(is_cognito(
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123"
        ));
        assert!(is_cognito(
            "https://cognito-idp.cn-north-1.amazonaws.com.cn/cn-north-1_x"
        ));
        for other in [
            "https://tenant.eu.auth0.com/",
            "https://cognito-idp.example.com/pool",
            "https://evil.com/cognito-idp.eu-west-1.amazonaws.com",
            "not a url",
        ] {
            assert!(!is_cognito(other), "{other}");
        }
    }
}
