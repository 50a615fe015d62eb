//! The API Gateway Lambda authorizer: a valid access token becomes an Allow.
//!
//! One decision for every event kind API Gateway sends, recognised from the event itself: a REST
//! API's `TOKEN` event (the token in `authorizationToken`) and `REQUEST` event (the token in the
//! `Authorization` header), and an HTTP API's payload format 1.0 and 2.0 (`identitySource`, or
//! the `Authorization` header). REST and 1.0 events are answered with an IAM policy; 2.0 events
//! with a simple response `{"isAuthorized", "context"}` (the HTTP API's `EnableSimpleResponses`),
//! or with an IAM policy when `HTTP_API_SIMPLE_RESPONSES` is `false`. An event of any other shape
//! is refused.
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
use authgate_runtime::{Backend, Env, EventHandler, InitError};
use authgate_token::outside::{outside_authorizer_context, unverified_issuer};
use authgate_token::{
    AccessClaims, AuthorizerContext, KeySet, Validation, VerifyError, authorizer_context_encoded,
    now_unix, verify_own_encoded,
};
use authgate_users::{Denied, SessionStore, StoreError, now_ms};
use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerPolicy, ApiGatewayCustomAuthorizerRequest,
    ApiGatewayCustomAuthorizerResponse,
};
use aws_lambda_events::iam::{IamPolicyEffect, IamPolicyStatement};
use lambda_runtime::Diagnostic;

mod routes;
pub use routes::{ApiRules, RouteRule, RouteRules, RouteRulesError};

/// Name of the variable holding the route rules (see [`RouteRules`]).
pub const ROUTE_PERMISSIONS: &str = "ROUTE_PERMISSIONS";
/// Name of the variable holding the rules of routes outside authgate's template (APIs in other
/// stacks that use this authorizer), in the same form; merged with [`ROUTE_PERMISSIONS`].
pub const EXTRA_ROUTE_PERMISSIONS: &str = "EXTRA_ROUTE_PERMISSIONS";
/// Name of the variable saying how HTTP API payload 2.0 events are answered: `true` (default)
/// for simple responses, `false` for IAM policies.
pub const HTTP_API_SIMPLE_RESPONSES: &str = "HTTP_API_SIMPLE_RESPONSES";

/// The IAM-policy answer, with the context protected functions receive.
pub type Policy = ApiGatewayCustomAuthorizerResponse<AuthorizerContext>;

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
        Refusal::SessionCheck(authgate_config::error_chain(&err))
    }
}

/// The authorizer: what authgate's tokens must say, and the ring whose current keys check them.
pub struct Authorizer {
    validation: Validation,
    sessions: Arc<dyn SessionStore>,
    ring: Arc<KeyRing>,
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
    let trusted = parse_trusted_issuers(&env.optional(TRUSTED_ISSUERS).unwrap_or_default())?;
    check_not_own(&trusted, &tokens.issuer)?;
    let outside = OutsideIssuers::new(trusted, FetchPolicy::default(), tokens.leeway_secs)?;
    let own = env.optional(ROUTE_PERMISSIONS).unwrap_or_default();
    let extra = env.optional(EXTRA_ROUTE_PERMISSIONS).unwrap_or_default();
    let invalid = |name: &'static str| {
        move |e: RouteRulesError| ConfigError::Invalid {
            name,
            reason: e.to_string(),
        }
    };
    // authgate's own rules alone first, so that a fault of theirs is reported under their name.
    ApiRules::parse(&own, "").map_err(invalid(ROUTE_PERMISSIONS))?;
    let routes = ApiRules::parse(&own, &extra).map_err(invalid(EXTRA_ROUTE_PERMISSIONS))?;
    let simple_responses = env.parsed_or(HTTP_API_SIMPLE_RESPONSES, true)?;
    let sessions = backend.sessions(env)?;
    let ring = backend.verifying_keys(env).await?;
    Ok(Authorizer {
        validation: tokens.validation(),
        sessions,
        ring,
        outside,
        routes,
        simple_responses,
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

/// `*` and `?` wildcards, as IAM matches policy resources.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// IAM's evaluation of an authorizer policy for one method or route ARN: an explicit Deny wins,
/// then an Allow; nothing allowed is denied.
pub fn policy_allows(response: &Policy, arn: &str) -> bool {
    let matching = |effect: IamPolicyEffect| {
        response.policy_document.statement.iter().any(|s| {
            s.effect == effect
                && s.action
                    .iter()
                    .any(|a| wildcard_match(a, "execute-api:Invoke"))
                && s.resource.iter().any(|r| wildcard_match(r, arn))
        })
    };
    !matching(IamPolicyEffect::Deny) && matching(IamPolicyEffect::Allow)
}

/// An answer in the shape its event's kind expects, serialized once, by the Lambda runtime.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(untagged)]
pub enum Answer {
    /// An IAM policy: REST APIs, HTTP API payload 1.0, and 2.0 without simple responses.
    Policy(Policy),
    /// An HTTP API payload 2.0 simple response.
    Simple {
        #[serde(rename = "isAuthorized")]
        is_authorized: bool,
        context: AuthorizerContext,
    },
}

/// The kinds of event API Gateway sends a Lambda authorizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// REST API, `TOKEN` authorizer.
    RestToken,
    /// REST API, `REQUEST` authorizer.
    RestRequest,
    /// HTTP API, payload format 1.0.
    HttpV1,
    /// HTTP API, payload format 2.0.
    HttpV2,
}

/// What an event asks: its kind, the `Authorization` value, and the method or route ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizerEvent {
    pub kind: EventKind,
    pub authorization: Option<String>,
    pub arn: String,
    /// Whether the route (`routeKey`) is one of the identity sources, and so part of API
    /// Gateway's cache key for this answer.
    pub route_in_identity: bool,
}

