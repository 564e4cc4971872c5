//! Rule-level checks: a deny that never blocks (EG011) and a rule that decides nothing (EG012).
//!
//! A rule is judged in the context of a target's chain (GCP policies before VPC rules, the Azure
//! defaults after the user's rules). A rule shared by many targets (an NSG on many NICs) is reported
//! once, against the resource that holds it.

use super::query::finding;
use super::{CheckDef, Evaluated};
use crate::eval::{rule_evidence, RuleOutcome};
use crate::model::space::public;
use crate::model::{Action, Evidence, Finding, Layer, LayerKind, Rule, Target, Text, TrafficSet};
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::HashSet;

/// One rule in its chain (borrowed from the target, `'t`), with what it decided (`'e`).
#[derive(Clone, Copy)]
struct Entry<'t, 'e> {
    rule: &'t Rule,
    layer: &'t Layer,
    outcome: &'e RuleOutcome,
}

/// Every chain's rules in evaluation order (earlier layers first).
fn chains<'t, 'e>(ev: &'e Evaluated<'t>) -> Vec<Vec<Entry<'t, 'e>>> {
    ev.target
        .chains
        .iter()
        .zip(&ev.outcome.chains)
        .map(|(chain, co)| {
            chain
                .layers
                .iter()
                .zip(&co.layers)
                .flat_map(|(layer, lo)| {
                    layer
                        .rules
                        .iter()
                        .zip(&lo.rules)
                        .map(move |(rule, outcome)| Entry {
                            rule,
                            layer,
                            outcome,
                        })
                })
                .collect()
        })
        .collect()
}

fn kind_name(k: LayerKind) -> &'static str {
    match k {
        LayerKind::SecurityGroup => "security-group",
        LayerKind::NetworkAcl => "network-acl",
        LayerKind::Nsg => "nsg",
        LayerKind::VpcFirewall => "vpc-firewall",
        LayerKind::FirewallPolicy => "firewall-policy",
        LayerKind::Observed => "host",
        LayerKind::HostFirewall => "host-firewall",
        LayerKind::Custom => "custom",
    }
}

/// A rule-level finding, made when it is taken into the report's list: most verdicts are
/// merged and moved before they are final, and a finding is several times the size of this.
struct Pending<'a> {
    check: &'a CheckDef,
    /// The first target the verdict held for.
    target: &'a Target,
    rule: &'a Rule,
    kind: LayerKind,
    message: String,
    evidence: Vec<Evidence>,
}

impl Pending<'_> {
    fn finding(self) -> Finding {
        let mut f = finding(self.check, self.target, self.message);
        f.resource_id = self.rule.resource.clone();
        f.resource_kind = Text::constant(kind_name(self.kind));
        f.resource_name = None;
        f.rule = Some(self.rule.name.clone());
        f.evidence = self.evidence;
        super::finish(&mut f, self.check, self.target);
        f
    }
}

fn rule_finding<'a>(
    check: &'a CheckDef,
    ev: &Evaluated<'a>,
    w: &Entry<'a, '_>,
    message: String,
    evidence: Vec<Evidence>,
) -> Pending<'a> {
    // Held at their size while they wait: formatting left the message with room to grow.
    let mut pending = Pending {
        check,
        target: ev.target,
        rule: w.rule,
        kind: w.layer.kind,
        message,
        evidence,
    };
    super::held_exactly(&mut pending.message, &mut pending.evidence);
    pending
}

/// The earlier rules that decided part of `part`, as evidence, after the rule itself.
fn deciders(entries: &[Entry], k: usize, part: &TrafficSet) -> Vec<Evidence> {
    let mut ev = vec![rule_evidence(entries[k].rule, None)];
    for e in &entries[..k] {
        if e.outcome.decided.intersects(part) {
            ev.push(rule_evidence(
                e.rule,
                Some(&e.outcome.decided.intersect(part)),
            ));
        }
    }
    ev
}

fn judged(rule: &Rule) -> bool {
    !rule.synthetic && rule.unresolved.is_empty() && !rule.traffic.is_empty()
}

/// Verdicts on rules shared by many targets (an NSG on many NICs, a VPC rule on tagged and untagged
/// instances), each reported once against the resource that holds it. A shadowed deny is reported
/// when it is shadowed for any target; a rule is redundant only when it decides nothing for every
/// target it applies to (deleting it must change nothing anywhere).
#[derive(Default)]
pub struct RuleVerdicts<'a> {
    /// Rules whose condition held, with their pending finding, in the order first seen; `None`
    /// once the rule failed for a later target. Verdicts stay where they were put: the table
    /// below holds indices.
    verdicts: Vec<Option<Verdict<'a>>>,
    // Keyed by `rule_key` hashes already: a cheap hasher on top.
    held: FxHashMap<u64, usize>,
    /// Rules whose condition failed for some target (hashes: one per rule of every target, so
    /// kept small).
    failed: FxHashSet<u64>,
}

