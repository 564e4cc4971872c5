//! `nft -j list ruleset` (libnftables JSON, schema version 1) → [`FwTable`]s.
//!
//! Read: tables of family `ip`, `ip6`, `inet`; base chains by `hook`, `prio` and `policy`; named
//! sets (`elem` with addresses, prefixes, ranges, ports, protocols); rules whose `expr` holds
//! `match` statements on `ip daddr`, `ip6 daddr`, `meta l4proto`, `meta nfproto`, `ip protocol`,
//! `ip6 nexthdr`, `tcp|udp|sctp|th dport`, `icmp type`, `icmpv6 type`, `ct state`, `meta
//! oifname "lo"`, with `==`, `!=`, `in` and the comparison operators, and the verdicts `accept`,
//! `drop`, `reject`, `jump`, `goto`, `return`, `continue`. Other families (`arp`, `bridge`,
//! `netdev`) are left out with a warning (leaving a filter out can only over-report egress).

use super::values::{
    addr_elem, compact, describe_left, icmp_type, icmpv6_type, neg_text, port_elem, words,
};
use super::{BaseChain, Family, FwChain, FwRule, FwTable, Hook, HostExport, Match, Verdict};
use crate::model::space::{
    all_v4, all_v6, parse_addrs, parse_proto, AddrSet, PortSet, ProtoSet, ICMP, ICMPV6, SCTP, TCP,
    UDP,
};
use crate::model::{Action, TrafficSet};
use crate::normalize::fields::{self, FieldError};
use crate::normalize::NormalizeError;
use serde_json::Value;
use std::collections::BTreeMap;

/// A `{"nftables": [...]}` document.
pub fn detect(v: &Value) -> bool {
    v.get("nftables").is_some_and(Value::is_array)
}

/// What a set or a match's right-hand side holds, once read.
#[derive(Clone, Debug)]
enum Elems {
    Addrs(AddrSet),
    Ports(PortSet),
    /// Strings that are neither (protocol names, ct states, icmp types…), and numbers.
    Words(Vec<String>),
}

struct Parser {
    warnings: Vec<String>,
    /// (family, table) → set name → elements as raw JSON values.
    sets: BTreeMap<(String, String, String), Vec<Value>>,
}

pub fn parse(v: &Value, source: &str) -> Result<HostExport, NormalizeError> {
    let items = v
        .get("nftables")
        .and_then(Value::as_array)
        .ok_or("an nftables export has a top-level `nftables` list")?;
    let mut p = Parser {
        warnings: Vec::new(),
        sets: BTreeMap::new(),
    };
    let mut tables: BTreeMap<(String, String), FwTable> = BTreeMap::new();
    let mut skipped = BTreeMap::new();
    for (i, item) in items.iter().enumerate() {
        let at = format!("nftables[{i}]");
        if let Some(t) = item.get("table") {
            let (family, name) = (s(t, "family", &at)?, s(t, "name", &at)?);
            let Some(fam) = family_of(family) else {
                skipped.insert(format!("{family} {name}"), ());
                continue;
            };
            tables.insert(
                (family.to_string(), name.to_string()),
                FwTable {
                    label: format!("{family} {name}"),
                    family: fam,
                    chains: BTreeMap::new(),
                },
            );
        } else if let Some(set) = item.get("set").or_else(|| item.get("map")) {
            let key = (
                s(set, "family", &at)?.to_string(),
                s(set, "table", &at)?.to_string(),
                s(set, "name", &at)?.to_string(),
            );
            let elems = set.get("elem").and_then(Value::as_array).cloned();
            p.sets.insert(key, elems.unwrap_or_default());
        }
    }
    for (i, item) in items.iter().enumerate() {
        let at = format!("nftables[{i}]");
        if let Some(c) = item.get("chain") {
            let key = (
                s(c, "family", &at)?.to_string(),
                s(c, "table", &at)?.to_string(),
            );
            let Some(table) = tables.get_mut(&key) else {
                continue;
            };
            let name = s(c, "name", &at)?.to_string();
            let base = base_chain(c, &format!("{at} (chain {name})"), &mut p.warnings)?;
            table.chains.insert(
                name.clone(),
                FwChain {
                    name,
                    rules: Vec::new(),
                    base,
                },
            );
        }
    }
    for (i, item) in items.iter().enumerate() {
        let at = format!("nftables[{i}]");
        if let Some(r) = item.get("rule") {
            let key = (
                s(r, "family", &at)?.to_string(),
                s(r, "table", &at)?.to_string(),
            );
            let chain = s(r, "chain", &at)?.to_string();
            let Some(table) = tables.get(&key) else {
                continue;
            };
            let n = table.chains.get(&chain).map_or(0, |c| c.rules.len()) + 1;
            let handle = r.get("handle").and_then(Value::as_i64);
            let name = match handle {
                Some(h) => format!("{} {chain} #{n} (handle {h})", table.label),
                None => format!("{} {chain} #{n}", table.label),
            };
            let rule = p.rule(r, &key, name)?;
            let table = tables.get_mut(&key).expect("looked up above");
            let c = table.chains.get_mut(&chain).ok_or_else(|| {
                format!("{at}: rule of chain `{chain}`, which the export does not list")
            })?;
            c.rules.push(rule);
        }
    }
    for name in skipped.keys() {
        p.warnings.push(format!(
            "table {name} is not of family ip, ip6 or inet: not read (what it filters is taken as \
             allowed)"
        ));
    }
    Ok(HostExport {
        source: source.to_string(),
        host: super::host_of(source),
        format: "nftables",
        tables: tables.into_values().collect(),
        warnings: p.warnings,
    })
}

