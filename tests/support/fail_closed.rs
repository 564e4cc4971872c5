//! Fail-closed mutation sweeps (issue 12 §1): damage one egress-deciding field of a real-shaped
//! input and require that the run refuses it, warns, lists something as not scanned, or, when it
//! stays silent, that the new value is one the provider documents (so the engine, whose
//! semantics the brute-force proptests check, gives the findings that value means).
//!
//! The domains below are written from the providers' API references, independently of the
//! normalizers: a silent run on a value outside them is a defect, and the sweep lists every one.

#![allow(dead_code)]

use egress_audit::eval::eval_target;
use egress_audit::model::Warning;
use egress_audit::normalize::{DocContext, Inventory, Loader, Options};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::net::IpAddr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provider {
    Aws,
    Azure,
    Gcp,
}

/// The egress-deciding fields of each provider's exports.
pub fn egress_fields(p: Provider) -> &'static [&'static str] {
    match p {
        Provider::Aws => &[
            "IpProtocol",
            "FromPort",
            "ToPort",
            "CidrIp",
            "CidrIpv4",
            "CidrIpv6",
            "IpRanges",
            "Ipv6Ranges",
            "IpPermissionsEgress",
            "RuleNumber",
            "RuleAction",
            "Egress",
            "IsEgress",
            "Protocol",
            "CidrBlock",
            "Ipv6CidrBlock",
            "From",
            "To",
        ],
        Provider::Azure => &[
            "priority",
            "direction",
            "access",
            "protocol",
            "destinationAddressPrefix",
            "destinationAddressPrefixes",
            "sourceAddressPrefix",
            "sourceAddressPrefixes",
            "destinationPortRange",
            "destinationPortRanges",
            "securityRules",
        ],
        Provider::Gcp => &[
            "priority",
            "direction",
            "disabled",
            "allowed",
            "denied",
            "IPProtocol",
            "ports",
            "destinationRanges",
            "networkInterfaces",
            "items",
        ],
    }
}

/// The damaged values tried: out-of-range numbers, wrong types, empty and malformed strings,
/// IPv4-mapped IPv6, and values that are valid in another provider.
fn odd_values() -> Vec<Option<Value>> {
    let mut v: Vec<Option<Value>> = [
        Value::Null,
        json!(-1),
        json!("-5"),
        json!(65536),
        json!(70000),
        json!(1.5),
        json!(""),
        json!("not-a-cidr"),
        json!("::ffff:0.0.0.0/96"),
        json!("::/0"),
        json!("10.0.0.0/33"),
        json!("0.0.0.0/0"),
        json!(true),
        json!([]),
        json!({}),
        json!("*"),
        json!("tcp"),
        json!(443),
        json!("443"),
        json!("Internet"),
        json!(["0.0.0.0/0"]),
        json!([""]),
    ]
    .into_iter()
    .map(Some)
    .collect();
    v.push(None); // the key deleted
    v
}

// ------------------------------------------------------------------ documented domains

