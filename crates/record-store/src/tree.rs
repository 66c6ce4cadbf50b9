//! A resource read for its index: a JSON tree whose strings borrow from the
//! record's text, and the few ways `extract` and `merge` look into it.
//!
//! Reading each record into a `serde_json::Value` allocated every string and
//! every object's map; this tree allocates only its lists. Both implement
//! `Tree` with `Value`'s meanings (a missing member or item is null, the last
//! of a repeated name counts), so a record indexes the same either way: the
//! fuzz target `fhir_page` holds them equal on every record it reads.

use std::borrow::Cow;

use serde::Deserialize;
use serde::de::{MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// Looking into a JSON value as `Value`'s indexing does.
pub trait Tree: Sized {
    /// The member `name` (the last one of that name), or null.
    fn key(&self, name: &str) -> &Self;
    /// The item at `i` of a list, or null.
    fn item(&self, i: usize) -> &Self;
    fn str(&self) -> Option<&str>;
    fn f64(&self) -> Option<f64>;
    fn list(&self) -> Option<&[Self]>;
    fn is_null(&self) -> bool;
}

impl Tree for Value {
    fn key(&self, name: &str) -> &Self {
        &self[name]
    }
    fn item(&self, i: usize) -> &Self {
        &self[i]
    }
    fn str(&self) -> Option<&str> {
        self.as_str()
    }
    fn f64(&self) -> Option<f64> {
        self.as_f64()
    }
    fn list(&self) -> Option<&[Self]> {
        self.as_array().map(Vec::as_slice)
    }
    fn is_null(&self) -> bool {
        Value::is_null(self)
    }
}

/// A JSON value borrowing its strings from the text it was read from
/// (unless they had an escape in them).
#[derive(Debug, Clone, PartialEq)]
pub enum Json<'a> {
    Null,
    Bool(bool),
    Number(f64),
    String(Cow<'a, str>),
    Array(Vec<Json<'a>>),
    Object(Vec<(Cow<'a, str>, Json<'a>)>),
}

static NULL: Json<'static> = Json::Null;

impl<'a> Json<'a> {
    /// `text` read, or null where it is not JSON (as `Value` reads it).
    pub fn parse(text: &'a str) -> Self {
        serde_json::from_str(text).unwrap_or(Json::Null)
    }
}

impl Tree for Json<'_> {
    fn key(&self, name: &str) -> &Self {
        match self {
            Json::Object(members) => members
                .iter()
                .rev()
                .find(|(n, _)| n == name)
                .map_or(&NULL, |(_, v)| v),
            _ => &NULL,
        }
    }
    fn item(&self, i: usize) -> &Self {
        match self {
            Json::Array(items) => items.get(i).unwrap_or(&NULL),
            _ => &NULL,
        }
    }
    fn str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }
    fn f64(&self) -> Option<f64> {
        match self {
            Json::Number(n) => Some(*n),
            _ => None,
        }
    }
    fn list(&self) -> Option<&[Self]> {
        match self {
            Json::Array(items) => Some(items),
            _ => None,
        }
    }
    fn is_null(&self) -> bool {
        matches!(self, Json::Null)
    }
}

impl<'de> Deserialize<'de> for Json<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> Visitor<'de> for Visit {
            type Value = Json<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("JSON")
            }
            fn visit_unit<E>(self) -> Result<Json<'de>, E> {
                Ok(Json::Null)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Json<'de>, E> {
                Ok(Json::Bool(v))
            }
            // As `Value::as_f64` converts each kind of number.
            fn visit_i64<E>(self, v: i64) -> Result<Json<'de>, E> {
                Ok(Json::Number(v as f64))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Json<'de>, E> {
                Ok(Json::Number(v as f64))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Json<'de>, E> {
                Ok(Json::Number(v))
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Json<'de>, E> {
                Ok(Json::String(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Json<'de>, E> {
                Ok(Json::String(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Json<'de>, E> {
                Ok(Json::String(Cow::Owned(v)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'de>, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Json::Array(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some((Name(name), value)) = map.next_entry::<Name, Json>()? {
                    members.push((name, value));
                }
                Ok(Json::Object(members))
            }
        }
        d.deserialize_any(Visit)
    }
}

/// A member's name, borrowed from the text where it can be.
pub(crate) struct Name<'a>(pub Cow<'a, str>);

impl<'de> Deserialize<'de> for Name<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> Visitor<'de> for Visit {
            type Value = Name<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a member's name")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(Visit)
    }
}

/// For the fuzz targets: a record indexes the same read into a `Value` or
/// into a `Json`.
#[doc(hidden)]
pub fn check_tree(text: &str) {
    let value: Value = serde_json::from_str(text).unwrap_or_default();
    let tree = Json::parse(text);
    assert_eq!(
        crate::extract(&value),
        crate::extract(&tree),
        "indexed apart: {text:?}"
    );
    assert_eq!(
        crate::merge::identifiers(&value),
        crate::merge::identifiers(&tree),
        "identified apart: {text:?}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_as_value_reads_it() {
        let texts = [
            r#"{"resourceType":"Observation","category":[{"coding":[{"code":"laboratory"}]}],"code":{"coding":[{"system":"http://loinc.org","code":"4548-4","display":"Hemoglobin A1c"}]},"effectiveDateTime":"2025-03-04T09:30:00Z","valueQuantity":{"value":6,"unit":"%"},"referenceRange":[{"low":{"value":-4},"high":{"value":5.6e0}}],"note":[{"text":"fasting"},{"text":"\u00e9"}],"identifier":[{"system":" s ","value":" v "},{"value":""}]}"#,
            // The last of a repeated name counts; one category is not a list.
            r#"{"resourceType":"Observation","resourceType":"Condition","category":{"text":"x"},"onsetDateTime":"2020-01-02","type":[{"text":"t"}]}"#,
            r#"{"resourceType":"Encounter","type":{"text":"visit"},"period":{"start":"2022-02-02"}}"#,
            r#"{"resourceType":"Observation","category":"laboratory","valueQuantity":{"value":"7"}}"#,
            "[1,2]",
            "not JSON",
            r#"{"id":18446744073709551615,"valueQuantity":{"value":18446744073709551615}}"#,
        ];
        for text in texts {
            check_tree(text);
        }
        let e = crate::extract(&Json::parse(texts[0]));
        assert_eq!(e.category, "labs");
        assert_eq!(
            (e.value, e.ref_low, e.ref_high),
            (Some(6.0), Some(-4.0), Some(5.6))
        );
        assert!(e.text.ends_with("fasting\né"), "{}", e.text);
        assert_eq!(
            crate::merge::identifiers(&Json::parse(texts[0])),
            [("s".to_string(), "v".to_string())]
        );
        assert_eq!(
            crate::extract(&Json::parse(texts[1])).category,
            "conditions"
        );
    }
}
