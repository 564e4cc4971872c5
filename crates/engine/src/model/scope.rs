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

#[cfg(test)]
mod tests {
    use super::*;
    use egress_audit_snapshot::{Document, Provider, Snapshot};

    #[test]
    fn live_scope_is_each_provider_account_and_region_once() {
        let doc = |account: &str, region: Option<&str>, kind: &str| Document {
            provider: Provider::Aws,
            account: Some(account.into()),
            region: region.map(String::from),
            kind: kind.into(),
            data: serde_json::json!({}),
        };
        let mut snap = Snapshot::new("0", "2026-12-04T00:00:00Z".into());
        snap.documents = vec![
            doc(
                "222233334444",
                Some("us-east-1"),
                "describe-security-groups",
            ),
            doc("111122223333", Some("eu-west-1"), "describe-network-acls"),
            doc(
                "111122223333",
                Some("eu-west-1"),
                "describe-security-groups",
            ),
            doc("111122223333", None, "describe-managed-prefix-lists"),
        ];
        let live = Scope::live_of(&snap);
        let shown: Vec<String> = live
            .iter()
            .map(|l| format!("{}/{:?}/{:?}", l.provider, l.account, l.region))
            .collect();
        assert_eq!(
            shown,
            [
                "aws/Some(\"111122223333\")/None",
                "aws/Some(\"111122223333\")/Some(\"eu-west-1\")",
                "aws/Some(\"222233334444\")/Some(\"us-east-1\")",
            ]
        );
        let at = now_rfc3339();
        assert!(
            chrono::DateTime::parse_from_rfc3339(&at).is_ok() && at.ends_with('Z'),
            "{at}"
        );
    }
}
