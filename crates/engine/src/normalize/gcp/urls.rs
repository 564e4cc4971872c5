//! Field readers for Compute JSON that name the object and field in every error, and helpers for
//! Compute resource URLs (`https://www.googleapis.com/compute/v1/projects/p/global/networks/n`).

use serde_json::Value;
use std::collections::BTreeMap;

/// An optional string field; present but not a string is an error.
pub fn opt_str<'a>(obj: &'a Value, field: &str, what: &str) -> Result<Option<&'a str>, String> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(format!(
            "{what}: `{field}` must be a string, found {}",
            type_name(other)
        )),
    }
}

pub fn req_str<'a>(obj: &'a Value, field: &str, what: &str) -> Result<&'a str, String> {
    opt_str(obj, field, what)?
        .ok_or_else(|| format!("{what}: the string field `{field}` is missing"))
}

pub fn opt_bool(obj: &Value, field: &str, what: &str) -> Result<bool, String> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(format!(
            "{what}: `{field}` must be true or false, found {}",
            type_name(other)
        )),
    }
}

/// An integer that Compute may send as a number or, for 64-bit values, as a string.
pub fn opt_int(obj: &Value, field: &str, what: &str) -> Result<Option<i64>, String> {
    let bad = |v: &Value| format!("{what}: `{field}` must be an integer, found {v}");
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v @ Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| bad(v)),
        Some(v @ Value::String(s)) => s.trim().parse().map(Some).map_err(|_| bad(v)),
        Some(v) => Err(bad(v)),
    }
}

/// Like [`opt_int`], for a field whose documented domain is `lo..=hi` (priorities): a value
/// outside it is an error, never clamped or read as a default.
pub fn opt_int_in(
    obj: &Value,
    field: &str,
    what: &str,
    (lo, hi): (i64, i64),
) -> Result<Option<i64>, String> {
    match opt_int(obj, field, what)? {
        Some(n) if !(lo..=hi).contains(&n) => Err(format!(
            "{what}: `{field}` {n} is outside {lo}–{hi}, the values Compute allows"
        )),
        other => Ok(other),
    }
}

/// An optional array of strings (`targetTags`, `destinationRanges`, `ports`).
pub fn str_list(obj: &Value, field: &str, what: &str) -> Result<Vec<String>, String> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, x)| {
                x.as_str().map(str::to_string).ok_or_else(|| {
                    format!(
                        "{what}: `{field}[{i}]` must be a string, found {}",
                        type_name(x)
                    )
                })
            })
            .collect(),
        Some(other) => Err(format!(
            "{what}: `{field}` must be a list of strings, found {}",
            type_name(other)
        )),
    }
}

/// An optional array of objects.
pub fn obj_list<'a>(obj: &'a Value, field: &str, what: &str) -> Result<&'a [Value], String> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => {
            if let Some(i) = a.iter().position(|x| !x.is_object()) {
                return Err(format!(
                    "{what}: `{field}[{i}]` must be an object, found {}",
                    type_name(&a[i])
                ));
            }
            Ok(a)
        }
        Some(other) => Err(format!(
            "{what}: `{field}` must be a list, found {}",
            type_name(other)
        )),
    }
}

/// `labels`: string → string.
pub fn str_map(obj: &Value, field: &str, what: &str) -> Result<BTreeMap<String, String>, String> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                other => Err(format!(
                    "{what}: `{field}.{k}` must be a string, found {}",
                    type_name(other)
                )),
            })
            .collect(),
        Some(other) => Err(format!(
            "{what}: `{field}` must be an object, found {}",
            type_name(other)
        )),
    }
}

pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// The last path segment of a URL or a plain name: `…/global/networks/prod` → `prod`.
pub fn last_segment(url: &str) -> &str {
    url.trim_end_matches('/').rsplit('/').next().unwrap_or(url)
}

/// The segment after `key` in a resource URL: `segment_after(url, "projects")` → the project id.
pub fn segment_after<'a>(url: &'a str, key: &str) -> Option<&'a str> {
    let mut parts = url.split('/');
    while let Some(p) = parts.next() {
        if p == key {
            return parts.next().filter(|s| !s.is_empty());
        }
    }
    None
}

/// A zone's region: `us-central1-a` → `us-central1`.
pub fn zone_region(zone: &str) -> String {
    let zone = last_segment(zone);
    match zone.rsplit_once('-') {
        Some((region, suffix)) if suffix.len() <= 2 => region.to_string(),
        _ => zone.to_string(),
    }
}

/// A VPC network as a URL names it; a bare name matches the same name in any project, so that
/// hand-written inputs (`"network": "prod"`) and full URLs can be combined.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NetRef {
    pub project: Option<String>,
    pub name: String,
}

impl NetRef {
    pub fn parse(url: &str) -> NetRef {
        NetRef {
            project: segment_after(url, "projects").map(str::to_string),
            name: last_segment(url).to_string(),
        }
    }

    pub fn matches(&self, other: &NetRef) -> bool {
        self.name == other.name
            && match (&self.project, &other.project) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = "https://www.googleapis.com/compute/v1/projects/my-proj-123/global/networks/prod";
        assert_eq!(
            NetRef::parse(u),
            NetRef {
                project: Some("my-proj-123".into()),
                name: "prod".into()
            }
        );
        assert!(NetRef::parse(u).matches(&NetRef::parse("prod")));
        assert!(!NetRef::parse(u).matches(&NetRef::parse("projects/other/global/networks/prod")));
        assert_eq!(
            zone_region("projects/p/zones/europe-west4-b"),
            "europe-west4"
        );
        assert_eq!(segment_after(u, "projects"), Some("my-proj-123"));
    }
}
