//! When a report was made and what it read: the `scanned_at` and `scope` of the JSON report.

use serde::{Deserialize, Serialize};

/// What a scan read: the inputs as given and the live accounts, regions, subscriptions and
/// projects that answered (what did not answer is in the report's `not_scanned`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    /// The `--input` paths as given on the command line (files and folders).
    #[serde(default)]
    pub inputs: Vec<String>,
    /// JSON files opened below those inputs (a folder counts each of its files, skipped ones too).
    #[serde(default)]
    pub files: usize,
    /// Live sources read: one entry per provider / account / region that returned listings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub live: Vec<LiveScope>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LiveScope {
    pub provider: String,
    /// AWS account, Azure subscription or GCP project.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

impl Scope {
    /// The distinct provider / account / region of a live snapshot's documents, sorted.
    pub fn live_of(snapshot: &egress_audit_snapshot::Snapshot) -> Vec<LiveScope> {
        let mut out: Vec<LiveScope> = snapshot
            .documents
            .iter()
            .map(|d| LiveScope {
                provider: d.provider.as_str().to_string(),
                account: d.account.clone(),
                region: d.region.clone(),
            })
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

/// Now, as RFC 3339 in UTC to the second: `2026-12-04T20:40:00Z`.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
