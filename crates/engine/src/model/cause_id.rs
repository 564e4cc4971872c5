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

    /// The prefix (`provider:account:kind:`) and the subject.
    pub fn parts(&self) -> (&str, &str) {
        (&self.prefix, &self.subject)
    }

    /// `provider:account:kind:`, the part every cause of that kind in that account shares.
    pub fn prefix(provider: &str, account: Option<&str>, kind: &str) -> String {
        format!("{provider}:{}:{kind}:", account.unwrap_or("-"))
    }
}

/// Splits after the third `:` (the prefix's end), as ids are made.
impl From<&str> for CauseId {
    fn from(id: &str) -> Self {
        let end = id.match_indices(':').nth(2).map_or(0, |(at, _)| at + 1);
        CauseId::new(id[..end].into(), id[end..].into())
    }
}

/// As the joined text orders (a million causes are sorted by id: compared a slice at a time).
impl Ord for CauseId {
    fn cmp(&self, o: &Self) -> Ordering {
        let (a, b) = (self.prefix.as_bytes(), o.prefix.as_bytes());
        if a == b {
            return self.subject.as_bytes().cmp(o.subject.as_bytes());
        }
        joined_cmp([a, self.subject.as_bytes()], [b, o.subject.as_bytes()])
    }
}

/// Compares two texts given in parts, as their concatenations compare.
fn joined_cmp(mut a: [&[u8]; 2], mut b: [&[u8]; 2]) -> Ordering {
    let (mut i, mut j) = (0, 0);
    loop {
        // Skip exhausted parts; a text that runs out first is the smaller.
        while i < 2 && a[i].is_empty() {
            i += 1;
        }
        while j < 2 && b[j].is_empty() {
            j += 1;
        }
        match (i < 2, j < 2) {
            (false, false) => return Ordering::Equal,
            (false, true) => return Ordering::Less,
            (true, false) => return Ordering::Greater,
            (true, true) => {}
        }
        let n = a[i].len().min(b[j].len());
        match a[i][..n].cmp(&b[j][..n]) {
            Ordering::Equal => {
                a[i] = &a[i][n..];
                b[j] = &b[j][n..];
            }
            other => return other,
        }
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
        // Split differently, compared as the joined texts.
        let texts = ["a:b", "a:bc", "a:", "ab", "a:b:c:d", "a:b:c:", "a:b:cd", ""];
        for x in texts {
            for y in texts {
                for (sx, sy) in [(1, 2), (0, 3), (2, 0)] {
                    let split = |t: &str, at: usize| {
                        let at = at.min(t.len());
                        CauseId::new(t[..at].into(), t[at..].into())
                    };
                    let (a, b) = (split(x, sx), split(y, sy));
                    assert_eq!(a.cmp(&b), x.cmp(y), "{x:?} vs {y:?}");
                }
            }
        }
    }
}