/// Integer fields may be written as numbers or numeric strings (the normalizers read both, and
/// the value means the same).
fn int_of(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn cidr(s: &str, v4: bool, v6: bool) -> bool {
    let (ip, len) = s.split_once('/').unwrap_or((s, ""));
    let Ok(ip) = ip.parse::<IpAddr>() else {
        return false;
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    if !len.is_empty() && !len.parse::<u32>().is_ok_and(|l| l <= max) {
        return false;
    }
    match ip {
        IpAddr::V4(_) => v4,
        // The IPv4-mapped block is not an IPv6 network any provider takes.
        IpAddr::V6(a) => v6 && a.to_ipv4_mapped().is_none(),
    }
}

fn str_list(v: &Value, each: impl Fn(&str) -> bool) -> bool {
    v.as_array()
        .is_some_and(|a| a.iter().all(|x| x.as_str().is_some_and(&each)))
}

fn port_range(s: &str) -> bool {
    let ok = |p: &str| p.parse::<u32>().is_ok_and(|p| p <= 65535);
    match s.split_once('-') {
        Some((a, b)) => ok(a) && ok(b) && a.parse::<u32>().unwrap() <= b.parse::<u32>().unwrap(),
        None => ok(s),
    }
}

/// Whether `value` (None: the key is absent) is in the documented domain of `field` in `parent`,
/// for a node at `pointer`.
pub fn in_domain(
    p: Provider,
    pointer: &str,
    field: &str,
    value: Option<&Value>,
    parent: &Value,
) -> bool {
    let sibling = |k: &str| parent.get(k).filter(|v| !v.is_null());
    let value = value.filter(|v| !v.is_null());
    match p {
        Provider::Aws => match (field, value) {
            ("IpProtocol" | "Protocol", Some(Value::String(s))) => {
                ["-1", "tcp", "udp", "icmp", "icmpv6"].contains(&s.to_ascii_lowercase().as_str())
                    || s.parse::<u32>().is_ok_and(|n| n <= 255)
            }
            ("IpProtocol" | "Protocol", Some(Value::Number(n))) => {
                n.as_i64().is_some_and(|n| (-1..=255).contains(&n))
            }
            ("FromPort" | "ToPort", None) => {
                let other = if field == "FromPort" {
                    "ToPort"
                } else {
                    "FromPort"
                };
                sibling(other).is_none_or(|o| int_of(o) == Some(-1))
            }
            ("FromPort" | "ToPort", Some(v @ (Value::Number(_) | Value::String(_)))) => {
                int_of(v).is_some_and(|n| (-1..=65535).contains(&n))
            }
            ("CidrIp" | "CidrBlock", Some(Value::String(s))) => cidr(s, true, false),
            ("CidrIpv6" | "Ipv6CidrBlock", Some(Value::String(s))) => cidr(s, false, true),
            // A NACL entry has one of the two.
            ("CidrBlock", None) => sibling("Ipv6CidrBlock").is_some(),
            ("Ipv6CidrBlock", None) => sibling("CidrBlock").is_some(),
            ("IpRanges" | "Ipv6Ranges", None) => true,
            ("IpRanges" | "Ipv6Ranges", Some(Value::Array(a))) => a.iter().all(|r| {
                let key = if field == "IpRanges" {
                    "CidrIp"
                } else {
                    "CidrIpv6"
                };
                r.get(key)
                    .and_then(Value::as_str)
                    .is_some_and(|s| cidr(s, field == "IpRanges", field == "Ipv6Ranges"))
            }),
            ("IpPermissionsEgress", Some(Value::Array(a))) => a.iter().all(Value::is_object),
            ("RuleNumber", Some(v @ (Value::Number(_) | Value::String(_)))) => {
                int_of(v).is_some_and(|n| (1..=32768).contains(&n))
            }
            ("RuleAction", Some(Value::String(s))) => s == "allow" || s == "deny",
            ("Egress" | "IsEgress", Some(Value::Bool(_))) => true,
            // `describe-security-group-rules` names its destination in one of these.
            ("CidrIpv4", Some(Value::String(s))) => cidr(s, true, false),
            ("From" | "To", Some(v @ (Value::Number(_) | Value::String(_))))
                if pointer.contains("/PortRange/") =>
            {
                int_of(v).is_some_and(|n| (0..=65535).contains(&n))
            }
            // Fields of these names elsewhere (a route's `From`?) are not egress-deciding.
            ("From" | "To", _) if !pointer.contains("/PortRange/") => true,
            _ => false,
        },
        Provider::Azure => {
            let default_rule = pointer.contains("/defaultSecurityRules/");
            let ci = |s: &str, set: &[&str]| set.iter().any(|x| x.eq_ignore_ascii_case(s));
            let prefix = |s: &str| {
                ci(s, &["*", "Internet", "VirtualNetwork", "AzureLoadBalancer"])
                    || cidr(s, true, true)
            };
            let plural = |k: &str| {
                sibling(k)
                    .and_then(Value::as_array)
                    .is_some_and(|a| !a.is_empty())
            };
            match (field, value) {
                ("priority", Some(v @ (Value::Number(_) | Value::String(_)))) => int_of(v)
                    .is_some_and(|n| {
                        if default_rule {
                            [65000, 65001, 65500].contains(&n)
                        } else {
                            (100..=4096).contains(&n)
                        }
                    }),
                ("direction", Some(Value::String(s))) => ci(s, &["Inbound", "Outbound"]),
                ("access", Some(Value::String(s))) => ci(s, &["Allow", "Deny"]),
                ("protocol", Some(Value::String(s))) => {
                    ci(s, &["Tcp", "Udp", "Icmp", "Esp", "Ah", "*"])
                }
                ("destinationAddressPrefix" | "sourceAddressPrefix", v) => match v {
                    Some(Value::String(s)) if !s.is_empty() => prefix(s),
                    // Empty or absent only beside a non-empty plural (or ASGs).
                    None | Some(Value::String(_)) => {
                        let (many, asgs) = if field.starts_with("dest") {
                            (
                                "destinationAddressPrefixes",
                                "destinationApplicationSecurityGroups",
                            )
                        } else {
                            ("sourceAddressPrefixes", "sourceApplicationSecurityGroups")
                        };
                        plural(many) || plural(asgs)
                    }
                    _ => false,
                },
                ("destinationAddressPrefixes" | "sourceAddressPrefixes", v) => match v {
                    Some(Value::Array(a)) if !a.is_empty() => str_list(v.unwrap(), prefix),
                    None | Some(Value::Array(_)) => {
                        let one = field.strip_suffix("es").unwrap();
                        sibling(one)
                            .and_then(Value::as_str)
                            .is_some_and(|s| !s.is_empty())
                    }
                    _ => false,
                },
                ("destinationPortRange", v) => match v {
                    Some(Value::String(s)) if !s.is_empty() => s == "*" || port_range(s),
                    None | Some(Value::String(_)) => plural("destinationPortRanges"),
                    _ => false,
                },
                ("destinationPortRanges", v) => match v {
                    Some(Value::Array(a)) if !a.is_empty() => {
                        str_list(v.unwrap(), |s| s == "*" || port_range(s))
                    }
                    None | Some(Value::Array(_)) => sibling("destinationPortRange")
                        .and_then(Value::as_str)
                        .is_some_and(|s| !s.is_empty()),
                    _ => false,
                },
                ("securityRules", Some(Value::Array(a))) => a.iter().all(Value::is_object),
                _ => false,
            }
        }
        Provider::Gcp => match (field, value) {
            ("priority", None) => true,
            ("priority", Some(v @ (Value::Number(_) | Value::String(_)))) => {
                let max = if pointer.contains("rules") {
                    i32::MAX as i64
                } else {
                    65535
                };
                int_of(v).is_some_and(|n| (0..=max).contains(&n))
            }
            ("direction", None) => true,
            ("direction", Some(Value::String(s))) => s == "INGRESS" || s == "EGRESS",
            ("disabled", None | Some(Value::Bool(_))) => true,
            // One of the two, with at least one entry.
            ("allowed" | "denied", None) => {
                let other = if field == "allowed" {
                    "denied"
                } else {
                    "allowed"
                };
                sibling(other)
                    .and_then(Value::as_array)
                    .is_some_and(|a| !a.is_empty())
            }
            ("allowed" | "denied", Some(Value::Array(a))) => {
                let other = if field == "allowed" {
                    "denied"
                } else {
                    "allowed"
                };
                let other_set = sibling(other)
                    .and_then(Value::as_array)
                    .is_some_and(|a| !a.is_empty());
                (a.is_empty() && other_set)
                    || (!a.is_empty()
                        && !other_set
                        && a.iter().all(|e| {
                            e.get("IPProtocol")
                                .and_then(Value::as_str)
                                .is_some_and(gcp_proto)
                        }))
            }
            ("IPProtocol", Some(Value::String(s))) => gcp_proto(s),
            ("ports", None) => true,
            ("ports", Some(v @ Value::Array(_))) => str_list(v, port_range),
            ("destinationRanges", None) => true,
            ("destinationRanges", Some(v @ Value::Array(_))) => {
                str_list(v, |s| cidr(s, true, true))
            }
            ("networkInterfaces", Some(Value::Array(a))) => {
                !a.is_empty() && a.iter().all(Value::is_object)
            }
            // A REST list page without `items` is an empty page.
            ("items", None | Some(Value::Array(_))) => true,
            ("items", Some(Value::Object(m))) => {
                !m.is_empty()
                    && m.keys().all(|k| {
                        k == "global" || k.starts_with("zones/") || k.starts_with("regions/")
                    })
            }
            _ => false,
        },
    }
}

fn gcp_proto(s: &str) -> bool {
    ["tcp", "udp", "icmp", "esp", "ah", "sctp", "ipip", "all"].contains(&s)
        || s.parse::<u32>().is_ok_and(|n| n <= 255)
}

// ------------------------------------------------------------------ the sweep

/// A seeded xorshift64*, so a failure replays exactly.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// The JSON pointers of every node whose key is one of `fields`, with that key.
fn field_pointers(v: &Value, at: String, fields: &[&str], out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                let step = k.replace('~', "~0").replace('/', "~1");
                let here = format!("{at}/{step}");
                if fields.contains(&k.as_str()) {
                    out.push((here.clone(), k.clone()));
                }
                field_pointers(x, here, fields, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                field_pointers(x, format!("{at}/{i}"), fields, out);
            }
        }
        _ => {}
    }
}