fn s<'a>(v: &'a Value, key: &str, at: &str) -> Result<&'a str, FieldError> {
    fields::req_str(v, key, at)
}

fn family_of(f: &str) -> Option<Family> {
    Some(match f {
        "ip" => Family::V4,
        "ip6" => Family::V6,
        "inet" => Family::Both,
        _ => return None,
    })
}

fn base_chain(
    c: &Value,
    at: &str,
    warnings: &mut Vec<String>,
) -> Result<Option<BaseChain>, NormalizeError> {
    let Some(hook) = c.get("hook").and_then(Value::as_str) else {
        return Ok(None);
    };
    let Some(hook) = Hook::parse(hook) else {
        // `input` (and `ingress`, `egress` of netdev) do not filter a host's egress.
        if hook == "egress" {
            warnings.push(format!("{at}: hook `egress` is not read"));
        }
        return Ok(None);
    };
    let priority = match c.get("prio") {
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
        Some(Value::String(name)) => match name.as_str() {
            "raw" => -300,
            "mangle" => -150,
            "dstnat" => -100,
            "filter" => 0,
            "security" => 50,
            "srcnat" => 100,
            _ => 0,
        },
        _ => 0,
    };
    let policy = match c.get("policy").and_then(Value::as_str).unwrap_or("accept") {
        "accept" => Action::Allow,
        "drop" => Action::Deny,
        other => return Err(format!("{at}: policy {other:?} is not accept or drop").into()),
    };
    Ok(Some(BaseChain {
        hook,
        priority,
        policy,
    }))
}

/// How a rule's conditions read, as far as evidence goes.
#[derive(Default)]
struct Written {
    protocol: Vec<String>,
    ports: Vec<String>,
    destination: Vec<String>,
}

