//! The normalized policy model that every provider's data is turned into.
//!
//! A [`Target`] (an ENI, NIC, instance, or a lone SG / NACL / NSG / network selector) must pass
//! every one of its [`Chain`]s (AND: security groups *and* the NACL; the NIC's NSG *and* the
//! subnet's NSG). A chain is a sequence of [`Layer`]s evaluated in order; a rule whose action is
//! [`Action::Next`] (GCP `goto_next`), and traffic no rule of a layer matches when the layer's
//! `no_match` is `Next`, passes on to the next layer. Within a layer the rules are in evaluation
//! order and the first one that matches decides.

use super::space::{AddrSet, TrafficSet};
use super::{RuleText, Text};
use egress_audit_snapshot::Provider;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Allow,
    Deny,
    /// Hand the decision to the next layer (GCP `goto_next`).
    Next,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Deny => "deny",
            Action::Next => "goto_next",
        }
    }
}

/// One rule, resolved into the traffic it matches, with what the user wrote for evidence.
/// Reads as its [`RuleText`] too: `rule.name`, `rule.protocol`, `rule.priority`.
#[derive(Clone, PartialEq, Debug)]
pub struct Rule {
    /// What the user wrote: name (`sg-0abc egress #1`, `acl-0abc rule 100`, `nsg-web/deny-smb`,
    /// a GCP rule name), priority or rule number as the provider shows it, protocol, ports and
    /// destination. Shared with every finding the rule decides.
    pub written: Arc<RuleText>,
    /// The resource that holds the rule (security group id, NACL id, NSG id, network, policy).
    pub resource: Text,
    pub action: Action,
    /// The packets the rule matches (unresolved destinations are left out, see `unresolved`).
    /// Shared: the same group's rules are in every target it is attached to.
    pub traffic: Arc<TrafficSet>,
    /// Symbolic destinations that could not be resolved (a warning, never a guess).
    pub unresolved: Vec<String>,
    /// A provider default or implied rule (Azure default rules, NACL `*`, GCP implied allow).
    /// Never reported as shadowed or redundant.
    pub synthetic: bool,
}

impl std::ops::Deref for Rule {
    type Target = RuleText;
    fn deref(&self) -> &RuleText {
        &self.written
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LayerKind {
    SecurityGroup,
    NetworkAcl,
    Nsg,
    VpcFirewall,
    FirewallPolicy,
    /// Observed by a live probe.
    Observed,
    /// A host firewall's base chain (nftables, iptables).
    HostFirewall,
    /// A user rule's allow-list (custom rules).
    Custom,
}

/// An ordered rule list with a fallback for traffic that no rule matches.
#[derive(Clone, PartialEq, Debug)]
pub struct Layer {
    pub kind: LayerKind,
    /// The resource(s) this layer stands for: `sg-a,sg-b`, `acl-1`, an NSG id, a network.
    pub resource: String,
    /// In evaluation order (the normalizer sorts). Shared: every target with the same security
    /// group holds the one copy of its rules.
    pub rules: Rules,
    /// What happens to traffic no rule matches. Providers' defaults that have names (Azure's default
    /// rules, GCP's implied rules, the NACL `*` rule) are better modelled as synthetic rules so that
    /// they show up in evidence; `no_match` then never applies.
    pub no_match: Action,
    /// True when the rules are a union of allows (security groups): order carries no meaning and
    /// redundancy is judged against all other rules, not earlier ones.
    pub unordered: bool,
}

/// A layer's rules: one allocation shared by every layer that holds the same rules (an estate's
/// thousands of interfaces in the same group), read as a `[Rule]`. Changing them makes a new list.
#[derive(Clone, Default)]
pub struct Rules(Arc<[Rule]>);

impl Rules {
    /// Whether two lists are the same allocation (not merely equal).
    pub fn ptr_eq(a: &Rules, b: &Rules) -> bool {
        Arc::ptr_eq(&a.0, &b.0)
    }
}

impl std::ops::Deref for Rules {
    type Target = [Rule];
    fn deref(&self) -> &[Rule] {
        &self.0
    }
}

impl From<Vec<Rule>> for Rules {
    fn from(rules: Vec<Rule>) -> Self {
        Rules(rules.into())
    }
}

impl FromIterator<Rule> for Rules {
    fn from_iter<I: IntoIterator<Item = Rule>>(rules: I) -> Self {
        Rules(rules.into_iter().collect())
    }
}

impl<'a> IntoIterator for &'a Rules {
    type Item = &'a Rule;
    type IntoIter = std::slice::Iter<'a, Rule>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// Equal rules; the same allocation is equal at once (the evaluation cache compares chains).
impl PartialEq for Rules {
    fn eq(&self, o: &Rules) -> bool {
        Rules::ptr_eq(self, o) || *self.0 == *o.0
    }
}

/// As the list of rules it holds, as a `Vec<Rule>` printed.
impl std::fmt::Debug for Rules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&*self.0, f)
    }
}

