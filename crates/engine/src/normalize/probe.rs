//! Probe results (`egress-audit probe --format json`) → observed targets.
//!
//! Each probe file becomes one target (`resource_kind` `host`, `observed: true`) whose single
//! chain holds one [`LayerKind::Observed`] layer of allow rules, with everything else denied.
//!
//! **Generalisation.** A probe reaches one address, but what it measures is the path out: a tcp
//! port that reached the all-ports responder is taken to leave *to the public internet* of that
//! address family (public4 for an IPv4 target, public6 for IPv6). So an open tcp/445 becomes
//! "tcp/445 to public IPv4", and EG002 fires as for a declared rule. Likewise an ICMP echo reply
//! means icmp type 8 (icmpv6 128) leaves, a DNS answer from 8.8.8.8 or 1.1.1.1 over udp or tcp
//! means udp/53 or tcp/53 leaves, and tcp/853 reaching a DoT resolver means tcp/853 leaves. A DoH
//! answer is only taken as tcp/443 to *that resolver's* address (tcp/443 in general is measured by
//! the sweep). Intercepted ports are not counted as open; they become a warning.
//!
//! **Not the internet.** When the address reached is loopback, private, documentation or another
//! special-purpose address (not in public4/public6), the path measured is not the path to the
//! internet. The result is still evaluated as a stand-in for that family's public plane (the host
//! did let the traffic out, and a finding is better than a hidden one), but it is not *claimed* as
//! the public internet: the target gets a `probe-non-public-target` warning, each such rule's
//! destination reads `10.0.0.5 only (private address; not the public internet)`, and findings that
//! rest only on such rules say what was really reached (`super::reach`).

use super::observed::{self, Observation, ProbeIdentity, ProbeRecord};
use super::reach::{non_public_class, reach_name, reached_text, NOT_PUBLIC};
use super::{DocContext, Inventory, Options};
use crate::model::space::{public4, public6, AddrSet, ICMP, ICMPV6, TCP, UDP};
use crate::model::RuleText;
use crate::model::WarningKind;
use crate::model::{Action, Chain, Layer, LayerKind, PortSet, Rule, Target, TrafficSet, Warning};
use crate::normalize::fields::{self, FieldError};
use crate::normalize::NormalizeError;
use egress_audit_snapshot::Provider;
use observed::PROBE;
use serde_json::Value;
use std::net::IpAddr;

/// The marker the probe writes; newer versions are refused with a clear message.
const FORMAT_PREFIX: &str = "egress-audit-probe/";

#[derive(Default, Debug)]
pub struct ProbeBundle {
    probes: Vec<(String, ParsedProbe)>,
}

#[derive(Debug)]
struct ParsedProbe {
    host: String,
    target: String,
    address: IpAddr,
    started: Option<String>,
    expect: String,
    partial: bool,
    rules: Vec<Rule>,
    warnings: Vec<String>,
    identity: Option<ProbeIdentity>,
    labels: std::collections::BTreeMap<String, String>,
    observations: Vec<Observation>,
}

impl ProbeBundle {
    pub fn detect(v: &Value) -> bool {
        v.get("format")
            .and_then(Value::as_str)
            .is_some_and(|f| f.starts_with(FORMAT_PREFIX))
    }

    pub fn add_probe(&mut self, v: Value, ctx: &DocContext) -> Result<(), NormalizeError> {
        let p = parse(&v)?;
        self.probes.push((ctx.source.clone(), p));
        Ok(())
    }

