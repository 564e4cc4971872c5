//! Effective egress: evaluates a target's chains into the exact set of packets it may send, and
//! remembers which rule decided which part, for evidence and for the rule-level checks.

use crate::model::space::{describe_addrs, proto_name, public};
use crate::model::RuleText;
use crate::model::{Action, Chain, Evidence, Layer, Rule, Target, Text, TrafficSet};
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::rc::Rc;
use std::sync::Arc;

/// What one rule decided in its chain, given everything before it.
#[derive(Clone, Debug)]
pub struct RuleOutcome {
    /// The packets this rule decided (matched and not decided earlier). Often all of the
    /// rule's traffic: then it is the rule's own set, shared, not a copy per target.
    pub decided: Arc<TrafficSet>,
    /// For deny rules in ordered layers: its public traffic was all decided before it.
    pub public_shadowed: bool,
    /// For deny rules: part of its public traffic was already allowed before it.
    pub public_allowed_before: bool,
}

#[derive(Clone, Debug)]
pub struct LayerOutcome {
    pub rules: Vec<RuleOutcome>,
    /// Traffic that fell to `no_match`.
    pub fallthrough: TrafficSet,
}

#[derive(Clone, Debug)]
pub struct ChainOutcome {
    pub allowed: TrafficSet,
    pub layers: Vec<LayerOutcome>,
}

#[derive(Clone, Debug)]
pub struct TargetOutcome {
    /// Everything the target may send (the intersection of its chains).
    pub allowed: TrafficSet,
    /// Shared: targets with the same chain share its outcome.
    pub chains: Vec<Rc<ChainOutcome>>,
}

/// Evaluates one chain: each layer sees what the layers before it passed on.
pub fn eval_chain(chain: &Chain) -> ChainOutcome {
    let mut input = TrafficSet::everything();
    let mut allowed = TrafficSet::empty();
    let mut layers = Vec::with_capacity(chain.layers.len());
    for layer in &chain.layers {
        let (outcome, passed) = eval_layer(layer, &input, &mut allowed);
        layers.push(outcome);
        // Later layers still run on an empty input, so that every rule has an outcome (a VPC
        // rule fully overridden by a hierarchical policy decides nothing: EG012).
        input = passed;
    }
    // Traffic that passed beyond the last layer has no one to allow it.
    ChainOutcome { allowed, layers }
}

/// Evaluates a layer on `input`, adding what it allows to `allowed`; returns what it passes on.
fn eval_layer(
    layer: &Layer,
    input: &TrafficSet,
    allowed: &mut TrafficSet,
) -> (LayerOutcome, TrafficSet) {
    if layer.unordered {
        return eval_unordered(layer, input, allowed);
    }
    let mut remaining = input.clone();
    let mut passed = TrafficSet::empty();
    let mut rules = Vec::with_capacity(layer.rules.len());
    for rule in &layer.rules {
        let decided = Arc::new(rule.traffic.intersect(&remaining));
        // Only a deny can be shadowed (EG011); skip the set work for the rest.
        let (public_shadowed, public_allowed_before) = if rule.action == Action::Deny {
            let rule_pub = rule.traffic.restrict_addrs(public());
            (
                !rule_pub.is_empty() && !rule_pub.intersects(&remaining),
                rule_pub.intersects(allowed),
            )
        } else {
            (false, false)
        };
        if !decided.is_empty() {
            match rule.action {
                Action::Allow => *allowed = allowed.union(&decided),
                Action::Deny => {}
                Action::Next => passed = passed.union(&decided),
            }
            remaining = remaining.difference(&decided);
        }
        rules.push(RuleOutcome {
            decided,
            public_shadowed,
            public_allowed_before,
        });
    }
    match layer.no_match {
        Action::Allow => *allowed = allowed.union(&remaining),
        Action::Deny => {}
        Action::Next => passed = passed.union(&remaining),
    }
    (
        LayerOutcome {
            rules,
            fallthrough: remaining,
        },
        passed,
    )
}

