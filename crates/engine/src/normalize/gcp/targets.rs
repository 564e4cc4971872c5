//! Targets: each instance NIC with its network's chain, or, without instance data, each network
//! once for untagged instances and once per target tag / service account / secure tag its rules
//! name (docs/SEMANTICS.md §2); plus what the routes say about a path to the internet.

use super::layers::{implied_layer, policy_layer, policy_rule_name, vpc_layer, Who};
use super::policy::PolicyScope;
use super::routes::route_info;
use super::urls::{zone_region, NetRef};
use super::GcpBundle;
use crate::model::space::{all_v4, all_v6, public6};
use crate::model::WarningKind;
use crate::model::{AddrSet, Chain, Identity, Layer, Target, Warning};
use crate::normalize::Inventory;
use egress_audit_snapshot::Provider;

/// What is known of one network across all inputs.
#[derive(Clone, Debug)]
struct NetInfo {
    net: NetRef,
    v6: bool,
    policies_first: bool,
    /// The subnet listing has this network's subnets.
    subnets_seen: bool,
    /// One of its subnets (or instance NICs) has external IPv6: public IPv6 is reachable.
    v6_external: bool,
}

fn add_net(nets: &mut Vec<NetInfo>, net: &NetRef) -> usize {
    if let Some(i) = nets.iter().position(|n| n.net.matches(net)) {
        if nets[i].net.project.is_none() {
            nets[i].net.project = net.project.clone();
        }
        return i;
    }
    nets.push(NetInfo {
        net: net.clone(),
        v6: false,
        policies_first: false,
        subnets_seen: false,
        v6_external: false,
    });
    nets.len() - 1
}

/// Every network any input names, with its IPv6 state and policy order.
fn networks(b: &GcpBundle) -> Vec<NetInfo> {
    let mut nets: Vec<NetInfo> = Vec::new();
    for n in &b.networks {
        let i = add_net(&mut nets, &n.net);
        nets[i].v6 |= n.v6;
        nets[i].policies_first = n.policies_first;
    }
    for s in &b.subnetworks {
        let i = add_net(&mut nets, &s.net);
        nets[i].v6 |= s.v6;
        nets[i].subnets_seen = true;
        nets[i].v6_external |= s.v6_external;
    }
    for inst in &b.instances {
        for nic in &inst.nics {
            let i = add_net(&mut nets, &nic.net);
            nets[i].v6 |= nic.v6;
            nets[i].v6_external |= nic.v6 && !nic.v6_internal_only;
        }
    }
    for fw in &b.firewalls {
        add_net(&mut nets, &fw.net);
    }
    for r in &b.routes {
        add_net(&mut nets, &r.net);
    }
    for p in &b.policies {
        for n in &p.networks {
            add_net(&mut nets, n);
        }
    }
    nets
}

/// The layers for `who` on `net`, in GCP's evaluation order. `region`: only regional policies of
/// that region apply (`None`: none do).
fn chain(b: &GcpBundle, info: &NetInfo, who: &Who, region: Option<&str>) -> Chain {
    let net = &info.net;
    let mut layers: Vec<Layer> = Vec::new();
    // Hierarchical policies apply to every network below their node; the organization's come first.
    for scope in [PolicyScope::Organization, PolicyScope::Folder] {
        for p in b.policies.iter().filter(|p| p.scope == scope) {
            layers.push(policy_layer(p, net, who));
        }
    }
    for p in b
        .policies
        .iter()
        .filter(|p| p.scope == PolicyScope::Ancestry)
    {
        // Given also as an organization / folder policy: that one is already in the chain.
        let given = b
            .policies
            .iter()
            .any(|q| q.scope.hierarchical() && !q.from_effective && q.same_as(p));
        if !given && p.networks.iter().any(|n| n.matches(net)) {
            layers.push(policy_layer(p, net, who));
        }
    }
    let mut network_policies: Vec<Layer> = Vec::new();
    for p in b.policies.iter().filter(|p| p.scope == PolicyScope::Global) {
        if p.networks.iter().any(|n| n.matches(net)) {
            network_policies.push(policy_layer(p, net, who));
        }
    }
    for p in &b.policies {
        if let PolicyScope::Regional(r) = &p.scope {
            if Some(r.as_str()) == region && p.networks.iter().any(|n| n.matches(net)) {
                network_policies.push(policy_layer(p, net, who));
            }
        }
    }
    let vpc = vpc_layer(net, &b.firewalls, who);
    if info.policies_first {
        layers.extend(network_policies);
        layers.push(vpc);
    } else {
        layers.push(vpc);
        layers.extend(network_policies);
    }
    layers.push(implied_layer(net, info.v6));
    Chain { layers }
}

