//! What a rule file's `[query]` asks of an evaluated target.
//!
//! - `coverage`: the share of a traffic plane (`tcp`, `udp`, `253`) to public IPv4 or public IPv6
//!   that is allowed reaches `threshold` (EG001, EG005).
//! - `reachable`: any of the listed traffic is allowed (EG002–EG004, EG006–EG008, EG013).
//! - `broad-destination`: a tcp/udp port open to a wide public range (EG009).
//! - `shadowed-deny`, `redundant-rule`: rule-level checks (EG011, EG012), see `rule_level`.
//! - `allowlist`: public egress outside the listed traffic (users' own rules).
//! - `unused-rule`, `unused-attributes`: judged from flow logs (EG014, EG015), see `crate::flows`;
//!   they find nothing on declared rules alone.

use super::spec::{parse_dests, parse_spec, Spec};
use super::{rule_level, CheckDef, Evaluated};
use crate::config::Config;
use crate::eval::evidence;
use crate::model::space::{public, public4, public6, TCP, UDP};
use crate::model::{AddrSet, Finding, Pattern, Target, Text, TrafficSet};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::OnceLock;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum QueryKind {
    Coverage,
    Reachable,
    BroadDestination,
    ShadowedDeny,
    RedundantRule,
    Allowlist,
    /// EG016: found by reconciling probe results with declared targets (`checks::reconcile`),
    /// not by a query on one target.
    DeclaredObservedContradiction,
    /// EG014: judged from observed flows by `crate::flows`, not per target here.
    UnusedRule,
    /// EG015: judged from observed flows by `crate::flows`, not per target here.
    UnusedAttributes,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Query {
    pub kind: QueryKind,
    /// Traffic specs (see `spec.rs`): `tcp/445`, `icmp/8 to public4`, `tcp/443 to 1.1.1.1`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub traffic: Vec<String>,
    /// `risky_ports`: take the traffic list from the config, falling back to `traffic`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic_from_config: Option<String>,
    /// `dns_resolvers`: destinations from the config that do not count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude_from_config: Option<String>,
    /// `coverage`: the share (0–1] of a plane that must be allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// `broad-destination`: more than this many public IPv4 addresses on one port is broad.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ipv4: Option<u64>,
    /// `broad-destination`: more than 2^this public IPv6 addresses on one port is broad.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ipv6_bits: Option<u32>,
    /// `allowlist`: the only public egress the selected targets may have.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
    /// Only these targets are checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targets: Option<TargetSelector>,
}

/// Which targets a check applies to; every given field must match.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSelector {
    /// `aws`, `azure`, `gcp`, `probe`.
    #[serde(default)]
    pub providers: Vec<String>,
    /// Any of these tags: an AWS/Azure tag key or value, a GCP label, network tag or service account.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Every one of these key = value labels (AWS tags, Azure tags, GCP labels).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Any of these resource id patterns ([`Pattern`]: `*` is a wildcard, case is ignored).
    #[serde(default)]
    pub resource_ids: Vec<Pattern>,
}

impl TargetSelector {
    pub fn matches(&self, t: &Target) -> bool {
        let provider_ok = self.providers.is_empty()
            || self
                .providers
                .iter()
                .any(|p| p.eq_ignore_ascii_case(t.provider.as_str()));
        let tags_ok = self.tags.is_empty()
            || self.tags.iter().any(|tag| {
                t.labels.contains_key(tag)
                    || t.labels.values().any(|v| v == tag)
                    || t.selectors.iter().any(|s| s == tag)
            });
        let labels_ok = self
            .labels
            .iter()
            .all(|(k, v)| t.labels.get(k).is_some_and(|x| x == v));
        let ids_ok = self.resource_ids.is_empty()
            || self.resource_ids.iter().any(|p| p.matches(&t.resource_id));
        provider_ok && tags_ok && labels_ok && ids_ok
    }
}

/// A `[query]` field that cannot run: which field (and which element of a list), and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryFault {
    pub field: &'static str,
    pub index: Option<usize>,
    pub message: String,
}

