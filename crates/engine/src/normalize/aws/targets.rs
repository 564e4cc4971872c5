//! Joins everything added into targets: interfaces with their groups and subnet ACL, then the
//! groups and ACLs that no evaluated interface covers.

use super::parse::{DestKind, Eni, Nacl, SecurityGroup};
use super::routes::{combine, Routes};
use super::rules::{nacl_layer, sg_layer, sg_rules};
use super::AwsBundle;
use crate::model::WarningKind;
use crate::model::{AddrSet, Chain, Identity, Layer, Rules, Target, Warning};
use crate::normalize::Inventory;
use crate::normalize::NormalizeError;
use egress_audit_snapshot::Provider;
use std::collections::{BTreeMap, BTreeSet};

fn warn(out: &mut Vec<Warning>, kind: WarningKind, source: &str, message: String) {
    out.push(Warning {
        kind,
        source: source.into(),
        message,
    });
}

pub fn build(mut b: AwsBundle, inv: &mut Inventory) {
    let mut warnings = Vec::new();
    let pls = resolve_prefix_lists(&b, &mut warnings);
    // Groups and ACLs listed without their rules are not evaluated: unknown is not "none".
    for sg in b.sgs.values().filter(|sg| sg.egress_unknown) {
        warn(
            &mut warnings,
            WarningKind::NotEvaluated,
            &sg.id,
            format!(
                "security group {} is listed without its `IpPermissionsEgress` field (a `--query` \
                 projection?), so its egress rules are unknown: it was not evaluated, and interfaces \
                 using it were evaluated without it (export `aws ec2 describe-security-groups` without \
                 --query, or add `aws ec2 describe-security-group-rules`)",
                sg.id
            ),
        );
    }
    for sg in b.sgs.values().filter(|sg| !sg.egress_unknown) {
        for p in &sg.empty_permissions {
            warn(
                &mut warnings,
                WarningKind::UnknownField,
                &sg.id,
                format!(
                    "security group {}: IpPermissionsEgress[{p}] names no destination (no \
                     `IpRanges`, `Ipv6Ranges`, `PrefixListIds` or `UserIdGroupPairs` entry), so it \
                     allows nothing here; if its destinations are under other field names they \
                     were not read",
                    sg.id
                ),
            );
        }
    }
    for n in b.nacls.values().filter(|n| n.entries_unknown) {
        warn(
            &mut warnings,
            WarningKind::NotEvaluated,
            &n.id,
            format!(
                "network ACL {} is listed without its `Entries` field (a `--query` projection?), so \
                 its rules are unknown: it was not evaluated, and neither was the network ACL part of \
                 its subnets' interfaces (export `aws ec2 describe-network-acls` without --query)",
                n.id
            ),
        );
    }
    let sg_rule_map = group_rules(&mut b.sgs, &pls, &mut warnings);
    let vpc_regions = vpc_regions(&b);
    // An instance stands in for its interfaces only when none of them is listed.
    let with_listed_enis: BTreeSet<String> = b
        .enis
        .values()
        .filter(|e| e.kind != "instance")
        .filter_map(|e| e.instance_id.clone())
        .collect();
    // Each interface is dropped once its target is made, rather than held beside all targets.
    let enis = std::mem::take(&mut b.enis);
    let nacl_layers: BTreeMap<&str, Layer> = b
        .nacls
        .values()
        .filter(|n| !n.entries_unknown)
        .map(|n| (n.id.as_str(), nacl_layer(n)))
        .collect();
    let routes = Routes::new(b.loaded.contains("route-tables"), &b.route_tables, &pls);
    let acls = Acls::new(&b);

    let mut attached: BTreeSet<&str> = BTreeSet::new();
    let mut covered_nacls: BTreeSet<&str> = BTreeSet::new();
    let mut unions = Unions::new(&sg_rule_map);
    // Said once per subnet, not once per interface in it.
    let mut acl_gaps: BTreeSet<Warning> = BTreeSet::new();
    for eni in enis
        .into_values()
        .filter(|e| !(e.kind == "instance" && with_listed_enis.contains(&e.id)))
    {
        if eni.groups.is_empty() {
            warn(
                &mut warnings,
                WarningKind::NotEvaluated,
                &eni.id,
                format!(
                    "network interface {} ({}) has no security groups: it is a managed interface \
                     (such as a NAT gateway's) whose traffic is not a workload's; not evaluated",
                    eni.id,
                    eni.interface_type.as_deref().unwrap_or("interface")
                ),
            );
            continue;
        }
        let vpc = eni.vpc_id.as_deref().or_else(|| {
            let s = b.subnets.get(eni.subnet_id.as_deref()?)?;
            s.vpc_id.as_deref()
        });
        let mut t = Target::new(Provider::Aws, &eni.id, eni.kind);
        t.account = eni.scope.account.clone().map(Into::into);
        t.region = eni
            .scope
            .region
            .clone()
            .or_else(|| vpc.and_then(|v| vpc_regions.get(v).cloned()))
            .map(Into::into);
        name_and_labels(&b, &eni, &mut t);
        t.identity = Identity {
            instance_ids: eni.instance_id.iter().cloned().collect(),
            interface_ids: if eni.kind == "instance" {
                Vec::new()
            } else {
                vec![eni.id.clone()]
            },
            addresses: eni.addresses.clone(),
            network: vpc.map(str::to_string),
        };
        // An interface without an IPv6 address sends no IPv6, whatever `::/0` rules allow.
        t.address_limit = eni.family.limit();

        for g in &eni.groups {
            if let Some((id, _)) = b.sgs.get_key_value(g) {
                attached.insert(id);
            }
            match sg_rule_map.get(g.as_str()) {
                Some(_) => {}
                None if b.sgs.contains_key(g) => warn(
                    &mut warnings,
                    WarningKind::PartialData,
                    &eni.id,
                    format!(
                        "{} uses security group {g}, whose egress rules are not in the input (it is \
                         listed without `IpPermissionsEgress`): this result may miss egress it allows",
                        eni.id
                    ),
                ),
                None => warn(
                    &mut warnings,
                    WarningKind::PartialData,
                    &eni.id,
                    format!(
                        "{} uses security group {g}, which is not in the input (add the output of \
                         `aws ec2 describe-security-groups`): its rules were not evaluated, so this \
                         result may miss egress it allows",
                        eni.id
                    ),
                ),
            }
        }
        t.chains.push(Chain {
            layers: vec![sg_layer(eni.groups.join(","), unions.of(&eni.groups))],
        });
        match acls.of_subnet(eni.subnet_id.as_deref(), vpc) {
            Ok(n) => {
                covered_nacls.insert(&n.id);
                t.chains.push(Chain {
                    layers: vec![nacl_layers[n.id.as_str()].clone()],
                });
            }
            Err(reason) => {
                let source = eni.subnet_id.as_deref().unwrap_or(&eni.id);
                acl_gaps.insert(Warning {
                    kind: WarningKind::PartialData,
                    source: source.into(),
                    message: format!(
                        "the network ACL part was not evaluated for the interfaces in {source} \
                         (only their security groups were): {reason}"
                    ),
                });
            }
        }
        t.route = routes.for_subnet(eni.subnet_id.as_deref(), vpc, t.address_limit.as_ref());
        inv.targets.push(t);
    }
    warnings.extend(acl_gaps);

    // Groups and ACLs that no interface covers are evaluated on their own: they may be attached
    // later, and without attachment data they are all there is.
    for sg in b
        .sgs
        .values()
        .filter(|sg| !attached.contains(sg.id.as_str()) && !sg.egress_unknown)
    {
        let mut t = Target::new(Provider::Aws, &sg.id, "security-group");
        t.account = sg.scope.account.clone().map(Into::into);
        t.region = sg
            .scope
            .region
            .clone()
            .or_else(|| {
                sg.vpc_id
                    .as_deref()
                    .and_then(|v| vpc_regions.get(v).cloned())
            })
            .map(Into::into);
        t.name = sg.name.clone().map(Into::into);
        t.labels = sg.tags.clone();
        t.chains.push(Chain {
            layers: vec![sg_layer(sg.id.clone(), sg_rule_map[sg.id.as_str()].clone())],
        });
        inv.targets.push(t);
    }
    for n in b
        .nacls
        .values()
        .filter(|n| !covered_nacls.contains(n.id.as_str()) && !n.entries_unknown)
    {
        let mut t = Target::new(Provider::Aws, &n.id, "network-acl");
        t.account = n.scope.account.clone().map(Into::into);
        t.region = n
            .scope
            .region
            .clone()
            .or_else(|| {
                n.vpc_id
                    .as_deref()
                    .and_then(|v| vpc_regions.get(v).cloned())
            })
            .map(Into::into);
        t.name = n.tags.get("Name").cloned().map(Into::into);
        t.labels = n.tags.clone();
        t.chains.push(Chain {
            layers: vec![nacl_layers[n.id.as_str()].clone()],
        });
        t.route = combine(
            n.subnets
                .iter()
                .map(|s| routes.for_subnet(Some(s), n.vpc_id.as_deref(), None))
                .collect(),
        );
        inv.targets.push(t);
    }
    inv.warnings.extend(warnings);
}