/// Any authorizer event as the Lambda receives it, read in one pass without building a JSON tree:
/// only the members that say what kind of event it is, where its token is, and its ARN are kept.
/// Every JSON text reads as an `Event` (a member of an unexpected type reads as absent), so an
/// event of any shape reaches the decision and is refused there, never failing in the runtime.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Event {
    version: Option<String>,
    kind: Option<String>,
    /// The identity sources' values: a list in HTTP API 2.0 events, one string in 1.0 events.
    identity_source: Vec<String>,
    route_key: Option<String>,
    authorization_header: Option<String>,
    authorization_token: Option<String>,
    route_arn: Option<String>,
    method_arn: Option<String>,
}

mod event {
    //! The one-pass reading of [`super::Event`].

    use std::fmt;

    use authgate_token::strict_json::Name;
    use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

    /// Drains whatever a visitor was given but does not want.
    macro_rules! ignore_the_rest {
        ($value:ty) => {
            fn visit_bool<E>(self, _: bool) -> Result<$value, E> {
                Ok(Default::default())
            }
            fn visit_i64<E>(self, _: i64) -> Result<$value, E> {
                Ok(Default::default())
            }
            fn visit_u64<E>(self, _: u64) -> Result<$value, E> {
                Ok(Default::default())
            }
            fn visit_f64<E>(self, _: f64) -> Result<$value, E> {
                Ok(Default::default())
            }
            fn visit_unit<E>(self) -> Result<$value, E> {
                Ok(Default::default())
            }
        };
    }