#[derive(Clone, PartialEq, Debug, Default)]
pub struct Chain {
    pub layers: Vec<Layer>,
}

/// Whether a target can reach the internet at all, from route data.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteInfo {
    /// `Some(false)`: route data shows no path to the internet (findings drop to info).
    /// `None`: no route data; nothing is assumed.
    pub internet_path: Option<bool>,
    /// Why, e.g. `rtb-0abc has no 0.0.0.0/0 route to an internet, NAT, transit or VPN gateway`.
    pub reason: Option<String>,
    /// Egress passes an appliance: `route 0.0.0.0/0 → VirtualAppliance 10.0.0.4 (rt-hub)`.
    pub appliance: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Target {
    pub provider: Provider,
    pub account: Option<Text>,
    pub region: Option<Text>,
    /// The resource findings are about: ENI, NIC, instance, SG, NACL, NSG, or `network[tag:web]`.
    pub resource_id: Text,
    /// `network-interface`, `security-group`, `network-acl`, `nsg`, `nic`, `instance`,
    /// `vpc-network`, `host` (probe).
    pub resource_kind: Text,
    pub name: Option<Text>,
    /// Tags / labels (AWS tags, Azure tags, GCP labels) as key → value.
    pub labels: BTreeMap<String, String>,
    /// GCP network tags and service accounts; Azure application security groups.
    pub selectors: Vec<String>,
    /// The target must pass every chain. No chain at all means no filter: everything is allowed.
    pub chains: Vec<Chain>,
    pub route: RouteInfo,
    /// The addresses the workload can send to at all, whatever its rules say: IPv4 only for a NIC
    /// or instance without an IPv6 address. `None`: no limit known.
    pub address_limit: Option<AddrSet>,
    /// Findings come from a live probe, not from declared rules.
    pub observed: bool,
    /// What names this workload in other data (probe metadata, flow logs, host exports), so that
    /// observed traffic can be attributed to it. Empty when the input does not say.
    pub identity: Identity,
}

/// The names and addresses that other data uses for a target: an instance id from a probe's
/// metadata, an interface id or a private address from a flow log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Identity {
    /// AWS `i-…`, Azure VM resource id (as written), GCP instance id and instance name.
    pub instance_ids: Vec<String>,
    /// AWS `eni-…`, Azure NIC resource id, GCP `INSTANCE/nic0`.
    pub interface_ids: Vec<String>,
    /// The interfaces' private (and public) addresses.
    pub addresses: Vec<std::net::IpAddr>,
    /// VPC id, VNet id or GCP network, when known.
    pub network: Option<String>,
}

impl Target {
    pub fn new(provider: Provider, resource_id: impl Into<Text>, kind: impl Into<Text>) -> Self {
        Target {
            provider,
            account: None,
            region: None,
            resource_id: resource_id.into(),
            resource_kind: kind.into(),
            name: None,
            labels: BTreeMap::new(),
            selectors: Vec::new(),
            chains: Vec::new(),
            route: RouteInfo::default(),
            address_limit: None,
            observed: false,
            identity: Identity::default(),
        }
    }
}