/// Each evaluated group's rules, made once: every target with the group shares them. A group's
/// permissions are freed as its rules are made, so that a large estate's raw data and its rules
/// are not all held at once.
fn group_rules(
    sgs: &mut BTreeMap<String, SecurityGroup>,
    pls: &BTreeMap<String, AddrSet>,
    warnings: &mut Vec<Warning>,
) -> BTreeMap<String, Rules> {
    sgs.values_mut()
        .filter(|sg| !sg.egress_unknown)
        .map(|sg| {
            let rules = Rules::from(sg_rules(sg, pls, warnings));
            sg.egress = Vec::new();
            (sg.id.clone(), rules)
        })
        .collect()
}

/// The security-group layer's rules of an interface: the union of its groups' rules, in the order
/// it lists them. One group's are its shared list; several groups' are concatenated once per
/// distinct list of groups (interfaces of one role share theirs).
struct Unions<'a> {
    by_group: &'a BTreeMap<String, Rules>,
    made: BTreeMap<Box<[String]>, Rules>,
}

impl<'a> Unions<'a> {
    fn new(by_group: &'a BTreeMap<String, Rules>) -> Self {
        Unions {
            by_group,
            made: BTreeMap::new(),
        }
    }

    /// Groups not in the input add no rule (the caller warns about them).
    fn of(&mut self, groups: &[String]) -> Rules {
        let mut known = groups.iter().filter_map(|g| self.by_group.get(g.as_str()));
        match (known.next(), known.next()) {
            (None, _) => Rules::default(),
            (Some(only), None) => only.clone(),
            (Some(_), Some(_)) => {
                if let Some(made) = self.made.get(groups) {
                    return made.clone();
                }
                let union: Rules = groups
                    .iter()
                    .filter_map(|g| self.by_group.get(g.as_str()))
                    .flat_map(|r| r.iter().cloned())
                    .collect();
                self.made.insert(groups.into(), union.clone());
                union
            }
        }
    }
}

