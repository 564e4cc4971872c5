//! Exact sets of integers (`RangeSet`) and maps from key ranges to sets (`Piecewise`): the
//! canonical building blocks the traffic space is made of.

use smallvec::SmallVec;

/// An integer usable as an interval bound.
pub trait Key: Copy + Ord + std::fmt::Debug + std::hash::Hash {
    const MAX: Self;
    const MIN: Self;
    fn succ(self) -> Option<Self>;
    fn pred(self) -> Option<Self>;
    /// Number of keys in `lo..=hi`, saturating at `u128::MAX`.
    fn span(lo: Self, hi: Self) -> u128;
}

macro_rules! impl_key {
    ($t:ty) => {
        impl Key for $t {
            const MAX: Self = <$t>::MAX;
            const MIN: Self = 0;
            fn succ(self) -> Option<Self> {
                self.checked_add(1)
            }
            fn pred(self) -> Option<Self> {
                self.checked_sub(1)
            }
            fn span(lo: Self, hi: Self) -> u128 {
                ((hi - lo) as u128).saturating_add(1)
            }
        }
    };
}
impl_key!(u32);
impl_key!(u128);

/// A set of integers as sorted, disjoint, non-adjacent inclusive ranges.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct RangeSet<K: Key> {
    // Most sets are one or two ranges: keep them inline, since set algebra is allocation-bound.
    ranges: SmallVec<[(K, K); 2]>,
}

/// A result being built on the stack: a set of many ranges (public IPv4 is 14) then gets one
/// allocation of its exact size rather than a run of doublings.
type Scratch<K> = SmallVec<[(K, K); 16]>;

impl<K: Key> RangeSet<K> {
    fn from_scratch(ranges: Scratch<K>) -> Self {
        RangeSet {
            ranges: SmallVec::from_slice(&ranges),
        }
    }
}

pub type AddrSet = RangeSet<u128>;
pub type PortSet = RangeSet<u32>;
pub type ProtoSet = RangeSet<u32>;

impl<K: Key> Default for RangeSet<K> {
    fn default() -> Self {
        RangeSet {
            ranges: SmallVec::new(),
        }
    }
}

impl<K: Key> RangeSet<K> {
    pub fn empty() -> Self {
        Self::default()
    }
    pub fn range(lo: K, hi: K) -> Self {
        if lo > hi {
            return Self::empty();
        }
        let mut ranges = SmallVec::new();
        ranges.push((lo, hi));
        RangeSet { ranges }
    }
    pub fn single(k: K) -> Self {
        Self::range(k, k)
    }
    pub fn full() -> Self {
        Self::range(K::MIN, K::MAX)
    }
    /// Builds a set from ranges in any order, overlapping or not.
    pub fn from_ranges(mut v: Vec<(K, K)>) -> Self {
        v.retain(|(lo, hi)| lo <= hi);
        v.sort();
        let mut out: SmallVec<[(K, K); 2]> = SmallVec::with_capacity(v.len());
        for (lo, hi) in v {
            if let Some(last) = out.last_mut() {
                if last.1.succ().is_none_or(|n| n >= lo) {
                    if hi > last.1 {
                        last.1 = hi;
                    }
                    continue;
                }
            }
            out.push((lo, hi));
        }
        RangeSet { ranges: out }
    }
    pub fn ranges(&self) -> &[(K, K)] {
        &self.ranges
    }
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }
    pub fn contains(&self, k: K) -> bool {
        let i = self.ranges.partition_point(|r| r.1 < k);
        i < self.ranges.len() && self.ranges[i].0 <= k
    }
    /// Number of members, saturating at `u128::MAX` (only the full u128 axis saturates).
    pub fn len(&self) -> u128 {
        self.ranges
            .iter()
            .fold(0u128, |acc, &(lo, hi)| acc.saturating_add(K::span(lo, hi)))
    }
    /// `self.intersect(o).len()`, without building the intersection (the checks measure shares
    /// of every target's egress: that allocation was most of their time).
    pub fn overlap_len(&self, o: &Self) -> u128 {
        let mut n = 0u128;
        overlaps(
            &self.ranges,
            &o.ranges,
            |r| *r,
            |_, _, lo, hi| {
                n = n.saturating_add(K::span(lo, hi));
                false
            },
        );
        n
    }
    pub fn union(&self, o: &Self) -> Self {
        if o.ranges.is_empty() {
            return self.clone();
        }
        if self.ranges.is_empty() {
            return o.clone();
        }
        // Merge two sorted lists, coalescing overlapping and adjacent ranges.
        let (a, b) = (&self.ranges, &o.ranges);
        let (mut i, mut j) = (0, 0);
        let mut out: SmallVec<[(K, K); 2]> = SmallVec::with_capacity(a.len() + b.len());
        while i < a.len() || j < b.len() {
            let next = if j >= b.len() || (i < a.len() && a[i].0 <= b[j].0) {
                i += 1;
                a[i - 1]
            } else {
                j += 1;
                b[j - 1]
            };
            match out.last_mut() {
                Some(last) if last.1.succ().is_none_or(|n| n >= next.0) => {
                    if next.1 > last.1 {
                        last.1 = next.1;
                    }
                }
                _ => out.push(next),
            }
        }
        RangeSet { ranges: out }
    }
    pub fn intersect(&self, o: &Self) -> Self {
        let mut out = Scratch::new();
        overlaps(
            &self.ranges,
            &o.ranges,
            |r| *r,
            |_, _, lo, hi| {
                out.push((lo, hi));
                false
            },
        );
        RangeSet::from_scratch(out)
    }
    pub fn difference(&self, o: &Self) -> Self {
        if o.ranges.is_empty() {
            return self.clone();
        }
        let mut out = Scratch::new();
        let mut j = 0;
        for &(lo, hi) in &self.ranges {
            let mut cur = Some(lo);
            while j < o.ranges.len() && o.ranges[j].1 < lo {
                j += 1;
            }
            let mut k = j;
            while let Some(start) = cur {
                if k >= o.ranges.len() || o.ranges[k].0 > hi {
                    out.push((start, hi));
                    break;
                }
                let (blo, bhi) = o.ranges[k];
                if blo > start {
                    out.push((start, blo.pred().expect("blo > start")));
                }
                cur = if bhi >= hi { None } else { bhi.succ() };
                k += 1;
            }
        }
        RangeSet::from_scratch(out)
    }
    /// Whether every member is in `o`, without building the difference (the redundancy check
    /// asks this of every rule of every target).
    pub fn is_subset(&self, o: &Self) -> bool {
        let b = &o.ranges;
        let mut j = 0;
        for &(lo, hi) in &self.ranges {
            let mut cur = lo;
            loop {
                while j < b.len() && b[j].1 < cur {
                    j += 1;
                }
                if j >= b.len() || b[j].0 > cur {
                    return false;
                }
                if b[j].1 >= hi {
                    break;
                }
                // `b[j]` ends inside the range: the rest must start right after it.
                cur = b[j].1.succ().expect("b[j].1 < hi");
            }
        }
        true
    }
    pub fn intersects(&self, o: &Self) -> bool {
        overlaps(&self.ranges, &o.ranges, |r| *r, |_, _, _, _| true)
    }
}

