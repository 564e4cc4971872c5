//! Network security groups: outbound rules read from either shape, Azure's fixed default rules,
//! and the resolution of destinations (CIDRs, `Internet`, `VirtualNetwork`, service tags, ASGs)
//! into traffic sets.

use super::service_tags::ServiceTags;
use super::shape::{array_field, field, id_key, id_name, opt_str, ref_ids, req_str};
use crate::model::space::{
    all_v4, all_v6, parse_addrs, parse_proto_named, public, PortSet, ICMP, ICMPV6,
};
use crate::model::RuleText;
use crate::model::WarningKind;
use crate::model::{Action, AddrSet, Layer, LayerKind, Rule, TrafficSet, Warning};
use crate::normalize::fields::FieldError;
use crate::normalize::NormalizeError;
use serde_json::Value;
use std::collections::BTreeMap;

/// One NSG as read, with its outbound rules in evaluation order (defaults included).
#[derive(Clone, Debug)]
pub struct Nsg {
    pub id: String,
    pub name: String,
    pub account: Option<String>,
    pub region: Option<String>,
    pub tags: BTreeMap<String, String>,
    /// Subnets and NICs the NSG says it is attached to (lower-cased ids).
    pub subnets: Vec<String>,
    pub nics: Vec<String>,
    pub rules: Vec<RawRule>,
    /// Outbound rules that share a priority (Azure refuses this, so the export is damaged or
    /// hand-made): `(priority, rule names in the order they are evaluated)`.
    pub priority_ties: Vec<(i64, Vec<String>)>,
    /// Listed default rules whose priority is not Azure's fixed one: `(rule, priority as
    /// written)`. Azure's own default rules are evaluated at their fixed priority regardless.
    pub default_priorities_ignored: Vec<(String, i64)>,
    /// Whether the item has a `securityRules` field at all (even `null` or empty): summary
    /// listings (`az resource list`) leave it out, so its rules are unknown.
    pub rules_listed: bool,
}

/// An outbound security rule as written, validated but not yet resolved (service tags resolve only
/// once every input and option is known).
#[derive(Clone, Debug)]
pub struct RawRule {
    pub name: String,
    pub priority: i64,
    pub action: Action,
    /// `None` = every protocol.
    pub protocol: Option<u8>,
    /// `None` = every port.
    pub ports: Option<PortSet>,
    pub destinations: Vec<String>,
    /// Destination application security groups (ids as written).
    pub destination_asgs: Vec<String>,
    pub sources: Vec<String>,
    /// Source application security groups (ids as written).
    pub source_asgs: Vec<String>,
    pub synthetic: bool,
}

/// Azure's fixed default outbound rules; they exist on every NSG whether the input lists them or not.
fn default_rules() -> Vec<RawRule> {
    let rule = |name: &str, priority, action, dest: &str, source: &str| RawRule {
        name: name.into(),
        priority,
        action,
        protocol: None,
        ports: None,
        destinations: vec![dest.into()],
        destination_asgs: Vec::new(),
        sources: vec![source.into()],
        source_asgs: Vec::new(),
        synthetic: true,
    };
    vec![
        rule(
            "AllowVnetOutBound",
            65000,
            Action::Allow,
            "VirtualNetwork",
            "VirtualNetwork",
        ),
        rule(
            "AllowInternetOutBound",
            65001,
            Action::Allow,
            "Internet",
            "*",
        ),
        rule("DenyAllOutBound", 65500, Action::Deny, "*", "*"),
    ]
}