/// `Name (i-…)` from the instance, else the interface's own Name tag or description.
fn name_and_labels(b: &AwsBundle, eni: &Eni, t: &mut Target) {
    let inst = eni.instance_id.as_deref().and_then(|i| b.instances.get(i));
    if let Some(i) = inst {
        t.labels.extend(i.tags.clone());
    }
    t.labels.extend(eni.tags.clone());
    let own = eni
        .tags
        .get("Name")
        .cloned()
        .or_else(|| eni.description.clone());
    let inst_name = inst.and_then(|i| i.tags.get("Name").cloned());
    t.name = match (eni.instance_id.as_deref(), inst_name.or(own)) {
        (Some(id), _) if eni.kind == "instance" => inst
            .and_then(|i| i.tags.get("Name").cloned())
            .or(Some(id.to_string()))
            .map(Into::into),
        (Some(id), Some(n)) => Some(format!("{n} ({id})").into()),
        (Some(id), None) => Some(id.into()),
        (None, n) => n.map(Into::into),
    };
}

/// Which network ACL a subnet uses.
struct Acls<'a> {
    loaded: bool,
    by_subnet: BTreeMap<&'a str, &'a Nacl>,
    default_by_vpc: BTreeMap<&'a str, &'a Nacl>,
}

impl<'a> Acls<'a> {
    fn new(b: &'a AwsBundle) -> Self {
        let mut a = Acls {
            loaded: b.loaded.contains("network-acls"),
            by_subnet: BTreeMap::new(),
            default_by_vpc: BTreeMap::new(),
        };
        for n in b.nacls.values() {
            for s in &n.subnets {
                a.by_subnet.entry(s).or_insert(n);
            }
            if let (true, Some(v)) = (n.is_default, n.vpc_id.as_deref()) {
                a.default_by_vpc.entry(v).or_insert(n);
            }
        }
        a
    }

