//! [`Text`]: an immutable, shared string for the names a report repeats.
//!
//! A large estate's report holds millions of findings and evidence entries, and most of their
//! strings are copies: the check's id and title, the target's id, each rule's name, protocol,
//! ports and destination. Owned `String`s made each copy an allocation (most of the scan's memory
//! and time at 50,000 groups); a `Text` is a reference count. It reads like a `&str` (deref,
//! comparison with `str` and `String`, display) and serialises as a plain string.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// A thin pointer: `Arc<str>` is a pointer and a length, and the findings, rules and causes of a
/// large estate hold millions of texts (8 bytes each saved 140 MB at 50,000 groups). The text
/// itself is one allocation more, made once and shared.
#[derive(Clone, Eq, PartialOrd, Ord)]
pub struct Text(Arc<Box<str>>);

/// As `str` hashes: equal text, equal hash (whatever the allocation).
impl std::hash::Hash for Text {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.as_str().hash(h)
    }
}

/// Equal text; the same allocation (evidence naming the rule it was made from) is equal at once.
impl PartialEq for Text {
    fn eq(&self, o: &Text) -> bool {
        Arc::ptr_eq(&self.0, &o.0) || self.as_str() == o.as_str()
    }
}

impl Text {
    pub fn as_str(&self) -> &str {
        &self.0[..]
    }

    /// A constant (`allow`, `aws`): made once per thread and shared from then on, so that a
    /// million findings' `action` or `provider` are not a million allocations.
    pub fn constant(s: &'static str) -> Text {
        thread_local! {
            static MADE: std::cell::RefCell<Vec<(&'static str, Text)>> =
                const { std::cell::RefCell::new(Vec::new()) };
        }
        MADE.with(|made| {
            let mut made = made.borrow_mut();
            if let Some((_, t)) = made.iter().find(|(k, _)| std::ptr::eq(*k, s) || *k == s) {
                return t.clone();
            }
            let t = Text::from(s);
            made.push((s, t.clone()));
            t
        })
    }

    /// A text that inputs repeat (ports, destinations): the same text read again on this thread
    /// is most often the same allocation. A small table remembers the last text of each hash
    /// slot: the common values (`0.0.0.0/0`, `443`) stay in it, and a text seen once costs no
    /// more than a lookup (a set of every text read grew to a million entries and cost a fifth
    /// of the reading time).
    pub fn interned(s: &str) -> Text {
        const SLOTS: usize = 1 << 12;
        thread_local! {
            static SEEN: std::cell::RefCell<Vec<Option<Text>>> =
                std::cell::RefCell::new(vec![None; SLOTS]);
        }
        let slot = {
            use std::hash::{Hash, Hasher};
            let mut h = rustc_hash::FxHasher::default();
            s.hash(&mut h);
            h.finish() as usize % SLOTS
        };
        SEEN.with(|seen| {
            let mut seen = seen.borrow_mut();
            match &seen[slot] {
                Some(t) if t.as_str() == s => t.clone(),
                _ => {
                    let t = Text::from(s);
                    seen[slot] = Some(t.clone());
                    t
                }
            }
        })
    }
}

impl Default for Text {
    fn default() -> Self {
        Text::constant("")
    }
}

impl Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Text {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Self {
        Text(Arc::new(Box::from(s)))
    }
}

impl From<String> for Text {
    fn from(s: String) -> Self {
        Text(Arc::new(s.into_boxed_str()))
    }
}

impl From<&String> for Text {
    fn from(s: &String) -> Self {
        Text(Arc::new(Box::from(s.as_str())))
    }
}

impl From<Text> for String {
    fn from(t: Text) -> Self {
        t.as_str().to_string()
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), f)
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl PartialEq<str> for Text {
    fn eq(&self, o: &str) -> bool {
        self.as_str() == o
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, o: &&str) -> bool {
        self.as_str() == *o
    }
}

impl PartialEq<String> for Text {
    fn eq(&self, o: &String) -> bool {
        self.as_str() == o.as_str()
    }
}

impl PartialEq<Text> for str {
    fn eq(&self, o: &Text) -> bool {
        self == o.as_str()
    }
}

impl PartialEq<Text> for &str {
    fn eq(&self, o: &Text) -> bool {
        *self == o.as_str()
    }
}

impl PartialEq<Text> for String {
    fn eq(&self, o: &Text) -> bool {
        self.as_str() == o.as_str()
    }
}

impl Serialize for Text {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Text::from)
    }
}

#[cfg(test)]
mod tests {
    use super::Text;

    #[test]
    fn reads_and_compares_like_a_string() {
        let t = Text::from("sg-1 egress #1");
        assert_eq!(t, "sg-1 egress #1");
        assert_eq!("sg-1 egress #1", t);
        assert_eq!(t, String::from("sg-1 egress #1"));
        assert!(t.starts_with("sg-1"));
        assert_eq!(format!("{t}|{t:?}"), "sg-1 egress #1|\"sg-1 egress #1\"");
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"sg-1 egress #1\"");
        let back: Text = serde_json::from_str("\"sg-1 egress #1\"").unwrap();
        assert_eq!(back, t);
        // A clone is the same allocation, not a copy; so is a constant made twice.
        assert!(std::ptr::eq(t.as_str(), t.clone().as_str()));
        let (a, b) = (Text::constant("allow"), Text::constant("allow"));
        assert!(std::ptr::eq(a.as_str(), b.as_str()));
        assert_eq!(Text::constant("deny"), "deny");
    }

    #[test]
    fn interned_texts_are_one_allocation() {
        let a = Text::interned("0.0.0.0/0");
        let b = Text::interned(&String::from("0.0.0.0/0"));
        assert!(std::sync::Arc::ptr_eq(&a.0, &b.0));
        assert_eq!(a, "0.0.0.0/0");
        assert!(!std::sync::Arc::ptr_eq(
            &a.0,
            &Text::interned("10.0.0.0/8").0
        ));
    }
}