/// Whether the node at `pointer` decides egress: fields of ingress rules (AWS `IpPermissions`,
/// NACL entries with `Egress: false`, Azure `Inbound` rules, GCP `INGRESS` rules) do not, except
/// the direction field itself, whose damage could turn an egress rule into an ingress one.
fn egress_context(p: Provider, doc: &Value, pointer: &str, field: &str) -> bool {
    if p == Provider::Aws && pointer.contains("/IpPermissions/") {
        return false;
    }
    if p == Provider::Aws
        && (field == "CidrBlock" || field == "Ipv6CidrBlock")
        && !pointer.contains("/Entries/")
        && !pointer.contains("/IpRanges/")
    {
        return false; // a VPC's or subnet's own block
    }
    if ["Egress", "IsEgress", "direction"].contains(&field) {
        return true;
    }
    let steps: Vec<&str> = pointer.split('/').collect();
    for n in (1..steps.len()).rev() {
        let Some(node) = doc.pointer(&steps[..n].join("/")) else {
            continue;
        };
        let Some(o) = node.as_object() else { continue };
        match p {
            Provider::Aws => {
                for k in ["Egress", "IsEgress"] {
                    if let Some(e) = o.get(k) {
                        return e == &Value::Bool(true);
                    }
                }
            }
            Provider::Azure => {
                if let Some(d) = o
                    .get("direction")
                    .or_else(|| o.get("properties").and_then(|p| p.get("direction")))
                {
                    return d
                        .as_str()
                        .is_some_and(|d| d.eq_ignore_ascii_case("Outbound"));
                }
            }
            Provider::Gcp => {
                if ["allowed", "denied", "match"]
                    .iter()
                    .any(|k| o.contains_key(*k))
                {
                    return o.get("direction").and_then(Value::as_str) == Some("EGRESS");
                }
            }
        }
    }
    true
}