impl Parser {
    fn rule(
        &mut self,
        r: &Value,
        table: &(String, String),
        name: String,
    ) -> Result<FwRule, NormalizeError> {
        let exprs = r
            .get("expr")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("{name}: no `expr` list"))?;
        let mut m = Match::all();
        let mut verdict = Verdict::Continue;
        let mut inexact = false;
        let mut written = Written::default();
        for e in exprs {
            let Some((key, body)) = e.as_object().and_then(|o| o.iter().next()) else {
                continue;
            };
            match key.as_str() {
                "match" => {
                    let (cond, exact) = self.condition(body, table, &name, &mut written);
                    inexact |= !exact;
                    m = m.and(&cond);
                }
                "accept" => verdict = Verdict::Accept,
                "drop" | "reject" => verdict = Verdict::Drop,
                "return" => verdict = Verdict::Return,
                "continue" => verdict = Verdict::Continue,
                "jump" | "goto" => {
                    let target = body
                        .get("target")
                        .and_then(Value::as_str)
                        .ok_or_else(|| format!("{name}: `{key}` without a target"))?
                        .to_string();
                    verdict = if key == "jump" {
                        Verdict::Jump(target)
                    } else {
                        Verdict::Goto(target)
                    };
                }
                "counter" | "log" => {}
                "limit" | "quota" => {
                    // Matches only below a rate or amount.
                    self.warnings.push(format!(
                        "{name}: `{key}` matches only part of the traffic; the rule is taken to \
                         match when it accepts and not to when it drops"
                    ));
                    m = m.and(&Match::unknown());
                    inexact = true;
                }
                "queue" | "vmap" => verdict = Verdict::Unknown(key.clone()),
                "dnat" | "redirect" | "tproxy" => self.warnings.push(format!(
                    "{name}: `{key}` changes where the traffic goes; the rule is taken as letting \
                     it leave"
                )),
                "mangle" | "meta" | "ct" | "snat" | "masquerade" | "notrack" | "set" | "xt" => {
                    if key == "xt" {
                        self.warnings.push(format!(
                            "{name}: an iptables extension (`xt`) is not readable from JSON; its \
                             rule is taken to match when it accepts and not when it drops"
                        ));
                        m = m.and(&Match::unknown());
                        inexact = true;
                    }
                }
                other => {
                    self.warnings.push(format!(
                        "{name}: statement `{other}` is not understood; the rule is taken to match \
                         when it accepts and not to when it drops"
                    ));
                    m = m.and(&Match::unknown());
                    inexact = true;
                }
            }
        }
        let join = |v: Vec<String>| {
            if v.is_empty() {
                "all".to_string()
            } else {
                v.join(" ")
            }
        };
        Ok(FwRule {
            name,
            m,
            verdict,
            protocol: join(written.protocol),
            ports: join(written.ports),
            destination: join(written.destination),
            inexact,
        })
    }

    /// One `match`: its bounds, and whether they are exact.
    fn condition(
        &mut self,
        body: &Value,
        table: &(String, String),
        name: &str,
        written: &mut Written,
    ) -> (Match, bool) {
        let op = body.get("op").and_then(Value::as_str).unwrap_or("==");
        let left = body.get("left").unwrap_or(&Value::Null);
        let right = body.get("right").unwrap_or(&Value::Null);
        let what = describe_left(left);
        let out = self.known_condition(op, left, right, table, written);
        match out {
            Ok(t) => (Match::exact(t), true),
            Err(Inexact::CtState(m)) => (m, false),
            Err(Inexact::Unknown(why)) => {
                self.warnings.push(format!(
                    "{name}: `{what} {op} {}` is not understood ({why}); the rule is taken to \
                     match when it accepts and not to when it drops",
                    compact(right)
                ));
                (Match::unknown(), false)
            }
        }
    }

    fn known_condition(
        &mut self,
        op: &str,
        left: &Value,
        right: &Value,
        table: &(String, String),
        written: &mut Written,
    ) -> Result<TrafficSet, Inexact> {
        let neg = match op {
            "==" | "in" => false,
            "!=" => true,
            "<" | ">" | "<=" | ">=" => false,
            other => return Err(Inexact::Unknown(format!("operator `{other}`"))),
        };
        if let Some(ct) = left.get("ct") {
            if ct.get("key").and_then(Value::as_str) == Some("state") {
                let states = words(right);
                let has_new = states.iter().any(|s| s == "new");
                let admits_new = has_new != neg;
                return Err(Inexact::CtState(if admits_new {
                    Match::all()
                } else {
                    Match::exact(TrafficSet::empty())
                }));
            }
            return Err(Inexact::Unknown("a conntrack key other than state".into()));
        }
        let (proto, field) = if let Some(p) = left.get("payload") {
            (
                p.get("protocol").and_then(Value::as_str).unwrap_or(""),
                p.get("field").and_then(Value::as_str).unwrap_or(""),
            )
        } else if let Some(meta) = left.get("meta") {
            (
                "meta",
                meta.get("key").and_then(Value::as_str).unwrap_or(""),
            )
        } else {
            return Err(Inexact::Unknown("not a payload, meta or ct match".into()));
        };
        let elems = match self.elems(right, table, op)? {
            // Protocols and icmp types printed as numbers read like ports: back to words.
            Elems::Ports(p) if !matches!(field, "dport" | "daddr") => Elems::Words(
                p.ranges()
                    .iter()
                    .flat_map(|&(lo, hi)| (lo..=hi.min(lo + 255)).map(|n| n.to_string()))
                    .collect(),
            ),
            e => e,
        };
        match (proto, field, elems) {
            ("ip", "daddr", Elems::Addrs(a)) | ("ip6", "daddr", Elems::Addrs(a)) => {
                let fam = if proto == "ip" { all_v4() } else { all_v6() };
                written.destination.push(neg_text(neg, compact(right)));
                let a = if neg {
                    fam.difference(&a)
                } else {
                    a.intersect(&fam)
                };
                Ok(TrafficSet::rule(None, None, &a))
            }
            ("tcp" | "udp" | "sctp" | "th", "dport", Elems::Ports(p)) => {
                let protos: &[u8] = match proto {
                    "tcp" => &[TCP],
                    "udp" => &[UDP],
                    "sctp" => &[SCTP],
                    _ => &[TCP, UDP, SCTP, 33, 136],
                };
                written.protocol.push(proto.to_string());
                written.ports.push(neg_text(neg, compact(right)));
                let p = if neg {
                    PortSet::full_ports().difference(&p)
                } else {
                    p
                };
                Ok(protocols(protos, &p))
            }
            ("meta", "l4proto", Elems::Words(w))
            | ("ip", "protocol", Elems::Words(w))
            | ("ip6", "nexthdr", Elems::Words(w)) => {
                written.protocol.push(neg_text(neg, compact(right)));
                protocol_cond(proto, &w, neg)
            }
            ("meta", "nfproto", Elems::Words(w)) => nfproto_cond(&w, neg),
            ("icmp" | "icmpv6", "type", Elems::Words(w)) => {
                written.protocol.push(proto.to_string());
                let types = format!("type {}", compact(right));
                written.ports.push(neg_text(neg, types));
                icmp_cond(proto, &w, neg)
            }
            ("meta", "oifname" | "oif", Elems::Words(w)) if !neg && w.iter().all(|x| x == "lo") => {
                // The loopback interface carries only traffic to the host itself.
                let lo = parse_addrs("127.0.0.0/8")
                    .and_then(|a| Ok(a.union(&parse_addrs("::1")?)))
                    .expect("literal addresses parse");
                Ok(TrafficSet::rule(None, None, &lo))
            }
            _ => Err(Inexact::Unknown(format!("`{proto} {field}` is not read"))),
        }
    }

    /// The right-hand side: a literal, a prefix, a range, an anonymous `set`, a list, or `@named`.
    fn elems(
        &mut self,
        right: &Value,
        table: &(String, String),
        op: &str,
    ) -> Result<Elems, Inexact> {
        let values: Vec<Value> = match right {
            Value::String(n) if n.starts_with('@') => {
                let key = (table.0.clone(), table.1.clone(), n[1..].to_string());
                self.sets
                    .get(&key)
                    .cloned()
                    .ok_or_else(|| Inexact::Unknown(format!("set {n} is not in the export")))?
            }
            Value::Object(o) if o.contains_key("set") => {
                o["set"].as_array().cloned().unwrap_or_default()
            }
            Value::Array(a) => a.clone(),
            other => vec![other.clone()],
        };
        let mut addrs = AddrSet::empty();
        let mut ports = PortSet::empty();
        let mut words = Vec::new();
        let (mut n_addr, mut n_port) = (0, 0);
        for v in &values {
            let v = v.get("elem").and_then(|e| e.get("val")).unwrap_or(v);
            if let Some(a) = addr_elem(v) {
                addrs = addrs.union(&a);
                n_addr += 1;
            } else if let Some(p) = port_elem(v) {
                ports = ports.union(&p);
                n_port += 1;
                words.push(v.to_string());
            } else if let Some(w) = v.as_str() {
                words.push(w.to_string());
            } else {
                return Err(Inexact::Unknown(format!("element {v} is not read")));
            }
        }
        if n_addr == values.len() && n_addr > 0 {
            return Ok(Elems::Addrs(addrs));
        }
        if n_port == values.len() && n_port > 0 {
            // `tcp dport < 1024` and friends compare one number.
            if let ("<" | ">" | "<=" | ">=", Some((lo, _))) = (op, ports.ranges().first().copied())
            {
                let p = match op {
                    "<" => PortSet::range(0, lo.saturating_sub(1)),
                    "<=" => PortSet::range(0, lo),
                    ">" => PortSet::range(lo + 1, 65535),
                    _ => PortSet::range(lo, 65535),
                };
                return Ok(Elems::Ports(p));
            }
            return Ok(Elems::Ports(ports));
        }
        if matches!(op, "<" | ">" | "<=" | ">=") {
            return Err(Inexact::Unknown(format!("operator `{op}`")));
        }
        Ok(Elems::Words(words))
    }
}