/// The regions whose regional policies are associated with `net`.
fn policy_regions(b: &GcpBundle, net: &NetRef) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in &b.policies {
        if let PolicyScope::Regional(r) = &p.scope {
            if p.networks.iter().any(|n| n.matches(net)) && !out.contains(r) {
                out.push(r.clone());
            }
        }
    }
    out.sort();
    out
}

/// The selectors that rules on `net` name: (suffix for the resource id, selector, who).
fn selectors(b: &GcpBundle, net: &NetRef) -> Vec<(String, String, Who)> {
    let mut out: Vec<(String, String, Who)> = Vec::new();
    let mut push = |label: &str, value: &str, who: Who| {
        let suffix = format!("[{label}:{value}]");
        if !out.iter().any(|(s, _, _)| *s == suffix) {
            out.push((suffix, value.to_string(), who));
        }
    };
    for fw in b
        .firewalls
        .iter()
        .filter(|f| f.egress && !f.disabled && f.net.matches(net))
    {
        for t in &fw.target_tags {
            let who = Who {
                tags: vec![t.clone()],
                ..Who::default()
            };
            push("tag", t, who);
        }
        for sa in &fw.target_sas {
            let who = Who {
                service_accounts: vec![sa.clone()],
                ..Who::default()
            };
            push("sa", sa, who);
        }
    }
    for p in &b.policies {
        let applies = p.scope.hierarchical() || p.networks.iter().any(|n| n.matches(net));
        if !applies {
            continue;
        }
        for r in p.rules.iter().filter(|r| r.egress && !r.disabled) {
            if !r.target_networks.is_empty() && !r.target_networks.iter().any(|t| t.matches(net)) {
                continue;
            }
            for sa in &r.target_sas {
                let who = Who {
                    service_accounts: vec![sa.clone()],
                    ..Who::default()
                };
                push("sa", sa, who);
            }
            for t in &r.target_secure_tags {
                let who = Who {
                    secure_tags: vec![t.clone()],
                    ..Who::default()
                };
                push("securetag", t, who);
            }
        }
    }
    out
}

fn network_targets(b: &GcpBundle, info: &NetInfo, inv: &mut Inventory) {
    let net = &info.net;
    if !info.v6 && !info.subnets_seen {
        // External IPv6 subnets need no network setting, so only the subnets can tell.
        inv.warnings.push(Warning {
            kind: WarningKind::PartialData,
            source: net.name.clone(),
            message: format!(
                "whether network {} has IPv6 subnets is unknown (no subnet listing names it), so its implied IPv6 egress allow (::/0) was not applied; add `gcloud compute networks subnets list --format=json` to judge IPv6",
                net.name
            ),
        });
    }
    for fw in b
        .firewalls
        .iter()
        .filter(|f| f.egress && !f.disabled && f.source.is_some() && f.net.matches(net))
    {
        inv.warnings.push(Warning {
            kind: WarningKind::Approximated,
            source: fw.name.clone(),
            message: format!(
                "the egress rule applies only to packets from {} (`sourceRanges`); without the instance listing their addresses are unknown, so it was judged {}",
                fw.source_text.join(", "),
                if fw.action == crate::model::Action::Allow { "as applying to every instance" } else { "as applying to no instance" }
            ),
        });
    }
    let mut variants: Vec<(String, String, Who)> =
        vec![(String::new(), String::new(), Who::default())];
    variants.extend(selectors(b, net));
    // Regional policies bind only instances of their region: evaluate once per such region, and
    // once (region unset) for instances elsewhere.
    let mut regions: Vec<Option<String>> = vec![None];
    regions.extend(policy_regions(b, net).into_iter().map(Some));
    for region in &regions {
        for (suffix, selector, who) in &variants {
            let mut t = Target::new(
                Provider::Gcp,
                format!("{}{suffix}", net.name),
                "vpc-network",
            );
            t.account = net.project.clone().map(Into::into);
            t.region = region.clone().map(Into::into);
            t.name = Some(net.name.as_str().into());
            if !selector.is_empty() {
                t.selectors.push(selector.clone());
            }
            t.chains.push(chain(b, info, who, region.as_deref()));
            // Every subnet's IPv6 range is internal (ULA): no instance reaches public IPv6.
            let internal6 = info.v6 && info.subnets_seen && !info.v6_external;
            if internal6 {
                t.address_limit = Some(AddrSet::full().difference(public6()));
            }
            t.route = route_info(b, net, &who.tags, info.v6 && !internal6);
            inv.targets.push(t);
        }
    }
}

