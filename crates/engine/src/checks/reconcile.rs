//! Declared vs observed (CHECKS.md §6): each probe result that belongs to a declared target (same
//! interface, instance or address from the probe's `identity`; for a host firewall, the probe's
//! host name or `host` label) is compared with that target's declared rules, measurement by
//! measurement, at the very address the probe reached:
//! - **confirmed**: declared allowed, observed leaving;
//! - **blocked elsewhere**: declared allowed, observed not leaving (filtered, closed,
//!   intercepted…): a control outside the evaluated rules decides it; reported, not a finding;
//! - **contradiction**: declared denied, observed leaving: one EG016 finding per probe and target,
//!   with the probe's measurements and the rules that deny as evidence.
//!
//! When a probe matches several targets (an instance with several interfaces), what they declare
//! together counts: the traffic may have left through any of them.
//!
//! **The matched probe's own findings.** A probe result also stands as an observed `host` target
//! whose generalised findings (EG002 "tcp/445 was observed open"…) are kept; once the probe is
//! matched they are *moved* onto the declared workload (provider, account, region, resource), still
//! `observed: true, source: probe`, with a note naming the probe, so that declared and observed
//! findings of one workload sit together. Their fingerprint keeps a `|probe:HOST` suffix so that a
//! baseline tells them from the declared ones. Nothing is dropped; the summary counts the probe
//! as part of its workload, not as a target of its own.

use super::classes::{allowed_ports, split_by_class};
use super::{Catalog, CheckDef};
use crate::config::Config;
use crate::eval::{eval_target, rule_evidence, TargetOutcome};
use crate::model::reconciliation::{Entry, ProbeRef, Reconciliation, TargetRef};
use crate::model::space::proto_name;
use crate::model::RuleText;
use crate::model::{Action, Evidence, Finding, ObservedSource, Target, Text, TrafficSet};
use crate::normalize::observed::{Observation, ProbeRecord};
use crate::normalize::Inventory;
use egress_audit_snapshot::Provider;
use std::sync::Arc;

/// The result for `scan`: the per-target lists, and the probes matched (whose observed targets
/// no longer stand alone).
pub struct Outcome {
    pub reconciliations: Vec<Reconciliation>,
    pub matched_probes: usize,
    /// The observed targets of those probes (`resource_id`), which reports leave out as targets.
    pub matched_probe_ids: Vec<String>,
}

/// Reconciles every probe with its declared target(s), adds EG016 findings (unless disabled in
/// `cfg`) and moves matched probes' observed findings onto their workload.
pub fn reconcile(
    inv: &Inventory,
    catalog: &Catalog,
    cfg: &Config,
    findings: &mut Vec<Finding>,
) -> Outcome {
    let eg016 = catalog
        .get("EG016")
        .filter(|c| !cfg.disabled.iter().any(|d| d == &c.id || d == &c.slug));
    let mut out = Outcome {
        reconciliations: Vec::new(),
        matched_probes: 0,
        matched_probe_ids: Vec::new(),
    };
    for rec in &inv.probes {
        let Some((matched, by)) = match_targets(rec, &inv.targets) else {
            continue;
        };
        out.matched_probes += 1;
        out.matched_probe_ids.push(rec.resource_id.clone());
        let outcomes: Vec<TargetOutcome> = matched.iter().map(|t| eval_target(t)).collect();
        let allowed = outcomes
            .iter()
            .fold(TrafficSet::empty(), |acc, o| acc.union(&o.allowed));
        let r = compare(rec, &matched, &allowed, by);
        if let (Some(check), false) = (eg016, r.contradictions.is_empty()) {
            findings.push(contradiction(check, rec, &matched, &outcomes, &r));
        }
        move_observed_findings(rec, matched[0], findings);
        out.reconciliations.push(r);
    }
    out
}

fn eq_id(a: &str, b: &str) -> bool {
    // Azure resource ids compare without case.
    a.eq_ignore_ascii_case(b)
}

