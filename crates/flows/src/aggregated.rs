//! The aggregated format: the result of [`crate::aggregation_sql`] (run on Athena, BigQuery or
//! DuckDB) as CSV with a header line or as JSON lines, one row per key. Columns, in this order for
//! CSV (any order is accepted on input):
//!
//! | column | meaning |
//! |---|---|
//! | `interface_id` | ENI / NIC / `project/zone/instance`; empty or null when not logged |
//! | `instance_id` | instance id or VM name; empty or null when not logged |
//! | `src`, `dst` | source (the workload) and destination address |
//! | `protocol` | IP protocol number |
//! | `dst_port` | destination port (0 where the protocol has none) |
//! | `action` | `accepted` or `denied` |
//! | `logged_rule` | the rule the log names; empty or null when none |
//! | `flows`, `packets`, `bytes` | sums |
//! | `first_seen`, `last_seen` | Unix seconds |
//!
//! JSON numbers may also be strings (BigQuery exports INT64 as strings).

use crate::agg::{Aggregator, Rec};
use crate::{Disposition, FlowError, FlowProfile, FlowSource};
use serde_json::Value;
use std::io::Write;
use std::path::Path;

/// The columns, in the order the SQL and the writers produce them.
pub const COLUMNS: [&str; 13] = [
    "interface_id",
    "instance_id",
    "src",
    "dst",
    "protocol",
    "dst_port",
    "action",
    "logged_rule",
    "flows",
    "packets",
    "bytes",
    "first_seen",
    "last_seen",
];

pub(crate) fn is_csv_header(line: &str) -> bool {
    let names: Vec<&str> = line
        .split(',')
        .map(|n| n.trim().trim_matches('"'))
        .collect();
    names.len() == COLUMNS.len() && COLUMNS.iter().all(|c| names.contains(c))
}

/// Splits one CSV line (RFC 4180 quoting, no line breaks inside fields).
fn split_csv(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (false, ',') => out.push(std::mem::take(&mut cur)),
            (false, '"') if cur.is_empty() => quoted = true,
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cur.push('"');
            }
            (true, '"') => quoted = false,
            (_, c) => cur.push(c),
        }
    }
    if quoted {
        return Err("unterminated quote".into());
    }
    out.push(cur);
    Ok(out)
}

pub(crate) fn read_csv<R: std::io::Read>(
    r: R,
    path: &Path,
    agg: &mut Aggregator,
) -> Result<(), FlowError> {
    agg.source(FlowSource::Aggregated);
    let file = path.display().to_string();
    let mut order: Vec<usize> = Vec::new();
    let mut broken = None;
    crate::read::for_each_line(
        r,
        path,
        &mut |line, reason| broken = Some((line, reason)),
        |line_no, line| {
            let line = String::from_utf8_lossy(line);
            if line_no == 1 {
                let names: Vec<&str> = line
                    .split(',')
                    .map(|n| n.trim().trim_matches('"'))
                    .collect();
                order = COLUMNS
                    .iter()
                    .map(|c| names.iter().position(|n| n == c).unwrap_or(usize::MAX))
                    .collect();
                return;
            }
            let row = split_csv(&line).and_then(|cells| {
                if cells.len() != COLUMNS.len() {
                    return Err(format!(
                        "expected {} columns, found {}",
                        COLUMNS.len(),
                        cells.len()
                    ));
                }
                let cells: Vec<Option<&str>> = order
                    .iter()
                    .map(|&i| Some(cells[i].as_str()).filter(|c| !c.is_empty()))
                    .collect();
                add_row(&cells, agg)
            });
            if let Err(reason) = row {
                agg.skip(&file, line_no, reason);
            }
        },
    )?;
    if let Some((line, reason)) = broken {
        agg.skip(&file, line, reason);
    }
    Ok(())
}

/// Whether a JSON object is a row of the aggregated format.
pub(crate) fn is_json_row(v: &Value) -> bool {
    v.get("dst").is_some() && v.get("flows").is_some() && v.get("first_seen").is_some()
}

