//! One SARIF result per finding, borrowed from the finding and written as it is serialized. A
//! large estate has hundreds of thousands of results: building each as a `serde_json::Value` (a
//! BTreeMap per object, a String per text) spent most of the write in malloc and map inserts.
//!
//! The document was once built from `Value`s, whose maps sort their keys: every struct here
//! declares its fields in that sorted order, so that the bytes stay the same
//! (tests/fixtures/sarif-every-field.golden.sarif pins them).

use super::level;
use crate::{EvidenceLine, QualifiedName};
use egress_audit_engine::checks::Catalog;
use egress_audit_engine::model::{Evidence, Finding, RuleText, Severity};
use serde::{Serialize, Serializer};
use std::fmt::{self, Display, Write};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SarifResult<'a> {
    level: &'static str,
    locations: [Location<'a>; 1],
    message: Message<'a>,
    partial_fingerprints: Fingerprints<'a>,
    properties: Properties<'a>,
    rule_id: &'a str,
    /// Absent for a check the catalog does not have.
    #[serde(skip_serializing_if = "Option::is_none")]
    rule_index: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    suppressions: Option<[Suppression<'a>; 1]>,
}

impl<'a> SarifResult<'a> {
    pub(super) fn new(f: &'a Finding, catalog: &Catalog) -> Self {
        SarifResult {
            level: level(f.severity),
            locations: [Location {
                logical_locations: [LogicalLocation {
                    decorated_name: f.resource_name.as_ref().map(|_| &*f.resource_id),
                    fully_qualified_name: AsString(QualifiedName(f)),
                    kind: "resource",
                    name: f.resource_name.as_deref().unwrap_or(&f.resource_id),
                }],
                physical_location: PhysicalLocation {
                    artifact_location: ArtifactLocation {
                        uri: AsString(ResourceUri(f)),
                    },
                    // Code scanning needs a region; a cloud resource's "file" has one line.
                    region: Region { start_line: 1 },
                },
            }],
            message: Message {
                text: AsString(MessageText(f)),
            },
            partial_fingerprints: Fingerprints {
                egress_audit_v1: f.fingerprint(),
            },
            properties: Properties {
                cause: f.cause.as_ref(),
                evidence: EvidenceList(&f.evidence),
                notes: &f.notes,
                observed: f.observed,
                original_severity: f.original_severity,
                resource_kind: &f.resource_kind,
                severity: f.severity,
            },
            rule_id: &f.check_id,
            rule_index: catalog.checks.iter().position(|c| c.id == f.check_id),
            suppressions: f.suppressed.as_deref().map(|reason| {
                [Suppression {
                    justification: reason,
                    kind: "external",
                }]
            }),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location<'a> {
    logical_locations: [LogicalLocation<'a>; 1],
    physical_location: PhysicalLocation<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LogicalLocation<'a> {
    /// The resource id, when `name` is the resource's name instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    decorated_name: Option<&'a str>,
    fully_qualified_name: AsString<QualifiedName<'a>>,
    kind: &'static str,
    name: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation<'a> {
    artifact_location: ArtifactLocation<'a>,
    region: Region,
}

#[derive(Serialize)]
struct ArtifactLocation<'a> {
    uri: AsString<ResourceUri<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: u32,
}

#[derive(Serialize)]
struct Message<'a> {
    text: AsString<MessageText<'a>>,
}

#[derive(Serialize)]
struct Fingerprints<'a> {
    #[serde(rename = "egressAudit/v1")]
    egress_audit_v1: std::borrow::Cow<'a, str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Properties<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    cause: Option<&'a egress_audit_engine::model::CauseId>,
    evidence: EvidenceList<'a>,
    notes: &'a [String],
    observed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    original_severity: Option<Severity>,
    resource_kind: &'a str,
    severity: Severity,
}

#[derive(Serialize)]
struct Suppression<'a> {
    justification: &'a str,
    kind: &'static str,
}

struct EvidenceList<'a>(&'a [Evidence]);

impl Serialize for EvidenceList<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(SortedEvidence::from))
    }
}

/// [`Evidence`] with its keys in sorted order, omitting what Evidence's own Serialize omits.
#[derive(Serialize)]
struct SortedEvidence<'a> {
    action: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    decides: Option<AsString<&'a egress_audit_engine::model::Decides>>,
    destination: &'a str,
    ports: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    priority: Option<i64>,
    protocol: &'a str,
    rule: &'a str,
}

impl<'a> From<&'a Evidence> for SortedEvidence<'a> {
    fn from(e: &'a Evidence) -> Self {
        // Taken apart in full, so that a field added to Evidence or RuleText fails to compile
        // here instead of going missing from SARIF.
        let Evidence { written, decides } = e;
        let RuleText {
            name: rule,
            action,
            priority,
            protocol,
            ports,
            destination,
        } = &**written;
        SortedEvidence {
            action,
            decides: decides.as_ref().map(AsString),
            destination,
            ports,
            priority: *priority,
            protocol,
            rule,
        }
    }
}

/// Serializes as the string its `Display` writes, without making the `String` first (serde_json
/// escapes the pieces straight into the output).
struct AsString<T>(T);

impl<T: Display> Serialize for AsString<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

/// The message, then the rule, the deciding rules and the notes:
/// `… (rule R). Deciding rules: E1; E2. Note: N`.
struct MessageText<'a>(&'a Finding);

impl Display for MessageText<'_> {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        let f = self.0;
        out.write_str(&f.message)?;
        if let Some(r) = &f.rule {
            write!(out, " (rule {r})")?;
        }
        for (i, e) in f.evidence.iter().enumerate() {
            out.write_str(if i == 0 { ". Deciding rules: " } else { "; " })?;
            write!(out, "{}", EvidenceLine(e))?;
        }
        for n in &f.notes {
            write!(out, ". Note: {n}")?;
        }
        Ok(())
    }
}

/// GitHub code scanning rejects a result without a physical location ("expected a physical
/// location"), and a cloud resource has no file: name the resource as a relative path,
/// `cloud/aws/111122223333/us-east-1/sg-0123`, percent-encoded so it is a valid URI reference.
struct ResourceUri<'a>(&'a Finding);

impl Display for ResourceUri<'_> {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        let f = self.0;
        out.write_str("cloud")?;
        for part in [
            &*f.provider,
            f.account.as_deref().unwrap_or("-"),
            f.region.as_deref().unwrap_or("-"),
            f.resource_id.trim_start_matches('/'),
        ] {
            out.write_char('/')?;
            percent_encode(part, out)?;
        }
        Ok(())
    }
}

/// Writes `part` with every byte but ASCII letters, digits and `-._~/` as `%XX`.
fn percent_encode(part: &str, out: &mut fmt::Formatter<'_>) -> fmt::Result {
    let mut unwritten = 0;
    for (i, c) in part.char_indices() {
        if c.is_ascii_alphanumeric() || "-._~/".contains(c) {
            continue;
        }
        out.write_str(&part[unwritten..i])?;
        for b in c.encode_utf8(&mut [0; 4]).bytes() {
            write!(out, "%{b:02X}")?;
        }
        unwritten = i + c.len_utf8();
    }
    out.write_str(&part[unwritten..])
}
