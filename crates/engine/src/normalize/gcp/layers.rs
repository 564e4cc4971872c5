//! Firewall rules and policies → the layers of one target's chain.
//!
//! GCP evaluates, for egress: hierarchical policies (organization, then folders), then either the
//! VPC firewall rules and then the network firewall policies (`AFTER_CLASSIC_FIREWALL`, the
//! default) or the other way round (`BEFORE_CLASSIC_FIREWALL`), and last the implied rules. Each
//! policy and the VPC rules are one layer whose unmatched traffic goes on to the next layer; the
//! implied rules are a last layer of synthetic rules so that they show up in evidence.

use super::parse::{Firewall, L4};
use super::policy::{Policy, PolicyRule};
use super::urls::NetRef;
use crate::model::space::{all_v4, all_v6};
use crate::model::RuleText;
use crate::model::{Action, AddrSet, Layer, LayerKind, Rule, TrafficSet};

/// The priority of the implied rules.
pub const IMPLIED_PRIORITY: i64 = 65535;
/// Policies end with default `goto_next` rules at 2147483644–2147483647; they are the provider's.
const POLICY_DEFAULT_RULES: i64 = 2_147_483_644;

/// What a rule's targets are matched against: an instance's network tags and service accounts,
/// or the one selector a network-level target stands for.
#[derive(Clone, Debug, Default)]
pub struct Who {
    pub tags: Vec<String>,
    pub service_accounts: Vec<String>,
    /// Secure tags (`tagValues/123`); instance listings do not carry them.
    pub secure_tags: Vec<String>,
    /// The NIC's addresses, for egress rules with `sourceRanges`; `None` for a network-level
    /// target, which stands for instances of any address.
    pub addrs: Option<AddrSet>,
}

impl Who {
    fn any(mine: &[String], wanted: &[String]) -> bool {
        wanted.iter().any(|w| mine.contains(w))
    }

    pub fn selects_firewall(&self, fw: &Firewall) -> bool {
        let targeted = (fw.target_tags.is_empty() && fw.target_sas.is_empty())
            || Self::any(&self.tags, &fw.target_tags)
            || Self::any(&self.service_accounts, &fw.target_sas);
        // An egress rule with `sourceRanges` applies to packets from those addresses. Without
        // the instance's addresses, an allow is taken to apply and a deny not to (the build
        // warns): the result never shows less egress than there is.
        targeted && self.source_matches(fw.source.as_ref(), false, fw.action)
    }

    pub fn selects_policy_rule(&self, r: &PolicyRule) -> bool {
        let targeted = (r.target_sas.is_empty() && r.target_secure_tags.is_empty())
            || Self::any(&self.service_accounts, &r.target_sas)
            || Self::any(&self.secure_tags, &r.target_secure_tags);
        targeted && self.source_matches(r.source.as_ref(), r.source_unresolved, r.action)
    }

    /// Whether an egress rule's source condition holds for this sender: by its addresses where
    /// they decide it; otherwise an allow (or goto_next) is taken to apply and a deny not to, so
    /// the result never shows less egress than there is.
    fn source_matches(&self, src: Option<&AddrSet>, unresolved: bool, action: Action) -> bool {
        if src.is_none() && !unresolved {
            return true;
        }
        let known = match (src, &self.addrs) {
            (Some(s), Some(mine)) => Some(s.intersects(mine)),
            _ => None,
        };
        match known {
            Some(true) => true,
            Some(false) if !unresolved => false,
            _ => action != Action::Deny,
        }
    }
}

/// The traffic of a rule's protocol entries to `dest`; no entry at all means every protocol.
fn l4_traffic(l4: &[L4], dest: &AddrSet) -> TrafficSet {
    if l4.is_empty() {
        return TrafficSet::rule(None, None, dest);
    }
    l4.iter().fold(TrafficSet::empty(), |acc, e| {
        acc.union(&TrafficSet::rule(e.proto, e.ports.as_ref(), dest))
    })
}

/// Protocol and ports for evidence: `tcp` + `22,80`, or `tcp,udp` + `tcp:22; udp:all`.
fn l4_text(l4: &[L4]) -> (String, String) {
    let ports = |e: &L4| e.ports.as_ref().map_or("all".into(), |p| p.display_ports());
    match l4 {
        [] => ("all".into(), "all".into()),
        [one] => (one.proto_text.clone(), ports(one)),
        many => (
            many.iter()
                .map(|e| e.proto_text.as_str())
                .collect::<Vec<_>>()
                .join(","),
            many.iter()
                .map(|e| format!("{}:{}", e.proto_text, ports(e)))
                .collect::<Vec<_>>()
                .join("; "),
        ),
    }
}