/// Whether the instance data speaks for `net`: one of its instances is on it, or its project's
/// instances were listed and it has some (then a network without instances has no workload to
/// judge). A project whose listing holds no instance at all (a live scan between deployments)
/// has its networks judged on their own, as CHECKS.md §2 "Targets" says for data without
/// attachments: the rules are there, and the next instance gets them.
fn covered_by_instances(b: &GcpBundle, net: &NetRef) -> bool {
    if !b.instances_loaded {
        return false;
    }
    let used = b
        .instances
        .iter()
        .any(|i| i.nics.iter().any(|n| n.net.matches(net)));
    let has_instances = |project: Option<&String>| {
        b.instances
            .iter()
            .any(|i| project.is_none_or(|p| i.project.as_ref() == Some(p)))
    };
    used || match &net.project {
        Some(p) => b.instance_projects.contains(p) && has_instances(Some(p)),
        None => has_instances(None),
    }
}

pub fn build(b: GcpBundle, inv: &mut Inventory) {
    let nets = networks(&b);
    let net_info = |n: &NetRef| nets.iter().find(|x| x.net.matches(n)).cloned();
    for inst in &b.instances {
        let region = inst.zone.as_deref().map(zone_region);
        let base = match (&inst.project, &inst.zone) {
            (Some(p), Some(z)) => format!("{p}/{z}/{}", inst.name),
            _ => inst.name.clone(),
        };
        for (i, nic) in inst.nics.iter().enumerate() {
            let who = Who {
                tags: inst.tags.clone(),
                service_accounts: inst.service_accounts.clone(),
                secure_tags: Vec::new(),
                // A NIC listed without addresses (a hand-written one) is judged like a network.
                addrs: (!nic.addrs.is_empty()).then(|| nic.addrs.clone()),
            };
            let Some(info) = net_info(&nic.net) else {
                continue;
            };
            let id = if i == 0 {
                base.clone()
            } else {
                format!("{base}/{}", nic.name)
            };
            let mut t = Target::new(Provider::Gcp, id, "instance");
            t.account = inst.project.clone().map(Into::into);
            t.region = region.clone().map(Into::into);
            t.name = Some(inst.name.as_str().into());
            t.labels = inst.labels.clone();
            t.selectors = inst
                .tags
                .iter()
                .chain(&inst.service_accounts)
                .cloned()
                .collect();
            t.chains.push(chain(&b, &info, &who, region.as_deref()));
            t.identity = Identity {
                instance_ids: inst.id.iter().chain([&inst.name]).cloned().collect(),
                interface_ids: vec![format!("{}/{}", inst.name, nic.name)],
                addresses: nic.ips.clone(),
                network: Some(match &nic.net.project {
                    Some(p) => format!("{p}/{}", nic.net.name),
                    None => nic.net.name.clone(),
                }),
            };
            // A NIC sends only in the address families it has an address of.
            // An internal (ULA) IPv6 address reaches no public IPv6 address.
            t.address_limit = if nic.v6_only && nic.v6_internal_only {
                Some(all_v6().difference(public6()))
            } else if nic.v6_only {
                Some(all_v6())
            } else if !nic.v6 {
                Some(all_v4())
            } else if nic.v6_internal_only {
                Some(AddrSet::full().difference(public6()))
            } else {
                None
            };
            t.route = route_info(&b, &info.net, &inst.tags, nic.v6 && !nic.v6_internal_only);
            inv.targets.push(t);
        }
    }
    for info in &nets {
        if !covered_by_instances(&b, &info.net) {
            network_targets(&b, info, inv);
        } else if !b
            .instances
            .iter()
            .any(|i| i.nics.iter().any(|n| n.net.matches(&info.net)))
        {
            inv.warnings.push(Warning {
                kind: WarningKind::NotEvaluated,
                source: info.net.name.clone(),
                message: format!(
                    "network {} has no instance in the instance listing, so no target was built for it; scan without the instance listing to judge the network's rules on their own",
                    info.net.name
                ),
            });
        }
    }
    warnings(&b, inv);
    inv.warnings.extend(b.warnings);
    inv.not_scanned.extend(b.not_scanned);
}