impl Query {
    /// Every fault of the query, each naming its field, so a rule file's errors come in one pass.
    pub fn validate(&self) -> Vec<QueryFault> {
        let mut faults = Vec::new();
        let mut fault = |field, index, message| {
            faults.push(QueryFault {
                field,
                index,
                message,
            })
        };
        for (field, list) in [("traffic", &self.traffic), ("allow", &self.allow)] {
            for (i, t) in list.iter().enumerate() {
                if let Err(e) = parse_spec(t) {
                    fault(field, Some(i), e);
                }
            }
        }
        let needs_traffic = matches!(self.kind, QueryKind::Coverage | QueryKind::Reachable);
        if needs_traffic && self.traffic.is_empty() && self.traffic_from_config.is_none() {
            let why = "`traffic` must list at least one traffic spec".to_string();
            fault("traffic", None, why);
        }
        if let Some(k) = self
            .traffic_from_config
            .as_deref()
            .filter(|k| *k != "risky_ports")
        {
            let why = format!("traffic_from_config = {k:?}: only \"risky_ports\" exists");
            fault("traffic_from_config", None, why);
        }
        if let Some(k) = self
            .exclude_from_config
            .as_deref()
            .filter(|k| *k != "dns_resolvers")
        {
            let why = format!("exclude_from_config = {k:?}: only \"dns_resolvers\" exists");
            fault("exclude_from_config", None, why);
        }
        if let Some(t) = self.threshold.filter(|t| !(*t > 0.0 && *t <= 1.0)) {
            let why = format!("threshold {t} must be above 0 and at most 1");
            fault("threshold", None, why);
        }
        if self.kind == QueryKind::Allowlist && self.targets.is_none() {
            let why = "an allowlist needs `targets`, the workloads it restricts".to_string();
            fault("targets", None, why);
        }
        faults
    }
}

/// Config values the queries use, parsed once.
pub struct Context {
    risky: Option<Vec<Spec>>,
    dns_resolvers: AddrSet,
}

impl Context {
    pub fn new(cfg: &Config) -> Result<Context, String> {
        let risky = match &cfg.risky_ports {
            None => None,
            Some(list) => Some(
                list.iter()
                    .map(|s| parse_spec(s).map_err(|e| format!("risky_ports: {e}")))
                    .collect::<Result<_, _>>()?,
            ),
        };
        let dns_resolvers =
            parse_dests(&cfg.dns_resolvers.join(",")).map_err(|e| format!("dns_resolvers: {e}"))?;
        Ok(Context {
            risky,
            dns_resolvers,
        })
    }
}

/// A check's traffic, parsed once per scan rather than once per target. Each thread has its own.
pub struct Prepared {
    /// Each spec's traffic, already limited to public addresses outside the exclusions, with
    /// what the checks measure of it.
    specs: Vec<Plane>,
    /// `allowlist`: the permitted traffic.
    allow: TrafficSet,
    /// The union of the traffic of the specs that hit, by which ones hit (a bit per spec): the
    /// same few combinations recur on every target, and rebuilding the union was a fifth of the
    /// checks' time on a large estate.
    witnesses: RefCell<FxHashMap<Box<[u64]>, Rc<TrafficSet>>>,
}

/// At most this many witness unions are kept per check and thread.
const WITNESSES_KEPT: usize = 4096;

/// A spec and what the checks measure of it that does not depend on the target.
struct Plane {
    spec: Spec,
    /// How many addresses the spec names, when that is few enough to count them in messages
    /// rather than give a share of the internet.
    listed: Option<u128>,
    /// The packets it holds toward public IPv4 and toward public IPv6.
    whole: [f64; 2],
}

impl Plane {
    fn new(spec: Spec) -> Plane {
        let named = spec
            .traffic
            .pieces()
            .fold(AddrSet::empty(), |acc, (_, _, a)| acc.union(a));
        let listed = (named.len() <= 65_536).then(|| named.len());
        let whole = FAMILIES.map(|(fam, _)| measure(&spec.traffic, fam()));
        Plane {
            spec,
            listed,
            whole,
        }
    }

