//! The JSON inputs: one document (`{"records": …}` Azure blobs, `{"events": …}` CloudWatch Logs
//! exports, `[…]` `gcloud logging read --format=json` output) or JSON lines (Cloud Storage sinks,
//! the aggregated format). Each value is recognised by its shape, never by the file name.

use crate::agg::Aggregator;
use crate::aws_text::AwsLayout;
use crate::{aggregated, azure, gcp, FlowError, FlowSource};
use serde_json::Value;
use std::io::Read;
use std::path::Path;

pub(crate) fn read<R: Read>(
    mut r: R,
    path: &Path,
    first_line: &str,
    custom: Option<&AwsLayout>,
    agg: &mut Aggregator,
) -> Result<(), FlowError> {
    let file = path.display().to_string();
    let lines_mode = matches!(
        serde_json::from_str::<Value>(first_line),
        Ok(Value::Object(_))
    );
    if !lines_mode {
        let mut text = Vec::new();
        r.read_to_end(&mut text)
            .map_err(|e| FlowError::io(path, e))?;
        let doc: Value = serde_json::from_slice(&text).map_err(|source| FlowError::Json {
            path: path.to_path_buf(),
            source,
        })?;
        return match dispatch(&doc, &file, 0, custom, agg) {
            Shape::Read => Ok(()),
            Shape::Unknown(what) => Err(not_flow_log(path, what)),
        };
    }
    let mut first_error = None;
    let mut broken = None;
    crate::read::for_each_line(
        r,
        path,
        &mut |line, reason| broken = Some((line, reason)),
        |line_no, line| match serde_json::from_slice::<Value>(line) {
            Ok(v) => {
                if let Shape::Unknown(what) = dispatch(&v, &file, line_no, custom, agg) {
                    if line_no == 1 {
                        first_error.get_or_insert(what);
                    } else {
                        agg.skip(&file, line_no, format!("not a flow log entry: {what}"));
                    }
                }
            }
            Err(e) => agg.skip(&file, line_no, format!("invalid JSON: {e}")),
        },
    )?;
    if let Some(what) = first_error {
        return Err(not_flow_log(path, what));
    }
    if let Some((line, reason)) = broken {
        agg.skip(&file, line, reason);
    }
    Ok(())
}

fn not_flow_log(path: &Path, what: String) -> FlowError {
    FlowError::NotAFlowLog {
        path: path.to_path_buf(),
        detail: what,
    }
}

pub(crate) enum Shape {
    Read,
    Unknown(String),
}

/// Reads one JSON value of any known shape; `line` is its line in a JSON-lines file (0 for a whole
/// document, whose records are then numbered by their index, 1-based).
fn dispatch(
    v: &Value,
    file: &str,
    line: u64,
    custom: Option<&AwsLayout>,
    agg: &mut Aggregator,
) -> Shape {
    let at = |i: usize| if line == 0 { i as u64 + 1 } else { line };
    match v {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                if let Err(reason) = entry(item, agg) {
                    agg.skip(file, at(i), reason);
                }
            }
            Shape::Read
        }
        Value::Object(o) if o.contains_key("records") => azure::read(v, file, agg),
        Value::Object(o) if o.contains_key("events") => cloudwatch(v, file, custom, agg),
        Value::Object(o) if o.contains_key("jsonPayload") || aggregated::is_json_row(v) => {
            if let Err(reason) = entry(v, agg) {
                agg.skip(file, at(0), reason);
            }
            Shape::Read
        }
        Value::Object(o) => {
            let keys: Vec<&str> = o.keys().map(String::as_str).take(6).collect();
            Shape::Unknown(format!("a JSON object with keys {keys:?}"))
        }
        _ => Shape::Unknown("JSON that is neither an object nor an array".into()),
    }
}

/// One element of a JSON array or one JSON line: a GCP log entry or an aggregated row.
fn entry(v: &Value, agg: &mut Aggregator) -> Result<(), String> {
    if v.get("jsonPayload").is_some() {
        gcp::entry(v, agg)
    } else if aggregated::is_json_row(v) {
        agg.source(FlowSource::Aggregated);
        aggregated::add_json_row(v, agg)
    } else {
        Err("neither a GCP log entry (jsonPayload) nor an aggregated row".into())
    }
}

/// `aws logs filter-log-events` output: `events[].message` are text records without a header.
fn cloudwatch(v: &Value, file: &str, custom: Option<&AwsLayout>, agg: &mut Aggregator) -> Shape {
    let Some(events) = v["events"].as_array() else {
        return Shape::Unknown("`events` is not an array".into());
    };
    agg.source(FlowSource::AwsVpc);
    let default = AwsLayout::default_v2();
    for (i, event) in events.iter().enumerate() {
        let line = i as u64 + 1;
        let Some(message) = event["message"].as_str() else {
            agg.skip(file, line, "events[].message is missing");
            continue;
        };
        let fields = message.split_ascii_whitespace().count();
        let layout = match custom {
            Some(c) if c.fields() == fields => c,
            _ => &default,
        };
        layout.record(message.as_bytes(), file, line, agg);
    }
    Shape::Read
}
