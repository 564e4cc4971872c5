//! Routes → whether a target can reach the internet, and through what.

use super::parse::{NextHop, Route};
use super::urls::NetRef;
use super::GcpBundle;
use crate::model::space::{parse_addrs, public4, public6};
use crate::model::{AddrSet, RouteInfo};

/// Route data → whether `tags` on `net` reach the internet gateway. Like GCP, each public
/// address takes its most specific route, then the lowest priority; so `0.0.0.0/1` +
/// `128.0.0.0/1` to an appliance override the default route without deleting it. `v6`: the target
/// has IPv6, so public IPv6 (`::/0` → default-internet-gateway, created with a dual-stack
/// subnet) is a path too.
pub fn route_info(b: &GcpBundle, net: &NetRef, tags: &[String], v6: bool) -> RouteInfo {
    let space = if v6 {
        public4().union(public6())
    } else {
        public4().clone()
    };
    let mine: Vec<&Route> = b.routes.iter().filter(|r| r.net.matches(net)).collect();
    // A network with no route at all was not in the route listing (every network has subnet routes).
    if !b.routes_loaded || mine.is_empty() {
        return RouteInfo::default();
    }
    let mut candidates: Vec<(&Route, AddrSet, u8)> = mine
        .into_iter()
        .filter(|r| r.tags.is_empty() || r.tags.iter().any(|t| tags.contains(t)))
        .filter_map(|r| {
            let set = parse_addrs(&r.dest_range).ok()?.intersect(&space);
            let len = match r.dest_range.split_once('/') {
                Some((_, l)) => l.trim().parse().ok()?,
                None => 32,
            };
            (!set.is_empty()).then_some((r, set, len))
        })
        .collect();
    candidates.sort_by(|(a, _, la), (b, _, lb)| {
        (
            std::cmp::Reverse(*la),
            a.priority,
            a.next_hop != NextHop::InternetGateway,
            &a.name,
        )
            .cmp(&(
                std::cmp::Reverse(*lb),
                b.priority,
                b.next_hop != NextHop::InternetGateway,
                &b.name,
            ))
    });
    let mut remaining = space.clone();
    let mut internet = false;
    // The appliance and the other hop that take the largest share of public IPv4.
    let mut appliance: Option<(u128, String)> = None;
    let mut other: Option<(u128, String)> = None;
    for (r, set, _) in &candidates {
        let part = remaining.intersect(set);
        if part.is_empty() {
            continue;
        }
        remaining = remaining.difference(&part);
        let share = part.len();
        let widest = |slot: &mut Option<(u128, String)>, text: String| {
            if slot.as_ref().is_none_or(|(n, _)| share > *n) {
                *slot = Some((share, text));
            }
        };
        match &r.next_hop {
            NextHop::InternetGateway => internet = true,
            // The subnet's own addresses: not the internet, and no appliance on the way.
            NextHop::Local => {}
            NextHop::Appliance(a) => widest(
                &mut appliance,
                format!("route {} {} → {a}", r.name, r.dest_range),
            ),
            NextHop::Other(hop) => widest(
                &mut other,
                format!("its route {} sends {} to {hop}", r.name, r.dest_range),
            ),
        }
    }
    let appliance = appliance.map(|(_, a)| a);
    if internet || appliance.is_some() {
        return RouteInfo {
            internet_path: internet.then_some(true),
            reason: None,
            appliance,
        };
    }
    let mut reason = format!(
        "network {} has no default internet route ({} → default-internet-gateway)",
        net.name,
        if v6 { "0.0.0.0/0 or ::/0" } else { "0.0.0.0/0" }
    );
    if let Some((_, o)) = other {
        reason.push_str(&format!("; {o}"));
    }
    RouteInfo {
        internet_path: Some(false),
        reason: Some(reason),
        appliance: None,
    }
}