pub(crate) fn add_json_row(v: &Value, agg: &mut Aggregator) -> Result<(), String> {
    let texts: Vec<Option<String>> = COLUMNS
        .iter()
        .map(|c| match v.get(*c) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.is_empty() => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => Some(other.to_string()),
        })
        .collect();
    let cells: Vec<Option<&str>> = texts.iter().map(Option::as_deref).collect();
    add_row(&cells, agg)
}

fn add_row(c: &[Option<&str>], agg: &mut Aggregator) -> Result<(), String> {
    fn need<'a>(c: &[Option<&'a str>], i: usize) -> Result<&'a str, String> {
        c[i].ok_or_else(|| format!("`{}` is empty", COLUMNS[i]))
    }
    fn number<T: std::str::FromStr>(c: &[Option<&str>], i: usize) -> Result<T, String> {
        let v = need(c, i)?;
        v.parse()
            .map_err(|_| format!("`{}` = `{v}` is not a valid number", COLUMNS[i]))
    }
    let addr = |i: usize| -> Result<std::net::IpAddr, String> {
        let v = need(c, i)?;
        v.parse()
            .map_err(|_| format!("`{}` = `{v}` is not an address", COLUMNS[i]))
    };
    let disposition = match need(c, 6)? {
        "accepted" | "ACCEPT" | "ALLOWED" => Disposition::Accepted,
        "denied" | "REJECT" | "DENIED" => Disposition::Denied,
        other => return Err(format!("`action` = `{other}`")),
    };
    let (start, end) = (number::<i64>(c, 11)?, number::<i64>(c, 12)?);
    let rec = Rec {
        src: addr(2)?,
        dst: addr(3)?,
        protocol: number(c, 4)?,
        dst_port: number(c, 5)?,
        disposition,
        rule: c[7],
        flows: number(c, 8)?,
        packets: number(c, 9)?,
        bytes: number(c, 10)?,
        start,
        end,
    };
    let seen = agg.seen(c[0], c[1], start, end);
    agg.egress(seen, &rec);
    Ok(())
}

fn action(d: Disposition) -> &'static str {
    match d {
        Disposition::Accepted => "accepted",
        Disposition::Denied => "denied",
    }
}

fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Writes a profile's flows as aggregated CSV (sorted by key, so the output is stable).
pub fn write_csv(profile: &FlowProfile, mut w: impl Write) -> std::io::Result<()> {
    writeln!(w, "{}", COLUMNS.join(","))?;
    let mut rows: Vec<_> = profile.flows.iter().collect();
    rows.sort_by(|a, b| a.0.cmp(b.0));
    for (k, s) in rows {
        let opt = |o: &Option<String>| o.as_deref().map(csv_cell).unwrap_or_default();
        writeln!(
            w,
            "{},{},{},{},{},{},{},{},{},{},{},{},{}",
            opt(&k.interface_id),
            opt(&k.instance_id),
            k.src,
            k.dst,
            k.protocol,
            k.dst_port,
            action(k.disposition),
            opt(&k.logged_rule),
            s.flows,
            s.packets,
            s.bytes,
            s.first_seen,
            s.last_seen
        )?;
    }
    Ok(())
}

/// Writes a profile's flows as aggregated JSON lines (sorted by key).
pub fn write_json_lines(profile: &FlowProfile, mut w: impl Write) -> std::io::Result<()> {
    let mut rows: Vec<_> = profile.flows.iter().collect();
    rows.sort_by(|a, b| a.0.cmp(b.0));
    for (k, s) in rows {
        let row = serde_json::json!({
            "interface_id": k.interface_id, "instance_id": k.instance_id,
            "src": k.src.to_string(), "dst": k.dst.to_string(),
            "protocol": k.protocol, "dst_port": k.dst_port, "action": action(k.disposition),
            "logged_rule": k.logged_rule, "flows": s.flows, "packets": s.packets,
            "bytes": s.bytes, "first_seen": s.first_seen, "last_seen": s.last_seen,
        });
        writeln!(w, "{row}")?;
    }
    Ok(())
}