    pub fn build(self, _opts: &Options, inv: &mut Inventory) {
        for (source, p) in self.probes {
            let id = format!("{} → {}", p.host, p.target);
            let mut t = Target::new(Provider::Probe, id.clone(), "host");
            t.name = Some(p.host.as_str().into());
            t.observed = true;
            t.labels.insert("probe_target".into(), p.target.clone());
            t.labels
                .insert("probe_address".into(), p.address.to_string());
            if let Some(s) = &p.started {
                t.labels.insert("probe_started".into(), s.clone());
            }
            t.labels.insert("probe_expect".into(), p.expect.clone());
            for (k, v) in &p.labels {
                t.labels.entry(k.clone()).or_insert_with(|| v.clone());
            }
            if let Some(idn) = &p.identity {
                t.account = idn.account.clone().map(Into::into);
                t.region = idn.region.clone().map(Into::into);
                t.identity.instance_ids = idn.instance_id.iter().cloned().collect();
                t.identity.interface_ids =
                    idn.interfaces.iter().filter_map(|n| n.id.clone()).collect();
                t.identity.addresses = idn
                    .interfaces
                    .iter()
                    .flat_map(|n| n.addresses.iter().copied())
                    .collect();
                t.identity.network = idn.network.clone();
            }
            inv.probes.push(ProbeRecord {
                source: source.clone(),
                host: p.host.clone(),
                target: p.target.clone(),
                address: p.address,
                partial: p.partial,
                identity: p.identity.clone(),
                labels: p.labels.clone(),
                observations: p.observations.clone(),
                resource_id: id.clone(),
            });
            t.chains.push(Chain {
                layers: vec![Layer {
                    kind: LayerKind::Observed,
                    resource: format!("probe {id}"),
                    rules: p.rules.into(),
                    no_match: Action::Deny,
                    unordered: true,
                }],
            });
            for message in p.warnings {
                inv.warnings.push(Warning {
                    kind: WarningKind::ProbeIntercepted,
                    source: source.clone(),
                    message,
                });
            }
            if let Some(class) = non_public_class(p.address) {
                inv.warnings.push(Warning {
                    kind: crate::model::WarningKind::ProbeNonPublicTarget,
                    source: source.clone(),
                    message: format!(
                        "the probe from {} swept {}, a {class} address, {NOT_PUBLIC}: its open \
                         ports show what leaves the host, and findings from them say so",
                        p.host,
                        reach_name(&p.target, p.address)
                    ),
                });
            }
            if p.partial {
                inv.warnings.push(Warning {
                    kind: WarningKind::PartialData,
                    source: source.clone(),
                    message: format!(
                        "the probe from {} was interrupted: untested ports count as not observed",
                        p.host
                    ),
                });
            }
            inv.targets.push(t);
        }
    }
}

fn family(addr: IpAddr) -> (&'static AddrSet, &'static str) {
    if addr.is_ipv4() {
        (public4(), "public IPv4")
    } else {
        (public6(), "public IPv6")
    }
}

fn allow(
    name: String,
    resource: &str,
    proto: u8,
    ports: PortSet,
    ports_text: String,
    addrs: &AddrSet,
    dest: String,
) -> Rule {
    Rule {
        written: RuleText::new(
            name.into(),
            Action::Allow,
            None,
            crate::model::space::proto_name(proto as u32).into(),
            ports_text.into(),
            dest.into(),
        ),
        resource: resource.to_string().into(),
        action: Action::Allow,
        traffic: TrafficSet::rule(Some(proto), Some(&ports), addrs).into(),
        unresolved: Vec::new(),
        synthetic: false,
    }
}

fn field<'a>(v: &'a Value, path: &str, name: &str) -> Result<&'a str, FieldError> {
    let at = format!("{path}{name}");
    fields::as_opt_str(v.get(name), &at, PROBE)?
        .ok_or_else(|| FieldError::missing(PROBE, &at, "a string"))
}

/// `[[lo, hi], ...]` at `path`; absent or null is empty.
fn ranges(v: &Value, path: &str) -> Result<Vec<(u16, u16)>, NormalizeError> {
    let Some(x) = v.get(path.rsplit('.').next().unwrap_or(path)) else {
        return Ok(Vec::new());
    };
    if x.is_null() {
        return Ok(Vec::new());
    }
    let arr = x
        .as_array()
        .ok_or_else(|| format!("`{path}` must be a list of [lo, hi] port ranges"))?;
    arr.iter()
        .enumerate()
        .map(|(i, r)| {
            let pair = r.as_array().filter(|p| p.len() == 2);
            let nums = pair.and_then(|p| {
                let lo = p[0].as_u64().filter(|n| *n <= 65535)?;
                let hi = p[1].as_u64().filter(|n| *n <= 65535)?;
                (lo <= hi).then_some((lo as u16, hi as u16))
            });
            nums.ok_or_else(|| {
                let reason = "must be [lo, hi] with 0 ≤ lo ≤ hi ≤ 65535";
                FieldError::invalid(PROBE, &format!("{path}[{i}]"), r, reason).into()
            })
        })
        .collect()
}

fn display(lo: u16, hi: u16) -> String {
    if lo == hi {
        lo.to_string()
    } else {
        format!("{lo}-{hi}")
    }
}

fn list<'a>(v: &'a Value, path: &str) -> Result<&'a [Value], NormalizeError> {
    match v.get("results") {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(format!("`{path}.results` must be a list").into()),
    }
}

