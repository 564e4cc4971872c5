//! Large listings read a slice of items at a time.
//!
//! A whole-file `serde_json::Value` costs about ten times the file: a 208 MB
//! `describe-security-groups` export became 2.9 GB before the first rule was read. A cloud listing
//! is one list of independent resources (`{"SecurityGroups": [...]}`, `{"value": [...]}`,
//! `{"items": [...]}`, or a bare `[...]`) beside a few scalars (`NextToken`, `kind`), so it can be
//! handed to its normalizer as a run of smaller documents of the same shape: each holds every
//! scalar and a slice of the items. Each item stays raw text until its slice is read, so
//! memory follows the file's size (the items borrow the file's text), not the size of its
//! parsed tree.
//!
//! Only normalizers that say they accumulate items independently
//! ([`super::registry::Normalizer::chunkable`]) get slices; item positions in messages stay those
//! of the whole file through [`super::DocContext::item_offset`].

use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// Items per slice: small enough that a slice's parsed tree is a few MB, large enough that the
/// per-slice work (detection, scalars) does not matter.
pub const DEFAULT_SLICE: usize = 2048;

/// A slice also ends once its items' text reaches this size: items can be large (a security group
/// with 20 rules is 4 KB), and 2,048 of them parsed were a 47 MB tree.
pub const SLICE_BYTES: usize = 512 * 1024;

/// A listing split into its scalars and its raw items.
pub struct Listing<'a> {
    /// `None` for a bare array; else the member that holds the items.
    key: Option<String>,
    scalars: Map<String, Value>,
    /// Borrowed from the file's text: no copy of it is made.
    items: Vec<&'a RawValue>,
}

impl<'a> Listing<'a> {
    /// The listing in `text`, when it is one (and holds more than `slice` items: a smaller one is
    /// read whole, as before). `None` for anything else, including invalid JSON: the caller then
    /// reads the file the ordinary way and reports what is wrong with it.
    pub fn split(text: &'a str, slice: usize) -> Option<Listing<'a>> {
        let trimmed = text.trim_start();
        let listing = if trimmed.starts_with('[') {
            Listing {
                key: None,
                scalars: Map::new(),
                items: serde_json::from_str(text).ok()?,
            }
        } else if trimmed.starts_with('{') {
            Self::split_object(text)?
        } else {
            return None;
        };
        (listing.items.len() > slice).then_some(listing)
    }

    /// An object with exactly one array member and nothing but scalars beside it.
    fn split_object(text: &'a str) -> Option<Listing<'a>> {
        let raw: std::collections::BTreeMap<String, &RawValue> = serde_json::from_str(text).ok()?;
        let mut key = None;
        let mut scalars = Map::new();
        for (name, value) in &raw {
            match value.get().trim_start().as_bytes().first() {
                Some(b'[') if key.is_none() => key = Some(name.clone()),
                Some(b'[' | b'{') => return None,
                _ => {
                    scalars.insert(name.clone(), serde_json::from_str(value.get()).ok()?);
                }
            }
        }
        let key = key?;
        let items = serde_json::from_str(raw[&key].get()).ok()?;
        Some(Listing {
            key: Some(key),
            scalars,
            items,
        })
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The slices in order, each with the position of its first item in the whole listing: at
    /// most `slice` items, and no more once they hold [`SLICE_BYTES`] of text (at least one).
    /// Items are parsed as their slice is built; only one slice's tree is alive at a time.
    pub fn slices(self, slice: usize) -> impl Iterator<Item = (usize, Value)> + 'a {
        let Listing {
            key,
            scalars,
            items,
        } = self;
        let slice = slice.max(1);
        let mut items = items.into_iter();
        let mut offset = 0;
        std::iter::from_fn(move || {
            let mut chunk: Vec<Value> = Vec::new();
            let mut bytes = 0;
            while chunk.len() < slice && bytes < SLICE_BYTES {
                let Some(raw) = items.next() else { break };
                bytes += raw.get().len();
                // Each item was valid JSON when the listing was split.
                chunk.push(serde_json::from_str(raw.get()).unwrap_or(Value::Null));
            }
            if chunk.is_empty() {
                return None;
            }
            let at = offset;
            offset += chunk.len();
            let doc = match &key {
                None => Value::Array(chunk),
                Some(k) => {
                    let mut obj = scalars.clone();
                    obj.insert(k.clone(), Value::Array(chunk));
                    Value::Object(obj)
                }
            };
            Some((at, doc))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_only_listings_larger_than_a_slice() {
        let doc = r#"{"SecurityGroups": [{"a":1},{"a":2},{"a":3}], "NextToken": "x"}"#;
        let l = Listing::split(doc, 2).expect("a listing");
        let slices: Vec<_> = l.slices(2).collect();
        assert_eq!(slices.len(), 2);
        assert_eq!(slices[0].0, 0);
        assert_eq!(slices[1].0, 2);
        assert_eq!(slices[1].1["NextToken"], "x");
        assert_eq!(slices[1].1["SecurityGroups"][0]["a"], 3);
        assert!(Listing::split(doc, 3).is_none(), "not larger than a slice");
        assert_eq!(Listing::split("[1,2,3]", 1).map(|l| l.len()), Some(3));
    }

    #[test]
    fn a_slice_ends_at_its_size_in_bytes() {
        let item = format!(r#"{{"a":"{}"}}"#, "x".repeat(SLICE_BYTES / 2));
        let doc = format!(r#"{{"SecurityGroups": [{item},{item},{item},1]}}"#);
        let l = Listing::split(&doc, 2).expect("a listing");
        let at: Vec<(usize, usize)> = l
            .slices(100)
            .map(|(at, v)| (at, v["SecurityGroups"].as_array().map_or(0, Vec::len)))
            .collect();
        // Two large items fill a slice; every item is in exactly one slice, in order.
        assert_eq!(at, [(0, 2), (2, 2)]);
    }

    #[test]
    fn leaves_other_shapes_whole() {
        // Two lists (a snapshot), a nested object, invalid JSON, a scalar.
        for doc in [
            r#"{"documents": [1,2,3], "not_scanned": []}"#,
            r#"{"items": [1,2,3], "meta": {"a": 1}}"#,
            r#"{"items": [1,2,3]"#,
            "3",
        ] {
            assert!(Listing::split(doc, 1).is_none(), "{doc}");
        }
    }
}