/// Walks two sorted lists of disjoint ranges (or segments) together and calls `hit` with each
/// pair that overlaps and the overlap's bounds, until `hit` returns true (then true).
fn overlaps<T, K: Ord + Copy>(
    a: &[T],
    b: &[T],
    bounds: impl Fn(&T) -> (K, K),
    mut hit: impl FnMut(&T, &T, K, K) -> bool,
) -> bool {
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let ((alo, ahi), (blo, bhi)) = (bounds(&a[i]), bounds(&b[j]));
        let (lo, hi) = (alo.max(blo), ahi.min(bhi));
        if lo <= hi && hit(&a[i], &b[j], lo, hi) {
            return true;
        }
        if ahi < bhi {
            i += 1;
        } else {
            j += 1;
        }
    }
    false
}

/// What the nested piecewise maps need from their values.
pub trait SetOps: Clone + PartialEq {
    fn is_empty_set(&self) -> bool;
    fn union_set(&self, o: &Self) -> Self;
    fn intersect_set(&self, o: &Self) -> Self;
    fn difference_set(&self, o: &Self) -> Self;
    fn is_subset_set(&self, o: &Self) -> bool;
    fn intersects_set(&self, o: &Self) -> bool;
}

impl SetOps for AddrSet {
    fn is_empty_set(&self) -> bool {
        self.is_empty()
    }
    fn union_set(&self, o: &Self) -> Self {
        self.union(o)
    }
    fn intersect_set(&self, o: &Self) -> Self {
        self.intersect(o)
    }
    fn difference_set(&self, o: &Self) -> Self {
        self.difference(o)
    }
    fn is_subset_set(&self, o: &Self) -> bool {
        self.is_subset(o)
    }
    fn intersects_set(&self, o: &Self) -> bool {
        self.intersects(o)
    }
}

/// A map from disjoint key ranges (u32) to non-empty sets; keys not covered map to the empty set.
#[derive(Clone, PartialEq, Debug)]
pub struct Piecewise<V: SetOps> {
    segs: Vec<(u32, u32, V)>,
}

impl<V: SetOps> Default for Piecewise<V> {
    fn default() -> Self {
        Piecewise { segs: Vec::new() }
    }
}

