//! Evidence: the rules that decided a finding, as the user wrote them.
//!
//! A rule's written text (name, action, priority, protocol, ports, destination) is made once, when
//! the rule is read, and shared: by the rule, by every target whose layer holds it and by every
//! finding it decides. A large estate's findings carry millions of evidence entries; each is a
//! reference to its rule's text and the part of the finding it decided, not a copy of six fields.

use super::policy::Action;
use super::recent::Recent;
use super::{Text, TrafficSet};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

/// A rule as written, as findings show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleText {
    /// Provider rule id or name, e.g. `sg-0123 egress #1`, `nsg-web/AllowInternetOutBound`.
    #[serde(rename = "rule")]
    pub name: Text,
    pub action: Text,
    /// Priority or rule number as the provider shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
    pub protocol: Text,
    pub ports: Text,
    pub destination: Text,
}

impl RuleText {
    /// The text of a rule of `action`, shared from here on.
    pub fn new(
        name: Text,
        action: Action,
        priority: Option<i64>,
        protocol: Text,
        ports: Text,
        destination: Text,
    ) -> Arc<RuleText> {
        Arc::new(RuleText {
            name,
            action: Text::constant(action.as_str()),
            priority,
            protocol,
            ports,
            destination,
        })
    }

    /// Something that is not a rule of the input but decided like one: `… (no filter: …)`,
    /// `… (no rule matched: default allow)`, a probe's observation.
    pub fn other(name: impl Into<Text>, action: &'static str, destination: Text) -> Arc<RuleText> {
        Arc::new(RuleText {
            name: name.into(),
            action: Text::constant(action),
            priority: None,
            protocol: Text::constant("all"),
            ports: Text::constant("all"),
            destination,
        })
    }
}

/// One rule that decided part of a finding. Reads as its rule's [`RuleText`] (`e.name`,
/// `e.action`, …) plus what it decided.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(from = "EvidenceFields")]
pub struct Evidence {
    pub written: Arc<RuleText>,
    /// The part of the finding's traffic this rule decided, e.g. `tcp/445 to 0.0.0.0/0`.
    pub decides: Option<Decides>,
}

/// What a rule decided: text, or a traffic set described when read. A rule that covers another's
/// whole traffic (an allow-all beside a redundant rule) decides exactly that rule's set, which is
/// then shared with the rule rather than written out for each of a million findings.
#[derive(Clone, Debug)]
pub enum Decides {
    Text(String),
    Traffic(Arc<TrafficSet>),
}

impl Decides {
    pub fn text(&self) -> Cow<'_, str> {
        match self {
            Decides::Text(t) => Cow::Borrowed(t),
            Decides::Traffic(t) => Cow::Owned(described(t).to_string()),
        }
    }
}

/// Slots of the per-thread table of recent descriptions (a power of two).
const DESCRIBED_SLOTS: usize = 1024;

thread_local! {
    /// The last descriptions made, with the sets they describe. A shared set is the rule's: a
    /// report writes it for each of its findings, mostly one target's after another.
    static DESCRIBED: RefCell<Recent<TrafficSet, Rc<str>>> =
        RefCell::new(Recent::new(DESCRIBED_SLOTS));
}

/// `describe_traffic` of a shared set, remembered per thread.
fn described(t: &Arc<TrafficSet>) -> Rc<str> {
    DESCRIBED.with(|table| {
        table
            .borrow_mut()
            .get_or_make(t, |set| crate::eval::describe_traffic(set).into())
    })
}

/// Equal as read.
impl PartialEq for Decides {
    fn eq(&self, o: &Decides) -> bool {
        match (self, o) {
            (Decides::Traffic(a), Decides::Traffic(b)) if Arc::ptr_eq(a, b) => true,
            _ => self.text() == o.text(),
        }
    }
}

impl Eq for Decides {}

impl std::fmt::Display for Decides {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Decides::Text(t) => f.write_str(t),
            Decides::Traffic(t) => f.write_str(&described(t)),
        }
    }
}

impl Evidence {
    pub fn new(written: Arc<RuleText>, decides: Option<String>) -> Self {
        Evidence {
            written,
            decides: decides.map(Decides::Text),
        }
    }