/// The declared targets a probe ran on, and how they were found.
fn match_targets<'a>(
    rec: &ProbeRecord,
    targets: &'a [Target],
) -> Option<(Vec<&'a Target>, String)> {
    let declared = targets.iter().filter(|t| !t.observed);
    let Some(idn) = &rec.identity else {
        // A host without cloud metadata: its own firewall export, by host name (or `host` label).
        let host = rec.labels.get("host").unwrap_or(&rec.host);
        // Export files are named by the short host name (`web-1.nft.json` of `web-1.example.org`).
        let short = host.split('.').next().unwrap_or(host);
        let found: Vec<&Target> = declared
            .filter(|t| t.provider == Provider::Host)
            .filter(|t| {
                t.identity
                    .instance_ids
                    .iter()
                    .any(|i| i == host || i == short)
            })
            .collect();
        return (!found.is_empty()).then(|| (found, format!("host {host}")));
    };
    let same_cloud: Vec<&Target> = declared
        .filter(|t| t.provider.as_str() == idn.provider)
        .filter(|t| match (&t.account, &idn.account) {
            (Some(a), Some(b)) => eq_id(a, b),
            _ => true,
        })
        .collect();
    // GCP names an interface `nic0`; its targets say `INSTANCE/nic0`.
    let iface_names: Vec<String> = idn
        .interfaces
        .iter()
        .filter_map(|n| n.id.clone())
        .flat_map(|id| {
            let mut v = vec![id.clone()];
            if let Some(name) = &idn.instance_name {
                v.push(format!("{name}/{id}"));
            }
            v
        })
        .collect();
    let by_iface: Vec<&Target> = same_cloud
        .iter()
        .copied()
        .filter(|t| {
            t.identity
                .interface_ids
                .iter()
                .any(|i| iface_names.iter().any(|n| eq_id(i, n)))
        })
        .collect();
    if !by_iface.is_empty() {
        let ids: Vec<&str> = by_iface
            .iter()
            .flat_map(|t| t.identity.interface_ids.iter().map(String::as_str))
            .collect();
        return Some((by_iface, format!("interface {}", ids.join(", "))));
    }
    if let Some(inst) = &idn.instance_id {
        let found: Vec<&Target> = same_cloud
            .iter()
            .copied()
            .filter(|t| t.identity.instance_ids.iter().any(|i| eq_id(i, inst)))
            .collect();
        if !found.is_empty() {
            return Some((found, format!("instance {inst}")));
        }
    }
    let addrs: Vec<std::net::IpAddr> = idn
        .interfaces
        .iter()
        .flat_map(|n| n.addresses.iter().copied())
        .collect();
    let found: Vec<&Target> = same_cloud
        .iter()
        .copied()
        .filter(|t| t.identity.addresses.iter().any(|a| addrs.contains(a)))
        .filter(|t| match (&t.identity.network, &idn.network) {
            // Private addresses repeat across networks: the network must agree when both say.
            (Some(a), Some(b)) => {
                eq_id(a, b) || a.ends_with(&format!("/{b}")) || b.ends_with(&format!("/{a}"))
            }
            _ => true,
        })
        .collect();
    let first = addrs
        .iter()
        .find(|a| found.iter().any(|t| t.identity.addresses.contains(a)));
    first.map(|a| (found, format!("address {a}")))
}

fn compare(
    rec: &ProbeRecord,
    matched: &[&Target],
    allowed: &TrafficSet,
    by: String,
) -> Reconciliation {
    let mut r = Reconciliation {
        targets: matched.iter().map(|t| TargetRef::of(t)).collect(),
        probe: ProbeRef {
            source: rec.source.clone(),
            host: rec.host.clone(),
            target: rec.target.clone(),
            address: rec.address.to_string(),
            matched_by: by,
        },
        confirmed: Vec::new(),
        blocked_elsewhere: Vec::new(),
        contradictions: Vec::new(),
        agreed_denied: 0,
        partial: rec.partial,
    };
    for o in &rec.observations {
        for (lo, hi, class) in split_by_class(o.proto, o.lo, o.hi, o.address) {
            let yes = allowed_ports(allowed, o.proto, lo, hi, o.address);
            let no = crate::model::PortSet::range(lo, hi).difference(&yes);
            for (set, declared_allowed) in [(yes, true), (no, false)] {
                for &(a, b) in set.ranges() {
                    let e = entry(o, class, a, b);
                    match (declared_allowed, o.leaves) {
                        (true, true) => r.confirmed.push(e),
                        (true, false) => r.blocked_elsewhere.push(e),
                        (false, true) => r.contradictions.push(e),
                        (false, false) => r.agreed_denied += (b - a + 1) as usize,
                    }
                }
            }
        }
    }
    for list in [
        &mut r.confirmed,
        &mut r.blocked_elsewhere,
        &mut r.contradictions,
    ] {
        list.sort_by(|x, y| {
            (&x.protocol, port_key(&x.ports), &x.destination).cmp(&(
                &y.protocol,
                port_key(&y.ports),
                &y.destination,
            ))
        });
    }
    r
}

fn port_key(p: &str) -> u32 {
    p.trim_start_matches("type ")
        .split('-')
        .next()
        .and_then(|x| x.parse().ok())
        .unwrap_or(0)
}

