//! `iptables-save` / `ip6tables-save` text → [`FwTable`]s.
//!
//! Read: the `filter`, `raw`, `mangle`, `security` and `nat` tables; built-in chains `OUTPUT`,
//! `FORWARD`, `POSTROUTING`, `PREROUTING` with their policy; user chains; rules `-A CHAIN` with
//! `-p`, `-d`, `-o lo`, `--dport`, `-m multiport --dports`, `-m conntrack --ctstate` / `-m state
//! --state`, `--icmp-type` / `--icmpv6-type`, `!` before any of them, and `-j ACCEPT | DROP |
//! REJECT | RETURN | CHAIN`, `-g CHAIN`. Anything else (`-s`, `-m owner`, `-m mark`, `-m set`,
//! `-m limit`…) is named in a warning and taken to match on accept and not on drop.

use super::values::{icmp_type, icmpv6_type};
use super::{BaseChain, Family, FwChain, FwRule, FwTable, Hook, HostExport, Match, Verdict};
use crate::model::space::{parse_addrs, parse_proto, AddrSet, PortSet, ProtoSet, ICMP, ICMPV6};
use crate::model::{Action, TrafficSet};
use crate::normalize::NormalizeError;
use std::collections::BTreeMap;

/// Whether a text is `iptables-save` output: a `*table` line and a `COMMIT`.
pub fn detect(text: &str) -> bool {
    let mut table = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('*') && line.len() > 1 {
            table = true;
        } else if line == "COMMIT" && table {
            return true;
        }
    }
    false
}

pub fn parse(text: &str, source: &str) -> Result<HostExport, NormalizeError> {
    let family = family_of(text);
    let fam_addrs = family.addrs();
    let tool = if family == Family::V6 {
        "ip6tables"
    } else {
        "iptables"
    };
    let mut warnings = Vec::new();
    let mut tables = Vec::new();
    let mut current: Option<FwTable> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        let at = format!("line {}", i + 1);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('*') {
            current = Some(FwTable {
                label: format!("{tool} {name}"),
                family,
                chains: BTreeMap::new(),
            });
        } else if line == "COMMIT" {
            tables.extend(current.take());
        } else if let Some(decl) = line.strip_prefix(':') {
            let t = current
                .as_mut()
                .ok_or(format!("{at}: a chain outside a `*table`"))?;
            let mut parts = decl.split_whitespace();
            let name = parts
                .next()
                .ok_or(format!("{at}: a chain without a name"))?;
            let policy = parts.next().unwrap_or("-");
            let table = t.label.rsplit(' ').next().unwrap_or("filter").to_string();
            let base = base_chain(&table, name, policy).map_err(|e| format!("{at}: {e}"))?;
            t.chains.insert(
                name.to_string(),
                FwChain {
                    name: name.to_string(),
                    rules: Vec::new(),
                    base,
                },
            );
        } else if line.starts_with("-A ") || line.starts_with("-I ") {
            let t = current
                .as_mut()
                .ok_or(format!("{at}: a rule outside a `*table`"))?;
            let words = split(line).map_err(|e| format!("{at}: {e}"))?;
            let chain = words
                .get(1)
                .ok_or(format!("{at}: `-A` without a chain"))?
                .clone();
            let name = format!("{} {line} ({at})", t.label);
            let rule = rule(&words[2..], name, &fam_addrs, &mut warnings);
            let c = t.chains.get_mut(&chain).ok_or(format!(
                "{at}: chain {chain} is not declared (no `:{chain}` line)"
            ))?;
            c.rules.push(rule);
        } else {
            warnings.push(format!("{at}: `{line}` is not read"));
        }
    }
    if current.is_some() {
        return Err("the last table has no COMMIT line (a cut-off export?)".into());
    }
    Ok(HostExport {
        source: source.to_string(),
        host: super::host_of(source),
        format: tool,
        tables,
        warnings,
    })
}