    /// A plane that no message names.
    fn unnamed(traffic: TrafficSet) -> Plane {
        Plane::new(Spec {
            text: String::new(),
            traffic,
        })
    }

    /// The share of the plane toward each family that `reached` (a part of it) holds.
    fn shares(&self, reached: &TrafficSet) -> [f64; 2] {
        let mut out = [0.0; 2];
        for (i, (fam, _)) in FAMILIES.iter().enumerate() {
            if self.whole[i] != 0.0 {
                out[i] = measure(reached, fam()) / self.whole[i];
            }
        }
        out
    }

    /// `100% of public IPv4 and 0.5% of public IPv6`, or `2 of 16 listed addresses (…)`: how
    /// much of the plane `reached` (a part of it) holds.
    fn describe(&self, reached: &TrafficSet) -> String {
        if let Some(named) = self.listed {
            let addrs = reached
                .pieces()
                .fold(AddrSet::empty(), |acc, (_, _, a)| acc.union(a));
            let list = crate::model::space::describe_addrs(&addrs);
            return format!("{} of {named} listed addresses ({list})", addrs.len());
        }
        let shares = self.shares(reached);
        let mut parts = Vec::new();
        for (i, (_, name)) in FAMILIES.iter().enumerate() {
            if self.whole[i] != 0.0 && shares[i] > 0.0 {
                parts.push(format!("{} of {name}", percent(shares[i])));
            }
        }
        parts.join(" and ")
    }
}

/// A public address family and its name in messages.
type Family = (fn() -> &'static AddrSet, &'static str);

/// The public address families that shares are given of.
const FAMILIES: [Family; 2] = [(public4, "public IPv4"), (public6, "public IPv6")];

impl Prepared {
    pub fn new(check: &CheckDef, ctx: &Context) -> Prepared {
        let q = &check.query;
        let mut specs: Vec<Spec> = match (&q.traffic_from_config, &ctx.risky) {
            (Some(_), Some(list)) => list.clone(),
            // Validated when the rule file was loaded.
            _ => q
                .traffic
                .iter()
                .filter_map(|t| parse_spec(t).ok())
                .collect(),
        };
        if q.exclude_from_config.as_deref() == Some("dns_resolvers") {
            for s in &mut specs {
                s.traffic = s
                    .traffic
                    .difference(&TrafficSet::rule(None, None, &ctx.dns_resolvers));
            }
        }
        let allow = q
            .allow
            .iter()
            .filter_map(|s| parse_spec(s).ok())
            .fold(TrafficSet::empty(), |acc, s| acc.union(&s.traffic));
        Prepared {
            specs: specs.into_iter().map(Plane::new).collect(),
            allow,
            witnesses: RefCell::default(),
        }
    }

    /// Everything the check's traffic specs name (public, after the config's exclusions).
    pub fn traffic(&self) -> TrafficSet {
        self.specs
            .iter()
            .fold(TrafficSet::empty(), |acc, p| acc.union(&p.spec.traffic))
    }

    /// The union of the traffic of the specs marked in `hit` (a bit per spec, in order).
    fn witness(&self, hit: &[u64]) -> Rc<TrafficSet> {
        if let Some(w) = self.witnesses.borrow().get(hit) {
            return w.clone();
        }
        let union = self
            .specs
            .iter()
            .enumerate()
            .filter(|(i, _)| hit[i / 64] & (1 << (i % 64)) != 0)
            .fold(TrafficSet::empty(), |acc, (_, p)| {
                acc.union(&p.spec.traffic)
            });
        let union = Rc::new(union);
        let mut kept = self.witnesses.borrow_mut();
        if kept.len() < WITNESSES_KEPT {
            kept.insert(hit.into(), union.clone());
        }
        union
    }
}

/// Which specs hit, a bit each.
fn hit_bits(count: usize) -> Vec<u64> {
    vec![0; count.div_ceil(64)]
}

fn mark(bits: &mut [u64], i: usize) {
    bits[i / 64] |= 1 << (i % 64);
}

