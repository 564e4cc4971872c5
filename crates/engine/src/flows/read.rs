//! The one place that calls the flow-log readers of `crates/flows`.

use egress_audit_flows::FlowProfile;
use std::path::PathBuf;

/// Reads `--flows` files and folders into a profile. A file that is not a flow log, or cannot be
/// read, is an error naming it; unreadable records inside a log are counted (see
/// `FlowProfile::skipped`) and reported as a warning, never skipped silently.
pub fn read_flows(paths: &[PathBuf]) -> anyhow::Result<FlowProfile> {
    egress_audit_flows::read_paths(paths, &egress_audit_flows::ReadOptions::default())
        .map_err(anyhow::Error::from)
}
