//! Reading the event API Gateway sends, in one pass without building a JSON tree, and recognising
//! its kind: where its token is and which ARN it is for.

use std::fmt;

use authgate_token::strict_json::Name;
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

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
enum Shape {
    Text(String),
    List(Vec<String>),
    #[default]
    Other,
}

impl Shape {
    /// The string, when the value is one.
    fn text(self) -> Option<String> {
        match self {
            Shape::Text(s) => Some(s),
            _ => None,
        }
    }

    /// The string, or a list's strings: `identitySource` is a list in HTTP API 2.0 events
    /// and a string in 1.0 events.
    fn texts(self) -> Vec<String> {
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
struct AuthorizationHeader(pub Option<String>);

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
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<AuthorizationHeader, A::Error> {
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

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Event;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E>(self, _: &str) -> Result<Event, E> {
                Ok(Event::default())
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Event, A::Error> {
                drain_seq(seq).map(|()| Event::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Event, A::Error> {
                let mut event = Event::default();
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
                            event.authorization_header = map.next_value::<AuthorizationHeader>()?.0;
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
            ignore_the_rest!(Event);
        }
        deserializer.deserialize_any(V)
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
}
