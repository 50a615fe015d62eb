//! JSON with unique member names. RFC 8259 §4 leaves duplicate names to the parser, and the usual
//! one keeps the last; RFC 7515 §4 and RFC 7519 §4 say a JOSE header or claims set with duplicates
//! must be rejected, and a request body `{"password": "wrong", "password": "right"}` must not mean
//! whichever a parser happens to keep. Every JSON authgate reads goes through here.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Parses `bytes` as JSON, refusing any object that names a member twice, at any depth.
pub fn from_slice(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = Strict.deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

/// A JSON object whose members named in `names` are read into fixed places (`named[i]` holds
/// member `names[i]`), every other member into `other`: a claims set or JOSE header is read
/// without a map entry and a key allocation per registered member.
#[derive(Debug)]
pub(crate) struct Slotted<const N: usize> {
    pub(crate) names: &'static [&'static str; N],
    pub(crate) named: [Option<Value>; N],
    pub(crate) other: Map<String, Value>,
}

/// The place of member `name` among `names`. Member names are short (`iss`, `exp`): compared
/// byte by byte in line, not through a `memcmp` call per candidate.
fn slot_of(names: &[&str], name: &str) -> Option<usize> {
    names
        .iter()
        .position(|n| n.len() == name.len() && n.bytes().zip(name.bytes()).all(|(a, b)| a == b))
}

impl<const N: usize> Slotted<N> {
    /// The member `name`, wherever it was put.
    pub(crate) fn get(&self, name: &str) -> Option<&Value> {
        match slot_of(self.names, name) {
            Some(i) => self.named[i].as_ref(),
            None => self.other.get(name),
        }
    }

    /// Takes the member `name` out of its place (`None` for a name without a place).
    pub(crate) fn take(&mut self, name: &str) -> Option<Value> {
        let i = slot_of(self.names, name)?;
        self.named.get_mut(i).and_then(Option::take)
    }
}

/// Parses `bytes` as one JSON object into [`Slotted`], with [`from_slice`]'s strictness: a name
/// given twice (in a slot or not, at any depth) is refused.
pub(crate) fn object_slotted<const N: usize>(
    bytes: &[u8],
    names: &'static [&'static str; N],
) -> Result<Slotted<N>, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = deserializer.deserialize_map(SlottedSeed(names))?;
    deserializer.end()?;
    Ok(value)
}

/// A JSON member name, borrowed from the input when it holds no escapes: reading names this way
/// costs no allocation for the members a reader skips or keeps in fixed places.
pub struct Name<'de>(pub Cow<'de, str>);

impl<'de> Deserialize<'de> for Name<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NameVisitor;
        impl<'de> Visitor<'de> for NameVisitor {
            type Value = Name<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(NameVisitor)
    }
}

struct SlottedSeed<const N: usize>(&'static [&'static str; N]);

impl<'de, const N: usize> Visitor<'de> for SlottedSeed<N> {
    type Value = Slotted<N>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Slotted<N>, A::Error> {
        let mut slotted = Slotted {
            names: self.0,
            named: [const { None }; N],
            other: Map::new(),
        };
        while let Some(Name(name)) = map.next_key::<Name<'de>>()? {
            let value = map.next_value_seed(Strict)?;
            let slot = slot_of(self.0, &name);
            let taken = match slot {
                Some(i) => slotted.named[i].is_some(),
                None => slotted.other.contains_key(name.as_ref()),
            };
            if taken {
                return Err(de::Error::custom(format_args!(
                    "duplicate member name `{name}`"
                )));
            }
            match slot {
                Some(i) => slotted.named[i] = Some(value),
                None => {
                    slotted.other.insert(name.into_owned(), value);
                }
            }
        }
        Ok(slotted)
    }
}

struct Strict;

impl<'de> DeserializeSeed<'de> for Strict {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JSON")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Strict)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut members = Map::new();
        while let Some(name) = map.next_key::<String>()? {
            let value = map.next_value_seed(Strict)?;
            if members.contains_key(&name) {
                return Err(de::Error::custom(format_args!(
                    "duplicate member name `{name}`"
                )));
            }
            members.insert(name, value);
        }
        Ok(Value::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_member_names_are_refused_at_any_depth() {
        for bad in [
            r#"{"password": "wrong", "password": "right"}"#,
            r#"{"a": {"b": 1, "b": 2}}"#,
            r#"[{"x": 1, "x": 1}]"#,
        ] {
            let err = from_slice(bad.as_bytes()).unwrap_err();
            assert!(
                err.to_string().contains("duplicate member name"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn slotted_objects_refuse_duplicates_in_and_out_of_slots() {
        const NAMES: [&str; 2] = ["a", "b"];
        for bad in [
            r#"{"a": 1, "a": 2}"#,
            r#"{"\u0061": 1, "a": 2}"#,
            r#"{"x": 1, "x": 2}"#,
            r#"{"x": {"y": 1, "y": 2}}"#,
        ] {
            let err = object_slotted(bad.as_bytes(), &NAMES).unwrap_err();
            assert!(err.to_string().contains("duplicate"), "{bad}: {err}");
        }
        let read = object_slotted(br#"{"b": "t", "x": [1], "a": null}"#, &NAMES).unwrap();
        assert_eq!(read.get("a"), Some(&Value::Null));
        assert_eq!(read.get("b"), Some(&Value::from("t")));
        assert_eq!(read.get("x"), Some(&serde_json::json!([1])));
        assert_eq!(read.get("y"), None);
        for not_an_object in ["[]", "1", "\"a\"", "{} {}"] {
            assert!(object_slotted(not_an_object.as_bytes(), &NAMES).is_err());
        }
    }

    #[test]
    fn ordinary_json_reads_as_serde_json_reads_it() {
        let text =
            r#"{"a": [1, -2, 3.5, "x", null, true], "b": {"c": {}}, "d": 18446744073709551615}"#;
        assert_eq!(
            from_slice(text.as_bytes()).ok(),
            serde_json::from_str::<Value>(text).ok()
        );
        assert!(from_slice(b"{} trailing").is_err());
        assert!(from_slice(b"{").is_err());
    }
}
