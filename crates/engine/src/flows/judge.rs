//! Findings from observed traffic: a check's traffic that really left (observed EG002 …), EG014
//! unused-rule and EG015 unused-attributes (CHECKS.md §5).

use super::attribute::rule_at;
use super::classes::point_traffic;
use super::coverage::{covered, time};
use super::{Analysis, Hits, RuleKey};
use crate::checks::{finding, Catalog, CheckDef, QueryKind};
use crate::config::Config;
use crate::eval::{describe_traffic, rule_evidence};
use crate::model::space::{parse_addrs, parse_proto, public};
use crate::model::RuleText;
use crate::model::{
    Action, AddrSet, Evidence, Finding, LayerKind, ObservedSource, PortSet, Rule, Target,
    TrafficSet, Warning,
};
use crate::normalize::Inventory;
use egress_audit_flows::FlowProfile;
use std::collections::BTreeMap;
use std::sync::Arc;

/// At most this many observed classes are listed as evidence of one finding.
const MAX_CLASS_EVIDENCE: usize = 10;

/// A check's traffic that flow logs show leaving a target: one finding per target and check.
pub fn observed_findings(
    a: &Analysis,
    targets: &[Target],
    checks: &[(&CheckDef, TrafficSet)],
) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut by_target: BTreeMap<usize, Vec<&super::Class>> = BTreeMap::new();
    for c in &a.classes {
        by_target.entry(c.target).or_default().push(c);
    }
    for (ti, classes) in by_target {
        let target = &targets[ti];
        for (check, _) in checks {
            let mine: Vec<&&super::Class> = classes
                .iter()
                .filter(|c| c.checks.iter().any(|id| *id == check.id))
                .collect();
            if mine.is_empty() {
                continue;
            }
            let flows: u64 = mine.iter().map(|c| c.flows).sum();
            let bytes: u64 = mine.iter().map(|c| c.bytes).sum();
            let first = mine.iter().map(|c| c.first_seen).min().unwrap_or(0);
            let last = mine.iter().map(|c| c.last_seen).max().unwrap_or(0);
            let traffic: Vec<&str> = mine.iter().map(|c| c.traffic.as_str()).collect();
            let mut f = finding(
                check,
                target,
                format!(
                    "{} was observed leaving: {flows} accepted flow(s), {bytes} bytes, first {}, last {} (flow logs)",
                    traffic.join("; "),
                    time(first),
                    time(last)
                ),
            );
            f.observed = true;
            f.source = Some(ObservedSource::Flows);
            f.evidence = mine
                .iter()
                .take(MAX_CLASS_EVIDENCE)
                .map(|c| {
                    Evidence::new(
                        Arc::new(RuleText {
                            name: format!(
                                "flow logs: {} flow(s), {} bytes, {} – {}",
                                c.flows,
                                c.bytes,
                                time(c.first_seen),
                                time(c.last_seen)
                            )
                            .into(),
                            action: "accepted".into(),
                            priority: None,
                            protocol: crate::model::space::proto_name(u32::from(c.protocol)).into(),
                            ports: port_text(c.protocol, c.port).into(),
                            destination: crate::model::space::describe_addrs(&c.destinations)
                                .into(),
                        }),
                        Some(c.traffic.clone()),
                    )
                })
                .collect();
            f.evidence.extend(deciding_evidence(a, target, ti, &mine));
            crate::checks::finish(&mut f, check, target);
            // Not the declared finding of the same check on the same target.
            f.suffix_fingerprint("|flows");
            out.push(f);
        }
    }
    out
}

fn port_text(proto: u8, port: u32) -> String {
    match proto {
        crate::model::space::ICMP | crate::model::space::ICMPV6 => format!("type {}", port / 256),
        6 | 17 | 132 => port.to_string(),
        _ => "all".into(),
    }
}

/// Destination addresses (as ranges of one) per (protocol, port).
type PointsByPort = BTreeMap<(u8, u32), Vec<(u128, u128)>>;

