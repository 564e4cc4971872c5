//! The rules a proposal removes and adds, as engine rules, so that the very rules that are
//! rendered are the ones the engine verifies.

use super::scope::{self, RuleScope};
use super::{Proposal, UnitKind};
use crate::model::space::{display_addrs, proto_name, public, public4, public6, ICMP, ICMPV6};
use crate::model::RuleText;
use crate::model::{
    Action, AddrSet, Layer, LayerKind, PortSet, ProtoSet, Rule, Target, TrafficSet,
};
use crate::normalize::Inventory;
use serde::Serialize;
use std::collections::BTreeSet;

/// Azure's highest user priority: the proposal's deny-internet rule sits there.
pub const AZURE_DENY_PRIORITY: i64 = 4096;
/// GCP: the proposal's allows, and its deny of public egress just above the implied rules.
pub const GCP_ALLOW_PRIORITY: i64 = 1000;
pub const GCP_DENY_PRIORITY: i64 = 65534;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Purpose {
    /// Observed public egress.
    Allow,
    /// The non-public part of a removed rule.
    Keep,
    /// Everything else to public addresses (NSG, GCP network).
    Deny,
}

/// One rule the proposal adds.
#[derive(Clone, Debug, Serialize)]
pub struct Planned {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
    pub purpose: Purpose,
    /// A single protocol, or None for all.
    pub protocol: Option<u8>,
    /// Port ranges (tcp/udp/sctp), ICMP type/code ranges on the port axis, or empty for all.
    pub ports: Vec<(u32, u32)>,
    pub destinations: Vec<String>,
    /// GCP: the instances it applies to (target tags or service accounts, or the whole network
    /// and why). None: wherever the security group or NSG is attached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<RuleScope>,
    #[serde(skip)]
    pub traffic: TrafficSet,
}

fn is_unit_layer(layer: &Layer, kind: UnitKind, resource: &str) -> bool {
    super::units_of_layer(layer)
        .iter()
        .any(|(k, r)| *k == kind && r == resource)
}

/// Whether the proposal replaces this rule: a user's allow with public traffic, held by the unit.
fn replaced(rule: &Rule, kind: UnitKind, resource: &str) -> bool {
    let mine = match kind {
        UnitKind::SecurityGroup | UnitKind::Nsg => rule.resource == resource,
        UnitKind::VpcNetwork => rule.resource == resource,
    };
    mine && rule.action == Action::Allow
        && !rule.synthetic
        && !rule.traffic.restrict_addrs(public()).is_empty()
}

/// The unit's allow rules with public traffic, once each.
pub fn removed_rules(
    inv: &Inventory,
    targets: &[usize],
    kind: UnitKind,
    resource: &str,
) -> Vec<Rule> {
    let mut out: Vec<Rule> = Vec::new();
    for &t in targets {
        for layer in inv.targets[t].chains.iter().flat_map(|c| &c.layers) {
            if !is_unit_layer(layer, kind, resource) {
                continue;
            }
            for r in layer.rules.iter().filter(|r| replaced(r, kind, resource)) {
                if !out.iter().any(|o| o.name == r.name) {
                    out.push(r.clone());
                }
            }
        }
    }
    out
}

/// The non-public part of the removed rules that target `t` holds, in the address families it can
/// send at all (an interface without IPv6 needs no IPv6 keep rules).
pub fn keep_of(
    inv: &Inventory,
    t: usize,
    kind: UnitKind,
    resource: &str,
    removed: &[Rule],
) -> TrafficSet {
    let target = &inv.targets[t];
    let held: BTreeSet<&str> = target
        .chains
        .iter()
        .flat_map(|c| &c.layers)
        .filter(|l| is_unit_layer(l, kind, resource))
        .flat_map(|l| &l.rules)
        .map(|r| r.name.as_str())
        .collect();
    let private = removed
        .iter()
        .filter(|r| held.contains(r.name.as_str()))
        .fold(TrafficSet::empty(), |acc, r| {
            acc.union(
                &r.traffic
                    .difference(&TrafficSet::rule(None, None, public())),
            )
        });
    match &target.address_limit {
        Some(limit) => private.restrict_addrs(limit),
        None => private,
    }
}

