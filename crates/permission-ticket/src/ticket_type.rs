//! The ticket types: the seven of the seed definitions, the newer quality-gap
//! type, and any other URI kept as-is so an unknown ticket is shown, not dropped.

use std::fmt;

const PREFIX: &str = "https://smarthealthit.org/permission-ticket-type/";

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TicketType {
    PatientSelfAccess,
    PatientDelegatedAccess,
    PublicHealthInvestigation,
    SocialCareReferral,
    PayerClaimsAdjudication,
    ResearchStudyAccess,
    ProviderConsult,
    PayerQualityGap,
    Unknown(String),
}

/// Which FHIR resource the `requester` must be, for a type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequesterRule {
    Absent,
    Required(&'static str),
}

impl TicketType {
    pub const KNOWN: [TicketType; 8] = [
        TicketType::PatientSelfAccess,
        TicketType::PatientDelegatedAccess,
        TicketType::PublicHealthInvestigation,
        TicketType::SocialCareReferral,
        TicketType::PayerClaimsAdjudication,
        TicketType::ResearchStudyAccess,
        TicketType::ProviderConsult,
        TicketType::PayerQualityGap,
    ];

    pub fn from_uri(uri: &str) -> Self {
        match uri.strip_prefix(PREFIX) {
            Some("patient-self-access-v1") => Self::PatientSelfAccess,
            Some("patient-delegated-access-v1") => Self::PatientDelegatedAccess,
            Some("public-health-investigation-v1") => Self::PublicHealthInvestigation,
            Some("social-care-referral-v1") => Self::SocialCareReferral,
            Some("payer-claims-adjudication-v1") => Self::PayerClaimsAdjudication,
            Some("research-study-access-v1") => Self::ResearchStudyAccess,
            Some("provider-consult-v1") => Self::ProviderConsult,
            Some("payer-quality-gap-v1") => Self::PayerQualityGap,
            _ => Self::Unknown(uri.to_string()),
        }
    }

    pub fn uri(&self) -> String {
        match self {
            Self::Unknown(uri) => uri.clone(),
            known => format!("{PREFIX}{}", known.slug()),
        }
    }

    fn slug(&self) -> &str {
        match self {
            Self::PatientSelfAccess => "patient-self-access-v1",
            Self::PatientDelegatedAccess => "patient-delegated-access-v1",
            Self::PublicHealthInvestigation => "public-health-investigation-v1",
            Self::SocialCareReferral => "social-care-referral-v1",
            Self::PayerClaimsAdjudication => "payer-claims-adjudication-v1",
            Self::ResearchStudyAccess => "research-study-access-v1",
            Self::ProviderConsult => "provider-consult-v1",
            Self::PayerQualityGap => "payer-quality-gap-v1",
            Self::Unknown(uri) => uri,
        }
    }

    /// A short name a person understands.
    pub fn label(&self) -> &str {
        match self {
            Self::PatientSelfAccess => "Patient self-access",
            Self::PatientDelegatedAccess => "Delegated access (caregiver)",
            Self::PublicHealthInvestigation => "Public health investigation",
            Self::SocialCareReferral => "Social care referral",
            Self::PayerClaimsAdjudication => "Payer claims adjudication",
            Self::ResearchStudyAccess => "Research study access",
            Self::ProviderConsult => "Provider consult",
            Self::PayerQualityGap => "Payer quality-gap query",
            Self::Unknown(_) => "Unknown ticket type",
        }
    }

    pub fn is_known(&self) -> bool {
        !matches!(self, Self::Unknown(_))
    }

    /// The individual-access types, for which the current spec requires a presenter binding.
    pub fn is_individual_access(&self) -> bool {
        matches!(self, Self::PatientSelfAccess | Self::PatientDelegatedAccess)
    }

    pub fn requester_rule(&self) -> Option<RequesterRule> {
        Some(match self {
            Self::PatientSelfAccess => RequesterRule::Absent,
            Self::PatientDelegatedAccess => RequesterRule::Required("RelatedPerson"),
            Self::ProviderConsult => RequesterRule::Required("PractitionerRole"),
            Self::PublicHealthInvestigation
            | Self::SocialCareReferral
            | Self::PayerClaimsAdjudication
            | Self::ResearchStudyAccess
            | Self::PayerQualityGap => RequesterRule::Required("Organization"),
            Self::Unknown(_) => return None,
        })
    }

    /// The type-specific facts (seed `context` members, or top-level profile
    /// claims in the newer spec) a ticket of this type must state.
    pub fn required_facts(&self) -> &'static [&'static str] {
        match self {
            Self::PublicHealthInvestigation => &["reportable_condition"],
            Self::SocialCareReferral => &["concern", "referral"],
            Self::ResearchStudyAccess => &["study"],
            Self::ProviderConsult => &["reason", "consult_request"],
            Self::PayerQualityGap => &["measure"],
            // Payer claims: seed `service` + `claim`, or the newer `access.claim_linkage`;
            // checked separately because either form satisfies it.
            _ => &[],
        }
    }
}

impl fmt::Display for TicketType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_type_round_trips_its_uri() {
        for t in TicketType::KNOWN {
            assert_eq!(TicketType::from_uri(&t.uri()), t);
            assert!(t.is_known());
        }
    }

    #[test]
    fn unknown_uri_is_kept() {
        let t = TicketType::from_uri("https://example.org/new-type");
        assert_eq!(t.uri(), "https://example.org/new-type");
        assert!(!t.is_known());
    }
}
