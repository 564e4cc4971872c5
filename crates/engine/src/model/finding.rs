//! Findings, warnings and the report object (docs/SEMANTICS.md §4).

use super::{CauseId, Evidence, Fingerprint, Text};
use egress_audit_snapshot::NotScanned;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
    pub const ALL: [Severity; 5] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ];
}

impl std::str::FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "info" | "informational" | "note" => Severity::Info,
            "low" => Severity::Low,
            "medium" | "moderate" => Severity::Medium,
            "high" => Severity::High,
            "critical" => Severity::Critical,
            _ => {
                return Err(format!(
                    "{s:?} is not a severity (info, low, medium, high, critical)"
                ))
            }
        })
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an observed finding's traffic was seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ObservedSource {
    /// `egress-audit probe` from inside the host.
    Probe,
    /// Accepted flows in VPC / VNet flow logs or firewall logs.
    Flows,
}

/// Serialised by hand (`fingerprint.rs`): the fingerprint is made when written.
/// Compared by hand too: a fingerprint read back as text equals the one made from the fields.
#[derive(Clone, Debug, Deserialize)]
pub struct Finding {
    pub check_id: Text,
    pub slug: Text,
    pub severity: Severity,
    pub title: Text,
    pub provider: Text,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<Text>,
    pub resource_id: Text,
    pub resource_kind: Text,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_name: Option<Text>,
    /// For rule-level checks (shadowed, redundant): the rule the finding is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<Text>,
    pub message: String,
    pub evidence: Vec<Evidence>,
    /// From a live probe rather than from declared rules.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub observed: bool,
    /// What observed it: a probe result or flow logs (`None` for declared findings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<ObservedSource>,
    /// Context that changes how to read the finding: `no internet path: …`,
    /// `egress passes an appliance: …`, `suppression expired on …`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The severity before it was lowered (no internet path) or overridden by config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_severity: Option<Severity>,
    /// Set when a suppression in the config matched; suppressed findings stay in JSON reports but
    /// do not count toward `--fail-on`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<String>,
    /// Stable identity for baselines: check, provider, account, region, resource (and rule),
    /// read with [`Finding::fingerprint`].
    pub fingerprint: Fingerprint,
    /// The root cause this finding is grouped under (`report::cause`): the rules whose change
    /// closes it, e.g. `aws:111122223333:security-group:sg-0abc egress #1`. Set by `scan`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<CauseId>,
    /// Route data shows the target has no path to the internet (the `no internet path` note
    /// says why); `lower_unreachable` in the config lowers such findings. Not in reports: the
    /// note carries it there.
    #[serde(skip)]
    pub no_internet_path: bool,
}

impl Finding {
    /// `provider/account/region/resource_id`, `-` for a missing account or region. SARIF's
    /// fullyQualifiedName and config suppression patterns use this form.
    pub fn qualified_name(&self) -> String {
        format!(
            "{}/{}/{}/{}",
            self.provider,
            self.account.as_deref().unwrap_or("-"),
            self.region.as_deref().unwrap_or("-"),
            self.resource_id
        )
    }
}