/// The part of `rule`'s traffic in `input`: the rule's own (shared) set when it all is (a
/// security group's rules on the whole input).
fn decided_part(rule: &Rule, input: &TrafficSet) -> Arc<TrafficSet> {
    if rule.traffic.is_subset(input) {
        rule.traffic.clone()
    } else {
        Arc::new(rule.traffic.intersect(input))
    }
}

/// A security-group style layer: the union of its allow rules; no order, nothing shadows.
fn eval_unordered(
    layer: &Layer,
    input: &TrafficSet,
    allowed: &mut TrafficSet,
) -> (LayerOutcome, TrafficSet) {
    let mut union = TrafficSet::empty();
    let mut passed = TrafficSet::empty();
    let mut denied = TrafficSet::empty();
    for rule in &layer.rules {
        match rule.action {
            Action::Allow => union = union.union(&rule.traffic),
            Action::Deny => denied = denied.union(&rule.traffic),
            Action::Next => passed = passed.union(&rule.traffic),
        }
    }
    let layer_allowed = union.difference(&denied).intersect(input);
    *allowed = allowed.union(&layer_allowed);
    let rules = layer
        .rules
        .iter()
        .map(|r| RuleOutcome {
            decided: decided_part(r, input),
            public_shadowed: false,
            public_allowed_before: false,
        })
        .collect();
    let fallthrough = input
        .difference(&union)
        .difference(&denied)
        .difference(&passed);
    let mut passed = passed.intersect(input).difference(&union);
    match layer.no_match {
        Action::Allow => *allowed = allowed.union(&fallthrough),
        Action::Deny => {}
        Action::Next => passed = passed.union(&fallthrough),
    }
    (LayerOutcome { rules, fallthrough }, passed)
}

pub fn eval_target(target: &Target) -> TargetOutcome {
    let chains = target.chains.iter().map(|c| Rc::new(eval_chain(c)));
    combine(target, chains.collect())
}

/// Remembers chain outcomes: thousands of ENIs and NICs share the same few groups, ACLs and NSGs,
/// so each distinct chain is evaluated once.
#[derive(Default)]
pub struct EvalCache<'a> {
    chains: HashMap<u64, Vec<(&'a Chain, Rc<ChainOutcome>)>>,
    seen: HashSet<u64>,
}

impl<'a> EvalCache<'a> {
    pub fn eval_target(&mut self, target: &'a Target) -> TargetOutcome {
        let chains = target.chains.iter().map(|c| self.eval_chain(c)).collect();
        combine(target, chains)
    }

    fn eval_chain(&mut self, chain: &'a Chain) -> Rc<ChainOutcome> {
        let key = chain_key(chain);
        let bucket = self.chains.entry(key).or_default();
        if let Some((_, outcome)) = bucket.iter().find(|(c, _)| *c == chain) {
            return outcome.clone();
        }
        let outcome = Rc::new(eval_chain(chain));
        // Keep an outcome only once its chain has shown up twice: a scan of all-different chains
        // then costs no memory, and shared ones are evaluated at most twice.
        if !self.seen.insert(key) {
            bucket.push((chain, outcome.clone()));
        }
        outcome
    }
}

fn chain_key(chain: &Chain) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for layer in &chain.layers {
        (layer.kind, &layer.resource, layer.no_match, layer.unordered).hash(&mut h);
        for rule in &layer.rules {
            (&rule.name, rule.action).hash(&mut h);
            for (protos, ports, addrs) in rule.traffic.pieces() {
                (protos, ports, addrs.ranges()).hash(&mut h);
            }
        }
    }
    h.finish()
}

fn combine(target: &Target, chains: Vec<Rc<ChainOutcome>>) -> TargetOutcome {
    // A target with no chain has no filter at all (an Azure NIC whose NIC and subnet have no NSG).
    let allowed = match chains.split_first() {
        None => TrafficSet::everything(),
        Some((first, rest)) => rest
            .iter()
            .fold(first.allowed.clone(), |acc, c| acc.intersect(&c.allowed)),
    };
    let allowed = match &target.address_limit {
        Some(limit) => allowed.restrict_addrs(limit),
        None => allowed,
    };
    TargetOutcome { allowed, chains }
}

