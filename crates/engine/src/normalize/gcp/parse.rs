//! Compute resources (firewall rules, instances, networks, subnetworks, routes) parsed from
//! their JSON, with errors that name the resource and the field.

use super::urls::{last_segment, segment_after, NetRef};
use crate::model::space::{parse_addrs, parse_proto_named};
use crate::model::{Action, AddrSet, PortSet};
use crate::normalize::fields::{
    obj_list, opt_bool, opt_int_in, opt_str, req_str, str_list, str_map,
};
use crate::normalize::NormalizeError;
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// The protocol names Compute documents for firewall rules and policies (else a number).
const GCP_PROTOCOLS: &[&str] = &["tcp", "udp", "icmp", "esp", "ah", "sctp", "ipip", "all"];

/// VPC firewall rules without a `priority` get this one.
pub const DEFAULT_PRIORITY: i64 = 1000;
/// VPC firewall rule and route priorities: 0 (first) to 65535.
pub const PRIORITY_RANGE: (i64, i64) = (0, 65535);

/// One protocol entry: `{IPProtocol, ports}` (VPC rules) or `{ipProtocol, ports}` (policies).
#[derive(Clone, Debug)]
pub struct L4 {
    /// `None`: every protocol.
    pub proto: Option<u8>,
    pub proto_text: String,
    /// `None`: every port.
    pub ports: Option<PortSet>,
}