fn warnings(b: &GcpBundle, inv: &mut Inventory) {
    // An instance on a network the network listing does not have (a Shared VPC host project's
    // network, or a listing of another project): that network's rules may be missing.
    if !b.networks.is_empty() {
        let mut seen: Vec<&NetRef> = Vec::new();
        for inst in &b.instances {
            for nic in &inst.nics {
                if b.networks.iter().any(|n| n.net.matches(&nic.net))
                    || seen.iter().any(|s| s.matches(&nic.net))
                {
                    continue;
                }
                seen.push(&nic.net);
                let has_rules = b.firewalls.iter().any(|f| f.net.matches(&nic.net));
                inv.warnings.push(Warning {
                    kind: WarningKind::PartialData,
                    source: nic.net.name.clone(),
                    message: format!(
                        "instance {} ({}) is on network {}{}, which is not in the network listing{}; export the networks and firewall rules of the project that owns it (a Shared VPC host project)",
                        inst.name,
                        nic.name,
                        nic.net.name,
                        nic.net.project.as_deref().map(|p| format!(" of project {p}")).unwrap_or_default(),
                        if has_rules { "" } else { " and no firewall rule in the input names it, so only the implied rules were applied" },
                    ),
                });
            }
        }
    }
    for p in &b.policies {
        if p.rules_missing {
            inv.warnings.push(Warning {
                kind: WarningKind::NotEvaluated,
                source: p.name.clone(),
                message: "the firewall policy has no `rules` in the input, so none of its rules were applied; export it with `gcloud compute network-firewall-policies describe` (or `firewall-policies describe`)".into(),
            });
        }
        if p.scope == PolicyScope::Unassociated {
            inv.warnings.push(Warning {
                kind: WarningKind::NotEvaluated,
                source: p.name.clone(),
                message: "the hierarchical firewall policy has no `associations` in the input, so it was applied to no network; export it with `gcloud compute firewall-policies describe` to include them".into(),
            });
            continue;
        }
        for r in p.rules.iter().filter(|r| r.egress && !r.disabled) {
            let name = policy_rule_name(p, r);
            if !r.unresolved.is_empty() {
                inv.warnings.push(Warning {
                    kind: WarningKind::UnresolvedDestination,
                    source: name.clone(),
                    message: format!(
                        "{} cannot be resolved to addresses offline; the rule is judged on its IP ranges only",
                        r.unresolved.join(", ")
                    ),
                });
            }
            if let Some(n) = &r.dest_network {
                inv.warnings.push(Warning {
                    kind: WarningKind::Approximated,
                    source: name.clone(),
                    message: format!(
                        "the destination network context {n} is judged as {}: Cloud NGFW decides it from the route a packet takes",
                        if n == "INTERNET" { "the public address space (docs/SEMANTICS.md public4 and public6)" } else { "every address outside the public address space" }
                    ),
                });
            }
            if !r.source_conditions.is_empty() {
                inv.warnings.push(Warning {
                    kind: WarningKind::Approximated,
                    source: name.clone(),
                    message: format!(
                        "the egress rule also matches on its source ({}): where an instance's address does not decide it, an allow is judged as applying and a deny as not applying",
                        r.source_conditions.join(", ")
                    ),
                });
            }
            if let Some(group) = &r.inspected {
                inv.warnings.push(Warning {
                    kind: WarningKind::Layer7Inspection,
                    source: name.clone(),
                    message: format!(
                        "`apply_security_profile_group`{}: the matched traffic is judged as allowed; the security profile inspects it for threats or URL categories, which this scan does not evaluate",
                        if group.is_empty() { String::new() } else { format!(" ({group})") }
                    ),
                });
            }
            if b.instances_loaded && !r.target_secure_tags.is_empty() {
                inv.warnings.push(Warning {
                    kind: WarningKind::UnresolvedTarget,
                    source: name,
                    message: format!(
                        "targets secure tags ({}), which instance listings do not show; it was not applied to instances",
                        r.target_secure_tags.join(", ")
                    ),
                });
            }
        }
    }
}
