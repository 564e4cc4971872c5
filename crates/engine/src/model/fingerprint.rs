//! A finding's fingerprint, and the finding's JSON form that carries it.
//!
//! The fingerprint is a finding's stable identity for baselines: `check|provider|account|region|
//! resource|rule`. It is made from those fields when it is read, not stored: a large estate's
//! million findings each held a copy of five of their own fields (about 130 MB at 50,000 security
//! groups). It is kept as text only when it is not that: an observed finding's suffix (`|probe:HOST`,
//! `|flows`) or a fingerprint read from a report.

use super::{CauseId, Evidence, Finding, ObservedSource, Severity, Text};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Cow;

/// How a finding's fingerprint is made: from its fields (the default), or as written here.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Fingerprint(Option<Box<str>>);

impl Fingerprint {
    /// Exactly `text`, whatever the finding's fields.
    pub fn fixed(text: impl Into<Box<str>>) -> Self {
        Fingerprint(Some(text.into()))
    }

    /// Made from the finding's fields when read.
    pub fn of_fields() -> Self {
        Fingerprint(None)
    }
}

/// An empty fingerprint in a report read back (older reports, hand-written ones) is made from
/// the fields, as baselines always did.
impl<'de> Deserialize<'de> for Fingerprint {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Ok(if text.is_empty() {
            Fingerprint::of_fields()
        } else {
            Fingerprint::fixed(text)
        })
    }
}

impl Finding {
    /// `check|provider|account|region|resource|rule`, or the fixed text (see [`Fingerprint`]).
    pub fn fingerprint(&self) -> Cow<'_, str> {
        match &self.fingerprint.0 {
            Some(text) => Cow::Borrowed(text),
            None => Cow::Owned(format!(
                "{}|{}|{}|{}|{}|{}",
                self.check_id,
                self.provider,
                self.account.as_deref().unwrap_or(""),
                self.region.as_deref().unwrap_or(""),
                self.resource_id,
                self.rule.as_deref().unwrap_or("")
            )),
        }
    }

    /// Fixes the fingerprint as the fields' one (as they are now) followed by `suffix`: an
    /// observed finding is not the declared finding of the same check on the same resource.
    pub fn suffix_fingerprint(&mut self, suffix: &str) {
        self.fingerprint = Fingerprint::of_fields();
        let text = format!("{}{suffix}", self.fingerprint());
        self.fingerprint = Fingerprint::fixed(text);
    }
}

/// The JSON form, field by field as the derived form had it, with the fingerprint made here.
#[derive(Serialize, PartialEq)]
struct Written<'a> {
    check_id: &'a Text,
    slug: &'a Text,
    severity: Severity,
    title: &'a Text,
    provider: &'a Text,
    #[serde(skip_serializing_if = "Option::is_none")]
    account: &'a Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: &'a Option<Text>,
    resource_id: &'a Text,
    resource_kind: &'a Text,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_name: &'a Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rule: &'a Option<Text>,
    message: &'a str,
    evidence: &'a [Evidence],
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    observed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<ObservedSource>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    notes: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    original_severity: Option<Severity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    suppressed: &'a Option<String>,
    fingerprint: Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cause: &'a Option<CauseId>,
}

impl Finding {
    /// The finding as written, field by field.
    fn written(&self) -> Written<'_> {
        // Destructured: a field added to `Finding` does not compile until it is written here.
        let Finding {
            check_id,
            slug,
            severity,
            title,
            provider,
            account,
            region,
            resource_id,
            resource_kind,
            resource_name,
            rule,
            message,
            evidence,
            observed,
            source,
            notes,
            original_severity,
            suppressed,
            fingerprint: _,
            cause,
            no_internet_path: _,
        } = self;
        Written {
            check_id,
            slug,
            severity: *severity,
            title,
            provider,
            account,
            region,
            resource_id,
            resource_kind,
            resource_name,
            rule,
            message,
            evidence,
            observed: *observed,
            source: *source,
            notes,
            original_severity: *original_severity,
            suppressed,
            fingerprint: self.fingerprint(),
            cause,
        }
    }
}

impl Serialize for Finding {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.written().serialize(s)
    }
}

/// Equal as written (a fingerprint read back as text equals the one made from the fields), and
/// in what is not written.
impl PartialEq for Finding {
    fn eq(&self, o: &Finding) -> bool {
        self.written() == o.written() && self.no_internet_path == o.no_internet_path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding() -> Finding {
        serde_json::from_value(serde_json::json!({
            "check_id": "EG012", "slug": "s", "severity": "info", "title": "t",
            "provider": "aws", "account": "1", "resource_id": "sg-1",
            "resource_kind": "security-group", "rule": "sg-1 egress #2", "message": "m",
            "evidence": [], "fingerprint": "",
        }))
        .unwrap()
    }

    #[test]
    fn made_from_the_fields_when_written() {
        let mut f = finding();
        assert_eq!(
            f.fingerprint,
            Fingerprint::of_fields(),
            "empty text: from the fields"
        );
        assert_eq!(f.fingerprint(), "EG012|aws|1||sg-1|sg-1 egress #2");
        let written = serde_json::to_value(&f).unwrap();
        assert_eq!(written["fingerprint"], "EG012|aws|1||sg-1|sg-1 egress #2");
        f.suffix_fingerprint("|flows");
        f.resource_id = "sg-2".into();
        assert_eq!(
            f.fingerprint(),
            "EG012|aws|1||sg-1|sg-1 egress #2|flows",
            "fixed"
        );
    }

    #[test]
    fn read_back_equals_the_original() {
        let f = finding();
        let back: Finding = serde_json::from_str(&serde_json::to_string(&f).unwrap()).unwrap();
        assert!(
            matches!(back.fingerprint, Fingerprint(Some(_))),
            "kept as read"
        );
        assert_eq!(back, f);
        let mut other = back.clone();
        other.fingerprint = Fingerprint::fixed("something else");
        assert_ne!(other, f);
    }
}