pub fn firewall_rule(fw: &Firewall) -> Rule {
    let (protocol, ports) = l4_text(&fw.l4);
    Rule {
        written: RuleText::new(
            fw.name.as_str().into(),
            fw.action,
            Some(fw.priority),
            protocol.into(),
            ports.into(),
            if fw.dest_text.is_empty() {
                "0.0.0.0/0".into()
            } else {
                fw.dest_text.join(", ").into()
            },
        ),
        resource: fw.net.name.as_str().into(),
        action: fw.action,
        traffic: l4_traffic(&fw.l4, &fw.dest).into(),
        unresolved: Vec::new(),
        synthetic: false,
    }
}

/// The network's VPC firewall rules that apply to `who`: egress, enabled, targeted at it; by
/// priority, a deny before an allow of the same priority.
pub fn vpc_layer(net: &NetRef, firewalls: &[Firewall], who: &Who) -> Layer {
    let mut chosen: Vec<&Firewall> = firewalls
        .iter()
        .filter(|f| f.egress && !f.disabled && f.net.matches(net) && who.selects_firewall(f))
        .collect();
    chosen.sort_by(|a, b| {
        (a.priority, a.action != Action::Deny, &a.name).cmp(&(
            b.priority,
            b.action != Action::Deny,
            &b.name,
        ))
    });
    Layer {
        kind: LayerKind::VpcFirewall,
        resource: net.name.clone(),
        rules: chosen.into_iter().map(firewall_rule).collect(),
        no_match: Action::Next,
        unordered: false,
    }
}

pub fn policy_rule_name(policy: &Policy, r: &PolicyRule) -> String {
    format!("{}/{}", policy.name, r.priority)
}

fn policy_rule(policy: &Policy, r: &PolicyRule) -> Rule {
    let (protocol, ports) = l4_text(&r.l4);
    let mut destination: Vec<String> = r.dest_text.clone();
    destination.extend(r.unresolved.iter().cloned());
    if let Some(n) = &r.dest_network {
        destination.push(format!("network-context:{n}"));
    }
    Rule {
        written: RuleText::new(
            policy_rule_name(policy, r).into(),
            r.action,
            Some(r.priority),
            protocol.into(),
            ports.into(),
            if destination.is_empty() {
                "all".into()
            } else {
                destination.join(", ").into()
            },
        ),
        resource: policy.name.as_str().into(),
        action: r.action,
        traffic: l4_traffic(&r.l4, &r.dest).into(),
        unresolved: r.unresolved.clone(),
        synthetic: r.priority >= POLICY_DEFAULT_RULES,
    }
}

/// A firewall policy's egress rules that apply to `who` on `net`, by priority.
pub fn policy_layer(policy: &Policy, net: &NetRef, who: &Who) -> Layer {
    let mut chosen: Vec<&PolicyRule> = policy
        .rules
        .iter()
        .filter(|r| {
            r.egress
                && !r.disabled
                && (r.target_networks.is_empty()
                    || r.target_networks.iter().any(|t| t.matches(net)))
                && who.selects_policy_rule(r)
        })
        .collect();
    chosen.sort_by_key(|r| r.priority);
    Layer {
        kind: LayerKind::FirewallPolicy,
        resource: policy.name.clone(),
        rules: chosen.into_iter().map(|r| policy_rule(policy, r)).collect(),
        no_match: Action::Next,
        unordered: false,
    }
}

fn implied(net: &NetRef, name: &str, action: Action, addrs: &AddrSet, dest: &str) -> Rule {
    Rule {
        written: RuleText::new(
            name.into(),
            action,
            Some(IMPLIED_PRIORITY),
            "all".into(),
            "all".into(),
            dest.into(),
        ),
        resource: net.name.as_str().into(),
        action,
        traffic: TrafficSet::rule(None, None, addrs).into(),
        unresolved: Vec::new(),
        synthetic: true,
    }
}

/// The implied rules: allow all egress to 0.0.0.0/0 (and ::/0 on a network with IPv6), then
/// deny everything else.
pub fn implied_layer(net: &NetRef, v6: bool) -> Layer {
    let mut rules = vec![implied(
        net,
        "implied-allow-egress",
        Action::Allow,
        &all_v4(),
        "0.0.0.0/0",
    )];
    if v6 {
        rules.push(implied(
            net,
            "implied-allow-egress-ipv6",
            Action::Allow,
            &all_v6(),
            "::/0",
        ));
    }
    rules.push(implied(
        net,
        "implied-deny-egress",
        Action::Deny,
        &AddrSet::full(),
        "all",
    ));
    Layer {
        kind: LayerKind::VpcFirewall,
        resource: format!("{} (implied rules)", net.name),
        rules: rules.into(),
        no_match: Action::Deny,
        unordered: false,
    }
}