/// Runs one check on one evaluated target.
pub fn run<'a>(
    check: &'a CheckDef,
    prep: &Prepared,
    ev: &Evaluated<'a>,
    verdicts: &mut rule_level::RuleVerdicts<'a>,
) -> Vec<Finding> {
    let q = &check.query;
    if let Some(sel) = &q.targets {
        if !sel.matches(ev.target) {
            return Vec::new();
        }
    }
    let observed = ev.target.observed;
    match q.kind {
        QueryKind::Coverage if observed && q.traffic.iter().any(|t| t.trim() == "253") => {
            Vec::new()
        }
        QueryKind::Coverage => coverage(check, ev, prep),
        QueryKind::Reachable => reachable(check, ev, prep),
        QueryKind::BroadDestination if observed => Vec::new(),
        QueryKind::BroadDestination => broad(check, ev),
        QueryKind::ShadowedDeny if observed => Vec::new(),
        QueryKind::ShadowedDeny => {
            rule_level::shadowed(check, ev, verdicts);
            Vec::new()
        }
        QueryKind::RedundantRule if observed => Vec::new(),
        QueryKind::RedundantRule => {
            rule_level::redundant(check, ev, verdicts);
            Vec::new()
        }
        QueryKind::Allowlist => allowlist(check, ev, &prep.allow),
        QueryKind::DeclaredObservedContradiction => Vec::new(),
        QueryKind::UnusedRule | QueryKind::UnusedAttributes => Vec::new(),
    }
}

/// A finding about a target, without evidence yet.
pub fn finding(check: &CheckDef, t: &Target, message: String) -> Finding {
    Finding {
        check_id: check.id.clone(),
        slug: check.slug.clone(),
        severity: check.severity,
        title: check.title.clone(),
        provider: Text::constant(t.provider.as_str()),
        account: t.account.clone(),
        region: t.region.clone(),
        resource_id: t.resource_id.clone(),
        resource_kind: t.resource_kind.clone(),
        resource_name: t.name.clone(),
        rule: None,
        message,
        evidence: Vec::new(),
        observed: t.observed,
        source: t.observed.then_some(crate::model::ObservedSource::Probe),
        notes: Vec::new(),
        original_severity: None,
        suppressed: None,
        fingerprint: crate::model::Fingerprint::of_fields(),
        cause: None,
        no_internet_path: false,
    }
}

/// The number of packets (protocol × port × address) in `t` toward `family`, as a float:
/// IPv6 planes overflow every integer type.
pub fn measure(t: &TrafficSet, family: &AddrSet) -> f64 {
    // Counted piece by piece, without building `t` restricted to `family` (protocols are
    // 0–255 and ports 0–65535 on every piece, so only the addresses narrow).
    t.pieces()
        .map(|((plo, phi), (lo, hi), a)| {
            (phi - plo + 1) as f64 * (hi - lo + 1) as f64 * a.overlap_len(family) as f64
        })
        .sum()
}

fn percent(x: f64) -> String {
    let p = x * 100.0;
    if p >= 99.995 {
        "100%".into()
    } else if p > 0.0 && p < 0.01 {
        "<0.01%".into()
    } else if (p - p.round()).abs() < 0.005 {
        format!("{}%", p.round())
    } else {
        format!("{p:.2}%")
    }
}

fn verb(t: &Target) -> &'static str {
    if t.observed {
        "was observed open"
    } else {
        "is allowed"
    }
}

/// The part of a spec's plane that is allowed, when there is one: the one intersection every
/// measure and message of the spec is taken from.
fn reached(allowed: &TrafficSet, plane: &Plane) -> Option<TrafficSet> {
    plane
        .spec
        .traffic
        .intersects(allowed)
        .then(|| allowed.intersect(&plane.spec.traffic))
}

