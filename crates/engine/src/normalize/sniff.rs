//! A look at an input's first bytes before it is read whole: a file that is not JSON (random
//! bytes, a binary, a log) or a JSON list whose first item is not a resource of any export is
//! refused after reading at most [`PREFIX`] bytes, so a large wrong file costs neither the time
//! nor the memory of parsing it (issue 12 §2: a 1 GB non-input was read whole, or aborted the
//! process allocating 16 GiB).

use super::{aws, azure, gcp, probe, InputError, EXPECTED};
use serde_json::Value;
use std::io::Read;
use std::path::Path;

/// How much of a file is read to judge it.
pub const PREFIX: usize = 1 << 20;

/// Refuses `path` when its first bytes show it is no input; `Ok` when they do not tell (a list
/// whose first item is longer than [`PREFIX`], an object: its kind shows only once parsed).
pub fn check(
    path: &Path,
    name: &str,
    is_text_input: impl Fn(&str) -> bool,
) -> Result<(), InputError> {
    let mut file = std::fs::File::open(path)
        .map_err(|e| InputError::new(name, format!("cannot read: {e}")))?;
    let mut prefix = Vec::with_capacity(64 << 10);
    (&mut file)
        .take(PREFIX as u64)
        .read_to_end(&mut prefix)
        .map_err(|e| InputError::new(name, format!("cannot read: {e}")))?;
    // A text input (`iptables-save`) is recognised by its content, like every other input.
    if is_text_input(&String::from_utf8_lossy(&prefix)) {
        return Ok(());
    }
    judge(&prefix).map_err(|m| InputError::new(name, m))
}

fn judge(prefix: &[u8]) -> Result<(), String> {
    // A UTF-8 byte-order mark is what some editors put first; serde_json refuses it later with
    // a clear message, so leave it to that.
    let body = prefix.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(prefix);
    let Some(start) = body.iter().position(|b| !b.is_ascii_whitespace()) else {
        return Ok(()); // empty: the parser says so
    };
    if let Err(e) = std::str::from_utf8(body) {
        // A sequence cut at the end of the prefix is fine; anything else is not text.
        if e.error_len().is_some() {
            return Err(format!(
                "not valid JSON: byte {} is not UTF-8 text (a binary file?); {EXPECTED}",
                e.valid_up_to()
            ));
        }
    }
    match body[start] {
        b'{' => Ok(()),
        b'[' => first_item(&body[start + 1..]),
        other => Err(format!(
            "not valid JSON: it starts with {:?}, not `{{` or `[`; {EXPECTED}",
            char::from(other)
        )),
    }
}

/// The list's first item, when the prefix holds all of it, must be a resource of some export.
fn first_item(rest: &[u8]) -> Result<(), String> {
    let trimmed = rest.trim_ascii_start();
    if trimmed.is_empty() || trimmed[0] == b']' {
        return Ok(());
    }
    let mut items = serde_json::Deserializer::from_slice(trimmed).into_iter::<Value>();
    let item = match items.next() {
        Some(Ok(v)) => v,
        // Longer than the prefix (or malformed: the full parse reports where).
        _ => return Ok(()),
    };
    if !item.is_object() {
        return Err(format!(
            "not a recognised export: a JSON list whose first item is {}; {EXPECTED}",
            match item {
                Value::Null => "null",
                Value::Bool(_) => "a boolean",
                Value::Number(_) => "a number",
                Value::String(_) => "a string",
                _ => "a list",
            }
        ));
    }
    let list = Value::Array(vec![item]);
    let known = aws::AwsBundle::detect(&list).is_some()
        || azure::AzureBundle::detect(&list).is_some()
        || gcp::GcpBundle::detect(&list).is_some()
        || probe::ProbeBundle::detect(&list);
    if known {
        Ok(())
    } else {
        Err(format!(
            "not a recognised export (judged from its first item): {EXPECTED}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::judge;

    #[test]
    fn non_inputs_are_judged_from_their_first_bytes() {
        assert!(judge(b"\x00\xff\x13binary")
            .unwrap_err()
            .contains("not UTF-8"));
        assert!(judge(b"hello").unwrap_err().contains("starts with 'h'"));
        let log = br#"[{"timestamp": 1, "message": "x"}, {"timestamp": 2"#;
        assert!(judge(log).unwrap_err().contains("first item"));
        assert!(judge(b"[1, 2, 3").unwrap_err().contains("a number"));
        // What cannot be told yet is left to the full parse.
        for fine in [
            &b""[..],
            b"  {\"SecurityGroups\": [",
            b"[]",
            b"[ ",
            b"[{\"GroupId\": \"sg-1\", \"IpPermissionsEgress\": [{\"IpProto",
            b"\xEF\xBB\xBF{",
        ] {
            assert!(judge(fine).is_ok(), "{}", String::from_utf8_lossy(fine));
        }
        // A resource of an export as the first item.
        let sg = br#"[{"GroupId": "sg-1", "GroupName": "g", "IpPermissionsEgress": [], "VpcId": "vpc-1"}, {"#;
        assert!(judge(sg).is_ok());
    }
}
