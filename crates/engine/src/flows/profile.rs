//! The report's view of the classes: per target, every observed class with its numbers
//! ([`crate::model::traffic`]), as `scan --flows` writes it in every format.

use super::coverage::time;
use super::{Analysis, Class};
use crate::model::reconciliation::TargetRef;
use crate::model::space::{display_addrs, proto_name, ICMP, ICMPV6};
use crate::model::traffic::{ProfileClass, Status, TargetProfile, TrafficProfile};
use crate::model::Target;
use std::collections::BTreeMap;

/// The profile of `a`'s classes, targets with unauthorized classes first, then by flows.
pub fn build(a: &Analysis, targets: &[Target]) -> TrafficProfile {
    let mut by_target: BTreeMap<usize, Vec<&Class>> = BTreeMap::new();
    for c in &a.classes {
        by_target.entry(c.target).or_default().push(c);
    }
    let mut out: Vec<TargetProfile> = by_target
        .into_iter()
        .map(|(ti, classes)| target_profile(&targets[ti], &classes))
        .collect();
    out.sort_by(|x, y| {
        (y.unauthorized, y.flows)
            .cmp(&(x.unauthorized, x.flows))
            .then_with(|| x.target.resource_id.cmp(&y.target.resource_id))
    });
    TrafficProfile {
        window_start: time(a.window.start),
        window_end: time(a.window.end),
        window_days: a.window.days,
        targets: out,
    }
}

fn target_profile(t: &Target, classes: &[&Class]) -> TargetProfile {
    let mut list: Vec<ProfileClass> = classes.iter().map(|c| class(c)).collect();
    list.sort_by(|x, y| {
        (x.status.rank(), y.flows, y.bytes)
            .cmp(&(y.status.rank(), x.flows, x.bytes))
            .then_with(|| x.service().cmp(&y.service()))
    });
    let count = |s: Status| classes.iter().filter(|c| c.status == s).count();
    TargetProfile {
        target: TargetRef::of(t),
        flows: classes.iter().map(|c| c.flows).sum(),
        packets: classes.iter().map(|c| c.packets).sum(),
        bytes: classes.iter().map(|c| c.bytes).sum(),
        unauthorized: count(Status::Unauthorized),
        ambiguous: count(Status::Ambiguous),
        authorized: count(Status::Authorized),
        classes: list,
    }
}

fn class(c: &Class) -> ProfileClass {
    let port = match c.protocol {
        6 | 17 | 132 => Some(c.port.to_string()),
        // The port axis of icmp holds `type * 256` (the logs carry no code).
        ICMP | ICMPV6 => Some(format!("type {}", c.port / 256)),
        _ => None,
    };
    ProfileClass {
        protocol: proto_name(u32::from(c.protocol)),
        port,
        destinations: display_addrs(&c.destinations),
        status: c.status,
        checks: c.checks.clone(),
        authorized_by: c.authorized_by.clone(),
        flows: c.flows,
        packets: c.packets,
        bytes: c.bytes,
        first_seen: time(c.first_seen),
        last_seen: time(c.last_seen),
    }
}
