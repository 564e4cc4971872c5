//! Route tables → whether a subnet can reach the internet at all.
//!
//! A subnet uses its explicitly associated table, else its VPC's main table. It has an internet
//! path when a non-blackhole route toward public addresses (0.0.0.0/0, ::/0, any public CIDR, or
//! a prefix list) goes to an internet, NAT, transit, virtual private, egress-only or carrier
//! gateway, or to an appliance (a Gateway Load Balancer / Network Firewall endpoint `vpce-…`, an
//! instance or interface), which is then named in `RouteInfo.appliance`.

use super::network::{RouteDest, RouteTable};
use crate::model::space::public;
use crate::model::RouteInfo;
use std::collections::BTreeMap;

pub struct Routes<'a> {
    /// Whether any `describe-route-tables` output was given: without it nothing is assumed.
    loaded: bool,
    by_subnet: BTreeMap<&'a str, &'a RouteTable>,
    main_by_vpc: BTreeMap<&'a str, &'a RouteTable>,
    /// Each table's verdict, computed once.
    info: BTreeMap<&'a str, RouteInfo>,
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
    pub fn new(loaded: bool, tables: &'a BTreeMap<String, RouteTable>) -> Self {
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
            r.info.insert(&t.id, table_info(t));
        }
        r
    }

    /// The verdict for a subnet's table: its explicit association, else its VPC's main table.
    pub fn for_subnet(&self, subnet: Option<&str>, vpc: Option<&str>) -> RouteInfo {
        if !self.loaded {
            return RouteInfo::default();
        }
        let table = subnet
            .and_then(|s| self.by_subnet.get(s))
            .or_else(|| vpc.and_then(|v| self.main_by_vpc.get(v)));
        table
            .and_then(|t| self.info.get(t.id.as_str()).cloned())
            .unwrap_or_default()
    }
}

pub fn table_info(t: &RouteTable) -> RouteInfo {
    let mut path: Option<String> = None;
    let mut appliance: Option<String> = None;
    for r in t.routes.iter().filter(|r| !r.blackhole) {
        let Some(target) = r.target.as_deref() else {
            continue;
        };
        let (dest, public_dest, to_pl) = match &r.dest {
            RouteDest::Cidr(text, set) => (text.as_str(), set.intersects(public()), false),
            RouteDest::PrefixList(id) => (id.as_str(), true, true),
        };
        if !public_dest {
            continue;
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
        None => RouteInfo {
            internet_path: Some(false),
            reason: Some(format!(
                "{} has no 0.0.0.0/0 route to an internet, NAT, transit or virtual private gateway",
                t.id
            )),
            appliance: None,
        },
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