/// Splits `set` by who needs it: each part with the targets whose `need` it falls in. Targets
/// that need the same traffic share the part.
fn groups(
    set: &TrafficSet,
    targets: &[usize],
    need: impl Fn(usize) -> TrafficSet,
) -> Vec<(BTreeSet<usize>, TrafficSet)> {
    let mut out: Vec<(BTreeSet<usize>, TrafficSet)> = Vec::new();
    for &t in targets {
        let mine = need(t).intersect(set);
        if mine.is_empty() {
            continue;
        }
        let mut rest = mine.clone();
        let mut next = Vec::with_capacity(out.len() + 1);
        for (who, part) in out {
            let shared = part.intersect(&mine);
            if shared.is_empty() {
                next.push((who, part));
                continue;
            }
            let others = part.difference(&mine);
            if !others.is_empty() {
                next.push((who.clone(), others));
            }
            rest = rest.difference(&part);
            let mut both = who;
            both.insert(t);
            next.push((both, shared));
        }
        if !rest.is_empty() {
            next.push(([t].into_iter().collect(), rest));
        }
        out = next;
    }
    // Any part no target needs (none expected) still gets a rule, for the whole network.
    let covered = out
        .iter()
        .fold(TrafficSet::empty(), |acc, (_, p)| acc.union(p));
    let orphan = set.difference(&covered);
    if !orphan.is_empty() {
        out.push((BTreeSet::new(), orphan));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The keep set by the targets that held each removed rule: a kept part binds the instances its
/// rule bound. (Split into disjoint parts instead, an allow-all's private part would shatter into a
/// rule per protocol.)
fn keep_groups(
    p: &Proposal,
    inv: &Inventory,
    targets: &[usize],
) -> Vec<(BTreeSet<usize>, TrafficSet)> {
    let mut by_who: std::collections::BTreeMap<BTreeSet<usize>, TrafficSet> = Default::default();
    for r in &p.removed_rules {
        let mut who = BTreeSet::new();
        let mut part = TrafficSet::empty();
        for &t in targets {
            let mine = keep_of(inv, t, p.kind, &p.resource, std::slice::from_ref(r));
            if !mine.is_empty() {
                who.insert(t);
                part = part.union(&mine);
            }
        }
        if !who.is_empty() {
            let e = by_who.entry(who).or_insert_with(TrafficSet::empty);
            *e = e.union(&part);
        }
    }
    by_who.into_iter().collect()
}

/// The parts of a proposal's set, each with the scope of the rules that carry it.
fn scoped_parts(
    p: &Proposal,
    inv: &Inventory,
    targets: &[usize],
    purpose: Purpose,
    set: &TrafficSet,
) -> Vec<(Option<RuleScope>, TrafficSet)> {
    if p.kind != UnitKind::VpcNetwork {
        return vec![(None, set.clone())];
    }
    let parts = match purpose {
        // Widened per instance, as the allow set was built.
        Purpose::Allow => groups(set, targets, |t| {
            super::widen(&super::must_of(&p.allows_classes, t))
        }),
        _ => keep_groups(p, inv, targets),
    };
    parts
        .into_iter()
        .map(|(who, part)| {
            let sc = if who.is_empty() {
                RuleScope::network(
                    "no instance's observed traffic or kept rule falls in it alone".into(),
                )
            } else {
                scope::choose(inv, targets, &who)
            };
            (Some(sc), part)
        })
        .collect()
}

/// The highest priority of the NSG's user rules that stay.
fn kept_priority(inv: &Inventory, targets: &[usize], resource: &str) -> i64 {
    targets
        .iter()
        .flat_map(|&t| inv.targets[t].chains.iter().flat_map(|c| &c.layers))
        .filter(|l| is_unit_layer(l, UnitKind::Nsg, resource))
        .flat_map(|l| &l.rules)
        .filter(|r| !r.synthetic && !replaced(r, UnitKind::Nsg, resource))
        .filter_map(|r| r.priority)
        .max()
        .unwrap_or(99)
}

/// Splits a set into rules one protocol each, as the provider can write them.
/// One rule as a provider writes it: a protocol (None = all), port ranges, destinations.
type Piece = (Option<u8>, Vec<(u32, u32)>, AddrSet);

fn pieces(t: &TrafficSet, kind: UnitKind) -> Vec<Piece> {
    let mut out: Vec<Piece> = Vec::new();
    for ((plo, phi), (lo, hi), addrs) in t.pieces() {
        let protos: Vec<Option<u8>> = if plo == 0 && phi == 255 {
            vec![None]
        } else {
            (plo..=phi).map(|p| Some(p as u8)).collect()
        };
        for p in protos {
            let ported = matches!(p, Some(6 | 17 | 132));
            let icmp = matches!(p, Some(ICMP | ICMPV6));
            // NSG and GCP rules cannot name ICMP types: such a rule allows every type.
            let whole = (lo == 0 && hi == 65535) || !(ported || icmp);
            let ports = if whole || (icmp && kind != UnitKind::SecurityGroup) {
                Vec::new()
            } else {
                vec![(lo, hi)]
            };
            // Merge the ports of a protocol that go to the same destinations (NSG and GCP list
            // several ports in one rule; a security-group permission has one range).
            let merge = kind != UnitKind::SecurityGroup && ported;
            match out
                .iter_mut()
                .find(|(q, ps, a)| merge && *q == p && a == addrs && !ps.is_empty())
            {
                Some(e) => e.1.extend(ports),
                None => out.push((p, ports, addrs.clone())),
            }
        }
    }
    out
}

fn planned_traffic(p: Option<u8>, ports: &[(u32, u32)], addrs: &AddrSet) -> TrafficSet {
    match p {
        // An ICMP rule without types: every type (Azure's `Icmp` is v4 and v6 alike).
        Some(ICMP | ICMPV6) if ports.is_empty() => TrafficSet::rule(p, None, addrs),
        Some(x) if !ports.is_empty() => TrafficSet::product(
            &ProtoSet::single(u32::from(x)),
            &PortSet::from_ranges(ports.to_vec()),
            addrs,
        ),
        _ => TrafficSet::rule(p, None, addrs),
    }
}

/// The rules a proposal adds, named and numbered as they will be rendered.
pub fn plan(p: &Proposal, inv: &Inventory, targets: &[usize]) -> Vec<Planned> {
    let short = p
        .resource
        .rsplit('/')
        .next()
        .unwrap_or(&p.resource)
        .to_string();
    let mut out = Vec::new();
    let mut next_priority = kept_priority(inv, targets, &p.resource).max(99) + 1;
    let parts = [(Purpose::Allow, &p.allow_set), (Purpose::Keep, &p.keep_set)]
        .into_iter()
        .flat_map(|(purpose, set)| {
            scoped_parts(p, inv, targets, purpose, set)
                .into_iter()
                .map(move |(sc, part)| (purpose, sc, part))
        });
    for (purpose, sc, part) in parts {
        for (proto, ports, addrs) in pieces(&part, p.kind) {
            let n = out.len() + 1;
            let (name, priority) = match p.kind {
                UnitKind::SecurityGroup => (format!("{} proposed #{n}", p.resource), None),
                UnitKind::Nsg => {
                    let pr = next_priority;
                    next_priority += 1;
                    (
                        format!("{short}/ea-{}-{n}", purpose_word(purpose)),
                        Some(pr),
                    )
                }
                UnitKind::VpcNetwork => (
                    gcp_name(&format!("ea-{short}-{}-{n}", purpose_word(purpose))),
                    Some(GCP_ALLOW_PRIORITY),
                ),
            };
            out.push(Planned {
                name,
                priority,
                purpose,
                protocol: proto,
                traffic: planned_traffic(proto, &ports, &addrs),
                ports,
                destinations: display_addrs(&addrs),
                scope: sc.clone(),
            });
        }
    }
    match p.kind {
        UnitKind::SecurityGroup => {}
        UnitKind::Nsg => out.push(deny(
            format!("{short}/ea-deny-internet"),
            AZURE_DENY_PRIORITY,
            public(),
            vec!["Internet".into()],
        )),
        UnitKind::VpcNetwork => {
            for (fam, suffix) in [(public4(), "v4"), (public6(), "v6")] {
                let mut d = deny(
                    gcp_name(&format!("ea-{short}-deny-public-{suffix}")),
                    GCP_DENY_PRIORITY,
                    fam,
                    display_addrs(fam),
                );
                d.scope = Some(RuleScope::network(
                    "the default deny of public egress the proposal moves the network to".into(),
                ));
                out.push(d);
            }
        }
    }
    out
}

fn deny(name: String, priority: i64, addrs: &AddrSet, dests: Vec<String>) -> Planned {
    Planned {
        name,
        priority: Some(priority),
        purpose: Purpose::Deny,
        protocol: None,
        ports: Vec::new(),
        destinations: dests,
        scope: None,
        traffic: TrafficSet::rule(None, None, addrs),
    }
}

fn purpose_word(p: Purpose) -> &'static str {
    match p {
        Purpose::Allow => "allow",
        Purpose::Keep => "keep",
        Purpose::Deny => "deny",
    }
}

/// GCP names: lower case letters, digits and dashes, at most 63 characters, starting with a letter.
pub fn gcp_name(s: &str) -> String {
    let mut n: String = s
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    n.truncate(63);
    n.trim_end_matches('-').to_string()
}

fn as_rule(p: &Planned, resource: &str) -> Rule {
    Rule {
        written: RuleText::new(
            p.name.as_str().into(),
            if p.purpose == Purpose::Deny {
                Action::Deny
            } else {
                Action::Allow
            },
            p.priority,
            p.protocol
                .map_or("all".into(), |x| proto_name(u32::from(x)).into()),
            if p.ports.is_empty() {
                "all".into()
            } else {
                PortSet::from_ranges(p.ports.clone()).display_ports().into()
            },
            p.destinations.join(", ").into(),
        ),
        resource: resource.to_string().into(),
        action: if p.purpose == Purpose::Deny {
            Action::Deny
        } else {
            Action::Allow
        },
        traffic: p.traffic.clone().into(),
        unresolved: Vec::new(),
        synthetic: false,
    }
}

/// Applies a proposal to a target's layers: its replaced rules out, its planned rules in.
pub fn apply(target: &mut Target, p: &Proposal) {
    // A GCP rule with target tags or service accounts binds only the instances they select.
    let rules: Vec<Rule> = p
        .planned
        .iter()
        .filter(|pl| pl.scope.as_ref().is_none_or(|s| s.applies_to(target)))
        .map(|pl| as_rule(pl, &p.resource))
        .collect();
    for layer in target.chains.iter_mut().flat_map(|c| c.layers.iter_mut()) {
        if !is_unit_layer(layer, p.kind, &p.resource) {
            continue;
        }
        // The implied-rules layer of a GCP network takes nothing: the VPC layer does.
        if layer.kind == LayerKind::VpcFirewall && layer.resource.ends_with(" (implied rules)") {
            continue;
        }
        // The layer's rules may be shared with other targets: this one gets a changed copy.
        let mut changed: Vec<Rule> = layer
            .rules
            .iter()
            .filter(|r| !replaced(r, p.kind, &p.resource))
            .cloned()
            .collect();
        changed.extend(rules.iter().cloned());
        if !layer.unordered {
            // Ordered layers: by priority, a deny before an allow of equal priority (GCP); the
            // provider defaults (synthetic, 65000+) keep their place after the user's rules.
            changed.sort_by_key(|r| (r.priority.unwrap_or(i64::MAX), r.action != Action::Deny));
        }
        layer.rules = changed.into();
    }
}
