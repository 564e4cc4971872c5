//! The egress profile per target (CHECKS.md §5 "Classes"): target × protocol × port ×
//! destination, each `unauthorized` (a check's traffic), else `authorized` (a config
//! `[[authorized]]` entry), else `ambiguous`.

use super::attribute::Point;
use super::Observed;
use crate::checks::spec::parse_spec;
use crate::checks::{CheckDef, TargetSelector};
use crate::config::Authorized;
use crate::eval::describe_traffic;
use crate::model::{AddrSet, PortSet, Target, TrafficSet};
use serde::Serialize;
use std::collections::BTreeMap;

pub use crate::model::traffic::Status;

/// One observed class of one target, destinations aggregated.
#[derive(Clone, Debug, Serialize)]
pub struct Class {
    /// Index into the inventory's targets.
    #[serde(skip)]
    pub target: usize,
    pub target_id: String,
    pub protocol: u8,
    /// The port axis (see [`Point`]).
    pub port: u32,
    #[serde(skip)]
    pub destinations: AddrSet,
    /// `tcp/443 to 52.94.8.12/32, 52.94.8.40/32`.
    pub traffic: String,
    pub status: Status,
    /// The checks whose traffic it is (unauthorized).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<String>,
    /// The `[[authorized]]` entry that matched (authorized).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorized_by: Option<String>,
    pub flows: u64,
    pub packets: u64,
    pub bytes: u64,
    pub first_seen: i64,
    pub last_seen: i64,
}

impl Class {
    /// The class as a traffic set (its protocol, port and destinations).
    pub fn traffic_set(&self) -> TrafficSet {
        point_traffic(self.protocol, self.port, &self.destinations)
    }
}

pub fn point_traffic(proto: u8, port: u32, addrs: &AddrSet) -> TrafficSet {
    TrafficSet::product(
        &crate::model::ProtoSet::single(u32::from(proto)),
        &PortSet::single(port),
        addrs,
    )
}

/// The config's `[[authorized]]` entries, parsed (validated when the config was read).
pub struct AuthorizedSet {
    entries: Vec<(String, TrafficSet, Option<TargetSelector>)>,
}

impl AuthorizedSet {
    pub fn new(list: &[Authorized]) -> anyhow::Result<AuthorizedSet> {
        let mut entries = Vec::new();
        for (i, a) in list.iter().enumerate() {
            let spec = parse_spec(&a.traffic)
                .map_err(|e| anyhow::anyhow!("config: [[authorized]] entry {}: {e}", i + 1))?;
            entries.push((a.traffic.clone(), spec.traffic, a.targets.clone()));
        }
        Ok(AuthorizedSet { entries })
    }

    fn matching(&self, target: &Target, p: Point) -> Option<&str> {
        self.entries
            .iter()
            .find(|(_, t, sel)| {
                t.contains(p.proto, p.port, p.addr)
                    && sel.as_ref().is_none_or(|s| s.matches(target))
            })
            .map(|(text, _, _)| text.as_str())
    }
}

/// What a point is for a target, and why.
pub fn classify(
    target: &Target,
    p: Point,
    checks: &[(&CheckDef, TrafficSet)],
    authorized: &AuthorizedSet,
) -> (Status, Vec<String>, Option<String>) {
    let hit: Vec<String> = checks
        .iter()
        .filter(|(_, t)| t.contains(p.proto, p.port, p.addr))
        .map(|(c, _)| c.id.to_string())
        .collect();
    if !hit.is_empty() {
        return (Status::Unauthorized, hit, None);
    }
    match authorized.matching(target, p) {
        Some(text) => (Status::Authorized, Vec::new(), Some(text.to_string())),
        None => (Status::Ambiguous, Vec::new(), None),
    }
}

/// Groups the observed flows in the window into classes, per target, protocol, port and status.
pub fn build(
    observed: &[Observed],
    targets: &[Target],
    checks: &[(&CheckDef, TrafficSet)],
    authorized: &AuthorizedSet,
) -> Vec<Class> {
    type Key = (usize, u8, u32, Status, Vec<String>, Option<String>);
    // Addresses are gathered in a list and made a set once: a union per flow would be quadratic.
    let mut groups: BTreeMap<Key, (Class, Vec<u128>)> = BTreeMap::new();
    for o in observed.iter().filter(|o| o.in_window) {
        let t = &targets[o.target];
        let (status, ids, by) = classify(t, o.point, checks, authorized);
        let key = (o.target, o.point.proto, o.point.port, status, ids, by);
        let (c, addrs) = groups.entry(key.clone()).or_insert_with(|| {
            (
                Class {
                    target: o.target,
                    target_id: t.resource_id.to_string(),
                    protocol: o.point.proto,
                    port: o.point.port,
                    destinations: AddrSet::empty(),
                    traffic: String::new(),
                    status,
                    checks: key.4.clone(),
                    authorized_by: key.5.clone(),
                    flows: 0,
                    packets: 0,
                    bytes: 0,
                    first_seen: i64::MAX,
                    last_seen: i64::MIN,
                },
                Vec::new(),
            )
        });
        addrs.push(o.point.addr);
        c.flows += o.stats.flows;
        c.packets += o.stats.packets;
        c.bytes += o.stats.bytes;
        c.first_seen = c.first_seen.min(o.stats.first_seen);
        c.last_seen = c.last_seen.max(o.stats.last_seen);
    }
    groups
        .into_values()
        .map(|(mut c, addrs)| {
            c.destinations = AddrSet::from_ranges(addrs.into_iter().map(|a| (a, a)).collect());
            c.traffic = describe_traffic(&c.traffic_set());
            c
        })
        .collect()
}