/// What a run gave: refused with this error, or an inventory.
struct Run {
    targets: usize,
    warnings: BTreeSet<Warning>,
    not_scanned: usize,
}

fn run(docs: &[(String, Value)]) -> Result<Run, String> {
    let mut loader = Loader::default();
    for (name, v) in docs {
        let ctx = DocContext {
            source: name.clone(),
            ..Default::default()
        };
        loader.add_value(v.clone(), &ctx).map_err(|e| {
            assert!(
                e.to_string().starts_with(name.as_str()),
                "an error names its file: {e}"
            );
            e.to_string()
        })?;
    }
    let inv: Inventory = loader.build(&Options::default());
    for t in &inv.targets {
        eval_target(t);
    }
    Ok(Run {
        targets: inv.targets.len(),
        warnings: inv.warnings.into_iter().collect(),
        not_scanned: inv.not_scanned.len(),
    })
}

/// What the sweep tried and what happened.
#[derive(Debug, Default)]
pub struct Tally {
    pub tried: usize,
    pub refused: usize,
    pub warned: usize,
    pub not_scanned: usize,
    /// Silent, and the new value is documented: the engine gives its documented meaning.
    pub documented: usize,
    /// Silent on a value outside the documented domain, or a target lost without a word.
    pub defects: Vec<String>,
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} mutations of egress-deciding fields: {} refused, {} warned, {} listed as not \
             scanned, {} silent with a documented value, {} silent defects",
            self.tried,
            self.refused,
            self.warned,
            self.not_scanned,
            self.documented,
            self.defects.len()
        )
    }
}

