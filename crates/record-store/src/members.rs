//! A stored resource's top-level members found in its text, so an export can
//! write the resource again with a few members changed and every other byte
//! as the holder sent it.
//!
//! The store keeps only text serde parsed as JSON (`Record::json` is a
//! `RawValue`), so its members are found by a scan of the structure alone:
//! strings skipped to their closing quote, containers by their depth. That
//! scan gives up (and serde parses instead) on a member name with an escape
//! in it, where its text is not its name, and on anything it does not expect.
//! For every text serde reads as an object, both give the same members
//! (`fuzz/fuzz_targets/resource_members.rs`).

use std::borrow::Cow;
use std::io::Write;
use std::ops::Range;

use serde::Deserialize;
use serde::de::{MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::tree::Name;

/// A JSON object's members in their order: each name (borrowed unless it
/// had an escape), and where its value lies in the object's text.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Object<'a> {
    /// The object, from its `{` to its `}`.
    text: &'a str,
    members: Vec<(Cow<'a, str>, Range<usize>)>,
}

impl<'a> Object<'a> {
    /// The members of `text`, or None where it is not a JSON object.
    pub(crate) fn parse(text: &'a str) -> Option<Self> {
        Self::scan(text).or_else(|| Self::parse_with_serde(text))
    }

    /// An object with no member.
    pub(crate) fn empty() -> Self {
        Object {
            text: "{}",
            members: Vec::new(),
        }
    }

    /// The first member named `name`, as its holder wrote it.
    pub(crate) fn get(&self, name: &str) -> Option<&'a str> {
        let text = self.text;
        self.members
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, at)| &text[at.clone()])
    }

    /// The object again, with `changed` members (JSON text) in place of the
    /// holder's, or after them where it had none; the rest as it was written.
    pub(crate) fn write_with(
        &self,
        changed: &[(&str, String)],
        out: &mut impl Write,
    ) -> std::io::Result<()> {
        let close = self.text.len() - 1;
        let mut at = 0;
        for (name, value) in &self.members {
            if let Some((_, new)) = changed.iter().find(|(n, _)| n == name) {
                out.write_all(&self.text.as_bytes()[at..value.start])?;
                out.write_all(new.as_bytes())?;
                at = value.end;
            }
        }
        out.write_all(&self.text.as_bytes()[at..close])?;
        let mut first = self.members.is_empty();
        for (name, value) in changed {
            if !self.members.iter().any(|(n, _)| n == name) {
                separate(&mut first, out)?;
                serde_json::to_writer(&mut *out, name)?;
                out.write_all(b":")?;
                out.write_all(value.as_bytes())?;
            }
        }
        out.write_all(b"}")
    }

    /// The structural scan. None where the text is not an object of the
    /// shape expected, or a name has an escape.
    fn scan(text: &'a str) -> Option<Self> {
        let b = text.as_bytes();
        let open = ws(b, 0);
        if b.get(open) != Some(&b'{') {
            return None;
        }
        let mut members = Vec::with_capacity(16);
        let mut i = ws(b, open + 1);
        let close = if b.get(i) == Some(&b'}') {
            i
        } else {
            loop {
                if b.get(i) != Some(&b'"') {
                    return None;
                }
                let end = string_end(b, i)? - 1;
                let name = &text[i + 1..end];
                if name.contains('\\') {
                    return None;
                }
                i = ws(b, end + 1);
                if b.get(i) != Some(&b':') {
                    return None;
                }
                let start = ws(b, i + 1);
                let end = value_end(b, start)?;
                members.push((Cow::Borrowed(name), start - open..end - open));
                i = ws(b, end);
                match b.get(i) {
                    Some(b',') => i = ws(b, i + 1),
                    Some(b'}') => break i,
                    _ => return None,
                }
            }
        };
        if ws(b, close + 1) != b.len() {
            return None;
        }
        Some(Object {
            text: &text[open..=close],
            members,
        })
    }

    fn parse_with_serde(text: &'a str) -> Option<Self> {
        let members = serde_json::from_str::<Members>(text).ok()?.0;
        let trimmed = text.trim_matches(|c: char| c.is_ascii_whitespace());
        let open = trimmed.as_ptr() as usize - text.as_ptr() as usize;
        let members = members
            .into_iter()
            .map(|(name, value)| {
                let start = value.get().as_ptr() as usize - text.as_ptr() as usize - open;
                (name, start..start + value.get().len())
            })
            .collect();
        Some(Object {
            text: trimmed,
            members,
        })
    }
}

