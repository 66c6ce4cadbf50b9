//! The few FHIR shapes a ticket carries, read leniently: just what a person
//! needs to see, with the rest left in the raw JSON.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identifier {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coding {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeableConcept {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub coding: Vec<Coding>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

impl CodeableConcept {
    pub fn display(&self) -> Option<String> {
        self.text.clone().or_else(|| {
            self.coding
                .iter()
                .find_map(|c| c.display.clone().or_else(|| c.code.clone()))
        })
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HumanName {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub given: Vec<String>,
}

impl HumanName {
    pub fn display(&self) -> String {
        if let Some(text) = &self.text {
            return text.clone();
        }
        let mut parts: Vec<&str> = self.given.iter().map(String::as_str).collect();
        if let Some(f) = &self.family {
            parts.push(f);
        }
        parts.join(" ")
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
}

/// The subject's demographics as the issuer verified them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Patient {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub name: Vec<HumanName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identifier: Vec<Identifier>,
}

impl Patient {
    pub fn display_name(&self) -> Option<String> {
        self.name
            .first()
            .map(HumanName::display)
            .filter(|s| !s.is_empty())
    }
}

/// Reads the display name of any FHIR resource that names someone.
pub fn resource_display_name(resource: &Value) -> Option<String> {
    match resource.get("name") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Array(names)) => names
            .first()
            .and_then(|n| serde_json::from_value::<HumanName>(n.clone()).ok())
            .map(|n| n.display())
            .filter(|s| !s.is_empty()),
        _ => ["practitioner", "organization"].iter().find_map(|k| {
            resource
                .get(k)
                .and_then(|r| r.get("display"))
                .and_then(Value::as_str)
                .map(str::to_string)
        }),
    }
}