/// `meta l4proto`, `ip protocol`, `ip6 nexthdr` (the last two also name the family).
fn protocol_cond(proto: &str, words: &[String], neg: bool) -> Result<TrafficSet, Inexact> {
    let mut set = ProtoSet::empty();
    for word in words {
        match parse_proto(word) {
            Ok(Some(n)) => set = set.union(&ProtoSet::single(n as u32)),
            _ => return Err(Inexact::Unknown(format!("protocol {word:?}"))),
        }
    }
    let set = if neg {
        ProtoSet::range(0, 255).difference(&set)
    } else {
        set
    };
    let fam = match proto {
        "ip" => all_v4(),
        "ip6" => all_v6(),
        _ => AddrSet::full(),
    };
    Ok(TrafficSet::product(&set, &PortSet::full_ports(), &fam))
}

/// `meta nfproto ipv4|ipv6`.
fn nfproto_cond(words: &[String], neg: bool) -> Result<TrafficSet, Inexact> {
    let mut a = AddrSet::empty();
    for word in words {
        a = a.union(&match word.as_str() {
            "ipv4" => all_v4(),
            "ipv6" => all_v6(),
            _ => return Err(Inexact::Unknown(format!("nfproto {word:?}"))),
        });
    }
    let a = if neg {
        AddrSet::full().difference(&a)
    } else {
        a
    };
    Ok(TrafficSet::rule(None, None, &a))
}

/// `icmp type …`, `icmpv6 type …` by name or number.
fn icmp_cond(proto: &str, words: &[String], neg: bool) -> Result<TrafficSet, Inexact> {
    let (p, table): (u8, fn(&str) -> Option<u32>) = if proto == "icmp" {
        (ICMP, icmp_type)
    } else {
        (ICMPV6, icmpv6_type)
    };
    let mut types = PortSet::empty();
    for word in words {
        let t = table(word).ok_or_else(|| Inexact::Unknown(format!("{proto} type {word:?}")))?;
        types = types.union(&PortSet::range(t * 256, t * 256 + 255));
    }
    let types = if neg {
        PortSet::full_ports().difference(&types)
    } else {
        types
    };
    Ok(protocols(&[p], &types))
}

enum Inexact {
    /// `ct state`: exact as to new egress, but not a packet set a rule can be shadowed by.
    CtState(Match),
    Unknown(String),
}

fn protocols(protos: &[u8], ports: &PortSet) -> TrafficSet {
    let mut set = ProtoSet::empty();
    for p in protos {
        set = set.union(&ProtoSet::single(*p as u32));
    }
    TrafficSet::product(&set, ports, &AddrSet::full())
}