/// Reads one NSG item of either shape.
pub fn parse_nsg(item: &Value, fallback_account: Option<&str>) -> Result<Nsg, NormalizeError> {
    let name = super::shape::name_of(item, "NSG")?.to_string();
    let what = format!("NSG {name}");
    let id = opt_str(item, "id", &what)?.unwrap_or(&name).to_string();
    let has_key = |o: &Value, k: &str| {
        o.as_object()
            .is_some_and(|m| m.keys().any(|x| x.eq_ignore_ascii_case(k)))
    };
    // The default rules alone do not say what the NSG's own rules are.
    let rules_listed = has_key(item, "securityRules")
        || item
            .get("properties")
            .is_some_and(|p| has_key(p, "securityRules"));
    let mut rules = Vec::new();
    for r in array_field(item, "securityRules", &what)? {
        if let Some(rule) = parse_rule(r, &name, false)? {
            rules.push(rule);
        }
    }
    let mut defaults = Vec::new();
    for r in array_field(item, "defaultSecurityRules", &what)? {
        if let Some(rule) = parse_rule(r, &name, true)? {
            defaults.push(rule);
        }
    }
    // The input's defaults are used when present, but their absence never changes semantics;
    // nor does a priority written differently: Azure's default rules cannot be changed.
    let mut default_priorities_ignored = Vec::new();
    for d in default_rules() {
        match defaults
            .iter_mut()
            .find(|x| x.name.eq_ignore_ascii_case(&d.name))
        {
            Some(listed) if listed.priority != d.priority => {
                default_priorities_ignored.push((listed.name.clone(), listed.priority));
                listed.priority = d.priority;
            }
            Some(_) => {}
            None => defaults.push(d),
        }
    }
    rules.extend(defaults);
    // Stable: equal priorities (invalid in Azure) keep the input's order, a listed rule before a
    // default one; the caller warns about them.
    rules.sort_by_key(|r| (r.priority, r.synthetic));
    let mut priority_ties: Vec<(i64, Vec<String>)> = Vec::new();
    for w in rules.windows(2) {
        if w[0].priority != w[1].priority {
            continue;
        }
        match priority_ties.last_mut() {
            Some((p, names)) if *p == w[0].priority => names.push(w[1].name.clone()),
            _ => priority_ties.push((w[0].priority, vec![w[0].name.clone(), w[1].name.clone()])),
        }
    }
    Ok(Nsg {
        account: super::shape::subscription(&id).or(fallback_account.map(str::to_string)),
        region: opt_str(item, "location", &what)?.map(str::to_string),
        tags: super::shape::tags(item),
        subnets: ref_ids(item, "subnets", &what)?
            .into_iter()
            .map(id_key)
            .collect(),
        nics: ref_ids(item, "networkInterfaces", &what)?
            .into_iter()
            .map(id_key)
            .collect(),
        id,
        name,
        rules,
        priority_ties,
        default_priorities_ignored,
        rules_listed,
    })
}

/// Reads one security rule; inbound rules are skipped (`None`).
pub fn parse_rule(
    r: &Value,
    nsg: &str,
    synthetic: bool,
) -> Result<Option<RawRule>, NormalizeError> {
    let rule_name =
        super::shape::name_of(r, "security rule").map_err(|e| format!("NSG {nsg}: {e}"))?;
    let what = format!("NSG {nsg} rule {rule_name}");
    let direction = req_str(r, "direction", &what)?;
    if direction.eq_ignore_ascii_case("inbound") {
        return Ok(None);
    }
    if !direction.eq_ignore_ascii_case("outbound") {
        return Err(
            format!("{what}: field `direction` is {direction:?}, not Inbound or Outbound").into(),
        );
    }
    let access = req_str(r, "access", &what)?;
    let action = if access.eq_ignore_ascii_case("allow") {
        Action::Allow
    } else if access.eq_ignore_ascii_case("deny") {
        Action::Deny
    } else {
        return Err(format!("{what}: field `access` is {access:?}, not Allow or Deny").into());
    };
    let priority = match field(r, "priority") {
        None => return Err(FieldError::missing(&what, "priority", "a whole number").into()),
        Some(v @ Value::Number(n)) => n
            .as_i64()
            .ok_or_else(|| FieldError::invalid(&what, "priority", v, "is not a whole number"))?,
        Some(Value::String(s)) => s.trim().parse().map_err(|_| {
            FieldError::invalid(&what, "priority", format!("{s:?}"), "is not a whole number")
        })?,
        Some(other) => {
            return Err(FieldError::wrong_type(&what, "priority", "a whole number", other).into())
        }
    };
    let protocol = parse_proto_named(
        req_str(r, "protocol", &what)?,
        // `Any` is how the portal shows `*`.
        &["*", "any", "tcp", "udp", "icmp", "esp", "ah"],
    )
    .map_err(|e| format!("{what}: field `protocol`: {e}"))?;
    let ports = parse_ports(r, &what)?;
    let destinations = strings(
        r,
        "destinationAddressPrefix",
        "destinationAddressPrefixes",
        &what,
    )?;
    for d in &destinations {
        check_prefix(d).map_err(|e| format!("{what}: destination {d:?}: {e}"))?;
    }
    let destination_asgs: Vec<String> = ref_ids(r, "destinationApplicationSecurityGroups", &what)?
        .into_iter()
        .map(str::to_string)
        .collect();
    if destinations.is_empty() && destination_asgs.is_empty() {
        return Err(format!(
            "{what}: none of `destinationAddressPrefix`, `destinationAddressPrefixes`, \
             `destinationApplicationSecurityGroups` is set"
        )
        .into());
    }
    let sources = strings(r, "sourceAddressPrefix", "sourceAddressPrefixes", &what)?;
    for s in &sources {
        check_prefix(s).map_err(|e| format!("{what}: source {s:?}: {e}"))?;
    }
    let source_asgs: Vec<String> = ref_ids(r, "sourceApplicationSecurityGroups", &what)?
        .into_iter()
        .map(str::to_string)
        .collect();
    // Azure requires a source on every rule (`*` for any); without one the rule's reach is
    // unknown, and taking it to apply everywhere or nowhere would both be a guess.
    if sources.is_empty() && source_asgs.is_empty() {
        return Err(format!(
            "{what}: none of `sourceAddressPrefix`, `sourceAddressPrefixes`, \
             `sourceApplicationSecurityGroups` is set (an empty string is not a source)"
        )
        .into());
    }
    Ok(Some(RawRule {
        name: rule_name.to_string(),
        priority,
        action,
        protocol,
        ports,
        destinations,
        destination_asgs,
        sources,
        source_asgs,
        synthetic,
    }))
}

