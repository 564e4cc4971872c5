//! Least-privilege proposals from observed traffic (CHECKS.md §5 "Proposals"): per security group,
//! NSG or GCP network, the public egress its targets were seen to need (authorized classes, and
//! with `include_ambiguous` ambiguous ones), aggregated with a bounded widening budget, rendered in
//! the provider's own form, and verified by the engine on the patched inventory before it is
//! returned: every class it must allow passes, EG001–EG005 no longer fire, and the observed classes
//! it would block are listed.
//!
//! A proposal replaces only public egress: the allow rules it removes keep their non-public part
//! (a `keep` rule: private ranges, the metadata service), and deny rules stay.

mod patch;
pub mod render;
pub mod scope;
mod verify;

use crate::checks::Catalog;
use crate::config::Config;
use crate::eval::eval_target;
use crate::flows::{Analysis, Class, Status};
use crate::model::space::public;
use crate::model::{AddrSet, LayerKind, PortSet, ProtoSet, Rule, TrafficSet};
use crate::normalize::Inventory;
use serde::Serialize;
use std::collections::BTreeMap;

/// How far observed destinations may widen into one rule.
pub const WIDEN_V4_PREFIX: u32 = 24;
pub const WIDEN_V6_PREFIX: u32 = 64;

/// The budget as the output states it.
pub fn budget_text() -> String {
    format!(
        "widening budget: observed destinations that share an IPv4 /{WIDEN_V4_PREFIX} (or an IPv6 \
         /{WIDEN_V6_PREFIX}) are merged into that block, at most 256 IPv4 addresses per block; a \
         lone destination stays a /32 (/128); protocols and ports are never widened"
    )
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Allow ambiguous classes too (by default they are blocked and listed).
    pub include_ambiguous: bool,
}

/// What a proposal is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum UnitKind {
    SecurityGroup,
    Nsg,
    VpcNetwork,
}

/// One proposal: a security group, NSG or GCP network.
#[derive(Clone, Debug, Serialize)]
pub struct Proposal {
    pub provider: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub kind: UnitKind,
    /// Security group id, NSG resource id, or GCP network name.
    pub resource: String,
    /// The targets it applies to.
    pub targets: Vec<String>,
    /// Targets without flow-log coverage: their traffic is unknown and may be blocked.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub targets_without_flows: Vec<String>,
    /// The new public allows, as `tcp/443 to 52.94.8.0/24` pieces.
    pub allow: Vec<String>,
    /// The non-public part of the removed rules, kept.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub keep: Vec<String>,
    /// The existing allow rules with public traffic that it replaces.
    pub removes: Vec<String>,
    pub budget: String,
    /// The observed classes it must allow.
    pub allows_classes: Vec<Class>,
    /// Observed classes it would block (unauthorized; ambiguous without `include_ambiguous`).
    pub blocks: Vec<Class>,
    /// Observed classes already denied today by rules outside the proposal (not its to allow).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub denied_elsewhere: Vec<Class>,
    pub verified: bool,
    /// Why the engine did not verify it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
    /// The rules it adds, as rendered.
    pub planned: Vec<patch::Planned>,
    pub rendered: render::Rendered,
    #[serde(skip)]
    pub target_idx: Vec<usize>,
    #[serde(skip)]
    pub allow_set: TrafficSet,
    #[serde(skip)]
    pub keep_set: TrafficSet,
    #[serde(skip)]
    pub removed_rules: Vec<Rule>,
}

/// The unit a layer belongs to, if it is one a proposal replaces.
pub(crate) fn units_of_layer(layer: &crate::model::Layer) -> Vec<(UnitKind, String)> {
    match layer.kind {
        LayerKind::SecurityGroup => layer
            .resource
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| (UnitKind::SecurityGroup, s.to_string()))
            .collect(),
        LayerKind::Nsg => vec![(UnitKind::Nsg, layer.resource.clone())],
        LayerKind::VpcFirewall => {
            let net = layer
                .resource
                .strip_suffix(" (implied rules)")
                .unwrap_or(&layer.resource);
            vec![(UnitKind::VpcNetwork, net.to_string())]
        }
        _ => Vec::new(),
    }
}

/// Units → the targets whose chains hold them.
fn units(inv: &Inventory) -> BTreeMap<(UnitKind, String), Vec<usize>> {
    let mut out: BTreeMap<(UnitKind, String), Vec<usize>> = BTreeMap::new();
    for (ti, t) in inv.targets.iter().enumerate() {
        for layer in t.chains.iter().flat_map(|c| &c.layers) {
            for u in units_of_layer(layer) {
                let v = out.entry(u).or_default();
                if !v.contains(&ti) {
                    v.push(ti);
                }
            }
        }
    }
    out
}

/// Builds, renders and verifies the proposals for every unit with observed traffic.
pub fn propose(
    inv: &Inventory,
    analysis: &Analysis,
    profile: &egress_audit_flows::FlowProfile,
    catalog: &Catalog,
    cfg: &Config,
    opts: Options,
) -> anyhow::Result<Vec<Proposal>> {
    let mut proposals = Vec::new();
    for ((kind, resource), targets) in units(inv) {
        let classes: Vec<&Class> = analysis
            .classes
            .iter()
            .filter(|c| targets.contains(&c.target))
            .collect();
        if classes.is_empty() {
            // Nothing observed: nothing to build a proposal from.
            continue;
        }
        proposals.push(build(
            inv, analysis, profile, kind, &resource, &targets, &classes, opts,
        ));
    }
    verify::verify_all(inv, &mut proposals, analysis, catalog, cfg)?;
    for p in &mut proposals {
        p.rendered = render::render(p);
    }
    Ok(proposals)
}

