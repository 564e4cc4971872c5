//! Security groups and network ACLs → policy layers.

use super::parse::{DestKind, Nacl, SecurityGroup};
use crate::model::space::parse_addrs;
use crate::model::RuleText;
use crate::model::WarningKind;
use crate::model::{Action, AddrSet, Layer, LayerKind, Rule, Rules, Text, TrafficSet, Warning};
use std::collections::BTreeMap;

/// One rule per (permission × destination), all allows: `sg-0123 egress #1 (description)`.
/// Prefix lists resolve from `prefix_lists`; unresolved ones match nothing and are warned about.
/// References to other groups are internal traffic: an empty rule that names the group.
pub fn sg_rules(
    sg: &SecurityGroup,
    prefix_lists: &BTreeMap<String, AddrSet>,
    warnings: &mut Vec<Warning>,
) -> Vec<Rule> {
    let mut out = Vec::with_capacity(sg.egress.iter().map(|p| p.dests.len()).sum());
    // Shared by the group's rules, as the destination texts are with the permissions.
    let resource = Text::from(sg.id.as_str());
    for perm in &sg.egress {
        for d in &perm.dests {
            let n = out.len() + 1;
            let number = match &perm.rule_id {
                Some(id) => id.to_string(),
                None => format!("#{n}"),
            };
            let name = match &d.description {
                Some(desc) => format!("{} egress {number} ({desc})", sg.id),
                None => format!("{} egress {number}", sg.id),
            };
            let mut unresolved = Vec::new();
            let traffic = match &d.kind {
                DestKind::Cidr => match parse_addrs(&d.text) {
                    Ok(set) => TrafficSet::rule(perm.pp.proto, perm.pp.ports.as_ref(), &set),
                    // Read as a CIDR block when added; never dropped silently should that change.
                    Err(e) => {
                        warnings.push(Warning {
                            kind: WarningKind::UnresolvedDestination,
                            source: sg.id.clone(),
                            message: format!(
                                "{name} allows {}/{} to {}, which could not be read as addresses \
                                 ({e}); that rule was not evaluated",
                                perm.pp.proto_text, perm.pp.ports_text, d.text
                            ),
                        });
                        unresolved.push(d.text.to_string());
                        TrafficSet::empty()
                    }
                },
                DestKind::Group => TrafficSet::empty(),
                DestKind::PrefixList => match prefix_lists.get(d.text.as_str()) {
                    Some(set) => TrafficSet::rule(perm.pp.proto, perm.pp.ports.as_ref(), set),
                    None => {
                        warnings.push(Warning {
                            kind: WarningKind::UnresolvedDestination,
                            source: sg.id.clone(),
                            message: format!(
                                "{name} allows {}/{} to prefix list {}, whose entries are not in the input \
                                 (add `aws ec2 get-managed-prefix-list-entries --prefix-list-id {}` saved as \
                                 {{\"PrefixListId\": \"{}\", \"Entries\": [...]}}); that rule was not evaluated",
                                perm.pp.proto_text, perm.pp.ports_text, d.text, d.text, d.text
                            ),
                        });
                        unresolved.push(d.text.to_string());
                        TrafficSet::empty()
                    }
                },
            };
            out.push(Rule {
                written: RuleText::new(
                    name.into(),
                    Action::Allow,
                    None,
                    perm.pp.proto_text.clone(),
                    perm.pp.ports_text.clone(),
                    d.text.clone(),
                ),
                resource: resource.clone(),
                action: Action::Allow,
                traffic: traffic.into(),
                unresolved,
                synthetic: false,
            });
        }
    }
    out
}

/// The union of some groups' rules: a stateful allow-list, order carries no meaning.
pub fn sg_layer(resource: String, rules: Rules) -> Layer {
    Layer {
        kind: LayerKind::SecurityGroup,
        resource,
        rules,
        no_match: Action::Deny,
        unordered: true,
    }
}

/// The rule number of the `*` entry that ends every network ACL.
pub const NACL_DEFAULT_RULE: i64 = 32767;

/// Outbound entries by rule number, first match wins, ending in the `*` deny (32767) even when the
/// input omits it (custom ACLs can be listed with no entries at all).
pub fn nacl_layer(n: &Nacl) -> Layer {
    let mut rules: Vec<Rule> = n
        .egress
        .iter()
        .map(|e| {
            let star = e.number >= NACL_DEFAULT_RULE;
            Rule {
                written: RuleText::new(
                    if star {
                        format!("{} rule * ({})", n.id, e.number).into()
                    } else {
                        format!("{} rule {}", n.id, e.number).into()
                    },
                    e.action,
                    Some(e.number),
                    e.pp.proto_text.clone(),
                    e.pp.ports_text.clone(),
                    e.dest_text.as_str().into(),
                ),
                resource: n.id.as_str().into(),
                action: e.action,
                traffic: TrafficSet::rule(e.pp.proto, e.pp.ports.as_ref(), &e.dest).into(),
                unresolved: Vec::new(),
                synthetic: star,
            }
        })
        .collect();
    if !n.egress.iter().any(|e| e.number == NACL_DEFAULT_RULE) {
        let at = rules
            .iter()
            .position(|r| r.priority.is_some_and(|p| p > NACL_DEFAULT_RULE))
            .unwrap_or(rules.len());
        rules.insert(
            at,
            Rule {
                written: RuleText::new(
                    format!("{} rule * ({NACL_DEFAULT_RULE})", n.id).into(),
                    Action::Deny,
                    Some(NACL_DEFAULT_RULE),
                    "all".into(),
                    "all".into(),
                    "0.0.0.0/0, ::/0".into(),
                ),
                resource: n.id.as_str().into(),
                action: Action::Deny,
                traffic: TrafficSet::everything().into(),
                unresolved: Vec::new(),
                synthetic: true,
            },
        );
    }
    Layer {
        kind: LayerKind::NetworkAcl,
        resource: n.id.clone(),
        rules: rules.into(),
        no_match: Action::Deny,
        unordered: false,
    }
}
