//! Root causes: findings grouped by the change that closes them.
//!
//! A finding is open because some allow rules let its traffic out. A target must pass every one of
//! its chains (security groups *and* the NACL; the NIC's NSG *and* the subnet's), so closing the
//! finding in any one chain closes it. We blame one chain, the one a person is expected to edit:
//! a chain whose deciding rules were written by someone before one that only has provider defaults,
//! then the workload's own layer (security group, NSG, VPC firewall) before the subnet-wide NACL.
//! In that chain the blamed rules are those that decide most of the finding's traffic (at least 1%
//! of the public traffic of the broadest one), so a narrow partner rule beside an allow-all is not
//! blamed. When the blamed rules are provider defaults (Azure `AllowInternetOutBound`, GCP's
//! implied allow) the cause is the missing default deny of the layer that holds them.
//! Rule-level findings (a shadowed deny, a rule that decides nothing) are their own cause: the
//! rule itself. The id is readable and stable across runs: `provider:account:kind:subject`.

mod build;

use super::{remedy, ResourceKey};
use egress_audit_engine::model::space::public;
use egress_audit_engine::model::RuleText;
use egress_audit_engine::model::{
    CauseId, Evidence, Finding, LayerKind, Report, Rule, Severity, Target, Text,
};
use rustc_hash::FxHashMap;
use std::sync::Arc;

/// Share of the broadest deciding rule's public traffic below which a rule is not blamed.
const MINOR_SHARE: f64 = 0.01;

/// What kind of change closes a cause.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum CauseKind {
    /// Allow rules to narrow or delete, in a layer of this kind.
    Rules(LayerKindKey),
    /// The layer allows what its rules do not name (provider default or `no_match` allow).
    DefaultAllow(LayerKindKey),
    /// Nothing filters the target at all.
    NoFilter,
    /// A rule judged on its own (EG011 shadowed deny, EG012 redundant rule, flows' unused rules).
    Rule,
    /// Seen leaving by a probe or in flows: the control on the path is unknown.
    Observed,
}

/// [`LayerKind`] with an order: the layer people should edit first sorts first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LayerKindKey {
    SecurityGroup,
    Nsg,
    VpcFirewall,
    FirewallPolicy,
    Custom,
    NetworkAcl,
    HostFirewall,
    Host,
    Unknown,
}

impl LayerKindKey {
    fn of(k: LayerKind) -> Self {
        match k {
            LayerKind::SecurityGroup => Self::SecurityGroup,
            LayerKind::Nsg => Self::Nsg,
            LayerKind::VpcFirewall => Self::VpcFirewall,
            LayerKind::FirewallPolicy => Self::FirewallPolicy,
            LayerKind::Custom => Self::Custom,
            LayerKind::NetworkAcl => Self::NetworkAcl,
            LayerKind::HostFirewall => Self::HostFirewall,
            LayerKind::Observed => Self::Host,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::SecurityGroup => "security-group",
            Self::Nsg => "nsg",
            Self::VpcFirewall => "vpc-firewall",
            Self::FirewallPolicy => "firewall-policy",
            Self::Custom => "custom",
            Self::NetworkAcl => "network-acl",
            Self::HostFirewall => "host-firewall",
            Self::Host => "host",
            Self::Unknown => "rules",
        }
    }
}

impl CauseKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CauseKind::Rules(k) => k.as_str(),
            CauseKind::DefaultAllow(_) => "no-default-deny",
            CauseKind::NoFilter => "no-filter",
            CauseKind::Rule => "rule",
            CauseKind::Observed => "observed",
        }
    }
}

/// One root cause and what it opens.
///
/// Kept small: a large estate has a cause for nearly every rule-level finding, so what can be
/// read back from the findings (their targets) is not copied here.
#[derive(Clone, Debug)]
pub struct Cause {
    /// `aws:111122223333:security-group:sg-0abc egress #1`.
    pub id: CauseId,
    pub kind: CauseKind,
    /// The resource that holds the rules: security group, NACL, NSG, network, policy.
    pub holder: Text,
    /// The blamed rules as written (evidence without `decides`); empty for a missing filter.
    pub rules: Box<[Evidence]>,
    /// Indices into `report.findings`.
    pub findings: Members,
    /// How many distinct targets the findings are on ([`Cause::targets`] lists them).
    pub target_count: usize,
    pub checks: CheckSet,
    /// Of the findings that are not suppressed (`None` when all are suppressed).
    pub worst: Option<Severity>,
}

