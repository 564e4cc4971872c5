//! Firewall policies: hierarchical (organization / folder) and network (global / regional), with
//! their egress rules, from `gcloud compute firewall-policies describe` and
//! `gcloud compute network-firewall-policies list | describe`.

use super::parse::{parse_l4, parse_ranges, L4};
use super::urls::{last_segment, segment_after, NetRef};
use crate::model::space::public;
use crate::model::{Action, AddrSet};
use crate::normalize::fields::{
    obj_list, opt_bool, opt_int_in, opt_str, req_str, str_list, FieldError,
};
use crate::normalize::NormalizeError;
use serde_json::Value;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PolicyScope {
    /// Hierarchical policy attached to the organization.
    Organization,
    /// Hierarchical policy attached to a folder.
    Folder,
    /// Hierarchical policy associated with no node: it applies nowhere.
    Unassociated,
    /// Global network firewall policy.
    Global,
    /// Regional network firewall policy.
    Regional(String),
    /// Hierarchical policy from a network's effective firewalls (`networks.getEffectiveFirewalls`,
    /// type `HIERARCHY`): it applies to the networks in `Policy::networks`, after the
    /// organization's and folders' policies given as resources, in the order the API listed them.
    Ancestry,
}

impl Policy {
    /// The same policy: by its resource name (the number of a hierarchical one) or its short name.
    pub fn same_as(&self, other: &Policy) -> bool {
        self.id == other.id || self.name == other.name
    }
}

impl PolicyScope {
    /// A global or regional network firewall policy.
    pub fn is_network(&self) -> bool {
        matches!(self, PolicyScope::Global | PolicyScope::Regional(_))
    }

    pub fn hierarchical(&self) -> bool {
        matches!(self, PolicyScope::Organization | PolicyScope::Folder)
    }
}

#[derive(Clone, Debug)]
pub struct PolicyRule {
    pub priority: i64,
    pub action: Action,
    pub egress: bool,
    pub disabled: bool,
    pub l4: Vec<L4>,
    pub dest_text: Vec<String>,
    pub dest: AddrSet,
    /// FQDNs, region codes, threat lists and address groups: not resolvable offline.
    pub unresolved: Vec<String>,
    pub target_sas: Vec<String>,
    pub target_secure_tags: Vec<String>,
    /// `targetResources`: the rule applies only to these networks (empty: all).
    pub target_networks: Vec<NetRef>,
    /// `apply_security_profile_group`: allowed on to a Cloud NGFW endpoint for layer-7 inspection
    /// (the security profile group's name).
    pub inspected: Option<String>,
    /// `destNetworkType` / `destNetworkContext` (`INTERNET`, `NON_INTERNET`): a condition every
    /// matched packet must meet on top of its other destination fields.
    pub dest_network: Option<String>,
    /// Source conditions of an egress rule (`srcIpRanges`, `srcSecureTags`, …): the rule is
    /// judged as if every source matched them.
    pub source_conditions: Vec<String>,
    /// `srcIpRanges` of an egress rule, matched against an instance's addresses.
    pub source: Option<AddrSet>,
    /// Source conditions other than `srcIpRanges`, which cannot be matched offline.
    pub source_unresolved: bool,
}

#[derive(Clone, Debug)]
pub struct Policy {
    /// `shortName` / `displayName` of a hierarchical policy (its `name` is a number), else `name`.
    pub name: String,
    /// The resource's own `name` (a number for a hierarchical policy): what an effective-firewalls
    /// response names it by, as gcloud leaves the short name out there.
    pub id: String,
    /// Read from an effective-firewalls response rather than from the policy's own export.
    pub from_effective: bool,
    pub project: Option<String>,
    pub scope: PolicyScope,
    /// Networks it is associated with (network policies).
    pub networks: Vec<NetRef>,
    pub rules: Vec<PolicyRule>,
    /// The input had no `rules` field at all (a listing that leaves them out), as opposed to
    /// an empty list: the policy's rules are unknown.
    pub rules_missing: bool,
}