    fn drain_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }

    fn drain_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(())
    }

    /// A member's value as far as the event's reading goes: a string, a list (with its first
    /// string), or anything else, drained unread.
    #[derive(Default)]
    pub(super) enum Shape {
        Text(String),
        List(Vec<String>),
        #[default]
        Other,
    }

    impl Shape {
        /// The string, when the value is one.
        pub(super) fn text(self) -> Option<String> {
            match self {
                Shape::Text(s) => Some(s),
                _ => None,
            }
        }

        /// The string, or a list's strings: `identitySource` is a list in HTTP API 2.0 events
        /// and a string in 1.0 events.
        pub(super) fn texts(self) -> Vec<String> {
            match self {
                Shape::Text(s) => vec![s],
                Shape::List(texts) => texts,
                Shape::Other => Vec::new(),
            }
        }
    }

    impl<'de> Deserialize<'de> for Shape {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Shape;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("any JSON value")
                }
                fn visit_str<E>(self, v: &str) -> Result<Shape, E> {
                    Ok(Shape::Text(v.to_owned()))
                }
                fn visit_string<E>(self, v: String) -> Result<Shape, E> {
                    Ok(Shape::Text(v))
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Shape, A::Error> {
                    let mut texts = Vec::new();
                    while let Some(element) = seq.next_element::<Shape>()? {
                        texts.extend(element.text());
                    }
                    Ok(Shape::List(texts))
                }
                fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Shape, A::Error> {
                    drain_map(map).map(|()| Shape::Other)
                }
                ignore_the_rest!(Shape);
            }
            deserializer.deserialize_any(V)
        }
    }

    /// The first string-valued `Authorization` header of a `headers` object, its name compared
    /// case-insensitively.
    #[derive(Default)]
    pub(super) struct AuthorizationHeader(pub Option<String>);

    impl<'de> Deserialize<'de> for AuthorizationHeader {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = AuthorizationHeader;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("any JSON value")
                }
                fn visit_str<E>(self, _: &str) -> Result<AuthorizationHeader, E> {
                    Ok(AuthorizationHeader(None))
                }
                fn visit_seq<A: SeqAccess<'de>>(
                    self,
                    seq: A,
                ) -> Result<AuthorizationHeader, A::Error> {
                    drain_seq(seq).map(|()| AuthorizationHeader(None))
                }
                fn visit_map<A: MapAccess<'de>>(
                    self,
                    mut map: A,
                ) -> Result<AuthorizationHeader, A::Error> {
                    let mut found = None;
                    while let Some(Name(name)) = map.next_key::<Name<'de>>()? {
                        if found.is_none() && name.eq_ignore_ascii_case("authorization") {
                            found = map.next_value::<Shape>()?.text();
                        } else {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                    Ok(AuthorizationHeader(found))
                }
                ignore_the_rest!(AuthorizationHeader);
            }
            deserializer.deserialize_any(V)
        }
    }

    impl<'de> Deserialize<'de> for super::Event {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = super::Event;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("any JSON value")
                }
                fn visit_str<E>(self, _: &str) -> Result<super::Event, E> {
                    Ok(super::Event::default())
                }
                fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<super::Event, A::Error> {
                    drain_seq(seq).map(|()| super::Event::default())
                }
                fn visit_map<A: MapAccess<'de>>(
                    self,
                    mut map: A,
                ) -> Result<super::Event, A::Error> {
                    let mut event = super::Event::default();
                    while let Some(Name(name)) = map.next_key::<Name<'de>>()? {
                        let text = |shape: Shape| shape.text();
                        match name.as_ref() {
                            "version" => event.version = text(map.next_value()?),
                            "type" => event.kind = text(map.next_value()?),
                            "identitySource" => {
                                event.identity_source = map.next_value::<Shape>()?.texts();
                            }
                            "routeKey" => event.route_key = text(map.next_value()?),
                            "headers" => {
                                event.authorization_header =
                                    map.next_value::<AuthorizationHeader>()?.0;
                            }
                            "authorizationToken" => {
                                event.authorization_token = text(map.next_value()?);
                            }
                            "routeArn" => event.route_arn = text(map.next_value()?),
                            "methodArn" => event.method_arn = text(map.next_value()?),
                            _ => {
                                map.next_value::<IgnoredAny>()?;
                            }
                        }
                    }
                    Ok(event)
                }
                ignore_the_rest!(super::Event);
            }
            deserializer.deserialize_any(V)
        }
    }
}

impl AuthorizerEvent {
    /// Recognises `event` by its shape; anything else is [`Refusal::UnknownEvent`].
    pub fn read(event: Event) -> Result<Self, Refusal> {
        let route_key = event.route_key.as_deref();
        let route_in_identity =
            route_key.is_some_and(|key| event.identity_source.iter().any(|s| s == key));
        let (kind, authorization, arn) = match (event.version.as_deref(), event.kind.as_deref()) {
            (Some("2.0"), Some("REQUEST")) => (
                EventKind::HttpV2,
                event
                    .identity_source
                    .iter()
                    .find(|s| Some(s.as_str()) != route_key)
                    .cloned()
                    .or(event.authorization_header),
                event.route_arn,
            ),
            // The identity source is API Gateway's cache key for the answer: the token verified
            // must be the one in it, or one caller's Allow could be reused for another.
            (Some("1.0"), Some("REQUEST")) => (
                EventKind::HttpV1,
                event
                    .identity_source
                    .iter()
                    .flat_map(|sources| sources.split(','))
                    .map(str::trim)
                    .find(|value| bearer_token(value).is_ok())
                    .map(str::to_owned)
                    .or(if event.identity_source.is_empty() {
                        event.authorization_header
                    } else {
                        None
                    }),
                event.method_arn,
            ),
            (None, Some("TOKEN")) => (
                EventKind::RestToken,
                event.authorization_token,
                event.method_arn,
            ),
            (None, Some("REQUEST")) => (
                EventKind::RestRequest,
                event.authorization_header,
                event.method_arn,
            ),
            _ => return Err(Refusal::UnknownEvent),
        };
        Ok(Self {
            kind,
            authorization,
            arn: arn.ok_or(Refusal::UnknownEvent)?,
            route_in_identity,
        })
    }
}