struct Verdict<'a> {
    key: u64,
    finding: Pending<'a>,
    kind: &'static str,
}

impl Verdict<'_> {
    /// The rule the verdict is on: its resource and name.
    fn rule(&self) -> (&Text, &Text) {
        (&self.finding.rule.resource, &self.finding.rule.name)
    }
}

fn rule_key(check: &CheckDef, rule: &Rule) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (&check.id, &rule.resource, &rule.name).hash(&mut h);
    h.finish()
}

impl<'a> RuleVerdicts<'a> {
    /// Room for `n` verdicts (those of later shares are merged in too).
    pub fn with_capacity(n: usize) -> Self {
        RuleVerdicts {
            verdicts: Vec::with_capacity(n),
            ..RuleVerdicts::default()
        }
    }

    fn holds(
        &mut self,
        check: &CheckDef,
        kind: &'static str,
        rule: &Rule,
        f: impl FnOnce() -> Pending<'a>,
    ) {
        let key = rule_key(check, rule);
        if self.failed.contains(&key) || self.held.contains_key(&key) {
            return;
        }
        self.insert(Verdict {
            key,
            finding: f(),
            kind,
        });
    }

    fn insert(&mut self, v: Verdict<'a>) {
        self.held.insert(v.key, self.verdicts.len());
        self.verdicts.push(Some(v));
    }

    fn fails(&mut self, check: &CheckDef, rule: &Rule) {
        let key = rule_key(check, rule);
        self.fail(key);
    }

    fn fail(&mut self, key: u64) {
        self.failed.insert(key);
        if let Some(at) = self.held.remove(&key) {
            self.verdicts[at] = None;
        }
    }

    /// Adds the verdicts of the next share of targets (in target order): a rule held if it held
    /// for some target and failed for none, with the finding of the first target it held for.
    pub fn merge(&mut self, later: RuleVerdicts<'a>) {
        for v in later.verdicts.into_iter().flatten() {
            if !self.failed.contains(&v.key) && !self.held.contains_key(&v.key) {
                self.insert(v);
            }
        }
        for key in later.failed {
            self.fail(key);
        }
    }

    /// The findings that held everywhere; a redundant rule that is also a shadowed deny is
    /// reported as shadowed only: how many, and each finding, made as it is taken (the verdicts
    /// are not gathered into a list of their own first).
    pub fn into_findings(self) -> (usize, impl Iterator<Item = Finding> + 'a) {
        let live = || self.verdicts.iter().flatten();
        let shadowed: HashSet<(&Text, &Text)> = live()
            .filter(|v| v.kind == SHADOWED)
            .map(Verdict::rule)
            .collect();
        let keep: Vec<bool> = self
            .verdicts
            .iter()
            .map(|v| {
                v.as_ref()
                    .is_some_and(|v| !(v.kind == REDUNDANT && shadowed.contains(&v.rule())))
            })
            .collect();
        drop(shadowed);
        let count = keep.iter().filter(|&&k| k).count();
        let findings = self
            .verdicts
            .into_iter()
            .zip(keep)
            .filter_map(|(v, keep)| v.filter(|_| keep))
            .map(|v| v.finding.finding());
        (count, findings)
    }
}

const SHADOWED: &str = "shadowed";
const REDUNDANT: &str = "redundant";

/// Whether a deny rule is shadowed in this chain: its public traffic was all decided before it,
/// and part of it was allowed.
fn is_shadowed(w: &Entry) -> bool {
    w.rule.action == Action::Deny
        && !w.layer.unordered
        && judged(w.rule)
        && w.outcome.public_shadowed
        && w.outcome.public_allowed_before
}

pub fn shadowed<'a>(check: &'a CheckDef, ev: &Evaluated<'a>, verdicts: &mut RuleVerdicts<'a>) {
    for entries in chains(ev) {
        for (k, w) in entries.iter().enumerate() {
            if w.rule.action != Action::Deny || w.layer.unordered || !judged(w.rule) {
                continue;
            }
            // A deny that never blocks for one target is reported (with that target named): the
            // block its author meant does not happen there, whatever it does for others.
            if !is_shadowed(w) {
                continue;
            }
            verdicts.holds(check, SHADOWED, w.rule, || {
                let public_part = w.rule.traffic.restrict_addrs(public());
                let evidence = deciders(&entries, k, &public_part);
                let msg = format!(
                    "deny rule {} never blocks: all of its public traffic ({}) is decided by earlier rules, and part of it is allowed{}",
                    w.rule.name,
                    crate::eval::describe_traffic(&public_part),
                    on_target(ev, w)
                );
                rule_finding(check, ev, w, msg, evidence)
            });
        }
    }
}

