//! The API Gateway TOKEN authorizer: a valid access token becomes an Allow policy.
//!
//! The signature and claims are checked in memory with the key set loaded at init. Then one read
//! asks whether the token's session is still alive (not logged out, not past logout-all, user not
//! disabled): a strongly consistent `BatchGetItem` of the session and user items, paid only on
//! calls API Gateway has not cached. Any failure at all (no header, no `Bearer`, a token that fails
//! any check, an ended session, a store that does not answer, a method ARN it cannot read) is the
//! error `Unauthorized`, which API Gateway turns into a 401; the authorizer never allows by
//! default and never panics.
//!
//! The policy covers every route of the stage, not just the one called: API Gateway caches the
//! policy per token for the configured TTL and reuses it for every route. With route rules
//! (`ROUTE_PERMISSIONS`, see [`RouteRules`]) it allows exactly the routes the token's permissions
//! satisfy, and API Gateway answers the others 403.

use std::sync::Arc;

use authgate_config::{ConfigError, TRUSTED_ISSUERS, TokenSettings};
use authgate_keys::KeyRing;
use authgate_oidc::{FetchPolicy, OidcError, OutsideIssuers, check_not_own, parse_trusted_issuers};
use authgate_runtime::{AccountStore, Backend, Env, EventHandler, InitError};
use authgate_token::outside::{outside_authorizer_context, unverified_issuer};
use authgate_token::{AccessClaims, TokenVerifier, VerifyError, authorizer_context};
use authgate_users::{Denied, StoreError, now_ms};
use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerPolicy, ApiGatewayCustomAuthorizerRequest,
    ApiGatewayCustomAuthorizerResponse,
};
use aws_lambda_events::iam::{IamPolicyEffect, IamPolicyStatement};
use lambda_runtime::Diagnostic;

mod routes;
pub use routes::{RouteRule, RouteRules, RouteRulesError};

/// Name of the variable holding the route rules (see [`RouteRules`]).
pub const ROUTE_PERMISSIONS: &str = "ROUTE_PERMISSIONS";

/// The exact error message API Gateway turns into a 401 (any other error becomes a 500).
pub const UNAUTHORIZED: &str = "Unauthorized";

/// The only error the authorizer returns; API Gateway answers it with 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Unauthorized")]
pub struct Unauthorized;

impl From<Unauthorized> for Diagnostic {
    fn from(_: Unauthorized) -> Self {
        Diagnostic {
            error_type: UNAUTHORIZED.into(),
            error_message: UNAUTHORIZED.into(),
        }
    }
}