/// `ip6tables-save` by its header, else by what its rules name.
fn family_of(text: &str) -> Family {
    if text.contains("ip6tables-save") {
        return Family::V6;
    }
    if text.contains("iptables-save") {
        return Family::V4;
    }
    let v6 = text.lines().any(|l| {
        l.contains("icmpv6") || l.contains("ipv6-icmp") || {
            let w: Vec<&str> = l.split_whitespace().collect();
            w.windows(2).any(|p| p[0] == "-d" && p[1].contains(':'))
        }
    });
    if v6 {
        Family::V6
    } else {
        Family::V4
    }
}

fn base_chain(table: &str, chain: &str, policy: &str) -> Result<Option<BaseChain>, NormalizeError> {
    let Some(hook) = Hook::parse(chain) else {
        return Ok(None);
    };
    let priority = match table {
        "raw" => -300,
        "mangle" => -150,
        "nat" => -100,
        "security" => 50,
        _ => 0,
    };
    let policy = match policy {
        "ACCEPT" => Action::Allow,
        "DROP" => Action::Deny,
        // A built-in chain always has a policy; `-` is for user chains.
        other => {
            return Err(format!("chain {chain}: policy {other:?} is not ACCEPT or DROP").into())
        }
    };
    Ok(Some(BaseChain {
        hook,
        priority,
        policy,
    }))
}

/// Splits a line into words, with `"…"` quoting as `iptables-save` writes comments.
fn split(line: &str) -> Result<Vec<String>, NormalizeError> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut quoted, mut has) = (false, false);
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quoted = !quoted;
                has = true;
            }
            '\\' if quoted => cur.extend(chars.next()),
            c if c.is_whitespace() && !quoted => {
                if has {
                    out.push(std::mem::take(&mut cur));
                    has = false;
                }
            }
            c => {
                cur.push(c);
                has = true;
            }
        }
    }
    if quoted {
        return Err("unbalanced quote".into());
    }
    if has {
        out.push(cur);
    }
    Ok(out)
}

/// Options that take no value.
const FLAGS: &[&str] = &["--syn", "--rcheck", "--update", "--set"];

/// What one option of a rule did.
enum Step {
    /// A condition, exactly known.
    Cond(TrafficSet),
    /// Handled (a verdict, `ct state`, a module name, a comment).
    Done,
    /// `-j`/`-g`: target options (`--reject-with …`) follow and are skipped.
    Target,
    /// An option that takes no value: the word after it is the next option.
    Flag(Option<TrafficSet>),
    /// Not understood: why.
    Unknown(String),
}

/// A rule being read: its bounds, verdict and what it says as written.
struct RuleBuilder<'a> {
    fam: &'a AddrSet,
    m: Match,
    inexact: bool,
    verdict: Verdict,
    proto: Option<u8>,
    protocol: Vec<String>,
    ports: Vec<String>,
    dest: Vec<String>,
}

fn rule(words: &[String], name: String, fam: &AddrSet, warnings: &mut Vec<String>) -> FwRule {
    let mut b = RuleBuilder {
        fam,
        m: Match::exact(TrafficSet::rule(None, None, fam)),
        inexact: false,
        verdict: Verdict::Continue,
        proto: None,
        protocol: Vec::new(),
        ports: Vec::new(),
        dest: Vec::new(),
    };
    let starts_option = |w: &String| w.starts_with('-') || w == "!";
    let mut i = 0;
    while i < words.len() {
        let neg = words[i] == "!";
        if neg {
            i += 1;
        }
        let Some(opt) = words.get(i).map(String::as_str) else {
            break;
        };
        let val = words.get(i + 1).map(String::as_str).unwrap_or("");
        i += 2;
        let cond = match b.option(opt, val, neg) {
            Step::Cond(t) => Ok(t),
            Step::Done => continue,
            Step::Target => {
                // Target options (`--reject-with …`, `--log-prefix …`) follow: skip them.
                while words.get(i).is_some_and(|w| w.starts_with("--")) {
                    i += 1;
                    while words.get(i).is_some_and(|w| !starts_option(w)) {
                        i += 1;
                    }
                }
                continue;
            }
            Step::Flag(t) => {
                i -= 1;
                t.ok_or_else(|| format!("`{opt}`"))
            }
            Step::Unknown(why) => {
                // Options with several values (`--match-set NAME dst`) keep what follows.
                while words.get(i).is_some_and(|w| !starts_option(w)) {
                    i += 1;
                }
                Err(why)
            }
        };
        match cond {
            Ok(t) => b.m = b.m.and(&Match::exact(t)),
            Err(why) => {
                warnings.push(format!(
                    "{name}: {why} is not understood; the rule is taken to match when it accepts \
                     and not to when it drops"
                ));
                b.m = b.m.and(&Match::unknown());
                b.inexact = true;
            }
        }
    }
    b.finish(name)
}

