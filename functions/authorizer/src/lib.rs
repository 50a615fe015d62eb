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
//!
//! [`event`] reads the JSON event API Gateway sends, [`decision`] decides it (the one entry point,
//! [`Authorizer`] as an `EventHandler<Event>`), [`policy`] builds and evaluates IAM policies, and
//! [`routes`] holds the route rules.

mod decision;
mod event;
mod policy;
mod routes;

pub use decision::{Authorizer, Refusal, UNAUTHORIZED, Unauthorized, build};
pub use event::{AuthorizerEvent, Event, EventKind};
pub use policy::{Answer, Policy, policy_allows, stage_arn, wildcard_match};
pub use routes::{ApiRules, RouteRule, RouteRules, RouteRulesError};

/// The authorizer's own settings, declared with every other in `authgate_config`.
pub use authgate_config::{EXTRA_ROUTE_PERMISSIONS, HTTP_API_SIMPLE_RESPONSES, ROUTE_PERMISSIONS};