/// `arn:aws:execute-api:region:account:api/stage/METHOD/path` → `arn:...:api/stage`, the
/// method ARN's own prefix.
pub fn stage_arn(method_arn: &str) -> Result<&str, Refusal> {
    let mut fields = method_arn.splitn(6, ':');
    let (Some(arn), Some(partition), Some(service), Some(region), Some(account), Some(resource)) = (
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
    ) else {
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
    let end = method_arn.len() - resource.len() + api.len() + 1 + stage.len();
    Ok(&method_arn[..end])
}

/// The policy for `principal`: Allow on `resources`, or an explicit Deny on the whole stage when
/// it may call none of them; with `context` for downstream functions.
fn policy(
    principal: String,
    stage: &str,
    resources: Vec<String>,
    context: AuthorizerContext,
) -> Policy {
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
    let mut response = Policy::default();
    response.principal_id = Some(principal);
    response.policy_document = policy;
    response.context = context;
    response
}

impl Authorizer {
    /// Verifies with the ring's keys, reloaded when they are old and (rate-limited) when a token
    /// names an unknown `kid`: a rotation needs no redeploy, and a retired key stops being trusted.
    async fn verify(&self, token: &str) -> Result<(AccessClaims, String), Refusal> {
        let ring = &self.ring;
        let verify =
            |keys: Arc<KeySet>| verify_own_encoded(&keys, &self.validation, token, now_unix());
        match verify(ring.fresh().await) {
            Err(VerifyError::UnknownKid) if ring.reload_if_due().await => {
                Ok(verify(ring.current())?)
            }
            result => Ok(result?),
        }
    }

    /// Decides one REST `TOKEN` request, with the reason when refused.
    pub async fn decide(
        &self,
        event: &ApiGatewayCustomAuthorizerRequest,
    ) -> Result<Policy, Refusal> {
        self.policy_for(
            event.authorization_token.as_deref(),
            event.method_arn.as_deref().unwrap_or(""),
        )
        .await
    }

    /// Decides an event of any kind and answers it in that kind's shape: the one decision path.
    pub async fn decide_any(&self, event: Event) -> Result<Answer, Refusal> {
        let event = AuthorizerEvent::read(event)?;
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
        let (claims, encoded) = self.verify(token).await?;
        let (Ok(sid), Ok(user)) = (claims.sid.parse(), claims.sub.parse()) else {
            return Err(Refusal::NotOurSubject);
        };
        self.sessions.state(sid, user).await?.may_act(now_ms())?;
        let granted = |p: &str| !p.is_empty() && claims.scope.split(' ').any(|s| s == p);
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
fn answer<T>(
    decided: Result<T, Refusal>,
    principal: impl Fn(&T) -> Option<String>,
) -> Result<T, Unauthorized> {
    match decided {
        Ok(response) => {
            tracing::info!(sub = ?principal(&response), "allowed");
            Ok(response)
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

/// Any event kind, as the Lambda receives it (`main.rs`).
#[async_trait::async_trait]
impl EventHandler<Event> for Authorizer {
    type Output = Answer;
    type Error = Unauthorized;

    async fn handle(&self, event: Event) -> Result<Answer, Unauthorized> {
        answer(self.decide_any(event).await, |response| match response {
            Answer::Policy(policy) => policy.principal_id.clone(),
            Answer::Simple { context, .. } => Some(context.sub.clone()),
        })
    }
}

#[async_trait::async_trait]
impl EventHandler<ApiGatewayCustomAuthorizerRequest> for Authorizer {
    type Output = Policy;
    type Error = Unauthorized;

    /// Handles one event: Allow, or `Unauthorized`.
    async fn handle(
        &self,
        event: ApiGatewayCustomAuthorizerRequest,
    ) -> Result<Policy, Unauthorized> {
        answer(self.decide(&event).await, |response| {
            response.principal_id.clone()
        })
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
            Ok("arn:aws:execute-api:eu-west-1:123456789012:abc123/Prod")
        );
        assert_eq!(
            stage_arn("arn:aws-cn:execute-api:cn-north-1:123456789012:abc/dev/POST/"),
            Ok("arn:aws-cn:execute-api:cn-north-1:123456789012:abc/dev")
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
    fn wildcards_match_like_iam() {
        assert!(wildcard_match(
            "arn:x:api/Prod/*/*",
            "arn:x:api/Prod/GET/users/me"
        ));
        assert!(wildcard_match("execute-api:*", "execute-api:Invoke"));
        assert!(wildcard_match("a?c", "abc"));
        assert!(!wildcard_match(
            "arn:x:api/Prod/GET/*",
            "arn:x:api/Prod/POST/users"
        ));
        assert!(!wildcard_match("arn:x:api/Dev/*", "arn:x:api/Prod/GET/x"));
        assert!(wildcard_match("*", ""));
    }

    #[test]
    fn unauthorized_reaches_lambda_as_the_exact_message_api_gateway_expects() {
        let diagnostic = Diagnostic::from(Unauthorized);
        assert_eq!(diagnostic.error_message, "Unauthorized");
    }
}