impl Cause {
    /// `sg-0abc egress #1 (all traffic to 0.0.0.0/0)`, or `no default deny in nsg-web`.
    pub fn title(&self) -> String {
        remedy::title(self)
    }

    /// The change, in the provider's terms. Made when a report shows it: most of a large
    /// estate's causes are never shown one by one.
    pub fn remediation(&self) -> String {
        remedy::remediation(self)
    }

    /// Findings that are not suppressed.
    pub fn active<'s, 'r: 's>(
        &'s self,
        report: &'r Report,
    ) -> impl Iterator<Item = &'r Finding> + 's {
        let findings = &report.findings;
        self.findings
            .iter()
            .map(move |i| &findings[i])
            .filter(|f| f.suppressed.is_none())
    }

    /// The targets of the cause's findings, sorted, each once.
    pub fn targets(&self, report: &Report) -> Vec<ResourceKey> {
        distinct_targets(report, &self.findings)
            .into_iter()
            .map(ResourceKey::of)
            .collect()
    }
}

/// A finding of each distinct target of `members`, in [`ResourceKey`] order. Compared by
/// borrowed fields (the key's, in its order): counting a million causes' targets makes no keys.
fn distinct_targets<'r>(report: &'r Report, members: &Members) -> Vec<&'r Finding> {
    type KeyOf<'f> = (TargetKey<'f>, &'f str, Option<&'f str>);
    let key = |f: &'r Finding| -> KeyOf<'r> {
        (
            TargetKey::of_finding(f),
            f.resource_kind.as_str(),
            f.resource_name.as_deref(),
        )
    };
    let mut found: Vec<&Finding> = Vec::new();
    for i in members.iter() {
        let f = &report.findings[i];
        // A cause's findings are mostly one target's run: pushed once.
        if found.last().is_none_or(|&last| key(last) != key(f)) {
            found.push(f);
        }
    }
    if found.len() > 1 {
        found.sort_unstable_by(|a, b| key(a).cmp(&key(b)));
        found.dedup_by(|a, b| key(a) == key(b));
    }
    found
}

/// The findings of a cause, as indices into `report.findings`. Most causes (a rule-level
/// finding) have one, held without an allocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Members {
    One(u32),
    Many(Vec<u32>),
}

impl Members {
    fn of(i: usize) -> Self {
        Members::One(Self::index(i))
    }

    fn index(i: usize) -> u32 {
        u32::try_from(i).expect("a report holds fewer than 2^32 findings")
    }

    fn push(&mut self, i: usize) {
        let i = Self::index(i);
        match self {
            Members::One(first) => *self = Members::Many(vec![*first, i]),
            Members::Many(all) => all.push(i),
        }
    }

    fn shrink_to_fit(&mut self) {
        if let Members::Many(all) = self {
            all.shrink_to_fit();
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Members::One(_) => 1,
            Members::Many(all) => all.len(),
        }
    }

    /// Never: a cause has at least one finding.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// In report order.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        let slice: &[u32] = match self {
            Members::One(i) => std::slice::from_ref(i),
            Members::Many(all) => all,
        };
        slice.iter().map(|&i| i as usize)
    }
}

/// The checks of a cause's findings, sorted: most causes have one, so an exact slice rather than
/// a tree (a B-tree node for each of a million causes was 170 bytes apiece).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckSet(Box<[Text]>);