fn entry(o: &Observation, class: &str, a: u32, b: u32) -> Entry {
    let icmp = o.proto == crate::model::space::ICMP || o.proto == crate::model::space::ICMPV6;
    let ports = if icmp {
        format!("type {}", a / 256)
    } else if a == b {
        a.to_string()
    } else {
        format!("{a}-{b}")
    };
    Entry {
        class: class.to_string(),
        protocol: proto_name(o.proto as u32),
        ports,
        destination: o.address.to_string(),
        observed: o.verdict.clone(),
        by: o.what.clone(),
    }
}

/// EG016 on the first matched target: the probe's measurements, then the rules that deny them.
fn contradiction(
    check: &CheckDef,
    rec: &ProbeRecord,
    matched: &[&Target],
    outcomes: &[TargetOutcome],
    r: &Reconciliation,
) -> Finding {
    let t = matched[0];
    let shown: Vec<String> = r
        .contradictions
        .iter()
        .take(8)
        .map(|e| format!("{}/{} to {}", e.protocol, e.ports, e.destination))
        .collect();
    let more = r.contradictions.len().saturating_sub(shown.len());
    let mut f = super::query::finding(
        check,
        t,
        format!(
            "observed leaving although the declared rules deny it: {}{} (probe from {} to {}, \
             matched by {})",
            shown.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            },
            rec.host,
            rec.target,
            r.probe.matched_by
        ),
    );
    f.observed = true;
    f.source = Some(ObservedSource::Probe);
    let mut denied = TrafficSet::empty();
    for e in &r.contradictions {
        f.evidence.push(Evidence::new(
            Arc::new(RuleText {
                name: format!(
                    "probe {} → {} ({}, {})",
                    rec.host, rec.target, e.by, rec.source
                )
                .into(),
                action: format!("observed {}", e.observed).into(),
                priority: None,
                protocol: e.protocol.as_str().into(),
                ports: e.ports.as_str().into(),
                destination: e.destination.as_str().into(),
            }),
            None,
        ));
        denied = denied.union(&entry_traffic(e));
    }
    for (target, outcome) in matched.iter().zip(outcomes) {
        f.evidence.extend(deny_evidence(target, outcome, &denied));
    }
    super::finish(&mut f, check, t);
    f
}

fn entry_traffic(e: &Entry) -> TrafficSet {
    use crate::model::space::{addr, parse_proto};
    let proto = parse_proto(&e.protocol).ok().flatten().unwrap_or(0);
    let ports = if let Some(t) = e.ports.strip_prefix("type ") {
        let t: u32 = t.parse().unwrap_or(0);
        crate::model::PortSet::range(t * 256, t * 256 + 255)
    } else {
        crate::model::PortSet::parse_ports(&e.ports).unwrap_or_default()
    };
    let a = e.destination.parse().map(addr).unwrap_or(0);
    TrafficSet::product(
        &crate::model::space::ProtoSet::single(proto as u32),
        &ports,
        &crate::model::AddrSet::single(a),
    )
}

/// The rules (or defaults) of a target that deny part of `denied`.
fn deny_evidence(t: &Target, outcome: &TargetOutcome, denied: &TrafficSet) -> Vec<Evidence> {
    let mut out = Vec::new();
    if let Some(limit) = &t.address_limit {
        let outside = denied.difference(&denied.restrict_addrs(limit));
        if !outside.is_empty() {
            let described = crate::eval::describe_traffic(&outside);
            out.push(Evidence::new(
                RuleText::other(
                    format!(
                        "{} (its addresses: no address of this family)",
                        t.resource_id
                    ),
                    "deny",
                    described.as_str().into(),
                ),
                Some(described),
            ));
        }
    }
    for (chain, co) in t.chains.iter().zip(&outcome.chains) {
        let not_passed = denied.difference(&co.allowed);
        if not_passed.is_empty() {
            continue;
        }
        for (layer, lo) in chain.layers.iter().zip(&co.layers) {
            for (rule, ro) in layer.rules.iter().zip(&lo.rules) {
                if rule.action != Action::Deny {
                    continue;
                }
                let part = ro.decided.intersect(&not_passed);
                if !part.is_empty() {
                    out.push(rule_evidence(rule, Some(&part)));
                }
            }
            let fell = lo.fallthrough.intersect(&not_passed);
            if layer.no_match == Action::Deny && !fell.is_empty() {
                out.push(Evidence::new(
                    RuleText::other(
                        format!("{} (no rule allows it)", layer.resource),
                        "deny",
                        Text::constant("all"),
                    ),
                    Some(crate::eval::describe_traffic(&fell)),
                ));
            }
        }
    }
    out
}

