//! Coverage from the S3 layout: AWS writes flow logs under
//! `AWSLogs/<account>/vpcflowlogs/<region>/YYYY/MM/DD/` (or, Hive-compatible,
//! `aws-account-id=…/aws-service=vpcflowlogs/aws-region=…/year=YYYY/month=MM/day=DD/`). Inside the
//! span of days present, a day without any file is a hole: nothing was logged (or delivered) then.

use crate::time::{civil_from_days, days_from_civil};
use crate::CoverageHole;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The holes of every dated tree among `files`.
pub(crate) fn missing_days(files: &[PathBuf]) -> Vec<CoverageHole> {
    let mut trees: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
    for f in files {
        if let Some((tree, day)) = dated(f) {
            trees.entry(tree).or_default().insert(day);
        }
    }
    let mut holes = Vec::new();
    for (tree, days) in trees {
        let (Some(&first), Some(&last)) = (days.first(), days.last()) else {
            continue;
        };
        for day in first..=last {
            if !days.contains(&day) {
                let (y, m, d) = civil_from_days(day);
                holes.push(CoverageHole {
                    interface_id: None,
                    from: day * 86_400,
                    to: day * 86_400 + 86_399,
                    reason: format!("no flow log files for {y:04}-{m:02}-{d:02} under {tree}"),
                });
            }
        }
    }
    holes
}

/// The tree (`…/vpcflowlogs/<region>`) and the day a file of the dated layout belongs to.
fn dated(path: &Path) -> Option<(String, i64)> {
    let parts: Vec<String> = path
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let service = parts
        .iter()
        .position(|p| p == "vpcflowlogs" || p == "aws-service=vpcflowlogs")?;
    // <region>/<year>/<month>/<day>/…, each maybe as key=value.
    let value = |i: usize| -> Option<&str> {
        let p = parts.get(i)?;
        Some(p.split_once('=').map_or(p.as_str(), |(_, v)| v))
    };
    let _region = value(service + 1)?;
    let y: i64 = value(service + 2)?.parse().ok()?;
    let m: u32 = value(service + 3)?.parse().ok()?;
    let d: u32 = value(service + 4)?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || parts.len() <= service + 5 {
        return None;
    }
    let tree: PathBuf = path.components().take(service + 2).collect();
    let tree = tree.display().to_string();
    Some((tree, days_from_civil(y, m, d)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_missing_day_in_both_layouts() {
        let files: Vec<PathBuf> = [
            "b/AWSLogs/1/vpcflowlogs/us-east-1/2026/11/30/a.log.gz",
            "b/AWSLogs/1/vpcflowlogs/us-east-1/2026/12/02/a.log.gz",
            "h/AWSLogs/aws-account-id=1/aws-service=vpcflowlogs/aws-region=eu-west-1/year=2026/month=12/day=01/x.parquet",
            "h/AWSLogs/aws-account-id=1/aws-service=vpcflowlogs/aws-region=eu-west-1/year=2026/month=12/day=02/x.parquet",
            "elsewhere/2026/12/05/x.log",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        let holes = missing_days(&files);
        assert_eq!(holes.len(), 1);
        assert_eq!(holes[0].from, days_from_civil(2026, 12, 1) * 86_400);
        assert_eq!(
            holes[0].reason,
            "no flow log files for 2026-12-01 under b/AWSLogs/1/vpcflowlogs/us-east-1"
        );
    }
}