/// The rules that allowed the classes' flows, once each, with the part they decided.
fn deciding_evidence(
    a: &Analysis,
    target: &Target,
    ti: usize,
    classes: &[&&super::Class],
) -> Vec<Evidence> {
    // Points per rule, made into sets once per (protocol, port): a union per flow is quadratic.
    let mut parts: BTreeMap<RuleKey, (&Rule, PointsByPort)> = BTreeMap::new();
    for o in a.observed.iter().filter(|o| o.in_window && o.target == ti) {
        let hit = classes.iter().any(|c| {
            c.protocol == o.point.proto
                && c.port == o.point.port
                && c.destinations.contains(o.point.addr)
        });
        if !hit {
            continue;
        }
        for pos in &o.decision.allows {
            let r = rule_at(target, *pos);
            let e = parts.entry(RuleKey::of(r)).or_insert((r, BTreeMap::new()));
            e.1.entry((o.point.proto, o.point.port))
                .or_default()
                .push((o.point.addr, o.point.addr));
        }
    }
    parts
        .into_values()
        .map(|(r, by_port)| {
            let t = by_port
                .into_iter()
                .fold(TrafficSet::empty(), |acc, ((proto, port), addrs)| {
                    acc.union(&point_traffic(proto, port, &AddrSet::from_ranges(addrs)))
                });
            rule_evidence(r, Some(&t))
        })
        .collect()
}

/// A rule with the layer kind it sits in and the targets it applies to.
struct RuleUse<'a> {
    rule: &'a Rule,
    kind: LayerKind,
    targets: Vec<usize>,
}

fn rules_in_use(inv: &Inventory) -> BTreeMap<RuleKey, RuleUse<'_>> {
    let mut out: BTreeMap<RuleKey, RuleUse> = BTreeMap::new();
    for (ti, t) in inv.targets.iter().enumerate() {
        for layer in t.chains.iter().flat_map(|c| &c.layers) {
            for rule in &layer.rules {
                let u = out.entry(RuleKey::of(rule)).or_insert(RuleUse {
                    rule,
                    kind: layer.kind,
                    targets: Vec::new(),
                });
                if !u.targets.contains(&ti) {
                    u.targets.push(ti);
                }
            }
        }
    }
    out
}

/// Whether a rule can be judged from flows at all: a user's allow rule with public traffic
/// (only egress to public addresses is attributed) and nothing unresolved.
fn judgeable(u: &RuleUse) -> bool {
    let r = u.rule;
    r.action == Action::Allow
        && !r.synthetic
        && r.unresolved.is_empty()
        && !matches!(u.kind, LayerKind::Observed | LayerKind::Custom)
        && !r.traffic.restrict_addrs(public()).is_empty()
}

fn kind_name(k: LayerKind) -> &'static str {
    match k {
        LayerKind::SecurityGroup => "security-group",
        LayerKind::NetworkAcl => "network-acl",
        LayerKind::Nsg => "nsg",
        LayerKind::VpcFirewall => "vpc-firewall",
        LayerKind::FirewallPolicy => "firewall-policy",
        LayerKind::HostFirewall => "host-firewall",
        LayerKind::Observed => "host",
        LayerKind::Custom => "custom",
    }
}

/// EG014 and EG015 for every judgeable rule whose targets the logs cover for the whole window;
/// a `flows-not-judged` warning, per rule, for the others.
pub fn unused(
    a: &Analysis,
    inv: &Inventory,
    profile: &FlowProfile,
    catalog: &Catalog,
    cfg: &Config,
) -> (Vec<Finding>, Vec<Warning>) {
    let enabled = crate::checks::enabled(catalog, cfg);
    let find = |k: QueryKind| enabled.iter().copied().find(|c| c.query.kind == k);
    let (eg014, eg015) = (
        find(QueryKind::UnusedRule),
        find(QueryKind::UnusedAttributes),
    );
    let (mut findings, mut warnings) = (Vec::new(), Vec::new());
    if eg014.is_none() && eg015.is_none() {
        return (findings, warnings);
    }
    let empty = Hits::default();
    for (key, u) in rules_in_use(inv) {
        if !judgeable(&u) {
            continue;
        }
        let gaps: Vec<String> = u
            .targets
            .iter()
            .filter_map(|&t| covered(&inv.targets[t], profile, &a.window).err())
            .collect();
        if let Some(first) = gaps.first() {
            let more = match gaps.len() {
                1 => String::new(),
                n => format!(" (and {} more of its {} targets)", n - 1, u.targets.len()),
            };
            warnings.push(Warning {
                kind: crate::model::WarningKind::FlowsNotJudged,
                source: key.resource.clone(),
                message: format!(
                    "rule {} was not judged for unused-rule / unused-attributes: {first}{more}",
                    key.name
                ),
            });
            continue;
        }
        let target = &inv.targets[u.targets[0]];
        let hits = a.hits.get(&key).unwrap_or(&empty);
        let (check, message, evidence) = if hits.flows == 0 {
            let Some(c) = eg014 else { continue };
            let msg = format!(
                "allow rule {} decided no accepted egress flow in the {}-day window {} – {}; flow logs cover all {} target(s) it applies to",
                key.name,
                a.window.days,
                time(a.window.start),
                time(a.window.end),
                u.targets.len()
            );
            (c, msg, vec![rule_evidence(u.rule, None)])
        } else {
            let Some(c) = eg015 else { continue };
            let idle: Vec<Element> = elements(u.rule)
                .into_iter()
                .filter(|e| {
                    !hits
                        .points
                        .iter()
                        .any(|p| e.traffic.contains(p.proto, p.port, p.addr))
                })
                .collect();
            if idle.is_empty() {
                continue;
            }
            let names: Vec<String> = idle.iter().map(|e| e.label.clone()).collect();
            let msg = format!(
                "allow rule {} is used ({} flows), but {} saw no accepted egress flow in the {}-day window {} – {}",
                key.name,
                hits.flows,
                names.join(", "),
                a.window.days,
                time(a.window.start),
                time(a.window.end)
            );
            let mut ev = vec![rule_evidence(u.rule, None)];
            ev.extend(idle.iter().map(|e| {
                Evidence::new(
                    u.rule.written.clone(),
                    Some(format!("unused: {}", describe_traffic(&e.traffic))),
                )
            }));
            (c, msg, ev)
        };
        let mut f = finding(check, target, message);
        f.resource_id = u.rule.resource.clone();
        f.resource_kind = kind_name(u.kind).into();
        f.resource_name = None;
        f.rule = Some(key.name.as_str().into());
        f.observed = false;
        f.source = Some(crate::model::ObservedSource::Flows);
        f.evidence = evidence;
        crate::checks::finish(&mut f, check, target);
        findings.push(f);
    }
    (findings, warnings)
}

