//! Rule-level checks: a deny that never blocks (EG011) and a rule that decides nothing (EG012).
//!
//! A rule is judged in the context of a target's chain (GCP policies before VPC rules, the Azure
//! defaults after the user's rules). A rule shared by many targets (an NSG on many NICs) is reported
//! once, against the resource that holds it.

use super::query::finding;
use super::{CheckDef, Evaluated};
use crate::eval::{rule_evidence, RuleOutcome};
use crate::model::space::public;
use crate::model::{Action, Evidence, Finding, Layer, LayerKind, Rule, TrafficSet};
use std::collections::HashSet;

/// Walks every rule of every chain with what was decided before it.
struct Walk<'a> {
    rule: &'a Rule,
    layer: &'a Layer,
    outcome: &'a RuleOutcome,
    /// Rules earlier in the chain (earlier layers, then earlier in this layer) with their outcomes.
    before: Vec<(&'a Rule, &'a RuleOutcome)>,
}

fn walk<'a>(ev: &'a Evaluated) -> Vec<Walk<'a>> {
    let mut out = Vec::new();
    for (chain, co) in ev.target.chains.iter().zip(&ev.outcome.chains) {
        let mut before: Vec<(&Rule, &RuleOutcome)> = Vec::new();
        for (layer, lo) in chain.layers.iter().zip(&co.layers) {
            for (rule, ro) in layer.rules.iter().zip(&lo.rules) {
                out.push(Walk {
                    rule,
                    layer,
                    outcome: ro,
                    before: before.clone(),
                });
                before.push((rule, ro));
            }
        }
    }
    out
}

fn kind_name(k: LayerKind) -> &'static str {
    match k {
        LayerKind::SecurityGroup => "security-group",
        LayerKind::NetworkAcl => "network-acl",
        LayerKind::Nsg => "nsg",
        LayerKind::VpcFirewall => "vpc-firewall",
        LayerKind::FirewallPolicy => "firewall-policy",
        LayerKind::Observed => "host",
        LayerKind::Custom => "custom",
    }
}

fn rule_finding(
    check: &CheckDef,
    ev: &Evaluated,
    w: &Walk,
    message: String,
    evidence: Vec<Evidence>,
) -> Finding {
    let mut f = finding(check, ev.target, message);
    f.resource_id = w.rule.resource.clone();
    f.resource_kind = kind_name(w.layer.kind).to_string();
    f.resource_name = None;
    f.rule = Some(w.rule.name.clone());
    f.evidence = evidence;
    f
}

/// The earlier rules that decided part of `part`, as evidence, after the rule itself.
fn deciders(w: &Walk, part: &TrafficSet) -> Vec<Evidence> {
    let mut ev = vec![rule_evidence(w.rule, None)];
    for (r, ro) in &w.before {
        let d = ro.decided.intersect(part);
        if !d.is_empty() {
            ev.push(rule_evidence(r, Some(&d)));
        }
    }
    ev
}

fn judged(rule: &Rule) -> bool {
    !rule.synthetic && rule.unresolved.is_empty() && !rule.traffic.is_empty()
}

fn first_time(seen: &mut HashSet<String>, check: &CheckDef, rule: &Rule) -> bool {
    seen.insert(format!("{}|{}|{}", check.id, rule.resource, rule.name))
}

/// Whether a deny rule is shadowed in this chain: its public traffic was all decided before it,
/// and part of it was allowed.
fn is_shadowed(w: &Walk) -> bool {
    w.rule.action == Action::Deny
        && !w.layer.unordered
        && judged(w.rule)
        && w.outcome.public_shadowed
        && w.outcome.public_allowed_before
}

pub fn shadowed(check: &CheckDef, ev: &Evaluated, seen: &mut HashSet<String>) -> Vec<Finding> {
    let mut out = Vec::new();
    for w in walk(ev) {
        if !is_shadowed(&w) || !first_time(seen, check, w.rule) {
            continue;
        }
        let public_part = w.rule.traffic.restrict_addrs(public());
        let evidence = deciders(&w, &public_part);
        let msg = format!(
            "deny rule {} never blocks: all of its public traffic ({}) is decided by earlier rules, and part of it is allowed{}",
            w.rule.name,
            crate::eval::describe_traffic(&public_part),
            on_target(ev, &w)
        );
        out.push(rule_finding(check, ev, &w, msg, evidence));
    }
    out
}

fn on_target(ev: &Evaluated, w: &Walk) -> String {
    if ev.target.resource_id == w.rule.resource {
        String::new()
    } else {
        format!(" (as seen for {})", ev.target.resource_id)
    }
}

pub fn redundant(check: &CheckDef, ev: &Evaluated, seen: &mut HashSet<String>) -> Vec<Finding> {
    let mut out = Vec::new();
    let walks = walk(ev);
    for (i, w) in walks.iter().enumerate() {
        if !judged(w.rule) || is_shadowed(w) {
            continue;
        }
        let evidence = if w.layer.unordered {
            match covered_in_group(&walks, i) {
                Some(ev) => ev,
                None => continue,
            }
        } else {
            if !w.outcome.decided.is_empty() {
                continue;
            }
            deciders(w, &w.rule.traffic)
        };
        if !first_time(seen, check, w.rule) {
            continue;
        }
        let msg = if w.layer.unordered {
            format!(
                "rule {} adds nothing: the other rules of {} already allow all of it",
                w.rule.name, w.rule.resource
            )
        } else {
            format!(
                "rule {} decides no traffic: everything it matches is decided by earlier rules{}",
                w.rule.name,
                on_target(ev, w)
            )
        };
        out.push(rule_finding(check, ev, w, msg, evidence));
    }
    out
}

/// In a union of allows (security groups), rule `i` is redundant when the other allow rules of the
/// same group, not themselves redundant, cover it. Judged from the last rule up, so that of two identical
/// rules only the later one is reported, and removing every reported rule changes nothing.
fn covered_in_group(walks: &[Walk], i: usize) -> Option<Vec<Evidence>> {
    let me = &walks[i];
    if me.rule.action != Action::Allow {
        return None;
    }
    let same_group = |w: &Walk| {
        std::ptr::eq(w.layer, me.layer)
            && w.rule.resource == me.rule.resource
            && w.rule.action == Action::Allow
    };
    let group: Vec<usize> = (0..walks.len())
        .filter(|&j| same_group(&walks[j]))
        .collect();
    let mut dropped: Vec<usize> = Vec::new();
    // Later rules are judged first, so of two identical rules the later one is the redundant one.
    for &j in group.iter().rev() {
        let others = group
            .iter()
            .filter(|&&k| k != j && !dropped.contains(&k))
            .fold(TrafficSet::empty(), |acc, &k| {
                acc.union(&walks[k].rule.traffic)
            });
        if judged(walks[j].rule) && walks[j].rule.traffic.is_subset(&others) {
            dropped.push(j);
        }
        if j == i {
            break;
        }
    }
    if !dropped.contains(&i) {
        return None;
    }
    let mut ev = vec![rule_evidence(me.rule, None)];
    for &k in &group {
        if k != i && !dropped.contains(&k) {
            let d = walks[k].rule.traffic.intersect(&me.rule.traffic);
            if !d.is_empty() {
                ev.push(rule_evidence(walks[k].rule, Some(&d)));
            }
        }
    }
    Some(ev)
}
