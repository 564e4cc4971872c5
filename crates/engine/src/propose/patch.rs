//! The rules a proposal removes and adds, as engine rules, so that the very rules that are
//! rendered are the ones the engine verifies.

use super::{Proposal, UnitKind};
use crate::model::space::{display_addrs, proto_name, public, public4, public6, ICMP, ICMPV6};
use crate::model::{
    Action, AddrSet, Layer, LayerKind, PortSet, ProtoSet, Rule, Target, TrafficSet,
};
use crate::normalize::Inventory;
use serde::Serialize;

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
    for (purpose, set) in [(Purpose::Allow, &p.allow_set), (Purpose::Keep, &p.keep_set)] {
        for (proto, ports, addrs) in pieces(set, p.kind) {
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
                out.push(deny(
                    gcp_name(&format!("ea-{short}-deny-public-{suffix}")),
                    GCP_DENY_PRIORITY,
                    fam,
                    display_addrs(fam),
                ));
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
        name: p.name.clone(),
        resource: resource.to_string(),
        priority: p.priority,
        action: if p.purpose == Purpose::Deny {
            Action::Deny
        } else {
            Action::Allow
        },
        traffic: p.traffic.clone(),
        protocol: p
            .protocol
            .map_or("all".into(), |x| proto_name(u32::from(x))),
        ports: if p.ports.is_empty() {
            "all".into()
        } else {
            PortSet::from_ranges(p.ports.clone()).display_ports()
        },
        destination: p.destinations.join(", "),
        unresolved: Vec::new(),
        synthetic: false,
    }
}

/// Applies a proposal to a target's layers: its replaced rules out, its planned rules in.
pub fn apply(target: &mut Target, p: &Proposal) {
    for layer in target.chains.iter_mut().flat_map(|c| c.layers.iter_mut()) {
        if !is_unit_layer(layer, p.kind, &p.resource) {
            continue;
        }
        // The implied-rules layer of a GCP network takes nothing: the VPC layer does.
        if layer.kind == LayerKind::VpcFirewall && layer.resource.ends_with(" (implied rules)") {
            continue;
        }
        layer.rules.retain(|r| !replaced(r, p.kind, &p.resource));
        layer
            .rules
            .extend(p.planned.iter().map(|pl| as_rule(pl, &p.resource)));
        if !layer.unordered {
            // Ordered layers: by priority, a deny before an allow of equal priority (GCP); the
            // provider defaults (synthetic, 65000+) keep their place after the user's rules.
            layer
                .rules
                .sort_by_key(|r| (r.priority.unwrap_or(i64::MAX), r.action != Action::Deny));
        }
    }
}