impl<V: SetOps> Piecewise<V> {
    pub fn segments(&self) -> &[(u32, u32, V)] {
        &self.segs
    }
    /// `keys × value`.
    pub fn product(keys: &RangeSet<u32>, value: V) -> Self {
        if value.is_empty_set() {
            return Self::default();
        }
        Piecewise {
            segs: keys
                .ranges()
                .iter()
                .map(|&(lo, hi)| (lo, hi, value.clone()))
                .collect(),
        }
    }
    pub fn get(&self, k: u32) -> Option<&V> {
        let i = self.segs.partition_point(|s| s.1 < k);
        self.segs.get(i).filter(|s| s.0 <= k).map(|s| &s.2)
    }
    /// The keys whose value is non-empty.
    pub fn keys(&self) -> RangeSet<u32> {
        RangeSet::from_ranges(self.segs.iter().map(|s| (s.0, s.1)).collect())
    }

    fn push(out: &mut Vec<(u32, u32, V)>, lo: u32, hi: u32, v: V) {
        if v.is_empty_set() {
            return;
        }
        if let Some(last) = out.last_mut() {
            if last.1 as u64 + 1 == lo as u64 && last.2 == v {
                last.1 = hi;
                return;
            }
        }
        out.push((lo, hi, v));
    }

    /// Walks the elementary segments of both maps and combines their values with `f`.
    fn merge(&self, o: &Self, f: impl Fn(Option<&V>, Option<&V>) -> Option<V>) -> Self {
        let (a, b) = (&self.segs, &o.segs);
        let (mut i, mut j) = (0usize, 0usize);
        let mut pos: u64 = 0;
        let mut out = Vec::with_capacity(a.len().max(b.len()));
        loop {
            while i < a.len() && (a[i].1 as u64) < pos {
                i += 1;
            }
            while j < b.len() && (b[j].1 as u64) < pos {
                j += 1;
            }
            if i >= a.len() && j >= b.len() {
                break;
            }
            let side = |segs: &Vec<(u32, u32, V)>, k: usize| -> (Option<usize>, u64) {
                match segs.get(k) {
                    Some(s) if (s.0 as u64) <= pos => (Some(k), s.1 as u64),
                    Some(s) => (None, s.0 as u64 - 1),
                    None => (None, u32::MAX as u64),
                }
            };
            let (ia, enda) = side(a, i);
            let (jb, endb) = side(b, j);
            let end = enda.min(endb);
            if ia.is_some() || jb.is_some() {
                if let Some(v) = f(ia.map(|k| &a[k].2), jb.map(|k| &b[k].2)) {
                    Self::push(&mut out, pos as u32, end as u32, v);
                }
            }
            pos = end + 1;
            if pos > u32::MAX as u64 {
                break;
            }
        }
        Piecewise { segs: out }
    }
}

impl<V: SetOps> SetOps for Piecewise<V> {
    fn is_empty_set(&self) -> bool {
        self.segs.is_empty()
    }
    fn union_set(&self, o: &Self) -> Self {
        if o.segs.is_empty() {
            return self.clone();
        }
        if self.segs.is_empty() {
            return o.clone();
        }
        self.merge(o, |a, b| match (a, b) {
            (Some(a), Some(b)) => Some(a.union_set(b)),
            (Some(a), None) => Some(a.clone()),
            (None, Some(b)) => Some(b.clone()),
            (None, None) => None,
        })
    }
    fn intersect_set(&self, o: &Self) -> Self {
        if self.segs.is_empty() || o.segs.is_empty() {
            return Self::default();
        }
        self.merge(o, |a, b| match (a, b) {
            (Some(a), Some(b)) => Some(a.intersect_set(b)),
            _ => None,
        })
    }
    fn difference_set(&self, o: &Self) -> Self {
        if self.segs.is_empty() || o.segs.is_empty() {
            return self.clone();
        }
        self.merge(o, |a, b| match (a, b) {
            (Some(a), Some(b)) => Some(a.difference_set(b)),
            (Some(a), None) => Some(a.clone()),
            _ => None,
        })
    }
    /// Each segment's keys must all be covered by segments of `o` whose values hold its value.
    fn is_subset_set(&self, o: &Self) -> bool {
        let b = &o.segs;
        let mut j = 0;
        for (lo, hi, v) in &self.segs {
            let mut cur = *lo;
            loop {
                while j < b.len() && b[j].1 < cur {
                    j += 1;
                }
                if j >= b.len() || b[j].0 > cur || !v.is_subset_set(&b[j].2) {
                    return false;
                }
                if b[j].1 >= *hi {
                    break;
                }
                cur = b[j].1 + 1;
            }
        }
        true
    }
    fn intersects_set(&self, o: &Self) -> bool {
        overlaps(
            &self.segs,
            &o.segs,
            |s| (s.0, s.1),
            |x, y, _, _| x.2.intersects_set(&y.2),
        )
    }
}