/// The comma before every item of a JSON list or object but the first.
pub(crate) fn separate(first: &mut bool, out: &mut impl Write) -> std::io::Result<()> {
    if !std::mem::take(first) {
        out.write_all(b",")?;
    }
    Ok(())
}

/// The first byte at or after `i` that is not JSON whitespace.
fn ws(b: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = b.get(i) {
        i += 1;
    }
    i
}

/// Bytes a scan stops at: inside a container, what opens or closes a
/// string or a container; inside a string, its end or an escape.
const fn table(stops: &[u8]) -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < stops.len() {
        t[stops[i] as usize] = true;
        i += 1;
    }
    t
}
const IN_CONTAINER: [bool; 256] = table(b"\"{}[]");
const IN_STRING: [bool; 256] = table(b"\"\\");

/// The first byte at or after `i` that `stops` marks.
fn next_stop(b: &[u8], i: usize, stops: &[bool; 256]) -> Option<usize> {
    Some(i + b.get(i..)?.iter().position(|&c| stops[c as usize])?)
}

/// Just past the value starting at `i`.
fn value_end(b: &[u8], mut i: usize) -> Option<usize> {
    match b.get(i)? {
        b'"' => string_end(b, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            loop {
                i = next_stop(b, i, &IN_CONTAINER)?;
                match b[i] {
                    b'"' => {
                        i = string_end(b, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    _ => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                }
                i += 1;
            }
        }
        // A number or a literal: up to what ends a value.
        _ => {
            let len = b[i..]
                .iter()
                .position(|c| matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))?;
            (len > 0).then_some(i + len)
        }
    }
}

/// Just past the string whose opening quote is at `i`. A byte at a time:
/// a resource's strings are mostly a few bytes long, too short for a
/// vectorised search to start paying.
fn string_end(b: &[u8], mut i: usize) -> Option<usize> {
    i += 1;
    loop {
        i = next_stop(b, i, &IN_STRING)?;
        if b[i] == b'"' {
            return Some(i + 1);
        }
        i += 2;
    }
}

/// An object's members as serde reads them.
struct Members<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> Visitor<'de> for Visit {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a FHIR resource (a JSON object)")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members<'de>, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(16));
                while let Some((Name(name), value)) = map.next_entry::<Name, &RawValue>()? {
                    members.push((name, value));
                }
                Ok(Members(members))
            }
        }
        d.deserialize_map(Visit)
    }
}

