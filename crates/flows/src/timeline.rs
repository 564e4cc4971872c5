//! Gaps in time. AWS writes a record for every aggregation interval of every logged interface
//! (`NODATA` when it was idle), so a stretch without any record for an interface means logging was
//! off or files are missing: a coverage hole. Each interface keeps its merged time intervals: a
//! handful in practice, one per gap.

use crate::time::format_rfc3339;

/// Disjoint, sorted intervals, merged when closer than the tolerance.
#[derive(Clone, Debug, Default)]
pub(crate) struct Timeline(Vec<(i64, i64)>);

impl Timeline {
    #[inline]
    pub fn add(&mut self, start: i64, end: i64, tolerance: i64) {
        // Records mostly come in time order: extend the last interval.
        if let Some(last) = self.0.last_mut() {
            if start >= last.0 && start <= last.1.saturating_add(tolerance) {
                last.1 = last.1.max(end);
                return;
            }
        }
        self.insert(start, end, tolerance);
    }

    fn insert(&mut self, start: i64, end: i64, tolerance: i64) {
        let i = self.0.partition_point(|iv| iv.0 < start);
        self.0.insert(i, (start, end));
        // Merge around i: with the previous, then swallow the following ones.
        let mut i = i;
        if i > 0 && self.0[i - 1].1.saturating_add(tolerance) >= start {
            self.0[i - 1].1 = self.0[i - 1].1.max(end);
            self.0.remove(i);
            i -= 1;
        }
        while i + 1 < self.0.len() && self.0[i].1.saturating_add(tolerance) >= self.0[i + 1].0 {
            self.0[i].1 = self.0[i].1.max(self.0[i + 1].1);
            self.0.remove(i + 1);
        }
    }

    pub fn merge(&mut self, other: &Timeline, tolerance: i64) {
        for &(a, b) in &other.0 {
            self.insert(a, b, tolerance);
        }
    }

    /// The gaps between the intervals, with the reason a hole gives.
    pub fn gaps(&self) -> impl Iterator<Item = (i64, i64, String)> + '_ {
        self.0.windows(2).map(|w| {
            let (from, to) = (w[0].1, w[1].0);
            let reason = format!(
                "no AWS flow log record (not even NODATA) from {} to {}: logging was off or files are missing",
                format_rfc3339(from),
                format_rfc3339(to)
            );
            (from, to, reason)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_within_tolerance_in_any_order() {
        let mut t = Timeline::default();
        for (a, b) in [
            (0, 60),
            (60, 120),
            (1000, 1060),
            (500, 560),
            (100, 200),
            (2000, 2001),
        ] {
            t.add(a, b, 300);
        }
        assert_eq!(t.0, vec![(0, 560), (1000, 1060), (2000, 2001)]);
        t.add(700, 900, 300);
        assert_eq!(t.0, vec![(0, 1060), (2000, 2001)]);
        let gaps: Vec<_> = t.gaps().map(|g| (g.0, g.1)).collect();
        assert_eq!(gaps, vec![(1060, 2000)]);
    }
}