impl CheckSet {
    pub fn insert(&mut self, id: &Text) {
        if let Err(at) = self.0.binary_search(id) {
            let mut ids = std::mem::take(&mut self.0).into_vec();
            ids.insert(at, id.clone());
            self.0 = ids.into_boxed_slice();
        }
    }
    pub fn contains(&self, id: &str) -> bool {
        self.0.iter().any(|c| c.as_str() == id)
    }
    pub fn iter(&self) -> std::slice::Iter<'_, Text> {
        self.0.iter()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

/// The causes of a report, worst first, and which cause each finding belongs to.
#[derive(Clone, Debug, Default)]
pub struct Causes {
    pub list: Vec<Cause>,
    /// For each finding (by index), its cause's index in `list`.
    pub of_finding: Vec<u32>,
}

impl Causes {
    /// Groups the report's findings; `targets` are the evaluated targets (empty when only the
    /// report is at hand: then the deciding rules are read from the evidence alone).
    pub fn build(report: &Report, targets: &[Target]) -> Causes {
        // Looked up by borrowed fields: a million findings allocate no keys.
        let index: FxHashMap<TargetKey, &Target> = targets
            .iter()
            .map(|t| (TargetKey::of_target(t), t))
            .collect();
        let threads = match report.findings.len() {
            n if n < PARALLEL_FROM => 1,
            _ => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        build::build_on(report, &index, threads.clamp(1, 8))
    }

    /// The cause of finding `i`.
    pub fn of(&self, i: usize) -> Option<&Cause> {
        let c = self.of_finding.get(i)?;
        Some(&self.list[*c as usize])
    }

    /// Causes with at least one finding that is not suppressed.
    pub fn active(&self) -> impl Iterator<Item = &Cause> {
        self.list.iter().filter(|c| c.worst.is_some())
    }
}

/// Below this many findings causes are built on one thread: starting threads costs more.
const PARALLEL_FROM: usize = 20_000;

/// A rule's public weight, by the address of its (shared) traffic set (as a number, so that a
/// thread can own the table).
type Weights = FxHashMap<usize, f64>;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct TargetKey<'a>(&'a str, Option<&'a str>, Option<&'a str>, &'a str);

impl<'a> TargetKey<'a> {
    fn of_target(t: &'a Target) -> Self {
        TargetKey(
            t.provider.as_str(),
            t.account.as_deref(),
            t.region.as_deref(),
            &t.resource_id,
        )
    }
    fn of_finding(f: &'a Finding) -> Self {
        TargetKey(
            &f.provider,
            f.account.as_deref(),
            f.region.as_deref(),
            &f.resource_id,
        )
    }
}

/// What one finding is blamed on.
struct Blamed {
    kind: CauseKind,
    holder: Text,
    rules: Vec<Evidence>,
}

impl Blamed {
    /// `provider:account:kind:subject`; the subject is the blamed rules' names (a name the
    /// rule already holds when there is one) or the holder.
    fn id(
        &self,
        f: &Finding,
        prefixes: &mut FxHashMap<(Text, Option<Text>, &'static str), Text>,
    ) -> CauseId {
        let subject = match (self.kind, &*self.rules) {
            (CauseKind::Rules(_) | CauseKind::Rule, [one]) => one.name.clone(),
            (CauseKind::Rules(_) | CauseKind::Rule, [_, _, ..]) => Text::from(
                self.rules
                    .iter()
                    .map(|e| e.name.as_str())
                    .collect::<Vec<_>>()
                    .join(" + "),
            ),
            _ => self.holder.clone(),
        };
        let kind = self.kind.as_str();
        let prefix = prefixes
            .entry((f.provider.clone(), f.account.clone(), kind))
            .or_insert_with(|| CauseId::prefix(&f.provider, f.account.as_deref(), kind).into())
            .clone();
        CauseId::new(prefix, subject)
    }
}

fn blame(f: &Finding, target: Option<&Target>, weights: &mut Weights) -> Blamed {
    if let Some(rule) = &f.rule {
        let rule = match f.evidence.iter().find(|e| &e.name == rule) {
            Some(e) => e.as_written(),
            None => named(rule),
        };
        return Blamed {
            kind: CauseKind::Rule,
            holder: f.resource_id.clone(),
            rules: vec![rule],
        };
    }
    if f.observed {
        return Blamed {
            kind: CauseKind::Observed,
            holder: f.resource_id.clone(),
            rules: Vec::new(),
        };
    }
    let allows: Vec<&Evidence> = f.evidence.iter().filter(|e| e.action == "allow").collect();
    if allows.iter().any(|e| {
        e.name
            .ends_with("(no filter: no security group, NSG or firewall applies)")
    }) {
        return Blamed {
            kind: CauseKind::NoFilter,
            holder: f.resource_id.clone(),
            rules: Vec::new(),
        };
    }
    match target.and_then(|t| blame_in_chains(t, &allows, weights)) {
        Some(b) => b,
        None => blame_from_evidence(f, &allows),
    }
}

fn named(rule: &str) -> Evidence {
    Evidence::new(
        Arc::new(RuleText {
            name: rule.into(),
            action: String::new().into(),
            priority: None,
            protocol: String::new().into(),
            ports: String::new().into(),
            destination: String::new().into(),
        }),
        None,
    )
}

/// A deciding rule located in its target's chains.
struct Located<'a> {
    evidence: &'a Evidence,
    kind: LayerKindKey,
    holder: &'a str,
    synthetic: bool,
    weight: f64,
}

const DEFAULT_ALLOW_SUFFIX: &str = " (no rule matched: default allow)";

/// Picks the chain to edit and the rules to change in it (module docs).
fn blame_in_chains(t: &Target, allows: &[&Evidence], weights: &mut Weights) -> Option<Blamed> {
    let mut best: Option<((bool, LayerKindKey, usize), Vec<Located>)> = None;
    for (ci, chain) in t.chains.iter().enumerate() {
        let mut found: Vec<Located> = Vec::new();
        for e in allows {
            for layer in &chain.layers {
                let kind = LayerKindKey::of(layer.kind);
                let hit = if let Some(holder) = e.name.strip_suffix(DEFAULT_ALLOW_SUFFIX) {
                    (holder == layer.resource).then_some((true, f64::MAX))
                } else {
                    layer.rules.iter().find(|r| r.name == e.name).map(|r| {
                        // By traffic set: shared by every target the group is attached to.
                        let w = *weights
                            .entry(std::sync::Arc::as_ptr(&r.traffic) as usize)
                            .or_insert_with(|| public_weight(r));
                        (r.synthetic, w)
                    })
                };
                if let Some((synthetic, weight)) = hit {
                    found.push(Located {
                        evidence: e,
                        kind,
                        holder: &layer.resource,
                        synthetic,
                        weight,
                    });
                    break;
                }
            }
        }
        if found.is_empty() {
            continue;
        }
        let max = found.iter().map(|l| l.weight).fold(0.0, f64::max);
        found.retain(|l| l.weight >= max * MINOR_SHARE);
        let all_defaults = found.iter().all(|l| l.synthetic);
        let rank = (all_defaults, found[0].kind, ci);
        if best.as_ref().is_none_or(|(r, _)| rank < *r) {
            best = Some((rank, found));
        }
    }
    let ((all_defaults, kind, _), found) = best?;
    let holder = Text::from(found[0].holder);
    if all_defaults {
        return Some(Blamed {
            kind: CauseKind::DefaultAllow(kind),
            holder,
            rules: found.iter().map(|l| l.evidence.as_written()).collect(),
        });
    }
    let mut rules: Vec<Evidence> = found
        .iter()
        .filter(|l| !l.synthetic)
        .map(|l| l.evidence.as_written())
        .collect();
    rules.sort_by(|a, b| a.name.cmp(&b.name));
    rules.dedup_by(|a, b| a.name == b.name);
    Some(Blamed {
        kind: CauseKind::Rules(kind),
        holder,
        rules,
    })
}

/// Without the target (a report read back): every allow rule in the evidence is blamed.
fn blame_from_evidence(f: &Finding, allows: &[&Evidence]) -> Blamed {
    if let Some(holder) = allows
        .iter()
        .find_map(|e| e.name.strip_suffix(DEFAULT_ALLOW_SUFFIX))
    {
        return Blamed {
            kind: CauseKind::DefaultAllow(LayerKindKey::Unknown),
            holder: Text::from(holder),
            rules: Vec::new(),
        };
    }
    let mut rules: Vec<Evidence> = allows.iter().map(|e| e.as_written()).collect();
    rules.sort_by(|a, b| a.name.cmp(&b.name));
    rules.dedup_by(|a, b| a.name == b.name);
    let (kind, holder) = guess_layer(f, &rules);
    Blamed {
        kind: CauseKind::Rules(kind),
        holder,
        rules,
    }
}

/// The layer and holder of rules known only by name, as the normalizers name them: AWS
/// `sg-… egress #N` and `acl-… rule N`, Azure `NSG/rule`, GCP rule names.
fn guess_layer(f: &Finding, rules: &[Evidence]) -> (LayerKindKey, Text) {
    let first = rules.first().map(|e| e.name.as_str()).unwrap_or("");
    let all = |prefix: &str| !rules.is_empty() && rules.iter().all(|e| e.name.starts_with(prefix));
    let token = Text::from(first.split(' ').next().unwrap_or(first));
    match f.provider.as_str() {
        "aws" if all("sg-") => (LayerKindKey::SecurityGroup, token),
        "aws" if all("acl-") => (LayerKindKey::NetworkAcl, token),
        "azure" => {
            let nsg = first.rsplit_once('/').map(|(n, _)| n).unwrap_or(first);
            let nsg = nsg.trim_end_matches("/securityRules");
            (LayerKindKey::Nsg, Text::from(nsg))
        }
        "gcp" => (LayerKindKey::VpcFirewall, f.resource_id.clone()),
        _ => (LayerKindKey::Unknown, f.resource_id.clone()),
    }
}

/// The number of public (protocol, port, address) points a rule matches, as a float.
fn public_weight(r: &Rule) -> f64 {
    r.traffic
        .restrict_addrs(public())
        .pieces()
        .map(|((p0, p1), (q0, q1), addrs)| {
            let addrs: f64 = addrs
                .ranges()
                .iter()
                .map(|(a, b)| (b - a) as f64 + 1.0)
                .sum();
            f64::from(p1 - p0 + 1) * f64::from(q1 - q0 + 1) * addrs
        })
        .sum()
}

impl Causes {
    /// Writes each finding's cause id into the report (`Finding.cause`), for JSON, SARIF and CSV.
    pub fn apply(&self, report: &mut Report) {
        for (i, f) in report.findings.iter_mut().enumerate() {
            // Shared with the cause: a reference count per finding, not a copy of the id.
            f.cause = self.of(i).map(|c| c.id.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Findings on a few resources whose causes recur across any split of the list.
    fn report() -> Report {
        let findings = (0..60)
            .map(|i| {
                let (sg, check) = (i % 7, ["EG001", "EG002", "EG013"][i % 3]);
                let severity = ["high", "low"][i % 2];
                serde_json::from_value(serde_json::json!({
                    "check_id": check, "slug": "s", "severity": severity,
                    "title": "t", "provider": "aws", "account": "1", "region": "r",
                    "resource_id": format!("eni-{}", i % 11), "resource_kind": "network-interface",
                    "message": "m", "fingerprint": "",
                    "evidence": [{"rule": format!("sg-{sg} egress #1"), "action": "allow",
                        "protocol": "all", "ports": "all", "destination": "0.0.0.0/0"}],
                }))
                .unwrap()
            })
            .collect();
        Report::new(findings, Vec::new(), Vec::new(), 11)
    }

    #[test]
    fn causes_do_not_depend_on_the_thread_count() {
        let report = report();
        let index = FxHashMap::default();
        let one = build::build_on(&report, &index, 1);
        assert_eq!(one.list.len(), 7, "one cause per group");
        let summary = |c: &Causes| {
            let list: Vec<_> = c
                .list
                .iter()
                .map(|c| {
                    let checks: Vec<_> = c.checks.iter().map(|t| t.to_string()).collect();
                    (
                        c.id.to_string(),
                        c.findings.clone(),
                        c.targets(&report),
                        c.target_count,
                        checks,
                        c.worst,
                    )
                })
                .collect();
            (list, c.of_finding.clone())
        };
        for threads in [2, 3, 4, 7] {
            let many = build::build_on(&report, &index, threads);
            assert_eq!(summary(&many), summary(&one), "{threads} threads");
        }
    }
}