impl RuleBuilder<'_> {
    fn option(&mut self, opt: &str, val: &str, neg: bool) -> Step {
        match opt {
            "-p" | "--protocol" => self.protocol(val, neg),
            "-d" | "--destination" | "--dst" => self.destination(val, neg),
            "-o" | "--out-interface" if val == "lo" && !neg => {
                let lo = parse_addrs("127.0.0.0/8")
                    .and_then(|a| Ok(a.union(&parse_addrs("::1")?)))
                    .expect("literal addresses parse");
                Step::Cond(TrafficSet::rule(None, None, &lo))
            }
            // Modules only name where options come from; the options decide.
            "-m" | "--match" | "--comment" => Step::Done,
            "--dport" | "--destination-port" | "--dports" | "--destination-ports" => {
                self.ports.push(neg_text(neg, val));
                match port_list(val) {
                    Ok(p) => {
                        let p = if neg {
                            PortSet::full_ports().difference(&p)
                        } else {
                            p
                        };
                        Step::Cond(TrafficSet::rule(self.proto, Some(&p), &AddrSet::full()))
                    }
                    Err(e) => Step::Unknown(e.to_string()),
                }
            }
            "--ctstate" | "--state" => {
                let admits_new = val.split(',').any(|s| s.eq_ignore_ascii_case("NEW")) != neg;
                let m = if admits_new {
                    Match::all()
                } else {
                    Match::exact(TrafficSet::empty())
                };
                self.m = self.m.and(&m);
                self.inexact = true;
                Step::Done
            }
            "--icmp-type" | "--icmpv6-type" => self.icmp(opt, val, neg),
            "-j" | "--jump" | "-g" | "--goto" => {
                self.verdict = target(opt, val);
                Step::Target
            }
            // The first packet of a TCP connection: new egress is exactly that.
            "--syn" => Step::Flag(Some(TrafficSet::everything())),
            other if FLAGS.contains(&other) => Step::Flag(None),
            other => Step::Unknown(format!("`{}{other} {val}`", if neg { "! " } else { "" })),
        }
    }

    fn protocol(&mut self, val: &str, neg: bool) -> Step {
        match parse_proto(val) {
            Ok(p) => {
                self.proto = p;
                self.protocol.push(neg_text(neg, val));
                let set = match p {
                    Some(n) => ProtoSet::single(n as u32),
                    None => ProtoSet::range(0, 255),
                };
                let set = if neg {
                    ProtoSet::range(0, 255).difference(&set)
                } else {
                    set
                };
                Step::Cond(TrafficSet::product(
                    &set,
                    &PortSet::full_ports(),
                    &AddrSet::full(),
                ))
            }
            Err(e) => Step::Unknown(e),
        }
    }

    fn destination(&mut self, val: &str, neg: bool) -> Step {
        self.dest.push(neg_text(neg, val));
        let mut a = AddrSet::empty();
        for part in val.split(',') {
            match parse_addrs(part) {
                Ok(x) => a = a.union(&x),
                Err(e) => return Step::Unknown(e),
            }
        }
        let a = if neg { self.fam.difference(&a) } else { a };
        Step::Cond(TrafficSet::rule(None, None, &a))
    }

    fn icmp(&mut self, opt: &str, val: &str, neg: bool) -> Step {
        let (p, table): (u8, fn(&str) -> Option<u32>) = if opt == "--icmp-type" {
            (ICMP, icmp_type)
        } else {
            (ICMPV6, icmpv6_type)
        };
        self.protocol
            .push(if p == ICMP { "icmp" } else { "icmpv6" }.into());
        self.ports.push(neg_text(neg, &format!("type {val}")));
        match (table(val), val.contains('/')) {
            (Some(t), false) => {
                let types = PortSet::range(t * 256, t * 256 + 255);
                let types = if neg {
                    PortSet::full_ports().difference(&types)
                } else {
                    types
                };
                Step::Cond(TrafficSet::product(
                    &ProtoSet::single(p as u32),
                    &types,
                    &AddrSet::full(),
                ))
            }
            _ => Step::Unknown(format!("icmp type {val:?}")),
        }
    }

    fn finish(mut self, name: String) -> FwRule {
        if let Verdict::Unknown(t) = &self.verdict {
            // Targets without a verdict of their own go on to the next rule.
            if NO_VERDICT.contains(&t.as_str()) {
                self.verdict = Verdict::Continue;
            }
        }
        let join = |v: Vec<String>| {
            if v.is_empty() {
                "all".to_string()
            } else {
                v.join(" ")
            }
        };
        FwRule {
            name,
            m: self.m,
            verdict: self.verdict,
            protocol: join(self.protocol),
            ports: join(self.ports),
            destination: join(self.dest),
            inexact: self.inexact,
        }
    }
}