/// Moves the matched probe's observed findings onto the declared workload `t`.
fn move_observed_findings(rec: &ProbeRecord, t: &Target, findings: &mut [Finding]) {
    for f in findings.iter_mut().filter(|f| {
        f.observed && f.provider == Provider::Probe.as_str() && f.resource_id == rec.resource_id
    }) {
        f.notes.push(format!(
            "observed by the probe from {} to {} ({})",
            rec.host, rec.target, rec.source
        ));
        f.provider = crate::model::Text::constant(t.provider.as_str());
        f.account = t.account.clone();
        f.region = t.region.clone();
        f.resource_id = t.resource_id.clone();
        f.resource_kind = t.resource_kind.clone();
        f.resource_name = t.name.clone();
        f.suffix_fingerprint(&format!("|probe:{}", rec.host));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::observed::{ProbeIdentity, ProbeInterface};

    fn target(provider: Provider, id: &str, f: impl FnOnce(&mut Target)) -> Target {
        let mut t = Target::new(provider, id, "x");
        f(&mut t);
        t
    }

    fn probe(identity: Option<ProbeIdentity>, host: &str) -> ProbeRecord {
        ProbeRecord {
            source: "p.json".into(),
            host: host.into(),
            target: "t".into(),
            address: "203.0.113.9".parse().unwrap(),
            partial: false,
            identity,
            labels: Default::default(),
            observations: Vec::new(),
            resource_id: "probe".into(),
        }
    }

    fn matched(rec: &ProbeRecord, targets: &[Target]) -> Option<(Vec<String>, String)> {
        match_targets(rec, targets)
            .map(|(ts, by)| (ts.iter().map(|t| t.resource_id.to_string()).collect(), by))
    }

    #[test]
    fn gcp_interfaces_match_by_instance_and_nic_name() {
        let nic = |id: &str, nic: &str| {
            target(Provider::Gcp, id, |t| {
                t.account = Some("proj".into());
                t.identity.instance_ids = vec!["123".into(), "web-1".into()];
                t.identity.interface_ids = vec![format!("web-1/{nic}")];
            })
        };
        let targets = vec![
            nic("proj/z/web-1", "nic0"),
            nic("proj/z/web-1/nic1", "nic1"),
        ];
        let idn = ProbeIdentity {
            provider: "gcp".into(),
            account: Some("proj".into()),
            instance_id: Some("123".into()),
            instance_name: Some("web-1".into()),
            interfaces: vec![ProbeInterface {
                id: Some("nic0".into()),
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(
            matched(&probe(Some(idn.clone()), "web-1"), &targets),
            Some((vec!["proj/z/web-1".into()], "interface web-1/nic0".into()))
        );
        // Without interfaces, the instance: both of its NICs.
        let bare = ProbeIdentity {
            interfaces: Vec::new(),
            ..idn.clone()
        };
        assert_eq!(
            matched(&probe(Some(bare), "web-1"), &targets).map(|m| m.0.len()),
            Some(2)
        );
        // Another project's instance of the same id is not this one.
        let other = ProbeIdentity {
            account: Some("other".into()),
            ..idn
        };
        assert_eq!(matched(&probe(Some(other), "web-1"), &targets), None);
    }

    #[test]
    fn azure_ids_match_without_case_and_addresses_need_the_same_network() {
        let vm =
            "/subscriptions/S/resourceGroups/RG/providers/Microsoft.Compute/virtualMachines/vm1";
        let targets = vec![target(Provider::Azure, "nic1", |t| {
            t.identity.instance_ids = vec![vm.into()];
            t.identity.addresses = vec!["10.0.0.4".parse().unwrap()];
            t.identity.network = Some("/subscriptions/S/.../virtualNetworks/vnet-a".into());
        })];
        let idn = ProbeIdentity {
            provider: "azure".into(),
            instance_id: Some(vm.to_lowercase()),
            ..Default::default()
        };
        assert_eq!(
            matched(&probe(Some(idn), "vm1"), &targets).map(|m| m.1),
            Some(format!("instance {}", vm.to_lowercase()))
        );
        let by_addr = |network: &str| ProbeIdentity {
            provider: "azure".into(),
            network: Some(network.into()),
            interfaces: vec![ProbeInterface {
                addresses: vec!["10.0.0.4".parse().unwrap()],
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(
            matched(&probe(Some(by_addr("vnet-a")), "vm1"), &targets).map(|m| m.1),
            Some("address 10.0.0.4".into())
        );
        assert_eq!(
            matched(&probe(Some(by_addr("vnet-b")), "vm1"), &targets),
            None
        );
    }

    #[test]
    fn a_probe_without_identity_matches_its_host_by_short_name() {
        let targets = vec![target(Provider::Host, "web-1:output", |t| {
            t.identity.instance_ids = vec!["web-1".into()];
        })];
        assert_eq!(
            matched(&probe(None, "web-1.example.org"), &targets).map(|m| m.1),
            Some("host web-1.example.org".into())
        );
        assert_eq!(matched(&probe(None, "web-2"), &targets), None);
    }
}
