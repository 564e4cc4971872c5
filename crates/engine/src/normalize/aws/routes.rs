//! Route tables → whether a subnet can reach the internet at all.
//!
//! A subnet uses its explicitly associated table, else its VPC's main table. It has an internet
//! path when a non-blackhole route toward public addresses (0.0.0.0/0, ::/0, any public CIDR, or
//! a prefix list whose entries hold public addresses or are unknown) goes to an internet, NAT,
//! transit, virtual private, egress-only or carrier gateway, or to an appliance (a Gateway Load
//! Balancer / Network Firewall endpoint `vpce-…`, an instance or interface), which is then named in
//! `RouteInfo.appliance`. Only routes of the address families the interface has count: an IPv6
//! route to an egress-only gateway is no path for an IPv4-only interface.

use super::network::{RouteDest, RouteTable};
use crate::model::space::{all_v4, all_v6, public};
use crate::model::{AddrSet, RouteInfo};
use std::collections::BTreeMap;

pub struct Routes<'a> {
    /// Whether any `describe-route-tables` output was given: without it nothing is assumed.
    loaded: bool,
    by_subnet: BTreeMap<&'a str, &'a RouteTable>,
    main_by_vpc: BTreeMap<&'a str, &'a RouteTable>,
    /// Each table's verdict per address family (any, IPv4 only, IPv6 only), computed once.
    info: BTreeMap<(&'a str, Fam), RouteInfo>,
}

/// The address families a verdict is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Fam {
    Any,
    V4,
    V6,
}

impl Fam {
    fn of(limit: Option<&AddrSet>) -> Fam {
        match limit {
            Some(l) if l.is_subset(&all_v4()) => Fam::V4,
            Some(l) if l.is_subset(&all_v6()) => Fam::V6,
            _ => Fam::Any,
        }
    }

    /// The public addresses this family can reach.
    fn public(self) -> AddrSet {
        match self {
            Fam::Any => public().clone(),
            Fam::V4 => public().intersect(&all_v4()),
            Fam::V6 => public().intersect(&all_v6()),
        }
    }
}

enum Hop {
    Gateway,
    Appliance,
    NotInternet,
}

fn classify(target: &str, to_prefix_list: bool) -> Hop {
    let gateway = ["igw-", "nat-", "tgw-", "vgw-", "eigw-", "cagw-"];
    if gateway.iter().any(|p| target.starts_with(p)) || target.starts_with("arn:aws:networkmanager")
    {
        Hop::Gateway
    } else if target.starts_with("vpce-") {
        // Prefix-list routes to `vpce-` are gateway endpoints (S3, DynamoDB): AWS-internal.
        // Only Gateway Load Balancer endpoints (Network Firewall's too) take CIDR routes.
        if to_prefix_list {
            Hop::NotInternet
        } else {
            Hop::Appliance
        }
    } else if target.starts_with("eni-") || target.starts_with("i-") {
        Hop::Appliance
    } else {
        // local, pcx- (peering is not transitive), lgw- (Outposts local gateway).
        Hop::NotInternet
    }
}

impl<'a> Routes<'a> {
    /// `prefix_lists`: the resolved prefix lists, so that a route to one counts only when it
    /// holds public addresses.
    pub fn new(
        loaded: bool,
        tables: &'a BTreeMap<String, RouteTable>,
        prefix_lists: &BTreeMap<String, AddrSet>,
    ) -> Self {
        let mut r = Routes {
            loaded,
            by_subnet: BTreeMap::new(),
            main_by_vpc: BTreeMap::new(),
            info: BTreeMap::new(),
        };
        for t in tables.values() {
            for s in &t.subnets {
                r.by_subnet.entry(s).or_insert(t);
            }
            if let (true, Some(v)) = (t.main, t.vpc_id.as_deref()) {
                r.main_by_vpc.entry(v).or_insert(t);
            }
            for fam in [Fam::Any, Fam::V4, Fam::V6] {
                r.info
                    .insert((&t.id, fam), table_info(t, prefix_lists, fam));
            }
        }
        r
    }

    /// The verdict for a subnet's table: its explicit association, else its VPC's main table.
    /// `limit`: the addresses the interface can send to (its address families).
    pub fn for_subnet(
        &self,
        subnet: Option<&str>,
        vpc: Option<&str>,
        limit: Option<&AddrSet>,
    ) -> RouteInfo {
        if !self.loaded {
            return RouteInfo::default();
        }
        let table = subnet
            .and_then(|s| self.by_subnet.get(s))
            .or_else(|| vpc.and_then(|v| self.main_by_vpc.get(v)));
        table
            .and_then(|t| self.info.get(&(t.id.as_str(), Fam::of(limit))).cloned())
            .unwrap_or_default()
    }
}

fn table_info(t: &RouteTable, prefix_lists: &BTreeMap<String, AddrSet>, fam: Fam) -> RouteInfo {
    let reachable = fam.public();
    let mut path: Option<String> = None;
    let mut appliance: Option<String> = None;
    let mut other_family: Option<String> = None;
    for r in t.routes.iter().filter(|r| !r.blackhole) {
        let Some(target) = r.target.as_deref() else {
            continue;
        };
        let (dest, set, to_pl) = match &r.dest {
            RouteDest::Cidr(text, set) => (text.as_str(), Some(set), false),
            // Unknown entries: the route may lead anywhere, so it is not ruled out.
            RouteDest::PrefixList(id) => (id.as_str(), prefix_lists.get(id), true),
        };
        if let Some(set) = set {
            if !set.intersects(&reachable) {
                if set.intersects(public()) && !matches!(classify(target, to_pl), Hop::NotInternet)
                {
                    other_family.get_or_insert(format!("{dest} → {target}"));
                }
                continue;
            }
        }
        let desc = format!("route {dest} → {target} ({})", t.id);
        match classify(target, to_pl) {
            Hop::Gateway => {
                path.get_or_insert(desc);
            }
            Hop::Appliance => {
                appliance.get_or_insert(desc.clone());
                path.get_or_insert(desc);
            }
            Hop::NotInternet => {}
        }
    }
    match path {
        Some(reason) => RouteInfo {
            internet_path: Some(true),
            reason: Some(reason),
            appliance,
        },
        None => {
            let mut reason = format!(
                "{} has no 0.0.0.0/0 route to an internet, NAT, transit or virtual private gateway",
                t.id
            );
            if let Some(r) = other_family {
                let fam = if fam == Fam::V4 { "IPv4" } else { "IPv6" };
                reason.push_str(&format!(
                    " for this {fam}-only interface (its route {r} is for the other address family)"
                ));
            }
            RouteInfo {
                internet_path: Some(false),
                reason: Some(reason),
                appliance: None,
            }
        }
    }
}

/// Several subnets (a network ACL's): no path only when none has one; unknown when any is unknown.
pub fn combine(infos: Vec<RouteInfo>) -> RouteInfo {
    if infos.is_empty() || infos.iter().any(|i| i.internet_path.is_none()) {
        return RouteInfo::default();
    }
    if let Some(open) = infos.iter().find(|i| i.internet_path == Some(true)) {
        return open.clone();
    }
    let mut reasons: Vec<String> = infos.into_iter().filter_map(|i| i.reason).collect();
    reasons.sort();
    reasons.dedup();
    RouteInfo {
        internet_path: Some(false),
        reason: Some(reasons.join("; ")),
        appliance: None,
    }
}