fn wanted(c: &Class, opts: Options) -> bool {
    c.status == Status::Authorized || (opts.include_ambiguous && c.status == Status::Ambiguous)
}

#[allow(clippy::too_many_arguments)]
fn build(
    inv: &Inventory,
    analysis: &Analysis,
    profile: &egress_audit_flows::FlowProfile,
    kind: UnitKind,
    resource: &str,
    targets: &[usize],
    classes: &[&Class],
    opts: Options,
) -> Proposal {
    let first = &inv.targets[targets[0]];
    let mut must = TrafficSet::empty();
    let mut allows_classes = Vec::new();
    let mut denied_elsewhere = Vec::new();
    for c in classes.iter().filter(|c| wanted(c, opts)) {
        let today = eval_target(&inv.targets[c.target]).allowed;
        if c.traffic_set().is_subset(&today) {
            must = must.union(&c.traffic_set());
            allows_classes.push((*c).clone());
        } else {
            denied_elsewhere.push((*c).clone());
        }
    }
    let allow_set = match kind {
        // A GCP rule names the instances it is for (`scope`): each instance's destinations are
        // widened on their own, so no instance gets a block only the others' traffic made.
        UnitKind::VpcNetwork => targets.iter().fold(TrafficSet::empty(), |acc, &t| {
            acc.union(&widen(&must_of(&allows_classes, t)))
        }),
        _ => widen(&must),
    };
    let removed_rules = patch::removed_rules(inv, targets, kind, resource);
    let keep_set = targets.iter().fold(TrafficSet::empty(), |acc, &t| {
        acc.union(&patch::keep_of(inv, t, kind, resource, &removed_rules))
    });
    let mut p = Proposal {
        provider: first.provider.as_str().to_string(),
        account: first.account.clone().map(String::from),
        region: first.region.clone().map(String::from),
        kind,
        resource: resource.to_string(),
        targets: targets
            .iter()
            .map(|&t| inv.targets[t].resource_id.to_string())
            .collect(),
        targets_without_flows: targets
            .iter()
            .filter(|&&t| {
                crate::flows::coverage::covered(&inv.targets[t], profile, &analysis.window).is_err()
            })
            .map(|&t| inv.targets[t].resource_id.to_string())
            .collect(),
        allow: describe_pieces(&allow_set),
        keep: describe_pieces(&keep_set),
        removes: removed_rules.iter().map(|r| r.name.to_string()).collect(),
        budget: match kind {
            UnitKind::VpcNetwork => format!("{}; per instance", budget_text()),
            _ => budget_text(),
        },
        allows_classes,
        blocks: Vec::new(),
        denied_elsewhere,
        verified: false,
        problems: Vec::new(),
        planned: Vec::new(),
        rendered: render::Rendered::default(),
        target_idx: targets.to_vec(),
        allow_set,
        keep_set,
        removed_rules,
    };
    p.planned = patch::plan(&p, inv, targets);
    p
}

/// The observed traffic of target `t` among `classes`.
pub(crate) fn must_of(classes: &[Class], t: usize) -> TrafficSet {
    classes
        .iter()
        .filter(|c| c.target == t)
        .fold(TrafficSet::empty(), |acc, c| acc.union(&c.traffic_set()))
}

/// Each piece of a set on its own line: `tcp/443 to 52.94.8.0/24, 52.94.9.7/32`.
pub fn describe_pieces(t: &TrafficSet) -> Vec<String> {
    t.pieces()
        .map(|((plo, phi), (lo, hi), a)| {
            crate::eval::describe_traffic(&TrafficSet::product(
                &ProtoSet::range(plo, phi),
                &PortSet::range(lo, hi),
                a,
            ))
        })
        .collect()
}

/// Applies the widening budget to every (protocol, port)'s destinations.
pub fn widen(t: &TrafficSet) -> TrafficSet {
    let mut out = TrafficSet::empty();
    for ((plo, phi), (lo, hi), addrs) in t.pieces() {
        out = out.union(&TrafficSet::product(
            &ProtoSet::range(plo, phi),
            &PortSet::range(lo, hi),
            &widen_addrs(addrs),
        ));
    }
    out
}

/// Addresses that share a /24 (IPv6 /64) with another observed address become that block.
pub fn widen_addrs(addrs: &AddrSet) -> AddrSet {
    let v4 = crate::model::space::all_v4();
    let mut blocks: BTreeMap<u128, (u32, u128)> = BTreeMap::new();
    for &(lo, hi) in addrs.ranges() {
        let bits = if v4.contains(lo) {
            32 - WIDEN_V4_PREFIX
        } else {
            128 - WIDEN_V6_PREFIX
        };
        let mask = !((1u128 << bits) - 1);
        let e = blocks.entry(lo & mask).or_insert((0, mask));
        // A range counts as at least two addresses when it spans more than one.
        e.0 += if hi > lo { 2 } else { 1 };
    }
    // One set operation for all blocks: a union per block would be quadratic.
    let wide = AddrSet::from_ranges(
        blocks
            .into_iter()
            .filter(|(_, (n, _))| *n >= 2)
            .map(|(base, (_, mask))| (base, base | !mask))
            .collect(),
    );
    // Never widen into non-public space: the blocks are cut to public addresses.
    addrs.union(&wide.intersect(public()))
}
