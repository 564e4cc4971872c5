//! [`CauseId`]: a root cause's id, `provider:account:kind:subject`, held in two shared parts.
//!
//! Most causes of a large estate are one rule each (a rule that decides nothing): their subject is
//! the rule's name, which the inventory already holds, and their prefix is common to every cause
//! of the same provider, account and kind. An id held as one string was an allocation per cause
//! (about 100 MB for the 900,000 causes of the 50,000-group estate); two shared parts are none.

use super::Text;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::cmp::Ordering;
use std::fmt;

/// `prefix` is `provider:account:kind:`; the id reads, compares and serialises as the two
/// parts joined. Ids are equal when their parts are: they are made the same way everywhere
/// (`report::cause`), and an id read back is split the same way ([`CauseId::from`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CauseId {
    prefix: Text,
    subject: Text,
}

impl CauseId {
    pub fn new(prefix: Text, subject: Text) -> Self {
        CauseId { prefix, subject }
    }

    /// `provider:account:kind:`, the part every cause of that kind in that account shares.
    pub fn prefix(provider: &str, account: Option<&str>, kind: &str) -> String {
        format!("{provider}:{}:{kind}:", account.unwrap_or("-"))
    }

    fn bytes(&self) -> impl Iterator<Item = u8> + '_ {
        self.prefix.bytes().chain(self.subject.bytes())
    }
}

/// Splits after the third `:` (the prefix's end), as ids are made.
impl From<&str> for CauseId {
    fn from(id: &str) -> Self {
        let end = id.match_indices(':').nth(2).map_or(0, |(at, _)| at + 1);
        CauseId::new(id[..end].into(), id[end..].into())
    }
}

/// As the joined text orders.
impl Ord for CauseId {
    fn cmp(&self, o: &Self) -> Ordering {
        self.bytes().cmp(o.bytes())
    }
}

impl PartialOrd for CauseId {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

impl fmt::Display for CauseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.prefix)?;
        f.write_str(&self.subject)
    }
}

impl Serialize for CauseId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for CauseId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(CauseId::from(String::deserialize(d)?.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_orders_and_round_trips_as_one_text() {
        let rule = CauseId::new(
            CauseId::prefix("aws", Some("1"), "rule").into(),
            "sg-1 egress #2".into(),
        );
        assert_eq!(rule.to_string(), "aws:1:rule:sg-1 egress #2");
        assert_eq!(CauseId::from("aws:1:rule:sg-1 egress #2"), rule);
        let json = serde_json::to_string(&rule).unwrap();
        assert_eq!(json, "\"aws:1:rule:sg-1 egress #2\"");
        assert_eq!(serde_json::from_str::<CauseId>(&json).unwrap(), rule);
        // Ordered as the joined texts, whatever the parts' lengths.
        let group = CauseId::from("aws:1:security-group:sg-0");
        let none = CauseId::from("aws:-:rule:x");
        let mut ids = [group.clone(), rule.clone(), none.clone()];
        ids.sort();
        let texts: Vec<String> = ids.iter().map(ToString::to_string).collect();
        let mut sorted = texts.clone();
        sorted.sort();
        assert_eq!(texts, sorted);
        assert_eq!(CauseId::from("no-colon").to_string(), "no-colon");
    }
}
