//! The one set of JSON field readers every normalizer uses, and the one error they return.
//!
//! A missing optional field reads as absent (the caller picks the documented default); a field
//! of the wrong type is an error, because a silently skipped rule or permission would make the
//! scan look cleaner than the account is. Every error names the resource (`what`: `sg-0abc`,
//! `SecurityGroups[3]`, `firewall rule 2 (allow-web)`) and the field; the loader adds the file.

use crate::model::space::{all_v4, parse_addrs};
use crate::model::AddrSet;
use serde_json::Value;
use std::collections::BTreeMap;

/// One bad field of one resource.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{resource}: `{field}` {problem}")]
pub struct FieldError {
    /// The resource or list entry, as the input names it.
    pub resource: String,
    /// The field, with its path inside the resource where it is nested (`IpRanges[0].CidrIp`).
    pub field: String,
    pub problem: Problem,
}

/// What is wrong with a field; the Display is the one wording of every normalizer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("is missing (it must be {expected})")]
    Missing { expected: &'static str },
    #[error("must be {expected}, found {found}")]
    WrongType {
        expected: &'static str,
        found: &'static str,
    },
    #[error("{value} is outside {range}")]
    OutOfRange { value: String, range: String },
    /// The right type, but not a value the field can hold (`"10.0.0.0/33"`, an unknown protocol).
    #[error("{value} {reason}")]
    Invalid { value: String, reason: String },
}

impl FieldError {
    pub fn new(resource: &str, field: &str, problem: Problem) -> FieldError {
        FieldError {
            resource: resource.to_string(),
            field: field.to_string(),
            problem,
        }
    }

    pub fn missing(resource: &str, field: &str, expected: &'static str) -> FieldError {
        FieldError::new(resource, field, Problem::Missing { expected })
    }

    pub fn wrong_type(
        resource: &str,
        field: &str,
        expected: &'static str,
        v: &Value,
    ) -> FieldError {
        let found = type_name(v);
        FieldError::new(resource, field, Problem::WrongType { expected, found })
    }

    /// `value` is shown as written (quote strings with `{:?}` before passing them).
    pub fn invalid(
        resource: &str,
        field: &str,
        value: impl ToString,
        reason: impl ToString,
    ) -> FieldError {
        let (value, reason) = (value.to_string(), reason.to_string());
        FieldError::new(resource, field, Problem::Invalid { value, reason })
    }

    pub fn out_of_range(
        resource: &str,
        field: &str,
        value: impl ToString,
        range: impl ToString,
    ) -> FieldError {
        let (value, range) = (value.to_string(), range.to_string());
        FieldError::new(resource, field, Problem::OutOfRange { value, range })
    }
}

/// How an error names a JSON value's type.
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

/// A present value (not absent, not null) of `field`.
fn present<'a>(obj: &'a Value, field: &str) -> Option<&'a Value> {
    obj.get(field).filter(|v| !v.is_null())
}

/// A value that, when present, must be a string (for readers that look fields up their own way).
pub fn as_opt_str<'a>(
    v: Option<&'a Value>,
    field: &str,
    what: &str,
) -> Result<Option<&'a str>, FieldError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(FieldError::wrong_type(what, field, "a string", other)),
    }
}

/// A value that, when present, must be a list; absent reads as empty.
pub fn as_list<'a>(
    v: Option<&'a Value>,
    field: &str,
    what: &str,
) -> Result<&'a [Value], FieldError> {
    match v {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(other) => Err(FieldError::wrong_type(what, field, "a list", other)),
    }
}

/// `field` as a list of any values; absent or null reads as empty.
pub fn list<'a>(obj: &'a Value, field: &str, what: &str) -> Result<&'a [Value], FieldError> {
    as_list(obj.get(field), field, what)
}

/// `field` as a list of objects; absent or null reads as empty.
pub fn obj_list<'a>(obj: &'a Value, field: &str, what: &str) -> Result<&'a [Value], FieldError> {
    let a = list(obj, field, what)?;
    match a.iter().position(|x| !x.is_object()) {
        Some(i) => Err(FieldError::wrong_type(
            what,
            &format!("{field}[{i}]"),
            "an object",
            &a[i],
        )),
        None => Ok(a),
    }
}

/// `field` as a list of strings (`targetTags`, `destinationRanges`); absent reads as empty.
pub fn str_list(obj: &Value, field: &str, what: &str) -> Result<Vec<String>, FieldError> {
    list(obj, field, what)?
        .iter()
        .enumerate()
        .map(|(i, x)| match x {
            Value::String(s) => Ok(s.clone()),
            other => Err(FieldError::wrong_type(
                what,
                &format!("{field}[{i}]"),
                "a string",
                other,
            )),
        })
        .collect()
}

/// `field` as an object of strings (GCP `labels`); absent reads as empty.
pub fn str_map(
    obj: &Value,
    field: &str,
    what: &str,
) -> Result<BTreeMap<String, String>, FieldError> {
    match present(obj, field) {
        None => Ok(BTreeMap::new()),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                other => Err(FieldError::wrong_type(
                    what,
                    &format!("{field}.{k}"),
                    "a string",
                    other,
                )),
            })
            .collect(),
        Some(other) => Err(FieldError::wrong_type(what, field, "an object", other)),
    }
}

pub fn opt_str<'a>(obj: &'a Value, field: &str, what: &str) -> Result<Option<&'a str>, FieldError> {
    as_opt_str(obj.get(field), field, what)
}