fn on_target(ev: &Evaluated, w: &Entry) -> String {
    if ev.target.resource_id == w.rule.resource {
        String::new()
    } else {
        format!(" (as seen for {})", ev.target.resource_id)
    }
}

pub fn redundant<'a>(check: &'a CheckDef, ev: &Evaluated<'a>, verdicts: &mut RuleVerdicts<'a>) {
    for entries in chains(ev) {
        let in_groups = redundant_in_groups(&entries);
        for (k, w) in entries.iter().enumerate() {
            if !judged(w.rule) {
                continue;
            }
            let holds = if w.layer.unordered {
                in_groups[k]
            } else {
                w.outcome.decided.is_empty()
            };
            if !holds {
                verdicts.fails(check, w.rule);
                continue;
            }
            verdicts.holds(check, REDUNDANT, w.rule, || {
                let (evidence, msg) = if w.layer.unordered {
                    (
                        group_cover(&entries, &in_groups, k),
                        format!(
                            "rule {} adds nothing: the other rules of {} already allow all of it",
                            w.rule.name, w.rule.resource
                        ),
                    )
                } else {
                    (
                        deciders(&entries, k, &w.rule.traffic),
                        format!(
                            "rule {} decides no traffic: everything it matches is decided by earlier rules{}",
                            w.rule.name,
                            on_target(ev, w)
                        ),
                    )
                };
                rule_finding(check, ev, w, msg, evidence)
            });
        }
    }
}

/// In a union of allows (security groups), a rule is redundant when the other allow rules of the
/// same group, not themselves redundant, cover it. Judged from the last rule up, so that of two
/// identical rules only the later one is reported, and removing every reported rule changes nothing:
/// rules before `k` are all still kept when `k` is judged.
fn redundant_in_groups(entries: &[Entry]) -> Vec<bool> {
    let mut redundant = vec![false; entries.len()];
    let mut groups: Vec<(*const Layer, &str)> = Vec::new();
    for e in entries.iter().filter(|e| e.layer.unordered) {
        let key = (e.layer as *const Layer, e.rule.resource.as_str());
        if !groups.contains(&key) {
            groups.push(key);
        }
    }
    for (layer, resource) in groups {
        let members: Vec<usize> = (0..entries.len())
            .filter(|&k| {
                std::ptr::eq(entries[k].layer, layer)
                    && entries[k].rule.resource == resource
                    && entries[k].rule.action == Action::Allow
            })
            .collect();
        // Only the members that overlap a rule can cover it: the union is built of those alone
        // (usually none or a few), not of the whole group for every rule.
        for (pos, &k) in members.iter().enumerate().rev() {
            let traffic = &entries[k].rule.traffic;
            if !judged(entries[k].rule) {
                continue;
            }
            let mut cover = TrafficSet::empty();
            for (other_pos, &j) in members.iter().enumerate() {
                // Earlier members are all kept when `k` is judged; later ones only if kept.
                let other = other_pos < pos || (other_pos > pos && !redundant[j]);
                if other && entries[j].rule.traffic.intersects(traffic) {
                    cover = cover.union(&entries[j].rule.traffic);
                }
            }
            redundant[k] = !cover.is_empty() && traffic.is_subset(&cover);
        }
    }
    redundant
}

/// The kept rules of the same group that cover rule `k`, as evidence.
fn group_cover(entries: &[Entry], redundant: &[bool], k: usize) -> Vec<Evidence> {
    let me = entries[k];
    let mut ev = vec![rule_evidence(me.rule, None)];
    for (j, e) in entries.iter().enumerate() {
        let same = std::ptr::eq(e.layer, me.layer) && e.rule.resource == me.rule.resource;
        if j != k && same && !redundant[j] && e.rule.action == Action::Allow {
            let d = e.rule.traffic.intersect(&me.rule.traffic);
            if d == *me.rule.traffic {
                // All of the rule: its own set, shared (described when the report is written).
                ev.push(Evidence::deciding(
                    e.rule.written.clone(),
                    me.rule.traffic.clone(),
                ));
            } else if !d.is_empty() {
                ev.push(rule_evidence(e.rule, Some(&d)));
            }
        }
    }
    ev
}
