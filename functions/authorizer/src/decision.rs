//! The decision: verify the token, check that its holder (a user's session, or a client) may
//! still act, and answer with the routes it may call.

use std::sync::Arc;

use authgate_config::{
    AuthzSettings, ConfigError, EXTRA_ROUTE_PERMISSIONS, HTTP_API_SIMPLE_RESPONSES,
    ROUTE_PERMISSIONS, TRUSTED_ISSUERS, TokenSettings,
};
use authgate_keys::RingVerifier;
use authgate_oidc::{FetchPolicy, OidcError, OutsideIssuers, check_not_own, parse_trusted_issuers};
use authgate_runtime::{Backend, Env, EventHandler, InitError};
use authgate_token::outside::{outside_authorizer_context, unverified_issuer};
use authgate_token::{
    AccessClaims, VerifyError, authorizer_context, authorizer_context_encoded, now_unix,
};
use authgate_users::{
    API_KEY_PREFIX, ApiKey, Denied, RoleMap, StoreError, TokenChecks, holder_may_act, now_ms,
};
use lambda_runtime::Diagnostic;

use crate::event::{AuthorizerEvent, Event, EventKind, bearer_token};
use crate::policy::{Answer, Policy, policy, policy_allows, stage_arn};
use crate::routes::{ApiRules, RouteRulesError};

/// How long the claims of a request made with a key that never expires say they are good for:
/// longer than any authorizer cache TTL, so a cached answer's claims are never judged expired by
/// the protected function.
const API_KEY_CONTEXT_LIFETIME_MS: i64 = 24 * 3600 * 1000;

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
    #[error("the bearer value looks like an API key but is not one")]
    MalformedApiKey,
    #[error("method ARN is not an execute-api ARN")]
    BadMethodArn,
    #[error("token's sid, sub or client_id is not an authgate id")]
    NotOurSubject,
    #[error("token's holder may not act: {0}")]
    SessionEnded(#[from] Denied),
    #[error("session check failed: {0}")]
    SessionCheck(String),
    #[error("outside token rejected: {0}")]
    Outside(String),
    #[error("the event is none of the authorizer events API Gateway sends")]
    UnknownEvent,
    #[error(
        "HTTP API simple responses are cached per identity source, and route rules answer per \
         route: add $context.routeKey to the authorizer's identity sources"
    )]
    RouteNotInIdentity,
}

impl From<OidcError> for Refusal {
    fn from(err: OidcError) -> Self {
        Refusal::Outside(err.to_string())
    }
}

impl From<StoreError> for Refusal {
    fn from(err: StoreError) -> Self {
        Refusal::SessionCheck(authgate_http::error_chain(&err))
    }
}

/// The authorizer: what authgate's tokens must say, and the ring whose current keys check them.
pub struct Authorizer {
    verifier: RingVerifier,
    roles: RoleMap,
    checks: Arc<dyn TokenChecks>,
    outside: OutsideIssuers,
    routes: ApiRules,
    simple_responses: bool,
}

/// The authorizer: authgate's own tokens verified with `backend`'s keys (reloaded as they age,
/// and for an unknown `kid`, so a rotation needs no redeploy) while their session lives in its
/// store; tokens of the outside issuers in `TRUSTED_ISSUERS` with those issuers' keys. Generic
/// over the backend so that the Lambda binary, built on [`authgate_runtime::AwsBackend`], links
/// only the session read and key loading it calls, not every store operation and the mailer.
pub async fn build<B: Backend + ?Sized>(env: &Env, backend: &B) -> Result<Authorizer, InitError> {
    let tokens = TokenSettings::from_env(env)?;
    let trusted = parse_trusted_issuers(&env.text(&TRUSTED_ISSUERS)?)?;
    check_not_own(&trusted, &tokens.issuer)?;
    let outside = OutsideIssuers::new(trusted, FetchPolicy::default(), tokens.leeway_secs)?;
    let own = env.text(&ROUTE_PERMISSIONS)?;
    let extra = env.text(&EXTRA_ROUTE_PERMISSIONS)?;
    let invalid = |name: &'static str| {
        move |e: RouteRulesError| ConfigError::Invalid {
            name,
            reason: e.to_string(),
        }
    };
    // authgate's own rules alone first, so that a fault of theirs is reported under their name.
    ApiRules::parse(&own, "").map_err(invalid(ROUTE_PERMISSIONS.name))?;
    let routes = ApiRules::parse(&own, &extra).map_err(invalid(EXTRA_ROUTE_PERMISSIONS.name))?;
    let simple_responses = env.flag(&HTTP_API_SIMPLE_RESPONSES)?;
    let checks = backend.token_checks(env)?;
    let ring = backend.verifying_keys(env).await?;
    Ok(Authorizer {
        verifier: RingVerifier::new(tokens.validation(), ring),
        roles: AuthzSettings::from_env(env)?.roles,
        checks,
        outside,
        routes,
        simple_responses,
    })
}

