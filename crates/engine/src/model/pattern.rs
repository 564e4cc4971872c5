//! The one `*` pattern for resource names: rule selectors (`targets.resource_ids`, also in the
//! config's `[[authorized]]` entries) and `[[suppress]] resource` both match with it, so a pattern
//! that selects a target in a rule also suppresses its findings.
//!
//! Matching ignores ASCII case for every provider. Azure resource ids are case-insensitive and
//! are exported in mixed case (`resourceGroups`, `Microsoft.Network`), so a case-sensitive match
//! would silently select nothing. AWS ids (`sg-…`, `eni-…`, `i-…`) are lower-case hex as exported,
//! GCP resource names must be lower case, and host and probe names are DNS names, which ignore
//! case: no two real ids differ only by case, so ignoring it never joins two resources.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A pattern where `*` matches any run of characters (also none) and every other character
/// matches itself, ignoring ASCII case. Compiled once from its text.
#[derive(Clone, PartialEq, Eq)]
pub struct Pattern {
    text: String,
    /// The literal pieces between the stars; one piece when there is no star.
    pieces: Vec<String>,
}

impl Pattern {
    pub fn new(text: &str) -> Pattern {
        Pattern {
            text: text.to_string(),
            pieces: text.split('*').map(str::to_string).collect(),
        }
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn matches(&self, text: &str) -> bool {
        let t = text.as_bytes();
        let (first, rest) = match self.pieces.split_first() {
            Some((f, r)) => (f.as_bytes(), r),
            None => return t.is_empty(),
        };
        let Some((last, middle)) = rest.split_last() else {
            return t.eq_ignore_ascii_case(first);
        };
        let last = last.as_bytes();
        if t.len() < first.len() + last.len()
            || !t[..first.len()].eq_ignore_ascii_case(first)
            || !t[t.len() - last.len()..].eq_ignore_ascii_case(last)
        {
            return false;
        }
        // The leftmost match of each middle piece leaves the most room for the ones after it.
        // Bytes compare exactly except ASCII letters, so a match never starts inside a UTF-8
        // character: a piece starts with a character's first byte.
        let mut hay = &t[first.len()..t.len() - last.len()];
        for piece in middle.iter().map(String::as_bytes) {
            if piece.is_empty() {
                continue;
            }
            match hay
                .windows(piece.len())
                .position(|w| w.eq_ignore_ascii_case(piece))
            {
                Some(i) => hay = &hay[i + piece.len()..],
                None => return false,
            }
        }
        true
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.text, f)
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for Pattern {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Pattern, D::Error> {
        String::deserialize(d).map(|s| Pattern::new(&s))
    }
}

#[cfg(test)]
mod tests {
    use super::Pattern;

    fn m(p: &str, t: &str) -> bool {
        Pattern::new(p).matches(t)
    }

    /// The cases of the two matchers this one replaces (rule selectors and suppressions).
    #[test]
    fn stars() {
        assert!(m("sg-0abc*", "sg-0abc123"));
        assert!(m("*/nsg-legacy", "/subs/x/nsg-legacy"));
        assert!(m("*/nsg-legacy", "azure/sub/westeurope/nsg-legacy"));
        assert!(m("*", "anything"));
        assert!(m("*", ""));
        assert!(m("a*b*c", "axxbyyc"));
        assert!(!m("a*b*c", "axxbyy"));
        assert!(!m("sg-1", "sg-12"));
        assert!(!m("ab*ba", "aba"));
        assert!(m("a**b", "ab"));
        assert!(!m("", "x"));
        assert!(m("", ""));
        assert!(m("*é*", "café-1"));
    }

    /// Azure ids are case-insensitive: a pattern in the CLI's lower case matches the ARM spelling.
    #[test]
    fn azure_ids_ignore_case() {
        let id = "/subscriptions/0000/resourceGroups/rg-x/providers/Microsoft.Network/networkInterfaces/nic-1";
        assert!(m("*/resourcegroups/rg-x/*", id));
        assert!(m("*/RESOURCEGROUPS/RG-X/*", id));
        assert!(!m("*/resourcegroups/rg-y/*", id));
        assert!(m("SG-1", "sg-1"));
    }

    /// AWS and GCP names are lower case as exported; a pattern typed in upper case still matches,
    /// and case never makes a pattern match more than the same letters would.
    #[test]
    fn aws_and_gcp_names() {
        assert!(m("sg-0ABC*", "sg-0abc123"));
        assert!(m(
            "projects/p/*/instances/web-*",
            "projects/p/zones/a/instances/web-1"
        ));
        assert!(!m(
            "projects/p/*/instances/web-*",
            "projects/q/zones/a/instances/web-1"
        ));
        assert!(!m("eni-0a*", "eni-0b12"));
    }

    #[test]
    fn reads_and_writes_as_its_text() {
        let p: Pattern = serde_json::from_str("\"*/rg-X/*\"").unwrap();
        assert_eq!(p.as_str(), "*/rg-X/*");
        assert_eq!(serde_json::to_string(&p).unwrap(), "\"*/rg-X/*\"");
    }
}