fn parse(v: &Value) -> Result<ParsedProbe, NormalizeError> {
    let format = field(v, "", "format")?;
    if format != egress_audit_snapshot::probe_result::FORMAT {
        return Err(format!(
            "probe result format {format:?} is not supported (this version reads {:?})",
            egress_audit_snapshot::probe_result::FORMAT
        )
        .into());
    }
    let host = field(v, "", "host")?.to_string();
    let target = field(v, "", "target")?.to_string();
    let address: IpAddr = field(v, "", "address")?
        .parse()
        .map_err(|_| "probe result field `address` is not an IP address".to_string())?;
    let expect = v
        .pointer("/settings/expect")
        .and_then(Value::as_str)
        .unwrap_or(egress_audit_snapshot::probe_result::DEFAULT_EXPECT)
        .to_string();
    let partial = match v.get("partial") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err("probe result field `partial` must be true or false".into()),
    };
    let resource = format!("probe {host} → {target}");
    let (fam, fam_name) = family(address);
    let mut rules = Vec::new();
    let mut warnings = Vec::new();

    if let Some(tcp) = v.get("tcp").filter(|t| !t.is_null()) {
        if !tcp.is_object() {
            return Err("probe result field `tcp` must be an object".into());
        }
        for (lo, hi) in ranges(tcp, "tcp.open")? {
            let ports = display(lo, hi);
            rules.push(allow(
                format!("probe tcp open {ports} ({expect})"),
                &resource,
                TCP,
                PortSet::range(lo as u32, hi as u32),
                ports,
                fam,
                reached_text(fam_name, address, &reach_name(&target, address)),
            ));
        }
        let intercepted = ranges(tcp, "tcp.intercepted")?;
        if !intercepted.is_empty() {
            let shown: Vec<String> = intercepted.iter().map(|r| display(r.0, r.1)).collect();
            warnings.push(format!(
                "tcp ports {} from {host} were answered by something other than {target} \
                 (a proxy, captive portal or port rewrite): not counted as open",
                shown.join(", ")
            ));
        }
        for f in ["closed", "filtered", "untested"] {
            ranges(tcp, &format!("tcp.{f}"))?;
        }
    }

    if let Some(icmp) = v.get("icmp").filter(|t| !t.is_null()) {
        for (i, r) in list(icmp, "icmp")?.iter().enumerate() {
            let path = format!("icmp.results[{i}].");
            if field(r, &path, "verdict")? != "reply" {
                continue;
            }
            let a: IpAddr = field(r, &path, "address")?
                .parse()
                .map_err(|_| format!("probe result field `{path}address` is not an IP address"))?;
            let (proto, ty, set, name) = if a.is_ipv4() {
                (ICMP, 8, public4(), "public IPv4")
            } else {
                (ICMPV6, 128, public6(), "public IPv6")
            };
            rules.push(allow(
                format!("probe icmp echo reply from {a}"),
                &resource,
                proto,
                PortSet::icmp(ty, None),
                format!("type {ty}"),
                set,
                reached_text(name, a, &a.to_string()),
            ));
        }
    }

    if let Some(dns) = v.get("dns").filter(|t| !t.is_null()) {
        for (i, r) in list(dns, "dns")?.iter().enumerate() {
            let path = format!("dns.results[{i}].");
            let verdict = field(r, &path, "verdict")?;
            let transport = field(r, &path, "transport")?;
            let server = field(r, &path, "server")?;
            let Ok(a) = server.parse::<IpAddr>() else {
                return Err(
                    format!("probe result field `{path}server` is not an IP address").into(),
                );
            };
            let (set, name) = family(a);
            let (proto, port, what) = match (transport, verdict) {
                ("udp", "answered") => (UDP, 53, "dns udp/53 answered"),
                ("tcp", "answered") => (TCP, 53, "dns tcp/53 answered"),
                ("tls", "answered") => (TCP, 853, "dot tcp/853 answered"),
                ("tls", "connected") => (TCP, 853, "dot tcp/853 connected"),
                _ => continue,
            };
            rules.push(allow(
                format!("probe {what} by {server}"),
                &resource,
                proto,
                PortSet::single(port),
                port.to_string(),
                set,
                reached_text(name, a, server),
            ));
        }
    }

    if let Some(doh) = v.get("doh").filter(|t| !t.is_null()) {
        for (i, r) in list(doh, "doh")?.iter().enumerate() {
            let path = format!("doh.results[{i}].");
            if field(r, &path, "verdict")? != "answered" {
                continue;
            }
            let resolver = field(r, &path, "resolver")?;
            let a: IpAddr = field(r, &path, "address")?
                .parse()
                .map_err(|_| format!("probe result field `{path}address` is not an IP address"))?;
            rules.push(allow(
                format!("probe doh answered by {resolver} ({a})"),
                &resource,
                TCP,
                PortSet::single(443),
                "443".into(),
                &AddrSet::single(crate::model::space::addr(a)),
                a.to_string(),
            ));
        }
    }

    if let Some(udp) = v.get("udp").filter(|t| !t.is_null()) {
        for f in ["echoed", "answered"] {
            for (lo, hi) in ranges(udp, &format!("udp.{f}"))? {
                let ports = display(lo, hi);
                rules.push(allow(
                    format!("probe udp {f} {ports}"),
                    &resource,
                    UDP,
                    PortSet::range(lo as u32, hi as u32),
                    ports,
                    fam,
                    reached_text(fam_name, address, &reach_name(&target, address)),
                ));
            }
        }
    }

    let observations = observed::observations(v, address, ranges)?;
    Ok(ParsedProbe {
        identity: observed::identity(v)?,
        labels: observed::labels(v)?,
        observations,
        started: v.get("started").and_then(Value::as_str).map(String::from),
        host,
        target,
        address,
        expect,
        partial,
        rules,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Value {
        json!({
            "format": "egress-audit-probe/1", "host": "web-1", "target": "letmeoutofyour.net",
            "address": "203.0.113.9", "partial": false, "settings": {"expect": "w00tw00t"},
            "tcp": {"open": [[440, 450]], "intercepted": [[8080, 8080]], "closed": [], "filtered": [[1, 439]]},
            "icmp": {"method": "raw", "results": [{"address": "1.1.1.1", "verdict": "reply"}]},
            "dns": {"name": "example.com", "results": [
                {"server": "8.8.8.8", "transport": "udp", "port": 53, "verdict": "answered"},
                {"server": "8.8.8.8", "transport": "tcp", "port": 53, "verdict": "no-answer"}],
                "system_resolver": {"server": "system", "transport": "system", "port": 53, "verdict": "answered"}},
            "doh": {"results": [{"resolver": "dns.google", "address": "8.8.8.8", "method": "POST", "verdict": "answered"}]},
            "udp": null
        })
    }

    #[test]
    fn probe_becomes_observed_rules() {
        let mut b = ProbeBundle::default();
        assert!(ProbeBundle::detect(&sample()));
        b.add_probe(sample(), &DocContext::default()).unwrap();
        let mut inv = Inventory::default();
        b.build(&Options::default(), &mut inv);
        let t = &inv.targets[0];
        assert!(t.observed);
        assert_eq!(t.resource_kind, "host");
        let rules = &t.chains[0].layers[0].rules;
        let names: Vec<&str> = rules.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            vec![
                "probe tcp open 440-450 (w00tw00t)",
                "probe icmp echo reply from 1.1.1.1",
                "probe dns udp/53 answered by 8.8.8.8",
                "probe doh answered by dns.google (8.8.8.8)",
            ]
        );
        let google = crate::model::space::v4("8.8.8.8".parse().unwrap());
        let other = crate::model::space::v4("9.9.9.9".parse().unwrap());
        assert!(rules[0].traffic.contains(TCP, 445, other));
        assert!(!rules[0].traffic.contains(TCP, 451, other));
        assert!(rules[3].traffic.contains(TCP, 443, google));
        assert!(!rules[3].traffic.contains(TCP, 443, other));
        // 203.0.113.9 is a documentation address: the sweep's rules say so, the echo reply
        // from 1.1.1.1 (public) is generalised as usual.
        assert_eq!(
            rules[0].destination,
            "letmeoutofyour.net 203.0.113.9 only (documentation address; not the public internet)"
        );
        assert_eq!(
            rules[1].destination,
            "public IPv4 (observed reaching 1.1.1.1)"
        );
        let kinds: Vec<&str> = inv.warnings.iter().map(|w| w.kind.as_str()).collect();
        assert_eq!(kinds, vec!["probe-intercepted", "probe-non-public-target"]);
        assert!(inv.warnings[0].message.contains("8080"));
        assert!(inv.warnings[1].message.contains("203.0.113.9"));
    }

    #[test]
    fn malformed_fields_are_named() {
        let mut v = sample();
        v["tcp"]["open"] = json!([[5, 1]]);
        assert!(parse(&v).unwrap_err().to_string().contains("`tcp.open[0]`"));
        let mut v = sample();
        v.as_object_mut().unwrap().remove("address");
        assert!(parse(&v).unwrap_err().to_string().contains("`address`"));
        let mut v = sample();
        v["icmp"]["results"][0]["address"] = json!("nope");
        assert!(parse(&v)
            .unwrap_err()
            .to_string()
            .contains("icmp.results[0].address"));
        let mut v = sample();
        v["format"] = json!("egress-audit-probe/9");
        assert!(parse(&v).unwrap_err().to_string().contains("not supported"));
    }
}
