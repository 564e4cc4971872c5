//! Host firewalls (`nft -j list ruleset`, `iptables-save`, `ip6tables-save`) → targets.
//!
//! Both formats are read into one small model ([`FwTable`]: chains of rules with a match and a
//! verdict) and then flattened, per hook, into the engine's chains:
//! - each *base chain* on a hook is one [`Chain`] of the target: a packet must pass every base
//!   chain of its hook (an `accept` ends only its own base chain; a `drop` is final);
//! - the `output` hook (and `postrouting`) is the host's own egress, target `HOST:output`
//!   (`host-firewall`); the `forward` hook (and `prerouting`, `postrouting`) is a gateway's egress,
//!   target `HOST:forward` (`gateway-firewall`), built only when such a chain exists;
//! - `jump` inlines the called chain under the jump's match, `goto` inlines it and skips the rest
//!   of the calling chain, `return` skips the rest of its chain; the base chain's policy is the
//!   last, synthetic rule.
//!
//! **Fail open in the report, never closed.** A match that is not understood (an interface other
//! than `lo`, a mark, a uid, an ipset, a rate limit…) is named in a warning and taken as *matching*
//! on `accept` and *not matching* on `drop`/`reject`: each rule keeps an upper bound (may match)
//! and a lower bound (surely matches) of its traffic, so the result can only over-report egress.
//! `ct state` that excludes `new` matches no new egress at all.
//!
//! The host's name is the file name up to its first dot (`web-1.nft.json` → `web-1`): neither
//! format names the host.

pub mod iptables;
pub mod nft;
mod values;

use crate::model::space::{all_v4, all_v6};
use crate::model::RuleText;
use crate::model::{Action, AddrSet, Chain, Layer, LayerKind, Rule, Target, TrafficSet, Warning};
use crate::normalize::Inventory;
use egress_audit_snapshot::Provider;
use std::collections::BTreeMap;

/// Address families a table (or an `iptables-save` file) sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
    Both,
}

impl Family {
    pub fn addrs(self) -> AddrSet {
        match self {
            Family::V4 => all_v4(),
            Family::V6 => all_v6(),
            Family::Both => AddrSet::full(),
        }
    }
}

/// What a rule's conditions match, as bounds: `lower ⊆ real ⊆ upper`.
#[derive(Clone, Debug, PartialEq)]
pub struct Match {
    pub upper: TrafficSet,
    pub lower: TrafficSet,
}