pub fn policy(v: &Value, at: &str) -> Result<Policy, NormalizeError> {
    let id = req_str(v, "name", &format!("firewall policy {at}"))?;
    let short = opt_str(v, "shortName", "firewall policy")?
        .or(opt_str(v, "displayName", "firewall policy")?)
        .filter(|s| !s.is_empty());
    let what = format!("firewall policy `{}` ({at})", short.unwrap_or(id));
    let self_link = opt_str(v, "selfLink", &what)?.unwrap_or("");
    let parent = opt_str(v, "parent", &what)?.unwrap_or("");
    let assoc = obj_list(v, "associations", &what)?;
    let mut targets = Vec::new();
    for (i, a) in assoc.iter().enumerate() {
        let aw = format!("{what}: `associations[{i}]`");
        targets.push(req_str(a, "attachmentTarget", &aw)?.to_string());
    }
    let org_or_folder = |s: &str| s.contains("organizations/") || s.contains("folders/");
    let hierarchical = !parent.is_empty()
        || self_link.contains("/locations/global/firewallPolicies/")
        || targets.iter().any(|t| org_or_folder(t));
    // A hierarchical policy binds where it is associated, not where it lives (`parent`): a policy
    // kept in the organization may be associated with a folder only.
    let scope = if hierarchical {
        if targets.iter().any(|t| t.contains("organizations/")) {
            PolicyScope::Organization
        } else if targets.iter().any(|t| t.contains("folders/")) {
            PolicyScope::Folder
        } else {
            PolicyScope::Unassociated
        }
    } else if let Some(r) = opt_str(v, "region", &what)?
        .map(last_segment)
        .or_else(|| segment_after(self_link, "regions"))
    {
        PolicyScope::Regional(r.to_string())
    } else {
        PolicyScope::Global
    };
    let networks = if hierarchical {
        Vec::new()
    } else {
        targets.iter().map(|t| NetRef::parse(t)).collect()
    };
    // Hierarchical policies are named by number; their short name is what users know.
    let name = if hierarchical {
        short.unwrap_or(id)
    } else {
        id
    }
    .to_string();
    let rules = obj_list(v, "rules", &what)?
        .iter()
        .enumerate()
        .map(|(i, r)| policy_rule(r, &format!("{what}: `rules[{i}]`")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Policy {
        project: segment_after(self_link, "projects").map(str::to_string),
        id: id.to_string(),
        from_effective: false,
        name,
        scope,
        networks,
        rules,
        rules_missing: v.get("rules").is_none_or(Value::is_null),
    })
}

fn policy_rule(v: &Value, what: &str) -> Result<PolicyRule, NormalizeError> {
    // Policy rule priorities are non-negative 32-bit integers.
    let priority = opt_int_in(v, "priority", what, (0, i32::MAX as i64))?
        .ok_or_else(|| FieldError::missing(what, "priority", "a whole number"))?;
    let what = &format!("{what} (priority {priority})");
    let action_text = req_str(v, "action", what)?;
    let action_lower = action_text.to_ascii_lowercase();
    // Inspection blocks threats and URL categories, not destinations: for egress control the
    // matched traffic is allowed (and the build warns that a layer-7 profile also sees it).
    let inspected = (action_lower == "apply_security_profile_group").then(|| {
        opt_str(v, "securityProfileGroup", what)
            .ok()
            .flatten()
            .map(|g| last_segment(g).to_string())
            .unwrap_or_default()
    });
    let action = match action_lower.as_str() {
        "allow" | "apply_security_profile_group" => Action::Allow,
        "deny" => Action::Deny,
        "goto_next" => Action::Next,
        other => {
            return Err(format!(
                "{what}: `action` is {other:?}, expected allow, deny, goto_next or apply_security_profile_group"
            ).into())
        }
    };
    let direction = opt_str(v, "direction", what)?.unwrap_or("INGRESS");
    if !["INGRESS", "EGRESS"]
        .iter()
        .any(|d| d.eq_ignore_ascii_case(direction))
    {
        return Err(
            format!("{what}: `direction` is {direction:?}, expected INGRESS or EGRESS").into(),
        );
    }
    let m = match v.get("match") {
        Some(m @ Value::Object(_)) => m,
        _ => return Err(format!("{what}: the object `match` is missing").into()),
    };
    let mw = format!("{what}: `match`");
    let l4 = obj_list(m, "layer4Configs", &mw)?
        .iter()
        .enumerate()
        .map(|(i, e)| {
            parse_l4(
                e,
                "ipProtocol",
                "IPProtocol",
                &format!("{mw}.layer4Configs[{i}]"),
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    let dest_text = str_list(m, "destIpRanges", &mw)?;
    let mut unresolved = Vec::new();
    for (field, label) in [
        ("destFqdns", "fqdn"),
        ("destRegionCodes", "region"),
        ("destThreatIntelligences", "threat-intelligence"),
        ("destAddressGroups", "address-group"),
    ] {
        for x in str_list(m, field, &mw)? {
            unresolved.push(format!("{label}:{x}"));
        }
    }
    // No destination at all matches every address; symbolic ones alone match what they resolve to.
    let mut dest = if !dest_text.is_empty() {
        parse_ranges(&dest_text, "destIpRanges", &mw)?
    } else if unresolved.is_empty() {
        AddrSet::full()
    } else {
        AddrSet::empty()
    };
    // A network context narrows the other destination fields (a packet must match both): the
    // internet context is the public address space, the others are everything but it. A deny
    // of `0.0.0.0/0` in the non-internet context denies no public traffic.
    let mut dest_network = None;
    // `destNetworkScope` is the beta API's name for it.
    for field in ["destNetworkType", "destNetworkContext", "destNetworkScope"] {
        let Some(ctx) = opt_str(m, field, &mw)? else {
            continue;
        };
        let upper = ctx.to_ascii_uppercase();
        let narrowed = match upper.as_str() {
            "UNSPECIFIED" | "" => continue,
            "INTERNET" => dest.intersect(public()),
            "NON_INTERNET" | "VPC_NETWORKS" | "INTRA_VPC" => dest.difference(public()),
            _ => {
                return Err(format!(
                    "{mw}: `{field}` is {ctx:?}, expected INTERNET or NON_INTERNET"
                )
                .into())
            }
        };
        if dest_network.as_ref().is_some_and(|d| *d != upper) {
            return Err(format!(
                "{mw}: `{field}` is {ctx:?}, which another destination network field contradicts"
            )
            .into());
        }
        dest_network = Some(upper);
        dest = narrowed;
    }
    let egress = direction.eq_ignore_ascii_case("EGRESS");
    let mut source_conditions = Vec::new();
    let mut source = None;
    if egress {
        let src = str_list(m, "srcIpRanges", &mw)?;
        if !src.is_empty() {
            source = Some(parse_ranges(&src, "srcIpRanges", &mw)?);
        }
        for field in [
            "srcIpRanges",
            "srcFqdns",
            "srcRegionCodes",
            "srcThreatIntelligences",
            "srcAddressGroups",
        ] {
            if !str_list(m, field, &mw)?.is_empty() {
                source_conditions.push(field.to_string());
            }
        }
        if !obj_list(m, "srcSecureTags", &mw)?.is_empty() {
            source_conditions.push("srcSecureTags".to_string());
        }
        if !str_list(m, "srcNetworks", &mw)?.is_empty() {
            source_conditions.push("srcNetworks".to_string());
        }
        for field in ["srcNetworkType", "srcNetworkContext", "srcNetworkScope"] {
            if opt_str(m, field, &mw)?.is_some_and(|x| !x.eq_ignore_ascii_case("UNSPECIFIED")) {
                source_conditions.push(field.to_string());
            }
        }
    }
    let target_secure_tags = obj_list(v, "targetSecureTags", what)?
        .iter()
        .enumerate()
        .map(|(i, t)| {
            req_str(t, "name", &format!("{what}: `targetSecureTags[{i}]`")).map(str::to_string)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(PolicyRule {
        priority,
        action,
        egress,
        disabled: opt_bool(v, "disabled", what)?.unwrap_or(false),
        l4,
        dest_text,
        dest,
        unresolved,
        target_sas: str_list(v, "targetServiceAccounts", what)?,
        target_secure_tags,
        target_networks: str_list(v, "targetResources", what)?
            .iter()
            .map(|t| NetRef::parse(t))
            .collect(),
        inspected,
        dest_network,
        source_unresolved: source_conditions.iter().any(|c| c != "srcIpRanges"),
        source_conditions,
        source,
    })
}

/// One `firewallPolicys[i]` entry of a `networks.getEffectiveFirewalls` response with
/// `type: HIERARCHY`, bound to `network` (egress-audit's collector adds the network's URL;
/// gcloud's output has none, and the caller then binds the policy to every network).
pub fn effective_hierarchy(
    v: &Value,
    network: Option<NetRef>,
    at: &str,
) -> Result<Policy, NormalizeError> {
    let mut p = policy(v, at)?;
    let short = opt_str(v, "shortName", "firewall policy")?
        .or(opt_str(v, "displayName", "firewall policy")?)
        .filter(|s| !s.is_empty());
    if let Some(s) = short {
        p.name = s.to_string();
    }
    p.project = network.as_ref().and_then(|n| n.project.clone());
    p.scope = PolicyScope::Ancestry;
    p.from_effective = true;
    p.networks = network.into_iter().collect();
    Ok(p)
}
