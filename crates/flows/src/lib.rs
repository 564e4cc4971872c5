//! Flow logs → an egress profile.
//!
//! Flow logs are large (a busy estate writes billions of records) and the engine only needs what
//! distinct traffic left each workload, so this crate reads every supported format as a stream and
//! keeps one [`FlowStats`] per distinct [`FlowKey`]: memory grows with the number of distinct
//! (workload, protocol, port, destination) keys, never with the input size.
//!
//! It knows nothing of security groups or rules: attribution to targets and rules, findings and
//! proposals are the engine's job (`egress-audit-engine`), which consumes a [`FlowProfile`].

#![forbid(unsafe_code)]

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::IpAddr;

mod agg;
pub mod aggregated;
mod aws_parquet;
pub mod aws_text;
mod azure;
mod error;
mod gcp;
pub mod generate;
mod json_logs;
mod layout;
mod net;
mod read;
mod sql;
mod time;
mod timeline;

pub use error::FlowError;
pub use net::is_public;
pub use read::{read_paths, ReadOptions};
pub use sql::{aggregation_sql, SqlEngine};

/// Which log a record came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FlowSource {
    /// AWS VPC Flow Logs (text, gzip, Parquet, CloudWatch Logs export).
    AwsVpc,
    /// Azure VNet flow logs.
    AzureVnet,
    /// Azure NSG flow logs (version 2).
    AzureNsg,
    /// GCP VPC Flow Logs.
    GcpVpc,
    /// GCP Firewall Rules Logging.
    GcpFirewall,
    /// The result of `egress-audit flows sql` run on Athena, BigQuery or DuckDB.
    Aggregated,
}

/// The provider's decision on a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Disposition {
    /// AWS `ACCEPT`, Azure allow (`B`/`C`/`E` under an allow rule), GCP `ALLOWED`, or a GCP VPC flow
    /// without a firewall entry.
    Accepted,
    /// AWS `REJECT`, Azure deny, GCP `DENIED`: an attempt, not egress.
    Denied,
}

/// One distinct kind of traffic from one workload. Two records with equal keys are merged.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FlowKey {
    /// What names the workload in the log: AWS `eni-…`, Azure NIC resource id or MAC, GCP
    /// `project/zone/instance` (None when the log does not say).
    pub interface_id: Option<String>,
    /// AWS `i-…`, GCP instance name (`src_instance.vm_name`), Azure VM (None when not logged).
    pub instance_id: Option<String>,
    /// The workload's own address (the flow's source for egress).
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IP protocol number.
    pub protocol: u8,
    /// Destination port (0 for protocols without ports; ICMP type for icmp where the log has it).
    pub dst_port: u16,
    pub disposition: Disposition,
    /// The rule the log names as deciding (Azure `flowGroups[].rule`, GCP
    /// `rule_details.reference`); None where the log does not name one (AWS).
    pub logged_rule: Option<String>,
}

/// What was seen of one key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowStats {
    pub flows: u64,
    pub packets: u64,
    pub bytes: u64,
    /// Unix seconds.
    pub first_seen: i64,
    pub last_seen: i64,
}

/// A span of time for a workload (or a whole log) where records are missing, so "no hits" cannot be
/// inferred there: AWS `NODATA` / `SKIPDATA`, a day without files in a dated layout, a gap in time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoverageHole {
    /// The interface it concerns; None for a hole in the whole log (a missing day).
    pub interface_id: Option<String>,
    pub from: i64,
    pub to: i64,
    pub reason: String,
}

/// A record that could not be read: counted and reported, never skipped silently.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedRecord {
    pub file: String,
    /// 1-based line (text and JSON lines), or record index for Parquet and JSON arrays.
    pub line: u64,
    pub reason: String,
}

/// Everything read from the flow inputs of one scan.
#[derive(Clone, Debug, Default)]
pub struct FlowProfile {
    /// Egress records (direction egress, or unknown direction with the workload as source), by key.
    pub flows: HashMap<FlowKey, FlowStats>,
    /// The interfaces (or instances) that appear in the logs, with the time span each covers.
    pub covered: HashMap<String, (i64, i64)>,
    pub holes: Vec<CoverageHole>,
    /// The first examples of unreadable records (capped), and their total count.
    pub skipped: Vec<SkippedRecord>,
    pub skipped_count: u64,
    /// Records read in all.
    pub records: u64,
    /// The oldest and newest record time read (Unix seconds); the observation window ends at `newest`.
    pub oldest: Option<i64>,
    pub newest: Option<i64>,
    /// The formats that were read.
    pub sources: Vec<FlowSource>,
}
