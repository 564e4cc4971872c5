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
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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

/// A check's traffic, parsed once per scan rather than once per target.
pub struct Prepared {
    /// Each spec's traffic, already limited to public addresses outside the exclusions.
    specs: Vec<Spec>,
    /// `allowlist`: the permitted traffic.
    allow: TrafficSet,
}

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
        Prepared { specs, allow }
    }

    /// Everything the check's traffic specs name (public, after the config's exclusions).
    pub fn traffic(&self) -> TrafficSet {
        self.specs
            .iter()
            .fold(TrafficSet::empty(), |acc, s| acc.union(&s.traffic))
    }
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
        QueryKind::Coverage => coverage(check, ev, &prep.specs),
        QueryKind::Reachable => reachable(check, ev, &prep.specs),
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

fn share(allowed: &TrafficSet, plane: &TrafficSet, family: &AddrSet) -> f64 {
    let whole = measure(plane, family);
    if whole == 0.0 {
        return 0.0;
    }
    measure(&allowed.intersect(plane), family) / whole
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

/// `100% of public IPv4 and 0.5% of public IPv6`: the shares of a spec that pass.
fn describe_shares(allowed: &TrafficSet, plane: &TrafficSet) -> String {
    // A spec that names a few destinations: count them rather than give a share of the internet.
    let named = plane
        .pieces()
        .fold(AddrSet::empty(), |acc, (_, _, a)| acc.union(a));
    if named.len() <= 65_536 {
        let reached = allowed
            .intersect(plane)
            .pieces()
            .fold(AddrSet::empty(), |acc, (_, _, a)| acc.union(a));
        let list = crate::model::space::describe_addrs(&reached);
        return format!(
            "{} of {} listed addresses ({list})",
            reached.len(),
            named.len()
        );
    }
    let mut parts = Vec::new();
    for (fam, name) in [(public4(), "public IPv4"), (public6(), "public IPv6")] {
        if measure(plane, fam) == 0.0 {
            continue;
        }
        let s = share(allowed, plane, fam);
        if s > 0.0 {
            parts.push(format!("{} of {name}", percent(s)));
        }
    }
    parts.join(" and ")
}

fn coverage(check: &CheckDef, ev: &Evaluated, specs: &[Spec]) -> Vec<Finding> {
    let threshold = check.query.threshold.unwrap_or(0.5);
    let allowed = &ev.outcome.allowed;
    let mut hits = Vec::new();
    let mut witness = TrafficSet::empty();
    for spec in specs {
        let hit = [public4(), public6()].iter().any(|fam| {
            measure(&spec.traffic, fam) > 0.0 && share(allowed, &spec.traffic, fam) >= threshold
        });
        if hit {
            hits.push(format!(
                "{} {} to {}",
                spec.text,
                verb(ev.target),
                describe_shares(allowed, &spec.traffic)
            ));
            witness = witness.union(&spec.traffic);
        }
    }
    if hits.is_empty() {
        return Vec::new();
    }
    let mut f = finding(check, ev.target, hits.join("; "));
    f.evidence = evidence(ev.target, &ev.outcome, &witness);
    vec![f]
}

fn reachable(check: &CheckDef, ev: &Evaluated, specs: &[Spec]) -> Vec<Finding> {
    let allowed = &ev.outcome.allowed;
    // Specs with the same shares share a sentence: `tcp/22, tcp/25 are allowed to 100% of …`.
    let mut groups: Vec<(String, Vec<&str>)> = Vec::new();
    let mut witness = TrafficSet::empty();
    for spec in specs {
        let plane = &spec.traffic;
        if plane.intersects(allowed) {
            let shares = describe_shares(allowed, plane);
            match groups.iter_mut().find(|(s, _)| *s == shares) {
                Some((_, names)) => names.push(&spec.text),
                None => groups.push((shares, vec![&spec.text])),
            }
            witness = witness.union(plane);
        }
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
    f.evidence = evidence(ev.target, &ev.outcome, &witness);
    vec![f]
}

/// EG009: ports open to a wide public range, per protocol, when that protocol's plane is not
/// already at least half open (EG001's territory).
fn broad(check: &CheckDef, ev: &Evaluated) -> Vec<Finding> {
    let max4 = check.query.max_ipv4.unwrap_or(65_536) as u128;
    let max6 = 1u128 << check.query.max_ipv6_bits.unwrap_or(96).min(127);
    let allowed = &ev.outcome.allowed;
    let mut out = Vec::new();
    for (proto, name) in [(TCP, "tcp"), (UDP, "udp")] {
        let plane = TrafficSet::rule(Some(proto), None, public());
        let half_open = [public4(), public6()]
            .iter()
            .any(|fam| share(allowed, &plane, fam) >= 0.5);
        if half_open {
            continue;
        }
        let mine = allowed.intersect(&plane);
        let mut ports: Vec<(u32, u32)> = Vec::new();
        let mut widest: u128 = 0;
        for (_, (lo, hi), addrs) in mine.pieces() {
            let n4 = addrs.intersect(public4()).len();
            let n6 = addrs.intersect(public6()).len();
            if n4 > max4 || n6 > max6 {
                ports.push((lo, hi));
                widest = widest.max(n4).max(n6);
            }
        }
        if ports.is_empty() {
            continue;
        }
        let port_list = crate::model::PortSet::from_ranges(ports);
        let witness = TrafficSet::rule(Some(proto), Some(&port_list), public());
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
                describe_shares(allowed, &witness),
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