fn coverage(check: &CheckDef, ev: &Evaluated, prep: &Prepared) -> Vec<Finding> {
    let threshold = check.query.threshold.unwrap_or(0.5);
    let allowed = &ev.outcome.allowed;
    let mut hits = Vec::new();
    let mut hit = hit_bits(prep.specs.len());
    for (i, plane) in prep.specs.iter().enumerate() {
        let Some(reach) = reached(allowed, plane) else {
            continue;
        };
        let shares = plane.shares(&reach);
        if (0..2).any(|f| plane.whole[f] > 0.0 && shares[f] >= threshold) {
            hits.push(format!(
                "{} {} to {}",
                plane.spec.text,
                verb(ev.target),
                plane.describe(&reach)
            ));
            mark(&mut hit, i);
        }
    }
    if hits.is_empty() {
        return Vec::new();
    }
    let mut f = finding(check, ev.target, hits.join("; "));
    f.evidence = evidence(ev.target, &ev.outcome, &prep.witness(&hit));
    vec![f]
}

fn reachable(check: &CheckDef, ev: &Evaluated, prep: &Prepared) -> Vec<Finding> {
    let allowed = &ev.outcome.allowed;
    // Specs with the same shares share a sentence: `tcp/22, tcp/25 are allowed to 100% of …`.
    let mut groups: Vec<(String, Vec<&str>)> = Vec::new();
    let mut hit = hit_bits(prep.specs.len());
    for (i, plane) in prep.specs.iter().enumerate() {
        let Some(reach) = reached(allowed, plane) else {
            continue;
        };
        let shares = plane.describe(&reach);
        match groups.iter_mut().find(|(s, _)| *s == shares) {
            Some((_, names)) => names.push(&plane.spec.text),
            None => groups.push((shares, vec![&plane.spec.text])),
        }
        mark(&mut hit, i);
    }
    if groups.is_empty() {
        return Vec::new();
    }
    let message = groups
        .iter()
        .map(|(shares, names)| {
            let v = verb(ev.target);
            let v = if names.len() > 1 {
                v.replacen("was", "were", 1).replacen("is", "are", 1)
            } else {
                v.to_string()
            };
            format!("{} {v} to {shares}", names.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ");
    let mut f = finding(check, ev.target, message);
    f.evidence = evidence(ev.target, &ev.outcome, &prep.witness(&hit));
    vec![f]
}

/// EG009: ports open to a wide public range, per protocol, when that protocol's plane is not
/// already at least half open (EG001's territory).
fn broad(check: &CheckDef, ev: &Evaluated) -> Vec<Finding> {
    let max4 = check.query.max_ipv4.unwrap_or(65_536) as u128;
    let max6 = 1u128 << check.query.max_ipv6_bits.unwrap_or(96).min(127);
    let allowed = &ev.outcome.allowed;
    let mut out = Vec::new();
    // The planes are the same for every target: built once.
    static PLANES: OnceLock<[(u8, &str, Plane); 2]> = OnceLock::new();
    let planes = PLANES.get_or_init(|| {
        [(TCP, "tcp"), (UDP, "udp")].map(|(p, name)| {
            (
                p,
                name,
                Plane::unnamed(TrafficSet::rule(Some(p), None, public())),
            )
        })
    });
    for (proto, name, plane) in planes {
        let mine = allowed.intersect(&plane.spec.traffic);
        if plane.shares(&mine).iter().any(|s| *s >= 0.5) {
            continue;
        }
        let mut ports: Vec<(u32, u32)> = Vec::new();
        let mut widest: u128 = 0;
        for (_, (lo, hi), addrs) in mine.pieces() {
            let n4 = addrs.overlap_len(public4());
            let n6 = addrs.overlap_len(public6());
            if n4 > max4 || n6 > max6 {
                ports.push((lo, hi));
                widest = widest.max(n4).max(n6);
            }
        }
        if ports.is_empty() {
            continue;
        }
        let port_list = crate::model::PortSet::from_ranges(ports);
        let witness = TrafficSet::rule(Some(*proto), Some(&port_list), public());
        let size = if widest >= 1u128 << 40 {
            format!("2^{}", 127 - widest.leading_zeros())
        } else {
            widest.to_string()
        };
        let mut f = finding(
            check,
            ev.target,
            format!(
                "{name}/{} {} to {} (up to {size} addresses on one port); name the destinations it needs",
                port_list.display_ports(),
                verb(ev.target),
                Plane::unnamed(witness.clone()).describe(&allowed.intersect(&witness)),
            ),
        );
        f.evidence = evidence(ev.target, &ev.outcome, &witness);
        out.push(f);
    }
    out
}

/// A user's allow-list: public egress of the selected targets outside the listed traffic.
fn allowlist(check: &CheckDef, ev: &Evaluated, permitted: &TrafficSet) -> Vec<Finding> {
    let extra = ev
        .outcome
        .allowed
        .restrict_addrs(public())
        .difference(permitted);
    if extra.is_empty() {
        return Vec::new();
    }
    let mut f = finding(
        check,
        ev.target,
        format!(
            "egress beyond the allow-list ({}): {}",
            if check.query.allow.is_empty() {
                "nothing".to_string()
            } else {
                check.query.allow.join(", ")
            },
            crate::eval::describe_traffic(&extra)
        ),
    );
    f.evidence = evidence(ev.target, &ev.outcome, &extra);
    vec![f]
}

#[cfg(test)]
mod tests {
    use super::TargetSelector;
    use crate::model::{RouteInfo, Target};
    use egress_audit_snapshot::Provider;

    fn selects(pattern: &str, id: &str, provider: Provider) -> bool {
        let sel: TargetSelector =
            toml::from_str(&format!("resource_ids = [{pattern:?}]")).expect("selector");
        sel.matches(&Target {
            provider,
            account: None,
            region: None,
            resource_id: id.into(),
            resource_kind: "nic".into(),
            name: None,
            labels: Default::default(),
            selectors: Vec::new(),
            chains: Vec::new(),
            route: RouteInfo::default(),
            address_limit: None,
            observed: false,
            identity: Default::default(),
        })
    }

    #[test]
    fn wildcards() {
        let aws = |p: &str, id: &str| selects(p, id, Provider::Aws);
        assert!(aws("sg-0abc*", "sg-0abc123"));
        assert!(aws("*/nsg-legacy", "/subs/x/nsg-legacy"));
        assert!(aws("*", "anything"));
        assert!(aws("a*b*c", "axxbyyc"));
        assert!(!aws("a*b*c", "axxbyy"));
        assert!(!aws("sg-1", "sg-12"));
        assert!(!aws("ab*ba", "aba"));
    }

    /// Issue 13: the lower-case pattern selects the ARM spelling (`resourceGroups`), as the same
    /// pattern in `[[suppress]]` does.
    #[test]
    fn selectors_ignore_case_as_suppressions_do() {
        let id = "/subscriptions/0000/resourceGroups/rg-x/providers/Microsoft.Network/networkInterfaces/nic-1";
        assert!(selects("*/resourcegroups/rg-x/*", id, Provider::Azure));
        assert!(!selects("*/resourcegroups/rg-y/*", id, Provider::Azure));
        assert!(selects("SG-0ABC*", "sg-0abc1", Provider::Aws));
    }

    #[test]
    fn measure_counts_what_the_restricted_set_holds() {
        use super::measure;
        use crate::model::space::{parse_addrs, public4, public6, PortSet};
        use crate::model::TrafficSet;
        let cidr = |c: &str| parse_addrs(c).unwrap();
        let t = TrafficSet::rule(Some(6), Some(&PortSet::range(400, 500)), &cidr("0.0.0.0/1"))
            .union(&TrafficSet::rule(Some(17), None, &cidr("8.8.8.0/24")))
            .union(&TrafficSet::rule(None, None, &cidr("10.0.0.0/8")))
            .union(&TrafficSet::rule(Some(6), None, &cidr("2000::/4")));
        for fam in [public4(), public6()] {
            let slow: f64 = t
                .restrict_addrs(fam)
                .pieces()
                .map(|((plo, phi), (lo, hi), a)| {
                    (phi - plo + 1) as f64 * (hi - lo + 1) as f64 * a.len() as f64
                })
                .sum();
            assert_eq!(measure(&t, fam), slow);
            assert!(slow > 0.0);
        }
    }
}