impl Authorizer {
    /// The policy for a user's API key: checked offline (prefix, length, checksum), then read
    /// with its user in one request; it grants its scopes that the user's roles still grant.
    async fn api_key_policy(&self, presented: &str, stage: &str) -> Result<Policy, Refusal> {
        let key = ApiKey::parse(presented).map_err(|_| Refusal::MalformedApiKey)?;
        let now = now_ms();
        let grant = self
            .checks
            .api_key_token(&key.hash(), key.user())
            .await?
            .may_act(&key, &self.roles, now)?;
        let granted = |p: &str| grant.scopes.contains(p);
        let resources = self.routes.for_stage(stage).allowed(stage, granted);
        let validation = self.verifier.validation();
        let exp = grant
            .key
            .expires_at_ms
            .unwrap_or_else(|| now.saturating_add(API_KEY_CONTEXT_LIFETIME_MS))
            / 1000;
        let claims = AccessClaims::for_api_key(
            &validation.issuer,
            &validation.audience,
            &grant.key.user_id.to_string(),
            &grant.key.id.to_string(),
            grant.scopes.iter().cloned().collect::<Vec<_>>().join(" "),
            grant.key.created_at_ms / 1000,
            exp,
        );
        Ok(policy(
            claims.sub.clone(),
            stage,
            resources,
            authorizer_context(&claims),
        ))
    }

    /// Decides an event of any kind and answers it in that kind's shape, with the reason when
    /// refused: the one decision path.
    pub async fn decide(&self, event: Event) -> Result<Answer, Refusal> {
        let event = AuthorizerEvent::read(&event)?;
        let simple = event.kind == EventKind::HttpV2 && self.simple_responses;
        // A simple response says yes or no for this route only, and API Gateway caches it per
        // identity source: unless the route is one of them, one route's yes would answer every
        // route. Route rules make answers differ by route, so then the route must be in the key.
        let ruled = stage_arn(&event.arn)
            .is_ok_and(|stage| !self.routes.for_stage(stage).rules().is_empty());
        if simple && ruled && !event.route_in_identity {
            return Err(Refusal::RouteNotInIdentity);
        }
        let response = self
            .policy_for(event.authorization.as_deref(), &event.arn)
            .await?;
        if simple {
            return Ok(Answer::Simple {
                is_authorized: policy_allows(&response, &event.arn),
                context: response.context,
            });
        }
        Ok(Answer::Policy(response))
    }

    /// The policy for the bearer token in `authorization`, covering the stage of `arn`.
    async fn policy_for(&self, authorization: Option<&str>, arn: &str) -> Result<Policy, Refusal> {
        let header = authorization.ok_or(Refusal::MissingToken)?;
        let token = bearer_token(header)?;
        let stage = stage_arn(arn)?;
        if token.starts_with(API_KEY_PREFIX) {
            return self.api_key_policy(token, stage).await;
        }
        // Outside issuers' sessions are their business: no authgate session check applies.
        if !self.outside.is_empty()
            && let Some(iss) = unverified_issuer(token)
            && self.outside.trusts(&iss)
        {
            let claims = self.outside.verify(token, &iss, now_unix()).await?;
            let granted = |p: &str| claims.scopes.iter().any(|s| s == p);
            return Ok(policy(
                claims.sub.clone(),
                stage,
                self.routes.for_stage(stage).allowed(stage, granted),
                outside_authorizer_context(&claims),
            ));
        }
        let (claims, encoded) = self.verifier.verify_encoded(token, now_unix()).await?;
        let holder = authgate_http::token_holder(&claims).ok_or(Refusal::NotOurSubject)?;
        let client = holder_may_act(self.checks.as_ref(), holder, &claims.jti, now_ms()).await??;
        let granted = |p: &str| {
            !p.is_empty()
                && claims.scope.split(' ').any(|s| s == p)
                && client.as_ref().is_none_or(|c| c.scopes.contains(p))
        };
        let resources = self.routes.for_stage(stage).allowed(stage, granted);
        let principal = claims.sub.clone();
        Ok(policy(
            principal,
            stage,
            resources,
            authorizer_context_encoded(claims, encoded),
        ))
    }
}

/// Logs a decision and turns a refusal into `Unauthorized`.
fn answer(decided: Result<Answer, Refusal>) -> Result<Answer, Unauthorized> {
    match decided {
        Ok(answer) => {
            let sub = match &answer {
                Answer::Policy(policy) => policy.principal_id.as_deref(),
                Answer::Simple { context, .. } => Some(context.sub.as_str()),
            };
            tracing::info!(?sub, "allowed");
            Ok(answer)
        }
        Err(Refusal::SessionCheck(cause)) => {
            tracing::error!(error = %cause, "refused: the session could not be checked");
            Err(Unauthorized)
        }
        Err(refusal @ Refusal::RouteNotInIdentity) => {
            tracing::error!(reason = %refusal, "refused: the HTTP API's authorizer is misconfigured");
            Err(Unauthorized)
        }
        Err(refusal) => {
            tracing::info!(reason = %refusal, "refused");
            Err(Unauthorized)
        }
    }
}

/// The one entry point: any event kind, as the Lambda receives it (`main.rs`) and as
/// `authgate serve` sends it.
#[async_trait::async_trait]
impl EventHandler<Event> for Authorizer {
    type Output = Answer;
    type Error = Unauthorized;

    async fn handle(&self, event: Event) -> Result<Answer, Unauthorized> {
        answer(self.decide(event).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unauthorized_reaches_lambda_as_the_exact_message_api_gateway_expects() {
        let diagnostic = Diagnostic::from(Unauthorized);
        assert_eq!(diagnostic.error_message, "Unauthorized");
    }
}
