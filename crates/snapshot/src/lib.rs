//! The snapshot: what a collector fetched, as plain serde data.
//!
//! A snapshot holds *documents* in exactly the JSON shape that the clouds' own CLIs print
//! (AWS: `aws ec2 describe-*` PascalCase; Azure: the ARM REST list shape `{"value": [...]}`;
//! GCP: the Compute REST list shape `{"items": [...]}`), each with the account and region it came
//! from, plus the list of scopes that could not be read. The scanner parses these documents with
//! the same code that reads offline exports, so `collect` then `scan --input` gives exactly the
//! findings of a live scan.

use serde::{Deserialize, Serialize};

/// The value of [`Snapshot::format`]; the loader recognises a snapshot by it.
pub const FORMAT: &str = "egress-audit-snapshot/1";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Snapshot {
    /// Always [`FORMAT`].
    pub format: String,
    /// Version of the tool that collected it.
    pub tool_version: String,
    /// RFC 3339 time the collection finished.
    pub collected_at: String,
    /// One document per API listing (or CLI command), with the scope it came from.
    #[serde(default)]
    pub documents: Vec<Document>,
    /// Scopes (accounts, regions, subscriptions, projects) that were asked for but not read.
    /// A scan of a snapshot with entries here is partial and must say so.
    #[serde(default)]
    pub not_scanned: Vec<NotScanned>,
    /// Scopes deliberately not read because nothing runs in them (an Azure subscription that is
    /// `Disabled`): listed in the report, but they do not make the scan partial.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<NotScanned>,
    /// Collector statistics (API calls, retries, throttles), for the report and benchmarks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<CollectStats>,
}

impl Snapshot {
    pub fn new(tool_version: &str, collected_at: String) -> Self {
        Snapshot {
            format: FORMAT.to_string(),
            tool_version: tool_version.to_string(),
            collected_at,
            documents: Vec::new(),
            not_scanned: Vec::new(),
            skipped: Vec::new(),
            stats: None,
        }
    }

    /// Appends another snapshot's documents, gaps and statistics to this one.
    pub fn merge(&mut self, other: Snapshot) {
        self.documents.extend(other.documents);
        self.not_scanned.extend(other.not_scanned);
        self.skipped.extend(other.skipped);
        match (&mut self.stats, other.stats) {
            (Some(mine), Some(theirs)) => mine.add(&theirs),
            (mine @ None, theirs) => *mine = theirs,
            _ => {}
        }
    }

    pub fn is_partial(&self) -> bool {
        !self.not_scanned.is_empty()
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Aws,
    Azure,
    Gcp,
    /// Observed by `egress-audit probe` on a host (cloud or on-prem).
    Probe,
    /// A host's own firewall (nftables, iptables), on-prem or in a cloud instance.
    Host,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Aws => "aws",
            Provider::Azure => "azure",
            Provider::Gcp => "gcp",
            Provider::Probe => "probe",
            Provider::Host => "host",
        }
    }
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One listing, as the provider's CLI or REST API prints it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Document {
    pub provider: Provider,
    /// AWS account id, Azure subscription id, GCP project id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// AWS region; Azure and GCP leave it empty (their resources carry their own location).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// What was listed, e.g. `describe-security-groups`, `networkSecurityGroups`, `firewalls`.
    /// Informational: the scanner detects the kind from `data` itself.
    pub kind: String,
    /// The listing, in the CLI / REST shape.
    pub data: serde_json::Value,
}

/// A scope that was asked for and could not be read, with the reason.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct NotScanned {
    pub provider: Provider,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// What could not be read: `account`, `region`, `subscription`, `project`, or an API name.
    pub scope: String,
    /// The provider's error, as specific as it was given (code and message).
    pub reason: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct CollectStats {
    pub api_calls: u64,
    pub retries: u64,
    pub throttles: u64,
    pub elapsed_ms: u64,
}

impl CollectStats {
    pub fn add(&mut self, other: &CollectStats) {
        self.api_calls += other.api_calls;
        self.retries += other.retries;
        self.throttles += other.throttles;
        self.elapsed_ms = self.elapsed_ms.max(other.elapsed_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_merges() {
        let mut a = Snapshot::new("0.1.0", "2026-01-01T00:00:00Z".into());
        a.documents.push(Document {
            provider: Provider::Aws,
            account: Some("111122223333".into()),
            region: Some("us-east-1".into()),
            kind: "describe-security-groups".into(),
            data: serde_json::json!({"SecurityGroups": []}),
        });
        let mut b = Snapshot::new("0.1.0", "2026-01-01T00:00:00Z".into());
        b.not_scanned.push(NotScanned {
            provider: Provider::Aws,
            account: Some("111122223333".into()),
            region: Some("me-south-1".into()),
            scope: "region".into(),
            reason: "OptInRequired".into(),
        });
        let text = serde_json::to_string(&a).unwrap();
        let back: Snapshot = serde_json::from_str(&text).unwrap();
        assert_eq!(back, a);
        a.merge(b);
        assert!(a.is_partial());
        assert_eq!(a.documents.len(), 1);
    }
}

/// The probe-result format that `egress-audit probe --format json` writes and `scan` reads.
pub mod probe_result {
    /// The format marker of probe results; newer versions are refused with a clear message.
    pub const FORMAT: &str = "egress-audit-probe/1";
    /// The token the all-ports responder answers with, unless the probe was told another.
    pub const DEFAULT_EXPECT: &str = "w00tw00t";
}

/// Why a collection produced nothing usable (no credentials, no readable scope at all). Scopes
/// that fail one by one are not errors: they are listed in [`Snapshot::not_scanned`].
pub type CollectError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The one shape of a live collector, which every provider crate implements on its options:
/// it reads every scope it was given into a [`Snapshot`] of the provider's own listings, and never
/// drops a scope silently (what it could not read goes in `not_scanned`, so the scan is partial).
pub trait Collector {
    fn collect(&self) -> impl std::future::Future<Output = Result<Snapshot, CollectError>>;
}