/// Damages each scenario (a group of files read together) `rounds` times, one egress field of
/// one file each time, and classifies the outcome.
pub fn sweep(p: Provider, scenarios: &[Vec<(String, Value)>], rounds: usize, seed: u64) -> Tally {
    let mut rng = Rng(seed | 1);
    let values = odd_values();
    let mut tally = Tally::default();
    for docs in scenarios {
        let Ok(base) = run(docs) else { continue };
        let mut fields = Vec::new();
        for (i, (_, v)) in docs.iter().enumerate() {
            let mut ptrs = Vec::new();
            field_pointers(v, String::new(), egress_fields(p), &mut ptrs);
            fields.extend(
                ptrs.into_iter()
                    .filter(|(ptr, k)| egress_context(p, v, ptr, k))
                    .map(|(ptr, k)| (i, ptr, k)),
            );
        }
        if fields.is_empty() {
            continue;
        }
        for _ in 0..rounds {
            let (i, ptr, key) = &fields[rng.below(fields.len())];
            let new = values[rng.below(values.len())].clone();
            let mut damaged = docs.to_vec();
            let (parent_ptr, _) = ptr.rsplit_once('/').unwrap();
            let parent = damaged[*i].1.pointer_mut(parent_ptr).unwrap();
            let obj = parent.as_object_mut().unwrap();
            let old = match &new {
                Some(v) => obj.insert(key.clone(), v.clone()),
                None => obj.remove(key),
            };
            if old == new {
                continue;
            }
            let documented = in_domain(p, ptr, key, new.as_ref(), parent);
            tally.tried += 1;
            match run(&damaged) {
                Err(_) => tally.refused += 1,
                Ok(r) if r.not_scanned > base.not_scanned => tally.not_scanned += 1,
                Ok(r) if !r.warnings.is_subset(&base.warnings) => tally.warned += 1,
                Ok(r) if documented && r.targets >= base.targets => tally.documented += 1,
                Ok(r) => tally.defects.push(format!(
                    "{} {ptr}: {} → {} gave {} targets (was {}) and no warning",
                    docs[*i].0,
                    old.map_or("(absent)".into(), |v| v.to_string()),
                    new.map_or("(deleted)".into(), |v| v.to_string()),
                    r.targets,
                    base.targets
                )),
            }
        }
    }
    tally
}

/// Every `.json` file below `dir`, grouped by folder (one scenario per folder), sorted.
pub fn scenarios(dirs: &[std::path::PathBuf]) -> Vec<Vec<(String, Value)>> {
    let mut groups: std::collections::BTreeMap<std::path::PathBuf, Vec<(String, Value)>> =
        Default::default();
    fn walk(d: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "json") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    for d in dirs {
        walk(d, &mut files);
    }
    files.sort();
    for p in files {
        let Ok(v) = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()) else {
            continue;
        };
        groups
            .entry(p.parent().unwrap().to_path_buf())
            .or_default()
            .push((p.display().to_string(), v));
    }
    groups.into_values().collect()
}