pub fn req_str<'a>(obj: &'a Value, field: &str, what: &str) -> Result<&'a str, FieldError> {
    opt_str(obj, field, what)?.ok_or_else(|| FieldError::missing(what, field, "a string"))
}

/// The first of several string fields that is present (route targets, group references).
pub fn first_str<'a>(
    obj: &'a Value,
    fields: &[&str],
    what: &str,
) -> Result<Option<&'a str>, FieldError> {
    for f in fields {
        if let Some(s) = opt_str(obj, f, what)? {
            return Ok(Some(s));
        }
    }
    Ok(None)
}

/// Absent reads as `None`: the caller chooses the documented default (`disabled` → false).
pub fn opt_bool(obj: &Value, field: &str, what: &str) -> Result<Option<bool>, FieldError> {
    match present(obj, field) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(FieldError::wrong_type(what, field, "true or false", other)),
    }
}

/// An integer written as a JSON number or a numeric string: AWS prints `"FromPort": 443` or
/// `"443"`, Compute sends 64-bit values as strings.
pub fn opt_int(obj: &Value, field: &str, what: &str) -> Result<Option<i64>, FieldError> {
    const INT: &str = "a whole number";
    match present(obj, field) {
        None => Ok(None),
        Some(v @ Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| FieldError::invalid(what, field, v, "is not a whole number")),
        Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| {
            FieldError::invalid(what, field, format!("{s:?}"), "is not a whole number")
        }),
        Some(other) => Err(FieldError::wrong_type(what, field, INT, other)),
    }
}

/// Like [`opt_int`], for a field whose documented domain is `lo..=hi` (priorities): a value
/// outside it is an error, never clamped or read as a default.
pub fn opt_int_in(
    obj: &Value,
    field: &str,
    what: &str,
    (lo, hi): (i64, i64),
) -> Result<Option<i64>, FieldError> {
    match opt_int(obj, field, what)? {
        Some(n) if !(lo..=hi).contains(&n) => Err(FieldError::out_of_range(
            what,
            field,
            n,
            format!("{lo}–{hi}"),
        )),
        other => Ok(other),
    }
}

/// A CIDR field of one address family (AWS `CidrIp` is IPv4, `CidrIpv6` IPv6): the text and
/// its addresses, or None when the field is absent.
pub fn opt_cidr(
    obj: &Value,
    field: &str,
    ipv6: bool,
    what: &str,
) -> Result<Option<(String, AddrSet)>, FieldError> {
    let Some(text) = opt_str(obj, field, what)? else {
        return Ok(None);
    };
    let set =
        parse_addrs(text).map_err(|e| FieldError::invalid(what, field, format!("{text:?}"), e))?;
    if set.is_subset(&all_v4()) == ipv6 {
        let family = if ipv6 { "IPv6" } else { "IPv4" };
        let reason = format!("is not an {family} CIDR block");
        return Err(FieldError::invalid(
            what,
            field,
            format!("{text:?}"),
            reason,
        ));
    }
    Ok(Some((text.to_string(), set)))
}

/// Like [`opt_cidr`], for a field that must be there.
pub fn req_cidr(
    obj: &Value,
    field: &str,
    ipv6: bool,
    what: &str,
) -> Result<(String, AddrSet), FieldError> {
    opt_cidr(obj, field, ipv6, what)?
        .ok_or_else(|| FieldError::missing(what, field, "a CIDR block"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn one_wording_naming_resource_and_field() {
        let v = json!({"a": 1, "b": "x", "l": [1, "y"], "p": 70000, "c": "10.0.0.0/33"});
        let e = |r: Result<(), FieldError>| r.unwrap_err().to_string();
        assert_eq!(
            e(opt_str(&v, "a", "sg-1").map(drop)),
            "sg-1: `a` must be a string, found a number"
        );
        assert_eq!(
            e(req_str(&v, "z", "sg-1").map(drop)),
            "sg-1: `z` is missing (it must be a string)"
        );
        assert_eq!(
            e(list(&v, "b", "sg-1").map(drop)),
            "sg-1: `b` must be a list, found a string"
        );
        assert_eq!(
            e(str_list(&v, "l", "fw").map(drop)),
            "fw: `l[0]` must be a string, found a number"
        );
        assert_eq!(
            e(opt_bool(&v, "b", "n").map(drop)),
            "n: `b` must be true or false, found a string"
        );
        assert_eq!(
            e(opt_int(&v, "b", "r").map(drop)),
            "r: `b` \"x\" is not a whole number"
        );
        assert_eq!(
            e(opt_int_in(&v, "p", "r", (0, 65535)).map(drop)),
            "r: `p` 70000 is outside 0–65535"
        );
        assert!(
            e(opt_cidr(&v, "c", false, "sg-2").map(drop)).starts_with("sg-2: `c` \"10.0.0.0/33\" ")
        );
    }

    #[test]
    fn absent_and_null_read_as_absent() {
        let v = json!({"n": null, "t": true, "i": "443", "cidr": "2001:db8::/32"});
        assert_eq!(opt_bool(&v, "n", "x"), Ok(None));
        assert_eq!(opt_bool(&v, "missing", "x"), Ok(None));
        assert_eq!(opt_bool(&v, "t", "x"), Ok(Some(true)));
        assert_eq!(opt_int(&v, "i", "x"), Ok(Some(443)));
        assert!(list(&v, "n", "x").unwrap().is_empty());
        assert!(str_map(&v, "missing", "x").unwrap().is_empty());
        assert!(opt_cidr(&v, "cidr", true, "x").unwrap().is_some());
        assert!(opt_cidr(&v, "cidr", false, "x").is_err());
    }
}