/// `destinationPortRange` and `destinationPortRanges`, unioned; `None` = every port.
fn parse_ports(r: &Value, what: &str) -> Result<Option<PortSet>, NormalizeError> {
    let list = strings(r, "destinationPortRange", "destinationPortRanges", what)?;
    if list.is_empty() {
        return Err(format!(
            "{what}: neither `destinationPortRange` nor `destinationPortRanges` is set"
        )
        .into());
    }
    let mut set = PortSet::empty();
    for p in &list {
        let ps = PortSet::parse_ports(p)
            .map_err(|e| format!("{what}: field `destinationPortRange(s)` {p:?}: {e}"))?;
        set = set.union(&ps);
    }
    Ok(if set == PortSet::full_ports() {
        None
    } else {
        Some(set)
    })
}

/// The singular and plural form of a field, as one list (empty strings are ignored: the CLI prints
/// `"destinationAddressPrefixes": []` next to a set `destinationAddressPrefix`).
fn strings(r: &Value, one: &str, many: &str, what: &str) -> Result<Vec<String>, NormalizeError> {
    let mut out = Vec::new();
    if let Some(s) = opt_str(r, one, what)? {
        if !s.trim().is_empty() {
            out.push(s.trim().to_string());
        }
    }
    for (i, v) in array_field(r, many, what)?.iter().enumerate() {
        match v {
            Value::String(s) if !s.trim().is_empty() => out.push(s.trim().to_string()),
            // An empty singular beside a set plural is how the CLI prints; an empty entry
            // inside the list is damage.
            Value::String(_) => {
                return Err(format!("{what}: field `{many}[{i}]` is an empty string").into())
            }
            other => {
                let at = format!("{many}[{i}]");
                return Err(FieldError::wrong_type(what, &at, "a string", other).into());
            }
        }
    }
    Ok(out)
}

/// What an address prefix of a rule stands for.
enum Prefix {
    Everything,
    Public,
    /// `VirtualNetwork`, `AzureLoadBalancer`: inside Azure, never public internet.
    Internal,
    Block(AddrSet),
    ServiceTag,
}

fn classify(p: &str) -> Result<Prefix, NormalizeError> {
    let lower = p.to_ascii_lowercase();
    Ok(match lower.as_str() {
        // `0.0.0.0/0` is a CIDR like any other: IPv4 only (Azure matches `::/0` separately).
        "*" | "any" => Prefix::Everything,
        "internet" => Prefix::Public,
        "virtualnetwork" | "azureloadbalancer" => Prefix::Internal,
        _ if looks_like_address(p) => Prefix::Block(parse_addrs(p)?),
        _ if p
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')) =>
        {
            Prefix::ServiceTag
        }
        _ => return Err("is neither an address, a CIDR block nor a service tag".into()),
    })
}