impl Match {
    pub fn all() -> Match {
        Match::exact(TrafficSet::everything())
    }
    pub fn exact(t: TrafficSet) -> Match {
        Match {
            upper: t.clone(),
            lower: t,
        }
    }
    /// A condition that is not understood: it may match anything, and surely matches nothing.
    pub fn unknown() -> Match {
        Match {
            upper: TrafficSet::everything(),
            lower: TrafficSet::empty(),
        }
    }
    /// Both conditions (a rule's matches are a conjunction).
    pub fn and(&self, o: &Match) -> Match {
        Match {
            upper: self.upper.intersect(&o.upper),
            lower: self.lower.intersect(&o.lower),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    Accept,
    /// `drop` and `reject`.
    Drop,
    Jump(String),
    Goto(String),
    Return,
    /// No verdict (counter, log, mark…): the packet goes on to the next rule.
    Continue,
    /// A verdict that is not understood (queue, a verdict map): taken as accept, with a warning.
    Unknown(String),
}

#[derive(Clone, Debug)]
pub struct FwRule {
    /// How users find it: `inet filter output #3 (handle 7)`, `-A OUTPUT … (line 12)`.
    pub name: String,
    pub m: Match,
    pub verdict: Verdict,
    /// Protocol, ports and destination as written, for evidence (`all` when not named).
    pub protocol: String,
    pub ports: String,
    pub destination: String,
    /// Conditions not understood, or understood only as bounds (ct state): the rule is never
    /// reported as shadowed or redundant.
    pub inexact: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Hook {
    Prerouting,
    Forward,
    Output,
    Postrouting,
}

impl Hook {
    pub fn parse(s: &str) -> Option<Hook> {
        Some(match s.to_ascii_lowercase().as_str() {
            "prerouting" => Hook::Prerouting,
            "forward" => Hook::Forward,
            "output" => Hook::Output,
            "postrouting" => Hook::Postrouting,
            _ => return None,
        })
    }
    /// Whether the hook sees a host's own egress (`output`) or a gateway's (`forward`).
    fn sees(self, egress: Egress) -> bool {
        match egress {
            Egress::Own => matches!(self, Hook::Output | Hook::Postrouting),
            Egress::Forwarded => {
                matches!(self, Hook::Prerouting | Hook::Forward | Hook::Postrouting)
            }
        }
    }
}

#[derive(Clone, Debug)]
pub struct BaseChain {
    pub hook: Hook,
    pub priority: i64,
    /// `accept` or `drop`.
    pub policy: Action,
}

#[derive(Clone, Debug)]
pub struct FwChain {
    pub name: String,
    pub rules: Vec<FwRule>,
    pub base: Option<BaseChain>,
}

#[derive(Clone, Debug)]
pub struct FwTable {
    /// `nftables inet filter`, `iptables filter`.
    pub label: String,
    pub family: Family,
    pub chains: BTreeMap<String, FwChain>,
}

/// One host's export: its tables and what its parser could not read.
#[derive(Clone, Debug)]
pub struct HostExport {
    pub source: String,
    pub host: String,
    pub format: &'static str,
    pub tables: Vec<FwTable>,
    pub warnings: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Egress {
    Own,
    Forwarded,
}

/// Every host export added, built into targets once all inputs are in.
#[derive(Default, Debug)]
pub struct HostBundle {
    exports: Vec<HostExport>,
}

/// The host name from a file path: the file name up to its first dot.
pub fn host_of(source: &str) -> String {
    let file = source.rsplit(['/', '\\']).next().unwrap_or(source);
    let file = file.split('#').next().unwrap_or(file);
    file.split('.')
        .next()
        .filter(|s| !s.is_empty())
        .unwrap_or(file)
        .to_string()
}

impl HostBundle {
    pub fn add_export(&mut self, export: HostExport) {
        self.exports.push(export);
    }

    pub fn build(self, inv: &mut Inventory) {
        for ex in self.exports {
            for message in &ex.warnings {
                inv.warnings.push(Warning {
                    kind: crate::model::WarningKind::HostFirewallNotUnderstood,
                    source: ex.source.clone(),
                    message: message.clone(),
                });
            }
            for egress in [Egress::Own, Egress::Forwarded] {
                if let Some(t) = target(&ex, egress, &mut inv.warnings) {
                    inv.targets.push(t);
                }
            }
        }
    }
}

/// The target of one hook group; `None` for forwarding when no chain sees forwarded traffic (the
/// host may not forward at all).
fn target(ex: &HostExport, egress: Egress, warnings: &mut Vec<Warning>) -> Option<Target> {
    let mut bases: Vec<(&FwTable, &FwChain, &BaseChain)> = ex
        .tables
        .iter()
        .flat_map(|t| t.chains.values().map(move |c| (t, c)))
        .filter_map(|(t, c)| c.base.as_ref().map(|b| (t, c, b)))
        .filter(|(_, _, b)| b.hook.sees(egress))
        .collect();
    if egress == Egress::Forwarded && !bases.iter().any(|b| b.2.hook == Hook::Forward) {
        return None;
    }
    bases.sort_by_key(|(t, c, b)| (b.priority, b.hook, t.label.clone(), c.name.clone()));
    let (suffix, kind) = match egress {
        Egress::Own => ("output", "host-firewall"),
        Egress::Forwarded => ("forward", "gateway-firewall"),
    };
    let mut t = Target::new(Provider::Host, format!("{}:{suffix}", ex.host), kind);
    t.name = Some(ex.host.as_str().into());
    t.labels.insert("host".into(), ex.host.clone());
    if egress == Egress::Own {
        // A probe run on this host names it by its host name.
        t.identity.instance_ids.push(ex.host.clone());
    }
    for (table, chain, base) in bases {
        let mut flat = Flatten {
            table,
            rules: Vec::new(),
            warnings,
            source: &ex.source,
        };
        let fam = TrafficSet::rule(None, None, &table.family.addrs());
        flat.walk(chain, &Match::exact(fam.clone()), 0);
        let mut rules = flat.rules;
        rules.push(Rule {
            written: RuleText::new(
                format!(
                    "{} {} policy {}",
                    table.label,
                    chain.name,
                    policy_word(base.policy)
                )
                .into(),
                base.policy,
                None,
                "all".into(),
                "all".into(),
                "all".into(),
            ),
            resource: format!("{} {}", table.label, chain.name).into(),
            action: base.policy,
            traffic: fam.into(),
            unresolved: Vec::new(),
            synthetic: true,
        });
        t.chains.push(Chain {
            layers: vec![Layer {
                kind: LayerKind::HostFirewall,
                resource: format!("{} {}", table.label, chain.name),
                rules: rules.into(),
                // Traffic of another family passes a table that does not see it.
                no_match: Action::Allow,
                unordered: false,
            }],
        });
    }
    Some(t)
}

fn policy_word(a: Action) -> &'static str {
    match a {
        Action::Allow => "accept",
        _ => "drop",
    }
}

/// Chains deeper than this are not followed (the kernel's own limit is 16 jumps).
const MAX_DEPTH: usize = 16;

struct Flatten<'a> {
    table: &'a FwTable,
    rules: Vec<Rule>,
    warnings: &'a mut Vec<Warning>,
    source: &'a str,
}

impl Flatten<'_> {
    /// Emits the rules of `chain` for traffic within `guard`. Returns nothing: what a `return` (or
    /// the end of the chain) hands back is simply not decided by the emitted rules.
    fn walk(&mut self, chain: &FwChain, guard: &Match, depth: usize) {
        // What left this chain early (return, goto): surely (lower) and maybe (upper).
        let mut gone = Match {
            upper: TrafficSet::empty(),
            lower: TrafficSet::empty(),
        };
        for r in &chain.rules {
            let m = r.m.and(guard);
            // An accept may decide what may reach it; a drop only what surely reaches it.
            let reach = Match {
                upper: m.upper.difference(&gone.lower),
                lower: m.lower.difference(&gone.upper),
            };
            let inexact = r.inexact || depth > 0 || reach.upper != reach.lower;
            match &r.verdict {
                Verdict::Accept => self.emit(r, Action::Allow, reach.upper, inexact),
                Verdict::Unknown(what) => {
                    self.warn(format!(
                        "{}: verdict `{what}` is not understood; taken as accept (the result may \
                         over-report egress)",
                        r.name
                    ));
                    self.emit(r, Action::Allow, reach.upper, true);
                }
                Verdict::Drop => self.emit(r, Action::Deny, reach.lower, inexact),
                Verdict::Jump(to) | Verdict::Goto(to) => {
                    match self.table.chains.get(to) {
                        Some(_) if depth >= MAX_DEPTH => {
                            self.warn(format!(
                                "{}: chains nest deeper than {MAX_DEPTH}; `{to}` is taken as \
                                 accepting what reaches it",
                                r.name
                            ));
                            self.emit(r, Action::Allow, reach.upper.clone(), true);
                        }
                        Some(sub) => self.walk(sub, &reach, depth + 1),
                        None => {
                            self.warn(format!(
                                "{}: chain `{to}` is not in the export; taken as accepting what \
                                 reaches it",
                                r.name
                            ));
                            self.emit(r, Action::Allow, reach.upper.clone(), true);
                        }
                    }
                    if matches!(r.verdict, Verdict::Goto(_)) {
                        gone.upper = gone.upper.union(&reach.upper);
                        gone.lower = gone.lower.union(&reach.lower);
                    }
                }
                Verdict::Return => {
                    gone.upper = gone.upper.union(&reach.upper);
                    gone.lower = gone.lower.union(&reach.lower);
                }
                Verdict::Continue => {}
            }
        }
    }

    fn emit(&mut self, r: &FwRule, action: Action, traffic: TrafficSet, inexact: bool) {
        self.rules.push(Rule {
            written: RuleText::new(
                r.name.as_str().into(),
                action,
                None,
                r.protocol.as_str().into(),
                r.ports.as_str().into(),
                r.destination.as_str().into(),
            ),
            resource: self.table.label.as_str().into(),
            action,
            traffic: traffic.into(),
            unresolved: Vec::new(),
            synthetic: inexact,
        });
    }

    fn warn(&mut self, message: String) {
        self.warnings.push(Warning {
            kind: crate::model::WarningKind::HostFirewallNotUnderstood,
            source: self.source.to_string(),
            message,
        });
    }
}

#[cfg(test)]
mod tests;