/// Why a request was refused, for the log line (never the token itself).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refusal {
    #[error("no authorization token")]
    MissingToken,
    #[error("authorization is not a Bearer token")]
    NotBearer,
    #[error("token rejected: {0}")]
    Token(#[from] VerifyError),
    #[error("method ARN is not an execute-api ARN")]
    BadMethodArn,
    #[error("token's sid or sub is not an authgate id")]
    NotOurSubject,
    #[error("token's session may not act: {0}")]
    SessionEnded(#[from] Denied),
    #[error("session check failed: {0}")]
    SessionCheck(String),
    #[error("outside token rejected: {0}")]
    Outside(String),
}

impl From<OidcError> for Refusal {
    fn from(err: OidcError) -> Self {
        Refusal::Outside(err.to_string())
    }
}

impl From<StoreError> for Refusal {
    fn from(err: StoreError) -> Self {
        Refusal::SessionCheck(authgate_config::error_chain(&err))
    }
}

/// The authorizer, holding the verifier built at init.
pub struct Authorizer {
    verifier: TokenVerifier,
    sessions: Arc<dyn AccountStore>,
    ring: Arc<KeyRing>,
    outside: OutsideIssuers,
    routes: RouteRules,
}

/// The authorizer: authgate's own tokens verified with `backend`'s keys (reloaded as they age,
/// and for an unknown `kid`, so a rotation needs no redeploy) while their session lives in its
/// store; tokens of the outside issuers in `TRUSTED_ISSUERS` with those issuers' keys.
pub async fn build(env: &Env, backend: &dyn Backend) -> Result<Authorizer, InitError> {
    let tokens = TokenSettings::from_env(env)?;
    let trusted = parse_trusted_issuers(&env.optional(TRUSTED_ISSUERS).unwrap_or_default())?;
    check_not_own(&trusted, &tokens.issuer)?;
    let outside = OutsideIssuers::new(trusted, FetchPolicy::default(), tokens.leeway_secs)?;
    let routes =
        RouteRules::parse(&env.optional(ROUTE_PERMISSIONS).unwrap_or_default()).map_err(|e| {
            ConfigError::Invalid {
                name: ROUTE_PERMISSIONS,
                reason: e.to_string(),
            }
        })?;
    let sessions = backend.store(env)?;
    let ring = backend.keys(env).await?;
    Ok(Authorizer {
        verifier: TokenVerifier::new(ring.current(), tokens.validation()),
        sessions,
        ring,
        outside,
        routes,
    })
}

/// `Bearer <token>`, with the scheme case-insensitive (RFC 7235 §2.1).
fn bearer_token(header: &str) -> Result<&str, Refusal> {
    let (scheme, token) = header.trim().split_once(' ').ok_or(Refusal::NotBearer)?;
    let token = token.trim_start();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || token.contains(' ') {
        return Err(Refusal::NotBearer);
    }
    Ok(token)
}

/// `arn:aws:execute-api:region:account:api/stage/METHOD/path` → `arn:...:api/stage`.
pub fn stage_arn(method_arn: &str) -> Result<String, Refusal> {
    let parts: Vec<&str> = method_arn.splitn(6, ':').collect();
    let [arn, partition, service, region, account, resource] = parts[..] else {
        return Err(Refusal::BadMethodArn);
    };
    let mut path = resource.splitn(3, '/');
    let (Some(api), Some(stage)) = (path.next(), path.next()) else {
        return Err(Refusal::BadMethodArn);
    };
    if arn != "arn"
        || service != "execute-api"
        || [partition, region, account, api, stage]
            .iter()
            .any(|p| p.is_empty())
    {
        return Err(Refusal::BadMethodArn);
    }
    Ok(format!(
        "arn:{partition}:execute-api:{region}:{account}:{api}/{stage}"
    ))
}

/// The policy for `principal`: Allow on `resources`, or an explicit Deny on the whole stage when
/// it may call none of them; with `context` for downstream functions.
fn policy(
    principal: &str,
    stage: &str,
    resources: Vec<String>,
    context: serde_json::Map<String, serde_json::Value>,
) -> ApiGatewayCustomAuthorizerResponse {
    let mut statement = IamPolicyStatement::default();
    statement.action = vec!["execute-api:Invoke".into()];
    if resources.is_empty() {
        statement.effect = IamPolicyEffect::Deny;
        statement.resource = vec![format!("{stage}/*/*")];
    } else {
        statement.effect = IamPolicyEffect::Allow;
        statement.resource = resources;
    }
    let mut policy = ApiGatewayCustomAuthorizerPolicy::default();
    policy.version = Some("2012-10-17".into());
    policy.statement = vec![statement];
    let mut response = ApiGatewayCustomAuthorizerResponse::default();
    response.principal_id = Some(principal.to_owned());
    response.policy_document = policy;
    response.context = serde_json::Value::Object(context);
    response
}

impl Authorizer {
    /// Verifies with the ring's keys, reloaded when they are old and (rate-limited) when a token
    /// names an unknown `kid`: a rotation needs no redeploy, and a retired key stops being trusted.
    async fn verify(&self, token: &str) -> Result<AccessClaims, Refusal> {
        let ring = &self.ring;
        match self.verifier.with_keys(ring.fresh().await).verify(token) {
            Err(VerifyError::UnknownKid) if ring.reload_if_due().await => {
                Ok(self.verifier.with_keys(ring.current()).verify(token)?)
            }
            result => Ok(result?),
        }
    }

    /// Decides one request, with the reason when refused.
    pub async fn decide(
        &self,
        event: &ApiGatewayCustomAuthorizerRequest,
    ) -> Result<ApiGatewayCustomAuthorizerResponse, Refusal> {
        let header = event
            .authorization_token
            .as_deref()
            .ok_or(Refusal::MissingToken)?;
        let token = bearer_token(header)?;
        let stage = stage_arn(event.method_arn.as_deref().unwrap_or(""))?;
        // Outside issuers' sessions are their business: no authgate session check applies.
        if let Some(iss) = unverified_issuer(token)
            && self.outside.trusts(&iss)
        {
            let claims = self
                .outside
                .verify(token, &iss, authgate_token::now_unix())
                .await?;
            let granted = claims.scopes.iter().map(String::as_str).collect();
            return Ok(policy(
                &claims.sub,
                &stage,
                self.routes.allowed(&stage, &granted),
                outside_authorizer_context(&claims),
            ));
        }
        let claims = self.verify(token).await?;
        let (Ok(sid), Ok(user)) = (claims.sid.parse(), claims.sub.parse()) else {
            return Err(Refusal::NotOurSubject);
        };
        self.sessions.state(sid, user).await?.may_act(now_ms())?;
        let granted = claims.scope.split(' ').filter(|p| !p.is_empty()).collect();
        Ok(policy(
            &claims.sub,
            &stage,
            self.routes.allowed(&stage, &granted),
            authorizer_context(&claims),
        ))
    }
}

#[async_trait::async_trait]
impl EventHandler<ApiGatewayCustomAuthorizerRequest> for Authorizer {
    type Output = ApiGatewayCustomAuthorizerResponse;
    type Error = Unauthorized;

    /// Handles one event: Allow, or `Unauthorized`.
    async fn handle(
        &self,
        event: ApiGatewayCustomAuthorizerRequest,
    ) -> Result<ApiGatewayCustomAuthorizerResponse, Unauthorized> {
        match self.decide(&event).await {
            Ok(response) => {
                tracing::info!(sub = ?response.principal_id, "allowed");
                Ok(response)
            }
            Err(Refusal::SessionCheck(cause)) => {
                tracing::error!(error = %cause, "refused: the session could not be checked");
                Err(Unauthorized)
            }
            Err(refusal) => {
                tracing::info!(reason = %refusal, "refused");
                Err(Unauthorized)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_scheme_is_case_insensitive_and_required() {
        assert_eq!(bearer_token("Bearer abc"), Ok("abc"));
        assert_eq!(bearer_token("bearer abc"), Ok("abc"));
        assert_eq!(bearer_token("BEARER   abc"), Ok("abc"));
        for bad in ["abc", "Basic abc", "Bearer", "Bearer ", "Bearer a b", ""] {
            assert_eq!(bearer_token(bad), Err(Refusal::NotBearer), "{bad:?}");
        }
    }

    #[test]
    fn the_stage_arn_is_read_from_the_method_arn() {
        assert_eq!(
            stage_arn("arn:aws:execute-api:eu-west-1:123456789012:abc123/Prod/GET/users/me"),
            Ok("arn:aws:execute-api:eu-west-1:123456789012:abc123/Prod".into())
        );
        assert_eq!(
            stage_arn("arn:aws-cn:execute-api:cn-north-1:123456789012:abc/dev/POST/"),
            Ok("arn:aws-cn:execute-api:cn-north-1:123456789012:abc/dev".into())
        );
    }

    #[test]
    fn unreadable_method_arns_are_refused() {
        for bad in [
            "",
            "arn:aws:execute-api:eu-west-1:123456789012:abc123",
            "arn:aws:lambda:eu-west-1:123456789012:abc/Prod/GET/x",
            "arn:aws:execute-api::123456789012:abc/Prod/GET/x",
            "not-an-arn",
        ] {
            assert_eq!(stage_arn(bad), Err(Refusal::BadMethodArn), "{bad:?}");
        }
    }

    #[test]
    fn unauthorized_reaches_lambda_as_the_exact_message_api_gateway_expects() {
        let diagnostic = Diagnostic::from(Unauthorized);
        assert_eq!(diagnostic.error_message, "Unauthorized");
    }
}