fn looks_like_address(p: &str) -> bool {
    p.contains(':') || p.starts_with(|c: char| c.is_ascii_digit())
}

fn check_prefix(p: &str) -> Result<(), NormalizeError> {
    classify(p).map(|_| ())
}

/// Everything that is not public internet: where `VirtualNetwork`, `AzureLoadBalancer` and
/// application security groups live, as far as egress checks are concerned.
pub fn internal() -> &'static AddrSet {
    static S: std::sync::OnceLock<AddrSet> = std::sync::OnceLock::new();
    S.get_or_init(|| AddrSet::full().difference(public()))
}

/// What a NIC looks like to a rule's source condition.
#[derive(Clone, Debug, Default)]
pub struct SourceView {
    /// The NIC's private addresses (empty: unknown, every source condition is taken to match).
    pub addrs: Vec<AddrSet>,
    /// The NIC's application security groups (lower-cased ids).
    pub asgs: Vec<String>,
}

impl RawRule {
    /// Whether the rule's source condition covers traffic from this NIC. `*`, `VirtualNetwork`
    /// and symbolic sources that cannot be checked count as matching, so a rule is only dropped
    /// when the data shows it is about other machines.
    fn applies_to(&self, nic: Option<&SourceView>) -> bool {
        if self.sources.is_empty() && self.source_asgs.is_empty() {
            return true;
        }
        let Some(nic) = nic else {
            // No machine's private address is `Internet` or the load balancer's probe address
            // (168.63.129.16), so an outbound rule with only such sources never decides egress.
            return !self.source_asgs.is_empty()
                || self.sources.iter().any(|s| match classify(s) {
                    Ok(Prefix::Public) => false,
                    Ok(Prefix::Internal) => !s.eq_ignore_ascii_case("AzureLoadBalancer"),
                    _ => true,
                });
        };
        let by_prefix = self.sources.iter().any(|s| match classify(s) {
            Ok(Prefix::Block(b)) => {
                nic.addrs.is_empty() || nic.addrs.iter().any(|a| a.is_subset(&b))
            }
            // A NIC's private address is never `Internet` or the load balancer's probe address.
            Ok(Prefix::Public) => false,
            Ok(Prefix::Internal) => !s.eq_ignore_ascii_case("AzureLoadBalancer"),
            _ => true,
        });
        by_prefix
            || self
                .source_asgs
                .iter()
                .any(|a| nic.asgs.contains(&id_key(a)))
    }

    /// The address families the rule's sources can send from: a packet's source and destination
    /// are of one family, so a rule whose sources are all IPv4 blocks (`10.1.0.0/16`) decides
    /// only IPv4 traffic, whatever its destination (`*`). `None`: either family (tags, `*`, ASGs).
    /// For a NIC, only the source blocks that hold one of its addresses count.
    fn source_families(&self, nic: Option<&SourceView>) -> Option<AddrSet> {
        if self.sources.is_empty() || !self.source_asgs.is_empty() {
            return None;
        }
        let mut fam = AddrSet::empty();
        for s in &self.sources {
            let Ok(Prefix::Block(b)) = classify(s) else {
                return None;
            };
            if let Some(nic) = nic.filter(|n| !n.addrs.is_empty()) {
                if !nic.addrs.iter().any(|a| a.is_subset(&b)) {
                    continue;
                }
            }
            for f in [all_v4(), all_v6()] {
                if b.intersects(&f) {
                    fam = fam.union(&f);
                }
            }
        }
        Some(fam)
    }
}

/// The NSG as an ordered layer, for one NIC (`nic`: its addresses and ASGs decide which rules'
/// source conditions apply) or for the NSG alone. Unresolved service tags become warnings.
pub fn layer(
    nsg: &Nsg,
    tags: Option<&ServiceTags>,
    nic: Option<&SourceView>,
    warnings: &mut Vec<Warning>,
) -> Layer {
    source_tag_warnings(nsg, tags, warnings);
    let rules = nsg
        .rules
        .iter()
        .filter(|r| r.applies_to(nic))
        .map(|r| resolve(nsg, r, tags, r.source_families(nic), warnings))
        .collect();
    Layer {
        kind: LayerKind::Nsg,
        resource: nsg.id.clone(),
        rules,
        // DenyAllOutBound (65500) decides everything before this would apply.
        no_match: Action::Deny,
        unordered: false,
    }
}