/// What a warning is about. Serialised as the kebab-case strings the JSON report has always carried.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WarningKind {
    /// A value was read in a way that can only over-report egress (an approximation, said so).
    Approximated,
    /// Two rules share a priority where the provider requires them to be unique.
    DuplicatePriority,
    /// A listing with nothing in it: its kind cannot be told, nothing was read.
    EmptyInput,
    /// A prefix list's entries were inferred from another listing.
    InferredPrefixList,
    /// A priority outside the provider's documented range (evaluated as written).
    InvalidPriority,
    /// Egress passes a layer-7 control (an appliance or proxy) that rules cannot show.
    Layer7Inspection,
    /// A resource that could not be evaluated (missing rules, unknown references): never shown as clean.
    NotEvaluated,
    /// Part of a resource's data is missing; the result may be incomplete.
    PartialData,
    /// A probe's port connected but answered with something else (a proxy or middlebox).
    ProbeIntercepted,
    /// A file in a scanned folder that is not an input.
    SkippedFile,
    /// An input that was recognised but deliberately not read.
    SkippedInput,
    /// A suppression in the config whose expiry date has passed.
    SuppressionExpired,
    /// A saved listing that is one page of several: the other pages were not read.
    TruncatedListing,
    /// Entries that could not be attributed to a resource.
    UnattributedEntries,
    /// A field whose value is not one the provider documents.
    UnknownField,
    /// A symbolic destination (service tag, prefix list) that could not be resolved: never guessed.
    UnresolvedDestination,
    /// A rule's target that could not be resolved to a workload.
    UnresolvedTarget,
    /// A suppression in the config that matched no finding.
    UnusedSuppression,
    /// A probe reached only a loopback, private or documentation address: its results are not the public internet.
    ProbeNonPublicTarget,
    /// A host firewall statement that is not understood: treated so it can only over-report egress.
    HostFirewallNotUnderstood,
    /// A rule not judged for EG014/EG015: flow data does not cover all its targets for the whole window.
    FlowsNotJudged,
    /// Accepted egress flows that match no target of the inventory.
    FlowsUnattributed,
    /// The rule a flow log names differs from the rule the engine says decides the flow.
    FlowsRuleDisagreement,
    /// Flows the logs show accepted that the engine says are denied (stale or incomplete inventory).
    FlowsEngineDenies,
    /// Deny rules with hits in the flow logs: blocked attempts, worth a look.
    DenyRuleHits,
    /// Flow-log records that could not be read (counted, with file and line).
    FlowsSkippedRecords,
    /// A scope a collector skipped on purpose (a disabled subscription): named, not scanned.
    SkippedScope,
    /// A rule's source that reads as an unknown service tag or name: the rule may apply more widely than shown.
    UnresolvedSource,
    /// A kind this version does not know (read from a newer report).
    #[serde(other)]
    Other,
}

impl WarningKind {
    pub fn as_str(self) -> &'static str {
        match self {
            WarningKind::Approximated => "approximated",
            WarningKind::DuplicatePriority => "duplicate-priority",
            WarningKind::EmptyInput => "empty-input",
            WarningKind::InferredPrefixList => "inferred-prefix-list",
            WarningKind::InvalidPriority => "invalid-priority",
            WarningKind::Layer7Inspection => "layer7-inspection",
            WarningKind::NotEvaluated => "not-evaluated",
            WarningKind::PartialData => "partial-data",
            WarningKind::ProbeIntercepted => "probe-intercepted",
            WarningKind::SkippedFile => "skipped-file",
            WarningKind::SkippedInput => "skipped-input",
            WarningKind::SuppressionExpired => "suppression-expired",
            WarningKind::TruncatedListing => "truncated-listing",
            WarningKind::UnattributedEntries => "unattributed-entries",
            WarningKind::UnknownField => "unknown-field",
            WarningKind::UnresolvedDestination => "unresolved-destination",
            WarningKind::UnresolvedTarget => "unresolved-target",
            WarningKind::UnusedSuppression => "unused-suppression",
            WarningKind::ProbeNonPublicTarget => "probe-non-public-target",
            WarningKind::HostFirewallNotUnderstood => "host-firewall-not-understood",
            WarningKind::FlowsNotJudged => "flows-not-judged",
            WarningKind::FlowsUnattributed => "flows-unattributed",
            WarningKind::FlowsRuleDisagreement => "flows-rule-disagreement",
            WarningKind::FlowsEngineDenies => "flows-engine-denies",
            WarningKind::DenyRuleHits => "deny-rule-hits",
            WarningKind::FlowsSkippedRecords => "flows-skipped-records",
            WarningKind::SkippedScope => "skipped-scope",
            WarningKind::UnresolvedSource => "unresolved-source",
            WarningKind::Other => "other",
        }
    }
}

