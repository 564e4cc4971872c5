//! What `scan` says of declared vs observed egress (CHECKS.md §6) and of one egress class across
//! sites: the data of the report's `reconciliation` and `consistency` sections. Computed by
//! `checks::reconcile` and `checks::consistency`.

use super::Target;
use serde::{Deserialize, Serialize};

/// One target the reconciliation is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetRef {
    pub provider: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub resource_id: String,
    pub resource_kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl TargetRef {
    pub fn of(t: &Target) -> TargetRef {
        TargetRef {
            provider: t.provider.as_str().to_string(),
            account: t.account.clone().map(String::from),
            region: t.region.clone().map(String::from),
            resource_id: t.resource_id.to_string(),
            resource_kind: t.resource_kind.to_string(),
            name: t.name.clone().map(String::from),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeRef {
    pub source: String,
    pub host: String,
    pub target: String,
    pub address: String,
    /// How it was matched: `interface eni-0abc`, `instance i-0abc`, `address 10.0.1.5`, `host web-1`.
    pub matched_by: String,
}

/// One run of ports (or one icmp type) of one class to one address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// `tcp/445`, `dns`, `dot-doh`, `icmp-echo`, `tcp`, `udp`…
    pub class: String,
    pub protocol: String,
    /// `445`, `8000-8080`, `type 8`.
    pub ports: String,
    pub destination: String,
    /// The probe's verdict: `open`, `filtered`, `closed`, `intercepted`, `reply`, `answered`…
    pub observed: String,
    /// What measured it: `tcp sweep`, `icmp echo`, `dns udp`, `doh dns.google`…
    pub by: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reconciliation {
    /// The declared target(s) the probe ran on (one, unless an instance has several interfaces).
    pub targets: Vec<TargetRef>,
    pub probe: ProbeRef,
    pub confirmed: Vec<Entry>,
    pub blocked_elsewhere: Vec<Entry>,
    pub contradictions: Vec<Entry>,
    /// Ports (and icmp types) both declared denied and observed not leaving.
    pub agreed_denied: usize,
    /// The probe was interrupted: what it did not test is in no list.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
}

/// One egress class across every target: who lets it out and who does not (CHECKS.md §3 classes).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassRow {
    /// `tcp/445`, `tcp/23`, `tcp/20-21`, `dns`, `dot-doh`, `icmp-echo`, `all-tcp`, `default-deny`.
    pub class: String,
    pub title: String,
    /// Targets that let the class out (for `default-deny`: that lack a default deny).
    pub open: Vec<Group>,
    /// Targets that do not (for `default-deny`: that have one).
    pub blocked: Vec<Group>,
    /// Targets that cannot tell (a probe does not measure default deny).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_measured: Vec<Group>,
}

/// Targets of one provider, scope and kind, declared or observed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Group {
    pub provider: String,
    /// The `site` label, else the account (subscription, project), else the network, else `-`.
    pub scope: String,
    pub kind: String,
    pub observed: bool,
    pub count: usize,
    pub targets: Vec<String>,
}