/// A source that reads as a service tag (`Storage`, or a typo such as `not-a-cidr`) cannot be
/// matched against a NIC's address without the service-tags file: the rule is taken to apply, and
/// the user is told, naming the NSG, rule and field.
fn source_tag_warnings(nsg: &Nsg, tags: Option<&ServiceTags>, warnings: &mut Vec<Warning>) {
    for r in &nsg.rules {
        for s in &r.sources {
            if !matches!(classify(s), Ok(Prefix::ServiceTag)) {
                continue;
            }
            if tags.and_then(|t| t.resolve(s)).is_some() {
                continue;
            }
            warnings.push(Warning {
                kind: crate::model::WarningKind::UnresolvedSource,
                source: nsg.id.clone(),
                message: format!(
                    "NSG {} rule {} (priority {}): `sourceAddressPrefix` `{s}` is not an address \
                     and not a known service tag{}; the rule is taken to apply to every NIC",
                    nsg.name,
                    r.name,
                    r.priority,
                    if tags.is_some() {
                        " (not in the service-tags file)"
                    } else {
                        " (pass Microsoft's service-tags JSON with --service-tags FILE)"
                    }
                ),
            });
        }
    }
}

fn resolve(
    nsg: &Nsg,
    r: &RawRule,
    tags: Option<&ServiceTags>,
    families: Option<AddrSet>,
    warnings: &mut Vec<Warning>,
) -> Rule {
    let mut addrs = AddrSet::empty();
    let mut unresolved = Vec::new();
    for d in &r.destinations {
        let set = match classify(d) {
            Ok(Prefix::Everything) => Some(AddrSet::full()),
            Ok(Prefix::Public) => Some(public().clone()),
            Ok(Prefix::Internal) => Some(internal().clone()),
            Ok(Prefix::Block(b)) => Some(b),
            Ok(Prefix::ServiceTag) | Err(_) => tags.and_then(|t| t.resolve(d)),
        };
        match set {
            Some(s) => addrs = addrs.union(&s),
            None => {
                warnings.push(Warning {
                    kind: WarningKind::UnresolvedDestination,
                    source: nsg.id.clone(),
                    message: format!(
                        "NSG {} rule {} (priority {}): service tag `{d}` is not resolved{}; \
                         the rule is evaluated without it",
                        nsg.name,
                        r.name,
                        r.priority,
                        if tags.is_some() {
                            " (not in the service-tags file)"
                        } else {
                            " (pass Microsoft's service-tags JSON with --service-tags FILE)"
                        }
                    ),
                });
                unresolved.push(d.clone());
            }
        }
    }
    if !r.destination_asgs.is_empty() {
        // ASGs group NICs inside the virtual network.
        addrs = addrs.union(internal());
    }
    if let Some(f) = &families {
        addrs = addrs.intersect(f);
    }
    let traffic = match r.protocol {
        // Azure's `Icmp` covers ICMPv4 and ICMPv6, every type; port ranges do not apply to it.
        Some(ICMP) => TrafficSet::rule(Some(ICMP), None, &addrs).union(&TrafficSet::rule(
            Some(ICMPV6),
            None,
            &addrs,
        )),
        p => TrafficSet::rule(p, r.ports.as_ref(), &addrs),
    };
    let mut destination: Vec<String> = r.destinations.clone();
    destination.extend(
        r.destination_asgs
            .iter()
            .map(|a| format!("asg:{}", id_name(a))),
    );
    Rule {
        written: RuleText::new(
            format!("{}/{}", nsg.name, r.name).into(),
            r.action,
            Some(r.priority),
            match r.protocol {
                None => "all".into(),
                Some(p) => crate::model::space::proto_name(p as u32).into(),
            },
            match (&r.ports, r.protocol) {
                (_, Some(ICMP)) | (None, _) => "all".into(),
                (Some(p), _) => p.display_ports().into(),
            },
            destination.join(", ").into(),
        ),
        resource: nsg.id.as_str().into(),
        action: r.action,
        traffic: traffic.into(),
        unresolved,
        synthetic: r.synthetic,
    }
}