/// The allow rules, in every chain, that let part of `witness` through.
pub fn evidence(target: &Target, outcome: &TargetOutcome, witness: &TrafficSet) -> Vec<Evidence> {
    let passing = witness.intersect(&outcome.allowed);
    let mut out = Vec::new();
    if target.chains.is_empty() && !passing.is_empty() {
        // Nothing filters this target (an Azure NIC with no NSG on it or its subnet): say so, so
        // that the finding still names what decided it.
        out.push(Evidence::new(
            RuleText::other(
                format!(
                    "{} (no filter: no security group, NSG or firewall applies)",
                    target.resource_id
                ),
                "allow",
                Text::constant("all"),
            ),
            Some(describe_traffic(&passing)),
        ));
    }
    // What passes, described once: a rule that decides all of it (an allow-all rule) has it as
    // its part, and such rules are the ones behind most findings.
    let mut whole: Option<String> = None;
    for (chain, co) in target.chains.iter().zip(&outcome.chains) {
        for (layer, lo) in chain.layers.iter().zip(&co.layers) {
            for (rule, ro) in layer.rules.iter().zip(&lo.rules) {
                if rule.action != Action::Allow {
                    continue;
                }
                if !passing.is_empty() && passing.is_subset(&ro.decided) {
                    let part = whole.get_or_insert_with(|| describe_traffic(&passing));
                    out.push(Evidence::new(rule.written.clone(), Some(part.clone())));
                // Most rules have no part in a check's traffic: tell without building the part.
                } else if ro.decided.intersects(&passing) {
                    out.push(rule_evidence(rule, Some(&ro.decided.intersect(&passing))));
                }
            }
            if layer.no_match == Action::Allow && lo.fallthrough.intersects(&passing) {
                out.push(Evidence::new(
                    RuleText::other(
                        format!("{} (no rule matched: default allow)", layer.resource),
                        "allow",
                        Text::constant("all"),
                    ),
                    Some(describe_traffic(&lo.fallthrough.intersect(&passing))),
                ));
            }
        }
    }
    out
}

pub fn rule_evidence(rule: &Rule, part: Option<&TrafficSet>) -> Evidence {
    // The rule's text is shared, not copied: a large estate has millions of evidence entries.
    Evidence::new(rule.written.clone(), part.map(describe_traffic))
}

/// Short form of a traffic set for evidence: `tcp/445 to 0.0.0.0/0; udp/53 to 8.8.8.8/32`.
/// Written into one string: millions of evidence entries have one.
pub fn describe_traffic(t: &TrafficSet) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for (n, ((plo, phi), (lo, hi), addrs)) in t.pieces().enumerate() {
        if n > 0 {
            out.push_str("; ");
        }
        if plo == 0 && phi == 255 {
            out.push_str("all");
        } else if plo == phi {
            out.push_str(&proto_name(plo));
        } else {
            let _ = write!(out, "protocols {plo}-{phi}");
        }
        let ported = plo == phi && [6, 17, 132, 1, 58].contains(&plo);
        let icmp = plo == phi && (plo == 1 || plo == 58);
        if !ported || (lo == 0 && hi == 65535) {
            // every port
        } else if icmp {
            // The port axis of icmp holds `type * 256 + code`.
            let (t0, t1) = (lo / 256, hi / 256);
            let _ = if lo % 256 == 0 && hi % 256 == 255 {
                if t0 == t1 {
                    write!(out, " type {t0}")
                } else {
                    write!(out, " types {t0}-{t1}")
                }
            } else if lo == hi {
                write!(out, " type {t0} code {}", lo % 256)
            } else {
                write!(out, " type/code {t0}:{}-{t1}:{}", lo % 256, hi % 256)
            };
        } else if lo == hi {
            let _ = write!(out, "/{lo}");
        } else {
            let _ = write!(out, "/{lo}-{hi}");
        }
        out.push_str(" to ");
        out.push_str(&describe_addrs(addrs));
        // At most six parts, and then the mark (even when there were just six).
        if n == 5 {
            out.push_str("; …");
            break;
        }
    }
    out
}