/// For the fuzz target: on any input, the scan never panics; where serde
/// reads an object, the scan gives up or finds the same members, and the
/// object written again with members changed reads as the same object with
/// those members changed.
#[doc(hidden)]
pub fn check_members(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let scanned = Object::scan(text);
    let Some(parsed) = Object::parse_with_serde(text) else {
        return;
    };
    if let Some(scanned) = &scanned {
        assert_eq!(scanned, &parsed, "the scan and serde disagree on {text:?}");
    }
    let object = scanned.unwrap_or(parsed);
    let changed = [
        ("meta", "{\"source\":\"s\"}".to_string()),
        ("b", "[1]".to_string()),
    ];
    let mut out = Vec::new();
    object
        .write_with(&changed, &mut out)
        .expect("writing into a Vec does not fail");
    // Member by member, as text: the holder's members in their order, each
    // changed one in place, then those it did not have.
    let written_text = std::str::from_utf8(&out).expect("only UTF-8 is written");
    let written = Object::parse_with_serde(written_text)
        .unwrap_or_else(|| panic!("wrote {written_text:?} from {text:?}"));
    let value_of = |name: &str, at: &Range<usize>| {
        changed
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(&object.text[at.clone()], |(_, v)| v.as_str())
    };
    let mut expect: Vec<(&str, &str)> = object
        .members
        .iter()
        .map(|(n, at)| (n.as_ref(), value_of(n, at)))
        .collect();
    for (name, value) in &changed {
        if !object.members.iter().any(|(n, _)| n == name) {
            expect.push((name, value));
        }
    }
    let got: Vec<(&str, &str)> = written
        .members
        .iter()
        .map(|(n, at)| (n.as_ref(), &written.text[at.clone()]))
        .collect();
    assert_eq!(got, expect, "from {text:?}");
    // And as values, where serde reads the text as one (a number beyond
    // f64's range is JSON serde reads as raw text but not as a `Value`).
    let Ok(mut values) = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(text)
    else {
        return;
    };
    for (name, value) in &changed {
        let value = serde_json::from_str(value).expect("valid JSON");
        // serde's map keeps the last of a repeated name; every repeat is replaced.
        values.insert((*name).to_string(), value);
    }
    let read: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(written_text).expect("read as raw text above");
    assert_eq!(read, values, "from {text:?}");
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn names<'a>(o: &Object<'a>) -> Vec<(String, &'a str)> {
        o.members
            .iter()
            .map(|(n, at)| (n.to_string(), &o.text[at.clone()]))
            .collect()
    }

    #[test]
    fn the_scan_finds_what_serde_finds() {
        for text in [
            r#"{"resourceType":"Observation","id":"a1","meta":{"versionId":"3"},"valueQuantity":{"value":7.40,"unit":"%"}}"#,
            " { \"a\" : [1, {\"b\": \"}]\\\"\"}, -2.5e3] , \"c\":null,\"d\":true, \"e\" : \"x\\\\\" }\n",
            "{}",
            " {\t} ",
            r#"{"a":{},"b":[],"c":"","d":0}"#,
            r#"{"é":"ü","a":"\u00e9"}"#,
        ] {
            let scanned = Object::scan(text).unwrap_or_else(|| panic!("{text}"));
            assert_eq!(
                Some(&scanned),
                Object::parse_with_serde(text).as_ref(),
                "{text}"
            );
            check_members(text.as_bytes());
        }
        let o = Object::scan(r#"{"a" : {"x":[1,2]} ,"b":"q\"}"}"#).unwrap();
        assert_eq!(
            names(&o),
            [("a".into(), r#"{"x":[1,2]}"#), ("b".into(), r#""q\"}""#)]
        );
    }

    /// A name written with an escape is read by serde, which knows its name.
    #[test]
    fn an_escaped_name_is_left_to_serde() {
        let text = r#"{"\u006deta":{"versionId":"1"},"a\"b":1}"#;
        assert_eq!(Object::scan(text), None);
        let o = Object::parse(text).unwrap();
        assert_eq!(o.get("meta"), Some(r#"{"versionId":"1"}"#));
        check_members(text.as_bytes());
    }

    #[test]
    fn what_is_not_an_object_has_no_members() {
        for text in ["[1]", "\"a\"", "5", "", "{", "{\"a\":1", "{\"a\":1}x"] {
            assert_eq!(Object::parse(text), None, "{text}");
            check_members(text.as_bytes());
        }
    }

    #[test]
    fn members_changed_in_place_or_appended() {
        let o = Object::parse(" {\"a\": 1 , \"meta\" :{\"x\":2}, \"meta\":3 }").unwrap();
        let mut out = Vec::new();
        o.write_with(&[("meta", "{}".into()), ("link", "[]".into())], &mut out)
            .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"a\": 1 , \"meta\" :{}, \"meta\":{} ,\"link\":[]}"
        );
        let mut out = Vec::new();
        Object::parse("{ }")
            .unwrap()
            .write_with(&[("meta", "{}".into()), ("b", "1".into())], &mut out)
            .unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), r#"{ "meta":{},"b":1}"#);
    }
}