/// One element of a rule as written: a protocol, a port or port range, a destination.
struct Element {
    label: String,
    /// The rule's public traffic through that element.
    traffic: TrafficSet,
}

/// The elements of a rule that can be judged on their own: only where the rule lists two or more
/// on an axis (a single one is the whole rule: EG014's), and only those with public traffic.
/// Symbolic destinations (prefix lists, service tags, group references) are not split.
fn elements(rule: &Rule) -> Vec<Element> {
    let mut out = Vec::new();
    let public_traffic = rule.traffic.restrict_addrs(public());
    let dests: Vec<&str> = rule.destination.split(',').map(str::trim).collect();
    if dests.len() >= 2 {
        for d in dests {
            let set = if d.eq_ignore_ascii_case("internet") {
                Some(public().clone())
            } else {
                parse_addrs(d).ok()
            };
            if let Some(set) = set {
                out.push((
                    format!("destination {d}"),
                    public_traffic.restrict_addrs(&set),
                ));
            }
        }
    }
    // GCP lists `tcp:22,80; udp:all` when a rule has several protocol entries.
    let entries: Vec<(Option<u8>, String)> = if rule.ports.contains(':') {
        rule.ports
            .split(';')
            .filter_map(|e| e.trim().split_once(':'))
            .filter_map(|(p, ports)| parse_proto(p).ok().map(|p| (p, ports.trim().to_string())))
            .collect()
    } else {
        parse_proto(&rule.protocol)
            .ok()
            .map(|p| vec![(p, rule.ports.to_string())])
            .unwrap_or_default()
    };
    let ranges: Vec<(Option<u8>, String)> = entries
        .iter()
        .flat_map(|(p, ports)| ports.split(',').map(move |r| (*p, r.trim().to_string())))
        .collect();
    if entries.len() >= 2 {
        for (p, ports) in &entries {
            let name = p.map_or("all".into(), |x| {
                crate::model::space::proto_name(u32::from(x))
            });
            let set = TrafficSet::rule(*p, None, &AddrSet::full());
            out.push((
                format!("protocol {name} ({ports})"),
                public_traffic.intersect(&set),
            ));
        }
    }
    if ranges.len() >= 2 {
        for (p, r) in ranges {
            let Ok(ports) = PortSet::parse_ports(&r) else {
                continue;
            };
            let set = TrafficSet::rule(p, Some(&ports), &AddrSet::full());
            let name = p.map_or("ports".into(), |x| {
                crate::model::space::proto_name(u32::from(x))
            });
            out.push((format!("{name}/{r}"), public_traffic.intersect(&set)));
        }
    }
    out.into_iter()
        .filter(|(_, t)| !t.is_empty())
        .map(|(label, traffic)| Element { label, traffic })
        .collect()
}