    /// An explicit association, else the VPC's default ACL.
    fn of_subnet(
        &self,
        subnet: Option<&str>,
        vpc: Option<&str>,
    ) -> Result<&'a Nacl, NormalizeError> {
        if !self.loaded {
            return Err("no `aws ec2 describe-network-acls` output was given".into());
        }
        let subnet = subnet.ok_or("the interface names no subnet")?;
        let n = match self.by_subnet.get(subnet) {
            Some(n) => n,
            None => {
                let vpc = vpc.ok_or_else(|| {
                    format!("no network ACL lists {subnet}, and its VPC is not known (add `aws ec2 describe-subnets`)")
                })?;
                self.default_by_vpc.get(vpc).copied().ok_or_else(|| {
                    format!("no network ACL lists {subnet}, and the default network ACL of {vpc} is not in the input")
                })?
            }
        };
        if n.entries_unknown {
            return Err(format!("its network ACL {} is listed without its `Entries`", n.id).into());
        }
        Ok(n)
    }
}

/// VPC → region, from anything in it that knows its zone or scope.
fn vpc_regions(b: &AwsBundle) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let subnets = b.subnets.values().map(|s| (s.vpc_id.as_ref(), &s.scope));
    let enis = b.enis.values().map(|e| (e.vpc_id.as_ref(), &e.scope));
    let vpcs = b.vpcs.iter().map(|(id, s)| (Some(id), s));
    for (vpc, scope) in subnets.chain(enis).chain(vpcs) {
        if let (Some(v), Some(r)) = (vpc, &scope.region) {
            out.entry(v.clone()).or_insert_with(|| r.clone());
        }
    }
    out
}

/// Prefix-list id → addresses, from inline `Cidrs`, entries with their id, and an entries output
/// without id when exactly one known prefix list lacks entries.
fn resolve_prefix_lists(b: &AwsBundle, warnings: &mut Vec<Warning>) -> BTreeMap<String, AddrSet> {
    let mut out = b.pl_entries.clone();
    for p in b.prefix_lists.values() {
        if let Some(c) = &p.cidrs {
            let e = out.entry(p.id.clone()).or_default();
            *e = e.union(c);
        }
    }
    let Some((file, set)) = &b.anonymous_entries else {
        return out;
    };
    let referenced = b.sgs.values().flat_map(|sg| {
        sg.egress.iter().flat_map(|p| {
            p.dests
                .iter()
                .filter(|d| matches!(d.kind, DestKind::PrefixList))
                .map(|d| d.text.as_str())
        })
    });
    // AWS-managed lists (S3, DynamoDB…) appear in every `describe-managed-prefix-lists` output;
    // they count only when a group names them.
    let own = b
        .prefix_lists
        .values()
        .filter(|p| p.owner.as_deref() != Some("AWS"))
        .map(|p| p.id.as_str());
    let known: BTreeSet<&str> = own.chain(referenced).collect();
    let lacking: Vec<&str> = known
        .into_iter()
        .filter(|id| !out.contains_key(*id))
        .collect();
    if let [only] = lacking[..] {
        warn(
            warnings,
            WarningKind::InferredPrefixList,
            file,
            format!(
                "these prefix-list entries name no prefix list; they were taken as the entries of \
                 {only}, the only prefix list (customer-managed, or named by a security group) without entries (save them as \
                 {{\"PrefixListId\": \"{only}\", \"Entries\": [...]}} to say so)"
            ),
        );
        out.insert(only.to_string(), set.clone());
    } else {
        let which = if lacking.is_empty() {
            "no prefix list in the input lacks entries".to_string()
        } else {
            format!(
                "{} prefix lists lack entries ({})",
                lacking.len(),
                lacking.join(", ")
            )
        };
        warn(
            warnings,
            WarningKind::UnattributedEntries,
            file,
            format!(
                "this `get-managed-prefix-list-entries` output names no prefix list and {which}, \
                 so its entries were not used; save it as {{\"PrefixListId\": \"pl-…\", \"Entries\": [...]}}"
            ),
        );
    }
    out
}
