//! Attribution (CHECKS.md §5): a flow record → the target it left from (by interface id, instance
//! id or private address) → the rules that decide it, per the engine.

use crate::model::space::{addr, ICMP, ICMPV6};
use crate::model::{Action, Chain, Rule, Target};
use egress_audit_flows::FlowKey;
use std::collections::HashMap;
use std::net::IpAddr;

/// One packet of the traffic space: what a flow key is to the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Point {
    pub proto: u8,
    /// The port axis: the destination port for tcp/udp/sctp, `type * 256` for icmp and icmpv6 (the
    /// logs carry the type at most, never the code), 0 for protocols without ports.
    pub port: u32,
    pub addr: u128,
}

impl Point {
    pub fn of(key: &FlowKey) -> Point {
        let port = match key.protocol {
            ICMP | ICMPV6 => u32::from(key.dst_port.min(255)) * 256,
            _ => u32::from(key.dst_port),
        };
        Point {
            proto: key.protocol,
            port,
            addr: addr(key.dst),
        }
    }
}

/// A rule by its place in a target: chain, layer, rule.
pub type RulePos = (usize, usize, usize);

/// What the engine says of one point for one target.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Decision {
    /// Every chain allows it (and the target can send to the address at all).
    pub allowed: bool,
    /// The rules that allowed it: every permission of a security group that matches it, the first
    /// (deciding) allow of each ordered layer.
    pub allows: Vec<RulePos>,
    /// The rule that denied it, when a rule (not a layer's default) did.
    pub denied_by: Option<RulePos>,
}

impl Decision {
    /// The rules that decided the point, allows first.
    pub fn deciding(&self) -> impl Iterator<Item = RulePos> + '_ {
        self.allows.iter().copied().chain(self.denied_by)
    }
}

pub fn rule_at(target: &Target, (c, l, r): RulePos) -> &Rule {
    &target.chains[c].layers[l].rules[r]
}

/// The engine's decision on `p`, walking each chain layer by layer exactly as `eval` does for
/// sets (a point passes a layer, is decided by its first matching rule, or falls to `no_match`).
pub fn decide(target: &Target, p: Point) -> Decision {
    let mut d = Decision {
        allowed: true,
        ..Default::default()
    };
    for (ci, chain) in target.chains.iter().enumerate() {
        if !decide_chain(ci, chain, p, &mut d) {
            d.allowed = false;
        }
    }
    if let Some(limit) = &target.address_limit {
        d.allowed &= limit.contains(p.addr);
    }
    d
}

fn decide_chain(ci: usize, chain: &Chain, p: Point, d: &mut Decision) -> bool {
    let matches = |r: &Rule| r.traffic.contains(p.proto, p.port, p.addr);
    for (li, layer) in chain.layers.iter().enumerate() {
        let verdict = if layer.unordered {
            // A union of allows, minus denies (eval_unordered): every matching allow counts.
            let allows: Vec<usize> = (0..layer.rules.len())
                .filter(|&i| layer.rules[i].action == Action::Allow && matches(&layer.rules[i]))
                .collect();
            let deny = (0..layer.rules.len())
                .find(|&i| layer.rules[i].action == Action::Deny && matches(&layer.rules[i]));
            let next = layer
                .rules
                .iter()
                .any(|r| r.action == Action::Next && matches(r));
            match (deny, allows.is_empty()) {
                (Some(i), _) => Some((Action::Deny, vec![i])),
                (None, false) => Some((Action::Allow, allows)),
                (None, true) if next => Some((Action::Next, Vec::new())),
                (None, true) => None,
            }
        } else {
            layer
                .rules
                .iter()
                .position(&matches)
                .map(|i| (layer.rules[i].action, vec![i]))
        };
        match verdict {
            Some((Action::Allow, rules)) => {
                d.allows.extend(rules.into_iter().map(|r| (ci, li, r)));
                return true;
            }
            Some((Action::Deny, rules)) => {
                d.denied_by = d.denied_by.or(Some((ci, li, rules[0])));
                return false;
            }
            // goto_next hands the point on: it decides nothing.
            Some((Action::Next, _)) => continue,
            None => match layer.no_match {
                Action::Allow => return true,
                Action::Deny => return false,
                Action::Next => continue,
            },
        }
    }
    // Traffic passed beyond the last layer has no one to allow it.
    false
}

/// Finds targets by what flow logs name: interface id first, then instance id, then address.
/// Ids compare without regard to ASCII case (Azure resource ids are case-insensitive).
pub struct TargetIndex {
    interfaces: HashMap<String, Vec<usize>>,
    instances: HashMap<String, Vec<usize>>,
    addresses: HashMap<IpAddr, Vec<usize>>,
}

impl TargetIndex {
    pub fn new(targets: &[Target]) -> TargetIndex {
        let mut ix = TargetIndex {
            interfaces: HashMap::new(),
            instances: HashMap::new(),
            addresses: HashMap::new(),
        };
        // Probe results are measurements of a workload, not a workload whose rules decide flows.
        for (i, t) in targets.iter().enumerate().filter(|(_, t)| !t.observed) {
            for id in &t.identity.interface_ids {
                push(&mut ix.interfaces, id.to_ascii_lowercase(), i);
            }
            for id in &t.identity.instance_ids {
                push(&mut ix.instances, id.to_ascii_lowercase(), i);
            }
            for a in &t.identity.addresses {
                push(&mut ix.addresses, *a, i);
            }
        }
        ix
    }

    /// The targets a flow left from; empty when none matches.
    pub fn find(&self, key: &FlowKey) -> &[usize] {
        by_id(&self.interfaces, &key.interface_id)
            .or_else(|| by_id(&self.instances, &key.instance_id))
            .or_else(|| self.addresses.get(&key.src).map(Vec::as_slice))
            .unwrap_or(&[])
    }
}

fn by_id<'m>(m: &'m HashMap<String, Vec<usize>>, id: &Option<String>) -> Option<&'m [usize]> {
    id.as_ref()
        .and_then(|id| m.get(&id.to_ascii_lowercase()))
        .map(Vec::as_slice)
}

fn push<K: std::hash::Hash + Eq>(m: &mut HashMap<K, Vec<usize>>, k: K, i: usize) {
    let v = m.entry(k).or_default();
    if !v.contains(&i) {
        v.push(i);
    }
}

/// Whether the rule a log names (Azure `UserRule_allow-web`, `DefaultRule_AllowInternetOutBound`;
/// GCP `network:prod/firewall:allow-web`) is the engine's rule (`nsg-web/allow-web`, `allow-web`).
pub fn same_rule(logged: &str, engine: &Rule) -> bool {
    let short = |s: &str| -> String {
        let s = s.rsplit('/').next().unwrap_or(s);
        let s = s.rsplit(':').next().unwrap_or(s);
        let s = s
            .strip_prefix("UserRule_")
            .or_else(|| s.strip_prefix("DefaultRule_"))
            .unwrap_or(s);
        s.to_ascii_lowercase()
    };
    let logged = short(logged);
    logged == short(&engine.name)
        || engine
            .priority
            .is_some_and(|p| logged == p.to_string() && engine.name.ends_with(&format!("/{p}")))
}