    /// A rule that decided all of `traffic` (a set it shares with another rule).
    pub fn deciding(written: Arc<RuleText>, traffic: Arc<TrafficSet>) -> Self {
        Evidence {
            written,
            decides: Some(Decides::Traffic(traffic)),
        }
    }

    /// The rule alone, without the finding-specific `decides`.
    pub fn as_written(&self) -> Evidence {
        Evidence::new(self.written.clone(), None)
    }
}

impl std::ops::Deref for Evidence {
    type Target = RuleText;
    fn deref(&self) -> &RuleText {
        &self.written
    }
}

/// Written as one flat object: the rule's fields, then `decides` (the JSON report's shape).
impl Serialize for Evidence {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let w = &*self.written;
        let len = 5 + usize::from(w.priority.is_some()) + usize::from(self.decides.is_some());
        let mut st = s.serialize_struct("Evidence", len)?;
        st.serialize_field("rule", &w.name)?;
        st.serialize_field("action", &w.action)?;
        if let Some(p) = w.priority {
            st.serialize_field("priority", &p)?;
        }
        st.serialize_field("protocol", &w.protocol)?;
        st.serialize_field("ports", &w.ports)?;
        st.serialize_field("destination", &w.destination)?;
        match &self.decides {
            Some(Decides::Text(t)) => st.serialize_field("decides", t)?,
            Some(Decides::Traffic(t)) => st.serialize_field("decides", &*described(t))?,
            None => {}
        }
        st.end()
    }
}

/// The flat object as read back (a baseline report).
#[derive(Deserialize)]
struct EvidenceFields {
    #[serde(flatten)]
    written: RuleText,
    #[serde(default)]
    decides: Option<String>,
}

impl From<EvidenceFields> for Evidence {
    fn from(f: EvidenceFields) -> Self {
        Evidence::new(Arc::new(f.written), f.decides)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_is_one_flat_object_and_reads_back() {
        let written = RuleText::new(
            "sg-1 egress #1".into(),
            Action::Allow,
            None,
            "tcp".into(),
            "445".into(),
            "0.0.0.0/0".into(),
        );
        let e = Evidence::new(written.clone(), Some("tcp/445 to all public IPv4".into()));
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(
            json,
            r#"{"rule":"sg-1 egress #1","action":"allow","protocol":"tcp","ports":"445","destination":"0.0.0.0/0","decides":"tcp/445 to all public IPv4"}"#
        );
        assert_eq!(serde_json::from_str::<Evidence>(&json).unwrap(), e);
        let bare = Evidence::new(
            RuleText::new(
                "acl-1 rule 100".into(),
                Action::Deny,
                Some(100),
                "all".into(),
                "all".into(),
                "0.0.0.0/0".into(),
            ),
            None,
        );
        let json = serde_json::to_string(&bare).unwrap();
        assert_eq!(
            json,
            r#"{"rule":"acl-1 rule 100","action":"deny","priority":100,"protocol":"all","ports":"all","destination":"0.0.0.0/0"}"#
        );
        assert_eq!(serde_json::from_str::<Evidence>(&json).unwrap(), bare);
        assert!(
            Arc::ptr_eq(&e.as_written().written, &written),
            "shared, not copied"
        );
    }

    #[test]
    fn a_shared_traffic_set_reads_as_its_description() {
        use crate::model::space::{parse_addrs, PortSet, ProtoSet};
        let written = RuleText::new(
            "sg-1 egress #11".into(),
            Action::Allow,
            None,
            "all".into(),
            "all".into(),
            "0.0.0.0/0".into(),
        );
        let traffic = Arc::new(TrafficSet::product(
            &ProtoSet::single(6),
            &PortSet::range(445, 445),
            &parse_addrs("0.0.0.0/0").unwrap(),
        ));
        let shared = Evidence::deciding(written.clone(), traffic.clone());
        let text = crate::eval::describe_traffic(&traffic);
        assert!(text.starts_with("tcp/445 to all public IPv4"), "{text}");
        let as_text = Evidence::new(written, Some(text.clone()));
        assert_eq!(shared, as_text, "equal as read");
        assert_eq!(
            serde_json::to_value(&shared).unwrap(),
            serde_json::to_value(&as_text).unwrap()
        );
        assert_eq!(shared.decides.as_ref().unwrap().to_string(), text);
    }
}
