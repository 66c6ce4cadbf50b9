//! SMART v2 scopes: `(patient|user|system)/(Type|*).<cruds>[?params]`.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SmartScope {
    /// `patient`, `user` or `system`.
    pub context: String,
    /// A FHIR resource type, or `*`.
    pub resource_type: String,
    /// A subset of `cruds`, in that order.
    pub permissions: String,
    /// The granular narrowing after `?`, e.g. `category=...|laboratory`.
    pub query: Option<String>,
}

impl SmartScope {
    pub fn parse(text: &str) -> Result<Self, String> {
        let (base, query) = match text.split_once('?') {
            Some((b, q)) if !q.is_empty() && !q.contains(char::is_whitespace) => {
                (b, Some(q.to_string()))
            }
            Some(_) => return Err(format!("`{text}` has an empty or invalid query")),
            None => (text, None),
        };
        let (context, rest) = base
            .split_once('/')
            .ok_or_else(|| format!("`{text}` is not a SMART scope (no `/`)"))?;
        if !matches!(context, "patient" | "user" | "system") {
            return Err(format!(
                "`{text}` must start with patient/, user/ or system/"
            ));
        }
        let (resource_type, permissions) = rest
            .split_once('.')
            .ok_or_else(|| format!("`{text}` has no `.permissions` part"))?;
        let type_ok = resource_type == "*"
            || (!resource_type.is_empty()
                && resource_type.chars().all(|c| c.is_ascii_alphabetic()));
        if !type_ok {
            return Err(format!("`{text}` names no valid resource type"));
        }
        if !is_cruds(permissions) {
            return Err(format!(
                "`{text}` must use SMART v2 permissions (letters from `cruds`, in order)"
            ));
        }
        Ok(Self {
            context: context.into(),
            resource_type: resource_type.into(),
            permissions: permissions.into(),
            query,
        })
    }

    pub fn allows_read(&self) -> bool {
        self.permissions.contains('r') || self.permissions.contains('s')
    }
}

/// `cruds` letters, each at most once, in canonical order.
fn is_cruds(p: &str) -> bool {
    let mut last = None;
    !p.is_empty()
        && p.chars().all(|c| {
            let pos = "cruds".find(c);
            let ok = pos.is_some() && pos > last;
            last = pos;
            ok
        })
}

impl fmt::Display for SmartScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}.{}",
            self.context, self.resource_type, self.permissions
        )?;
        if let Some(q) = &self.query {
            write!(f, "?{q}")?;
        }
        Ok(())
    }
}

/// SMART v2 permission letters for seed-era REST interactions.
pub fn cruds_for(interactions: &[String]) -> String {
    let has = |names: &[&str]| interactions.iter().any(|i| names.contains(&i.as_str()));
    [
        ('c', has(&["create"])),
        ('r', has(&["read", "history"])),
        ('u', has(&["update", "patch"])),
        ('d', has(&["delete"])),
        ('s', has(&["search"])),
    ]
    .iter()
    .filter(|(_, on)| *on)
    .map(|(c, _)| *c)
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_granular_scope() {
        let s = SmartScope::parse(
            "patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory",
        )
        .unwrap();
        assert_eq!(s.resource_type, "Observation");
        assert_eq!(s.permissions, "rs");
        assert!(s.query.as_deref().unwrap().ends_with("|laboratory"));
        assert_eq!(SmartScope::parse(&s.to_string()).unwrap(), s);
    }

    #[test]
    fn refuses_v1_and_garbage() {
        for bad in [
            "patient/Observation.read",
            "patient/Observation.sr",
            "Observation.rs",
            "admin/Observation.rs",
            "patient/Obs-1.rs",
            "patient/Observation.rs?",
        ] {
            assert!(SmartScope::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn seed_interactions_map_to_cruds() {
        let i = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(cruds_for(&i(&["search", "read"])), "rs");
        assert_eq!(cruds_for(&i(&["delete", "create", "patch"])), "cud");
    }
}