/// Targets that log, mark or rewrite and let the packet go on.
const NO_VERDICT: &[&str] = &[
    "LOG",
    "NFLOG",
    "ULOG",
    "MARK",
    "CONNMARK",
    "CT",
    "NOTRACK",
    "TCPMSS",
    "CLASSIFY",
    "DSCP",
    "TOS",
    "TTL",
    "HL",
    "SNAT",
    "MASQUERADE",
    "SECMARK",
    "CONNSECMARK",
    "AUDIT",
    "TRACE",
    "CHECKSUM",
    "TEE",
    "SET",
    "DNAT",
    "REDIRECT",
];

fn target(opt: &str, val: &str) -> Verdict {
    let goto = matches!(opt, "-g" | "--goto");
    match val {
        "ACCEPT" => Verdict::Accept,
        "DROP" | "REJECT" => Verdict::Drop,
        "RETURN" => Verdict::Return,
        other if !is_builtin_target(other) => {
            if goto {
                Verdict::Goto(other.to_string())
            } else {
                Verdict::Jump(other.to_string())
            }
        }
        other => Verdict::Unknown(other.to_string()),
    }
}

/// Extension targets (not user chains): the ones that only log, mark or rewrite, and the queues.
fn is_builtin_target(name: &str) -> bool {
    NO_VERDICT.contains(&name) || matches!(name, "QUEUE" | "NFQUEUE")
}

/// `80`, `8000:8080`, `80,443,8000:8080`.
fn port_list(s: &str) -> Result<PortSet, NormalizeError> {
    let mut out = PortSet::empty();
    for part in s.split(',') {
        let p = match part.split_once(':') {
            Some((a, b)) => {
                let lo = if a.is_empty() { "0" } else { a };
                let hi = if b.is_empty() { "65535" } else { b };
                PortSet::parse_ports(&format!("{lo}-{hi}"))?
            }
            None => PortSet::parse_ports(part)?,
        };
        out = out.union(&p);
    }
    Ok(out)
}

fn neg_text(neg: bool, s: &str) -> String {
    if neg {
        format!("! {s}")
    } else {
        s.to_string()
    }
}
