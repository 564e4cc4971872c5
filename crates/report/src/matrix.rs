//! The egress surface as a matrix: one row per evaluated target, one column per egress class.
//!
//! A cell is read from the target's findings, so it means exactly what the checks decided
//! (CHECKS.md §3), with the config's resolver allow-list, risky-port list and suppressions applied:
//! - `Open`: a declared finding of the class's check is on the target (its rules let the class
//!   out to public addresses); `Observed`: a probe or flow saw it leave (a finding with
//!   `observed`); both can hold at once, observed wins.
//! - `Suppressed`: the only such findings are suppressed by the config.
//! - `Closed`: the check ran on the target and did not fire.
//! - `NotChecked`: the check is not in the catalog or was filtered out of this report, so the
//!   cell says nothing.
//!
//! For "default deny" the meaning is inverted in the display: an EG005 finding means the target
//! has *no* default deny. "all tcp" / "all udp" are EG001 on that protocol (half or more of the
//! public plane).

use super::ResourceKey;
use egress_audit_engine::model::{Finding, Report};
use std::collections::{BTreeMap, BTreeSet};

/// An egress class: a column.
pub struct Class {
    pub label: &'static str,
    pub check: &'static str,
    /// For EG001: the protocol named in the message (`tcp is allowed …`).
    pub protocol: Option<&'static str>,
    /// The check fires when the class is *missing* (EG005).
    pub inverted: bool,
}

pub const CLASSES: [Class; 11] = [
    class("all tcp", "EG001", Some("tcp"), false),
    class("all udp", "EG001", Some("udp"), false),
    class("tcp/445", "EG002", None, false),
    class("tcp/23", "EG003", None, false),
    class("tcp/20-21", "EG004", None, false),
    class("DNS", "EG006", None, false),
    class("DoT/DoH", "EG008", None, false),
    class("ICMP echo", "EG007", None, false),
    class("risky ports", "EG013", None, false),
    class("broad dest.", "EG009", None, false),
    class("default deny", "EG005", None, true),
];

const fn class(
    label: &'static str,
    check: &'static str,
    protocol: Option<&'static str>,
    inverted: bool,
) -> Class {
    Class {
        label,
        check,
        protocol,
        inverted,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cell {
    Open,
    Observed,
    Suppressed,
    Closed,
    NotChecked,
}

pub struct Row {
    pub key: ResourceKey,
    pub cells: Vec<Cell>,
    pub findings: usize,
}

/// One row per target: `targets` (every evaluated target) plus any target that only appears in
/// findings; rule-level findings (about a rule, not a target) are not rows. `checked` are the
/// check ids that ran (the catalog after filters).
pub fn rows(report: &Report, targets: &[ResourceKey], checked: &BTreeSet<String>) -> Vec<Row> {
    let mut by_target: BTreeMap<ResourceKey, Vec<&Finding>> =
        targets.iter().map(|k| (k.clone(), Vec::new())).collect();
    for f in report.findings.iter().filter(|f| f.rule.is_none()) {
        by_target.entry(ResourceKey::of(f)).or_default().push(f);
    }
    by_target
        .into_iter()
        .map(|(key, fs)| Row {
            cells: CLASSES.iter().map(|c| cell(c, &fs, checked)).collect(),
            findings: fs.iter().filter(|f| f.suppressed.is_none()).count(),
            key,
        })
        .collect()
}

fn cell(class: &Class, findings: &[&Finding], checked: &BTreeSet<String>) -> Cell {
    let hits: Vec<&&Finding> = findings
        .iter()
        .filter(|f| f.check_id == class.check)
        .filter(|f| {
            class
                .protocol
                .is_none_or(|p| f.message.contains(&format!("{p} is allowed")))
        })
        .collect();
    let active: Vec<&&&Finding> = hits.iter().filter(|f| f.suppressed.is_none()).collect();
    if active.iter().any(|f| f.observed) {
        Cell::Observed
    } else if !active.is_empty() {
        Cell::Open
    } else if !hits.is_empty() {
        Cell::Suppressed
    } else if checked.contains(class.check) {
        Cell::Closed
    } else {
        Cell::NotChecked
    }
}