impl std::fmt::Display for WarningKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Compares with the serialised name, as reports and their readers see it.
impl PartialEq<str> for WarningKind {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for WarningKind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

// Warnings are sorted by kind for stable reports; by name, as they were when kinds were strings.
impl Ord for WarningKind {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl PartialOrd for WarningKind {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Warning {
    pub kind: WarningKind,
    /// File or resource it concerns.
    pub source: String,
    pub message: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ToolInfo {
    pub name: String,
    pub version: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Summary {
    pub targets: usize,
    pub findings: usize,
    pub by_severity: BTreeMap<String, usize>,
    #[serde(default)]
    pub suppressed: usize,
    /// True when some scope was not read: the result must not be taken as clean.
    #[serde(default)]
    pub partial: bool,
    /// With `--baseline`: how many findings were dropped because the baseline report had them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_matched: Option<usize>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    pub tool: ToolInfo,
    /// When the scan ran, RFC 3339 in UTC (`2026-12-04T20:40:00Z`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scanned_at: String,
    /// What the scan read (inputs, live accounts and regions).
    #[serde(default)]
    pub scope: super::Scope,
    pub findings: Vec<Finding>,
    pub warnings: Vec<Warning>,
    /// Scopes that were asked for and not read.
    #[serde(default)]
    pub not_scanned: Vec<NotScanned>,
    pub summary: Summary,
    /// Declared vs observed, per workload a probe ran on (CHECKS.md §6).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reconciliation: Vec<super::reconciliation::Reconciliation>,
    /// One line per egress class across all targets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consistency: Vec<super::reconciliation::ClassRow>,
    /// The observed egress profile per target, when the scan read flow logs (CHECKS.md §5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_profile: Option<super::traffic::TrafficProfile>,
}

impl Report {
    /// Everything but the findings (a copy): a writer that serializes the findings itself, on
    /// every core, writes this around them. Lists every field, so a new one cannot be forgotten.
    pub fn without_findings(&self) -> Report {
        Report {
            tool: self.tool.clone(),
            scanned_at: self.scanned_at.clone(),
            scope: self.scope.clone(),
            findings: Vec::new(),
            warnings: self.warnings.clone(),
            not_scanned: self.not_scanned.clone(),
            summary: self.summary.clone(),
            reconciliation: self.reconciliation.clone(),
            consistency: self.consistency.clone(),
            flow_profile: self.flow_profile.clone(),
        }
    }

    pub fn new(
        findings: Vec<Finding>,
        warnings: Vec<Warning>,
        not_scanned: Vec<NotScanned>,
        targets: usize,
    ) -> Self {
        let mut r = Report {
            tool: ToolInfo {
                name: "egress-audit".into(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
            scanned_at: super::scope::now_rfc3339(),
            scope: super::Scope::default(),
            findings,
            warnings,
            not_scanned,
            summary: Summary::default(),
            reconciliation: Vec::new(),
            consistency: Vec::new(),
            flow_profile: None,
        };
        r.summary.targets = targets;
        r.recount();
        r
    }

    /// Recomputes the summary after findings were filtered or re-graded.
    pub fn recount(&mut self) {
        let active: Vec<&Finding> = self
            .findings
            .iter()
            .filter(|f| f.suppressed.is_none())
            .collect();
        self.summary.findings = active.len();
        self.summary.suppressed = self.findings.len() - active.len();
        self.summary.by_severity = BTreeMap::new();
        for f in active {
            *self
                .summary
                .by_severity
                .entry(f.severity.as_str().to_string())
                .or_default() += 1;
        }
        self.summary.partial = !self.not_scanned.is_empty();
    }

    /// The highest severity among findings that are not suppressed.
    pub fn worst(&self) -> Option<Severity> {
        self.findings
            .iter()
            .filter(|f| f.suppressed.is_none())
            .map(|f| f.severity)
            .max()
    }
}
