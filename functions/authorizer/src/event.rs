//! Reading the event API Gateway sends into the few members the decision uses, without building
//! a JSON tree, and recognising its kind: where its token is and which ARN it is for.

use std::borrow::Cow;
use std::collections::HashMap;

use serde_json::value::RawValue;

use crate::decision::Refusal;

/// `Bearer <token>`, with the scheme case-insensitive (RFC 7235 §2.1).
pub(crate) fn bearer_token(header: &str) -> Result<&str, Refusal> {
    let (scheme, token) = header.trim().split_once(' ').ok_or(Refusal::NotBearer)?;
    let token = token.trim_start();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || token.contains(' ') {
        return Err(Refusal::NotBearer);
    }
    Ok(token)
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

/// Any authorizer event as the Lambda receives it: the JSON text itself. Every JSON text reads
/// as an `Event`, so an event of any shape reaches the decision and is refused there
/// ([`Refusal::UnknownEvent`]), never failing in the runtime. Its `Debug` shows the length only:
/// the text holds a bearer token.
#[derive(Clone, serde::Deserialize)]
pub struct Event(Box<RawValue>);

impl std::fmt::Debug for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Event({} bytes, redacted)", self.0.get().len())
    }
}

impl PartialEq for Event {
    fn eq(&self, other: &Self) -> bool {
        self.0.get() == other.0.get()
    }
}

impl Eq for Event {}

/// The members of an event that say what kind it is, where its token is and which ARN it is for,
/// borrowed from the text where JSON escapes allow. A member named twice, or of another type
/// than API Gateway sends, makes the event unreadable, and so refused.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Wire<'a> {
    #[serde(borrow)]
    version: Option<Cow<'a, str>>,
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    identity_source: Option<IdentitySource>,
    #[serde(borrow)]
    route_key: Option<Cow<'a, str>>,
    headers: Option<HashMap<String, String>>,
    #[serde(borrow)]
    authorization_token: Option<Cow<'a, str>>,
    #[serde(borrow)]
    route_arn: Option<Cow<'a, str>>,
    #[serde(borrow)]
    method_arn: Option<Cow<'a, str>>,
}

/// The identity sources' values: a list in HTTP API 2.0 events, one string in 1.0 events.
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum IdentitySource {
    One(String),
    Many(Vec<String>),
}

impl IdentitySource {
    fn into_vec(self) -> Vec<String> {
        match self {
            IdentitySource::One(source) => vec![source],
            IdentitySource::Many(sources) => sources,
        }
    }
}

/// The `Authorization` header, its name compared case-insensitively; two of them (in different
/// letter cases) are one too many to choose from.
fn authorization_header(
    headers: Option<HashMap<String, String>>,
) -> Result<Option<String>, Refusal> {
    let mut found = headers
        .into_iter()
        .flatten()
        .filter(|(name, _)| name.eq_ignore_ascii_case("authorization"));
    match (found.next(), found.next()) {
        (Some(_), Some(_)) => Err(Refusal::UnknownEvent),
        (first, _) => Ok(first.map(|(_, value)| value)),
    }
}

/// The members [`AuthorizerEvent::read`] takes its answer from.
struct Read {
    identity_source: Vec<String>,
    authorization_header: Option<String>,
    authorization_token: Option<String>,
    route_arn: Option<String>,
    method_arn: Option<String>,
}

impl AuthorizerEvent {
    /// Recognises `event` by its shape; anything else is [`Refusal::UnknownEvent`].
    pub fn read(event: &Event) -> Result<Self, Refusal> {
        let wire: Wire<'_> =
            serde_json::from_str(event.0.get()).map_err(|_| Refusal::UnknownEvent)?;
        let identity_source = wire
            .identity_source
            .map(IdentitySource::into_vec)
            .unwrap_or_default();
        let authorization_header = authorization_header(wire.headers)?;
        let event = Read {
            identity_source,
            authorization_header,
            authorization_token: wire.authorization_token.map(Cow::into_owned),
            route_arn: wire.route_arn.map(Cow::into_owned),
            method_arn: wire.method_arn.map(Cow::into_owned),
        };
        let route_key = wire.route_key.as_deref();
        let route_in_identity =
            route_key.is_some_and(|key| event.identity_source.iter().any(|s| s == key));
        let (kind, authorization, arn) = match (wire.version.as_deref(), wire.kind.as_deref()) {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn an_events_debug_never_shows_its_token() {
        let event: Event =
            serde_json::from_str(r#"{"type": "TOKEN", "authorizationToken": "Bearer secret.jwt"}"#)
                .unwrap();
        assert!(!format!("{event:?}").contains("secret.jwt"));
    }

    #[test]
    fn bearer_scheme_is_case_insensitive_and_required() {
        assert_eq!(bearer_token("Bearer abc"), Ok("abc"));
        assert_eq!(bearer_token("bearer abc"), Ok("abc"));
        assert_eq!(bearer_token("BEARER   abc"), Ok("abc"));
        for bad in ["abc", "Basic abc", "Bearer", "Bearer ", "Bearer a b", ""] {
            assert_eq!(bearer_token(bad), Err(Refusal::NotBearer), "{bad:?}");
        }
    }
}