#[derive(Clone, Debug)]
pub struct Firewall {
    pub name: String,
    pub project: Option<String>,
    pub net: NetRef,
    pub priority: i64,
    pub egress: bool,
    pub disabled: bool,
    pub action: Action,
    pub l4: Vec<L4>,
    /// `destinationRanges` as written (empty: the egress default 0.0.0.0/0).
    pub dest_text: Vec<String>,
    pub dest: AddrSet,
    pub target_tags: Vec<String>,
    pub target_sas: Vec<String>,
    /// `sourceRanges` of an egress rule: it matches only packets sent from these addresses.
    pub source: Option<AddrSet>,
    pub source_text: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct Nic {
    pub name: String,
    pub net: NetRef,
    /// The NIC has an IPv6 address (`stackType` IPV4_IPV6 / IPV6_ONLY or IPv6 access configs).
    pub v6: bool,
    /// `stackType: IPV6_ONLY`: the NIC has no IPv4 address.
    pub v6_only: bool,
    /// The addresses it sends from: `networkIP`, `ipv6Address`, external IPv6 and alias ranges.
    pub addrs: AddrSet,
    /// `ipv6AccessType: INTERNAL` and no IPv6 access config: its IPv6 address is internal (ULA),
    /// and packets from it never reach public IPv6.
    pub v6_internal_only: bool,
    /// `networkIP`, `ipv6Address`, `accessConfigs[].natIP`, `ipv6AccessConfigs[].externalIpv6`:
    /// for attributing probe results and flows to the instance.
    pub ips: Vec<IpAddr>,
}

#[derive(Clone, Debug)]
pub struct Instance {
    pub name: String,
    /// The numeric instance id (a string in the API's JSON), when listed.
    pub id: Option<String>,
    pub project: Option<String>,
    pub zone: Option<String>,
    pub tags: Vec<String>,
    pub service_accounts: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub nics: Vec<Nic>,
}

#[derive(Clone, Debug)]
pub struct Network {
    pub net: NetRef,
    pub v6: bool,
    /// `networkFirewallPolicyEnforcementOrder: BEFORE_CLASSIC_FIREWALL`.
    pub policies_first: bool,
}

#[derive(Clone, Debug)]
pub struct Subnetwork {
    pub net: NetRef,
    pub v6: bool,
    /// The subnet's IPv6 range is external (`ipv6AccessType: EXTERNAL`): its VMs can have
    /// public IPv6 addresses. An internal range is ULA only.
    pub v6_external: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NextHop {
    InternetGateway,
    /// `nextHopNetwork`: a subnet route, delivered inside the VPC network itself (its range may
    /// be public: an external IPv6 subnet range, privately used public IPv4).
    Local,
    /// An internal load balancer or an instance: egress passes an appliance.
    Appliance(String),
    Other(String),
}

#[derive(Clone, Debug)]
pub struct Route {
    pub name: String,
    pub net: NetRef,
    pub dest_range: String,
    pub priority: i64,
    pub next_hop: NextHop,
    pub tags: Vec<String>,
}

pub(super) fn parse_l4(
    entry: &Value,
    field: &str,
    alt: &str,
    what: &str,
) -> Result<L4, NormalizeError> {
    let proto_text = match opt_str(entry, field, what)? {
        Some(p) => p,
        None => opt_str(entry, alt, what)?
            .ok_or_else(|| format!("{what}: the string field `{field}` is missing"))?,
    };
    let proto = parse_proto_named(proto_text, GCP_PROTOCOLS)
        .map_err(|e| format!("{what}: `{field}`: {e}"))?;
    let mut ports: Option<PortSet> = None;
    for (i, p) in str_list(entry, "ports", what)?.iter().enumerate() {
        let set = PortSet::parse_ports(p).map_err(|e| format!("{what}: `ports[{i}]`: {e}"))?;
        ports = Some(match ports {
            Some(acc) => acc.union(&set),
            None => set,
        });
    }
    Ok(L4 {
        proto,
        proto_text: proto_text.to_ascii_lowercase(),
        ports,
    })
}

pub(super) fn parse_ranges(
    list: &[String],
    field: &str,
    what: &str,
) -> Result<AddrSet, NormalizeError> {
    let mut set = AddrSet::empty();
    for (i, r) in list.iter().enumerate() {
        let a = parse_addrs(r).map_err(|e| format!("{what}: `{field}[{i}]`: {e}"))?;
        set = set.union(&a);
    }
    Ok(set)
}

fn project_of(v: &Value, what: &str) -> Result<Option<String>, NormalizeError> {
    Ok(opt_str(v, "selfLink", what)?
        .and_then(|s| segment_after(s, "projects"))
        .map(str::to_string))
}

pub fn firewall(v: &Value, at: &str) -> Result<Firewall, NormalizeError> {
    let name = req_str(v, "name", &format!("firewall rule {at}"))?.to_string();
    let what = format!("firewall rule `{name}` ({at})");
    let net_url = req_str(v, "network", &what)?;
    let direction = opt_str(v, "direction", &what)?.unwrap_or("INGRESS");
    let egress = match direction.to_ascii_uppercase().as_str() {
        "EGRESS" => true,
        "INGRESS" => false,
        _ => {
            return Err(
                format!("{what}: `direction` is {direction:?}, expected INGRESS or EGRESS").into(),
            )
        }
    };
    let allowed = obj_list(v, "allowed", &what)?;
    let denied = obj_list(v, "denied", &what)?;
    let (action, list, field) = match (allowed.is_empty(), denied.is_empty()) {
        (false, true) => (Action::Allow, allowed, "allowed"),
        (true, false) => (Action::Deny, denied, "denied"),
        (true, true) => {
            return Err(format!("{what}: has neither `allowed` nor `denied` entries").into())
        }
        (false, false) => {
            return Err(format!("{what}: has both `allowed` and `denied` entries").into())
        }
    };
    let l4 = list
        .iter()
        .enumerate()
        .map(|(i, e)| {
            parse_l4(
                e,
                "IPProtocol",
                "ipProtocol",
                &format!("{what}: `{field}[{i}]`"),
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    // Egress rules may also name the sources they apply to (since 2023).
    let source_text = if egress {
        str_list(v, "sourceRanges", &what)?
    } else {
        Vec::new()
    };
    let source = if source_text.is_empty() {
        None
    } else {
        Some(parse_ranges(&source_text, "sourceRanges", &what)?)
    };
    let dest_text = str_list(v, "destinationRanges", &what)?;
    let dest = if dest_text.is_empty() {
        parse_addrs("0.0.0.0/0")?
    } else {
        parse_ranges(&dest_text, "destinationRanges", &what)?
    };
    Ok(Firewall {
        project: project_of(v, &what)?
            .or_else(|| segment_after(net_url, "projects").map(str::to_string)),
        net: NetRef::parse(net_url),
        priority: opt_int_in(v, "priority", &what, PRIORITY_RANGE)?.unwrap_or(DEFAULT_PRIORITY),
        egress,
        // Compute omits `disabled` for enabled rules.
        disabled: opt_bool(v, "disabled", &what)?.unwrap_or(false),
        action,
        l4,
        dest_text,
        dest,
        target_tags: str_list(v, "targetTags", &what)?,
        target_sas: str_list(v, "targetServiceAccounts", &what)?,
        source,
        source_text,
        name,
    })
}

pub fn instance(v: &Value, at: &str) -> Result<Instance, NormalizeError> {
    let name = req_str(v, "name", &format!("instance {at}"))?.to_string();
    let what = format!("instance `{name}` ({at})");
    let zone = opt_str(v, "zone", &what)?;
    let project = project_of(v, &what)?.or_else(|| {
        zone.and_then(|z| segment_after(z, "projects"))
            .map(str::to_string)
    });
    let tags = match v.get("tags") {
        None | Some(Value::Null) => Vec::new(),
        Some(t) => str_list(t, "items", &format!("{what}: `tags`"))?,
    };
    let service_accounts = obj_list(v, "serviceAccounts", &what)?
        .iter()
        .enumerate()
        .map(|(i, sa)| {
            req_str(sa, "email", &format!("{what}: `serviceAccounts[{i}]`")).map(str::to_string)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut nics = Vec::new();
    let interfaces = obj_list(v, "networkInterfaces", &what)?;
    if interfaces.is_empty() {
        // Every Compute instance has at least one interface; without it the instance's egress
        // cannot be placed on a network, and dropping it would hide it.
        let recased = v.as_object().and_then(|o| {
            o.keys()
                .find(|k| k.eq_ignore_ascii_case("networkInterfaces") && *k != "networkInterfaces")
        });
        return Err(match recased {
            Some(k) => format!(
                "{what}: has `{k}` but no `networkInterfaces` (field names are case-sensitive)"
            )
            .into(),
            None => format!(
                "{what}: `networkInterfaces` is missing or empty; every instance has at least one"
            )
            .into(),
        });
    }
    for (i, n) in interfaces.iter().enumerate() {
        let nw = format!("{what}: `networkInterfaces[{i}]`");
        let stack = opt_str(n, "stackType", &nw)?.unwrap_or("IPV4_ONLY");
        let stack = stack.to_ascii_uppercase();
        let v6_only = stack == "IPV6_ONLY";
        let external6 = !obj_list(n, "ipv6AccessConfigs", &nw)?.is_empty();
        let v6 = stack != "IPV4_ONLY"
            || external6
            || opt_str(n, "ipv6Address", &nw)?.is_some_and(|a| !a.is_empty());
        let mut addrs = AddrSet::empty();
        let mut add = |a: &str, field: &str| -> Result<(), NormalizeError> {
            let set = parse_addrs(a).map_err(|e| format!("{nw}: `{field}`: {e}"))?;
            addrs = addrs.union(&set);
            Ok(())
        };
        if let Some(a) = opt_str(n, "networkIP", &nw)? {
            add(a, "networkIP")?;
        }
        if let Some(a) = opt_str(n, "ipv6Address", &nw)?.filter(|a| !a.is_empty()) {
            add(a, "ipv6Address")?;
        }
        for (j, c) in obj_list(n, "ipv6AccessConfigs", &nw)?.iter().enumerate() {
            if let Some(a) = opt_str(c, "externalIpv6", &nw)?.filter(|a| !a.is_empty()) {
                add(a, &format!("ipv6AccessConfigs[{j}].externalIpv6"))?;
            }
        }
        for (j, r) in obj_list(n, "aliasIpRanges", &nw)?.iter().enumerate() {
            if let Some(a) = opt_str(r, "ipCidrRange", &nw)? {
                // A bare prefix length (`/24`) is how a request asks for a range; listings show
                // the allocated one.
                if !a.starts_with('/') {
                    add(a, &format!("aliasIpRanges[{j}].ipCidrRange"))?;
                }
            }
        }
        let ips = nic_ips(n, &nw)?;
        let v6_internal_only = !external6
            && opt_str(n, "ipv6AccessType", &nw)?
                .is_some_and(|t| t.eq_ignore_ascii_case("INTERNAL"));
        nics.push(Nic {
            name: opt_str(n, "name", &nw)?
                .map(str::to_string)
                .unwrap_or_else(|| format!("nic{i}")),
            net: NetRef::parse(req_str(n, "network", &nw)?),
            v6,
            v6_only,
            v6_internal_only,
            addrs,
            ips,
        });
    }
    Ok(Instance {
        labels: str_map(v, "labels", &what)?,
        zone: zone.map(|z| last_segment(z).to_string()),
        id: match v.get("id") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        },
        name,
        project,
        tags,
        service_accounts,
        nics,
    })
}

/// The single addresses of a network interface, internal and external.
fn nic_ips(n: &Value, nw: &str) -> Result<Vec<IpAddr>, NormalizeError> {
    let mut out: Vec<IpAddr> = Vec::new();
    let mut add = |obj: &Value, key: &str, at: &str| -> Result<(), NormalizeError> {
        if let Some(a) = opt_str(obj, key, at)?.filter(|a| !a.is_empty()) {
            // `ipv6Address` may carry a prefix length in some listings.
            let bare = a.split('/').next().unwrap_or(a);
            let ip = bare
                .parse()
                .map_err(|_| format!("{at}: `{key}` {a:?} is not an IP address"))?;
            if !out.contains(&ip) {
                out.push(ip);
            }
        }
        Ok(())
    };
    add(n, "networkIP", nw)?;
    add(n, "ipv6Address", nw)?;
    for (j, c) in obj_list(n, "accessConfigs", nw)?.iter().enumerate() {
        add(c, "natIP", &format!("{nw}: `accessConfigs[{j}]`"))?;
    }
    for (j, c) in obj_list(n, "ipv6AccessConfigs", nw)?.iter().enumerate() {
        add(
            c,
            "externalIpv6",
            &format!("{nw}: `ipv6AccessConfigs[{j}]`"),
        )?;
    }
    Ok(out)
}

pub fn network(v: &Value, at: &str) -> Result<Network, NormalizeError> {
    let name = req_str(v, "name", &format!("network {at}"))?;
    let what = format!("network `{name}` ({at})");
    let order = opt_str(v, "networkFirewallPolicyEnforcementOrder", &what)?;
    let policies_first = match order {
        None | Some("AFTER_CLASSIC_FIREWALL") => false,
        Some("BEFORE_CLASSIC_FIREWALL") => true,
        Some(other) => {
            return Err(format!(
                "{what}: `networkFirewallPolicyEnforcementOrder` is {other:?}, expected AFTER_CLASSIC_FIREWALL or BEFORE_CLASSIC_FIREWALL"
            ).into())
        }
    };
    Ok(Network {
        net: NetRef {
            project: project_of(v, &what)?,
            name: name.to_string(),
        },
        v6: opt_bool(v, "enableUlaInternalIpv6", &what)?.unwrap_or(false)
            || opt_str(v, "internalIpv6Range", &what)?.is_some(),
        policies_first,
    })
}

pub fn subnetwork(v: &Value, at: &str) -> Result<Subnetwork, NormalizeError> {
    let name = req_str(v, "name", &format!("subnetwork {at}"))?;
    let what = format!("subnetwork `{name}` ({at})");
    let stack = opt_str(v, "stackType", &what)?.unwrap_or("IPV4_ONLY");
    let v6 = stack != "IPV4_ONLY"
        || opt_str(v, "ipv6CidrRange", &what)?.is_some()
        || opt_str(v, "externalIpv6Prefix", &what)?.is_some()
        || opt_str(v, "internalIpv6Prefix", &what)?.is_some();
    let v6_external = opt_str(v, "ipv6AccessType", &what)?
        .is_some_and(|t| t.eq_ignore_ascii_case("EXTERNAL"))
        || opt_str(v, "externalIpv6Prefix", &what)?.is_some();
    Ok(Subnetwork {
        net: NetRef::parse(req_str(v, "network", &what)?),
        v6,
        v6_external,
    })
}

pub fn route(v: &Value, at: &str) -> Result<Route, NormalizeError> {
    let name = req_str(v, "name", &format!("route {at}"))?.to_string();
    let what = format!("route `{name}` ({at})");
    let next_hop = if let Some(gw) = opt_str(v, "nextHopGateway", &what)? {
        if last_segment(gw) == "default-internet-gateway" {
            NextHop::InternetGateway
        } else {
            NextHop::Other(format!("gateway {}", last_segment(gw)))
        }
    } else if let Some(ilb) = opt_str(v, "nextHopIlb", &what)? {
        NextHop::Appliance(format!("internal load balancer {}", last_segment(ilb)))
    } else if let Some(vm) = opt_str(v, "nextHopInstance", &what)? {
        NextHop::Appliance(format!("instance {}", last_segment(vm)))
    } else if opt_str(v, "nextHopNetwork", &what)?.is_some() {
        NextHop::Local
    } else {
        // Every other next hop hands the packets on to something that may itself reach the
        // internet (a NAT VM at `nextHopIp`, on-premises behind a tunnel or interconnect, a
        // peered hub): a path through an appliance, never proof that there is no path.
        let other = [
            ("nextHopIp", "IP"),
            ("nextHopVpnTunnel", "VPN tunnel"),
            ("nextHopInterconnectAttachment", "interconnect attachment"),
            ("nextHopPeering", "peering"),
            ("nextHopHub", "hub"),
        ];
        let mut hop = NextHop::Other("unknown next hop".into());
        for (field, label) in other {
            if let Some(x) = opt_str(v, field, &what)? {
                hop = NextHop::Appliance(format!("{label} {}", last_segment(x)));
                break;
            }
        }
        hop
    };
    Ok(Route {
        net: NetRef::parse(req_str(v, "network", &what)?),
        dest_range: req_str(v, "destRange", &what)?.to_string(),
        priority: opt_int_in(v, "priority", &what, PRIORITY_RANGE)?.unwrap_or(DEFAULT_PRIORITY),
        tags: str_list(v, "tags", &what)?,
        next_hop,
        name,
    })
}
