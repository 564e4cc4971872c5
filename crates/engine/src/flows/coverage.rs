//! Whether flow logs cover a target for the whole observation window (CHECKS.md §5 "Window and
//! coverage"): "no hits" is never inferred where logging was off.

use super::Window;
use crate::model::Target;
use egress_audit_flows::FlowProfile;

/// Slack at both ends of the window: AWS aggregates records over up to 10 minutes and an idle
/// interface writes its next record a little later, so a span that starts or ends within an hour
/// of the window's edge covers it.
pub const COVERAGE_SLACK_SECS: i64 = 3600;

/// Unix seconds as `2026-11-30T12:00:00Z`.
pub fn time(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| secs.to_string())
}

/// `Ok` when the logs cover `target` for the whole window, else why not.
pub fn covered(target: &Target, profile: &FlowProfile, w: &Window) -> Result<(), String> {
    let ids: Vec<&String> = target
        .identity
        .interface_ids
        .iter()
        .chain(&target.identity.instance_ids)
        .collect();
    if ids.is_empty() {
        return Err(format!(
            "{} has no interface or instance id that flow logs could name",
            target.resource_id
        ));
    }
    let is_mine = |id: &str| ids.iter().any(|m| m.eq_ignore_ascii_case(id));
    let span = profile
        .covered
        .iter()
        .filter(|(id, _)| is_mine(id))
        .map(|(_, s)| *s)
        .reduce(|a, b| (a.0.min(b.0), a.1.max(b.1)));
    let Some((from, to)) = span else {
        return Err(format!(
            "no flow-log records for {} ({})",
            target.resource_id,
            ids.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    };
    if from > w.start + COVERAGE_SLACK_SECS {
        return Err(format!(
            "flow logs for {} start {}, after the window start {} ({} days)",
            target.resource_id,
            time(from),
            time(w.start),
            w.days
        ));
    }
    if to < w.end - COVERAGE_SLACK_SECS {
        return Err(format!(
            "flow logs for {} end {}, before the window end {}",
            target.resource_id,
            time(to),
            time(w.end)
        ));
    }
    let hole = profile.holes.iter().find(|h| {
        h.from < w.end && h.to > w.start && h.interface_id.as_deref().is_none_or(is_mine)
    });
    if let Some(h) = hole {
        return Err(format!(
            "flow logs have a gap for {} from {} to {} ({})",
            h.interface_id.as_deref().unwrap_or("every interface"),
            time(h.from),
            time(h.to),
            h.reason
        ));
    }
    Ok(())
}
