//! The observed egress profile of a scan with flow logs (CHECKS.md §5 "Classes"): per target, each
//! class of traffic the logs showed in the window (protocol, port, aggregated destinations) with its
//! numbers, marked authorized, unauthorized or ambiguous. Absent when no flow log was read, so
//! reports without flows do not change.

use super::reconciliation::TargetRef;
use serde::{Deserialize, Serialize};

/// What an observed class is (CHECKS.md §5): a check's traffic, an `[[authorized]]` entry's, or
/// neither.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Unauthorized,
    Authorized,
    Ambiguous,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Unauthorized => "unauthorized",
            Status::Authorized => "authorized",
            Status::Ambiguous => "ambiguous",
        }
    }

    /// The order people read them in: what must stop, what nobody vouched for, what is expected.
    pub fn rank(self) -> u8 {
        match self {
            Status::Unauthorized => 0,
            Status::Ambiguous => 1,
            Status::Authorized => 2,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrafficProfile {
    /// The observation window, RFC 3339, and its length in days.
    pub window_start: String,
    pub window_end: String,
    pub window_days: u32,
    /// Targets with observed public egress in the window, unauthorized first.
    pub targets: Vec<TargetProfile>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetProfile {
    pub target: TargetRef,
    pub flows: u64,
    pub packets: u64,
    pub bytes: u64,
    /// How many classes of each status.
    pub unauthorized: usize,
    pub ambiguous: usize,
    pub authorized: usize,
    /// Every class, unauthorized first, then ambiguous, then authorized; most flows first.
    pub classes: Vec<ProfileClass>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileClass {
    /// `tcp`, `udp`, `icmp`, or the protocol number.
    pub protocol: String,
    /// `443`, `type 8` (icmp); absent for protocols without ports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
    /// The observed destinations, merged into CIDR blocks.
    pub destinations: Vec<String>,
    pub status: Status,
    /// The checks whose traffic it is (unauthorized).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<String>,
    /// The `[[authorized]]` entry that matched (authorized).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorized_by: Option<String>,
    pub flows: u64,
    pub packets: u64,
    pub bytes: u64,
    /// RFC 3339.
    pub first_seen: String,
    pub last_seen: String,
}

impl ProfileClass {
    /// `tcp/443`, `icmp type 8`, `gre`.
    pub fn service(&self) -> String {
        match &self.port {
            Some(p) if p.starts_with("type") => format!("{} {p}", self.protocol),
            Some(p) => format!("{}/{p}", self.protocol),
            None => self.protocol.clone(),
        }
    }
}
